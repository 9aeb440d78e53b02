"""LAMOST low-resolution spectra (FITS) [+ catalogue CSV].

Two layouts: DR1-DR7, a primary HDU of shape (5, N) with rows flux, ivar, wavelength, andmask,
ormask; DR8+, a binary-table extension ``COADD`` with array columns FLUX, IVAR, WAVELENGTH,
ANDMASK, ORMASK. The header gives OBSID, RA, DEC, Z, CLASS, SUBCLASS and SNR*. Pixels with a
non-zero ``andmask`` or non-finite flux get ``ivar = 0`` (kept, with infinite error).

Without a catalogue each spectrum is its own unlabelled object (id = OBSID, else the file stem).
With one, the file name, stem or OBSID must match a catalogue key column (id/name/obsid/file).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import AstroM3Error, SkyValidationError
from core.io._common import data_files, match_ids, objects_table, read_catalogue

HEADER_COLUMNS = {"RA": "ra", "DEC": "dec", "Z": "z", "CLASS": "lamost_class", "SUBCLASS": "lamost_subclass",
                  "SNRU": "snr_u", "SNRG": "snr_g", "SNRR": "snr_r", "SNRI": "snr_i", "SNRZ": "snr_z",
                  "DESIG": "lamost_name"}
BATCH = 256


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".fits.gz", ".fit.gz", ".fits", ".fit"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_file(path: Path) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """One LAMOST FITS file -> (header values, wavelength, flux, ivar)."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header
            if hdul[0].data is not None and np.ndim(hdul[0].data) == 2 and hdul[0].data.shape[0] >= 3:
                data = np.asarray(hdul[0].data, dtype=np.float64)
                flux, ivar, wave = data[0], data[1], data[2]
                andmask = data[3] if data.shape[0] > 3 else np.zeros_like(flux)
            else:
                ext = next((h for h in hdul[1:] if isinstance(h, fits.BinTableHDU)
                            and "FLUX" in [c.upper() for c in h.columns.names]), None)
                if ext is None:
                    raise SkyValidationError(
                        path, "no spectrum found",
                        expected="a (5, N) primary HDU or a COADD table with FLUX, IVAR, WAVELENGTH")
                names = {c.upper(): c for c in ext.columns.names}
                for col in ("FLUX", "IVAR", "WAVELENGTH"):
                    if col not in names:
                        raise SkyValidationError(path, "missing required column", column=col,
                                                 expected="COADD columns FLUX, IVAR, WAVELENGTH")
                row = ext.data[0]
                flux, ivar, wave = (np.asarray(row[names[c]], dtype=np.float64).ravel()
                                    for c in ("FLUX", "IVAR", "WAVELENGTH"))
                andmask = (np.asarray(row[names["ANDMASK"]], dtype=np.float64).ravel()
                           if "ANDMASK" in names else np.zeros_like(flux))
            info = {col: header.get(key) for key, col in HEADER_COLUMNS.items()}
            info["obsid"] = header.get("OBSID")
    except SkyValidationError:
        raise
    except Exception as exc:
        raise SkyValidationError(path, f"cannot be read as FITS ({type(exc).__name__}: {exc})",
                                 expected="a LAMOST low-resolution spectrum (.fits or .fits.gz)") from None
    if not (len(flux) == len(ivar) == len(wave)) or len(wave) == 0:
        raise SkyValidationError(path, "flux, ivar and wavelength lengths differ or are empty", column="flux")
    ok_wave = np.isfinite(wave)
    flux, ivar, wave, andmask = flux[ok_wave], ivar[ok_wave], wave[ok_wave], andmask[ok_wave]
    bad = ~np.isfinite(flux) | ~np.isfinite(ivar) | (ivar < 0) | (andmask != 0)
    flux = np.where(np.isfinite(flux), flux, 0.0)
    ivar = np.where(bad, 0.0, ivar)
    order = np.argsort(wave, kind="stable")
    return info, wave[order], flux[order], ivar[order]


def read(src: Path, writer, *, catalog=None, keep_unmatched: bool = False) -> None:
    """Read LAMOST FITS spectra (a directory or one file) and optional ``catalog`` into ``writer``."""
    files = data_files(Path(src), ("*.fits", "*.fits.gz", "*.fit", "*.fit.gz"), "LAMOST FITS")
    catalogue = read_catalogue(catalog) if catalog else None
    records = []
    for f in files:
        info, wave, flux, ivar = read_file(f)
        obsid = info.pop("obsid")
        key = str(obsid) if obsid not in (None, "") and catalogue is None else _stem(f)
        records.append((key, f, obsid, info, wave, flux, ivar))
    if catalogue is not None:
        # match on the file name, then the stem, then the OBSID
        lookup_keys = []
        for key, f, obsid, *_ in records:
            cands = [f.name, key] + ([str(obsid)] if obsid is not None else [])
            lookup_keys.append(cands)
        flat = [c for cands in lookup_keys for c in cands]
        mapping = match_ids(flat, catalogue, source=str(catalog), keep_unmatched=True)
        known = set(catalogue["id"])
        ids, missing = [], []
        for cands in lookup_keys:
            hit = next((mapping[c] for c in cands if mapping.get(c) in known), None)
            if hit is None:
                missing.append(cands[0])
                hit = cands[2] if len(cands) > 2 else cands[1]
            ids.append(hit)
        if missing and not keep_unmatched:
            raise SkyValidationError(catalog, "spectra without a catalogue row", column="id", ids=missing,
                                     expected="a row whose id/name/obsid/file matches each FITS file, or "
                                              "--keep-unmatched to keep them unlabelled")
    else:
        ids = [r[0] for r in records]
    seen = {}
    for oid, r in zip(ids, records):
        if oid in seen:
            raise SkyValidationError(r[1], "second spectrum for the same object", column="id", ids=[oid],
                                     expected=f"one spectrum per object (first was {seen[oid]})")
        seen[oid] = r[1].name
    extra = pd.DataFrame([{"id": oid, **r[3]} for oid, r in zip(ids, records)])
    for col in ("ra", "dec", "z", "snr_u", "snr_g", "snr_r", "snr_i", "snr_z"):
        if col in extra:
            extra[col] = pd.to_numeric(extra[col], errors="coerce").astype(float)
    for col in ("lamost_class", "lamost_subclass", "lamost_name"):
        if col in extra:
            extra[col] = extra[col].astype(object).where(extra[col].notna(), None).map(
                lambda v: None if v is None else str(v).strip())
    if not records:
        raise AstroM3Error(f"{src}: no spectra")
    writer.write_objects(objects_table(catalogue, ids, extra))
    for start in range(0, len(records), BATCH):
        chunk = list(zip(ids, records))[start:start + BATCH]
        writer.write_spectra(pd.DataFrame({
            "id": [oid for oid, _ in chunk], "wavelength": [r[4] for _, r in chunk],
            "flux": [r[5] for _, r in chunk], "ivar": [r[6] for _, r in chunk]}))
