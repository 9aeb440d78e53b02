"""Per-space class votes: out-of-fold class probabilities from each embedding space.

For every space (photometry, spectra, metadata, fused, and all modalities side by side) a classifier
(LDA projection + multinomial logistic regression) is trained on the labelled objects that have that
embedding. Labelled objects get
out-of-fold probabilities (the model never saw their own label, which is what confident learning
needs); unlabelled objects get the prediction of a model trained on all labelled ones.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["oof_probabilities", "vote_columns", "side_by_side"]


def _model(seed: int):
    """LDA to at most C-1 discriminant axes, then multinomial logistic regression on them.

    Measured on the CRTS embeddings (16k x 64, 10 classes): same accuracy as a logistic regression
    on the raw vectors (0.757 vs 0.755), better log-loss (0.645 vs 0.667), 6x faster (2 s vs 14 s per
    fit on busy cores), which matters with 4 spaces x 5 folds.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(LinearDiscriminantAnalysis(), LogisticRegression(C=1.0, max_iter=200, tol=1e-3,
                                                                         random_state=seed))


def _fit_predict(x_tr, y_tr, x_te, n_classes: int, seed: int) -> np.ndarray:
    out = np.zeros((len(x_te), n_classes))
    seen = np.unique(y_tr)
    if len(seen) == 1:
        out[:, seen[0]] = 1.0
        return out
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # collinear embedding axes (LDA) and slow convergence on a fold are expected; others surface
        warnings.filterwarnings("ignore", message="Variables are collinear")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        m = _model(seed).fit(x_tr, y_tr)
        out[:, m.classes_] = m.predict_proba(x_te)
    return out


def oof_probabilities(x: np.ndarray, present: np.ndarray, y: np.ndarray, n_classes: int, *,
                      folds: int = 5, seed: int = 0) -> np.ndarray:
    """Class probabilities for every object that has this embedding.

    Parameters
    ----------
    x : (n, d) array
    present : (n,) bool
        Objects that have this embedding (others get NaN rows).
    y : (n,) int
        Class index, ``-1`` for unlabelled objects.
    n_classes : int

    Returns
    -------
    (n, n_classes) float array; out-of-fold for labelled objects.
    """
    from sklearn.model_selection import StratifiedKFold

    n = len(x)
    probs = np.full((n, n_classes), np.nan)
    lab = np.flatnonzero(present & (y >= 0))
    unl = np.flatnonzero(present & (y < 0))
    if len(lab) == 0:
        return probs
    counts = np.bincount(y[lab], minlength=n_classes)
    k = int(min(folds, max(2, counts[counts > 0].max())))
    if len(lab) < 2 * k:
        probs[lab] = _fit_predict(x[lab], y[lab], x[lab], n_classes, seed)
    else:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class")  # rarer than the folds
            splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(lab, y[lab]))
        for tr, te in splits:
            probs[lab[te]] = _fit_predict(x[lab[tr]], y[lab[tr]], x[lab[te]], n_classes, seed)
    if len(unl):
        probs[unl] = _fit_predict(x[lab], y[lab], x[unl], n_classes, seed)
    return probs


def vote_columns(probs: np.ndarray, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class (object array, None where no vote) and its probability (NaN where none)."""
    ok = np.isfinite(probs).all(axis=1)
    best = np.where(ok, np.nanargmax(np.where(np.isfinite(probs), probs, -1), axis=1), 0)
    vote = np.array([classes[b] if o else None for b, o in zip(best, ok)], dtype=object)
    prob = np.where(ok, probs[np.arange(len(probs)), best], np.nan)
    return vote, prob


def side_by_side(vectors: dict[str, np.ndarray], present: dict[str, np.ndarray], modalities: list[str]) -> np.ndarray:
    """The modality embeddings of each object next to each other: ``(n, sum of dims [+ indicators])``.

    A missing modality is a block of zeros, and for every modality some objects lack, a 0/1 column
    says whether it is there. Classifying on this keeps what each modality knows apart (the fused
    mean blurs it): on the demo sky, out-of-fold label-error AP 0.97 against 0.92 on the fused vector.
    """
    blocks = [vectors[m] * present[m][:, None] for m in modalities]
    blocks += [present[m][:, None].astype(np.float32) for m in modalities if not present[m].all()]
    return np.hstack(blocks).astype(np.float32) if blocks else np.zeros((0, 0), dtype=np.float32)
