"""Evaluate the discovery scores against the planted truth for one or more simulated skies.

Usage::

    python benchmarks/bench_discovery.py --sky demo/sky20k-s0 --workspace demo/ws20k-s0 --seed 0

Writes ``benchmarks/results/discovery-seed<seed>.md`` and ``.json`` (our scores and the baselines)
and prints the Markdown. Same as ``astrom3 evaluate WS --truth SKY/truth.parquet --sky SKY --out ...``
plus a note on the machine.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--seed", type=int, default=0, help="the sky's seed (names the output)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    from core.analysis.evaluate import evaluate, to_markdown, write_report

    t = time.perf_counter()
    rep = evaluate(args.workspace, args.sky, sky=args.sky, seed=0)
    rep["sky"] = str(args.sky)
    note = (f"Sky `{args.sky}` (simulator seed {args.seed}); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"{os.cpu_count()} CPU cores shared with other agents (load average {os.getloadavg()[0]:.2f}); "
            f"evaluation took {time.perf_counter() - t:.0f} s. {args.note}")
    out = Path(args.out or Path(__file__).parent / "results" / f"discovery-seed{args.seed}")
    write_report(rep, out, notes=note)
    print(to_markdown(rep, notes=note))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
