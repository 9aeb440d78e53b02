"""Tiny seeded skies and workspaces for the explorer's tests and benchmarks (no model, no UMAP).

``make_fake_workspace(root, n)`` writes a sky (light curves with a known period, spectra) through
:func:`core.sky.write_sky` and a ``results.parquet`` with every column of the results contract,
random but seeded, recorded in the workspace manifest under ``results.parquet`` as the engine
does. :func:`flag_store_for` opens a real :class:`core.flags.FlagStore` (a SQLite file) that
accepts the ids and labels of a results table: tests use the real store, never a stand-in.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from core import scores as registry

__all__ = ["make_fake_workspace", "fake_results", "flag_store_for"]

CLASSES = ("EW", "RRAB", "M", "SR")
PERIODS = {"EW": 0.35, "RRAB": 0.55, "M": 300.0, "SR": 80.0}


def fake_results(ids, labels, seed: int = 0) -> pd.DataFrame:
    """A results table with the contract's columns: clusters at known places, seeded scores.

    Every score of :data:`core.scores.REGISTRY` gets a column (uniform over its range), plus
    ``outlier_why`` sentences for the top outliers.
    """
    rng = np.random.default_rng(seed)
    n = len(ids)
    labels = pd.Series(labels, dtype=object)
    centres = {c: (4.0 * i, 2.0 * (i % 2)) for i, c in enumerate(CLASSES)}
    cx = np.array([centres.get(lab, (8.0, 6.0))[0] for lab in labels])
    cy = np.array([centres.get(lab, (8.0, 6.0))[1] for lab in labels])
    x, y = cx + rng.normal(0, 0.5, n), cy + rng.normal(0, 0.5, n)
    cluster = np.array([CLASSES.index(lab) if lab in CLASSES else -1 for lab in labels])
    df = pd.DataFrame({"id": list(ids), "label": labels.to_numpy(), "umap_x": x, "umap_y": y,
                       "cluster": cluster, "cluster_prob": rng.uniform(0.5, 1, n)})
    df["suggested_label"] = rng.choice(CLASSES, n)
    df["suggested_label_prob"] = rng.uniform(0.3, 1, n)
    for m in ("photometry", "spectra", "metadata"):
        df[f"umap_x_{m}"] = x + rng.normal(0, 0.2, n)
        df[f"umap_y_{m}"] = y + rng.normal(0, 0.2, n)
        df[f"vote_{m}"] = rng.choice(CLASSES, n)
        df[f"vote_{m}_prob"] = rng.uniform(0.2, 1, n)
    for score in registry.REGISTRY.values():  # every registered score, each from its own seeded stream
        lo, hi = score.range
        df[score.name] = np.random.default_rng([seed, zlib.crc32(score.name.encode())]).uniform(lo, hi, n)
    if "mislabel_score" in df:
        df.loc[labels.isna().to_numpy(), "mislabel_score"] = np.nan
    if "outlier_score" in df:  # the one-line explanation core.analysis writes for the top outliers
        top = df["outlier_score"].to_numpy() > 0.9
        df["outlier_why"] = ""
        df.loc[top, "outlier_why"] = [f"period {12.0 + i:.1f} d: {41 + i} MAD above the {lab or 'unlabelled'} "
                                      "median 0.583 d" for i, lab in enumerate(labels[top])]
    return df


def make_fake_workspace(root, n: int = 60, seed: int = 0, *, n_points: int = 80,
                        extra_objects: dict | None = None) -> tuple[Path, Path]:
    """Write ``root/sky`` and ``root/ws`` (results only); returns ``(sky_path, workspace_path)``.

    ``extra_objects``: more catalogue columns (name -> ``n`` values), e.g. ``ra``/``dec`` or a cross-match.
    """
    from core import schema
    from core.sky import open_sky, write_sky
    from core.workspace import Workspace

    rng = np.random.default_rng(seed)
    root = Path(root)
    ids = [f"s{i:05d}" for i in range(n)]
    labels = [CLASSES[i % len(CLASSES)] if i % 10 != 9 else None for i in range(n)]
    period = np.array([PERIODS.get(lab, 1.3) * rng.uniform(0.95, 1.05) for lab in labels])
    objects = pd.DataFrame({"id": ids, "label": labels, "period": period,
                            "parallax": rng.uniform(0.1, 3, n), "bp_rp": rng.normal(1.0, 0.3, n),
                            "j_mag": rng.normal(11, 1, n)})
    for col, values in (extra_objects or {}).items():
        objects[col] = list(values)
    times, mags = [], []
    for p in period:
        t = np.sort(rng.uniform(0, 400, n_points))
        times.append(t)
        mags.append(12 + 0.4 * np.sin(2 * np.pi * t / p) + rng.normal(0, 0.02, n_points))
    lcs = pd.DataFrame({"id": ids, "time": times, "mag": mags, "mag_err": [np.full(n_points, 0.02)] * n})
    wl = np.linspace(3800, 9000, 400)
    spec_ids = ids[: max(1, (3 * n) // 4)]
    spectra = pd.DataFrame({"id": spec_ids, "wavelength": [wl] * len(spec_ids),
                            "flux": [1 + 0.1 * np.sin(wl / 300) + rng.normal(0, 0.02, len(wl)) for _ in spec_ids],
                            "flux_err": [np.full(len(wl), 0.02)] * len(spec_ids)})
    sky_path = Path(write_sky(root / "sky", objects, lcs, spectra))
    ws = root / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    fake_results(ids, labels, seed).to_parquet(ws / schema.RESULTS_FILE, index=False)
    inputs = {"sky": open_sky(sky_path).fingerprint, "fake_results": {"n": n, "seed": seed}}
    Workspace(ws).record(schema.RESULTS_FILE, inputs)  # as core.analysis.engine does
    return sky_path, ws


def flag_store_for(path, results: pd.DataFrame):
    """A real :class:`core.flags.FlagStore` at ``path`` accepting the ids and labels of ``results``."""
    from core.flags import FlagStore

    labels = sorted(results["label"].dropna().astype(str).unique())
    return FlagStore(path, valid_ids=results["id"].astype(str).tolist(), labels=labels)
