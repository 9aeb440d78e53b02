"""Found per inspected: the learning review queue against the static ranking, coniferest and random order.

A simulated astronomer (:mod:`core.analysis.oracle`) answers N review steps from each sky's truth,
for anomalies and for label errors. Writes ``OUT.md``, ``OUT.json`` and one PNG per sky and target
(default ``benchmarks/results/active``), with the conditions (load, versions) and the learning
queue's decide + next step time.

    .venv/bin/python benchmarks/bench_active.py \\
        --case crts:/tmp/h1/s0:/tmp/h1/ws0 --case demo:/tmp/h1/demo0:/tmp/h1/dws0 [--n 100]
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "active"

ALL = ["learning", "static", "catalogue z-score", "AAD (fused embedding)", "AAD (catalogue)",
       "AAD (session features)", "PineForest (fused embedding)", "PineForest (catalogue)", "random"]
LIGHT = ["learning", "static", "catalogue z-score", "AAD (fused embedding)", "random"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", required=True, help="NAME:SKY:WORKSPACE (repeatable)")
    ap.add_argument("--n", type=int, default=100, help="objects inspected per method (default 100)")
    ap.add_argument("--targets", default="anomaly,mislabel")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default=None,
                    help="comma-separated subset of the methods (default: all for anomalies, a light set else)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    from core.analysis.oracle import curves_markdown, oracle_curves, plot_curves

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs, started = [], time.perf_counter()
    for case in args.case:
        name, sky, ws = case.split(":")
        for target in args.targets.split(","):
            methods = ALL if target == "anomaly" else LIGHT
            if args.methods:
                methods = [m for m in methods if m in args.methods.split(",")]
            print(f"{name} / {target} ...", flush=True)
            rep = oracle_curves(ws, Path(sky) / "truth.parquet", sky=sky, target=target, n=args.n,
                                methods=methods, seed=args.seed)
            rep["case"] = name
            png = out.parent / f"{out.name}_{name}_{target}.png"
            plot_curves(rep, png)
            rep["png"] = png.name
            runs.append(rep)
            print(curves_markdown(rep), flush=True)
    doc = {"runs": runs, "seconds": round(time.perf_counter() - started, 1), "n": args.n,
           "command": "python benchmarks/bench_active.py " + " ".join(f"--case {c}" for c in args.case)
                      + f" --n {args.n} --targets {args.targets}"
                      + (f" --methods '{args.methods}'" if args.methods else "")}
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    out.with_suffix(".md").write_text(_markdown(doc) + "\n")
    print(f"written: {out.with_suffix('.md')}, {out.with_suffix('.json')}")
    return 0


def _markdown(doc: dict) -> str:
    from core.analysis.oracle import curves_markdown

    first = doc["runs"][0]["conditions"]
    lines = ["# Active discovery: found per inspected (simulated astronomer)", "",
             f"`{doc['command']}` ({doc['seconds']} s in all).", "",
             "The oracle answers each shown object from the sky's truth: anomaly target: `anomaly` where "
             "`anomaly_kind` is set, else `fine`; label-error target: `mislabel` with the true label where "
             "`is_mislabeled`, else `fine`. *learning* is `core.ReviewSession` (default settings); *static* "
             "the results' `outlier_score` / `mislabel_score`; *catalogue z-score* the largest within-class "
             "robust z-score of log period and amplitude; AAD / PineForest are coniferest's oracle sessions "
             "(128 trees, seed 0) on the fused embeddings, the catalogue columns (log period, amplitude, "
             "mean magnitude) or the session's own features.", "",
             f"Conditions: Python {first['python']}, {first['cpus']} CPUs, load average at start "
             f"{first['load_average']}, versions {first['versions']}.", ""]
    for rep in doc["runs"]:
        info = rep.get("learning_info") or {}
        static = rep["curves"].get("static", [])
        behind = {m: sum(a < b for a, b in zip(c, static)) for m, c in rep["curves"].items() if m != "static"}
        lines += [f"## {rep['case']}: {rep['target']}", "", curves_markdown(rep), "",
                  "Steps (of the first {}) where a method has found fewer than the static ranking: {}.".format(
                      rep["n"], ", ".join(f"{m} {v}" for m, v in behind.items())), "",
                  f"Learning queue: decide + next {info.get('step_ms_median')} ms median, "
                  f"{info.get('step_ms_max')} ms max over {rep['n']} steps on {rep['n_objects']} objects. "
                  f"Weights moved most from the prior: {info.get('moved_weights')}.", "",
                  f"![{rep['case']} {rep['target']}]({rep['png']})", ""]
    lines += ["## How the learning defaults were chosen", "", CHOICE]
    return "\n".join(lines)


#: The sweep behind ``ReviewSession``'s defaults (same sky copies, first 100 inspected, found @10/20/50/100).
CHOICE = """Anomaly target, found in the first 100 inspected, with the simulated astronomer (2026-12-03; planted
CRTS seed 0 and demo seed 0 used to choose, the other seeds held out; *behind* = steps of the first 100
where the queue had found fewer than the static ranking, and by how many stars at most):

| neighbour term | CRTS s0 / s1 / s2 (Cepheids) | demo s0 | demo s1 | demo s2 |
|---|---|---|---|---|
| fixed +1 / -1, fused embedding (the previous default) | 94 / 94 / 93 | 63 (12 behind, max 2) | 70 (4, max 1) | 64 (2, max 1) |
| **learned, fused embedding (default)** | 96 / 97 / 96 | 63 (5 behind, max 2) | 72 (0) | 67 (1, max 1) |
| fixed +1 / -1, the session's own features | 97 / 97 / 97 | 70 (14, max 3) | 71 (16, max 2) | 63 (0) |
| learned, own features | 97 / 97 / 97 | 70 (7, max 1) | 68 (0) | 63 (28, max 7) |
| learned, both spaces (four weights) | 97 / 97 / 97 | 72 (8, max 2) | 66 (9, max 3) | 67 (0) |
| AAD on the session's features (coniferest, for scale) | 97 / 94 / 95 | 61 (27 behind) | 62 (20) | 53 (27) |

*Learned*: the two weights of the neighbour term (near a found anomaly, near a `fine`) start at 0 and
are fitted with the feature weights (pull 1 towards 0), so the decisions say how far a verdict
carries: on the planted CRTS sky, where the Cepheids sit together, "near found" grows; on the demo
sky, whose anomalies are of eight kinds, a fixed raise crowded out the kinds not met yet. Neighbours
in the session's own standardised features (objects odd in the same way) found one more Cepheid in
100 but fell further behind the static ranking on the demo skies, so the fused embedding stays the
default (`neighbour_space="features"` or `"both"` selects the others). Ridge 10 (pull of the feature
weights to the prior) and 10 neighbours were kept: ridge 3 / 30 and 5 / 20 neighbours moved CRTS by
at most one star and the demo curves by noise-level amounts. No setting tried keeps every demo
curve at or above the static one at every step: the dips are one or two stars, for a few steps.
For label errors the static `mislabel_score` is already 96-100 % precise in its first 100 on these
skies; the learning queue stays near it (ridge 100, no neighbour term, trusted labels at 0.3)."""


if __name__ == "__main__":
    raise SystemExit(main())
