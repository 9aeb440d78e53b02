"""Embedding by partition: equal to one pass, resumable after an interruption, and on Dask."""
from __future__ import annotations

import importlib
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.cli import main
from core.embed import PARTS_DIR, lightcurve_cuts, embed
from core.errors import AstroM3Error
from core.parallel import check_scheduler, partition_bounds
from core.simulate import simulate_sky
from core.sky import SkyWriter, open_sky
from core.train import DEFAULT_CHECKPOINT
from core.workspace import Workspace, read_parquet_meta

embed_module = importlib.import_module("core.embed")   # the module (``core.embed`` may name the function)
ORIGINAL = embed_module.embed_partition

COLUMNS = ["emb_photometry", "emb_spectra", "emb_metadata", "emb_fused"]


@pytest.fixture(scope="module")
def sky_and_reference(tmp_path_factory):
    """A 256-object sky whose light curves sit in row groups of 64, a checkpoint, the one-partition embedding.

    The checkpoint is a copy of the shipped one, so the tests see one model even while it is retrained.
    """
    base = tmp_path_factory.mktemp("parts")
    ckpt = Path(shutil.copy(DEFAULT_CHECKPOINT, base / "model.pt"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SkyWriter.ROW_GROUP, "lightcurves", 64)
        mp.setitem(SkyWriter.ROW_GROUP, "spectra", 40)
        sky = simulate_sky(256, 5, out=base / "sky")
    ref = embed(sky, ckpt, base / "ref")
    return sky, ckpt, ref


def assert_same_embeddings(path, reference) -> None:
    a, b = pd.read_parquet(path), pd.read_parquet(reference)
    assert list(a.columns) == list(b.columns) == ["id", *COLUMNS]
    assert a["id"].tolist() == b["id"].tolist()
    for col in COLUMNS:
        missing = a[col].isna()
        assert (missing == b[col].isna()).all(), col
        assert (~missing).sum() > 0, col
        x, y = np.stack(a.loc[~missing, col]), np.stack(b.loc[~missing, col])
        assert x.shape == y.shape and x.dtype == np.float32
        assert np.allclose(x, y, atol=1e-6), (col, float(np.abs(x - y).max()))


def test_partition_bounds_cover_the_rows_and_move_onto_row_groups():
    assert partition_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert partition_bounds(8, 4) == [(0, 4), (4, 8)]
    assert partition_bounds(3, 50_000) == [(0, 3)]
    assert partition_bounds(0, 5) == [(0, 0)]
    assert partition_bounds(256, 60, cuts=[0, 64, 128, 192]) == [(0, 64), (64, 128), (128, 192), (192, 240),
                                                                 (240, 256)]
    assert partition_bounds(256, 60, cuts=[0, 100]) == [(0, 60), (60, 120), (120, 180), (180, 240), (240, 256)]
    for bad in (0, -3, 2.5, None):
        with pytest.raises(AstroM3Error, match="partition_size"):
            partition_bounds(10, bad)


def test_partitioned_embedding_equals_one_pass(sky_and_reference, tmp_path):
    sky, ckpt, ref = sky_and_reference
    s = open_sky(sky)
    assert lightcurve_cuts(s).tolist() == [0, 64, 128, 192]
    out = embed(sky, ckpt, tmp_path / "ws", partition_size=60)
    assert_same_embeddings(out, ref)
    assert read_parquet_meta(out) == read_parquet_meta(ref)
    assert pq.read_schema(out).equals(pq.read_schema(ref), check_metadata=False)
    assert Workspace(tmp_path / "ws").manifest()["embeddings.parquet"]["inputs"] == \
        Workspace(ref.parent).manifest()["embeddings.parquet"]["inputs"]
    assert not (tmp_path / "ws" / PARTS_DIR).exists()
    # the records a partition reads (only the row groups holding its ids) are the ones a full scan finds
    ids = list(s.ids[60:70]) + list(s.ids[200:203])
    assert [lc.id for lc in s.iter_lightcurves(ids=ids)] == ids
    full = {lc.id: lc for lc in s.iter_lightcurves()}
    for lc in s.iter_lightcurves(ids=ids):
        np.testing.assert_array_equal(lc.value, full[lc.id].value)


def _counting(calls: list, fail_on: int | None = None):
    """A stand-in for ``embed_partition`` that records its bounds and is interrupted on call ``fail_on``."""
    def fake(sky, checkpoint, start, stop, out, **kwargs):
        calls.append((start, stop))
        if len(calls) == fail_on:
            raise KeyboardInterrupt
        return ORIGINAL(sky, checkpoint, start, stop, out, **kwargs)

    return fake


def test_interrupted_embedding_resumes_without_redoing_finished_partitions(sky_and_reference, tmp_path,
                                                                          monkeypatch):
    sky, ckpt, ref = sky_and_reference
    ws = tmp_path / "ws"
    calls: list = []
    monkeypatch.setattr(embed_module, "embed_partition", _counting(calls, fail_on=2))
    with pytest.raises(KeyboardInterrupt):
        embed(sky, ckpt, ws, partition_size=60)
    parts = ws / PARTS_DIR
    assert calls == [(0, 64), (64, 128)]
    assert sorted(p.name for p in parts.iterdir()) == ["part-00000.parquet"]
    assert not (ws / "embeddings.parquet").exists()
    first = parts / "part-00000.parquet"
    mtime = first.stat().st_mtime_ns
    assert read_parquet_meta(first)["start"] == 0 and read_parquet_meta(first)["stop"] == 64
    (parts / ".part-00001.parquet.tmp-1-dead").write_bytes(b"left by a killed worker")
    (parts / "part-00002.parquet").write_bytes(b"not parquet")        # a damaged part is redone

    calls.clear()
    seen: list = []

    def count_and_check_first_untouched(sky, checkpoint, start, stop, out, **kwargs):
        calls.append((start, stop))
        seen.append(first.stat().st_mtime_ns)
        return ORIGINAL(sky, checkpoint, start, stop, out, **kwargs)

    monkeypatch.setattr(embed_module, "embed_partition", count_and_check_first_untouched)
    out = embed(sky, ckpt, ws, partition_size=60)
    assert calls == [(64, 128), (128, 192), (192, 240), (240, 256)]    # not (0, 64)
    assert seen == [mtime] * 4
    assert_same_embeddings(out, ref)
    assert not parts.exists()


def test_parts_of_other_bounds_or_a_forced_run_are_redone(sky_and_reference, tmp_path, monkeypatch):
    sky, ckpt, ref = sky_and_reference
    ws = tmp_path / "ws"
    calls: list = []
    monkeypatch.setattr(embed_module, "embed_partition", _counting(calls, fail_on=3))
    with pytest.raises(KeyboardInterrupt):
        embed(sky, ckpt, ws, partition_size=100)
    assert calls == [(0, 100), (100, 192), (192, 256)]     # 200 moved onto the row group at 192
    calls.clear()
    monkeypatch.setattr(embed_module, "embed_partition", _counting(calls))
    out = embed(sky, ckpt, ws, partition_size=60)       # other bounds: nothing reused
    assert calls == [(0, 64), (64, 128), (128, 192), (192, 240), (240, 256)]
    assert_same_embeddings(out, ref)
    calls.clear()
    embed(sky, ckpt, ws, partition_size=60)               # fresh: skipped
    assert calls == []
    embed(sky, ckpt, ws, partition_size=128, force=True)
    assert calls == [(0, 128), (128, 256)]


def test_local_dask_cluster_gives_the_single_process_result(sky_and_reference, tmp_path):
    sky, ckpt, ref = sky_and_reference
    before = set(multiprocessing.active_children())
    out = embed(sky, ckpt, tmp_path / "ws", partition_size=60, scheduler="local")
    assert_same_embeddings(out, ref)
    assert read_parquet_meta(out) == read_parquet_meta(ref)
    assert not (tmp_path / "ws" / PARTS_DIR).exists()
    assert set(multiprocessing.active_children()) <= before       # the cluster's workers are gone


def test_bad_scheduler_is_a_one_line_error_naming_what_is_accepted(sky_and_reference, tmp_path, capsys,
                                                                   monkeypatch):
    sky, ckpt, _ = sky_and_reference
    for bad in ("locl", "tcp://nohost", "http://host:8786", "tcp://a b:1", 5):
        with pytest.raises(AstroM3Error, match=r'"local".*"tcp://HOST:PORT"'):
            check_scheduler(bad)
    with pytest.raises(AstroM3Error, match="scheduler 'dask'"):
        embed(sky, ckpt, tmp_path / "a", scheduler="dask")
    assert not (tmp_path / "a" / "embeddings.parquet").exists()
    for command in ("embed", "run"):
        argv = [command, str(sky), "-w", str(tmp_path / command), "--checkpoint", str(ckpt), "--scheduler", "lokal"]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "'lokal'" in err and "tcp://HOST:PORT" in err, err
    assert main(["embed", str(sky), "-w", str(tmp_path / "p"), "--checkpoint", str(ckpt), "--partition-size", "0"]) == 2
    assert "partition_size" in capsys.readouterr().err
    monkeypatch.setattr("core.parallel.CONNECT_TIMEOUT", 1)
    with pytest.raises(AstroM3Error, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        embed(sky, ckpt, tmp_path / "b", scheduler="tcp://127.0.0.1:9")


def test_sigterm_in_the_middle_of_embed_then_a_rerun_keeps_the_finished_partitions(sky_and_reference, tmp_path,
                                                                                   monkeypatch):
    """A real ``astrom3 embed`` process killed by SIGTERM after its first partition: the rerun redoes only
    the partitions that were not finished, and the embeddings equal a one-pass run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    sky, ckpt, ref = sky_and_reference
    ws = tmp_path / "ws"
    parts = ws / PARTS_DIR
    env = dict(os.environ, ASTROM3_PROGRESS="0", PYTHONWARNINGS="ignore")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "core", "embed", str(sky), "-w", str(ws), "--checkpoint", str(ckpt),
                             "--partition-size", "60"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (parts / "part-00000.parquet").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err.decode()[-2000:]
    assert not (ws / "embeddings.parquet").exists()
    finished = sorted(p.name for p in parts.glob("part-*.parquet"))
    assert "part-00000.parquet" in finished and len(finished) < 5

    calls: list = []
    monkeypatch.setattr(embed_module, "embed_partition", _counting(calls))
    out = embed(sky, ckpt, ws, partition_size=60)
    bounds = [(0, 64), (64, 128), (128, 192), (192, 240), (240, 256)]
    assert calls == bounds[len(finished):]                      # the finished ones are not redone
    assert_same_embeddings(out, ref)
    assert not parts.exists()
