"""An interrupted ``analyze`` resumes after its last finished step, with the results of an uninterrupted run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from core import schema
from core.analysis import analyze, engine
from core.analysis.checkpoints import STEPS_DIR
from core.analysis.results import read_results
from core.analysis.steps import Step, steps
from core.analysis.synthetic import planted_sky

ROOT = Path(__file__).resolve().parents[1]
N = 300


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The results of an uninterrupted run on a small planted sky."""
    sky, ws = planted_sky(tmp_path_factory.mktemp("ref"), n=N, seed=4)
    return read_results(analyze(sky, ws, seed=0))


def fresh_sky(tmp_path):
    """The reference's sky and embeddings, in a new folder (same seed, same files)."""
    return planted_sky(tmp_path, n=N, seed=4)


def step_names() -> list[str]:
    return [s.name for s in steps(list(schema.MODALITIES))]


def instrumented(monkeypatch, ran: list, stop_at: str | None = None) -> None:
    """Record each step that runs; raise KeyboardInterrupt when ``stop_at`` starts."""
    def wrap(step: Step) -> Step:
        def run(ctx):
            if step.name == stop_at:
                raise KeyboardInterrupt
            ran.append(step.name)
            step.run(ctx)
        return Step(step.name, run)

    monkeypatch.setattr(engine, "steps", lambda modalities: [wrap(s) for s in steps(modalities)])


def interrupted(monkeypatch, ran: list, stop_at: str, sky, ws, **kwargs) -> None:
    """Run ``analyze`` until ``stop_at`` starts (a KeyboardInterrupt there); ``ran`` then lists the steps run."""
    ran.clear()
    instrumented(monkeypatch, ran, stop_at=stop_at)
    with pytest.raises(KeyboardInterrupt):
        analyze(sky, ws, **kwargs)


def resumed(monkeypatch, ran: list, sky, ws, **kwargs):
    """Run ``analyze`` to the end; ``ran`` then lists the steps run (not loaded). Returns the results path."""
    ran.clear()
    instrumented(monkeypatch, ran)
    return analyze(sky, ws, **kwargs)


def assert_same_results(path, reference) -> None:
    """Same table and same metadata (how long each step took and what was resumed aside)."""
    df, meta = read_results(path)
    ref, ref_meta = reference
    pd.testing.assert_frame_equal(df, ref)
    assert meta["timings"].keys() == ref_meta["timings"].keys()
    drop = {"timings", "resumed_steps"}
    assert {k: v for k, v in meta.items() if k not in drop} == {k: v for k, v in ref_meta.items() if k not in drop}


@pytest.mark.parametrize("stop_at", ["mislabels", "scores"])   # "scores": after the knn report grew in place
def test_an_interrupted_analysis_resumes_after_its_last_finished_step(reference, tmp_path, monkeypatch, stop_at):
    sky, ws = fresh_sky(tmp_path)
    names = step_names()
    ran: list = []
    interrupted(monkeypatch, ran, stop_at, sky, ws, seed=0)
    done = names[:names.index(stop_at)]
    assert ran == done and not (ws / "results.parquet").exists()
    saved = sorted(p.name for p in (ws / "analysis" / STEPS_DIR).iterdir())
    assert saved == [f"{i:02d}.joblib" for i in range(1, len(done) + 1)]

    path = resumed(monkeypatch, ran, sky, ws, seed=0)
    assert ran == names[len(done):]                      # the finished steps were not run again
    assert_same_results(path, reference)
    assert read_results(path)[1]["resumed_steps"] == done
    assert not (ws / "analysis" / STEPS_DIR).exists()    # removed once the results are written


def test_checkpoints_of_other_inputs_damaged_ones_and_forced_runs_are_not_used(reference, tmp_path, monkeypatch):
    sky, ws = fresh_sky(tmp_path)
    names = step_names()
    ran: list = []
    interrupted(monkeypatch, ran, "clusters", sky, ws, seed=1)    # other parameters: other inputs
    interrupted(monkeypatch, ran, "clusters", sky, ws, seed=0)
    assert ran == names[:names.index("clusters")]         # seed 1's projections were not taken for seed 0's
    (ws / "analysis" / STEPS_DIR / "02.joblib").write_bytes(b"cut short by a full disk")
    path = resumed(monkeypatch, ran, sky, ws, seed=0)
    assert ran == names[1:]          # step 1 loaded; the damaged step 2 and every step after it run again
    assert_same_results(path, reference)

    interrupted(monkeypatch, ran, "clusters", sky, ws, seed=0, force=True)
    resumed(monkeypatch, ran, sky, ws, seed=0, force=True)
    assert ran == names                                   # --force redoes every step


def test_sigterm_in_the_middle_of_analyze_then_a_rerun_resumes(reference, tmp_path, monkeypatch):
    sky, ws = fresh_sky(tmp_path)
    folder = ws / "analysis" / STEPS_DIR
    env = dict(os.environ, ASTROM3_PROGRESS="0", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, "-m", "core", "analyze", str(sky), "-w", str(ws)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (folder / "01.joblib").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err.decode()[-2000:]
    assert not (ws / "results.parquet").exists()
    finished = [name for i, name in enumerate(step_names(), 1) if (folder / f"{i:02d}.joblib").exists()]
    assert finished[:1] == ["projection"]

    ran: list = []
    path = resumed(monkeypatch, ran, sky, ws, seed=0)
    assert ran == [s for s in step_names() if s not in finished]
    assert_same_results(path, reference)


def test_a_rewritten_artifact_or_an_unwritable_checkpoint_costs_only_the_resume(reference, tmp_path, monkeypatch):
    from core.analysis import checkpoints

    sky, ws = fresh_sky(tmp_path)
    names = step_names()
    ran: list = []
    interrupted(monkeypatch, ran, "neighbours", sky, ws, seed=0)
    clusterer = ws / "analysis" / "hdbscan.joblib"            # written by the 'clusters' step
    st = clusterer.stat()
    os.utime(clusterer, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

    def full_disk(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "atomic_path", full_disk)
    with pytest.warns(UserWarning, match="checkpoint of step .* not written"):
        path = resumed(monkeypatch, ran, sky, ws, seed=0)
    assert ran == names[names.index("clusters"):]             # the projections loaded; clusters on, run again
    assert_same_results(path, reference)
