"""``astrom3 run SKY --workspace WS``: train if needed -> embed -> analyze, skipping fresh steps."""
from __future__ import annotations

from core.cli.embed import add_partition_arguments


def register(sub) -> None:
    p = sub.add_parser("run", help="the whole pipeline: train (if needed), embed, analyze",
                       description="Run every stale step from a sky to WS/results.parquet. Without "
                                   "--checkpoint a model is trained on the sky with --preset; with it, that "
                                   "model is used (--checkpoint demo: the shipped "
                                   "core/resources/checkpoints/demo-cpu-seed0.pt).")
    p.add_argument("sky", help="sky directory")
    p.add_argument("--workspace", "-w", required=True, help="workspace directory (created if missing)")
    p.add_argument("--checkpoint", default=None, help="use this model checkpoint (.pt, or 'demo' for the shipped one) "
                                                         "instead of training")
    p.add_argument("--preset", default="cpu", help="model preset when training: tiny, cpu (default), paper")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--umap-sample", type=int, default=50000, help="UMAP fit sample size (default 50000)")
    add_partition_arguments(p, what="the embedding and the light-curve features")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.pipeline import StepReport
    from core.pipeline import run as run_pipeline

    report = StepReport()
    path = run_pipeline(args.sky, args.workspace, checkpoint=args.checkpoint, preset=args.preset,
                        seed=args.seed, umap_sample=args.umap_sample, report=report,
                        scheduler=args.scheduler, partition_size=args.partition_size)
    for step in ("train", "embed", "analyze"):
        r = report[step]
        took = "fresh, skipped" if r["skipped"] else f"{r['seconds']:.1f} s"
        print(f"{step:8s} {took}")
    print(f"results: {path}")
    return 0
