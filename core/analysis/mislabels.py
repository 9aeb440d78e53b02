"""Label-error scores: centroid distance, kNN label disagreement, confident learning; combined.

Three views of "this label looks wrong", each computed without the object's own label having
trained anything that scores it:

(a) **centroid** (AstroM3, Rizhko & Bloom 2024): cosine distance to the own class centroid minus
    the distance to the nearest other class centroid in the fused space (> 0: closer to another
    class);
(b) **kNN**: similarity-weighted share of the ``k`` nearest labelled objects that carry another
    label (the object itself excluded);
(c) **confident learning** (cleanlab): ``1 -`` the self-confidence label-quality score of the
    out-of-fold class probabilities (averaged over the embedding spaces, see :mod:`votes`).

``mislabel_score`` is the weighted mean of the rank-normalised parts (:data:`WEIGHTS`),
re-ranked to (0, 1]; NaN for unlabelled objects. ``suggested_label`` is the most probable class
of the averaged classifier and kNN probabilities (it may equal the given label).
"""
from __future__ import annotations

import numpy as np

from core.analysis.scores import combine_ranks, rank_normalise

__all__ = ["WEIGHTS", "centroid_scores", "knn_label_probs", "confident_learning_scores",
           "combine_mislabel_scores"]

#: Weights of the rank-normalised parts in ``mislabel_score``.
WEIGHTS: dict[str, float] = {"cleanlab": 0.5, "knn": 0.25, "centroid": 0.25}


def centroid_scores(x: np.ndarray, present: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Own-centroid distance minus nearest-other-centroid distance (higher = more suspicious).

    Returns
    -------
    score : (n,) float, NaN for unlabelled objects or objects without the embedding
    nearest : (n,) int, index of the nearest other class (-1 where undefined)
    """
    n = len(x)
    score = np.full(n, np.nan)
    nearest = np.full(n, -1)
    lab = present & (y >= 0)
    cents = np.zeros((n_classes, x.shape[1]), dtype=np.float64)
    have = np.zeros(n_classes, dtype=bool)
    for c in range(n_classes):
        rows = lab & (y == c)
        if rows.any():
            m = x[rows].mean(axis=0)
            norm = np.linalg.norm(m)
            if norm > 0:
                cents[c], have[c] = m / norm, True
    if have.sum() < 2:
        return score, nearest
    rows = np.flatnonzero(lab)
    sims = x[rows] @ cents.T
    sims[:, ~have] = -np.inf
    own = sims[np.arange(len(rows)), y[rows]]
    others = sims.copy()
    others[np.arange(len(rows)), y[rows]] = -np.inf
    best_other = others.argmax(axis=1)
    score[rows] = (1 - own) - (1 - others[np.arange(len(rows)), best_other])
    nearest[rows] = best_other
    return score, nearest


def knn_label_probs(idx: np.ndarray, sim: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Similarity-weighted class shares among each object's labelled neighbours.

    ``idx``/``sim`` come from :func:`core.analysis.neighbors.knn` (self excluded). Rows with no
    labelled neighbour are NaN.
    """
    ny = np.where(idx >= 0, y[idx], -1)
    w = np.clip(sim.astype(float), 0, None) + 1e-6
    w = np.where(ny >= 0, w, 0.0)
    probs = np.zeros((len(idx), n_classes))
    for c in range(n_classes):
        probs[:, c] = (w * (ny == c)).sum(axis=1)
    tot = probs.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, probs / np.where(tot > 0, tot, 1), np.nan)


def confident_learning_scores(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab label-quality (self-confidence) as a suspicion score, and cleanlab's issue flags.

    Returns ``(score, is_issue)``; NaN / False for unlabelled objects or rows without probabilities.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    n = len(y)
    score = np.full(n, np.nan)
    issue = np.zeros(n, dtype=bool)
    rows = np.flatnonzero((y >= 0) & np.isfinite(probs).all(axis=1))
    if len(rows) == 0:
        return score, issue
    p = np.clip(probs[rows], 1e-9, None)
    p = p / p.sum(axis=1, keepdims=True)
    labels = y[rows]
    score[rows] = 1.0 - get_label_quality_scores(labels, p, method="self_confidence")
    present = np.unique(labels)
    if len(present) >= 2 and np.bincount(labels).min(initial=0) >= 0:
        try:
            issue[rows] = find_label_issues(labels, p, filter_by="prune_by_noise_rate", n_jobs=1)
        except Exception:  # cleanlab refuses degenerate class counts; the score still stands
            pass
    return score, issue


def combine_mislabel_scores(parts: dict[str, np.ndarray], labelled: np.ndarray, probs: np.ndarray,
                            classes: list[str]) -> dict[str, np.ndarray]:
    """``mislabel_score`` (NaN where unlabelled), ``suggested_label`` and its probability.

    Parameters
    ----------
    parts : dict
        ``centroid``, ``knn``, ``cleanlab`` raw scores (higher = more suspicious).
    labelled : (n,) bool
    probs : (n, C) float
        Class probabilities used for the suggestion (NaN rows: no suggestion).
    """
    score = combine_ranks(parts, WEIGHTS)
    score = np.where(labelled, score, np.nan)
    score = np.where(labelled, rank_normalise(score), np.nan)
    ok = np.isfinite(probs).all(axis=1)
    best = np.where(ok, np.argmax(np.where(np.isfinite(probs), probs, -1), axis=1), 0)
    suggested = np.array([classes[b] if o else None for b, o in zip(best, ok)], dtype=object)
    prob = np.where(ok, probs[np.arange(len(probs)), best], np.nan)
    out = {"mislabel_score": score, "suggested_label": suggested, "suggested_label_prob": prob}
    for name, v in parts.items():
        out[f"mislabel_{name}"] = np.where(labelled, rank_normalise(np.where(labelled, v, np.nan)), np.nan)
    return out
