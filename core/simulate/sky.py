"""Orchestration: plan a sky, draw every star's parameters, then generate and write it in batches."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from core import schema
from core.sky import phase_of
from core.errors import AstroM3Error
from core.progress import progress
from core.simulate import cadence, classes, metadata, planting, spectra

__all__ = ["simulate_sky", "BATCH_SIZE"]

#: Objects generated and written per batch (fixed, so that files depend only on n and seed).
BATCH_SIZE = 500

_RUWE_EXTRA = {"EW": 0.12, "EB": 0.15, "EA": 0.15, "M": 0.6, "SR": 0.25, "rcrb_fade": 0.3}
_RFR_MEAN = {"EW": 0.93, "SR": 0.85, "EA": 0.9, "RRAB": 0.95, "EB": 0.75, "ROT": 0.72, "RRC": 0.85,
             "HADS": 0.8, "M": 0.95, "DSCT": 0.7}
_LC_KEYS = ("ra", "vmag0", "period", "amp", "t0", "shape1", "shape2", "shape3", "shape4")
_SPEC_KEYS = ("teff", "logg", "feh", "tio", "carbon", "emission", "em_kind", "rv", "a_v", "vmag", "h_deficient")


def _check(n, seed, out, mislabel_rate, anomaly_rate, crossmatch_rate, overwrite) -> Path:
    if out is None:
        raise AstroM3Error("simulate_sky: no output directory given; pass out=PATH")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise AstroM3Error(f"simulate_sky: n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise AstroM3Error(f"simulate_sky: seed must be a non-negative integer, got {seed!r}")
    for name, r in (("mislabel_rate", mislabel_rate), ("anomaly_rate", anomaly_rate),
                    ("crossmatch_rate", crossmatch_rate)):
        if not (isinstance(r, (int, float, np.floating)) and np.isfinite(r) and 0.0 <= r <= 0.5):
            raise AstroM3Error(f"simulate_sky: {name} must be between 0 and 0.5, got {r!r}")
    if mislabel_rate + anomaly_rate + crossmatch_rate > 0.9:
        raise AstroM3Error("simulate_sky: the planted rates add up to more than 0.9 of the sky")
    out = Path(out)
    if out.exists() and not overwrite:
        raise AstroM3Error(f"{out}: already exists; choose a new path or pass overwrite=True (--force)")
    return out


def _draw_all(plan: pd.DataFrame, rng) -> pd.DataFrame:
    """Physical parameters of every object (one row per object)."""
    n = len(plan)
    cols = {c: np.zeros(n) for c in classes.PARAM_COLUMNS}
    kinds = plan["kind"].to_numpy(dtype=object)
    sub = plan["subclass"].to_numpy(dtype=object)
    for kind in (*schema.CLASSES, *classes.ANOMALY_KINDS):
        rows = np.flatnonzero(kinds == kind)
        if len(rows) == 0:
            continue
        p = classes.draw_params(kind, len(rows), rng, subclass=sub[rows])
        for c in classes.PARAM_COLUMNS:
            cols[c][rows] = p[c]
    df = pd.DataFrame(cols)
    bright = np.isin(kinds, ["M", "rcrb_fade"])
    pos = {}
    for mask, vlim in ((bright, (8.5, 14.0)), (~bright, (9.5, 16.0))):
        rows = np.flatnonzero(mask)
        if len(rows):
            got = metadata.place(df["m_v"].to_numpy()[rows], df["hz"].to_numpy()[rows],
                                 df["halo"].to_numpy()[rows], rng, vlim=vlim, amp=df["amp"].to_numpy()[rows])
            got.pop("n_forced")
            for k, v in got.items():
                pos.setdefault(k, np.zeros(n))[rows] = v
    for k, v in pos.items():
        df[k] = v
    df["vmag0"] = df["m_v"] + 5 * np.log10(df["distance_pc"] / 10) + df["a_v"]
    df["ra"], df["dec"] = metadata.radec(df["l"].to_numpy(), df["b"].to_numpy())
    df["rv"] = rng.normal(0, df["rv_disp"].to_numpy()) + np.where(df["halo"] > 0, rng.normal(0, 80, n), 0.0)
    df["ruwe_extra"] = [_RUWE_EXTRA.get(k, 0.03) for k in kinds]
    df["h_deficient"] = (kinds == "rcrb_fade").astype(float)
    return df


def _lksl(t, m, period):
    """Lafler-Kinman string-length statistic of a light curve folded at ``period``."""
    if not np.isfinite(period) or period <= 0 or len(m) < 3:
        return np.nan
    o = np.argsort(phase_of(t, period))
    mm = m[o]
    den = np.sum((mm - mm.mean()) ** 2)
    return float(np.sum(np.diff(mm) ** 2) / den) if den > 0 else np.nan


def _names(ra, dec):
    h = ra / 15.0
    hh = np.floor(h).astype(int)
    mm = np.floor((h - hh) * 60).astype(int)
    ss = (h - hh - mm / 60) * 3600
    sign = np.where(dec < 0, "-", "+")
    ad = np.abs(dec)
    dd = np.floor(ad).astype(int)
    dm = np.floor((ad - dd) * 60).astype(int)
    ds = (ad - dd - dm / 60) * 3600
    return [f"ASASSN-V J{a:02d}{b:02d}{c:05.2f}{s}{d:02d}{e:02d}{f:04.1f}"
            for a, b, c, s, d, e, f in zip(hh, mm, np.minimum(ss, 59.99), sign, dd, dm, np.minimum(ds, 59.9))]


def _list_table(ids, axis_name, axis_flat, offsets, cols: dict, axis_type=pa.float64()) -> pa.Table:
    off = pa.array(offsets, pa.int32())
    arrays = [pa.array(ids, pa.string()), pa.ListArray.from_arrays(off, pa.array(axis_flat, axis_type))]
    names = ["id", axis_name]
    for name, flat in cols.items():
        arrays.append(pa.ListArray.from_arrays(off, pa.array(flat, pa.float32())))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def _observe_one(kind, r, records, lc_rng):
    """Epochs, magnitudes and errors of object ``r`` (cadence, light-curve shape, photometric noise)."""
    t = cadence.epochs(records["ra"][r], lc_rng)
    row = {k: records[k][r] for k in ("period", "amp", "t0", "shape1", "shape2", "shape3", "shape4")}
    dm = classes.light_curve(kind, t, row, lc_rng)
    keep, mag, err = cadence.observe(records["vmag0"][r] + dm, lc_rng)
    return np.round(t[keep], 5), mag, err


def _write_batch(w, rows, bseed, ids, kinds, par, records, spec_rows, stats) -> None:
    """Generate and write the light curves and spectra of ``rows``; fill ``stats`` (per-object arrays)."""
    lc_rng, sp_rng = (np.random.default_rng(s) for s in bseed.spawn(2))
    t_all, m_all, e_all, offs = [], [], [], [0]
    for r in rows:
        t, mag, err = _observe_one(kinds[r], r, records, lc_rng)
        t_all.append(t), m_all.append(mag), e_all.append(err)
        offs.append(offs[-1] + len(t))
        stats["mean_v"][r] = float(np.mean(mag))
        lo, hi = np.percentile(mag, [2, 98])
        stats["amp"][r] = hi - lo
        stats["lksl"][r] = _lksl(t, mag, records["period"][r])
        stats["n_epochs"][r] = len(t)
    w.write_lightcurves(_list_table(ids[rows], "time", np.concatenate(t_all), offs,
                                    {"mag": np.concatenate(m_all), "mag_err": np.concatenate(e_all)}))
    src = spec_rows[rows]
    sp = {k: par[k].to_numpy()[src] for k in _SPEC_KEYS if k != "vmag"}
    sp["vmag"] = par["vmag0"].to_numpy()[src]
    flux, ferr = spectra.make_spectra(sp, sp_rng)
    npix = len(spectra.WAVELENGTH)
    w.write_spectra(_list_table(ids[rows], "wavelength", np.tile(spectra.WAVELENGTH, len(rows)),
                                np.arange(len(rows) + 1) * npix,
                                {"flux": flux.ravel(), "flux_err": ferr.ravel()}))


def _objects_table(ids, plan, par, kinds, donor, xm_mod, stats, meta_rng) -> pd.DataFrame:
    """The catalogue (``objects.parquet``): metadata, cross-match swaps, catalogue period and RFR score."""
    n = len(ids)
    cat = metadata.catalogue({k: par[k].to_numpy() for k in ("teff", "logg", "dust", "carbon", "halo", "ruwe_extra")},
                             {k: par[k].to_numpy() for k in ("distance_pc", "l", "b", "a_v")},
                             stats["mean_v"], stats["amp"], meta_rng)
    meta = pd.DataFrame(cat)
    mswap = np.flatnonzero((xm_mod == "metadata") & (donor >= 0))
    if len(mswap):
        keep_own = ["l", "b"]
        cols = [c for c in meta.columns if c not in keep_own]
        # the donor's catalogue magnitudes, shifted as if it were the star at this position
        meta.loc[mswap, cols] = meta.loc[donor[mswap], cols].to_numpy()
    period = par["period"].to_numpy() * (1 + meta_rng.normal(0, 2e-5, n))
    alias = (kinds == "EW") & (meta_rng.random(n) < 0.02)
    period[alias] /= 2
    lab = plan["label"].to_numpy(dtype=object)
    base = np.array([_RFR_MEAN[x] for x in lab])
    base = np.where(plan["is_mislabeled"].to_numpy() | plan["anomaly_kind"].notna().to_numpy(), base - 0.25, base)
    rfr = np.clip(base + meta_rng.normal(0, 0.07, n), 0.3, 1.0)
    objects = pd.DataFrame({"id": ids, "label": lab, "name": _names(par["ra"].to_numpy(), par["dec"].to_numpy()),
                            "ra": par["ra"].to_numpy(), "dec": par["dec"].to_numpy()})
    objects["mean_vmag"] = stats["mean_v"]
    for c in schema.METADATA_COLUMNS:
        if c != "mean_vmag":
            objects[c] = meta[c].to_numpy(dtype=float)
    objects["period"] = period
    objects["amplitude"] = stats["amp"]
    objects["lksl_statistic"] = stats["lksl"]
    objects["rfr_score"] = rfr
    return objects


def _truth_table(ids, plan, par, kinds, donor, xm_mod, n_epochs) -> pd.DataFrame:
    """What was planted (``truth.parquet``)."""
    src_id = np.where(donor >= 0, ids[np.maximum(donor, 0)], None)
    return pd.DataFrame({
        "id": ids, "true_label": plan["true_label"].to_numpy(dtype=object),
        "is_mislabeled": plan["is_mislabeled"].to_numpy(bool),
        "anomaly_kind": plan["anomaly_kind"].to_numpy(dtype=object),
        "is_crossmatch_error": plan["is_crossmatch_error"].to_numpy(bool),
        "subclass": plan["subclass"].to_numpy(dtype=object),
        "label": plan["label"].to_numpy(dtype=object), "kind": kinds,
        "crossmatch_modality": xm_mod, "crossmatch_source": src_id,
        "teff": par["teff"].to_numpy(), "logg": par["logg"].to_numpy(), "feh": par["feh"].to_numpy(),
        "abs_vmag": par["m_v"].to_numpy(), "distance_pc": par["distance_pc"].to_numpy(),
        "a_v": par["a_v"].to_numpy(), "rv_kms": par["rv"].to_numpy(),
        "true_period": par["period"].to_numpy(), "true_amplitude": par["amp"].to_numpy(),
        "n_epochs": n_epochs,
    })


def simulate_sky(n: int = 20000, seed: int = 0, out: str | os.PathLike | None = None, *,
                 mislabel_rate: float = 0.03, anomaly_rate: float = 0.005, crossmatch_rate: float = 0.01,
                 overwrite: bool = False) -> Path:
    """Simulate an AstroM3-like sky (ASAS-SN light curves, LAMOST spectra, Gaia/2MASS/WISE metadata).

    Parameters
    ----------
    n : int
        Number of objects.
    seed : int
        Random seed; the same ``(n, seed, rates)`` give byte-identical files.
    out : path
        Sky directory to write (required).
    mislabel_rate, anomaly_rate, crossmatch_rate : float
        Shares of objects given a confusable wrong label, replaced by an anomaly kind outside the
        label set, or given another star's spectrum (70 %) or catalogue metadata (30 %).
    overwrite : bool
        Replace ``out`` if it exists.

    Returns
    -------
    pathlib.Path
        ``out``, holding objects, lightcurves, spectra and truth parquet files.

    Raises
    ------
    AstroM3Error
        On a bad option or an existing ``out`` without ``overwrite``.

    Examples
    --------
    >>> simulate_sky(200, seed=1, out="/tmp/tiny-sky", overwrite=True)   # doctest: +SKIP
    """
    from core.sky import SkyWriter

    out = _check(n, seed, out, mislabel_rate, anomaly_rate, crossmatch_rate, overwrite)
    n = int(n)
    root = np.random.SeedSequence([int(seed), 20240])
    s_plan, s_param, s_meta, s_batch = root.spawn(4)
    plan_rng = np.random.default_rng(s_plan)
    param_rng = np.random.default_rng(s_param)
    meta_rng = np.random.default_rng(s_meta)
    plan = planting.plan(n, plan_rng, mislabel_rate=mislabel_rate, anomaly_rate=anomaly_rate,
                         crossmatch_rate=crossmatch_rate)
    par = _draw_all(plan, param_rng)
    plan = planting.concentrate_label_errors(plan, par["period"].to_numpy(), np.random.default_rng(root.spawn(1)[0]))
    ids = np.array([f"SIM{i:06d}" for i in range(n)], dtype=object)
    kinds = plan["kind"].to_numpy(dtype=object)
    donor = plan["crossmatch_donor"].to_numpy()
    xm_mod = plan["crossmatch_modality"].to_numpy(dtype=object)
    spec_rows = np.arange(n)
    swap = (xm_mod == "spectra") & (donor >= 0)
    spec_rows[swap] = donor[swap]

    stats = {"mean_v": np.zeros(n), "amp": np.zeros(n), "lksl": np.zeros(n), "n_epochs": np.zeros(n, dtype=np.int64)}
    # per-object values read one star at a time as Python floats, for the columns the light curves use only
    # (every parameter column as Python lists was ~1.3 GB at a million objects)
    records = {k: par[k].tolist() for k in _LC_KEYS}
    batch_seeds = s_batch.spawn((n + BATCH_SIZE - 1) // BATCH_SIZE)
    bar = progress(desc="simulating", total=n, unit="obj")
    with SkyWriter(out, overwrite=overwrite) as w, bar:
        w.metadata = {"simulator": "core.simulate", "n": str(n), "seed": str(seed),
                      "mislabel_rate": repr(float(mislabel_rate)), "anomaly_rate": repr(float(anomaly_rate)),
                      "crossmatch_rate": repr(float(crossmatch_rate))}
        for b, bseed in enumerate(batch_seeds):
            rows = np.arange(b * BATCH_SIZE, min(n, (b + 1) * BATCH_SIZE))
            _write_batch(w, rows, bseed, ids, kinds, par, records, spec_rows, stats)
            bar.update(len(rows))
        w.write_objects(_objects_table(ids, plan, par, kinds, donor, xm_mod, stats, meta_rng))
        w.write_truth(_truth_table(ids, plan, par, kinds, donor, xm_mod, stats["n_epochs"]))
    return out
