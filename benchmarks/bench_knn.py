"""Single-query kNN latency at 20k-1M objects: exact numpy (the project's query), faiss, pynndescent.

    .venv/bin/python benchmarks/bench_knn.py [--sizes 20000,100000,300000,1000000] [--queries 200]
                                             [--threads N] [--pynndescent-max 300000] [--hnsw-max N]

Synthetic vectors shaped like the shipped embeddings (:func:`make_vectors`): dimension = the
shipped checkpoint's ``shared_dim``, a seeded mixture of 20 clusters of unequal size and spread,
float32, L2-normalised (cosine = dot). For every size and method: build seconds, single-query
latency p50/p95 over ``--queries`` random objects (k = 10, the object itself excluded), recall@10
against the exact answer,
and the resident memory the index added. Methods:

* ``numpy argpartition (before)``: the query ``similar`` ran before this benchmark: float32
  matrix-vector product, ``np.where`` mask, ``np.argpartition`` over all ``n`` similarities.
* ``top_k (project)``: :func:`core.analysis.similarity.top_k`, the query ``similar`` runs now
  (one BLAS thread for the product); ``top_k, N BLAS threads``: the same with BLAS left at N.
* ``similar() end to end``: the public call on a workspace index written by ``build_index``
  (memory-mapped matrix, id lookup, DataFrame out); its build column is the index write.
* ``neighbors.knn blocked``: :func:`core.analysis.neighbors.knn` (the analyze step's batch kNN)
  called with one query.
* ``faiss IndexFlatIP`` (exact), ``faiss HNSWFlat`` (M = 32, efConstruction 40, efSearch the
  smallest of 16..512 with recall >= 0.99 on a separate set of tuning queries).
* ``pynndescent`` (``NNDescent``, cosine, default ``n_neighbors`` and query ``epsilon``; build
  includes ``prepare()``; the numba JIT is timed apart on a 2,000-row warm-up index, and the
  first query of each index, which compiles its search function, is reported apart too).

BLAS (OpenBLAS/MKL via the environment and threadpoolctl), faiss (``omp_set_num_threads``) and
numba / pynndescent (``n_jobs``) are all set to ``--threads`` (default: the cores this process
may use). Writes benchmarks/results/knn.md and knn.json with the conditions.
"""
from __future__ import annotations

import argparse
import os
import sys


def _threads_from_argv() -> int:
    """``--threads`` before numpy is imported (BLAS reads its thread count once, at import)."""
    for i, a in enumerate(sys.argv):
        if a.startswith("--threads"):
            return int(a.split("=", 1)[1] if "=" in a else sys.argv[i + 1])
    return len(os.sched_getaffinity(0))


THREADS = _threads_from_argv()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import datetime as dt  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

K = 10
TARGET_MS = 50.0
EF_GRID = (16, 32, 64, 128, 256, 512)


def rss_mb() -> float:
    """Resident set size of this process, MB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def shared_dim() -> int:
    """The shipped checkpoint's embedding dimension."""
    from core.train import DEFAULT_CHECKPOINT, load_checkpoint

    return int(load_checkpoint(DEFAULT_CHECKPOINT).config.shared_dim)


def make_vectors(n: int, d: int, seed: int = 0, clusters: int = 20,
                 isotropic: bool = False) -> np.ndarray:
    """Seeded mixture of ``clusters`` clusters of unequal size and spread; L2-normalised float32.

    Shaped like the shipped model's fused embeddings of the demo sky (20k objects, seed 0: 26 / 50
    / 73 / 92 / 99.3 % of the variance in the first 1 / 2 / 4 / 8 / 16 principal axes, median cosine
    to the 1st / 10th neighbour 0.985 / 0.966): cluster centres with decaying scales in a random
    16-d subspace, each cluster spread along its own 6 directions there, plus isotropic noise
    (these vectors: 24 / 41 / 62 / 85 / 99.4 %, 0.985 / 0.971). ``isotropic`` instead spreads each
    cluster evenly over all ``d`` dimensions, a far harder case for approximate indexes.
    """
    rng = np.random.default_rng(seed)
    labels = rng.choice(clusters, n, p=rng.dirichlet(np.full(clusters, 2.0)))
    x = np.empty((n, d), dtype=np.float32)
    if isotropic:
        centres = rng.standard_normal((clusters, d))
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        spread = rng.uniform(0.06, 0.2, clusters)
    else:
        sub, rank = min(16, d), min(6, d)
        basis = np.linalg.qr(rng.standard_normal((d, sub)))[0]
        centres = rng.standard_normal((clusters, sub)) * np.geomspace(1, 0.15, sub)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        axes = np.linalg.qr(rng.standard_normal((clusters, sub, rank)))[0]
        scale = rng.uniform(0.15, 0.4, clusters)[:, None] * np.linspace(1, 0.3, rank)[None]
    for start in range(0, n, 100_000):
        lab = labels[start:start + 100_000]
        if isotropic:
            block = centres[lab] + spread[lab, None] * rng.standard_normal((len(lab), d))
        else:
            z = centres[lab] + np.einsum("nij,nj->ni", axes[lab], scale[lab] * rng.standard_normal((len(lab), rank)))
            block = z @ basis.T + 0.012 * rng.standard_normal((len(lab), d))
        x[start:start + len(lab)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return x


def _argpartition_before(x: np.ndarray, row: int, k: int) -> np.ndarray:
    """The query ``similar`` ran before ``top_k`` (kept here as the baseline)."""
    q = np.asarray(x[row], dtype=np.float32)
    sims = np.asarray(x @ q, dtype=np.float32)
    sims = np.where(np.ones(len(x), bool), sims, -np.inf)
    sims[row] = -np.inf
    k = int(max(0, min(k, np.isfinite(sims).sum())))
    top = np.argpartition(-sims, k - 1)[:k]
    return top[np.lexsort((top, -sims[top]))]


def _drop_self(idx: np.ndarray, row: int, k: int) -> np.ndarray:
    """First ``k`` of ``idx`` other than ``row`` (ANN / faiss answers ask for ``k + 1``)."""
    idx = np.asarray(idx).ravel()
    return idx[(idx != row) & (idx >= 0)][:k]


def latencies(query, rows: np.ndarray, warm: int = 5) -> tuple[list[np.ndarray], np.ndarray]:
    """Answers and per-query seconds of ``query(row)`` over ``rows`` (after ``warm`` untimed calls).

    One method at a time, not interleaved: after a multi-threaded BLAS call OpenBLAS's worker
    threads spin for a while, and on two shared cores that would slow whichever method came next.
    """
    for r in rows[:warm]:
        query(int(r))
    answers, secs = [], np.empty(len(rows))
    for i, r in enumerate(rows):
        t0 = time.perf_counter()
        answers.append(np.asarray(query(int(r))))
        secs[i] = time.perf_counter() - t0
    return answers, secs


def recall(answers: list[np.ndarray], truth: list[np.ndarray], k: int = K) -> float:
    """Mean share of the true ``k`` neighbours found."""
    return float(np.mean([len(np.intersect1d(a[:k], t[:k])) / k for a, t in zip(answers, truth)]))


def build_one(name: str, build, warm_rows: np.ndarray) -> tuple:
    """Build one method's index: ``(query, row of results so far)``.

    ``build()`` returns ``(query, notes)``: ``query(row)`` gives the ``K`` neighbour rows of ``row``
    (itself excluded); ``notes`` may hold ``untimed_s`` (tuning time kept out of the build). Memory
    is the resident-set growth over the build and a few queries (which page in memory maps).
    """
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    query, notes = build()
    build_s = time.perf_counter() - t0 - notes.pop("untimed_s", 0.0)
    for r in warm_rows:
        query(int(r))
    gc.collect()
    return query, {"method": name, "build_s": round(build_s, 3), "rss_added_mb": round(rss_mb() - before, 1),
                   **notes}


def summarise(row: dict, answers: list[np.ndarray], secs: np.ndarray, truth: list[np.ndarray]) -> dict:
    """Latency percentiles and recall of one method, printed and returned."""
    row = {**row, "p50_ms": round(float(np.percentile(secs, 50)) * 1e3, 2),
           "p95_ms": round(float(np.percentile(secs, 95)) * 1e3, 2), "recall_at_10": round(recall(answers, truth), 4)}
    notes = {k: v for k, v in row.items() if k not in ("n", "method", "build_s", "p50_ms", "p95_ms",
                                                        "recall_at_10", "rss_added_mb", "load_average")}
    print(f"  {row['method']:28s} build {row['build_s']:8.2f} s  p50 {row['p50_ms']:8.2f} ms  "
          f"p95 {row['p95_ms']:8.2f} ms  recall {row['recall_at_10']:.4f}  +{row['rss_added_mb']:.0f} MB  "
          f"{notes or ''}", flush=True)
    return row


def exact_methods(x: np.ndarray, tmp: Path) -> dict:
    """Builders of the exact numpy methods (the project's code paths)."""
    from core.analysis.embeddings import EmbeddingSet
    from core.analysis.neighbors import knn
    from core.analysis.similarity import build_index, similar, top_k

    def similar_build():
        ws = tmp / f"ws{len(x)}"
        emb = EmbeddingSet(ids=np.arange(len(x)).astype(str), vectors={"fused": x},
                           present={"fused": np.ones(len(x), bool)}, meta={})
        build_index(ws, emb, labels=np.full(len(x), "C"))
        t0 = time.perf_counter()
        similar(ws, "0", k=K)
        first = time.perf_counter() - t0
        query = lambda r: similar(ws, str(r), k=K)["id"].to_numpy().astype(np.int64)  # noqa: E731
        return query, {"first_query_ms": round(first * 1e3, 1)}

    return {
        "numpy argpartition (before)": lambda: (lambda r: _argpartition_before(x, r, K), {}),
        "top_k (project)": lambda: (lambda r: top_k(x, x[r], K, exclude_row=r)[0], {}),
        f"top_k, {THREADS} BLAS threads": lambda: (lambda r: top_k(x, x[r], K, exclude_row=r,
                                                                  blas_threads=None)[0], {}),
        "similar() end to end": similar_build,
        "neighbors.knn blocked": lambda: (lambda r: _drop_self(knn(x, K + 1, queries=x[r:r + 1])[0], r, K), {}),
    }


def faiss_methods(x: np.ndarray, tune_rows: np.ndarray, tune_truth: list[np.ndarray], hnsw: bool) -> dict:
    """Builders of faiss IndexFlatIP and (when ``hnsw``) IndexHNSWFlat with efSearch tuned."""
    import faiss

    def flat():
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        return (lambda r: _drop_self(index.search(x[r:r + 1], K + 1)[1], r, K)), {}

    def hnsw_build():
        index = faiss.IndexHNSWFlat(x.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        index.add(x)
        query = lambda r: _drop_self(index.search(x[r:r + 1], K + 1)[1], r, K)  # noqa: E731
        t0 = time.perf_counter()
        tried = {}
        for ef in EF_GRID:
            index.hnsw.efSearch = ef
            tried[ef] = round(recall([query(int(r)) for r in tune_rows], tune_truth), 4)
            if tried[ef] >= 0.99:
                break
        return query, {"efSearch": index.hnsw.efSearch, "tuning_recall": tried,
                       "untimed_s": time.perf_counter() - t0}

    out = {"faiss IndexFlatIP": flat}
    if hnsw:
        out["faiss HNSWFlat M=32"] = hnsw_build
    return out


def pynndescent_warmup() -> float:
    """Seconds of a 2,000-row NNDescent build + prepare + query: mostly the numba JIT."""
    from pynndescent import NNDescent

    x = make_vectors(2000, 16, seed=99)
    t0 = time.perf_counter()
    index = NNDescent(x, metric="cosine", random_state=0, n_jobs=THREADS)
    index.prepare()
    index.query(x[:1], k=K + 1)
    return time.perf_counter() - t0


def pynndescent_method(x: np.ndarray) -> dict:
    """Builder of pynndescent NNDescent (build + prepare timed; first query reported apart)."""
    from pynndescent import NNDescent

    def build():
        index = NNDescent(x, metric="cosine", random_state=0, n_jobs=THREADS)
        index.prepare()
        query = lambda r: _drop_self(index.query(x[r:r + 1], k=K + 1)[0], r, K)  # noqa: E731
        t1 = time.perf_counter()
        query(len(x) - 1)
        first = time.perf_counter() - t1
        return query, {"first_query_ms": round(first * 1e3, 1), "untimed_s": first,
                       "n_neighbors": index.n_neighbors}

    return {"pynndescent NNDescent": build}


def run_size(n: int, d: int, args, tmp: Path) -> list[dict]:
    """Every method at one ``n``; the exact answers (``top_k``) are the truth for recall."""
    from core.analysis.similarity import top_k

    print(f"n = {n:,} x {d}  (load average {os.getloadavg()[0]:.2f})", flush=True)
    x = make_vectors(n, d, seed=0, isotropic=args.isotropic)
    rng = np.random.default_rng(n)
    picked = rng.choice(n, 2 * args.queries, replace=False)
    rows, tune_rows = picked[:args.queries], picked[args.queries:]
    truth = {int(r): top_k(x, x[r], K, exclude_row=int(r))[0] for r in picked}
    same = all(np.array_equal(truth[int(r)], _argpartition_before(x, int(r), K)) for r in rows[:20])
    assert same, "top_k and the argpartition baseline disagree"
    methods = exact_methods(x, tmp)
    methods.update(faiss_methods(x, tune_rows, [truth[int(r)] for r in tune_rows],
                                 hnsw=args.hnsw_max is None or n <= args.hnsw_max))
    if n <= args.pynndescent_max:
        methods.update(pynndescent_method(x))
    queries, built = {}, {}
    for name, build in methods.items():
        queries[name], built[name] = build_one(name, build, tune_rows[:5])
        print(f"  built {name}: {built[name]['build_s']:.2f} s", flush=True)
    out = []
    for name in methods:
        load = round(os.getloadavg()[0], 2)
        out.append(summarise({"n": n, "load_average": load, **built[name]}, *latencies(queries[name], rows),
                             [truth[int(r)] for r in rows]))
    return out


def conditions(args, d: int) -> dict:
    """Machine, library versions and thread settings of this run."""
    import faiss
    import numba
    import pynndescent
    from threadpoolctl import threadpool_info

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {cpu}", "nproc": len(os.sched_getaffinity(0)),
            "threads": THREADS, "python": platform.python_version(), "numpy": np.__version__,
            "faiss": faiss.__version__, "pynndescent": pynndescent.__version__, "numba": numba.__version__,
            "blas": [{k: p.get(k) for k in ("internal_api", "version", "num_threads")} for p in threadpool_info()],
            "thread_settings": f"{', '.join(v + '=' + str(THREADS) for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS'))}; "
                               f"threadpoolctl limit {THREADS}; faiss.omp_set_num_threads({THREADS}); "
                               f"pynndescent n_jobs={THREADS}",
            "dim": d, "k": K, "isotropic": args.isotropic, "queries": args.queries, "sizes": args.sizes,
            "pynndescent_max": args.pynndescent_max, "hnsw_max": args.hnsw_max,
            "load_average_start": [round(v, 2) for v in os.getloadavg()]}


def reading(rows: list[dict]) -> list[str]:
    """Sentences computed from the table: what meets the 50 ms target at the largest size."""
    n = max(r["n"] for r in rows)
    at = {r["method"]: r for r in rows if r["n"] == n}
    lines = [f"At n = {n:,} (p95, target {TARGET_MS:.0f} ms):"]
    for name, r in at.items():
        verdict = "meets" if r["p95_ms"] <= TARGET_MS else "misses"
        lines.append(f"- {name}: p95 {r['p95_ms']:.1f} ms, recall {r['recall_at_10']:.3f} -> {verdict} the target")
    return lines


def markdown(result: dict) -> str:
    """The results page."""
    c = result["conditions"]
    out = ["# kNN query latency at 20k-1M objects (issue 14)", "",
           "Written by `benchmarks/bench_knn.py`. Synthetic unit vectors (20-cluster seeded mixture, float32, "
           f"d = {c['dim']} = the shipped checkpoint's shared_dim), k = {c['k']}, the query object excluded; "
           f"latency = one query at a time over {c['queries']} random objects (after 5 untimed), one method "
           "after another (the load average as each method's queries began is in the table); recall@10 against the exact answer "
           "(`top_k`); memory = resident-set growth over the build and 5 queries (the vectors themselves, "
           "4·n·d bytes, are not counted: every method is handed them; `similar()` maps its own copy from "
           "the workspace). Vectors: " + ("isotropic clusters (--isotropic)" if c.get("isotropic") else
           "shaped like the demo sky's fused embeddings (see `make_vectors`)") + ".", "",
           f"Conditions: {c['date']}, {c['machine']}, nproc {c['nproc']}, load average at start "
           f"{c['load_average_start']}, at end {c['load_average_end']} (the cores are shared with other jobs). Python {c['python']}, numpy {c['numpy']}, faiss-cpu "
           f"{c['faiss']}, pynndescent {c['pynndescent']} (numba {c['numba']}). Threads: {c['thread_settings']}. "
           f"pynndescent numba JIT warm-up (2,000-row build + prepare + query, before the sizes): "
           f"{result['pynndescent_jit_s']:.1f} s.", "",
           "| n | method | build s | p50 ms | p95 ms | recall@10 | RSS added MB | load | notes |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    skip = {"n", "method", "build_s", "p50_ms", "p95_ms", "recall_at_10", "rss_added_mb", "load_average"}
    for r in result["rows"]:
        notes = ", ".join(f"{k} {v}" for k, v in r.items() if k not in skip)
        out.append(f"| {r['n']:,} | {r['method']} | {r['build_s']:.2f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
                   f"{r['recall_at_10']:.4f} | {r['rss_added_mb']:.0f} | {r['load_average']} | {notes} |")
    out += ["", "## Reading", "", *reading(result["rows"]), "",
            "The exact methods read all 4·n·d bytes per query, so they follow the memory bandwidth left by "
            "the other jobs on these shared cores: expect them to vary by about 2x between runs at the same n.",
            ""]
    big = [n for n in c["sizes"] if n > c["pynndescent_max"]]
    if big:
        out += [f"Not run: pynndescent at n = {', '.join(f'{n:,}' for n in big)} (--pynndescent-max "
                f"{c['pynndescent_max']:,}, to keep the run to minutes; faiss HNSW stands for the approximate "
                "indexes there).", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="20000,100000,300000,1000000", help="comma-separated n")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--threads", type=int, default=THREADS, help="BLAS / faiss / numba threads")
    p.add_argument("--pynndescent-max", type=int, default=300_000, help="largest n given to pynndescent")
    p.add_argument("--hnsw-max", type=int, default=None, help="largest n given to faiss HNSW (default all)")
    p.add_argument("--isotropic", action="store_true", help="clusters spread over all dimensions (hard for ANN)")
    p.add_argument("--out", type=Path, default=RESULTS / "knn", help="results stem (.md and .json)")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s]
    import faiss
    from threadpoolctl import threadpool_limits

    faiss.omp_set_num_threads(THREADS)
    threadpool_limits(THREADS)
    d = shared_dim()
    result = {"conditions": conditions(args, d), "pynndescent_jit_s": round(pynndescent_warmup(), 2), "rows": []}
    with tempfile.TemporaryDirectory(prefix="bench_knn_") as tmp:
        for n in args.sizes:
            result["rows"] += run_size(n, d, args, Path(tmp))
    result["conditions"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
