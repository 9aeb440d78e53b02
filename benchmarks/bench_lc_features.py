"""Hand-made light-curve features (analyze's label-error baseline): our moments vs scipy.stats', same run.

Usage::

    python benchmarks/bench_lc_features.py [--n 3000] [--repeats 3]

Simulates a seeded sky of ``n`` objects (``core.simulate``), then times
``core.analysis.baselines.lightcurve_features`` on all of it ``repeats`` times with
:func:`~core.analysis.baselines.skew_kurtosis` (ours) and with ``scipy.stats.skew`` / ``kurtosis`` put
in its place, alternating; checks the two feature tables are identical. Writes
``benchmarks/results/lc_features.md`` and ``.json`` with the conditions.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def scipy_moments(v):
    from scipy.stats import kurtosis, skew

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(skew(v)), float(kurtosis(v))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    os.environ.setdefault("ASTROM3_PROGRESS", "0")
    import importlib.metadata as md

    from core.analysis import baselines
    from core.simulate import simulate_sky
    from core.sky import open_sky

    load0 = [round(x, 2) for x in os.getloadavg()]
    ours = baselines.skew_kurtosis
    with tempfile.TemporaryDirectory() as tmp:
        sky = open_sky(simulate_sky(args.n, 0, out=Path(tmp) / "sky"))
        baselines.lightcurve_features(sky, ids=list(sky.ids[:50]))          # imports, caches
        times: dict[str, list[float]] = {"ours": [], "scipy.stats": []}
        tables = {}
        for _ in range(args.repeats):
            for name, fn in (("scipy.stats", scipy_moments), ("ours", ours)):
                baselines.skew_kurtosis = fn
                t = time.perf_counter()
                tables[name] = baselines.lightcurve_features(sky)
                times[name].append(time.perf_counter() - t)
        baselines.skew_kurtosis = ours
    identical = tables["ours"].equals(tables["scipy.stats"])
    med = {k: float(np.median(v)) for k, v in times.items()}
    doc = {"command": f"python benchmarks/bench_lc_features.py --n {args.n} --repeats {args.repeats}",
           "n": args.n, "seconds": times, "median_s": med,
           "ms_per_star": {k: 1000 * v / args.n for k, v in med.items()},
           "ratio_scipy_over_ours": med["scipy.stats"] / med["ours"], "identical_features": identical,
           "conditions": {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
                          "python": platform.python_version(), "load_average_at_start": load0,
                          "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                          "versions": {p: md.version(p) for p in ("numpy", "scipy", "astropy")}}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lc_features.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = ["# Light-curve features: skewness and kurtosis without scipy's per-call cost", "",
             f"`{doc['command']}`: `lightcurve_features` on a simulated sky of {args.n:,} objects, "
             f"{args.repeats} runs each, alternating.", "", f"Conditions: {json.dumps(doc['conditions'])}", "",
             "| moments from | median s | ms per star | every run s |", "|---|---|---|---|"]
    for k in ("scipy.stats", "ours"):
        lines.append(f"| {k} | {med[k]:.2f} | {doc['ms_per_star'][k]:.2f} | "
                     f"{', '.join(f'{x:.2f}' for x in times[k])} |")
    lines += ["", f"Ratio scipy.stats / ours: **{doc['ratio_scipy_over_ours']:.2f}x**; feature tables identical: "
              f"{identical}.", ""]
    (RESULTS / "lc_features.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
