"""core.analysis.similarity.top_k: the exact query behind ``similar`` (values, never timings)."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.neighbors import knn
from core.analysis.similarity import top_k


def unit_rows(n: int, d: int = 16, seed: int = 0, clusters: int = 5) -> np.ndarray:
    """Seeded clustered unit vectors (float32), like the shipped embeddings in miniature."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    x = centres[rng.integers(0, clusters, n)] + 0.4 * rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def direct(x: np.ndarray, q: np.ndarray, k: int, banned=()) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by a full float64 sort (ties by lower row): the reference answer."""
    s = x.astype(np.float64) @ q.astype(np.float64)
    s[list(banned)] = -np.inf
    order = np.lexsort((np.arange(len(s)), -s))
    order = order[np.isfinite(s[order])][:k]
    return order, s[order]


@pytest.mark.parametrize("sample", [64, 16384])   # threshold pre-filter on / plain path
def test_top_k_matches_direct_computation(sample):
    x = unit_rows(3000)
    rng = np.random.default_rng(1)
    missing = rng.choice(len(x), 300, replace=False)
    for row in rng.choice(len(x), 25, replace=False):
        idx, sim = top_k(x, x[row], 10, exclude=missing, exclude_row=int(row), sample=sample)
        ref, ref_sim = direct(x, x[row], 10, banned=[*missing, row])
        assert idx.tolist() == ref.tolist()
        np.testing.assert_allclose(sim, ref_sim, rtol=0, atol=1e-5)
        assert sim.dtype == np.float32 and idx.dtype == np.int64


def test_top_k_agrees_with_blocked_knn():
    x = unit_rows(2500, seed=2)
    idx, sim = knn(x, 7)
    for row in (0, 17, 1234, 2499):
        got, got_sim = top_k(x, x[row], 7, exclude_row=row, sample=64)
        assert got.tolist() == idx[row].tolist()
        np.testing.assert_allclose(got_sim, sim[row], atol=1e-6)


def test_top_k_ties_and_short_answers():
    x = np.repeat(np.eye(4, dtype=np.float32), 600, axis=0)     # 600 identical copies of each axis
    idx, sim = top_k(x, x[0], 5, exclude_row=0, sample=64)
    assert idx.tolist() == [1, 2, 3, 4, 5] and np.all(sim == 1)  # ties: lower rows first
    everything_but_two = np.arange(2, len(x))
    idx, _ = top_k(x, x[0], 10, exclude=everything_but_two, sample=64)
    assert idx.tolist() == [0, 1]                               # fewer rows left than k
    assert top_k(x, x[0], 0)[0].tolist() == []


def test_top_k_accepts_float64_strided_and_memory_mapped(tmp_path):
    x = unit_rows(2000, seed=3)
    ref, _ = top_k(x, x[5], 6, exclude_row=5, sample=64)
    wide = np.zeros((2000, 32), dtype=np.float64)
    wide[:, ::2] = x                                            # non-contiguous float64 view
    assert top_k(wide[:, ::2], x[5], 6, exclude_row=5, sample=64)[0].tolist() == ref.tolist()
    np.save(tmp_path / "m.npy", x)
    mm = np.load(tmp_path / "m.npy", mmap_mode="r")             # how similar() reads WS/neighbors/
    assert top_k(mm, mm[5], 6, exclude_row=5, sample=64)[0].tolist() == ref.tolist()


def test_top_k_blas_thread_limit_gives_the_same_answer_and_is_undone():
    from threadpoolctl import threadpool_info

    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    x = unit_rows(1500, seed=4)
    one, one_sim = top_k(x, x[9], 8, exclude_row=9, blas_threads=1)
    free, free_sim = top_k(x, x[9], 8, exclude_row=9, blas_threads=None)
    assert one.tolist() == free.tolist()
    np.testing.assert_allclose(one_sim, free_sim, atol=1e-6)
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before


def test_similar_on_a_written_index_matches_direct_computation(tmp_path):
    from core.analysis.embeddings import EmbeddingSet
    from core.analysis.similarity import build_index, similar

    n = 1200
    fused, spectra = unit_rows(n, seed=5), unit_rows(n, seed=6)
    has_spec = np.random.default_rng(7).random(n) > 0.3
    spectra[~has_spec] = 0
    emb = EmbeddingSet(ids=np.array([f"obj{i}" for i in range(n)]), vectors={"fused": fused, "spectra": spectra},
                       present={"fused": np.ones(n, bool), "spectra": has_spec}, meta={})
    labels = np.array(["A", "B", None], dtype=object)[np.arange(n) % 3]
    build_index(tmp_path / "ws", emb, labels)
    q = int(np.flatnonzero(has_spec)[3])
    got = similar(tmp_path / "ws", f"obj{q}", k=6)
    ref, ref_sim = direct(fused, fused[q], 6, banned=[q])
    assert got["id"].tolist() == [f"obj{i}" for i in ref]
    assert got["label"].fillna("-").tolist() == [lab or "-" for lab in labels[ref]]   # unlabelled: missing
    assert got["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(got["similarity"], ref_sim, atol=1e-5)
    np.testing.assert_allclose(got["distance"], 1 - ref_sim, atol=1e-5)
    cross = similar(tmp_path / "ws", f"obj{q}", k=5, modality="fused", target="spectra")
    ref, _ = direct(spectra, fused[q], 5, banned=np.flatnonzero(~has_spec))   # self kept, no-spectrum rows not
    assert cross["id"].tolist() == [f"obj{i}" for i in ref]
