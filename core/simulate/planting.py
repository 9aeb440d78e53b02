"""What the simulator plants: true classes, subclasses, label errors, anomalies, cross-match errors.

Everything here works on the whole sky's index arrays (no light curves), so the plan of a sky is
drawn first and the expensive data are generated batch by batch afterwards.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import CLASSES
from core.simulate.classes import ANOMALY_KINDS, PROPORTIONS, SUBCLASSES

#: Realistic confusions: true class -> labels a catalogue may give it instead, with weights.
CONFUSIONS: dict[str, dict[str, float]] = {
    "EW": {"EB": 0.5, "RRC": 0.25, "ROT": 0.25},
    "EB": {"EW": 0.6, "EA": 0.4},
    "EA": {"EB": 0.8, "ROT": 0.2},
    "RRAB": {"RRC": 0.8, "EW": 0.2},
    "RRC": {"EW": 0.6, "RRAB": 0.4},
    "HADS": {"DSCT": 0.8, "RRAB": 0.2},
    "DSCT": {"HADS": 0.8, "EW": 0.2},
    "M": {"SR": 1.0},
    "SR": {"M": 0.4, "ROT": 0.6},
    "ROT": {"EW": 0.4, "SR": 0.4, "EA": 0.2},
}


def concentrate_label_errors(plan: pd.DataFrame, period: np.ndarray, rng: np.random.Generator, *,
                             floor: float = 0.01) -> pd.DataFrame:
    """Move the planted label errors to where surveys confuse classes: near the wrong class's periods.

    The same number of errors as :func:`plan` drew, re-chosen among the objects that are neither
    anomalies nor cross-match errors, each with weight ``w(c -> c') * (floor + exp(-z^2 / 2))``
    where ``z`` is how far its log period is from the wrong class ``c'``'s median, in that class's
    MAD units, and ``w`` the :data:`CONFUSIONS` weight; the wrong label is drawn with the same
    weights. A contact binary at 0.3 d is mislabelled RRC far more often than one at 0.5 d.
    """
    plan = plan.copy()
    true = plan["true_label"].to_numpy(dtype=object)
    n_mis = int(plan["is_mislabeled"].sum())
    label = np.where(plan["is_mislabeled"], true, plan["label"].to_numpy(dtype=object))
    eligible = plan["anomaly_kind"].isna().to_numpy() & ~plan["is_crossmatch_error"].to_numpy(bool)
    logp = np.log10(np.clip(period, 1e-3, None))
    med, mad = {}, {}
    for c in CLASSES:
        v = logp[eligible & (true == c)]
        if len(v):
            med[c] = np.median(v)
            mad[c] = max(1.4826 * np.median(np.abs(v - med[c])), 0.02)
    rows = np.flatnonzero(eligible)
    weights = np.zeros((len(rows), len(CLASSES)))
    for j, c2 in enumerate(CLASSES):
        if c2 not in med:
            continue
        w_pair = np.array([CONFUSIONS[c].get(c2, 0.0) for c in true[rows]])
        z = (logp[rows] - med[c2]) / mad[c2]
        weights[:, j] = w_pair * (floor + np.exp(-0.5 * z ** 2))
    total = weights.sum(axis=1)
    chosen = rng.choice(len(rows), size=min(n_mis, int((total > 0).sum())), replace=False, p=total / total.sum())
    for i in chosen:
        label[rows[i]] = CLASSES[rng.choice(len(CLASSES), p=weights[i] / total[i])]
    is_mis = np.zeros(len(plan), bool)
    is_mis[rows[chosen]] = True
    plan["label"], plan["is_mislabeled"] = label, is_mis
    return plan


def plan(n: int, rng: np.random.Generator, *, mislabel_rate: float, anomaly_rate: float,
         crossmatch_rate: float) -> pd.DataFrame:
    """Decide, for every object, its kind, label, subclass and planted errors.

    Returns
    -------
    DataFrame with ``kind`` (class or anomaly kind that generates the data), ``true_label``,
    ``label``, ``is_mislabeled``, ``anomaly_kind``, ``subclass``, ``is_crossmatch_error``,
    ``crossmatch_modality`` ("spectra"/"metadata"), ``crossmatch_donor`` (row index or -1).
    Counts are ``round(rate * n)`` exactly.
    """
    shares = np.array([PROPORTIONS[c] for c in CLASSES])
    counts = np.floor(shares / shares.sum() * n).astype(int)
    rest = n - counts.sum()
    if rest > 0:
        counts[np.argsort(-(shares / shares.sum() * n - counts))[:rest]] += 1
    true = np.repeat(np.array(CLASSES, dtype=object), counts)
    rng.shuffle(true)
    kind = true.copy()
    label = true.copy()
    subclass = np.full(n, None, dtype=object)
    for cls, (names, sh) in SUBCLASSES.items():
        rows = np.flatnonzero(true == cls)
        subclass[rows] = rng.choice(np.array(names, dtype=object), size=len(rows), p=np.array(sh) / sum(sh))

    order = rng.permutation(n)
    n_an = int(round(anomaly_rate * n))
    n_mis = int(round(mislabel_rate * n))
    n_xm = int(round(crossmatch_rate * n))
    if n_an + n_mis + n_xm > n:
        raise ValueError("planted rates add up to more than every object")
    an_rows = order[:n_an]
    mis_rows = order[n_an:n_an + n_mis]
    xm_rows = order[n_an + n_mis:n_an + n_mis + n_xm]

    anomaly = np.full(n, None, dtype=object)
    kinds = np.resize(np.array(list(ANOMALY_KINDS), dtype=object), n_an)  # as equal shares as possible
    kinds[len(ANOMALY_KINDS):] = rng.permutation(kinds[len(ANOMALY_KINDS):])
    for a, r in zip(kinds, an_rows):
        anomaly[r] = a
        kind[r] = a
        lab = ANOMALY_KINDS[a][rng.integers(0, len(ANOMALY_KINDS[a]))]
        label[r] = lab
        true[r] = lab       # the label is "right" as far as the label set goes; the kind is what is new
        subclass[r] = None
    is_mis = np.zeros(n, bool)
    for r in mis_rows:
        opts = CONFUSIONS[true[r]]
        label[r] = rng.choice(np.array(list(opts), dtype=object), p=np.array(list(opts.values())))
        is_mis[r] = True
    is_xm = np.zeros(n, bool)
    xm_mod = np.full(n, None, dtype=object)
    donor = np.full(n, -1, dtype=np.int64)
    for r in xm_rows:
        cand = np.flatnonzero((true != true[r]) & (anomaly == None))  # noqa: E711
        donor[r] = cand[rng.integers(0, len(cand))] if len(cand) else (r + 1) % n
        xm_mod[r] = "spectra" if rng.random() < 0.7 else "metadata"
        is_xm[r] = True
    return pd.DataFrame({
        "kind": kind, "true_label": true, "label": label, "is_mislabeled": is_mis,
        "anomaly_kind": anomaly, "subclass": subclass, "is_crossmatch_error": is_xm,
        "crossmatch_modality": xm_mod, "crossmatch_donor": donor,
    })
