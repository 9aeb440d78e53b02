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


def test_phase_channels_fold_at_the_period_with_phase_zero_at_the_peak():
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 400, 300))
    period, peak = 0.37, 0.123
    v = 12 + 0.4 * np.cos(2 * np.pi * (t - peak) / period) + rng.normal(0, 0.01, len(t))
    ch = pp.phase_channels(t, v, period, 2)
    assert ch.shape == (300, 4)
    # channel 1 is cos(2 pi phase): 1 where the curve peaks, -1 half a period later
    phase_of_point = np.mod((t - peak) / period, 1.0)
    near_peak = np.minimum(phase_of_point, 1 - phase_of_point) < 0.02
    assert ch[near_peak, 1].min() > 0.95
    assert np.allclose(ch[:, 0] ** 2 + ch[:, 1] ** 2, 1, atol=1e-5)
    # the same star observed from another epoch gets the same phases
    ch2 = pp.phase_channels(t + 17.3, v, period, 2)
    np.testing.assert_allclose(ch, ch2, atol=2e-2)


def test_phase_channels_are_zero_without_a_period():
    t = np.arange(20.0)
    for period in (None, np.nan, 0.0, -1.0):
        assert not pp.phase_channels(t, np.sin(t), period, 3).any()


def test_spread_sampling_covers_the_whole_curve():
    t = np.arange(1000.0)
    v = np.arange(1000.0)
    x, mask, _ = pp.prepare_lightcurve(t, v, np.ones(1000), seq_len=50, sampling="spread")
    raw = x[:, 1] * pp.mad(v) + v.mean()
    assert mask.all() and raw.min() < 25 and raw.max() > 975          # evenly spaced over the curve
    xr, _, _ = pp.prepare_lightcurve(t, v, np.ones(1000), seq_len=50, sampling="spread",
                                     rng=np.random.default_rng(1))
    rr = xr[:, 1] * pp.mad(v) + v.mean()
    assert np.all(np.diff(rr) > 0) and rr.max() - rr.min() > 700       # a sorted random subset
    xw, _, _ = pp.prepare_lightcurve(t, v, np.ones(1000), seq_len=50)  # the paper's window
    rw = xw[:, 1] * pp.mad(v) + v.mean()
    assert rw.max() - rw.min() == pytest.approx(49, abs=1e-3)
    with pytest.raises(ValueError, match="sampling"):
        pp.prepare_lightcurve(t, v, np.ones(1000), seq_len=50, sampling="bogus")


def test_phase_channels_follow_the_crop_and_come_last():
    t = np.linspace(0, 100, 400)
    v = np.sin(2 * np.pi * t / 3.0)
    x, mask, st = pp.prepare_lightcurve(t, v, np.ones(400), seq_len=64, sampling="spread", period=3.0,
                                        phase_harmonics=2)
    assert x.shape == (64, 7)
    full = pp.assemble_lightcurve(x, mask, pp.lightcurve_aux(st, np.zeros(4)))
    assert full.shape == (64, pp.lightcurve_channels(2)) == (64, 13)
    np.testing.assert_allclose(full[:, 9:], x[:, 3:])
    kept_t = x[:, 0] * (t[-1] - t[0]) + t[0]                          # time channel back to days
    whole = pp.phase_channels(t, v, 3.0, 2)
    idx = np.abs(t[None, :] - kept_t[:, None]).argmin(axis=1)
    np.testing.assert_allclose(x[:, 3:], whole[idx], atol=1e-4)


def test_excluded_columns_never_reach_the_model():
    objects = pd.DataFrame({"id": ["a", "b", "c"], "label": ["EW"] * 3, "period": [0.3, 0.4, 0.5],
                            "amplitude": [0.2, 0.3, 0.4], "rfr_score": [0.9, 0.1, 0.5], "j_mag": [10.0, 11.0, 12.0]})
    from core.data import Preprocessor
    from core.model.config import get_preset
    prep = Preprocessor.fit(objects, ["j_mag", "period", "amplitude", "rfr_score"], get_preset("tiny"))
    assert "rfr_score" not in prep.metadata.raw_columns and "rfr_score" not in prep.metadata.features
    photo = prep.photo.transform(objects)
    assert not photo[:, 3].any()                                       # the rfr_score channel stays 0
    assert photo[:, 0].std() > 0                                       # the period channel is used
    keep = Preprocessor.fit(objects, ["rfr_score"], get_preset("tiny", exclude_columns=""))
    assert keep.metadata.raw_columns == ["rfr_score"] and keep.photo.transform(objects)[:, 3].std() > 0
