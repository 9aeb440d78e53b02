"""The AstroM3 dataset in its published parquet form (Hugging Face ``AstroMLCore/AstroM3Dataset``).

One row per object: ``photometry`` (N x 3: time, flux, flux_err), ``spectra`` (M x 3: wavelength,
flux, flux_err), metadata (either a ``metadata`` struct holding ``meta_cols`` and ``photo_cols``
structs, or the same names as flat columns), ``label`` (a class name, or an integer index into
``label_names``) and an id column (``id``, ``name`` or ``source_id``; the row number otherwise).

The (N, 3) arrays may be nested lists (list of 3-lists), a flat list of length 3N (row-major), or
three parallel lists (3 x N). Objects with an empty photometry or spectrum have that modality
missing. SRC is a parquet file or a directory of them (e.g. train/val/test splits: a ``split``
column records which).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core import schema
from core.errors import AstroM3Error, SkyValidationError
from core.io._common import data_files, warn_dropped

ID_COLUMNS = ("id", "name", "source_id", "object_id")
BATCH = 512


def as_n3(value, path: Path, column: str, oid: str) -> np.ndarray:
    """An (N, 3) float array from nested lists, a flat 3N list or 3 parallel lists."""
    if value is None:
        return np.empty((0, 3))
    try:
        if len(value) and isinstance(value[0], (list, tuple, np.ndarray)):
            arr = np.asarray([np.asarray(v, dtype=np.float64) for v in value], dtype=np.float64)
        else:
            arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise SkyValidationError(path, f"not an (N, 3) numeric array ({exc})", column=column, ids=[oid]) from None
    if arr.ndim == 1:
        if arr.size % 3:
            raise SkyValidationError(path, f"flat list of length {arr.size} is not a multiple of 3",
                                     column=column, ids=[oid], expected="(N, 3) rows of time/flux/flux_err")
        arr = arr.reshape(-1, 3)
    elif arr.ndim == 2 and arr.shape[1] != 3 and arr.shape[0] == 3:
        arr = arr.T
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise SkyValidationError(path, f"shape {arr.shape}", column=column, ids=[oid], expected="(N, 3)")
    return arr


def _numeric_type(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def fast_n3(column: pa.ChunkedArray) -> list[np.ndarray] | None:
    """Vectorised (N, 3) arrays for a whole batch, or None when the layout needs the careful path.

    Handles ``list<list<number>[3]>`` (nested) and ``list<number>`` (flat 3N) without building
    Python lists.
    """
    arr = column.combine_chunks()
    t = arr.type
    if not _is_list(t) or pa.types.is_fixed_size_list(t) or arr.null_count:
        return None
    off = np.asarray(arr.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    off = off - off[0]
    inner = arr.flatten()
    if _is_list(t.value_type) and _numeric_type(t.value_type.value_type):
        if inner.null_count or (len(inner) and not np.all(
                np.asarray(pc.list_value_length(inner).to_numpy(zero_copy_only=False)) == 3)):
            return None
        vals = np.asarray(inner.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        return [vals[3 * a:3 * b].reshape(-1, 3) for a, b in zip(off[:-1], off[1:])]
    if _numeric_type(t.value_type):
        if inner.null_count or np.any((off[1:] - off[:-1]) % 3):
            return None
        vals = np.asarray(inner.to_numpy(zero_copy_only=False), dtype=np.float64)
        return [vals[a:b].reshape(-1, 3) for a, b in zip(off[:-1], off[1:])]
    return None


def _clean(arr: np.ndarray) -> tuple[np.ndarray, int]:
    ok = np.isfinite(arr).all(axis=1) & (arr[:, 2] >= 0)
    arr = arr[ok]
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    return arr, int((~ok).sum())


def _flatten_metadata(table: pa.Table) -> pd.DataFrame:
    """Metadata columns as a flat DataFrame (from a nested ``metadata`` struct or flat columns)."""
    wanted = (*schema.METADATA_COLUMNS, *schema.PHOTO_COLUMNS)
    out = {}
    if "metadata" in table.column_names:
        meta = table.column("metadata").to_pylist()
        for group in ("meta_cols", "photo_cols", None):
            for row_i, m in enumerate(meta):
                src = (m or {}).get(group) if group else (m or {})
                if not isinstance(src, dict):
                    continue
                for k, v in src.items():
                    if k in wanted and not isinstance(v, dict):
                        out.setdefault(k, [np.nan] * len(meta))[row_i] = np.nan if v is None else float(v)
    for k in wanted:
        if k in table.column_names:
            out[k] = pd.to_numeric(pd.Series(table.column(k).to_pylist()), errors="coerce").to_numpy(float)
    return pd.DataFrame({k: out[k] for k in wanted if k in out})


def _open(f: Path) -> tuple[pq.ParquetFile, str | None]:
    """The parquet file and its id column (None: ids from row numbers); checks the required columns."""
    try:
        pf = pq.ParquetFile(f)
    except Exception as exc:
        raise SkyValidationError(f, f"cannot be read as parquet ({type(exc).__name__}: {exc})") from None
    names = pf.schema_arrow.names
    for col in ("photometry", "spectra", "label"):
        if col not in names:
            raise SkyValidationError(f, "missing required column", column=col,
                                     expected="columns photometry, spectra, label, metadata and an id")
    return pf, next((c for c in ID_COLUMNS if c in names), None)


def _batch_ids(table: pa.Table, f: Path, id_col: str | None, split: str | None, row0: int) -> list[str]:
    if not id_col:
        return [f"{split + ':' if split else ''}{row0 + i}" for i in range(len(table))]
    values = table.column(id_col).to_pylist()
    if any(v is None for v in values):
        rows = [row0 + i for i, v in enumerate(values) if v is None]
        raise SkyValidationError(f, "null id", column=id_col, rows=rows)
    return [str(v) for v in values]


def _batch_labels(table: pa.Table, f: Path, ids: list[str], label_names) -> list:
    """Labels as class names (integer labels looked up in ``label_names``)."""
    labels = []
    for i, lab in enumerate(table.column("label").to_pylist()):
        if lab is None or isinstance(lab, str):
            labels.append(lab)
        elif label_names is None:
            raise SkyValidationError(f, "integer labels need class names", column="label", ids=[ids[i]],
                                     expected="string labels, or label_names (--label-names EW,SR,...)")
        elif not 0 <= int(lab) < len(label_names):
            raise SkyValidationError(f, f"label index {lab} out of range", column="label", ids=[ids[i]],
                                     expected=f"0..{len(label_names) - 1}")
        else:
            labels.append(label_names[int(lab)])
    return labels


def _batch_arrays(table: pa.Table, f: Path, ids: list[str], id_col: str | None, seen: dict):
    """Cleaned (N, 3) light curves and spectra of a batch: ``(lc_rows, sp_rows, n_dropped)``.

    ``lc_rows``/``sp_rows`` are ``(id, array)`` for non-empty ones; ``seen`` (id -> file name)
    catches ids repeated across batches and files.
    """
    arrays = {}
    for col in ("photometry", "spectra"):
        fast = fast_n3(table.column(col))
        arrays[col] = fast if fast is not None else [
            as_n3(v, f, col, ids[i]) for i, v in enumerate(table.column(col).to_pylist())]
    lc_rows, sp_rows, n_dropped = [], [], 0
    for i, (ph, sp) in enumerate(zip(arrays["photometry"], arrays["spectra"])):
        oid = ids[i]
        if oid in seen:
            raise SkyValidationError(f, "duplicate ids", column=id_col or "row", ids=[oid],
                                     expected=f"unique ids (first in {seen[oid]})")
        seen[oid] = f.name
        for raw, rows in ((ph, lc_rows), (sp, sp_rows)):
            arr, d = _clean(raw)
            n_dropped += d
            if len(arr):
                rows.append((oid, arr))
    return lc_rows, sp_rows, n_dropped


def _write_rows(writer, lc_rows: list, sp_rows: list) -> None:
    for rows, method, x in ((lc_rows, writer.write_lightcurves, "time"), (sp_rows, writer.write_spectra, "wavelength")):
        if rows:
            method(pd.DataFrame({"id": [o for o, _ in rows], x: [a[:, 0] for _, a in rows],
                                 "flux": [a[:, 1] for _, a in rows], "flux_err": [a[:, 2] for _, a in rows]}))


def read(src: Path, writer, *, label_names=None) -> None:
    """Read AstroM3 parquet file(s) into ``writer``.

    Parameters
    ----------
    label_names : sequence of str, optional
        Class names for integer labels (index -> name). Required when labels are integers.
    """
    files = data_files(Path(src), ("*.parquet", "**/*.parquet"), "AstroM3 parquet")
    if isinstance(label_names, str):
        label_names = [s.strip() for s in label_names.split(",")]
    objects, seen, n_dropped = [], {}, 0
    for f in files:
        pf, id_col = _open(f)
        split = f.stem if len(files) > 1 else None
        row0 = 0
        for batch in pf.iter_batches(batch_size=BATCH):
            table = pa.Table.from_batches([batch])
            ids = _batch_ids(table, f, id_col, split, row0)
            labels = _batch_labels(table, f, ids, label_names)
            meta = _flatten_metadata(table)
            meta.insert(0, "label", labels)
            meta.insert(0, "id", ids)
            if split:
                meta["split"] = split
            lc_rows, sp_rows, dropped = _batch_arrays(table, f, ids, id_col, seen)
            n_dropped += dropped
            objects.append(meta)
            _write_rows(writer, lc_rows, sp_rows)
            row0 += len(table)
    if not objects:
        raise AstroM3Error(f"{src}: no rows")
    warn_dropped("non-finite or negative-error points", n_dropped, len(files))
    writer.write_objects(pd.concat(objects, ignore_index=True))
