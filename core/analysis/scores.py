"""Small helpers shared by the scores: rank normalisation and robust combination."""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = ["rank_normalise", "combine_ranks"]


def rank_normalise(x) -> np.ndarray:
    """Map scores to (0, 1] by rank (ties averaged); NaN stays NaN.

    The highest score gets 1.0 and the lowest ``1/n``, so a value reads as "more suspicious than
    this share of objects" and is comparable across runs and skies.

    Examples
    --------
    >>> rank_normalise([3.0, 1.0, float("nan"), 2.0]).tolist()
    [1.0, 0.3333333333333333, nan, 0.6666666666666666]
    """
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    if ok.any():
        out[ok] = rankdata(x[ok], method="average") / ok.sum()
    return out


def combine_ranks(parts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted mean of rank-normalised scores, ignoring NaN parts per object, re-ranked to (0, 1].

    Objects where every part is NaN stay NaN.
    """
    num = 0.0
    den = 0.0
    for name, w in weights.items():
        r = rank_normalise(parts[name])
        ok = np.isfinite(r)
        num = num + np.where(ok, r, 0.0) * w
        den = den + ok * w
    with np.errstate(invalid="ignore", divide="ignore"):
        mixed = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return rank_normalise(mixed)
