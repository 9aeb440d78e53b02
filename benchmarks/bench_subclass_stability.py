"""How much the subclass split depends on the UMAP seed: ARI against the planted subclasses, per seed.

Usage::

    python benchmarks/bench_subclass_stability.py [--root /tmp/astrom3-demo] [--skies 0 1 2] [--umap-seeds 8]

For each demo sky ``ROOT/sky20k-s<S>`` with its analysed workspace ``ROOT/ws20k-s<S>`` (made by
``benchmarks/bench_discovery.py``), runs :func:`core.analysis.subclasses.subclasses` on the Miras
(``M``) and the rotators (``ROT``) with UMAP seeds ``0 .. N-1`` and reports the adjusted Rand index
of each run against the planted ``subclass`` (objects whose truth has one). The discovery benchmark
reports seed 0 only; this says how far one number can be trusted. Writes
``benchmarks/results/subclass_stability.md|json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def aris(ws: Path, sky: Path, label: str, seeds: range) -> list[float]:
    """ARI of the subclass split of ``label`` against the planted subclasses, one per UMAP seed."""
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from core.analysis.subclasses import subclasses

    truth = pd.read_parquet(sky / "truth.parquet").set_index("id")["subclass"]
    out = []
    for s in seeds:
        a = subclasses(ws, label, seed=s).assignments.set_index("id")
        t = truth.reindex(a.index)
        keep = t.notna().to_numpy()
        out.append(float(adjusted_rand_score(t[keep].astype(str), a["subgroup"].to_numpy()[keep])))
    return out


def render(rows: list[dict], conditions: dict) -> str:
    """The markdown report."""
    lines = ["# Subclass split against the UMAP seed", "",
             "ARI of `core.analysis.subclasses` (default settings: the class's own UMAP, HDBSCAN with a "
             "minimum cluster size of a tenth of the class) against the planted subclasses, one run per UMAP "
             "seed, on the 20k demo skies embedded with the shipped checkpoint.", "",
             f"Conditions: {conditions['date']}, {conditions['cpus']} CPUs, load average at start "
             f"{conditions['load_start']}, end {conditions['load_end']}; {conditions['seconds']:.0f} s in all.", "",
             "| sky seed | class | ARI per UMAP seed | median | min | runs ≥ 0.8 |", "|---|---|---|---|---|---|"]
    for r in rows:
        v = r["ari"]
        lines.append(f"| {r['sky_seed']} | {r['label']} | {' '.join(f'{a:.3f}' for a in v)} | "
                     f"{np.median(v):.3f} | {min(v):.3f} | {sum(a >= 0.8 for a in v)}/{len(v)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="/tmp/astrom3-demo")
    ap.add_argument("--skies", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--umap-seeds", type=int, default=8)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    t0, load0 = time.perf_counter(), [round(v, 2) for v in os.getloadavg()]
    rows = []
    for s in args.skies:
        sky, ws = Path(args.root) / f"sky20k-s{s}", Path(args.root) / f"ws20k-s{s}"
        for label in ("M", "ROT"):
            v = aris(ws, sky, label, range(args.umap_seeds))
            rows.append({"sky_seed": s, "label": label, "ari": v})
            print(f"sky {s} {label}: " + " ".join(f"{a:.3f}" for a in v), flush=True)
    cond = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
            "load_start": load0, "load_end": [round(v, 2) for v in os.getloadavg()],
            "seconds": time.perf_counter() - t0, "python": platform.python_version()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "subclass_stability.json").write_text(json.dumps({"conditions": cond, "rows": rows}, indent=2))
    (out / "subclass_stability.md").write_text(render(rows, cond))
    print(render(rows, cond))


if __name__ == "__main__":
    main()
