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
                      + f" --n {args.n} --targets {args.targets}"}
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
CHOICE = """Measured with the simulated astronomer on the same copies before this run (anomaly target):

| ridge | neighbour weight | class-balanced | CRTS (planted Cepheids) | demo |
|---|---|---|---|---|
| 1 | 1 | yes | 0 / 0 / 28 / 77 | 10 / 20 / 48 / 75 (7 steps behind static at n=200) |
| 0.1 | 1 | yes | 4 / 14 / 44 / 92 | 10 / 20 / 49 / 73 (0 steps behind static at n=200) |
| 0.03 | 1 | yes | 7 / 17 / 47 / 96 | 10 / 20 / 49 / 63 |
| 0.1 | 0 | yes | 3 / 13 / 43 / 92 | – |
| 0.03 | 0 | yes | – | 10 / 20 / 44 / 73 (16 steps behind static) |
| 0.1 | 1 | no | 0 / 0 / 0 / 42 | – |

The default is ridge 0.1, neighbour weight 1, class-balanced: best at 100 on the demo sky without
falling behind the static ranking there, and 92 of 100 on the planted CRTS sky. For label errors the
static `mislabel_score` is already 87-100 % precise in its first 100 on these skies; the learning
queue stays within a few objects of it (the label-error parts are less to learn from)."""


if __name__ == "__main__":
    raise SystemExit(main())
