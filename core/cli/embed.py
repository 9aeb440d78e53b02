"""``astrom3 embed SKY --workspace WS``: per-modality and fused embeddings of every object."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("embed", help="embed every object of a sky (writes WS/embeddings.parquet)",
                       description="Batched, streaming inference with a checkpoint (default: WS/model.pt if it "
                                   "exists, else the shipped demo checkpoint). Skipped when fresh.")
    p.add_argument("sky", help="sky directory")
    p.add_argument("--workspace", "-w", required=True, help="workspace directory")
    p.add_argument("--checkpoint", default=None, help="model checkpoint (.pt, or 'demo' for the shipped "
                                                         "core/resources/checkpoints/demo-cpu-seed0.pt)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--force", action="store_true", help="recompute even if fresh")
    p.add_argument("--device", default=None)
    add_partition_arguments(p)
    p.set_defaults(func=run)


def add_partition_arguments(p, what: str = "the embedding") -> None:
    """Add ``--scheduler`` and ``--partition-size`` (shared by ``embed``, ``analyze`` and ``run``) to ``p``."""
    p.add_argument("--scheduler", default=None, metavar="local|tcp://HOST:PORT",
                   help=f"compute {what} partition by partition as dask.distributed tasks: 'local' starts a "
                        "2-worker LocalCluster here, tcp://HOST:PORT uses a running Dask scheduler whose workers "
                        "see the same paths (default: in this process)")
    p.add_argument("--partition-size", type=int, default=None, metavar="N",
                   help=f"objects per partition of {what}; finished partitions survive an interruption and "
                        "are not redone (default 50000)")


def run(args) -> int:
    import time

    from core.embed import embed
    from core.parallel import DEFAULT_PARTITION_SIZE
    from core.sky import open_sky
    from core.train import DEFAULT_CHECKPOINT
    from core.workspace import Workspace

    from core.pipeline import resolve_checkpoint

    ckpt = None if args.checkpoint is None else resolve_checkpoint(args.checkpoint)
    if ckpt is None:
        own = Workspace(args.workspace).checkpoint_path
        ckpt = own if own.exists() else DEFAULT_CHECKPOINT
    sky = open_sky(args.sky)
    t = time.perf_counter()
    path = embed(sky, ckpt, args.workspace, batch_size=args.batch_size, force=args.force, device=args.device,
                 scheduler=args.scheduler,
                 partition_size=DEFAULT_PARTITION_SIZE if args.partition_size is None else args.partition_size)
    dt = time.perf_counter() - t
    print(f"embeddings: {path} ({len(sky)} objects, {dt:.1f} s, {len(sky) / max(dt, 1e-9):.0f} objects/s)")
    return 0
