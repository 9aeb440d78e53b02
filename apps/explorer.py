"""``panel serve apps/explorer.py [--args --sky PATH --workspace PATH]``: the AstroM3 Explorer.

Without arguments it opens the demo sky (simulated and analysed once by
:func:`core.demo.ensure_demo`).
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
    p = argparse.ArgumentParser(prog="apps/explorer.py")
    p.add_argument("--sky", type=Path, default=None)
    p.add_argument("--workspace", type=Path, default=None)
    args, _ = p.parse_known_args(argv)
    if args.sky is None:
        from core.demo import ensure_demo
        return ensure_demo()
    ws = args.workspace or args.sky.parent / f"{args.sky.name}-workspace"
    return args.sky, ws


sky, workspace = _paths(sys.argv[1:])
build_app(sky, workspace).servable(title="AstroM3 Explorer")
