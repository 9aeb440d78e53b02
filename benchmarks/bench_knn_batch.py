"""Analyze's batch kNN (every object's k neighbours) at 10k-200k: exact blocked vs pynndescent.

    .venv/bin/python benchmarks/bench_knn_batch.py [--sizes 10000,20000,30000,50000,100000,200000]
                                                   [--k 15] [--calls 5] [--threads N] [--isotropic]
                                                   [--out STEM] [--rewrite]

Measures :func:`core.analysis.neighbors.knn_report`, the analyze step's all-rows kNN, both ways on
the same vectors: ``exact`` (blocked matrix products, blocks sized by ``exact_block_rows``) and
``approximate`` (``approximate_knn``: seeded pynndescent NNDescent graph, euclidean on unit
vectors, re-ranked by exact cosine) with ``n_jobs`` 1 and 2. Vectors: ``bench_knn.make_vectors``
(the 20-cluster mixture calibrated to the demo sky's fused embeddings, float32, d = the shipped
checkpoint's shared_dim). For each: seconds, peak resident-memory growth (RSS sampled every 20 ms),
recall@k and recall@10 of the approximate answer against the exact one over *all* rows, beside the
200-row estimate ``knn_report`` records in the results metadata.

The numba JIT of pynndescent is timed apart, in fresh processes: a 2,000-row ``approximate_knn``
cold, and the same after a UMAP fit on 5,000 rows (what ``analyze`` runs first: UMAP builds its
graph with pynndescent's euclidean code, so the kNN step then finds it compiled).

The threshold reading: one ``analyze`` makes ``--calls`` such kNN calls (fused, side-by-side and
one per modality: 2 + 3 for the shipped checkpoint); exact is kept while those calls together cost
no more than the approximate ones plus one cold JIT. Writes benchmarks/results/knn_batch.md/.json.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_knn  # noqa: E402  (sets the BLAS / numba thread variables from --threads before numpy loads)

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = bench_knn.ROOT
RESULTS = ROOT / "benchmarks" / "results"
THREADS = bench_knn.THREADS

JIT_SNIPPET = """
import json, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
import bench_knn
t0 = time.perf_counter()
if {umap}:
    from core.analysis.projection import Projector
    Projector(seed=0).fit(bench_knn.make_vectors(5000, 64, seed=3))
t1 = time.perf_counter()
from core.analysis.neighbors import approximate_knn
approximate_knn(bench_knn.make_vectors(2000, 64, seed=4), 15)
print(json.dumps({{"umap_s": t1 - t0, "knn_s": time.perf_counter() - t1}}))
"""


class PeakRSS:
    """Context manager: the largest resident-set growth (MB) seen while inside, sampled every 20 ms."""

    def __enter__(self):
        import psutil

        self._proc, self._stop = psutil.Process(), threading.Event()
        gc.collect()
        self.base = self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        self.mb = round((self.peak - self.base) / 2**20, 1)


def jit_seconds(umap_first: bool) -> dict:
    """A fresh process's 2,000-row ``approximate_knn`` seconds (mostly numba JIT), optionally after UMAP."""
    code = JIT_SNIPPET.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), umap=umap_first)
    out = subprocess.run([sys.executable, "-c", code, "--threads", str(THREADS)], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {k: round(v, 2) for k, v in got.items()}


def overlap(a: np.ndarray, b: np.ndarray, k: int, block: int = 20_000) -> float:
    """Mean share of each row's first ``k`` of ``b`` (the truth) found in its first ``k`` of ``a``."""
    hits = 0
    for s in range(0, len(a), block):
        hits += int((a[s:s + block, :k, None] == b[s:s + block, None, :k]).any(axis=2).sum())
    return hits / (len(a) * k)


def measure(fn) -> tuple[tuple, float, float, list[float]]:
    """``(result, seconds, peak MB, load average)`` of ``fn()``."""
    load = [round(v, 2) for v in os.getloadavg()]
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        got = fn()
        secs = time.perf_counter() - t0
    return got, round(secs, 2), mem.mb, load


def run_size(n: int, d: int, k: int, isotropic: bool = False) -> list[dict]:
    """Exact, then approximate with 1 and 2 threads, on one seeded set of ``n`` vectors."""
    from core.analysis.neighbors import knn_report

    x = bench_knn.make_vectors(n, d, seed=0, isotropic=isotropic)
    (ex_idx, _, info), secs, mb, load = measure(lambda: knn_report(x, k, threshold=10**12))
    rows = [{"n": n, "method": "exact", "seconds": secs, "peak_rss_mb": mb, "load_average": load,
             "block_rows": info["block_rows"], "recall_at_k": 1.0, "recall_at_10": 1.0}]
    print(f"{n:>9,} exact        {secs:8.2f} s  +{mb:.0f} MB  load {load[0]}", flush=True)
    for jobs in (1, 2):
        (idx, _, info), secs, mb, load = measure(lambda: knn_report(x, k, threshold=0, n_jobs=jobs))
        row = {"n": n, "method": f"approximate n_jobs={jobs}", "seconds": secs, "peak_rss_mb": mb,
               "load_average": load, "recall_at_k": round(overlap(idx, ex_idx, k), 4),
               "recall_at_10": round(overlap(idx, ex_idx, min(10, k)), 4),
               "recall_estimate": info["recall_at_k"], "exact_rows": info["exact_rows"]}
        rows.append(row)
        print(f"{n:>9,} {row['method']:12s} {secs:8.2f} s  +{mb:.0f} MB  recall@k {row['recall_at_k']:.4f} "
              f"(estimate {row['recall_estimate']})  load {load[0]}", flush=True)
        del idx
        gc.collect()
    return rows


def crossover(rows: list[dict], calls: int, jit_s: float) -> dict:
    """Where ``calls`` exact kNN calls stop being cheaper than approximate ones plus one cold JIT.

    Fits exact seconds = a·n² and approximate (n_jobs=1) seconds = b·n by least squares over the
    measured sizes, and solves ``calls·a·n² = calls·b·n + jit_s``; also names the largest measured
    size where exact wins outright.
    """
    ex = {r["n"]: r["seconds"] for r in rows if r["method"] == "exact"}
    ap = {r["n"]: r["seconds"] for r in rows if r["method"] == "approximate n_jobs=1"}
    ns = np.array(sorted(ex), dtype=float)
    a = float(np.dot(ns**2, [ex[n] for n in ns]) / np.dot(ns**2, ns**2))
    b = float(np.dot(ns, [ap[n] for n in ns]) / np.dot(ns, ns))
    n_star = (calls * b + np.sqrt((calls * b) ** 2 + 4 * calls * a * jit_s)) / (2 * calls * a)
    wins = [int(n) for n in ns if calls * ex[n] <= calls * ap[n] + jit_s]
    return {"exact_s_per_n2": a, "approx_s_per_n": b, "crossover_n": int(n_star),
            "largest_measured_exact_win": max(wins) if wins else None}


def jobs_reading(rows: list[dict]) -> list[str]:
    """Which thread count built the graph faster at each size (the shipped build is single-threaded)."""
    sec = {(r["n"], r["method"]): r["seconds"] for r in rows}
    parts = [f"{n:,}: {sec[(n, 'approximate n_jobs=1')]:.1f} s vs {sec[(n, 'approximate n_jobs=2')]:.1f} s"
             for n in sorted({r["n"] for r in rows}) if (n, "approximate n_jobs=2") in sec]
    faster = [n for (n, m), v in sec.items() if m == "approximate n_jobs=2" and v < sec[(n, "approximate n_jobs=1")]]
    return ["Graph build, n_jobs=1 vs 2: " + "; ".join(parts) + f". Two threads were faster at {len(faster)} of "
            f"{len(parts)} sizes on these shared cores. The graph depends on the thread count (same seed, other "
            "neighbours), so `APPROX_JOBS` fixes it at 1: the same sky gives the same results on any machine."]


def conditions(args, d: int) -> dict:
    """Machine, versions and thread settings."""
    import numba
    import pynndescent

    from core.analysis import neighbors

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {cpu}", "nproc": len(os.sched_getaffinity(0)), "threads": THREADS,
            "python": platform.python_version(), "numpy": np.__version__, "pynndescent": pynndescent.__version__,
            "numba": numba.__version__, "dim": d, "isotropic": args.isotropic, "k": args.k, "calls": args.calls,
            "sizes": args.sizes,
            "block_bytes": neighbors.BLOCK_BYTES, "approx_neighbors": neighbors.APPROX_NEIGHBORS,
            "recall_sample": neighbors.RECALL_SAMPLE, "exact_max_rows": neighbors.EXACT_MAX_ROWS,
            "load_average_start": [round(v, 2) for v in os.getloadavg()]}


def markdown(result: dict) -> str:
    """The results page."""
    c, jit, cx = result["conditions"], result["jit"], result["crossover"]
    out = ["# Analyze's batch kNN: exact blocked vs pynndescent (issue 14)", "",
           "Written by `benchmarks/bench_knn_batch.py`: `core.analysis.neighbors.knn_report` on every row of "
           f"n seeded unit vectors (`bench_knn.make_vectors`, d = {c['dim']}"
           + (", isotropic clusters: the hard case" if c.get("isotropic") else ", shaped like the demo's fused "
              "embeddings") + f"), k = {c['k']}, self excluded. "
           f"Exact: blocks of `exact_block_rows(n)` rows (<= {c['block_bytes'] / 2**20:.0f} MiB of similarities + "
           f"partition indices each). Approximate: pynndescent NNDescent, {c['approx_neighbors']} candidates a row, "
           "euclidean on unit vectors, seed 0, re-ranked by exact cosine. Recall against the exact answer over all "
           f"rows; 'estimate' = the {c['recall_sample']}-row recall `knn_report` records. Peak = resident-set growth "
           "(the vectors themselves excluded).", "",
           f"Conditions: {c['date']}, {c['machine']}, nproc {c['nproc']}, threads {c['threads']} (BLAS, numba), "
           f"load average at start {c['load_average_start']}, at end {c['load_average_end']} (the cores are shared "
           f"with other jobs). Python {c['python']}, numpy {c['numpy']}, pynndescent {c['pynndescent']}, numba "
           f"{c['numba']}.", "",
           f"numba JIT, fresh process, 2,000-row `approximate_knn`: cold {jit['cold']['knn_s']:.1f} s; after a "
           f"5,000-row UMAP fit ({jit['after_umap']['umap_s']:.1f} s, as in `analyze`) "
           f"{jit['after_umap']['knn_s']:.1f} s.",
           "", "| n | method | seconds | peak MB | recall@k | recall@10 | estimate | load | notes |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        notes = f"block_rows {r['block_rows']}" if "block_rows" in r else f"exact_rows {r['exact_rows']}"
        out.append(f"| {r['n']:,} | {r['method']} | {r['seconds']:.2f} | {r['peak_rss_mb']:.0f} | "
                   f"{r['recall_at_k']:.4f} | {r['recall_at_10']:.4f} | {r.get('recall_estimate', '')} | "
                   f"{r['load_average'][0]} | {notes} |")
    out += ["", "## Reading", "",
            f"Least-squares fits over the sizes: exact a·n² ({cx['exact_s_per_n2'] * 1e10:.1f} s at 100k), "
            f"approximate n_jobs=1 b·n ({cx['approx_s_per_n'] * 1e5:.1f} s at 100k). With {c['calls']} kNN calls "
            "per analyze, exact costs "
            f"no more than approximate + one cold JIT ({jit['cold']['knn_s']:.0f} s) up to n ≈ {cx['crossover_n']:,} "
            f"(largest measured size where exact wins: {cx['largest_measured_exact_win'] or 0:,}). "
            f"`EXACT_MAX_ROWS` = {c['exact_max_rows']:,} in core/analysis/neighbors.py. Inside `analyze` the "
            "JIT is already paid by UMAP (above), so there the choice trades exactness for time, not JIT.", "",
            *jobs_reading(result["rows"]), ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,20000,30000,50000,100000,200000", help="comma-separated n")
    p.add_argument("--k", type=int, default=15, help="neighbours (analyze's default k)")
    p.add_argument("--calls", type=int, default=5, help="kNN calls in one analyze (fused, side-by-side, modalities)")
    p.add_argument("--threads", type=int, default=THREADS, help="BLAS / numba threads")
    p.add_argument("--out", type=Path, default=RESULTS / "knn_batch", help="results stem (.md and .json)")
    p.add_argument("--isotropic", action="store_true", help="clusters spread over all dimensions (hard for ANN)")
    p.add_argument("--rewrite", action="store_true",
                   help="only rewrite the .md from the .json, with the current EXACT_MAX_ROWS")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s]
    if args.rewrite:
        from core.analysis.neighbors import EXACT_MAX_ROWS

        result = json.loads(args.out.with_suffix(".json").read_text())
        result["conditions"]["exact_max_rows"] = EXACT_MAX_ROWS
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(result))
        return 0
    from threadpoolctl import threadpool_limits

    threadpool_limits(THREADS)
    d = bench_knn.shared_dim()
    result = {"conditions": conditions(args, d)}
    result["jit"] = {"cold": jit_seconds(False), "after_umap": jit_seconds(True)}
    print("jit", result["jit"], flush=True)
    from core.analysis.neighbors import approximate_knn

    approximate_knn(bench_knn.make_vectors(2000, d, seed=4), args.k)        # this process's JIT, untimed
    result["rows"] = [r for n in args.sizes for r in run_size(n, d, args.k, args.isotropic)]
    result["crossover"] = crossover(result["rows"], args.calls, result["jit"]["cold"]["knn_s"])
    result["conditions"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
