"""core.pipeline.run and core.demo.ensure_demo with stand-in train/embed/simulate (no model needed)."""
from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import pytest

from core import schema
from core.analysis.synthetic import planted_sky
from core.cli import main


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    """Stand-ins for core.train / core.embed / core.simulate that count their calls."""
    src_sky, src_ws = planted_sky(tmp_path / "src", n=150, seed=3)
    calls = {"train": 0, "embed": 0, "simulate": 0}

    def train(sky, *, workspace, preset="cpu", seed=0, **kw):
        calls["train"] += 1
        ws = Path(getattr(workspace, "path", workspace))
        (ws / schema.CHECKPOINT_FILE).write_bytes(b"weights" + str(seed).encode())
        return ws / schema.CHECKPOINT_FILE

    def embed(sky, checkpoint, workspace):
        calls["embed"] += 1
        ws = Path(getattr(workspace, "path", workspace))
        shutil.copy(src_ws / schema.EMBEDDINGS_FILE, ws / schema.EMBEDDINGS_FILE)
        return ws / schema.EMBEDDINGS_FILE

    def simulate_sky(n, seed, out):
        calls["simulate"] += 1
        shutil.copytree(src_sky, out)
        return Path(out)

    ckpt = tmp_path / "shipped.pt"
    ckpt.write_bytes(b"shipped")
    monkeypatch.setitem(sys.modules, "core.train", types.SimpleNamespace(train=train, DEFAULT_CHECKPOINT=ckpt))
    monkeypatch.setitem(sys.modules, "core.embed", types.SimpleNamespace(embed=embed))
    monkeypatch.setitem(sys.modules, "core.simulate", types.SimpleNamespace(simulate_sky=simulate_sky))
    return {"sky": src_sky, "calls": calls, "ckpt": ckpt, "tmp": tmp_path}


def test_run_trains_embeds_analyzes_then_skips_fresh_steps(fakes):
    from core.pipeline import StepReport, run

    ws = fakes["tmp"] / "ws"
    rep = StepReport()
    path = run(fakes["sky"], ws, preset="tiny", report=rep)
    assert path.exists() and fakes["calls"] == {"train": 1, "embed": 1, "simulate": 0}
    assert not any(rep[s]["skipped"] for s in ("train", "embed", "analyze"))
    rep2 = StepReport()
    run(fakes["sky"], ws, preset="tiny", report=rep2)
    assert fakes["calls"]["train"] == 1 and fakes["calls"]["embed"] == 1
    assert all(rep2[s]["skipped"] for s in ("train", "embed", "analyze"))
    # another seed trains a new model, which invalidates the embeddings and results
    rep3 = StepReport()
    run(fakes["sky"], ws, preset="tiny", seed=1, report=rep3)
    assert fakes["calls"]["train"] == 2 and fakes["calls"]["embed"] == 2


def test_run_with_checkpoint_never_trains(fakes):
    from core.pipeline import run

    run(fakes["sky"], fakes["tmp"] / "ws2", checkpoint=fakes["ckpt"])
    assert fakes["calls"]["train"] == 0 and fakes["calls"]["embed"] == 1
    fakes["ckpt"].write_bytes(b"another model")  # a changed checkpoint re-embeds
    run(fakes["sky"], fakes["tmp"] / "ws2", checkpoint=fakes["ckpt"])
    assert fakes["calls"]["embed"] == 2


def test_ensure_demo_simulates_once_and_reports_progress(fakes, monkeypatch):
    from core.demo import ensure_demo

    seen = []
    sky, ws = ensure_demo(home=fakes["tmp"] / "home", n=150, seed=3, progress_callback=lambda s, f: seen.append(f))
    assert (ws / schema.RESULTS_FILE).exists() and (sky / schema.OBJECTS_FILE).exists()
    assert seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:]))
    monkeypatch.setenv("ASTROM3_HOME", str(fakes["tmp"] / "home"))
    assert ensure_demo(n=150, seed=3) == (sky, ws)
    assert fakes["calls"]["simulate"] == 1 and fakes["calls"]["embed"] == 1


def test_demo_flags_follow_a_new_model(fakes):
    """A new checkpoint gives the demo a new workspace; the flags made in the old one come along."""
    from core.demo import ensure_demo
    from core.flags import FlagStore

    home = fakes["tmp"] / "home-flags"
    sky, ws1 = ensure_demo(home=home, n=150, seed=3, checkpoint=fakes["ckpt"])
    with FlagStore(ws1 / "flags.sqlite") as store:
        session = store.start_session("ana")
        store.add(session, "SIM000007", "anomaly", note="odd dips")
    new_ckpt = fakes["tmp"] / "new-model.pt"
    new_ckpt.write_bytes(b"a retrained model")
    _, ws2 = ensure_demo(home=home, n=150, seed=3, checkpoint=new_ckpt)
    assert ws2 != ws1
    with FlagStore(ws2 / "flags.sqlite") as store:
        cur = store.current()
    assert cur[["id", "kind", "note", "user"]].values.tolist() == [["SIM000007", "anomaly", "odd dips", "ana"]]
    assert (ws1 / "flags.sqlite").exists()  # the old store is left as it was


def test_cli_run(fakes, capsys):
    ws = fakes["tmp"] / "ws3"
    assert main(["run", str(fakes["sky"]), "--workspace", str(ws), "--checkpoint", str(fakes["ckpt"])]) == 0
    assert "results:" in capsys.readouterr().out
    assert main(["run", str(fakes["sky"]), "--workspace", str(ws), "--checkpoint", str(ws / "missing.pt")]) == 2
    assert main(["run", str(fakes["tmp"] / "no-sky"), "--workspace", str(ws)]) == 2


def test_checkpoint_demo_is_the_shipped_checkpoint(fakes, capsys):
    """``checkpoint="demo"`` (and ``--checkpoint demo``) embeds with core.train.DEFAULT_CHECKPOINT."""
    from core.pipeline import resolve_checkpoint, run
    from core.sky import file_fingerprint
    from core.workspace import Workspace

    assert resolve_checkpoint("demo") == fakes["ckpt"]
    assert resolve_checkpoint("other.pt") == Path("other.pt")
    ws = fakes["tmp"] / "ws-demo"
    run(fakes["sky"], ws, checkpoint="demo")
    assert fakes["calls"] == {"train": 0, "embed": 1, "simulate": 0}
    recorded = Workspace(ws).manifest()["pipeline:embed"]["inputs"]["checkpoint"]
    assert recorded == file_fingerprint(fakes["ckpt"])
    ws2 = fakes["tmp"] / "ws-demo-cli"
    assert main(["run", str(fakes["sky"]), "--workspace", str(ws2), "--checkpoint", "demo"]) == 0
    assert Workspace(ws2).manifest()["pipeline:embed"]["inputs"]["checkpoint"] == recorded


def test_checkpoint_demo_resolves_to_the_packaged_file():
    from core.pipeline import resolve_checkpoint
    from core.train import DEFAULT_CHECKPOINT

    path = resolve_checkpoint("demo")
    assert path == Path(DEFAULT_CHECKPOINT) and path.is_file()
    assert path.parts[-3:] == ("resources", "checkpoints", "demo-cpu-seed0.pt")
