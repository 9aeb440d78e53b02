"""Outlier scores in embedding space: kNN distance, isolation forest and GLOSH, combined.

Combination (documented, fixed): ``outlier_score`` is the weighted mean of the rank-normalised
parts, re-ranked to (0, 1]:

* ``outlier_knn`` (weight 0.5): mean cosine distance to the ``k`` nearest objects in the fused
  space, or the largest of that over the object's modality spaces (an object can be ordinary in
  one modality and alien in another); the most direct measure of "fits nowhere";
* ``outlier_iforest`` (0.25): isolation forest on the fused vectors (global rarity);
* ``outlier_glosh`` (0.25): HDBSCAN's GLOSH on the 2-D map (local density relative to the
  object's cluster).
"""
from __future__ import annotations

import numpy as np

from core.analysis.neighbors import knn
from core.analysis.scores import combine_ranks, rank_normalise

__all__ = ["WEIGHTS", "knn_distance", "iforest_scores", "modality_knn_distance", "combine_outlier_scores"]

#: Weights of the rank-normalised parts in ``outlier_score``.
WEIGHTS: dict[str, float] = {"knn": 0.5, "iforest": 0.25, "glosh": 0.25}


def knn_distance(sim: np.ndarray) -> np.ndarray:
    """Mean cosine distance to the neighbours, from a ``(n, k)`` similarity matrix."""
    if sim.shape[1] == 0:
        return np.zeros(len(sim))
    return (1.0 - sim.astype(float)).mean(axis=1)


def modality_knn_distance(x: np.ndarray, present: np.ndarray, k: int = 10) -> np.ndarray:
    """kNN distance within the objects that have this modality; NaN for the others."""
    out = np.full(len(x), np.nan)
    rows = np.flatnonzero(present)
    if len(rows) > 1:
        _, sim = knn(x[rows], k)
        out[rows] = knn_distance(sim)
    return out


def iforest_scores(x: np.ndarray, *, seed: int = 0, n_estimators: int = 200) -> np.ndarray:
    """Isolation-forest anomaly score (higher = more isolated)."""
    from sklearn.ensemble import IsolationForest

    if len(x) < 4:
        return np.zeros(len(x))
    forest = IsolationForest(n_estimators=n_estimators, random_state=seed, n_jobs=1).fit(x)
    return -forest.score_samples(x)


def combine_outlier_scores(knn_fused: np.ndarray, knn_modalities: dict[str, np.ndarray],
                           iforest: np.ndarray, glosh: np.ndarray) -> dict[str, np.ndarray]:
    """The detail columns and the combined ``outlier_score`` (see module docstring)."""
    ranks = [rank_normalise(knn_fused)] + [rank_normalise(v) for v in knn_modalities.values()]
    stacked = np.vstack(ranks)
    with np.errstate(all="ignore"):
        knn_part = np.where(np.isfinite(stacked).any(axis=0), np.nanmax(np.where(np.isfinite(stacked), stacked, -1), axis=0), np.nan)
    parts = {"knn": knn_part, "iforest": iforest, "glosh": glosh}
    return {
        "outlier_score": combine_ranks(parts, WEIGHTS),
        "outlier_knn": rank_normalise(knn_part),
        "outlier_iforest": rank_normalise(iforest),
        "outlier_glosh": np.clip(np.nan_to_num(glosh, nan=0.0), 0, 1),
    }
