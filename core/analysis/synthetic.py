"""Planted embeddings: a tiny sky and its ``embeddings.parquet`` with known structure.

For tests, examples and dashboard development without a trained model. Each class is a Gaussian
cluster on the unit sphere; the three modalities of one object are noisy views of the same latent
point (what contrastive training aims for). Planted, and recorded in ``truth.parquet``:
label flips, outliers (latent point far from every class), cross-match errors (one modality taken
from an object of another class), two subgroups inside one class, objects without spectra, and
unlabelled objects.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from core import schema
from core.analysis.embeddings import normalise_rows
from core.sky import open_sky, write_sky
from core.workspace import Workspace, write_parquet

__all__ = ["planted_sky"]


def _unit(rng, k, d):
    return normalise_rows(rng.normal(size=(k, d)))


def _latent(rng, n: int, dim: int, classes, spread: float, subgroup_class: str):
    """True classes, latent points (not yet unit) and the planted subgroup (``a``/``b``) of each object."""
    C = len(classes)
    centres = _unit(rng, C, dim) * 1.0
    true = rng.integers(0, C, n)
    latent = centres[true] + rng.normal(scale=spread / np.sqrt(dim), size=(n, dim)) * np.sqrt(dim) / 2
    subgroup = np.full(n, None, dtype=object)
    if subgroup_class in classes:
        c = classes.index(subgroup_class)
        rows = np.flatnonzero(true == c)
        side = rng.integers(0, 2, len(rows))
        offset = _unit(rng, 1, dim)[0] * 0.45
        latent[rows] += np.where(side[:, None] == 1, offset, -offset)
        subgroup[rows] = np.where(side == 1, "b", "a")
    return true, latent, subgroup


def _plant_errors(rng, latent, true, classes, outlier_frac, mislabel_frac, crossmatch_frac):
    """Outliers and label flips: ``(unit latent, labels, anomaly_kind, out_rows, mis_rows, xm_rows)``."""
    n, dim = latent.shape
    C = len(classes)
    order = rng.permutation(n)
    n_out = int(round(outlier_frac * n))
    n_mis = int(round(mislabel_frac * n))
    n_xm = int(round(crossmatch_frac * n))
    out_rows = order[:n_out]
    mis_rows = order[n_out:n_out + n_mis]
    xm_rows = order[n_out + n_mis:n_out + n_mis + n_xm]
    latent[out_rows] = _unit(rng, n_out, dim) * 1.2
    latent = normalise_rows(latent)
    labels = np.array([classes[t] for t in true], dtype=object)
    for r in mis_rows:
        labels[r] = classes[(true[r] + rng.integers(1, C)) % C]
    anomaly = np.full(n, None, dtype=object)
    anomaly[out_rows] = "planted_outlier"
    return latent, labels, anomaly, out_rows, mis_rows, xm_rows


def _views(rng, latent, true, modalities, view_noise, xm_rows, no_spectra_frac):
    """Noisy per-modality views, cross-match swaps and presence: ``(views, xm_modality, present)``."""
    n, dim = latent.shape
    views = {m: normalise_rows(latent + rng.normal(scale=view_noise, size=(n, dim))) for m in modalities}
    xm_modality = np.full(n, None, dtype=object)
    if len(modalities) >= 2:
        swap_mods = [m for m in modalities if m != "photometry"] or list(modalities)
        for r in xm_rows:
            donor = rng.choice(np.flatnonzero(true != true[r]))
            m = swap_mods[rng.integers(0, len(swap_mods))]
            views[m][r] = normalise_rows(latent[donor:donor + 1] + rng.normal(scale=view_noise, size=(1, dim)))[0]
            xm_modality[r] = m
    present = {m: np.ones(n, dtype=bool) for m in modalities}
    if "spectra" in present:
        present["spectra"][rng.random(n) < no_spectra_frac] = False
        present["spectra"][xm_rows[xm_modality[xm_rows] == "spectra"]] = True
    return views, xm_modality, present


def _write_embeddings(ws, ids, views, present, modalities, dim: int, seed: int, sky) -> None:
    """``embeddings.parquet``: the views (absent ones null) and their mean as the fused vector."""
    import pyarrow as pa

    cols = {"id": ids.astype(str)}
    fused = np.zeros((len(ids), dim), dtype=np.float32)
    for m in modalities:
        v = views[m].astype(np.float32)
        cols[schema.EMBEDDING_COLUMNS[m]] = [list(row) if p else None for row, p in zip(v, present[m])]
        fused += v * present[m][:, None]
    fused = normalise_rows(fused)
    cols[schema.EMBEDDING_COLUMNS[schema.FUSED]] = [list(r) for r in fused]
    table = pa.table({k: (pa.array(v, type=pa.list_(pa.float32())) if k != "id" else pa.array(v))
                      for k, v in cols.items()})
    write_parquet(table, ws.embeddings_path, meta={"model_fingerprint": f"planted-{seed}",
                                                   "sky_fingerprint": sky.fingerprint, "dim": dim})


def planted_sky(path: str | os.PathLike, n: int = 600, *, seed: int = 0, dim: int = 16,
                classes: tuple[str, ...] = ("EW", "RRAB", "M", "ROT"), spread: float = 0.25,
                view_noise: float = 0.12, mislabel_frac: float = 0.03, outlier_frac: float = 0.02,
                crossmatch_frac: float = 0.03, no_spectra_frac: float = 0.2, unlabelled_frac: float = 0.05,
                subgroup_class: str = "M", modalities: tuple[str, ...] = schema.MODALITIES) -> tuple[Path, Path]:
    """Write ``path/sky`` (objects + truth) and ``path/ws/embeddings.parquet``.

    Returns
    -------
    (sky_path, workspace_path)
    """
    rng = np.random.default_rng(seed)
    path = Path(path)
    true, latent, subgroup = _latent(rng, n, dim, classes, spread, subgroup_class)
    latent, labels, anomaly, out_rows, mis_rows, xm_rows = _plant_errors(
        rng, latent, true, classes, outlier_frac, mislabel_frac, crossmatch_frac)
    views, xm_modality, present = _views(rng, latent, true, modalities, view_noise, xm_rows, no_spectra_frac)
    unl = rng.random(n) < unlabelled_frac
    unl[mis_rows] = False
    labels[unl] = None
    ids = np.array([f"s{i:05d}" for i in range(n)], dtype=object)
    objects = pd.DataFrame({"id": ids, "label": labels,
                            "period": np.exp(rng.normal(size=n)) + true,
                            "bp_rp": rng.normal(size=n) + (subgroup == "b") * 2.0 + 0.3 * true})
    truth = pd.DataFrame({"id": ids, "true_label": [classes[t] for t in true],
                          "is_mislabeled": np.isin(np.arange(n), mis_rows),
                          "anomaly_kind": anomaly, "is_crossmatch_error": np.isin(np.arange(n), xm_rows),
                          "subclass": subgroup})
    sky_path = write_sky(path / "sky", objects, truth=truth, overwrite=True)
    sky = open_sky(sky_path)
    ws = Workspace(path / "ws")
    _write_embeddings(ws, ids, views, present, modalities, dim, seed, sky)
    return sky_path, ws.path
