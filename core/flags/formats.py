"""Flag exports: CSV, ECSV, VOTable and JSON, written atomically and read back losslessly.

CSV cells that a spreadsheet would run as formulas are exported with a leading ``'`` (removed on
reading); every other value is written verbatim. A new export format is one branch in
:func:`write_flags_file` and :func:`read_flags_file` and a suffix in :data:`EXPORT_FORMATS`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.flags.common import FlagStoreError, isnull as _isnull

__all__ = ["EXPORT_FORMATS", "write_flags_file", "read_flags_file", "infer_format", "with_sky_columns"]

#: Export formats and the file suffixes they are inferred from.
EXPORT_FORMATS = {"csv": (".csv",), "ecsv": (".ecsv",), "votable": (".xml", ".vot", ".votable"),
                  "json": (".json",)}
#: Suffixes of SQLite flag stores (read as another store, not as an export).
STORE_SUFFIXES = (".sqlite", ".db", ".sqlite3")
_SKY_COLUMNS = ["name", "ra", "dec", "label"]
# CSV cells starting with these are formulas in spreadsheets; they are exported with a leading "'".
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def infer_format(path, fmt: str | None) -> str:
    """``fmt`` checked, or the export format ``path``'s suffix names (:class:`FlagStoreError` if none)."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in EXPORT_FORMATS:
            raise FlagStoreError(f"format {fmt!r} is not supported; use one of {', '.join(EXPORT_FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    for name, suffixes in EXPORT_FORMATS.items():
        if suffix in suffixes:
            return name
    raise FlagStoreError(f"{path}: cannot tell the format from suffix {suffix!r}; use .csv, .ecsv, .xml (VOTable) "
                         "or .json, or give the format")


def with_sky_columns(df: pd.DataFrame, sky) -> pd.DataFrame:
    """``df`` with the sky's ``name``, ``ra``, ``dec`` and ``label`` columns (those it has) after ``id``."""
    df = df.copy()
    if sky is None:
        return df
    objects = sky.objects.set_index(sky.objects["id"].astype(str))
    front = []
    for col in _SKY_COLUMNS:
        if col in objects.columns:
            df[col] = objects[col].reindex(df["id"].astype(str)).to_numpy()
            front.append(col)
    rest = [c for c in df.columns if c not in front and c != "id"]
    return df[["id", *front, *rest]]


def _csv_escape(v):
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def _csv_unescape(v):
    if isinstance(v, str) and v.startswith("'") and len(v) > 1 and v[1] in _FORMULA_START:
        return v[1:]
    return v


_ESCAPED_CSV = ["note", "subclass", "user", "proposed_label", "name", "label"]


def write_flags_file(df: pd.DataFrame, path, fmt: str, meta: dict | None = None) -> Path:
    """Write a flags frame atomically in ``fmt`` (csv, ecsv, votable, json)."""
    from core.workspace import atomic_path

    path = Path(path)
    meta = meta or {}
    with atomic_path(path) as tmp:
        if fmt == "csv":
            out = df.copy()
            for c in _ESCAPED_CSV:
                if c in out.columns:
                    out[c] = out[c].map(_csv_escape)
            out.to_csv(tmp, index=False)
        elif fmt == "json":
            records = [{k: (None if _isnull(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
                       for r in df.to_dict("records")]
            tmp.write_text(json.dumps({"format": "astrom3-flags", **meta, "columns": list(df.columns),
                                       "flags": records}, indent=1,
                                      ensure_ascii=True))
        else:
            table = _to_astropy(df, meta)
            if fmt == "ecsv":
                table.write(tmp, format="ascii.ecsv")
            else:
                table.write(tmp, format="votable")
    return path


def _to_astropy(df: pd.DataFrame, meta: dict):
    from astropy.table import MaskedColumn, Table

    t = Table(meta={k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in meta.items()})
    for c in df.columns:
        values = df[c].tolist()
        mask = [_isnull(v) for v in values]
        if c in ("ra", "dec"):
            arr = np.array([np.nan if m else float(v) for v, m in zip(values, mask)])
            t[c] = MaskedColumn(arr, mask=mask, unit="deg")
        elif c == "session":
            t[c] = np.array([int(v) for v in values], dtype=np.int64)
        else:
            # "" never stands for a value (empty text is stored as null), so masked = empty is lossless
            arr = np.array(["" if m else str(v) for v, m in zip(values, mask)], dtype=str)
            if arr.dtype.itemsize == 0 or len(arr) == 0:
                arr = np.array([], dtype="U1") if len(arr) == 0 else arr
            t[c] = MaskedColumn(arr, mask=mask)
    return t


def read_flags_file(path, *, format: str | None = None) -> pd.DataFrame:
    """Read a flags export (csv, ecsv, votable, json) or another store into a frame like :meth:`FlagStore.current`."""
    path = Path(path)
    if not path.is_file():
        raise FlagStoreError(f"{path}: file not found")
    if format is None and path.suffix.lower() in STORE_SUFFIXES:
        from core.flags.store import FlagStore
        with FlagStore(path, readonly=True) as other:
            return other.current()
    fmt = infer_format(path, format)
    try:
        if fmt == "csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            for c in _ESCAPED_CSV:
                if c in df.columns:
                    df[c] = df[c].map(_csv_unescape)
        elif fmt == "json":
            doc = json.loads(path.read_text())
            if not isinstance(doc, dict) or "flags" not in doc:
                raise ValueError("no 'flags' list")
            df = pd.DataFrame(doc["flags"], columns=doc.get("columns"))
        else:
            from astropy.table import Table
            t = Table.read(path, format="ascii.ecsv" if fmt == "ecsv" else "votable")
            data = {}
            for c in t.colnames:
                col = t[c]
                mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)))
                vals = [None if (m or (isinstance(v, str) and v == "")) else v for v, m in
                        zip(np.asarray(col).tolist(), np.broadcast_to(mask, (len(col),)))]
                data[c] = [v.decode() if isinstance(v, bytes) else v for v in vals]
            df = pd.DataFrame(data)
    except FlagStoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise FlagStoreError(f"{path}: cannot read as a {fmt} flags export ({exc})") from None
    df = df.astype(object).where(df.notna(), None)
    if "ra" in df.columns:
        df["ra"] = pd.to_numeric(df["ra"])
    if "dec" in df.columns:
        df["dec"] = pd.to_numeric(df["dec"])
    if "session" in df.columns:
        df["session"] = [None if _isnull(v) else int(v) for v in df["session"]]
    return df
