"""``astrom3 finetune SKY --workspace WS --modality ...``: a classifier from pretrained or fresh encoders."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("finetune", help="train a classifier on labels and report test accuracy",
                       description="Fine-tune a classifier on photometry, spectra, metadata or all of them (fused), "
                                   "from the pretrained encoders (default: WS/model.pt) or from scratch, on a "
                                   "fraction of the labels; scored on the held-out test split.")
    p.add_argument("sky", help="sky directory (with labels)")
    p.add_argument("--workspace", "-w", required=True, help="workspace directory")
    p.add_argument("--modality", default="all", choices=["all", "photometry", "spectra", "metadata"])
    p.add_argument("--labels", type=float, default=1.0, help="fraction of training labels used (default 1.0)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--pretrained", default=None, help="checkpoint to start from (default: WS/model.pt)")
    g.add_argument("--scratch", action="store_true", help="train from scratch (no pretraining)")
    p.add_argument("--preset", default="cpu", help="preset when training from scratch (default cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--device", default=None)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from core.errors import AstroM3Error
    from core.train import finetune
    from core.workspace import Workspace

    pretrained = None
    if not args.scratch:
        pretrained = Path(args.pretrained) if args.pretrained else Workspace(args.workspace).checkpoint_path
        if not pretrained.exists():
            raise AstroM3Error(f"{pretrained}: checkpoint not found; run `astrom3 train` first or pass --scratch")
    m = finetune(args.sky, workspace=args.workspace, modality=args.modality, label_fraction=args.labels,
                 pretrained=pretrained, seed=args.seed, preset=args.preset, epochs=args.epochs, device=args.device)
    print(f"{m['modality']} ({m['init']}, {100 * m['label_fraction']:g}% labels, {m['n_train']} train objects): "
          f"test accuracy {m['test_accuracy']:.3f}, macro F1 {m['test_macro_f1']:.3f} on {m['n_test']} objects")
    return 0
