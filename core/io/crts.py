"""Catalina Real-time Transient Survey light curves (.dat) + catalogue CSV.

Accepted layouts: whitespace- or comma-separated columns ``MJD mag err`` without header (extra
columns ignored), or with a header naming ``MJD``, ``Mag``, ``Magerr`` in any order (the CSS
download format ``MasterID,Mag,Magerr,RA,Dec,MJD,Blend``). A ``MasterID`` column splits one file
into several stars; otherwise the file stem is the star's key, matched against the catalogue.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import SkyValidationError
from core.io._common import data_files
from core.io._lightcurves import clean, write_lightcurves

_SEP = r"[,\s]+"


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def read_file(path: Path):
    """Yield (key, path, time, mag, err, dropped) for every star in one CRTS file."""
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines()]
    except (UnicodeDecodeError, OSError) as exc:
        raise SkyValidationError(path, f"cannot be read as text ({exc})", expected="a CRTS .dat file") from None
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        yield path.stem, path, np.array([]), np.array([]), np.array([]), 0
        return
    first = re.split(_SEP, lines[0])
    if not all(_is_number(tok) for tok in first):
        names = [n.lower() for n in first]
        body = lines[1:]
    else:
        names = None
        body = lines
    rows = [re.split(_SEP, ln) for ln in body]
    width = min((len(r) for r in rows), default=0)
    if names is None:
        if width < 3:
            bad = [i for i, r in enumerate(rows) if len(r) < 3]
            raise SkyValidationError(path, "fewer than 3 columns", rows=bad, expected="MJD mag err per line")
        tcol, mcol, ecol, idcol = 0, 1, 2, None
    else:
        def find(*cands):
            return next((names.index(c) for c in cands if c in names), None)
        tcol, mcol = find("mjd", "time", "hjd"), find("mag", "mag_v", "v")
        ecol = find("magerr", "mag_err", "err", "error")
        idcol = find("masterid", "id")
        for col, name in ((tcol, "MJD"), (mcol, "Mag"), (ecol, "Magerr")):
            if col is None:
                raise SkyValidationError(path, "missing required column", column=name,
                                         expected="a header naming MJD, Mag, Magerr (or no header: MJD mag err)")
    need = max(c for c in (tcol, mcol, ecol, idcol) if c is not None) + 1
    short = [i for i, r in enumerate(rows) if len(r) < need]
    if short:
        raise SkyValidationError(path, "line with too few columns", rows=short, expected=f"at least {need} columns")
    arr = np.array([[r[tcol], r[mcol], r[ecol]] for r in rows], dtype=object)
    t, m, e = (pd.to_numeric(pd.Series(arr[:, j]), errors="coerce").to_numpy(float) for j in range(3))
    if len(t) and not np.isfinite(t).any():
        raise SkyValidationError(path, "times are not numbers", column="MJD", rows=range(len(t)), expected="MJD days")
    if idcol is None:
        yield (path.stem, path, *clean(t, m, e))
        return
    keys = np.array([r[idcol] for r in rows])
    for key in dict.fromkeys(keys):
        sel = keys == key
        yield (str(key), path, *clean(t[sel], m[sel], e[sel]))


def read(src: Path, writer, *, catalog=None, keep_unmatched: bool = False) -> None:
    """Read CRTS light-curve files (a directory or one file) and ``catalog`` into ``writer``."""
    files = data_files(Path(src), ("*.dat", "*.txt", "*.csv"), "CRTS light-curve")
    if catalog is not None:
        files = [f for f in files if f.resolve() != Path(catalog).resolve()]
    curves = (c for f in files for c in read_file(f))
    write_lightcurves(src, writer, curves, catalog=catalog, keep_unmatched=keep_unmatched)
