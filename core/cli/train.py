"""``astrom3 train SKY --workspace WS``: contrastive pretraining of the trimodal model."""
from __future__ import annotations


def parse_sets(pairs) -> dict:
    """``["epochs=3", "photometry.d_model=64"]`` -> ``{"epochs": "3", ...}`` (values converted by the config)."""
    from core.errors import AstroM3Error

    out = {}
    for item in pairs or []:
        if "=" not in item:
            raise AstroM3Error(f"--set {item!r}: expected key=value (e.g. --set photometry.d_model=64)")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def register(sub) -> None:
    p = sub.add_parser("train", help="pretrain the trimodal model on a sky (contrastive, no labels)",
                       description="CLIP-style pretraining of the light-curve, spectrum and metadata encoders on "
                                   "a seeded train split, early stopping on the validation loss. Writes "
                                   "WS/model.pt (weights, config, preprocessing statistics, sky fingerprint).")
    p.add_argument("sky", help="sky directory")
    p.add_argument("--workspace", "-w", required=True, help="workspace directory")
    p.add_argument("--preset", default="cpu", help="model preset: tiny, cpu (default), paper")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--epochs", type=int, default=None, help="maximum number of epochs (preset default otherwise)")
    p.add_argument("--resume", action="store_true", help="continue the run saved in WS/model.pt")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--set", dest="sets", action="append", metavar="KEY=VALUE",
                   help="override a config field, e.g. --set photometry.d_model=64 (repeatable)")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    from core.model.config import list_presets
    from core.errors import AstroM3Error
    from core.train import load_checkpoint, train

    if args.preset not in list_presets():
        raise AstroM3Error(f"unknown preset {args.preset!r}; choose one of {', '.join(list_presets())}")
    overrides = parse_sets(args.sets)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    t = time.perf_counter()
    path = train(args.sky, workspace=args.workspace, preset=args.preset, seed=args.seed, resume=args.resume,
                 device=args.device, **overrides)
    m = load_checkpoint(path)
    last = m.history[-1] if m.history else {}
    print(f"checkpoint: {path} (preset {m.preset}, modalities {', '.join(m.modalities)}, "
          f"{len(m.history)} epochs, val loss {last.get('val_loss', float('nan')):.4f}, "
          f"{time.perf_counter() - t:.0f} s)")
    return 0
