"""ASAS-SN light curves: one CSV per star (Sky Patrol / variable-star database export) + catalogue CSV.

Columns are matched case-insensitively: time from ``hjd``/``jd``/``bjd``/``mjd``, ``mag``,
``mag_err``; ``camera``, ``fwhm``, ``image``, ``flux`` etc. are ignored. Points flagged
``quality == 'B'`` (Sky Patrol v2), upper limits (``>17.2``), 99.99 flags and non-finite values
are dropped, with a count in a warning. The object id is the file stem matched against the
catalogue's id or name columns (``id``, ``name``, ``asassn_name``, ...).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import SkyValidationError
from core.io._common import data_files
from core.io._lightcurves import clean, write_lightcurves

TIME_COLUMNS = ("hjd", "jd", "bjd", "mjd", "time")


def read_file(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One ASAS-SN CSV -> (time, mag, mag_err, number of dropped points)."""
    try:
        df = pd.read_csv(path, dtype=str, comment="#", skipinitialspace=True)
    except Exception as exc:
        raise SkyValidationError(path, f"cannot be read as CSV ({type(exc).__name__}: {exc})",
                                 expected="an ASAS-SN light-curve CSV (HJD, camera, mag, mag_err, ...)") from None
    df.columns = [c.strip().lower() for c in df.columns]
    tcol = next((c for c in TIME_COLUMNS if c in df.columns), None)
    for col, name in ((tcol, "hjd"), ("mag" if "mag" in df.columns else None, "mag"),
                      ("mag_err" if "mag_err" in df.columns else None, "mag_err")):
        if col is None:
            raise SkyValidationError(path, "missing required column", column=name,
                                     expected="columns HJD (or JD/BJD/MJD), mag, mag_err")
    n_bad_quality = 0
    if "quality" in df.columns:  # Sky Patrol v2: G good, B bad
        good = df["quality"].fillna("G").str.strip().str.upper() != "B"
        n_bad_quality = int((~good).sum())
        df = df[good]
    t = pd.to_numeric(df[tcol], errors="coerce").to_numpy(float)
    m = pd.to_numeric(df["mag"], errors="coerce").to_numpy(float)   # '>17.2' limits -> NaN -> dropped
    e = pd.to_numeric(df["mag_err"], errors="coerce").to_numpy(float)
    bad_t = np.flatnonzero(~np.isfinite(t) & df[tcol].notna().to_numpy())
    if len(bad_t) and len(bad_t) == len(t):
        raise SkyValidationError(path, "times are not numbers", column=tcol, rows=bad_t, expected="numbers (days)")
    t, m, e, dropped = clean(t, m, e)
    return t, m, e, dropped + n_bad_quality


def read(src: Path, writer, *, catalog=None, keep_unmatched: bool = False) -> None:
    """Read a directory of ASAS-SN CSVs (and ``catalog``) into ``writer``."""
    files = data_files(Path(src), ("*.csv", "*.dat", "*.txt"), "ASAS-SN light-curve")
    if catalog is not None:
        files = [f for f in files if f.resolve() != Path(catalog).resolve()]
    write_lightcurves(src, writer, ((f.stem, f, *read_file(f)) for f in files),
                      catalog=catalog, keep_unmatched=keep_unmatched)
