"""AstroM3 preprocessing: pure functions, physical facts asserted on tiny inputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import preprocess as pp


def test_lightcurve_dedup_sort_normalise_pad():
    t = np.array([3.0, 1.0, 2.0, 2.0, np.nan])
    v = np.array([12.0, 10.0, 11.0, 99.0, 5.0])
    e = np.full(5, 0.1)
    x, mask, st = pp.prepare_lightcurve(t, v, e, seq_len=6)
    assert mask.tolist() == [True, True, True, False, False, False]
    np.testing.assert_allclose(x[:3, 0], [0.0, 0.5, 1.0])          # time scaled to [0, 1]
    # values 10, 11, 12 (duplicate time 2 keeps the first, 11): mean 11, MAD 1
    np.testing.assert_allclose(x[:3, 1], [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(x[:3, 2], 0.1)
    assert np.all(x[3:] == 0)
    assert st["span"] == 2.0
    assert st["log_mad"] == pytest.approx(0.0)


def test_lightcurve_crop_centred_and_random():
    t = np.arange(10.0)
    v = np.arange(10.0)
    x, mask, _ = pp.prepare_lightcurve(t, v, np.ones(10), seq_len=4)
    assert mask.all()
    # centred window: points 3..6
    raw = x[:, 1] * pp.mad(v) + v.mean()
    np.testing.assert_allclose(raw, [3, 4, 5, 6], atol=1e-5)
    starts = set()
    for s in range(20):
        xr, _, _ = pp.prepare_lightcurve(t, v, np.ones(10), seq_len=4, rng=np.random.default_rng(s))
        starts.add(round(float(xr[0, 1] * pp.mad(v) + v.mean())))
    assert len(starts) > 2 and min(starts) >= 0 and max(starts) <= 6


def test_lightcurve_flux_and_constant_and_empty():
    x, mask, st = pp.prepare_lightcurve([0, 1, 2, 3], [5.0, 5.0, 5.0, 5.0], [1, 1, 1, 1], seq_len=5)
    assert np.all(np.isfinite(x)) and mask.sum() == 4 and np.all(x[:4, 1] == 0)
    x, mask, st = pp.prepare_lightcurve([], [], [], seq_len=5)
    assert not mask.any() and st == {"log_mad": 0.0, "span": 0.0}


def test_nine_channels_with_aux():
    x, mask, st = pp.prepare_lightcurve(np.arange(5.0) * 100, np.arange(5.0), np.ones(5), seq_len=8)
    full = pp.assemble_lightcurve(x, mask, pp.lightcurve_aux(st, np.array([1, 2, 3, 4.0])))
    assert full.shape == (8, pp.LC_CHANNELS)
    np.testing.assert_allclose(full[0, 3:], [np.log10(1.0), 400 / 365, 1, 2, 3, 4], rtol=1e-6)
    assert np.all(full[5:] == 0)


def test_spectrum_grid_and_normalisation():
    g = pp.spectrum_grid()
    assert g[0] == 3850 and g[-1] == 9000 and len(g) == 2576 and np.allclose(np.diff(g), 2)
    w = np.linspace(4000, 8000, 100)
    f = 2.0 + np.sin(w / 300)
    out = pp.prepare_spectrum(w, f, np.full(100, 0.1), g)
    assert out.shape == (3, 2576)
    inside = (g >= 4000) & (g <= 8000)
    assert np.all(out[0, ~inside] == 0) and np.all(out[1, ~inside] == 0)
    fi = np.interp(g[inside], w, f)
    m = pp.mad(fi)
    np.testing.assert_allclose(out[0, inside], (fi - fi.mean()) / m, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[2], np.log10(m), rtol=1e-5)


def test_spectrum_drops_infinite_errors():
    w = np.array([4000.0, 5000, 6000, 7000])
    out = pp.prepare_spectrum(w, [1.0, 2, np.nan, 4], [0.1, np.inf, 0.1, 0.1], pp.spectrum_grid(4000, 7000, 1000))
    assert np.all(np.isfinite(out))


def test_metadata_features_absolute_magnitudes_and_angles():
    df = pd.DataFrame({"phot_g_mean_mag": [10.0, 10.0, 10.0], "parallax": [10.0, -1.0, np.nan],
                       "l": [0.0, 90.0, 180.0], "b": [0.0, 0.0, 0.0], "period": [10.0, 0.0, 1.0],
                       "amplitude": [1.0, 2.0, 3.0]})
    f = pp.metadata_features(df)
    # parallax 10 mas = 100 pc: M = 10 - 5 log10(100/10) = 5
    assert f["phot_g_mean_mag"].iloc[0] == pytest.approx(5.0)
    assert np.isnan(f["phot_g_mean_mag"].iloc[1]) and np.isnan(f["phot_g_mean_mag"].iloc[2])
    np.testing.assert_allclose(f["cos_l"], [1, 0, -1], atol=1e-12)
    np.testing.assert_allclose(f["sin_l"], [0, 1, 0], atol=1e-12)
    assert f["log_period"].iloc[0] == pytest.approx(1.0) and np.isnan(f["log_period"].iloc[1])
    assert "l" not in f and "period" not in f


def test_metadata_scaler_fits_on_train_and_imputes_median():
    train = pd.DataFrame({"bp_rp": [1.0, 2.0, 3.0, np.nan], "ruwe": [np.nan] * 4, "pm": [1.0, 1.0, 1.0, 1.0]})
    s = pp.MetadataScaler().fit(train, ["bp_rp", "ruwe", "pm"])
    assert s.features == ["bp_rp", "pm"]           # all-missing column dropped
    x = s.transform(pd.DataFrame({"bp_rp": [np.nan, 2.0], "ruwe": [1.0, 1.0], "pm": [1.0, 5.0]}))
    assert x.shape == (2, 2)
    assert x[0, 0] == pytest.approx(0.0)           # median 2 == mean 2 of the imputed training column
    assert x[0, 1] == 0.0 and x[1, 1] == 4.0       # constant column: std 1
    again = pp.MetadataScaler.from_dict(s.to_dict())
    np.testing.assert_array_equal(again.transform(train), s.transform(train))


def test_photo_scaler_missing_columns_are_zero():
    df = pd.DataFrame({"period": [1.0, 10.0, 100.0]})
    s = pp.PhotoScaler().fit(df)
    x = s.transform(df)
    assert x.shape == (3, 4)
    np.testing.assert_allclose(x[:, 0], [-np.sqrt(1.5), 0, np.sqrt(1.5)], rtol=1e-6)
    assert np.all(x[:, 1:] == 0)
