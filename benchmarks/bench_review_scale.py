"""Cost of one review-queue step (``decide`` + ``next``) at 20k to 1M objects (issues 12 and 14).

Usage::

    python benchmarks/bench_review_scale.py --sky SKY --workspace WS [--sizes 20000 1000000] [--steps 40]

A survey-size workspace is made by tiling an analysed one (``astrom3 simulate`` + ``astrom3 run``):
each copy of an object gets a new id (``ID~k``), its fused embedding a small seeded perturbation
(Gaussian, sigma 0.05 per unit vector, renormalised) and its scores a 1% multiplicative jitter, so
copies are near but not on top of each other; the sky keeps its catalogue rows (copied with the new
ids). Then a ``core.ReviewSession`` (anomaly target, default settings) is opened on it and ``steps``
decisions are made, alternating "anomaly" and "fine" on the object ``next()`` returns, timing each
``decide`` + ``next``. The tiled skies are for cost only; nothing is found in them.

Writes ``benchmarks/results/review_scale.md`` and ``.json`` with the conditions.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def tiled_ids(ids: np.ndarray, reps: int, n: int) -> np.ndarray:
    """``reps`` copies of ``ids`` (``ID~k`` for copy k > 0), cut to ``n``."""
    out = np.concatenate([ids if k == 0 else np.char.add(ids.astype(str), f"~{k}") for k in range(reps)])
    return out[:n].astype(object)


def tile_workspace(sky: Path, ws: Path, n: int, out: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ``out/sky`` (objects only) and ``out/ws`` (results + fused embeddings) with ``n`` objects."""
    from core.analysis.embeddings import load_embeddings
    from core.schema import FUSED
    from core.workspace import read_parquet_meta, write_parquet

    rng = np.random.default_rng(seed)
    res = pd.read_parquet(ws / "results.parquet")
    reps = -(-n // len(res))
    ids = tiled_ids(res["id"].astype(str).to_numpy(), reps, n)
    src_rows = np.tile(np.arange(len(res)), reps)[:n]
    big = res.iloc[src_rows].reset_index(drop=True)
    big["id"] = ids
    for col in big.columns:
        if pd.api.types.is_float_dtype(big[col]) and ("score" in col or col.startswith(("outlier_", "mislabel_"))):
            lo, hi = res[col].min(), res[col].max()
            big[col] = (big[col] * (1 + 0.01 * rng.standard_normal(n))).clip(lo, hi)   # stays in the score's range
    sky_out, ws_out = out / "sky", out / "ws"
    shutil.rmtree(out, ignore_errors=True)
    ws_out.mkdir(parents=True)
    sky_out.mkdir(parents=True)
    objects = pd.read_parquet(sky / "objects.parquet")
    objects = objects.assign(id=objects["id"].astype(str)).set_index("id").reindex(res["id"].astype(str))
    objects = objects.iloc[src_rows].reset_index(drop=True)
    objects.insert(0, "id", ids)
    objects.to_parquet(sky_out / "objects.parquet", index=False)
    write_parquet(big, ws_out / "results.parquet", meta=read_parquet_meta(ws / "results.parquet"))
    emb = load_embeddings(ws / "embeddings.parquet", ids=res["id"].astype(str))
    v = emb.vectors[FUSED][src_rows].astype(np.float32)
    v += rng.normal(scale=0.05 / np.sqrt(v.shape[1]), size=v.shape).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    d = v.shape[1]
    offsets = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32))
    col = pa.ListArray.from_arrays(offsets, pa.array(v.ravel()), mask=pa.array(~emb.present[FUSED][src_rows]))
    table = pa.table({"id": pa.array(ids.tolist(), pa.string()), "emb_fused": col})
    pq.write_table(table, ws_out / "embeddings.parquet")
    return sky_out, ws_out


def time_steps(sky: Path, ws: Path, steps: int) -> dict:
    """Open a ReviewSession and time ``steps`` decide + next."""
    from core import ReviewSession

    t0 = time.perf_counter()
    session = ReviewSession(ws, sky=sky, target="anomaly", user="bench")
    oid = session.next()
    opened = time.perf_counter() - t0
    times = []
    for i in range(steps):
        t = time.perf_counter()
        session.decide(oid, "anomaly" if i % 2 == 0 else "fine")
        oid = session.next()
        times.append(1000 * (time.perf_counter() - t))
    return {"open_s": round(opened, 2), "median_ms": round(float(np.median(times)), 1),
            "p95_ms": round(float(np.percentile(times, 95)), 1), "max_ms": round(float(np.max(times)), 1),
            "first_ms": round(times[0], 1), "steps": steps}


def conditions() -> dict:
    from conditions import run_conditions

    return run_conditions(("numpy", "pandas", "scikit-learn"))


def markdown(doc: dict) -> str:
    lines = ["# Review queue step cost by sky size", "", f"`{doc['command']}`", "",
             "Workspaces tiled from an analysed one (see the benchmark's docstring); anomaly target, default "
             "settings; each step is `decide` (stored in the real flag store) + `next`.", "",
             f"Conditions: {json.dumps(doc['conditions'])}", "",
             "| objects | open + first next s | decide + next median ms | p95 ms | max ms | first step ms | target |",
             "|---|---|---|---|---|---|---|"]
    for n, r in sorted(doc["sizes"].items(), key=lambda kv: int(kv[0])):
        target = "200 ms" if int(n) <= 20000 else "1 s" if int(n) >= 1_000_000 else ""
        lines.append(f"| {int(n):,} | {r['open_s']} | {r['median_ms']} | {r['p95_ms']} | {r['max_ms']} | "
                     f"{r['first_ms']} | {target} |")
    lines.append(f"\nPeak resident memory of the benchmark process (all sizes, tiling included): "
                 f"{doc['peak_mb']:.0f} MB.\n")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sky", type=Path, required=True)
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 1000000])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--root", type=Path, default=Path("/tmp/astrom3-review-scale"))
    args = ap.parse_args(argv)
    doc = {"command": f"python benchmarks/bench_review_scale.py --sky {args.sky} --workspace {args.workspace} "
                      f"--sizes {' '.join(map(str, args.sizes))} --steps {args.steps}",
           "conditions": conditions(), "sizes": {}}
    for n in args.sizes:
        t = time.perf_counter()
        sky, ws = tile_workspace(args.sky, args.workspace, n, args.root / f"n{n}")
        print(f"n={n:>9,} tiled in {time.perf_counter() - t:.1f} s", flush=True)
        doc["sizes"][str(n)] = r = time_steps(sky, ws, args.steps)
        print(f"n={n:>9,} open {r['open_s']} s, decide + next median {r['median_ms']} ms, p95 {r['p95_ms']} ms",
              flush=True)
        shutil.rmtree(args.root / f"n{n}", ignore_errors=True)     # GBs at 1M
    doc["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "review_scale.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / "review_scale.md").write_text(markdown(doc))
    print(f"written: {RESULTS / 'review_scale.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
