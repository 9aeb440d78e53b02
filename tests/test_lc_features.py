"""The light-curve features' skewness and kurtosis: scipy's values, bit for bit, without scipy's per-call cost."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import kurtosis, skew

from core.analysis.baselines import skew_kurtosis


def series(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(300):
        n = int(rng.integers(10, 300))
        v = rng.normal(size=n) * rng.uniform(0.01, 3) + rng.uniform(10, 20)      # magnitudes
        if i % 3 == 0:
            v = np.exp(v - 15)                                                     # skewed fluxes
        if i % 7 == 0:
            v = np.full(n, 14.2) + rng.normal(size=n) * 10.0 ** rng.uniform(-16, -12)   # (nearly) constant
        out.append(v)
    return out + [np.full(25, 15.3), np.r_[np.zeros(30), 1.0]]


@pytest.mark.parametrize("seed", [0, 1])
def test_skew_and_kurtosis_are_scipys(seed):
    nans = 0
    for v in series(seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # scipy warns on a constant series
            expected = np.array([skew(v), kurtosis(v)])
        got = np.array(skew_kurtosis(v))
        np.testing.assert_array_equal(got, expected)
        nans += int(np.isnan(expected).any())
    assert nans >= 5                                             # the constant cases were exercised
