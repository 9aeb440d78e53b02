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
    p.add_argument("--oracle", type=int, default=None, metavar="N",
                   help="instead: a simulated astronomer answers N review steps from the truth; found-per-"
                        "inspected curves of the learning review queue, the static ranking, random order, the "
                        "within-class catalogue z-score and coniferest's AAD / PineForest (OUT.md/.json/.png)")
    p.add_argument("--target", default="anomaly", choices=["anomaly", "mislabel", "crossmodal"],
                   help="with --oracle: what the astronomer looks for (default anomaly)")
    p.add_argument("--methods", default=None,
                   help="with --oracle: comma-separated review orders (default all; see core.analysis.oracle)")
    p.set_defaults(func=run)


def run_oracle(args) -> int:
    from core.analysis.oracle import METHODS, curves_markdown, oracle_curves, write_curves

    methods = METHODS if not args.methods else [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        from core.errors import AstroM3Error
        raise AstroM3Error(f"unknown --methods {', '.join(unknown)}; use some of: {', '.join(METHODS)}")
    report = oracle_curves(args.workspace, args.truth, sky=args.sky, target=args.target, n=args.oracle,
                           methods=methods, seed=args.seed)
    print(curves_markdown(report))
    if args.out:
        print("written: " + ", ".join(str(p) for p in write_curves(report, args.out)))
    return 0


def run(args) -> int:
    if args.oracle is not None:
        return run_oracle(args)
    from core.analysis.evaluate import evaluate, to_markdown, write_report

    report = evaluate(args.workspace, args.truth, sky=args.sky, baselines=not args.no_baselines, seed=args.seed)
    print(to_markdown(report))
    if args.out:
        md, js = write_report(report, args.out)
        print(f"written: {md}, {js}")
    return 0
