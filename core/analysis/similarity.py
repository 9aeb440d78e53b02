"""Similarity search within a modality or across modalities, backed by a saved exact index.

The index is a folder ``WS/neighbors/`` holding one L2-normalised float32 matrix per space
(``photometry.npy``, ``spectra.npy``, ``metadata.npy``, ``fused.npy``; zero rows where the
object lacks it) and ``index.parquet`` (``id``, ``label`` and a ``has_<space>`` flag per space).
Search is exact cosine (:func:`top_k`): one float32 matrix-vector product over the memory-mapped
matrix on one BLAS thread, then the top ``k`` picked from the few rows above a threshold read off
a strided sample instead of a partition of all ``n`` similarities. Always the true neighbours, with
no build step; at 1M x 64 ``similar`` answers in ~20-30 ms (p95) on two shared cores, where an
HNSW index would take minutes to build and ~500 MB more for recall 0.99
(benchmarks/results/knn.md, beside faiss and pynndescent).
Because the model aligns the modalities, a spectrum vector can be searched against the light-curve
vectors: ``similar(ws, id, modality="spectra", target="photometry")``.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from core.analysis.embeddings import SPACES, EmbeddingSet
from core.errors import AstroM3Error, WorkspaceError
from core.workspace import Workspace, atomic_path, write_parquet

__all__ = ["INDEX_DIR", "build_index", "similar", "top_k"]

INDEX_DIR = "neighbors"

_CACHE: dict[tuple, tuple] = {}

#: BLAS threads for one query's matrix-vector product. The product is memory-bound, so a second
#: thread gains little (benchmarks/results/knn.md, 1M rows: p95 20 ms on 1 thread, 26 ms on 2), and
#: on cores busy with other jobs waiting for it to be scheduled can cost far more than the product
#: (ad-hoc runs at load 3-9 on 2 cores, 20k rows: ~8-12 ms a query on 2 threads, ~0.4 ms on 1).
QUERY_THREADS = 1
_BLAS = {"lock": threading.Lock(), "controller": None}


def build_index(workspace: Workspace | str | os.PathLike, emb: EmbeddingSet, labels) -> Path:
    """Write the similarity index of ``emb`` under ``WS/neighbors/``; returns the folder."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    folder = ws.artifact(INDEX_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    index = pd.DataFrame({"id": emb.ids.astype(str), "label": pd.Series(labels, dtype=object).to_numpy()})
    for s in emb.spaces:
        index[f"has_{s}"] = emb.present[s]
        with atomic_path(folder / f"{s}.npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, emb.vectors[s].astype(np.float32))
    write_parquet(index, folder / "index.parquet", meta=emb.fingerprint)
    _CACHE.clear()
    return folder


def _load(folder: Path):
    key_file = folder / "index.parquet"
    if not key_file.exists():
        raise WorkspaceError(f"{folder}: no similarity index; run `astrom3 analyze SKY --workspace WS` first")
    key = (str(folder), key_file.stat().st_mtime_ns)
    if key not in _CACHE:
        index = pd.read_parquet(key_file)
        _CACHE.clear()
        _CACHE[key] = (index, pd.Index(index["id"].astype(str)), {})
    return _CACHE[key]


def _matrix(folder: Path, cache: dict, space: str) -> np.ndarray:
    if space not in cache:
        path = folder / f"{space}.npy"
        if not path.exists():
            raise AstroM3Error(f"{folder}: this workspace has no '{space}' embeddings")
        cache[space] = np.load(path, mmap_mode="r")
    return cache[space]


def similar(workspace, object_id: str, k: int = 10, *, modality: str = "fused",
            target: str | None = None) -> pd.DataFrame:
    """The ``k`` objects most similar to ``object_id``.

    Parameters
    ----------
    workspace : Workspace or path
        A workspace where :func:`core.analysis.analyze` has run.
    object_id : str
    k : int
        Number of neighbours.
    modality : {"fused", "photometry", "spectra", "metadata"}
        Which of the object's embeddings is the query.
    target : str, optional
        Which space to search (defaults to ``modality``). Searching another modality is a
        cross-modal query (e.g. query with a spectrum, get light curves); the object itself is
        then kept (its own light curve should rank first), while a same-space search leaves it out.

    Returns
    -------
    pandas.DataFrame
        ``rank`` (1 = most similar), ``id``, ``label``, ``similarity`` (cosine), ``distance``
        (``1 - similarity``).

    Examples
    --------
    >>> similar("demo/ws", "obj0", k=5)                       # doctest: +SKIP
    >>> similar("demo/ws", "obj0", modality="spectra", target="photometry")  # doctest: +SKIP
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    target = target or modality
    for name, value in (("modality", modality), ("target", target)):
        if value not in SPACES:
            raise AstroM3Error(f"{name} {value!r} is not one of {list(SPACES)}")
    folder = ws.artifact(INDEX_DIR)
    index, ids, cache = _load(folder)
    row = ids.get_indexer([str(object_id)])[0]      # (the hash table is built once, then cached)
    if row < 0:
        raise AstroM3Error(f"object id {object_id!r} is not in {folder / 'index.parquet'}")
    if f"has_{modality}" not in index or not bool(index[f"has_{modality}"].iat[row]):
        raise AstroM3Error(f"object {object_id!r} has no {modality} embedding; try modality='fused'")
    if f"has_{target}" not in index:
        raise AstroM3Error(f"this workspace has no '{target}' embeddings")
    q = _matrix(folder, cache, modality)[row]
    if ("missing", target) not in cache:
        cache[("missing", target)] = np.flatnonzero(~index[f"has_{target}"].to_numpy(dtype=bool))
    top, sims = top_k(_matrix(folder, cache, target), q, k, exclude=cache[("missing", target)],
                      exclude_row=row if target == modality else None)
    return pd.DataFrame({          # .iloc first: to_numpy() of a whole arrow string column costs ms at 100k
        "rank": np.arange(1, len(top) + 1),
        "id": index["id"].iloc[top].to_numpy().astype(str),
        "label": index["label"].iloc[top].to_numpy(dtype=object),
        "similarity": sims.astype(float),
        "distance": 1.0 - sims.astype(float),
    })


def _matvec(matrix: np.ndarray, q: np.ndarray, threads: int | None) -> np.ndarray:
    """``matrix @ q`` with BLAS limited to ``threads`` for the call (None: as BLAS is set)."""
    if threads is None:
        return matrix @ q
    with _BLAS["lock"]:     # the limit is process-wide: one limited product at a time
        if _BLAS["controller"] is None:
            from threadpoolctl import ThreadpoolController

            _BLAS["controller"] = ThreadpoolController()
        with _BLAS["controller"].limit(limits=int(threads), user_api="blas"):
            return matrix @ q


def _select(s: np.ndarray, k: int, sample: int) -> np.ndarray:
    """Rows of the ``k`` largest finite ``s`` (fewer if fewer are finite), by value then row."""
    n = len(s)
    cand = None
    if 0 < k < sample and n > 4 * sample:
        # The k-th largest of any subset is <= the k-th largest of all, so every true top-k row
        # is >= it: an exact filter that keeps ~k * n / sample rows.
        sub = s[:: n // sample]
        thr = np.partition(sub, len(sub) - k)[len(sub) - k]
        if np.isfinite(thr):
            cand = np.flatnonzero(s >= thr)
    if cand is None:
        cand = np.flatnonzero(np.isfinite(s))
    k = min(k, len(cand))
    if k == 0:
        return cand[:0]
    vals = s[cand]
    if len(cand) > k:
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]
        keep = vals >= kth                                  # keeps ties at the boundary
        cand, vals = cand[keep], vals[keep]
    return cand[np.lexsort((cand, -vals))][:k]


def top_k(matrix: np.ndarray, query: np.ndarray, k: int, *, exclude: np.ndarray | None = None,
          exclude_row: int | None = None, sample: int = 16384,
          blas_threads: int | None = QUERY_THREADS) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` rows of ``matrix`` most similar (dot product) to ``query``.

    Parameters
    ----------
    matrix : (n, d) float32 array
        Rows to search (L2-normalised for cosine; may be a read-only memory map). Used as it is,
        without a copy, when it is C-contiguous float32.
    query : (d,) array
        The query vector (cast to float32).
    k : int
        Neighbours wanted; fewer come back when fewer rows are left.
    exclude : int array, optional
        Rows never returned (e.g. objects without this embedding).
    exclude_row : int, optional
        One more row never returned (the query object itself).
    sample : int
        Size of the strided sample whose k-th largest value is the exact pre-filter threshold
        (affects speed only, never the answer).
    blas_threads : int or None
        BLAS threads for the product (:data:`QUERY_THREADS`); None leaves BLAS as it is set.

    Returns
    -------
    idx : (m,) int64 array
        Rows, most similar first; ties broken by the lower row. ``m = min(k, rows left)``.
    sim : (m,) float32 array
        Their dot products with ``query``.

    Examples
    --------
    >>> x = np.eye(3, dtype=np.float32)
    >>> top_k(x, x[1], 2, exclude_row=1)[0].tolist()
    [0, 2]
    """
    matrix = np.asarray(matrix)
    if matrix.dtype != np.float32 or not matrix.flags.c_contiguous:
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    s = _matvec(matrix, np.asarray(query, dtype=np.float32), blas_threads)
    if exclude is not None and len(exclude):
        s[exclude] = -np.inf
    if exclude_row is not None:
        s[exclude_row] = -np.inf
    idx = _select(s, int(max(0, k)), max(1, int(sample))).astype(np.int64)
    return idx, s[idx]
