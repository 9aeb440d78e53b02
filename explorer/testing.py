"""Tiny seeded skies and workspaces for the explorer's tests and benchmarks (no model, no UMAP).

``make_fake_workspace(root, n)`` writes a sky (light curves with a known period, spectra) through
:func:`core.sky.write_sky` and a ``results.parquet`` with every column of the results contract,
random but seeded. :class:`MemoryFlagStore` is an in-memory stand-in with the
:class:`core.flags.FlagStore` interface, for unit tests.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["make_fake_workspace", "fake_results", "MemoryFlagStore"]

CLASSES = ("EW", "RRAB", "M", "SR")
PERIODS = {"EW": 0.35, "RRAB": 0.55, "M": 300.0, "SR": 80.0}


def fake_results(ids, labels, seed: int = 0) -> pd.DataFrame:
    """A results table with the contract's columns: clusters at known places, seeded scores."""
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
    for s in ("outlier_score", "mislabel_score", "crossmodal_score"):
        df[s] = rng.uniform(0, 1, n)
    df.loc[labels.isna().to_numpy(), "mislabel_score"] = np.nan
    df["suggested_label"] = rng.choice(CLASSES, n)
    df["suggested_label_prob"] = rng.uniform(0.3, 1, n)
    for m in ("photometry", "spectra", "metadata"):
        df[f"umap_x_{m}"] = x + rng.normal(0, 0.2, n)
        df[f"umap_y_{m}"] = y + rng.normal(0, 0.2, n)
        df[f"vote_{m}"] = rng.choice(CLASSES, n)
        df[f"vote_{m}_prob"] = rng.uniform(0.2, 1, n)
    for c in ("outlier_class", "outlier_glosh", "outlier_knn", "outlier_iforest", "mislabel_centroid", "mislabel_knn",
              "mislabel_cleanlab"):
        df[c] = rng.uniform(0, 1, n)
    return df


def make_fake_workspace(root, n: int = 60, seed: int = 0, *, n_points: int = 80) -> tuple[Path, Path]:
    """Write ``root/sky`` and ``root/ws`` (results only); returns ``(sky_path, workspace_path)``."""
    from core.sky import write_sky

    rng = np.random.default_rng(seed)
    root = Path(root)
    ids = [f"s{i:05d}" for i in range(n)]
    labels = [CLASSES[i % len(CLASSES)] if i % 10 != 9 else None for i in range(n)]
    period = np.array([PERIODS.get(lab, 1.3) * rng.uniform(0.95, 1.05) for lab in labels])
    objects = pd.DataFrame({"id": ids, "label": labels, "period": period,
                            "parallax": rng.uniform(0.1, 3, n), "bp_rp": rng.normal(1.0, 0.3, n),
                            "j_mag": rng.normal(11, 1, n)})
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
    sky = write_sky(root / "sky", objects, lcs, spectra)
    ws = root / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    fake_results(ids, labels, seed).to_parquet(ws / "results.parquet", index=False)
    return Path(getattr(sky, "path", root / "sky")), ws


class MemoryFlagStore:
    """In-memory flags with the :class:`core.flags.FlagStore` interface (for tests)."""

    KINDS = ("mislabel", "anomaly", "crossmatch", "subclass", "fine", "interesting")

    def __init__(self, path=None, valid_ids=None, labels=None):
        self.rows: list[dict] = []
        self.sessions: list[str] = []
        self.valid = None if valid_ids is None else set(map(str, valid_ids))

    def start_session(self, user, **info) -> int:
        self.sessions.append(user)
        return len(self.sessions)

    def add(self, session, object_id, kind, proposed_label=None, subclass=None, note=None):
        if kind not in self.KINDS:
            raise ValueError(kind)
        if self.valid is not None and str(object_id) not in self.valid:
            raise KeyError(object_id)
        self.rows.append({"id": str(object_id), "kind": kind, "proposed_label": proposed_label,
                          "subclass": subclass, "note": note, "user": self.sessions[session - 1],
                          "session": session, "created": pd.Timestamp.now(tz="UTC"), "undone": False})

    def undo(self, session, object_id):
        for r in reversed(self.rows):
            if r["id"] == str(object_id) and r["session"] == session and not r["undone"]:
                r["undone"] = True
                return

    def current(self) -> pd.DataFrame:
        live = [r for r in self.rows if not r["undone"]]
        cols = ["id", "kind", "proposed_label", "subclass", "note", "user", "session", "created"]
        if not live:
            return pd.DataFrame(columns=cols)
        return pd.DataFrame(live)[cols].drop_duplicates("id", keep="last").reset_index(drop=True)

    def export(self, path, format="csv"):
        df = self.current()
        if format == "csv":
            df.to_csv(path, index=False)
        else:
            from astropy.table import Table
            t = Table.from_pandas(df.astype({"created": str}).fillna(""))
            t.write(path, format="ascii.ecsv" if format == "ecsv" else "votable", overwrite=True)
        return Path(path)
