"""Hand-written statistics checked against the libraries that provide them (issue 15).

Cohen's kappa now calls scikit-learn; the test keeps the former formula as the reference. The
light-curve MAD (``core.preprocess.mad``) and the learning-rate schedule (``core.train._lr_at``)
stay hand-written; these tests pin that they compute what scipy and torch compute.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import median_abs_deviation

from core.flags import cohen_kappa
from core.preprocess import mad
from core.train import _lr_at


def _kappa_by_hand(a, b) -> float:
    """The formula core.flags used before scikit-learn: (p_o - p_e) / (1 - p_e)."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    po = float(np.mean(a == b))
    pe = float(sum(np.mean(a == c) * np.mean(b == c) for c in set(a) | set(b)))
    return 1.0 if pe >= 1.0 else (po - pe) / (1 - pe)


def _rater_pairs(rng, n_cases=300):
    for _ in range(n_cases):
        cats = ["none", "anomaly", "mislabel", "crossmatch"][:int(rng.integers(1, 5))]
        n = int(rng.integers(1, 60))
        a = rng.choice(cats, n)
        b = np.where(rng.random(n) < rng.random(), a, rng.choice(cats, n))  # agreement from none to full
        yield a.tolist(), b.tolist()


def test_cohen_kappa_equals_the_former_formula():
    rng = np.random.default_rng(0)
    pairs = list(_rater_pairs(rng))
    got = np.array([cohen_kappa(a, b) for a, b in pairs])
    want = np.array([_kappa_by_hand(a, b) for a, b in pairs])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert (got == 1.0).sum() > 10 and (got < 0).sum() > 10     # both extremes were exercised


def test_cohen_kappa_edge_cases():
    assert cohen_kappa([True] * 5, [True] * 5) == 1.0           # one category for both: agreement
    assert cohen_kappa(["a"] * 4, ["b"] * 4) == 0.0
    assert cohen_kappa([True, False, True, False], [False, True, False, True]) == -1.0
    with pytest.raises(ValueError):
        cohen_kappa([], [])
    with pytest.raises(ValueError):
        cohen_kappa(["a"], ["a", "b"])


def test_mad_is_scipys_unscaled_median_abs_deviation_bit_for_bit():
    rng = np.random.default_rng(1)
    for _ in range(500):
        x = rng.standard_normal(int(rng.integers(1, 2000))) * rng.uniform(1e-3, 100) + rng.uniform(-20, 20)
        assert mad(x) == float(median_abs_deviation(x))
    x = np.array([1.0, np.nan, 2.0, np.inf, 4.0])
    assert mad(x) == float(median_abs_deviation([1.0, 2.0, 4.0])) == 1.0  # non-finite values are dropped


def _torch_lrs(warmup: int, total: int, base: float, min_ratio: float, cosine: bool) -> np.ndarray:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    sched = torch.optim.lr_scheduler
    warm = sched.LinearLR(opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1)
    after = (sched.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=min_ratio * base) if cosine
             else sched.ConstantLR(opt, factor=1.0, total_iters=0))
    seq = sched.SequentialLR(opt, [warm, after], milestones=[warmup])
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        seq.step()
    return np.array(lrs)


@pytest.mark.parametrize("warmup,total,cosine", [(62, 744, True), (7, 70, True), (20, 200, False)])
def test_lr_schedule_is_torchs_linear_warmup_then_cosine(warmup, total, cosine):
    ours = np.array([_lr_at(s, warmup, 4e-3, total_steps=total if cosine else 0, min_ratio=0.05)
                     for s in range(total)])
    # torch's schedulers update the rate recursively, so they agree to rounding only (~5e-15 relative),
    # not bit for bit: training keeps the closed form the shipped checkpoint was trained with.
    np.testing.assert_allclose(ours, _torch_lrs(warmup, total, 4e-3, 0.05, cosine), rtol=1e-12, atol=0)
