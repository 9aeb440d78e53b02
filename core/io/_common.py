"""Pieces shared by the readers: catalogue CSVs, id matching, the objects table."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from core import schema
from core.errors import AstroM3Error, SkyValidationError

#: Catalogue column aliases (lower-cased) -> sky column.
ALIASES = {
    "label": ("label", "variable_type", "var_type", "type", "class", "vartype"),
    "ra": ("ra", "raj2000", "ra_deg", "radeg"),
    "dec": ("dec", "dej2000", "decj2000", "dec_deg", "decdeg"),
    "period": ("period", "per", "period_d"),
    "amplitude": ("amplitude", "amp"),
}


class ImportWarning_(UserWarning):
    """Something in the input was dropped or repaired during an import."""


def read_catalogue(path: str | Path, *, key_columns=("id", "name", "asassn_name", "source_id", "obsid",
                                                     "file", "filename", "masterid")) -> pd.DataFrame:
    """Read a catalogue CSV into an objects table (``id``, ``label``, numeric columns, text columns).

    The id is the first of ``id``/``name``/... present; every key column is kept as text so
    data files can be matched on any of them.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=True)
    except Exception as exc:
        raise SkyValidationError(path, f"cannot be read as CSV ({type(exc).__name__}: {exc})",
                                 expected="a catalogue CSV with a header row") from None
    raw.columns = [re.sub(r"[\s()]+", "_", c.strip().lower()).strip("_") for c in raw.columns]
    keys = [c for c in key_columns if c in raw.columns]
    if not keys:
        raise SkyValidationError(path, "missing required column", column="id",
                                 expected=f"one of the columns {list(key_columns)}")
    out = pd.DataFrame({"id": raw[keys[0]].str.strip()})
    bad = out["id"].isna() | (out["id"] == "")
    if bad.any():
        raise SkyValidationError(path, "empty id", column=keys[0], rows=np.flatnonzero(bad),
                                 expected="every catalogue row to have an id")
    dup = out.loc[out["id"].duplicated(), "id"]
    if len(dup):
        raise SkyValidationError(path, "duplicate ids", column=keys[0], ids=dup.unique(), expected="unique ids")
    for col in keys:
        if col != "id":
            out[col] = raw[col].str.strip()
    used = set(keys)
    for target, names in ALIASES.items():
        col = next((c for c in names if c in raw.columns), None)
        if col is None:
            continue
        used.add(col)
        if target == "label":
            out["label"] = raw[col].str.strip().where(raw[col].notna(), None)
        else:
            out[target] = _numeric(raw[col], path, col, out["id"])
    if "label" not in out:
        out["label"] = None
    for col in raw.columns:
        if col in used:
            continue
        if col in schema.OBJECTS_TEXT_COLUMNS:
            out[col] = raw[col]
            continue
        num = pd.to_numeric(raw[col], errors="coerce")
        if (num.notna() | raw[col].isna()).all():
            out[col] = num.astype(float)
        elif col in (*schema.METADATA_COLUMNS, *schema.PHOTO_COLUMNS):
            _numeric(raw[col], path, col, out["id"])  # raises, naming ids
        else:
            out[col] = raw[col]
    out.attrs["keys"] = keys
    return out


def _numeric(col: pd.Series, path: Path, name: str, ids: pd.Series) -> pd.Series:
    num = pd.to_numeric(col, errors="coerce")
    bad = num.isna() & col.notna() & (col.str.strip() != "")
    if bad.any():
        raise SkyValidationError(path, "not a number", column=name, ids=ids[bad], expected="numbers")
    return num.astype(float)


def match_ids(keys: list[str], catalogue: pd.DataFrame | None, *, source: str,
              keep_unmatched: bool = False) -> dict[str, str | None]:
    """Map data-file keys (file stems, obsids, MasterIDs) to catalogue ids.

    Keys not in the catalogue raise :class:`AstroM3Error` naming them, unless ``keep_unmatched``
    (they then become their own, unlabelled ids). Without a catalogue every key is its own id.
    """
    if catalogue is None:
        return {k: k for k in keys}
    lookup: dict[str, str] = {}
    for col in reversed(catalogue.attrs.get("keys", ["id"])):
        for cid, val in zip(catalogue["id"], catalogue[col]):
            if isinstance(val, str):
                lookup[val.strip()] = cid
                lookup[val.strip().lower()] = cid
    out, missing = {}, []
    for k in keys:
        cid = lookup.get(k, lookup.get(k.lower()))
        if cid is None:
            missing.append(k)
            if keep_unmatched:
                out[k] = k
        else:
            out[k] = cid
    if missing and not keep_unmatched:
        raise SkyValidationError(source, "data without a catalogue row", column="id", ids=missing,
                                 expected="a catalogue row (id or name) for every data file, or "
                                          "--keep-unmatched to keep them unlabelled")
    return out


def objects_table(catalogue: pd.DataFrame | None, ids_with_data, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """The objects table: catalogue rows, plus unlabelled rows for data ids not in it, plus ``extra`` columns."""
    ids_with_data = list(dict.fromkeys(ids_with_data))
    if catalogue is None:
        objects = pd.DataFrame({"id": ids_with_data, "label": [None] * len(ids_with_data)})
    else:
        objects = catalogue.copy()
        new = [i for i in ids_with_data if i not in set(objects["id"])]
        if new:
            objects = pd.concat([objects, pd.DataFrame({"id": new, "label": [None] * len(new)})],
                                ignore_index=True)
    if extra is not None and len(extra):
        extra = extra.drop_duplicates("id").set_index("id")
        objects = objects.set_index("id")
        for col in extra.columns:
            if col in objects.columns:
                objects[col] = objects[col].where(objects[col].notna(), extra[col].reindex(objects.index))
            else:
                objects[col] = extra[col].reindex(objects.index)
        objects = objects.reset_index()
    objects.attrs = {}
    return objects


def warn_dropped(what: str, count: int, files: int) -> None:
    """Warn once about points dropped during an import."""
    if count:
        warnings.warn(ImportWarning_(f"dropped {count} {what} in {files} file(s)"), stacklevel=3)


def data_files(src: Path, patterns: tuple[str, ...], what: str) -> list[Path]:
    """Data files under ``src`` (a directory, or a single file) matching ``patterns``, sorted."""
    if src.is_file():
        return [src]
    files = sorted({p for pat in patterns for p in src.glob(pat) if p.is_file()})
    if not files:
        raise AstroM3Error(f"{src}: no {what} files ({', '.join(patterns)}) found")
    return files
