"""Assembling and writing ``results.parquet`` (the contract the explorer and evaluation read)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from core import schema
from core.workspace import read_parquet_meta, write_parquet

__all__ = ["assemble_results", "write_results", "read_results", "per_modality_columns"]


def per_modality_columns(modality: str) -> tuple[str, ...]:
    """The per-modality columns of results.parquet."""
    m = modality
    return (f"umap_x_{m}", f"umap_y_{m}", f"vote_{m}", f"vote_{m}_prob")


def assemble_results(ids, labels, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per object: the required columns first, then every per-modality and detail column.

    Missing per-modality columns are filled (NaN coordinates, null votes) so every results table
    has the same per-modality columns whatever the sky has.
    """
    n = len(ids)
    df = pd.DataFrame({"id": pd.array(np.asarray(ids).astype(str), dtype=object),
                       "label": pd.Series(labels, dtype=object).to_numpy()})
    cols = dict(columns)
    for m in schema.MODALITIES:
        cols.setdefault(f"umap_x_{m}", np.full(n, np.nan, dtype=np.float32))
        cols.setdefault(f"umap_y_{m}", np.full(n, np.nan, dtype=np.float32))
        cols.setdefault(f"vote_{m}", np.full(n, None, dtype=object))
        cols.setdefault(f"vote_{m}_prob", np.full(n, np.nan))
    order = [c for c in schema.RESULTS_REQUIRED if c not in ("id", "label")]
    for m in schema.MODALITIES:
        order += list(per_modality_columns(m))
    order += sorted(c for c in cols if c not in order)
    missing = [c for c in schema.RESULTS_REQUIRED if c not in ("id", "label") and c not in cols]
    if missing:
        raise ValueError(f"results lack required columns {missing}")
    for c in order:
        v = cols[c]
        if isinstance(v, np.ndarray) and v.dtype == object:
            df[c] = pd.Series(v, dtype=object).to_numpy()
        else:
            df[c] = v
    df["cluster"] = df["cluster"].astype("int64")
    return df


def write_results(df: pd.DataFrame, path: str | os.PathLike, meta: dict) -> Path:
    """Write results atomically with ``meta`` (fingerprints and parameters) in the parquet metadata."""
    return write_parquet(df, path, meta=meta)


def read_results(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """Read results.parquet and its metadata."""
    return pd.read_parquet(path), read_parquet_meta(path)
