"""Light-curve features by partition (issue 14): equal to one pass, resumable, and on a 2-worker LocalCluster."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from core.errors import AstroM3Error
from core.simulate import simulate_sky
from core.sky import SkyWriter, open_sky
from core.workspace import read_parquet_meta

baselines = importlib.import_module("core.analysis.baselines")
ORIGINAL = baselines.lightcurve_features_partition
CACHE = "baselines/lightcurve_features.parquet"
PARTS = "baselines/lightcurve_features.parts"


@pytest.fixture(scope="module")
def sky_and_reference(tmp_path_factory):
    """A 200-object sky whose light curves sit in row groups of 50, and its features in one pass."""
    base = tmp_path_factory.mktemp("lcparts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SkyWriter.ROW_GROUP, "lightcurves", 50)
        sky = open_sky(simulate_sky(200, 7, out=base / "sky"))
    return sky, baselines.lightcurve_features(sky)


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert a.index.tolist() == b.index.tolist() and list(a.columns) == list(b.columns)
    assert np.isfinite(a.to_numpy(dtype=float)).sum() > 1000
    np.testing.assert_array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float))   # bit for bit, NaN where NaN


def counting(calls: list, fail_on: int | None = None):
    def run(sky, start, stop, out, **kwargs):
        calls.append((start, stop))
        if fail_on is not None and len(calls) == fail_on:
            raise KeyboardInterrupt
        return ORIGINAL(sky, start, stop, out, **kwargs)
    return run


def test_partitioned_features_equal_one_pass_and_leave_only_the_table(sky_and_reference, tmp_path):
    sky, ref = sky_and_reference
    ids = list(sky.ids[::-1])                     # any order of ids: the table follows it
    got = baselines.cached_lightcurve_features(sky, tmp_path / "ws", ids, partition_size=45)
    assert_same(got, ref.reindex(ids))
    assert (tmp_path / "ws" / CACHE).exists() and not (tmp_path / "ws" / PARTS).exists()
    assert read_parquet_meta(tmp_path / "ws" / CACHE)["sky"] == sky.fingerprint


def test_interrupted_features_resume_without_redoing_finished_partitions(sky_and_reference, tmp_path,
                                                                         monkeypatch):
    sky, ref = sky_and_reference
    ws = tmp_path / "ws"
    calls: list = []
    monkeypatch.setattr(baselines, "lightcurve_features_partition", counting(calls, fail_on=3))
    with pytest.raises(KeyboardInterrupt):
        baselines.cached_lightcurve_features(sky, ws, sky.ids, partition_size=50)
    assert calls == [(0, 50), (50, 100), (100, 150)]          # one row group each
    assert sorted(p.name for p in (ws / PARTS).iterdir()) == ["part-00000.parquet", "part-00001.parquet"]
    assert not (ws / CACHE).exists()
    (ws / PARTS / "part-00001.parquet").write_bytes(b"not parquet")   # a damaged part is redone
    calls.clear()
    monkeypatch.setattr(baselines, "lightcurve_features_partition", counting(calls))
    got = baselines.cached_lightcurve_features(sky, ws, sky.ids, partition_size=50)
    assert calls == [(50, 100), (100, 150), (150, 200)]      # not (0, 50)
    assert_same(got, ref)
    calls.clear()
    assert_same(baselines.cached_lightcurve_features(sky, ws, sky.ids, partition_size=50), ref)
    assert calls == []                                        # the cached table, nothing recomputed


def test_local_dask_cluster_gives_the_single_process_features(sky_and_reference, tmp_path):
    sky, ref = sky_and_reference
    got = baselines.cached_lightcurve_features(sky, tmp_path / "ws", sky.ids, partition_size=45, scheduler="local")
    assert_same(got, ref)


def test_analyze_rejects_a_bad_scheduler_or_partition_size_before_any_work(sky_and_reference, tmp_path):
    from core.analysis import analyze

    sky, _ = sky_and_reference
    with pytest.raises(AstroM3Error, match="scheduler 'dask'"):
        analyze(sky, tmp_path / "ws", scheduler="dask")
    with pytest.raises(AstroM3Error, match="partition_size"):
        analyze(sky, tmp_path / "ws", partition_size=0)
    assert not (tmp_path / "ws").exists()


def test_analyze_on_a_local_cluster_gives_the_single_process_results(sky_and_reference, tmp_path):
    """``astrom3 analyze --scheduler local --partition-size 50`` and a plain run: the same results table."""
    import shutil

    from core.analysis import analyze
    from core.cli import main
    from core.embed import embed
    from core.train import DEFAULT_CHECKPOINT

    sky, _ = sky_and_reference
    ckpt = shutil.copy(DEFAULT_CHECKPOINT, tmp_path / "model.pt")
    embed(sky, ckpt, tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    plain = pd.read_parquet(analyze(sky, tmp_path / "a", umap_sample=150))
    assert main(["--quiet", "analyze", str(sky.path), "-w", str(tmp_path / "b"), "--umap-sample", "150",
                 "--scheduler", "local", "--partition-size", "50"]) == 0
    on_dask = pd.read_parquet(tmp_path / "b" / "results.parquet")
    pd.testing.assert_frame_equal(on_dask, plain)
    assert not (tmp_path / "b" / PARTS).exists()
