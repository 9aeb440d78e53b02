"""The ``astrom3`` command line: the only argparse layer.

Each command group lives in its own module ``core.cli.<name>`` exposing ``register(subparsers)``,
which adds a parser whose ``func(args) -> int`` runs the command. Heavy libraries (torch, umap,
hdbscan) are imported inside those functions, so ``astrom3 --help`` stays fast.

Errors caused by bad input (:class:`core.errors.AstroM3Error`) become one line on stderr and exit
code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from core.errors import AstroM3Error

#: Command modules, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "simulate", "validate", "import_", "train", "finetune", "embed", "analyze", "run",
    "plant", "evaluate", "similar", "flags", "crossmatch", "samp", "serve",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full ``astrom3`` parser from the command modules that are present."""
    parser = argparse.ArgumentParser(
        prog="astrom3",
        description="AstroM3 Explorer: find mislabelled and anomalous variable stars with trimodal "
                    "(light curve, spectrum, metadata) embeddings.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--quiet", action="store_true", help="hide progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"core.cli.{name}")
        except ModuleNotFoundError as exc:  # a command group not written yet
            if exc.name == f"core.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("astrom3-explorer")
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``astrom3`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if args.quiet:
        import os
        os.environ["ASTROM3_PROGRESS"] = "0"
    warnings.formatwarning = lambda msg, cat, *a, **k: f"astrom3: warning: {msg}\n"
    try:
        return int(args.func(args) or 0)
    except AstroM3Error as exc:
        print(f"astrom3: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("astrom3: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
