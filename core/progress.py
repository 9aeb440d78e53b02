"""Progress bars for long steps (tqdm on stderr; silent when disabled or not wanted)."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from tqdm.auto import tqdm


def progress_enabled(enabled: bool | None = None) -> bool:
    """Whether to show bars: explicit argument, else ``ASTROM3_PROGRESS`` (``0`` disables)."""
    if enabled is not None:
        return enabled
    return os.environ.get("ASTROM3_PROGRESS", "1") != "0"


def progress(iterable: Iterable | None = None, *, desc: str, total: int | None = None,
             unit: str = "it", enabled: bool | None = None, **kwargs) -> tqdm:
    """Wrap ``iterable`` in a progress bar labelled ``desc``.

    Examples
    --------
    >>> for _ in progress(range(3), desc="demo", enabled=False):
    ...     pass
    """
    if not sys.stderr.isatty():  # a log file or CI: an update every 30 s, not a line per redraw
        kwargs.setdefault("mininterval", 30.0)
    return tqdm(iterable, desc=desc, total=total, unit=unit, dynamic_ncols=True,
                disable=not progress_enabled(enabled), leave=False, **kwargs)
