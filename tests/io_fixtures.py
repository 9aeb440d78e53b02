"""Tiny survey-format fixtures written at test time (by our own code, into tmp_path)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_astrom3_parquet(path: Path, n: int = 4, *, nested_metadata: bool = True, flat_arrays: bool = False,
                          id_column: str = "id", int_labels: bool = False, seed: int = 0) -> Path:
    """An AstroM3-layout parquet: photometry (N,3), spectra (M,3), metadata{meta_cols,photo_cols}, label."""
    rng = np.random.default_rng(seed)
    rows = []
    labels = ["EW", "RRAB", "SR", "M", "DSCT", "EA"]
    for i in range(n):
        t = np.sort(rng.uniform(0, 1000, 20 + i))
        ph = np.column_stack([t, rng.normal(10, 1, len(t)), np.full(len(t), 0.1)])
        wl = np.linspace(3850, 9000, 30)
        sp = np.column_stack([wl, rng.normal(1, 0.1, 30), np.full(30, 0.05)])
        if i == n - 1:
            sp = np.empty((0, 3))   # last object has no spectrum
        meta = {"meta_cols": {"mean_vmag": 12.0 + i, "parallax": 0.5 * (i + 1)},
                "photo_cols": {"period": 0.3 + i, "amplitude": 0.5}}
        row = {id_column: f"ASASSN-V J{i:04d}",
               "photometry": ph.ravel().tolist() if flat_arrays else ph.tolist(),
               "spectra": sp.ravel().tolist() if flat_arrays else sp.tolist(),
               "label": i % len(labels) if int_labels else labels[i % len(labels)]}
        if nested_metadata:
            row["metadata"] = meta
        else:
            row.update(meta["meta_cols"])
            row.update(meta["photo_cols"])
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


ASASSN_HEADER = "HJD,UT Date,Camera,FWHM,Limit,mag,mag_err,flux(mJy),flux_err"


def write_asassn_dir(root: Path, n: int = 3, *, seed: int = 0) -> tuple[Path, Path]:
    """``root/lcs/<name>.csv`` ASAS-SN light curves (one 99.99 and one '>17' point each) + ``root/catalog.csv``."""
    rng = np.random.default_rng(seed)
    lcs = root / "lcs"
    lcs.mkdir(parents=True)
    cat = []
    for i in range(n):
        name = f"ASASSN-V_J{i:02d}"
        hjd = 2457000 + np.sort(rng.uniform(0, 800, 15))
        lines = [ASASSN_HEADER]
        for j, t in enumerate(hjd):
            mag = f"{12 + 0.1 * np.sin(t):.3f}"
            err = "0.020"
            if j == 3:
                mag, err = "99.990", "99.990"
            if j == 5:
                mag = ">17.1"
            lines.append(f"{t:.5f},2016-01-01,bd,1.5,17.1,{mag},{err},5.0,0.1")
        (lcs / f"{name}.csv").write_text("\n".join(lines) + "\n")
        cat.append({"name": name, "variable_type": ["EW", "RRAB", "SR"][i % 3], "raj2000": 10.0 + i,
                    "dej2000": -5.0 - i, "period": 0.4 + i, "amplitude": 0.3, "mean_vmag": 12.0})
    catalog = root / "catalog.csv"
    pd.DataFrame(cat).to_csv(catalog, index=False)
    return lcs, catalog


def write_crts_dir(root: Path, *, seed: int = 0) -> tuple[Path, Path]:
    """Three CRTS files: plain ``MJD mag err`` with extra columns, headed CSS download, and a # comment."""
    rng = np.random.default_rng(seed)
    d = root / "crts"
    d.mkdir(parents=True)
    mjd = 53500 + np.sort(rng.uniform(0, 3000, 12))
    (d / "1001.dat").write_text("\n".join(f"{t:.5f} {15 + 0.01 * k:.3f} 0.05 0 1" for k, t in enumerate(mjd)) + "\n")
    lines = ["MasterID,Mag,Magerr,RA,Dec,MJD,Blend"]
    lines += [f"1002,{16.0:.2f},0.07,10.0,-3.0,{t:.5f},0" for t in mjd[::-1]]   # unsorted
    (d / "css_1002.csv").write_text("\n".join(lines) + "\n")
    (d / "1003.dat").write_text("# MJD mag err\n" + "\n".join(f"{t:.5f} 14.0 0.04" for t in mjd[:8])
                                + "\n53000.0 nan 0.04\n")
    catalog = root / "crts_catalog.csv"
    pd.DataFrame({"id": ["1001", "1002", "1003"], "label": ["EW", "RRAB", "ROT"], "ra": [1.0, 2.0, 3.0],
                  "dec": [0.0, 0.5, 1.0], "period": [0.35, 0.6, 5.0]}).to_csv(catalog, index=False)
    return d, catalog


def write_lamost_fits(path: Path, *, obsid: int = 123456, n: int = 500, ra: float = 10.5, dec: float = 20.25,
                      layout: str = "primary", subclass: str = "G2", seed: int = 0) -> Path:
    """A LAMOST-layout spectrum: primary (5, N) rows flux/ivar/wavelength/andmask/ormask, or DR8+ COADD table."""
    from astropy.io import fits

    rng = np.random.default_rng(seed)
    wave = np.linspace(3700, 9100, n)
    flux = rng.normal(100, 5, n)
    ivar = np.full(n, 0.04)
    andmask = np.zeros(n)
    andmask[10] = 4       # one masked pixel
    flux[20] = np.nan     # one bad pixel
    hdr = fits.Header()
    for k, v in {"OBSID": obsid, "RA": ra, "DEC": dec, "Z": 1e-4, "CLASS": "STAR", "SUBCLASS": subclass,
                 "SNRG": 50.0, "DESIG": f"LAMOST J{obsid}"}.items():
        hdr[k] = v
    if layout == "primary":
        hdul = fits.HDUList([fits.PrimaryHDU(np.vstack([flux, ivar, wave, andmask, andmask]).astype(np.float32),
                                             header=hdr)])
    else:
        cols = [fits.Column(name=c, format=f"{n}E", array=a[None, :])
                for c, a in (("FLUX", flux), ("IVAR", ivar), ("WAVELENGTH", wave),
                             ("ANDMASK", andmask), ("ORMASK", andmask))]
        hdul = fits.HDUList([fits.PrimaryHDU(header=hdr), fits.BinTableHDU.from_columns(cols, name="COADD")])
    hdul.writeto(path)
    return path
