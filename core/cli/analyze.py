"""``astrom3 analyze SKY --workspace WS``: maps, clusters and scores from the embeddings."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("analyze", help="project, cluster and score every object (needs embeddings)",
                       description="From WS/embeddings.parquet: UMAP maps (fused and per modality), HDBSCAN "
                                   "clusters, outlier / label-error / cross-modal scores, per-modality class "
                                   "votes and the similarity index; writes WS/results.parquet. Skipped when "
                                   "the results are fresh.")
    p.add_argument("sky", help="sky directory")
    p.add_argument("--workspace", "-w", required=True, help="workspace directory (holds embeddings.parquet)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--umap-sample", type=int, default=50000,
                   help="fit UMAP on at most this many objects, transform the rest (default 50000)")
    p.add_argument("--min-cluster-size", type=int, default=None, help="HDBSCAN minimum cluster size")
    p.add_argument("--force", action="store_true",
                   help="recompute even if the results are fresh, and redo the steps an interrupted run "
                        "finished (without it, an interrupted run resumes after its last finished step)")
    from core.cli.embed import add_partition_arguments

    add_partition_arguments(p, what="the light-curve features")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    from core.analysis import analyze

    t = time.perf_counter()
    path = analyze(args.sky, args.workspace, seed=args.seed, umap_sample=args.umap_sample,
                   min_cluster_size=args.min_cluster_size, force=args.force, scheduler=args.scheduler,
                   partition_size=args.partition_size)
    print(f"results: {path} ({time.perf_counter() - t:.1f} s)")
    return 0
