"""Bad skies, one per malformation the sky format must reject, built by our own code in tmp_path.

Each case writes a sky directory and names what the error message must contain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

IDS = ["s0", "s1", "s2"]


def objects_table(ids=IDS, **extra) -> pa.Table:
    cols = {"id": pa.array(ids, pa.string()), "label": pa.array(["EW", "RRAB", None][:len(ids)], pa.string()),
            "period": pa.array([0.4, 0.6, 1.2][:len(ids)], pa.float64())}
    cols.update(extra)
    return pa.table(cols)


def lc_table(ids=IDS, *, times=None, mags=None, errs=None, n=5) -> pa.Table:
    times = times if times is not None else [list(np.arange(n, dtype=float) + 10 * k) for k in range(len(ids))]
    mags = mags if mags is not None else [[12.0] * len(t) for t in times]
    errs = errs if errs is not None else [[0.02] * len(t) for t in times]
    return pa.table({"id": pa.array(ids, pa.string()), "time": pa.array(times, pa.list_(pa.float64())),
                     "mag": pa.array(mags, pa.list_(pa.float32())), "mag_err": pa.array(errs, pa.list_(pa.float32()))})


def sp_table(ids=IDS[:2]) -> pa.Table:
    wl = list(np.linspace(3700, 9100, 8))
    return pa.table({"id": pa.array(ids, pa.string()),
                     "wavelength": pa.array([wl] * len(ids), pa.list_(pa.float64())),
                     "flux": pa.array([[1.0] * 8] * len(ids), pa.list_(pa.float32())),
                     "flux_err": pa.array([[0.1] * 8] * len(ids), pa.list_(pa.float32()))})


def write(root: Path, objects=None, lightcurves=None, spectra=None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, table in (("objects", objects), ("lightcurves", lightcurves), ("spectra", spectra)):
        if table is not None:
            pq.write_table(table, root / f"{name}.parquet")
    return root


@dataclass
class Case:
    """A bad sky: how to build it, and what the error must name."""

    name: str
    build: callable
    file: str                      # file name the message must contain
    column: str | None = None      # "column '<c>'" must appear
    ids: list = field(default_factory=list)   # each "'<id>'" must appear
    words: str = ""                # a phrase of the problem
    at_open: bool = True           # raised by open_sky (else only when scanning: validate_sky)


def _drop(table: pa.Table, col: str) -> pa.Table:
    return table.drop_columns([col])


def _truncated(root: Path) -> Path:
    write(root, objects_table(), lc_table())
    p = root / "lightcurves.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return root


def _text_as_parquet(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "objects.parquet").write_text("id,label\ns0,EW\n")
    return root


def _not_a_dir(root: Path) -> Path:
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text("I am a file")
    return root


CASES = [
    Case("objects missing label", lambda r: write(r, _drop(objects_table(), "label")),
         "objects.parquet", "label", words="missing required column"),
    Case("objects missing id", lambda r: write(r, _drop(objects_table(), "id")),
         "objects.parquet", "id", words="missing required column"),
    Case("lightcurves missing time", lambda r: write(r, objects_table(), _drop(lc_table(), "time")),
         "lightcurves.parquet", "time", words="missing required column"),
    Case("lightcurves missing mag_err", lambda r: write(r, objects_table(), _drop(lc_table(), "mag_err")),
         "lightcurves.parquet", "mag_err", words="missing required column"),
    Case("spectra missing flux_err", lambda r: write(r, objects_table(), None, _drop(sp_table(), "flux_err")),
         "spectra.parquet", "flux_err", words="missing required column"),
    Case("spectra missing wavelength", lambda r: write(r, objects_table(), None, _drop(sp_table(), "wavelength")),
         "spectra.parquet", "wavelength", words="missing required column"),
    Case("duplicate object ids", lambda r: write(r, objects_table(["s0", "s1", "s0"])),
         "objects.parquet", "id", ["s0"], "duplicate ids"),
    Case("duplicate light-curve ids", lambda r: write(r, objects_table(), lc_table(["s0", "s1", "s1"])),
         "lightcurves.parquet", "id", ["s1"], "duplicate ids"),
    Case("light-curve ids not in objects", lambda r: write(r, objects_table(), lc_table(["s0", "ghost", "s2"])),
         "lightcurves.parquet", "id", ["ghost"], "not in objects.parquet"),
    Case("spectrum ids not in objects", lambda r: write(r, objects_table(), None, sp_table(["s0", "phantom"])),
         "spectra.parquet", "id", ["phantom"], "not in objects.parquet"),
    Case("non-finite times", lambda r: write(r, objects_table(), lc_table(
        times=[[1.0, 2.0], [1.0, float("nan")], [1.0, float("inf")]])),
        "lightcurves.parquet", "time", ["s1", "s2"], "non-finite", at_open=False),
    Case("mismatched list lengths", lambda r: write(r, objects_table(), lc_table(
        times=[[1.0, 2.0]] * 3, mags=[[12.0, 12.0], [12.0], [12.0, 12.0]])),
        "lightcurves.parquet", "mag", ["s1"], "differs from 'time'", at_open=False),
    Case("empty light curve", lambda r: write(r, objects_table(), lc_table(times=[[1.0], [], [2.0]])),
         "lightcurves.parquet", "time", ["s1"], "empty list", at_open=False),
    Case("negative errors", lambda r: write(r, objects_table(), lc_table(
        times=[[1.0, 2.0]] * 3, errs=[[0.1, 0.1], [0.1, 0.1], [0.1, -0.1]])),
        "lightcurves.parquet", "mag_err", ["s2"], "negative", at_open=False),
    Case("id as int", lambda r: write(r, objects_table().set_column(0, "id", pa.array([1, 2, 3]))),
         "objects.parquet", "id", ["1", "2", "3"], "wrong dtype int64"),
    Case("period as string", lambda r: write(r, objects_table().set_column(
        2, "period", pa.array(["0.4", "0.6", "x"]))), "objects.parquet", "period", ["s2"], "wrong dtype string"),
    Case("time as strings", lambda r: write(r, objects_table(), lc_table().set_column(
        1, "time", pa.array([["1", "2"]] * 3, pa.list_(pa.string())))),
        "lightcurves.parquet", "time", IDS, "wrong dtype list<"),
    Case("light-curve id as int", lambda r: write(r, objects_table(), lc_table().set_column(
        0, "id", pa.array([0, 1, 2]))), "lightcurves.parquet", "id", ["0", "1", "2"], "wrong dtype int64"),
    Case("label as int", lambda r: write(r, objects_table().set_column(1, "label", pa.array([3, 4, None]))),
         "objects.parquet", "label", ["s0", "s1"], "wrong dtype int64"),
    Case("truncated parquet", _truncated, "lightcurves.parquet", words="cannot be read as parquet"),
    Case("text file named .parquet", _text_as_parquet, "objects.parquet", words="cannot be read as parquet"),
    Case("missing objects.parquet", lambda r: write(r, None, lc_table()), "objects.parquet", words="file missing"),
    Case("not a directory", _not_a_dir, "notadir", words="not a directory"),
]
