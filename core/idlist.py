"""Lists of object ids from files (CSV, ECSV, VOTable, FITS), e.g. a subset saved from TOPCAT.

:func:`read_id_list` finds the id column (``id``, ``name``, ``source_id``...; with the sky's ids
given, the column that matches them best) and returns the ids in file order, each once.
:func:`flag_ids` records them in a flag store as one kind of flag. :func:`read_table` and
:func:`check_input_file` are the validated file reading shared with ``astrom3 crossmatch`` and
SAMP.

Examples
--------
>>> ids = read_id_list("subset.csv", known_ids=sky.ids)          # doctest: +SKIP
>>> with FlagStore("ws/flags.sqlite", sky=sky) as store:         # doctest: +SKIP
...     flag_ids(store, ids, "interesting", user="ada")
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import AstroM3Error

__all__ = ["IdListError", "ID_COLUMNS", "TABLE_FORMATS", "read_id_list", "read_table", "check_input_file",
           "id_column", "table_ids", "flag_ids"]

#: Column names taken for object ids (case-insensitive), most specific first.
ID_COLUMNS = ("id", "object_id", "objid", "obj_id", "name", "source_id", "designation", "main_id",
              "asassn_name", "oid")
#: File suffix -> astropy.table reader format.
TABLE_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".xml": "votable", ".vot": "votable",
                 ".votable": "votable", ".fits": "fits", ".fit": "fits", ".fits.gz": "fits"}
#: Largest input file read (bytes).
MAX_FILE_BYTES = 2 * 1024**3


class IdListError(AstroM3Error):
    """An id list or catalogue file cannot be read, or its ids do not fit the sky."""


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fits.gz" if name.endswith(".fits.gz") else path.suffix.lower()


def check_input_file(path, what: str = "id list") -> Path:
    """``path`` as an existing regular file of a readable table format, or :class:`IdListError`."""
    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise IdListError(f"{p}: {what} not found")
    if not p.is_file():
        raise IdListError(f"{p}: not a regular file; give the {what} file itself")
    if _suffix(p) not in TABLE_FORMATS:
        raise IdListError(f"{p}: cannot tell the format from suffix {_suffix(p)!r}; use one of "
                          f"{', '.join(TABLE_FORMATS)}")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise IdListError(f"{p}: {p.stat().st_size / 1e9:.1f} GB is larger than the {MAX_FILE_BYTES / 1e9:.0f} GB "
                          f"read for a {what}")
    return p


def read_table(path, what: str = "id list", format: str | None = None, **kwargs):
    """Read a CSV, ECSV, VOTable or FITS table with astropy (first table of a VOTable or FITS file).

    CSV cells are read as text (ids keep their leading zeros); convert numeric columns yourself.

    Raises
    ------
    IdListError
        Naming the file, when it is missing, of an unknown format, or cannot be parsed.
    """
    from astropy.table import Table

    p = check_input_file(path, what) if format is None else Path(path)
    fmt = format or TABLE_FORMATS[_suffix(p)]
    if fmt.startswith("ascii.") and fmt != "ascii.ecsv":
        from astropy.io.ascii import convert_numpy
        kwargs.setdefault("converters", {"*": [convert_numpy(str)]})  # ids as written: "000123" stays so
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # VOTable spec warnings, several tables in a file
            t = Table.read(p, format=fmt, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise IdListError(f"{p}: cannot be read as {fmt} ({type(exc).__name__}: {exc})") from None
    return t


def _strings(col) -> list[str | None]:
    """A table column as stripped strings (None for masked or empty), integers without '.0'."""
    mask = np.broadcast_to(np.asarray(getattr(col, "mask", False)), (len(col),))
    out = []
    for v, m in zip(np.asarray(col).tolist(), mask):
        if m or v is None:
            out.append(None)
            continue
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if isinstance(v, float):
            v = None if not np.isfinite(v) else (str(int(v)) if v == int(v) else repr(v))
        v = None if v is None else str(v).strip()
        out.append(v or None)
    return out


def id_column(table, *, source: str, column: str | None = None, known_ids: Iterable[str] | None = None) -> str:
    """The name of the id column of ``table``.

    ``column`` if given (matched case-insensitively); else, with ``known_ids``, the candidate
    column (:data:`ID_COLUMNS`, or any text column) holding most known ids; else the first of
    :data:`ID_COLUMNS` present; a table of one column is its own id column.
    """
    lower = {c.lower(): c for c in table.colnames}
    if column is not None:
        if column.lower() not in lower:
            raise IdListError(f"{source}: no column {column!r}; its columns are {', '.join(table.colnames)}")
        return lower[column.lower()]
    named = [lower[c] for c in ID_COLUMNS if c in lower]
    if known_ids is not None:
        known = {str(i) for i in known_ids}
        pool = named + [c for c in table.colnames if c not in named and table[c].dtype.kind in "USOi"]
        hits = {c: sum(v in known for v in _strings(table[c])) for c in pool}
        best = max(pool, key=lambda c: hits[c], default=None)
        if best is not None and hits[best] > 0:
            return best
    if named:
        return named[0]
    if len(table.colnames) == 1:
        return table.colnames[0]
    raise IdListError(f"{source}: no id column; expected one named {', '.join(ID_COLUMNS[:6])}... (its columns are "
                      f"{', '.join(table.colnames) or 'none'}); name it with --column")


def table_ids(table, *, source: str, column: str | None = None, known_ids: Iterable[str] | None = None) -> list[str]:
    """The ids of ``table`` (see :func:`id_column`), in row order, each once, blanks dropped."""
    col = id_column(table, source=source, column=column, known_ids=known_ids)
    ids = [v for v in _strings(table[col]) if v is not None]
    return list(dict.fromkeys(ids))


def read_id_list(path, *, column: str | None = None, known_ids: Iterable[str] | None = None) -> list[str]:
    """Read a list of object ids from a CSV, ECSV, VOTable or FITS file (e.g. saved from TOPCAT).

    Parameters
    ----------
    path : path-like
        The file; its suffix names the format (:data:`TABLE_FORMATS`).
    column : str, optional
        The id column; found by name (:data:`ID_COLUMNS`) or by matching ``known_ids`` otherwise.
    known_ids : iterable of str, optional
        The sky's ids, used to find the id column; ids not among them are still returned.

    Returns
    -------
    list of str
        Ids in file order, each once.

    Raises
    ------
    IdListError
        Naming the file: missing, unreadable, no id column, or no ids.
    """
    p = check_input_file(path)
    table = read_table(p)
    known = None if known_ids is None else [str(i) for i in known_ids]
    if known is not None and len(table.colnames) == 1 and table.colnames[0] in set(known):
        if _suffix(p) == ".csv":  # a list without a header: its first line is an id
            table = read_table(p, format="ascii.no_header", delimiter=",")
    ids = table_ids(table, source=str(p), column=column, known_ids=known)
    if not ids:
        raise IdListError(f"{p}: no ids in column {id_column(table, source=str(p), column=column, known_ids=known)!r}")
    return ids


def flag_ids(store, ids: Iterable[str], kind: str, *, user: str, note: str | None = None,
             skip_unknown: bool = False, source: str = "id list", sky_fingerprint: str | None = None,
             model_fingerprint: str | None = None) -> dict:
    """Flag every object of ``ids`` as ``kind`` by ``user``, in one transaction.

    Objects already carrying this kind from this user are left as they are, so flagging the same
    list twice adds nothing.

    Parameters
    ----------
    store : core.flags.FlagStore
        An open store; its ``valid_ids`` (if any) say which ids are known.
    ids : iterable of str
    kind : str
        A flag kind (:attr:`core.flags.FlagStore.KINDS`).
    user : str
    note : str, optional
    skip_unknown : bool
        Flag the known ids and report the others, instead of refusing the whole list.
    source : str
        Named in error messages.

    Returns
    -------
    dict
        ``added`` (decisions written), ``already`` (ids left as they were), ``unknown`` (ids skipped).
    """
    from core.flags.common import now

    ids = list(dict.fromkeys(str(i) for i in ids))
    unknown = [] if store.valid_ids is None else [i for i in ids if i not in store.valid_ids]
    if unknown and not skip_unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise IdListError(f"{source}: {len(unknown)} of {len(ids)} ids are not in this sky ({shown}); nothing was "
                          "flagged (skip them with --skip-unknown)")
    if kind not in store.KINDS:
        raise IdListError(f"flag kind {kind!r} is not allowed; use one of {', '.join(store.KINDS)}")
    if not str(user or "").strip():
        raise IdListError("user name is empty; say who is flagging")
    ids = [i for i in ids if i not in set(unknown)]
    standing = set(store.current(user=user, kind=kind)["id"].astype(str)) if ids else set()
    new = [i for i in ids if i not in standing]
    added = 0
    if new:
        frame = pd.DataFrame({"id": new, "kind": kind, "user": user, "created": now(), "note": note,
                              "session": "flag_ids", "sky_fingerprint": sky_fingerprint,
                              "model_fingerprint": model_fingerprint})
        added = store.add_frame(frame, source=source)
    return {"added": int(added), "already": len(ids) - len(new), "unknown": unknown}
