"""Plant known errors in a real sky, to measure the discovery scores on it (``astrom3 plant``).

A user's first question is "can I trust this ranking on *my* catalogue?". :func:`plant_sky` writes
a copy of a sky where the answer is known:

* **label flips** between classes a survey confuses (:data:`CONFUSABLE`; a class with no known
  partner in the sky gets the present class nearest to it in median log period);
* **relabelled classes**: every object of a class the user names wears another label, as when a
  catalogue's label set lacks that class (``ACEP:RRAB``: anomalous Cepheids filed as RR Lyrae).
  They are the planted *anomalies*: of a kind the label set does not have;
* **swapped spectra** between random pairs of objects (cross-match errors), where the sky has
  spectra.

``OUT/truth.parquet`` has the simulator's columns (:data:`core.schema.TRUTH_COLUMNS`) plus
``label`` (as planted), ``original_label`` and ``crossmatch_source``, so ``astrom3 run`` and
``astrom3 evaluate`` work on the copy exactly as on the demo sky. Columns that would leak the truth
(free-text types, cross-identifications, the catalogue classifier's confidence) are dropped.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core import schema
from core.errors import AstroM3Error
from core.sky import Sky, SkyWriter, open_sky

__all__ = ["plant_sky", "PlantReport", "CONFUSABLE", "parse_relabel", "LEAKING_COLUMNS"]

#: Classes surveys confuse with each other (either direction), in AstroM3 and Catalina names.
CONFUSABLE: tuple[tuple[str, str], ...] = (
    ("EW", "EA"), ("EW", "EB"), ("EA", "EB"), ("EW", "ROT"), ("EA", "ROT"), ("EW", "RRC"),
    ("RRAB", "RRC"), ("RRC", "RRD"), ("RRAB", "RRD"), ("HADS", "DSCT"), ("DSCT", "RRC"),
    ("HADS", "RRAB"), ("M", "SR"), ("SR", "ROT"), ("LPV", "ROT"), ("ACEP", "RRAB"), ("CEPII", "ACEP"),
)

#: Columns dropped from the copy because they carry the (original) label: free-text types,
#: cross-identifications that a lookup turns into a type, and the labelling classifier's confidence.
LEAKING_COLUMNS: tuple[str, ...] = ("catalog_type", "other_names", "rfr_score")

#: Text columns that never leak and are kept.
_KEEP_TEXT = ("id", "label", "name", "survey", "band")


@dataclass
class PlantReport:
    """What :func:`plant_sky` did."""

    out: Path
    n_flipped: int
    relabelled: dict[str, int]
    n_swapped: int
    dropped_columns: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        rel = ", ".join(f"{k} ({n})" for k, n in self.relabelled.items()) or "none"
        dropped = ", ".join(self.dropped_columns) or "none"
        return (f"planted into {self.out}: {self.n_flipped} label flips, relabelled {rel}, "
                f"{self.n_swapped} swapped spectra; dropped columns that would leak the truth: {dropped}")


def parse_relabel(text: str | None) -> dict[str, str]:
    """``"ACEP:RRAB,CEPII:RRAB"`` -> ``{"ACEP": "RRAB", "CEPII": "RRAB"}``.

    Raises
    ------
    AstroM3Error
        On an entry that is not ``FROM:TO`` or maps a class onto itself.
    """
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        src, sep, dst = (s.strip() for s in part.partition(":"))
        if not sep or not src or not dst:
            raise AstroM3Error(f"--relabel: {part!r} is not FROM:TO (e.g. ACEP:RRAB,CEPII:RRAB)")
        if src == dst:
            raise AstroM3Error(f"--relabel: {part!r} maps a class onto itself")
        out[src] = dst
    return out


def _partners(classes: list[str], objects: pd.DataFrame) -> dict[str, list[str]]:
    """Each present class -> the present classes it may be flipped to."""
    present = set(classes)
    out: dict[str, list[str]] = {c: [] for c in classes}
    for a, b in CONFUSABLE:
        if a in present and b in present:
            out[a].append(b)
            out[b].append(a)
    if "period" in objects.columns:
        logp = np.log10(pd.to_numeric(objects["period"], errors="coerce").where(lambda p: p > 0))
        med = logp.groupby(objects["label"]).median()
        for c in classes:
            if not out[c] and len(classes) > 1 and np.isfinite(med.get(c, np.nan)):
                others = med.drop(c).dropna()
                if len(others):
                    out[c].append(str((others - med[c]).abs().idxmin()))
    for c in classes:      # without a period, any other class
        if not out[c]:
            out[c] = [o for o in classes if o != c]
    return {c: sorted(set(v)) for c, v in out.items()}


def _check(sky: Sky, relabel: dict[str, str], flip: float, swap: float) -> None:
    classes = set(sky.classes)
    for src, dst in relabel.items():
        if src not in classes:
            raise AstroM3Error(f"--relabel {src}:{dst}: the sky has no class {src!r} "
                               f"(its classes: {', '.join(sky.classes)})")
        if dst not in classes or dst in relabel:
            raise AstroM3Error(f"--relabel {src}:{dst}: {dst!r} must be a class of the sky that is "
                               f"not itself relabelled")
    if not 0.0 <= flip < 0.5:
        raise AstroM3Error(f"--flip {flip}: the share of flipped labels must be in [0, 0.5)")
    if not 0.0 <= swap < 0.5:
        raise AstroM3Error(f"--swap {swap}: the share of swapped spectra must be in [0, 0.5)")
    if swap > 0 and not sky.has_spectra:
        raise AstroM3Error(f"--swap {swap}: {sky.path} has no spectra to swap")


def _base_truth(sky: Sky) -> pd.DataFrame:
    """The sky's own truth if it has one (a simulated sky), else "every label is right"."""
    ids = sky.ids.astype(str)
    own = sky.read_truth()
    t = pd.DataFrame({"id": ids, "true_label": sky.labels.to_numpy(dtype=object),
                      "is_mislabeled": False, "anomaly_kind": None, "is_crossmatch_error": False,
                      "subclass": None, "crossmatch_modality": None, "crossmatch_source": None})
    if own is not None:
        own = own.assign(id=own["id"].astype(str)).set_index("id").reindex(ids)
        for c in t.columns[1:]:
            if c in own:
                t[c] = own[c].to_numpy(dtype=object if t[c].dtype == object else bool)
    t["original_label"] = sky.labels.to_numpy(dtype=object)
    return t


def _flip_labels(labels: np.ndarray, truth: pd.DataFrame, objects: pd.DataFrame, flip: float,
                 rng: np.random.Generator) -> int:
    """Flip ``round(flip * labelled)`` labels to a confusable class, in place; returns the count."""
    labelled = np.array([isinstance(v, str) for v in labels])
    classes = sorted(set(labels[labelled]))
    partners = _partners(classes, objects.assign(label=labels))
    planted = truth["is_mislabeled"].to_numpy(bool) | truth["anomaly_kind"].notna().to_numpy()
    eligible = np.flatnonzero(labelled & ~planted & np.array([bool(partners.get(v)) for v in labels]))
    n = min(int(round(flip * labelled.sum())), len(eligible))
    chosen = np.sort(rng.choice(eligible, size=n, replace=False)) if n else np.array([], dtype=int)
    for r in chosen:
        labels[r] = rng.choice(np.array(partners[labels[r]], dtype=object))
    truth.loc[chosen, "is_mislabeled"] = True
    return int(n)


def _swap_pairs(sky: Sky, truth: pd.DataFrame, swap: float, rng: np.random.Generator) -> dict[str, str]:
    """Pick ``round(swap * n_spectra / 2)`` disjoint pairs to exchange spectra; ``{id: donor id}``."""
    if swap <= 0:
        return {}
    ids = truth["id"].to_numpy(dtype=object)
    has = set(sky.spectrum_ids.astype(str))
    planted = truth["is_crossmatch_error"].to_numpy(bool) | truth["anomaly_kind"].notna().to_numpy()
    eligible = np.flatnonzero(np.array([i in has for i in ids]) & ~planted)
    n_pairs = min(int(round(swap * len(has) / 2)), len(eligible) // 2)
    rows = rng.choice(eligible, size=2 * n_pairs, replace=False)
    donor = {}
    for a, b in rows.reshape(-1, 2):
        donor[ids[a]], donor[ids[b]] = ids[b], ids[a]
    hit = truth["id"].isin(list(donor))
    truth.loc[hit, "is_crossmatch_error"] = True
    truth.loc[hit, "crossmatch_modality"] = "spectra"
    truth.loc[hit, "crossmatch_source"] = truth.loc[hit, "id"].map(donor)
    return donor


def _write_spectra(sky: Sky, tmp: Path, donor: dict[str, str]) -> None:
    """Copy the spectra file, giving each swapped object its donor's spectrum (streamed by row group)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = sky.path / schema.SPECTRA_FILE
    if not donor:
        shutil.copyfile(src, tmp / schema.SPECTRA_FILE)
        return
    file = pq.ParquetFile(src)
    # the row holding donor d's spectrum is relabelled with the id of the object receiving it
    receiver = {d: i for i, d in donor.items()}
    with pq.ParquetWriter(tmp / schema.SPECTRA_FILE, file.schema_arrow, compression="zstd") as w:
        for g in range(file.num_row_groups):
            t = file.read_row_group(g)
            ids = [receiver.get(i, i) for i in t.column("id").to_pylist()]
            w.write_table(t.set_column(t.schema.get_field_index("id"), "id", pa.array(ids, pa.string())))


def _leaking(objects: pd.DataFrame) -> list[str]:
    """Columns to drop: the known leaking ones and every free-text column but id/label/name/survey."""
    text = [c for c in objects.columns if c not in _KEEP_TEXT and not pd.api.types.is_numeric_dtype(objects[c])
            and not pd.api.types.is_bool_dtype(objects[c])]
    return [c for c in objects.columns if c in LEAKING_COLUMNS or c in text]


def plant_sky(sky, out: str | os.PathLike, *, seed: int = 0, flip: float = 0.03,
              relabel: dict[str, str] | None = None, swap: float = 0.0, overwrite: bool = False) -> PlantReport:
    """Write a copy of a sky with planted label flips, relabelled classes and swapped spectra.

    Parameters
    ----------
    sky : Sky or path
    out : path
        The new sky directory (with ``truth.parquet``); written atomically.
    seed : int
        Same sky and seed, same planted copy.
    flip : float
        Share of the labelled objects whose label is flipped to a confusable class.
    relabel : dict, optional
        ``{class: label}``: every object of ``class`` gets ``label`` (planted anomalies).
    swap : float
        Share of the objects with spectra that exchange their spectrum with another's.
    overwrite : bool
        Replace ``out`` if it exists.

    Returns
    -------
    PlantReport

    Examples
    --------
    >>> plant_sky("crts", "crts-planted", seed=1, relabel={"ACEP": "RRAB"})   # doctest: +SKIP
    """
    sky = sky if isinstance(sky, Sky) else open_sky(sky)
    relabel = dict(relabel or {})
    _check(sky, relabel, flip, swap)
    out = Path(out)
    if out.resolve() == sky.path.resolve():
        raise AstroM3Error(f"{out}: the planted copy must not replace the sky it is made from")
    rng = np.random.default_rng(seed)
    objects = sky.objects.copy()
    truth = _base_truth(sky)
    labels = objects["label"].to_numpy(dtype=object).copy()
    counts = {}
    for src, dst in relabel.items():
        rows = labels == src
        counts[src] = int(rows.sum())
        truth.loc[rows & truth["anomaly_kind"].isna().to_numpy(), "anomaly_kind"] = src
        truth.loc[rows, "true_label"] = dst       # right as far as the label set goes: the kind is new
        labels[rows] = dst
    n_flipped = _flip_labels(labels, truth, objects, flip, rng)
    donor = _swap_pairs(sky, truth, swap, rng)
    dropped = _leaking(objects)
    objects = objects.drop(columns=dropped).assign(label=labels)
    truth["label"] = labels
    with SkyWriter(out, overwrite=overwrite) as w:
        w.metadata = {"planted_from": sky.fingerprint, "seed": int(seed), "flip": float(flip),
                      "relabel": relabel, "swap": float(swap)}
        w.write_objects(objects)
        if (sky.path / schema.LIGHTCURVES_FILE).exists():
            shutil.copyfile(sky.path / schema.LIGHTCURVES_FILE, w.tmp / schema.LIGHTCURVES_FILE)
        if (sky.path / schema.SPECTRA_FILE).exists():
            _write_spectra(sky, w.tmp, donor)
        w.write_truth(truth)
    return PlantReport(out, n_flipped, counts, len(donor), dropped)
