"""Benchmark the demo sky simulator: time, throughput, peak memory and file sizes of a 20k sky.

    python benchmarks/bench_simulate.py [--n 20000] [--seed 0] [--keep PATH]

Writes benchmarks/results/simulate.md and simulate.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", help="write the sky here and keep it (default: a temporary directory)")
    ap.add_argument("--note", default="other agents were working on the same 2 cores at the same time",
                    help="what else was running")
    args = ap.parse_args(argv)
    os.environ.setdefault("ASTROM3_PROGRESS", "0")
    t_import = time.perf_counter()
    from core.simulate import simulate_sky
    from core.sky import validate_sky
    t_import = time.perf_counter() - t_import

    tmp = tempfile.mkdtemp()
    out = Path(args.keep) if args.keep else Path(tmp) / "sky"
    try:
        start, cpu0 = time.perf_counter(), time.process_time()
        simulate_sky(args.n, args.seed, out=out, overwrite=True)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sizes = {f.name: round(f.stat().st_size / 1e6, 2) for f in sorted(out.iterdir())}
        t_val = time.perf_counter()
        summary = validate_sky(out)
        t_val = time.perf_counter() - t_val
        res = {
            "n": args.n, "seed": args.seed, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "objects_per_s": round(args.n / wall, 1), "peak_rss_mb": round(peak_mb, 1),
            "file_sizes_mb": sizes, "total_mb": round(sum(sizes.values()), 1),
            "validate_seconds": round(t_val, 2), "import_seconds": round(t_import, 2),
            "epochs": summary.epochs, "spectrum_pixels": summary.spectrum_pixels,
            "labels": summary.labels, "machine": f"{os.cpu_count()} cores", "note": args.note,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "simulate.json").write_text(json.dumps(res, indent=2) + "\n")
    lines = [
        "# Simulator benchmark", "",
        f"`simulate_sky({args.n}, seed={args.seed})`, {res['date']}, on {res['machine']} ({args.note}).", "",
        "| measure | value |", "|---|---|",
        f"| wall time | {res['seconds']} s |", f"| CPU time | {res['cpu_seconds']} s |",
        f"| throughput | {res['objects_per_s']} objects/s |",
        f"| peak RSS (whole process) | {res['peak_rss_mb']} MB |",
        f"| total size | {res['total_mb']} MB |",
        *[f"| {k} | {v} MB |" for k, v in sizes.items()],
        f"| validate_sky (full scan) | {res['validate_seconds']} s |",
        f"| epochs per light curve min/median/max | {summary.epochs.get('min'):.0f} / {summary.epochs.get('median'):.0f} / {summary.epochs.get('max'):.0f} |",
        f"| spectrum pixels | {summary.spectrum_pixels.get('median'):.0f} |",
        "", "Objects per label: " + ", ".join(f"{k} {v}" for k, v in res["labels"].items()), "",
    ]
    (RESULTS / "simulate.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
