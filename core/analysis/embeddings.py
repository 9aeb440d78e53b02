"""Loading ``embeddings.parquet`` into dense, row-normalised matrices aligned with a sky.

The file holds ``id`` plus one ``list<float32>`` column per modality and a fused vector, null
where an object lacks that modality (see :data:`core.schema.EMBEDDING_COLUMNS`). Analysis code
works on :class:`EmbeddingSet`: one ``(n, d)`` float32 matrix per modality (zero rows where
missing) and a boolean ``present`` mask, in the sky's object order.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core import schema
from core.errors import WorkspaceError
from core.workspace import read_parquet_meta

__all__ = ["EmbeddingSet", "load_embeddings", "normalise_rows", "SPACES"]

#: The embedding spaces analysis uses: the three modalities and the fused vector.
SPACES: tuple[str, ...] = (*schema.MODALITIES, schema.FUSED)


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise each row (rows of zeros stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


@dataclass
class EmbeddingSet:
    """Per-space embedding matrices of one sky, in the sky's object order.

    Attributes
    ----------
    ids : numpy.ndarray
        Object ids (str), in sky order.
    vectors : dict
        ``space -> (n, d)`` float32, L2-normalised rows, zero rows where the object lacks it.
    present : dict
        ``space -> (n,)`` bool, True where the object has that embedding.
    meta : dict
        The parquet metadata (``model_fingerprint``, ``sky_fingerprint``, ``dim``).
    """

    ids: np.ndarray
    vectors: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def spaces(self) -> list[str]:
        """Spaces that at least one object has (modalities first, then ``fused``)."""
        return [s for s in SPACES if s in self.present and self.present[s].any()]

    @property
    def modalities(self) -> list[str]:
        """Modalities (not ``fused``) that at least one object has."""
        return [s for s in self.spaces if s != schema.FUSED]

    @property
    def fingerprint(self) -> dict:
        """What identifies these embeddings (for the manifest)."""
        return {k: self.meta.get(k) for k in ("model_fingerprint", "sky_fingerprint", "dim")}


def _list_column_to_matrix(col: pa.ChunkedArray, path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    arr = col.combine_chunks()
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
    lengths = np.where(valid, np.nan_to_num(lengths.astype(float), nan=0), 0).astype(int)
    dims = np.unique(lengths[valid])
    if len(dims) > 1:
        raise WorkspaceError(f"{path}: column '{name}' has vectors of lengths {dims.tolist()}; "
                             "expected one dimension; rerun `astrom3 embed`")
    d = int(dims[0]) if len(dims) else 0
    out = np.zeros((len(arr), d), dtype=np.float32)
    if d:
        flat = np.asarray(arr.filter(arr.is_valid()).flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
        out[valid] = flat.reshape(-1, d)
    finite = np.isfinite(out).all(axis=1)
    valid &= finite
    out[~finite] = 0
    return normalise_rows(out), valid


def load_embeddings(path: str | os.PathLike, ids=None) -> EmbeddingSet:
    """Read ``embeddings.parquet`` into an :class:`EmbeddingSet`.

    Parameters
    ----------
    path : path-like
        The embeddings file.
    ids : sequence of str, optional
        Order the rows like these ids (the sky's); ids absent from the file get no embedding.

    Raises
    ------
    WorkspaceError
        If the file is missing or has no ``id`` / embedding columns.
    """
    path = Path(path)
    if not path.exists():
        raise WorkspaceError(f"{path}: embeddings not found; run `astrom3 embed SKY --workspace WS` first")
    table = pq.read_table(path)
    if "id" not in table.column_names:
        raise WorkspaceError(f"{path}: no 'id' column; rerun `astrom3 embed`")
    file_ids = np.asarray(table.column("id").to_pylist(), dtype=object).astype(str)
    vectors, present = {}, {}
    for space in SPACES:
        name = schema.EMBEDDING_COLUMNS[space]
        if name in table.column_names:
            vectors[space], present[space] = _list_column_to_matrix(table.column(name), path, name)
    if not vectors:
        raise WorkspaceError(f"{path}: no embedding columns (expected {list(schema.EMBEDDING_COLUMNS.values())})")
    if schema.FUSED not in vectors or not present[schema.FUSED].any():
        vectors[schema.FUSED], present[schema.FUSED] = fuse(vectors, present)
    if ids is not None:
        ids = np.asarray(pd.Index(ids).astype(str))
        pos = pd.Index(file_ids).get_indexer(ids)
        have = pos >= 0
        for s in list(vectors):
            v = np.zeros((len(ids), vectors[s].shape[1]), dtype=np.float32)
            p = np.zeros(len(ids), dtype=bool)
            v[have] = vectors[s][pos[have]]
            p[have] = present[s][pos[have]]
            vectors[s], present[s] = v, p
        file_ids = ids
    return EmbeddingSet(ids=file_ids, vectors=vectors, present=present, meta=read_parquet_meta(path))


def fuse(vectors: dict[str, np.ndarray], present: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the available normalised modality vectors, renormalised (the fused embedding)."""
    mods = [m for m in schema.MODALITIES if m in vectors]
    total = sum(vectors[m] * present[m][:, None] for m in mods)
    has = np.zeros(len(next(iter(vectors.values()))), dtype=bool)
    for m in mods:
        has |= present[m]
    return normalise_rows(total), has
