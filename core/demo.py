"""The demo sky, ready to explore: simulate it once, analyse it with the shipped model.

``ensure_demo()`` is what the explorer runs (in the background, with a progress bar) when started
without a sky and the demo has no results yet: the first call simulates the default demo sky
(``n`` objects, ``seed``) under ``$ASTROM3_HOME`` (default ``~/.cache/astrom3``) and runs
:func:`core.pipeline.run` with the shipped checkpoint; later calls find everything fresh and return
at once. :func:`demo_paths` says where those live without computing anything; the workspace's name
carries the checkpoint's fingerprint and the analysis version, so a new model or new scoring gets
fresh results instead of stale ones.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from core import schema

__all__ = ["demo_home", "demo_paths", "ensure_demo", "carry_flags"]

ProgressCallback = Callable[[str, float], None]


def demo_home(home: str | os.PathLike | None = None) -> Path:
    """``home``, else ``$ASTROM3_HOME``, else ``~/.cache/astrom3``."""
    return Path(home or os.environ.get("ASTROM3_HOME") or Path.home() / ".cache" / "astrom3").expanduser()


def demo_paths(home: str | os.PathLike | None = None, n: int = 20000, seed: int = 0, *,
               checkpoint: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """``(sky_path, workspace_path)`` of the demo under :func:`demo_home`; computes nothing.

    The workspace is ``ws-<n>-s<seed>-<checkpoint fingerprint>-a<analysis version>``.
    """
    from core.analysis.engine import ANALYSIS_VERSION
    from core.sky import file_fingerprint
    from core.train import DEFAULT_CHECKPOINT

    base = demo_home(home)
    ckpt = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    tag = f"{file_fingerprint(ckpt)[:8]}-a{ANALYSIS_VERSION}" if ckpt.exists() else "no-model"
    return base / f"sky-{n}-s{seed}", base / f"ws-{n}-s{seed}-{tag}"


def ensure_demo(home: str | os.PathLike | None = None, n: int = 20000, seed: int = 0, *,
                checkpoint: str | os.PathLike | None = None,
                progress_callback: ProgressCallback | None = None) -> tuple[Path, Path]:
    """Make sure the demo sky and its analysed workspace exist; return ``(sky_path, workspace_path)``.

    Parameters
    ----------
    home : path, optional
        Where demo data lives (see :func:`demo_home`).
    n, seed : int
        Size and seed of the simulated sky (the shipped checkpoint was trained on 20000, seed 0).
    checkpoint : path, optional
        Model to embed with; defaults to the shipped ``core.train.DEFAULT_CHECKPOINT``.
    progress_callback : callable, optional
        ``callback(step, fraction_done)`` with fractions from 0 to 1, for a dashboard's progress bar.

    Examples
    --------
    >>> sky, ws = ensure_demo()              # doctest: +SKIP
    """
    from core.pipeline import run

    sky_path, ws_path = demo_paths(home, n, seed, checkpoint=checkpoint)
    cb = progress_callback
    if not (sky_path / schema.OBJECTS_FILE).exists():
        from core.simulate import simulate_sky

        if cb:
            cb("simulating the demo sky", 0.0)
        simulate_sky(n, seed, out=sky_path)
    if checkpoint is None:
        from core.train import DEFAULT_CHECKPOINT
        checkpoint = DEFAULT_CHECKPOINT
    inner = None if cb is None else (lambda step, frac: cb(step, 0.3 + 0.7 * frac))
    if cb:
        cb("running the pipeline", 0.3)
    run(sky_path, ws_path, checkpoint=checkpoint, seed=seed, progress_callback=inner)
    carry_flags(ws_path, sorted(ws_path.parent.glob(f"ws-{n}-s{seed}-*")))
    if cb:
        cb("demo ready", 1.0)
    return sky_path, ws_path


def carry_flags(workspace: str | os.PathLike, previous: list) -> Path | None:
    """Copy the newest earlier demo workspace's flag store into a new one that has none.

    A new model or scoring version gives the demo a new workspace (see :func:`demo_paths`); the
    astronomers' flags are about the same sky's objects, so they come along instead of staying
    behind in the old directory (which is left as it was). :meth:`core.flags.FlagStore.backup_to`
    copies a consistent snapshot even while another process writes the old store.

    Returns
    -------
    Path of the store copied from, or None when nothing was copied.
    """
    from core.flags import FlagStore

    target = Path(workspace) / "flags.sqlite"
    if target.exists():
        return None
    stores = [Path(p) / "flags.sqlite" for p in previous if Path(p).resolve() != Path(workspace).resolve()]
    stores = [p for p in stores if p.exists()]
    if not stores:
        return None
    source = max(stores, key=lambda p: p.stat().st_mtime)
    with FlagStore(source, readonly=True) as store:
        store.backup_to(target)  # written to a temporary sibling, renamed onto target when complete
    return source
