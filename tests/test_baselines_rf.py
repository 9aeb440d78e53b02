"""rf_cleanlab: out-of-fold forests whose training set is capped, so the cost stops growing with the sky."""
from __future__ import annotations

import numpy as np
import sklearn.ensemble

from core.analysis import baselines


def separable(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(size=(n, 4)) + 4.0 * np.eye(3, 4)[y]
    y_given = y.copy()
    flipped = np.arange(0, n, 40)
    y_given[flipped] = (y[flipped] + 1) % 3
    y_given[5] = -1                                    # unlabelled
    return x, y_given, flipped


def test_the_cap_leaves_small_skies_unchanged():
    x, y, _ = separable()
    a = baselines.rf_cleanlab(x, y, 3, seed=1)
    b = baselines.rf_cleanlab(x, y, 3, seed=1, max_train=10**9)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_capped_forests_train_on_at_most_the_cap_and_still_predict_every_labelled_row(monkeypatch):
    x, y, flipped = separable()
    sizes = []
    real_fit = sklearn.ensemble.RandomForestClassifier.fit

    def fit(self, X, yy, *args, **kwargs):
        sizes.append(len(X))
        return real_fit(self, X, yy, *args, **kwargs)

    monkeypatch.setattr(sklearn.ensemble.RandomForestClassifier, "fit", fit)
    score, probs = baselines.rf_cleanlab(x, y, 3, seed=0, max_train=60)
    assert sizes == [60] * 5
    labelled = y >= 0
    assert np.isfinite(score[labelled]).all() and np.isnan(score[~labelled]).all()
    np.testing.assert_allclose(probs[labelled].sum(axis=1), 1.0)
    top = np.argsort(-np.nan_to_num(score, nan=-1))[:len(flipped)]
    assert len(set(top) & set(flipped)) >= 0.8 * len(flipped)     # the flips still rank on top
    again = baselines.rf_cleanlab(x, y, 3, seed=0, max_train=60)
    np.testing.assert_array_equal(again[1], probs)                  # the subset is seeded
