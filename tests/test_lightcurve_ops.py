"""LightCurve.fold / normalize / periodogram / best_period and Sky.object / Sky.lightcurves."""
from __future__ import annotations

import numpy as np
import pytest

from core.sky import LightCurve, open_sky


def _sine(period=0.61, n=300, span=900.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, span, n))
    return LightCurve("a", t, 15 + 0.4 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.02, n), np.full(n, 0.02))


def test_best_period_recovers_a_short_period_of_a_long_light_curve():
    assert _sine(0.61).best_period() == pytest.approx(0.61, rel=1e-3)
    assert _sine(3.7).best_period() == pytest.approx(3.7, rel=1e-3)
    assert LightCurve("x", np.arange(5.0), np.ones(5), np.ones(5)).best_period() is None


def test_fold_sorts_by_phase_from_maximum_light_and_records_how():
    lc = _sine(0.61)
    f = lc.fold(0.61)
    assert np.all(np.diff(f.time) >= 0) and f.time.min() >= 0 and f.time.max() < 1
    assert f.meta["fold"]["period"] == 0.61
    assert f.meta["fold"]["epoch"] == lc.time[np.argmin(lc.value)]
    # folded at the right period the curve is smooth: neighbours in phase have close magnitudes
    assert np.median(np.abs(np.diff(f.value))) < 0.1
    assert np.median(np.abs(np.diff(lc.fold(0.5).value))) > 0.2
    assert lc.meta == {} and len(f) == len(lc)              # the original is unchanged
    with pytest.raises(ValueError, match="period must be positive"):
        lc.phase(0.0)


def test_normalize_and_flux_light_curves():
    lc = _sine()
    z = lc.normalize()
    assert np.median(z.value) == pytest.approx(0.0, abs=1e-12)
    assert np.percentile(z.value, 95) - np.percentile(z.value, 5) == pytest.approx(1.0)
    assert z.meta["normalize"]["amplitude"] == pytest.approx(np.percentile(lc.value, 95) - np.percentile(lc.value, 5))
    flux = LightCurve("f", lc.time, 10 ** (-0.4 * lc.value), lc.error, kind="flux")
    np.testing.assert_allclose(flux.magnitudes, lc.value)
    assert flux.best_period() == pytest.approx(0.61, rel=1e-3)


def test_periodogram_peaks_at_the_period():
    periods, power = _sine(0.61).periodogram(min_period=0.3, max_period=2.0, n=20000)
    assert periods[np.argmax(power)] == pytest.approx(0.61, rel=2e-3)


def test_sky_object_and_lightcurves_by_id(handmade_sky):
    sky = open_sky(handmade_sky)
    assert sky.object("obj3")["label"] == "EW"
    with pytest.raises(KeyError, match="nope"):
        sky.object("nope")
    got = sky.lightcurves(["obj4", "obj0", "missing"])
    assert [g.id if g else None for g in got] == ["obj4", "obj0", None]
    np.testing.assert_array_equal(got[0].time, sky.lightcurve("obj4").time)
