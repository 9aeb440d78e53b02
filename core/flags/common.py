"""What every part of :mod:`core.flags` shares: limits, columns, the error type and small pure helpers."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from core.errors import AstroM3Error

#: Latest schema version this code writes and reads.
SCHEMA_VERSION = 1
MAX_NOTE_LENGTH = 2000
MAX_TAG_LENGTH = 200
#: Columns of :meth:`FlagStore.current` (and of every export, after the sky columns).
CURRENT_COLUMNS = ["id", "kind", "proposed_label", "subclass", "note", "user", "session", "created",
                   "sky_fingerprint", "model_fingerprint"]
#: Columns of :meth:`FlagStore.history`.
HISTORY_COLUMNS = ["decision", "id", "kind", "proposed_label", "subclass", "note", "user", "session", "created",
                   "sky_fingerprint", "model_fingerprint", "undoes"]
#: Environment variable naming the flag store an explorer server opens instead of ``WORKSPACE/flags.sqlite``
#: (set by ``astrom3 serve --flags``).
STORE_ENV = "ASTROM3_FLAGS"
KINDS = ("mislabel", "anomaly", "crossmatch", "subclass", "fine", "interesting")


class FlagStoreError(AstroM3Error):
    """A flag store cannot be opened or written, or a flag is invalid."""


def now() -> str:
    """The current UTC time as ISO 8601 with microseconds (how decision times are stored)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def isnull(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA


def clean_text(value, what: str, limit: int) -> str | None:
    """``value`` as text (None for missing or empty).

    Raises
    ------
    FlagStoreError
        When longer than ``limit``, or not storable text in every backend (a NUL character, or
        a lone surrogate that has no UTF-8 form).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    value = str(value)
    if value == "":
        return None
    if len(value) > limit:
        raise FlagStoreError(f"{what} is {len(value)} characters long; at most {limit} are allowed")
    if "\x00" in value:
        raise FlagStoreError(f"{what} contains a NUL character (at {value.index(chr(0))}); remove it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FlagStoreError(f"{what} is not valid text ({exc.reason} at {exc.start}); nothing was written"
                             ) from None
    return value


def standing(rows: Iterable[tuple]) -> list:
    """Decision ids still standing after undo rows, given ``(id, kind, undoes)`` in id order."""
    rows = list(rows)
    undone = {u for _, k, u in rows if k == "undo" and u is not None}
    return [i for i, k, _ in rows if k != "undo" and i not in undone]
