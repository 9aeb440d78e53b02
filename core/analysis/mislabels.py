"""Label-error scores: classifier, kNN and centroid class probabilities, combined by confident learning.

Three estimates of "which class is this object really", none of which saw the object's own label:

(a) **classifier**: out-of-fold class probabilities of a classifier on the object's embeddings
    (all modalities side by side, see :mod:`votes`);
(b) **kNN**: the similarity-weighted class shares among its ``k`` nearest labelled objects (the
    object itself excluded);
(c) **centroid** (AstroM3, Rizhko & Bloom 2024): a softmax over the cosine similarities to the
    class centroids of the fused space;
(d) **features**: out-of-fold probabilities of a random forest on hand-made light-curve features
    (:func:`core.analysis.baselines.lightcurve_features`: period, Fourier amplitude ratios and
    phase differences, skewness, ...), where the sky has light curves. On real stars they know
    what the embeddings of a small CPU model miss: planted CRTS flips (seed 0) AP 0.635 with
    (a)-(c) alone, 0.733 for this forest alone, 0.763 together; demo seed 0 0.943 -> 0.973.

They are averaged with :data:`WEIGHTS` into one probability per class, and ``mislabel_score`` is
cleanlab's self-confidence issue score of that average (``1 - p(given label)``, confident learning),
rank-normalised to (0, 1]; NaN for unlabelled objects. ``suggested_label`` is the most probable
class (it may equal the given label). Averaging probabilities, not ranks, is what cleanlab
recommends for ensembles; on the demo sky (seed 0) it gave label-error AP 0.98 where a mean of the
three ranks gave 0.88 (the centroid estimate is the weakest: AP 0.47 alone, so it gets little weight).

The detail columns keep each method's own view: ``mislabel_cleanlab`` (self-confidence of the
classifier alone), ``mislabel_knn`` (kNN disagreement), ``mislabel_centroid`` (the paper's own
score: distance to the own class centroid minus distance to the nearest other one) and
``mislabel_features`` (self-confidence of the light-curve forest alone).
"""
from __future__ import annotations

import numpy as np

from core.analysis.scores import rank_normalise

__all__ = ["WEIGHTS", "CENTROID_TEMPERATURE", "centroids", "centroid_scores", "centroid_probabilities",
           "knn_label_probs", "confident_learning_scores", "ensemble_probabilities", "disagreement",
           "combine_mislabel_scores"]

#: Weights of the class-probability estimates averaged into the one cleanlab scores.
WEIGHTS: dict[str, float] = {"classifier": 0.35, "knn": 0.1, "centroid": 0.05, "features": 0.5}
#: Inverse temperature of the centroid softmax (cosine similarities lie in [-1, 1]).
CENTROID_TEMPERATURE = 10.0


def centroids(x: np.ndarray, present: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-length class centroids of the labelled objects that have ``x``; and which classes have one."""
    cents = np.zeros((n_classes, x.shape[1]), dtype=np.float64)
    have = np.zeros(n_classes, dtype=bool)
    lab = present & (y >= 0)
    for c in range(n_classes):
        rows = lab & (y == c)
        if rows.any():
            m = x[rows].mean(axis=0)
            norm = np.linalg.norm(m)
            if norm > 0:
                cents[c], have[c] = m / norm, True
    return cents, have


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
    cents, have = centroids(x, present, y, n_classes)
    if have.sum() < 2:
        return score, nearest
    rows = np.flatnonzero(present & (y >= 0))
    sims = x[rows] @ cents.T
    sims[:, ~have] = -np.inf
    own = sims[np.arange(len(rows)), y[rows]]
    others = sims.copy()
    others[np.arange(len(rows)), y[rows]] = -np.inf
    best_other = others.argmax(axis=1)
    score[rows] = (1 - own) - (1 - others[np.arange(len(rows)), best_other])
    nearest[rows] = best_other
    return score, nearest


def centroid_probabilities(x: np.ndarray, present: np.ndarray, y: np.ndarray, n_classes: int, *,
                           temperature: float = CENTROID_TEMPERATURE) -> np.ndarray:
    """Softmax of ``temperature * cos(x, centroid_c)`` over the classes; NaN rows where ``x`` is absent."""
    probs = np.full((len(x), n_classes), np.nan)
    cents, have = centroids(x, present, y, n_classes)
    if not have.any():
        return probs
    rows = np.flatnonzero(present)
    z = temperature * (x[rows] @ cents.T)
    z[:, ~have] = -np.inf
    z = np.exp(z - z.max(axis=1, keepdims=True))
    probs[rows] = z / z.sum(axis=1, keepdims=True)
    return probs


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
    if len(np.unique(labels)) >= 2:
        try:
            issue[rows] = find_label_issues(labels, p, filter_by="prune_by_noise_rate", n_jobs=1)
        except Exception as exc:  # noqa: BLE001 - cleanlab refuses degenerate class counts; the score stands
            import warnings

            warnings.warn(f"cleanlab could not flag label issues ({type(exc).__name__}: {exc}); "
                          f"mislabel_cleanlab_issue is left False", UserWarning, stacklevel=2)
    return score, issue


def ensemble_probabilities(parts: dict[str, np.ndarray], weights: dict[str, float] | None = None) -> np.ndarray:
    """Weighted mean of class-probability estimates, over the ones each object has (NaN rows skipped).

    Rows where no estimate exists stay NaN.
    """
    weights = WEIGHTS if weights is None else weights
    total, seen = 0.0, 0.0
    for name, w in weights.items():
        p = parts.get(name)
        if p is None or not w:
            continue
        ok = np.isfinite(p).all(axis=1, keepdims=True)
        total = total + np.where(ok, p, 0.0) * w
        seen = seen + ok * w
    seen = np.asarray(seen, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, total / np.where(seen > 0, seen, 1.0), np.nan)


def disagreement(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``1 - p(given label)`` per labelled object (NaN for unlabelled objects or missing rows)."""
    yy = np.where(y >= 0, y, 0)
    return np.where(y >= 0, 1.0 - probs[np.arange(len(y)), yy], np.nan)


def combine_mislabel_scores(p: np.ndarray, y: np.ndarray, classes: list[str], *,
                            details: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """``mislabel_score`` (NaN where unlabelled), ``suggested_label``, its probability and detail columns.

    Parameters
    ----------
    p : (n, C) float
        The combined class probabilities (:func:`ensemble_probabilities`); NaN rows: no suggestion.
    y : (n,) int
        Given label index, ``-1`` for unlabelled objects.
    classes : list of str
    details : dict, optional
        Raw per-method scores (higher = more suspicious), written rank-normalised as
        ``mislabel_<name>`` for labelled objects.
    """
    labelled = y >= 0
    cl, issue = confident_learning_scores(p, y)
    ok = np.isfinite(p).all(axis=1)
    best = np.where(ok, np.argmax(np.nan_to_num(p, nan=-1.0), axis=1), 0)
    out = {"mislabel_score": np.where(labelled, rank_normalise(np.where(labelled, cl, np.nan)), np.nan),
           "suggested_label": np.array([classes[b] if o else None for b, o in zip(best, ok)], dtype=object),
           "suggested_label_prob": np.where(ok, p[np.arange(len(p)), best], np.nan),
           "mislabel_cleanlab_issue": issue}
    for name, v in (details or {}).items():
        out[f"mislabel_{name}"] = rank_normalise(np.where(labelled, v, np.nan))
    return out
