"""Shared loop of the per-star light-curve readers (ASAS-SN, CRTS)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import AstroM3Error, SkyValidationError
from core.io._common import match_ids, objects_table, read_catalogue, warn_dropped

BATCH = 1000


def clean(time, mag, err, *, bad_mag=99.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Drop non-finite/flagged points (mag or error >= ``bad_mag``, negative errors); sort by time."""
    ok = np.isfinite(time) & np.isfinite(mag) & np.isfinite(err) & (mag < bad_mag) & (err < bad_mag) & (err >= 0)
    t, m, e = time[ok], mag[ok], err[ok]
    order = np.argsort(t, kind="stable")
    return t[order], m[order], e[order], int((~ok).sum())


def write_lightcurves(src: Path, writer, curves, *, catalog=None, keep_unmatched=False,
                      what: str = "light curve") -> None:
    """Write objects + light curves from ``curves``: an iterable of (key, file, time, mag, err, n_dropped)."""
    catalogue = read_catalogue(catalog) if catalog else None
    rows, n_dropped, n_files, seen, empty = [], 0, 0, {}, []
    ids_with_data: list[str] = []
    pending = []
    for key, file, t, m, e, dropped in curves:
        n_files += 1
        n_dropped += dropped
        pending.append((key, file, t, m, e))
    mapping = match_ids([k for k, *_ in pending], catalogue, source=str(catalog or src),
                        keep_unmatched=keep_unmatched)
    for key, file, t, m, e in pending:
        if key not in mapping:
            continue
        oid = mapping[key]
        if oid in seen:
            raise SkyValidationError(file, "second light curve for the same object", column="id", ids=[oid],
                                     expected=f"one {what} per object (first was {seen[oid]})")
        seen[oid] = file.name
        if len(t) == 0:
            empty.append(oid)
            continue
        ids_with_data.append(oid)
        rows.append((oid, t, m, e))
    if not rows:
        raise AstroM3Error(f"{src}: no usable {what} (every file was empty after dropping flagged points)")
    warn_dropped("flagged/non-finite points (99.99 mags, NaN, negative errors)", n_dropped, n_files)
    warn_dropped(f"empty {what}s (objects kept without light curve: {', '.join(empty[:5])})", len(empty), len(empty))
    objects = objects_table(catalogue, ids_with_data + empty)
    writer.write_objects(objects)
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        writer.write_lightcurves(pd.DataFrame({
            "id": [r[0] for r in chunk], "time": [r[1] for r in chunk],
            "mag": [r[2] for r in chunk], "mag_err": [r[3] for r in chunk]}))
