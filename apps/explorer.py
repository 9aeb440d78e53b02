"""``panel serve apps/explorer.py [--args --sky PATH --workspace PATH]``: the AstroM3 Explorer.

Without arguments it opens the demo sky; on the very first start the page shows a progress bar
while :func:`core.demo.ensure_demo` simulates and analyses it (a few minutes, once).
"""
import argparse
import sys
from pathlib import Path

# `panel serve` puts apps/ on sys.path, where this file would shadow the `explorer` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if not hasattr(sys.modules.get("explorer"), "__path__"):
    sys.modules.pop("explorer", None)

from explorer.app import build_app  # noqa: E402


def _paths(argv):
    """``(sky, workspace, prepare)``: what to open, and how to compute it when it has no results."""
    p = argparse.ArgumentParser(prog="apps/explorer.py")
    p.add_argument("--sky", type=Path, default=None)
    p.add_argument("--workspace", type=Path, default=None)
    p.add_argument("--checkpoint", type=Path, default=None, help="model to embed with (default: train one)")
    p.add_argument("--preset", default="cpu", help="preset when a model has to be trained (default cpu)")
    args, _ = p.parse_known_args(argv)
    if args.sky is None:
        from core.demo import demo_paths, ensure_demo
        sky, ws = demo_paths(checkpoint=args.checkpoint)
        return sky, ws, lambda progress: ensure_demo(checkpoint=args.checkpoint, progress_callback=progress)
    ws = args.workspace or args.sky.parent / f"{args.sky.name}-workspace"

    def prepare(progress):
        from core.pipeline import run
        run(args.sky, ws, checkpoint=args.checkpoint, preset=args.preset, progress_callback=progress)
    return args.sky, ws, prepare


sky, workspace, prepare = _paths(sys.argv[1:])
build_app(sky, workspace, prepare=prepare).servable(title="AstroM3 Explorer")
