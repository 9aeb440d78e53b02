"""Seconds and peak memory of each pipeline step at growing sky sizes (issue 14).

Usage::

    python benchmarks/bench_scale.py [--sizes 20000 100000] [--root /tmp/astrom3-scale]

For each size N: ``astrom3 simulate ROOT/sky-N --n N``, ``astrom3 embed`` with the shipped checkpoint
and ``astrom3 analyze``, each step in a process of its own (so its peak resident memory is its own:
``ru_maxrss`` of that process), then a similarity query (``core.similar``) timed over 50 objects.
Writes ``benchmarks/results/scale.md``, ``.json`` and ``scale.png`` (log-log seconds per step) with the
conditions. A finished step is not redone when its output is there (rerun with ``--fresh`` to redo).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STEPS = ("simulate", "embed", "analyze")

#: Runs one CLI command in this process and prints its peak resident memory (MB) last.
RUNNER = ("import json, resource, sys, time; from core.cli import main; t = time.perf_counter(); "
          "rc = main(sys.argv[1:]); print(json.dumps({'rc': rc, 'seconds': time.perf_counter() - t, "
          "'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")


def run_step(args: list[str]) -> dict:
    """One ``astrom3`` command in a fresh process; its seconds (in the command) and peak RSS."""
    env = dict(os.environ, ASTROM3_PROGRESS="0", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUNNER, "--quiet", *args], capture_output=True, text=True,
                         env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"astrom3 {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["wall_seconds"] = wall
    return rec


def query_ms(ws: Path, n_queries: int = 50) -> dict:
    """Median / p95 ms of ``core.similar`` (fused space, k=10) over objects spread through the sky."""
    import numpy as np
    import pandas as pd

    from core.analysis import similar

    ids = pd.read_parquet(ws / "results.parquet", columns=["id"])["id"].astype(str).to_numpy()
    pick = ids[np.linspace(0, len(ids) - 1, n_queries).astype(int)]
    similar(ws, pick[0], k=10)  # opens the index
    times = []
    for oid in pick:
        t0 = time.perf_counter()
        similar(ws, oid, k=10)
        times.append(1000 * (time.perf_counter() - t0))
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95))}


def analyze_timings(ws: Path) -> dict:
    """Seconds of each ``analyze`` step, as the results file records them."""
    from core.workspace import read_parquet_meta

    return {k: round(v, 1) for k, v in read_parquet_meta(ws / "results.parquet").get("timings", {}).items()}


def measure(n: int, root: Path, fresh: bool) -> dict:
    """Every step at size ``n`` (skipping finished ones unless ``fresh``)."""
    sky, ws = root / f"sky-{n}", root / f"ws-{n}"
    if fresh:                    # the commands skip fresh outputs themselves: start from nothing
        shutil.rmtree(sky, ignore_errors=True)
        shutil.rmtree(ws, ignore_errors=True)
    done = {"simulate": (sky / "truth.parquet").exists(), "embed": (ws / "embeddings.parquet").exists(),
            "analyze": (ws / "results.parquet").exists()}
    cmds = {"simulate": ["simulate", str(sky), "--n", str(n), "--seed", "0"],
            "embed": ["embed", str(sky), "-w", str(ws), "--checkpoint", "demo"],
            "analyze": ["analyze", str(sky), "-w", str(ws), "--force"]}
    rec: dict = {"n": n, "steps": {}, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "load_average_at_start": [round(v, 2) for v in os.getloadavg()]}
    prev = _load().get(str(n), {}).get("steps", {})
    for step in STEPS:
        if done[step] and not fresh and step in prev:
            rec["steps"][step] = prev[step]
            print(f"n={n:>8,} {step:9s} kept from the last run", flush=True)
            continue
        r = run_step(cmds[step])
        rec["steps"][step] = {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
        print(f"n={n:>8,} {step:9s} {r['seconds']:8.1f} s  peak {r['peak_mb']:7.0f} MB", flush=True)
    rec["analyze_steps"] = analyze_timings(ws)
    rec["query"] = {k: round(v, 2) for k, v in query_ms(ws).items()}
    print(f"n={n:>8,} similar() median {rec['query']['median_ms']:.1f} ms, p95 {rec['query']['p95_ms']:.1f} ms")
    return rec


def _load() -> dict:
    path = RESULTS / "scale.json"
    return json.loads(path.read_text()).get("sizes", {}) if path.exists() else {}


def conditions() -> dict:
    from conditions import run_conditions

    return run_conditions(("numpy", "torch", "umap-learn", "scikit-learn", "pynndescent"))


def markdown(doc: dict) -> str:
    sizes = sorted(doc["sizes"].values(), key=lambda r: r["n"])
    lines = ["# Pipeline cost by sky size", "",
             f"`python benchmarks/bench_scale.py --sizes N [N ...]` (last run: `{doc['command']}`; sizes measured "
             "in earlier runs are kept, see *measured*). Each step runs as `astrom3 <step>` in a process of its own; "
             "*peak* is that "
             "process's peak resident memory. The checkpoint is the shipped one (`--checkpoint demo`); "
             "training is not part of a survey-scale run.", "",
             f"Conditions of the last run: {json.dumps(doc['conditions'])}", "",
             "| objects | simulate s | embed s | analyze s | embed + analyze s | per 1k objects s | "
             "peak MB (simulate / embed / analyze) | similar() median / p95 ms | measured (load average at start) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sizes:
        s = r["steps"]
        ea = s["embed"]["seconds"] + s["analyze"]["seconds"]
        lines.append(f"| {r['n']:,} | {s['simulate']['seconds']:.0f} | {s['embed']['seconds']:.0f} | "
                     f"{s['analyze']['seconds']:.0f} | {ea:.0f} | {1000 * ea / r['n']:.2f} | "
                     f"{s['simulate']['peak_mb']:.0f} / {s['embed']['peak_mb']:.0f} / {s['analyze']['peak_mb']:.0f} | "
                     f"{r['query']['median_ms']:.1f} / {r['query']['p95_ms']:.1f} | "
                     f"{r.get('measured', doc['conditions']['date'])} ({_load_text(r, doc)}) |")
    lines += ["", "![seconds per step, log-log](scale.png)", "", "## Where analyze's time goes (seconds)", ""]
    names = list(dict.fromkeys(k for r in sizes for k in r.get("analyze_steps", {})))
    if names:
        lines += ["| step | " + " | ".join(f"{r['n']:,}" for r in sizes) + " |",
                  "|---|" + "---|" * len(sizes)]
        lines += [f"| {k} | " + " | ".join(str(r.get("analyze_steps", {}).get(k, "–")) for r in sizes) + " |"
                  for k in names]
        lines.append("")
    return "\n".join(lines)


def _load_text(rec: dict, doc: dict) -> str:
    load = rec.get("load_average_at_start", doc["conditions"]["load_average_at_start"])
    return ", ".join(f"{v:.1f}" for v in load)


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(doc["sizes"].values(), key=lambda r: r["n"])
    ns = [r["n"] for r in sizes]
    fig, ax = plt.subplots(figsize=(6, 4))
    for step in STEPS:
        ax.loglog(ns, [r["steps"][step]["seconds"] for r in sizes], "o-", label=step)
    ref = sizes[0]["steps"]["embed"]["seconds"]
    ax.loglog(ns, [ref * n / ns[0] for n in ns], "k:", label="linear (from embed)")
    ax.set_xlabel("objects")
    ax.set_ylabel("seconds")
    ax.set_title("AstroM3 Explorer: pipeline cost by sky size (2 cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--root", type=Path, default=Path("/tmp/astrom3-scale"))
    ap.add_argument("--fresh", action="store_true", help="delete this size's sky and workspace first, redo every step")
    ap.add_argument("--render", action="store_true", help="only rewrite scale.md and scale.png from scale.json")
    args = ap.parse_args(argv)
    if args.render:
        doc = json.loads((RESULTS / "scale.json").read_text())
        (RESULTS / "scale.md").write_text(markdown(doc))
        plot(doc, RESULTS / "scale.png")
        return 0
    args.root.mkdir(parents=True, exist_ok=True)
    doc = {"command": "python benchmarks/bench_scale.py --sizes " + " ".join(map(str, args.sizes)),
           "conditions": conditions(), "sizes": _load()}
    for n in args.sizes:
        doc["sizes"][str(n)] = measure(n, args.root, args.fresh)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "scale.json").write_text(json.dumps(doc, indent=1) + "\n")
        (RESULTS / "scale.md").write_text(markdown(doc))
        plot(doc, RESULTS / "scale.png")
    print(f"written: {RESULTS / 'scale.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
