"""Does a 1M-object sky open in seconds without loading its light curves? open_sky on a big sky.

Writes a seeded sky of N objects (default 1,000,000; each with a light curve of ``--epochs``
points and, for one object in ten, a spectrum) with :class:`core.sky.SkyWriter`, then, in a fresh
process: ``open_sky`` (time and peak memory), reading 1000 random light curves and 100 random
spectra (ms each), and the process's peak memory against the size of the light-curve file.
Writes benchmarks/results/open_sky.md and .json.

    python benchmarks/bench_open_sky.py [--n 1000000] [--epochs 30] [--keep PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BATCH = 50_000


def _lists(rng, n: int, k: int, lo: float, hi: float):
    """``n`` sorted list rows of ``k`` float values in [lo, hi), as Arrow list arrays (fast to build)."""
    import pyarrow as pa

    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    axis = np.sort(rng.uniform(lo, hi, (n, k)), axis=1).ravel()
    value = rng.normal(12, 0.3, n * k).astype(np.float32)
    error = np.abs(rng.normal(0.02, 0.005, n * k)).astype(np.float32)
    return (pa.ListArray.from_arrays(offsets, pa.array(axis)), pa.ListArray.from_arrays(offsets, pa.array(value)),
            pa.ListArray.from_arrays(offsets, pa.array(error)))


def write_big_sky(path: Path, n: int, epochs: int, seed: int = 0) -> float:
    """A sky of ``n`` objects written in batches; returns the seconds it took."""
    import pandas as pd
    import pyarrow as pa

    from core.sky import SkyWriter

    rng = np.random.default_rng(seed)
    ids = np.char.add("OBJ", np.char.zfill(np.arange(n).astype(str), 7))
    labels = rng.choice(["EW", "SR", "EA", "RRAB", "EB", "ROT", "RRC", "HADS", "M", "DSCT"], n)
    t = time.perf_counter()
    with SkyWriter(path, overwrite=True) as w:
        w.write_objects(pd.DataFrame({"id": ids, "label": labels, "period": rng.lognormal(0, 1.5, n),
                                      "amplitude": rng.lognormal(-1, 0.5, n), "parallax": rng.normal(1, 0.5, n)}))
        for s in range(0, n, BATCH):
            m = min(BATCH, n - s)
            tm, mag, err = _lists(rng, m, epochs, 0, 2000)
            w.write_lightcurves(pa.table({"id": pa.array(ids[s:s + m]), "time": tm, "mag": mag, "mag_err": err}))
        spec_ids = ids[::10]
        for s in range(0, len(spec_ids), BATCH // 10):
            part = spec_ids[s:s + BATCH // 10]
            wl, fl, fe = _lists(rng, len(part), 500, 3800, 9000)
            w.write_spectra(pa.table({"id": pa.array(part), "wavelength": wl, "flux": fl, "flux_err": fe}))
    return time.perf_counter() - t


MEASURE = r"""
import json, sys, time
import numpy as np
def peak_mb():  # this process's peak resident memory (VmHWM; getrusage would include the parent's before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
t = time.perf_counter()
from core.sky import open_sky
imp = time.perf_counter() - t
rss0 = peak_mb()
t = time.perf_counter(); sky = open_sky(sys.argv[1]); open_s = time.perf_counter() - t
rss_open = peak_mb()
rng = np.random.default_rng(1)
ids = sky.ids
lc_ms, sp_ms = [], []
for i in rng.choice(len(ids), 1000, replace=False):
    t = time.perf_counter(); lc = sky.lightcurve(ids[i]); lc_ms.append(1000 * (time.perf_counter() - t))
    assert lc is not None and len(lc) > 0
for i in rng.choice(len(sky.spectrum_ids), 100, replace=False):
    t = time.perf_counter(); sp = sky.spectrum(sky.spectrum_ids[i]); sp_ms.append(1000 * (time.perf_counter() - t))
    assert sp is not None
rss_end = peak_mb()
print(json.dumps({"import_s": imp, "open_s": open_s, "n_objects": len(sky), "n_lightcurves": sky.n_lightcurves,
                  "n_spectra": sky.n_spectra, "rss_after_import_mb": rss0, "peak_rss_after_open_mb": rss_open,
                  "peak_rss_after_reads_mb": rss_end, "lightcurve_ms": lc_ms, "spectrum_ms": sp_ms}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--keep", help="write the sky here and keep it (default: a temporary directory)")
    args = ap.parse_args(argv)
    os.environ.setdefault("ASTROM3_PROGRESS", "0")
    tmp = None
    if args.keep:
        path = Path(args.keep)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench_open_sky_"))
        path = tmp / "sky"
    try:
        write_s = write_big_sky(path, args.n, args.epochs)
        sizes = {f.name: f.stat().st_size / 1e6 for f in sorted(path.glob("*.parquet"))}
        proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        m = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    lc, sp = np.asarray(m.pop("lightcurve_ms")), np.asarray(m.pop("spectrum_ms"))
    out = {"n": args.n, "epochs": args.epochs, "write_s": round(write_s, 1), "file_mb": sizes, **m,
           "lightcurve_ms_median": float(np.median(lc)), "lightcurve_ms_p95": float(np.percentile(lc, 95)),
           "spectrum_ms_median": float(np.median(sp)), "spectrum_ms_p95": float(np.percentile(sp, 95)),
           "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
           "load_average": [round(x, 2) for x in os.getloadavg()],
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "open_sky.json").write_text(json.dumps(out, indent=2))
    md = "\n".join([
        f"# Opening a {args.n:,}-object sky", "",
        f"Seeded sky written by `SkyWriter` ({args.epochs} epochs per light curve, a spectrum of 500 pixels for one "
        f"object in ten) in {out['write_s']} s; measured in a fresh process. {out['machine']}; load average "
        f"{out['load_average']}; {out['date']}.", "",
        "| measure | value |", "|---|---|",
        f"| `open_sky` (validates the schema, reads objects and the id columns, indexes row groups) | "
        f"**{m['open_s']:.2f} s** |",
        f"| peak memory after import / after `open_sky` / after 1000 light-curve + 100 spectrum reads | "
        f"{m['rss_after_import_mb']:.0f} / {m['peak_rss_after_open_mb']:.0f} / {m['peak_rss_after_reads_mb']:.0f} MB |",
        "| files | " + ", ".join(f"{k} {v:.0f} MB" for k, v in sizes.items()) + " |",
        f"| one light curve, random id (median / 95th percentile) | {out['lightcurve_ms_median']:.1f} / "
        f"{out['lightcurve_ms_p95']:.1f} ms |",
        f"| one spectrum, random id (median / 95th percentile) | {out['spectrum_ms_median']:.1f} / "
        f"{out['spectrum_ms_p95']:.1f} ms |", "",
        "Target (issue 2): a 1M-object sky opens in seconds and does not load every light curve into memory "
        "(compare the peak memory with the light-curve file's size, which is compressed).", ""])
    (RESULTS / "open_sky.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
