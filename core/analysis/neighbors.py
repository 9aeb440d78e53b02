"""Exact cosine k-nearest neighbours of many queries at once by blocked matrix products.

This is the analyze step's all-rows kNN: n x n x d work, so it is quadratic in the sky's size. One
query against a workspace's saved index goes through :func:`core.analysis.similarity.top_k`
instead (single-query latency up to 1M rows: benchmarks/results/knn.md).
"""
from __future__ import annotations

import numpy as np

__all__ = ["knn"]


def knn(x: np.ndarray, k: int, *, queries: np.ndarray | None = None, exclude_self: bool = True,
        block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar rows of ``x`` for each query row.

    Parameters
    ----------
    x : (n, d) array
        L2-normalised rows to search.
    k : int
        Neighbours per query (clipped to what exists).
    queries : (m, d) array, optional
        Query rows; defaults to ``x`` itself.
    exclude_self : bool
        When querying ``x`` with itself, drop each row from its own neighbours.

    Returns
    -------
    idx : (m, k) int array
        Row indices into ``x``, most similar first.
    sim : (m, k) float32 array
        Cosine similarities.
    """
    x = np.asarray(x, dtype=np.float32)
    self_query = queries is None
    q = x if self_query else np.asarray(queries, dtype=np.float32)
    n = len(x)
    k = int(max(0, min(k, n - (1 if self_query and exclude_self else 0))))
    idx = np.zeros((len(q), k), dtype=np.int64)
    sim = np.zeros((len(q), k), dtype=np.float32)
    if k == 0:
        return idx, sim
    for start in range(0, len(q), block):
        s = q[start:start + block] @ x.T
        if self_query and exclude_self:
            rows = np.arange(len(s))
            s[rows, start + rows] = -np.inf
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1, kind="stable")
        idx[start:start + block] = np.take_along_axis(part, order, axis=1)
        sim[start:start + block] = np.take_along_axis(ps, order, axis=1)
    return idx, sim
