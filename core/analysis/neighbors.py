"""Cosine k-nearest neighbours of every row of a sky at once: exact up to a size, approximate above.

This is the analyze step's all-rows kNN. Up to :data:`EXACT_MAX_ROWS` rows it is exact, by blocked
matrix products (``n x n x d`` work, quadratic in the sky's size); each block holds at most
:data:`BLOCK_BYTES` of similarities and partition indices (:func:`exact_block_rows`), so the
memory stays bounded at any ``n``. Above that it builds a seeded pynndescent ``NNDescent`` graph
(:func:`approximate_knn`; ``n log n``-like work) and re-ranks each row's candidates by their exact
cosine. :func:`knn_report` also says which method ran and, for the approximate one, the recall
measured on a sample of rows checked exactly; ``analyze`` records that in the results metadata.
The threshold and the graph's parameters come from benchmarks/bench_knn_batch.py
(benchmarks/results/knn_batch.md). One query against a workspace's saved index goes through
:func:`core.analysis.similarity.top_k` instead (benchmarks/results/knn.md).
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["knn", "knn_report", "knn_method", "exact_block_rows", "approximate_knn", "estimate_recall",
           "EXACT_MAX_ROWS", "BLOCK_BYTES"]

#: Largest self-query run exactly; above it the graph of :func:`approximate_knn`. From knn_batch.md:
#: up to here an analyze's five exact calls cost no more than approximate ones plus a cold numba JIT
#: (at 20k: 5 x 9.4 s exact vs 5 x 1.6 s + 46 s); the 20k demo sky stays exact.
EXACT_MAX_ROWS = 20_000
#: Working memory of one exact block: its float32 similarities plus argpartition's int64 indices.
BLOCK_BYTES = 256 * 2**20
#: Bytes per (query, row) pair of an exact block: 4 (float32 similarity) + 8 (int64 partition index).
ENTRY_BYTES = 12
#: Rows per exact block when memory allows (as before the bound; blocks of 37-1864 rows gave the same
#: answer bit for bit on 700-30,000 rows, a 1-row block did not: BLAS takes its matrix-vector path).
MAX_BLOCK_ROWS = 2048
#: Fewest rows per exact block.
MIN_BLOCK_ROWS = 16
#: Candidates per row in the approximate graph (pynndescent's default), re-ranked to the best ``k``.
APPROX_NEIGHBORS = 30
#: Threads of the graph build: its result depends on the thread count, so it is fixed (knn_batch.md).
APPROX_JOBS = 1
#: Rows checked exactly to estimate the approximate method's recall.
RECALL_SAMPLE = 200


def exact_block_rows(n: int, *, budget_bytes: int = BLOCK_BYTES, entry_bytes: int = ENTRY_BYTES,
                     max_rows: int = MAX_BLOCK_ROWS, min_rows: int = MIN_BLOCK_ROWS) -> int:
    """Query rows per exact block so that a block's working set stays within ``budget_bytes``.

    Parameters
    ----------
    n : int
        Rows searched (the width of a block's similarity matrix).
    budget_bytes, entry_bytes : int
        Memory allowed for one block, and bytes it needs per (query, row) pair.
    max_rows, min_rows : int
        Bounds on the answer (``min_rows`` wins over the budget at very large ``n``).

    Returns
    -------
    int
        ``clip(budget_bytes // (entry_bytes * n), min_rows, max_rows)``.
    """
    rows = budget_bytes // max(1, entry_bytes * int(n))
    return int(max(min_rows, min(max_rows, rows)))


def knn_method(n: int, *, self_query: bool = True, threshold: int | None = None) -> str:
    """``"exact"`` or ``"approximate"``: the method :func:`knn` uses for ``n`` rows.

    Only a self-query (every row against all rows) of more than ``threshold`` rows (default
    :data:`EXACT_MAX_ROWS`) is approximate; explicit queries are always exact (``m x n`` work).
    """
    limit = EXACT_MAX_ROWS if threshold is None else int(threshold)
    return "approximate" if self_query and n > limit else "exact"


def _exact(x: np.ndarray, q: np.ndarray, k: int, self_rows: np.ndarray | None,
           block: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` of ``x`` for the rows of ``q``; ``self_rows[i]`` (if given) is left out for row i."""
    idx = np.zeros((len(q), k), dtype=np.int64)
    sim = np.zeros((len(q), k), dtype=np.float32)
    for start in range(0, len(q), block):
        own = None if self_rows is None else self_rows[start:start + block]
        idx[start:start + block], sim[start:start + block] = _exact_block(x, q[start:start + block], k, own)
    return idx, sim


def _exact_block(x: np.ndarray, qb: np.ndarray, k: int,
                 own: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One block of :func:`_exact`; its ``len(qb) x n`` temporaries are freed on return."""
    s = qb @ x.T
    if own is not None:
        s[np.arange(len(s)), own] = -np.inf
    np.negative(s, out=s)                          # in place: no second block-sized copy
    part = np.argpartition(s, k - 1, axis=1)[:, :k].copy()
    ps = -np.take_along_axis(s, part, axis=1)
    order = np.argsort(-ps, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(ps, order, axis=1)


def _graph(x: np.ndarray, n_neighbors: int, seed: int, n_jobs: int) -> np.ndarray:
    """pynndescent's ``(n, n_neighbors)`` neighbour graph of ``x`` (indices; -1 where none was found).

    Euclidean on unit vectors orders neighbours exactly as cosine does, and it is the metric UMAP
    builds its own graph with, so inside ``analyze`` its numba code is already compiled.
    numba's thread count, which ``NNDescent`` sets process-wide, is put back afterwards.
    """
    import numba
    from pynndescent import NNDescent

    threads = numba.get_num_threads()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(numba|pynndescent)(\..*)?$")
            index = NNDescent(x, metric="euclidean", n_neighbors=n_neighbors, random_state=seed,
                              n_jobs=n_jobs, low_memory=True, verbose=False)
            return np.asarray(index.neighbor_graph[0])
    finally:
        numba.set_num_threads(threads)


def _rank_candidates(x: np.ndarray, cand: np.ndarray, k: int, exclude_self: bool,
                     budget_bytes: int = BLOCK_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` most cosine-similar candidates, by their exact similarity (-inf = missing)."""
    n, c = cand.shape
    idx = np.zeros((n, k), dtype=np.int64)
    sim = np.zeros((n, k), dtype=np.float32)
    rows = max(1, budget_bytes // max(1, 4 * c * x.shape[1]))
    for start in range(0, n, rows):
        cb = cand[start:start + rows].astype(np.int64)
        s = np.einsum("id,ijd->ij", x[start:start + rows], x[np.maximum(cb, 0)])
        bad = cb < 0
        if exclude_self:
            bad |= cb == np.arange(start, start + len(cb))[:, None]
        s[bad] = -np.inf
        order = np.argsort(-s, axis=1, kind="stable")[:, :k]
        idx[start:start + rows] = np.take_along_axis(cb, order, axis=1)
        sim[start:start + rows] = np.take_along_axis(s, order, axis=1)
    return idx, sim


def approximate_knn(x: np.ndarray, k: int, *, exclude_self: bool = True, seed: int = 0,
                    n_jobs: int = APPROX_JOBS,
                    n_neighbors: int = APPROX_NEIGHBORS) -> tuple[np.ndarray, np.ndarray, int]:
    """Approximate cosine kNN of every row of ``x``: a seeded NN-descent graph, re-ranked exactly.

    Parameters
    ----------
    x : (n, d) float32 array
        L2-normalised rows.
    k : int
        Neighbours per row, ``1 <= k < n`` (``<= n`` when the row itself may be returned).
    exclude_self : bool
        Leave each row out of its own neighbours.
    seed : int
        ``random_state`` of the graph (same seed and ``n_jobs``, same neighbours).
    n_jobs : int
        Threads of the graph build.
    n_neighbors : int
        Candidates per row in the graph (at least ``k + 1``).

    Returns
    -------
    idx : (n, k) int64 array
        Neighbours, most similar first.
    sim : (n, k) float32 array
        Their cosine similarities (computed exactly, not read off the graph).
    exact_rows : int
        Rows whose graph held fewer than ``k`` usable candidates, answered exactly instead.
    """
    n = len(x)
    graph = _graph(x, int(min(n, max(n_neighbors, k + 1))), seed, n_jobs)
    idx, sim = _rank_candidates(x, graph, k, exclude_self)
    short = np.flatnonzero(~np.isfinite(sim).all(axis=1))
    if len(short):
        idx[short], sim[short] = _exact(x, x[short], k, short if exclude_self else None, exact_block_rows(n))
    return idx, sim, int(len(short))


def estimate_recall(x: np.ndarray, idx: np.ndarray, *, exclude_self: bool = True, sample: int = RECALL_SAMPLE,
                    seed: int = 0) -> tuple[float, int]:
    """Recall@k of a self-query answer ``idx`` on ``sample`` seeded random rows checked exactly.

    Returns
    -------
    recall : float
        Mean share of each checked row's exact top ``k`` found in ``idx`` (exact ties may count
        as misses, so this is a lower bound for answers that are equally good).
    checked : int
        Rows checked.
    """
    n, k = idx.shape
    if n == 0 or k == 0 or sample <= 0:
        return 1.0, 0
    rows = np.sort(np.random.default_rng(seed).choice(n, min(int(sample), n), replace=False))
    truth, _ = _exact(x, x[rows], k, rows if exclude_self else None, exact_block_rows(n))
    hits = sum(len(np.intersect1d(a, b)) for a, b in zip(idx[rows], truth))
    return float(hits / (len(rows) * k)), int(len(rows))


def knn_report(x: np.ndarray, k: int, *, queries: np.ndarray | None = None, exclude_self: bool = True,
               block: int | None = None, threshold: int | None = None, seed: int = 0,
               n_jobs: int = APPROX_JOBS, recall_sample: int = RECALL_SAMPLE) -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`knn` and how it was made: ``(idx, sim, info)``.

    ``info`` (JSON-ready) holds ``method`` (``"exact"`` / ``"approximate"``), ``n``, ``k`` and
    ``threshold``; exact adds ``block_rows``; approximate adds the graph's ``algorithm``,
    ``metric``, ``n_neighbors``, ``seed``, ``n_jobs``, ``exact_rows`` (rows answered exactly for
    lack of candidates), ``recall_at_k`` and ``recall_sample`` (:func:`estimate_recall`, with
    ``recall_sample`` rows; ``recall_sample=0`` skips it). Other parameters as in :func:`knn`.
    """
    x = np.asarray(x, dtype=np.float32)
    self_query = queries is None
    q = x if self_query else np.asarray(queries, dtype=np.float32)
    n, drop = len(x), self_query and exclude_self
    k = int(max(0, min(k, n - (1 if drop else 0))))
    limit = EXACT_MAX_ROWS if threshold is None else int(threshold)
    method = knn_method(n, self_query=self_query, threshold=limit)
    info: dict = {"method": method, "n": int(n), "k": k, "threshold": limit}
    if k == 0:
        return np.zeros((len(q), 0), dtype=np.int64), np.zeros((len(q), 0), dtype=np.float32), info
    if method == "exact":
        rows = int(block) if block else exact_block_rows(n)
        idx, sim = _exact(x, q, k, np.arange(n) if drop else None, rows)
        return idx, sim, {**info, "block_rows": rows}
    import pynndescent

    idx, sim, exact_rows = approximate_knn(x, k, exclude_self=drop, seed=seed, n_jobs=n_jobs)
    recall, checked = estimate_recall(x, idx, exclude_self=drop, sample=recall_sample, seed=seed)
    info.update({"algorithm": f"pynndescent {pynndescent.__version__} NNDescent",
                 "metric": "euclidean on unit vectors (cosine order), re-ranked by exact cosine",
                 "n_neighbors": int(min(n, max(APPROX_NEIGHBORS, k + 1))), "seed": int(seed),
                 "n_jobs": int(n_jobs), "exact_rows": exact_rows,
                 "recall_at_k": round(recall, 4) if checked else None, "recall_sample": checked})
    return idx, sim, info


def knn(x: np.ndarray, k: int, *, queries: np.ndarray | None = None, exclude_self: bool = True,
        block: int | None = None, threshold: int | None = None, seed: int = 0,
        n_jobs: int = APPROX_JOBS) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar rows of ``x`` for each query row.

    Exact, unless ``x`` is queried with itself and has more than ``threshold`` rows: then
    approximate (:func:`approximate_knn`; recall@15 >= 0.9999 at 10k-200k on vectors shaped like the
    demo's embeddings, 0.98-0.99 on isotropic clusters: knn_batch.md; :func:`knn_report` measures
    it on each call). Memory stays bounded at any size.

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
    block : int, optional
        Query rows per exact block (default :func:`exact_block_rows`).
    threshold : int, optional
        Largest self-query done exactly (default :data:`EXACT_MAX_ROWS`).
    seed, n_jobs : int
        ``random_state`` and threads of the approximate graph.

    Returns
    -------
    idx : (m, k) int64 array
        Row indices into ``x``, most similar first.
    sim : (m, k) float32 array
        Cosine similarities.
    """
    idx, sim, _ = knn_report(x, k, queries=queries, exclude_self=exclude_self, block=block,
                             threshold=threshold, seed=seed, n_jobs=n_jobs, recall_sample=0)
    return idx, sim
