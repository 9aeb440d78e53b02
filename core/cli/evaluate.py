"""``astrom3 evaluate WS --truth SKY/truth.parquet``: our scores and the baselines against the truth."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="measure the scores against a simulated sky's truth",
                       description="Label-error, anomaly, cross-match and subclass metrics of WS/results.parquet "
                                   "against truth.parquet, beside the baselines (isolation forest on catalogue "
                                   "columns, cleanlab + random forest on light-curve features, the AstroM3 "
                                   "centroid distance). Prints Markdown and writes OUT.md and OUT.json.")
    p.add_argument("workspace", help="workspace directory with results.parquet")
    p.add_argument("--truth", required=True, help="truth.parquet (or the simulated sky directory)")
    p.add_argument("--sky", default=None, help="the sky (needed for the baselines)")
    p.add_argument("--out", default=None, help="write OUT.md and OUT.json (e.g. benchmarks/results/discovery)")
    p.add_argument("--no-baselines", action="store_true", help="measure only our scores")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.analysis.evaluate import evaluate, to_markdown, write_report

    report = evaluate(args.workspace, args.truth, sky=args.sky, baselines=not args.no_baselines, seed=args.seed)
    print(to_markdown(report))
    if args.out:
        md, js = write_report(report, args.out)
        print(f"written: {md}, {js}")
    return 0
