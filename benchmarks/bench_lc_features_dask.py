"""analyze's light-curve features in this process vs on a 2-worker dask.distributed LocalCluster, same run.

Usage::

    python benchmarks/bench_lc_features_dask.py --sky /tmp/astrom3-scale/sky-100000 [--partition-size 50000]

Times :func:`core.analysis.baselines.cached_lightcurve_features` on every object of the sky into a new
temporary workspace each time: once partition by partition here, once with ``scheduler="local"``
(the cluster's start is inside the time, as ``astrom3 analyze --scheduler local`` pays it), and
checks the two tables are identical. Writes ``benchmarks/results/lc_features_dask.md`` and ``.json``
with the conditions.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def timed(sky, scheduler, partition_size) -> tuple[float, object]:
    from core.analysis.baselines import cached_lightcurve_features

    with tempfile.TemporaryDirectory(prefix="bench_lc_dask_") as ws:
        t = time.perf_counter()
        feats = cached_lightcurve_features(sky, ws, sky.ids, scheduler=scheduler, partition_size=partition_size)
        return time.perf_counter() - t, feats


def conditions() -> dict:
    from conditions import run_conditions

    return run_conditions(("numpy", "pandas", "dask", "distributed"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sky", type=Path, required=True)
    ap.add_argument("--partition-size", type=int, default=50_000)
    args = ap.parse_args(argv)
    os.environ.setdefault("ASTROM3_PROGRESS", "0")
    from core.sky import open_sky

    sky = open_sky(args.sky)
    cond = conditions()
    here, a = timed(sky, None, args.partition_size)
    print(f"{len(sky):,} objects here: {here:.1f} s", flush=True)
    dask, b = timed(sky, "local", args.partition_size)
    print(f"{len(sky):,} objects on a 2-worker LocalCluster: {dask:.1f} s", flush=True)
    same = bool(a.index.equals(b.index) and np.array_equal(a.to_numpy(float), b.to_numpy(float), equal_nan=True))
    out = {"n": len(sky), "partition_size": args.partition_size, "here_s": round(here, 1),
           "local_cluster_s": round(dask, 1), "speedup": round(here / dask, 2), "identical": same,
           "conditions": cond}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lc_features_dask.json").write_text(json.dumps(out, indent=2))
    md = "\n".join([
        "# Light-curve features: one process vs a 2-worker LocalCluster", "",
        f"`python benchmarks/bench_lc_features_dask.py --sky {args.sky} --partition-size {args.partition_size}`", "",
        "| objects | partitions of | here s | LocalCluster (2 workers, start included) s | speedup | tables identical |",
        "|---|---|---|---|---|---|",
        f"| {len(sky):,} | {args.partition_size:,} | {here:.1f} | {dask:.1f} | {here / dask:.2f}x | {same} |", "",
        f"Conditions: {json.dumps(cond)}", ""])
    (RESULTS / "lc_features_dask.md").write_text(md)
    print(md)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
