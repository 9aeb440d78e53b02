"""``astrom3 simulate OUT``: write a realistic simulated sky (the demo dataset) with its truth table."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "simulate", help="write a simulated AstroM3-like sky with planted errors",
        description="Simulate ASAS-SN light curves, LAMOST spectra and Gaia/2MASS/WISE metadata for the "
                    "ten AstroM3 classes, with planted label errors, anomalies, cross-match errors and "
                    "subclasses recorded in OUT/truth.parquet. Same seed, same files.")
    p.add_argument("out", metavar="OUT", help="sky directory to create")
    p.add_argument("--n", type=int, default=20000, help="number of objects (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--mislabel-rate", type=float, default=0.03, help="share of wrong labels (default 0.03)")
    p.add_argument("--anomaly-rate", type=float, default=0.005, help="share of anomalies (default 0.005)")
    p.add_argument("--crossmatch-rate", type=float, default=0.01,
                   help="share of cross-match errors (default 0.01)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    import pandas as pd

    from core import schema
    from core.simulate import simulate_sky

    start = time.perf_counter()
    out = simulate_sky(args.n, args.seed, out=args.out, mislabel_rate=args.mislabel_rate,
                       anomaly_rate=args.anomaly_rate, crossmatch_rate=args.crossmatch_rate,
                       overwrite=args.force)
    truth = pd.read_parquet(out / schema.TRUTH_FILE,
                            columns=["is_mislabeled", "anomaly_kind", "is_crossmatch_error"])
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"simulated {args.n} objects (seed {args.seed}) into {out} in {time.perf_counter() - start:.1f} s: "
          f"{int(truth['is_mislabeled'].sum())} label errors, {int(truth['anomaly_kind'].notna().sum())} anomalies, "
          f"{int(truth['is_crossmatch_error'].sum())} cross-match errors; {size:.0f} MB")
    return 0
