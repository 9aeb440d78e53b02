"""The sky format: round trip, lazy reads, missing modalities, atomic writes."""
from __future__ import annotations

import numpy as np
import pytest

from core.sky import SkyWarning, SkyWriter, open_sky, validate_sky, write_sky
from tests.conftest import make_handmade_sky_tables


def test_round_trip_values(handmade_sky):
    objects, lcs, spectra = make_handmade_sky_tables()
    sky = open_sky(handmade_sky)
    assert list(sky.ids) == list(objects["id"])
    assert sky.labels["obj2"] is None
    lc = sky.lightcurve("obj3")
    np.testing.assert_allclose(lc.time, lcs.loc[3, "time"])
    np.testing.assert_allclose(lc.value, lcs.loc[3, "mag"], rtol=1e-6)
    assert lc.kind == "mag"
    sp = sky.spectrum("obj1")
    np.testing.assert_allclose(sp.flux, spectra.loc[1, "flux"], rtol=1e-6)
    assert sky.spectrum("obj5") is None          # spectrum missing for this object
    assert sky.n_spectra == 4 and sky.n_lightcurves == 6
    assert sky.classes == ["EW", "SR", "RRAB", "M"]


def test_streaming_matches_random_access(handmade_sky):
    sky = open_sky(handmade_sky)
    streamed = {lc.id: lc for lc in sky.iter_lightcurves(batch_size=4)}
    assert list(streamed) == list(sky.ids)
    np.testing.assert_array_equal(streamed["obj4"].value, sky.lightcurve("obj4").value)
    subset = [lc.id for lc in sky.iter_lightcurves(ids=["obj5", "obj1"])]
    assert subset == ["obj1", "obj5"]


def test_sky_without_spectra(tmp_path):
    objects, lcs, _ = make_handmade_sky_tables()
    sky = open_sky(write_sky(tmp_path / "s", objects, lcs))
    assert not sky.has_spectra and sky.spectrum("obj1") is None
    assert list(sky.iter_spectra()) == []


def test_unsorted_times_are_sorted_with_warning(tmp_path):
    objects, lcs, _ = make_handmade_sky_tables()
    lcs.at[2, "time"] = lcs.at[2, "time"][::-1].copy()
    sky = open_sky(write_sky(tmp_path / "s", objects, lcs))
    with pytest.warns(SkyWarning, match="obj2"):
        lc = sky.lightcurve("obj2")
    assert np.all(np.diff(lc.time) >= 0)


def test_fingerprint_changes_with_content(tmp_path):
    objects, lcs, _ = make_handmade_sky_tables()
    a = open_sky(write_sky(tmp_path / "a", objects, lcs)).fingerprint
    a2 = open_sky(tmp_path / "a").fingerprint
    lcs.at[0, "mag"] = lcs.at[0, "mag"] + 0.1
    b = open_sky(write_sky(tmp_path / "b", objects, lcs)).fingerprint
    assert a == a2 and a != b


def test_failed_write_leaves_nothing(tmp_path):
    objects, lcs, _ = make_handmade_sky_tables()
    with pytest.raises(RuntimeError):
        with SkyWriter(tmp_path / "sky") as w:
            w.write_objects(objects)
            raise RuntimeError("simulated crash")
    assert list(tmp_path.iterdir()) == []


def test_validate_summary(handmade_sky):
    s = validate_sky(handmade_sky)
    assert s.n_objects == 6 and s.n_unlabelled == 1 and s.labels["EW"] == 2
    assert s.epochs["median"] == 50
    assert s.wavelength_range == pytest.approx((3700, 9100))
    assert "6 objects" in s.to_text()


def test_labels_as_objects_keeps_strings_and_nulls_the_rest():
    import pandas as pd

    from core.sky import _labels_as_objects

    out = _labels_as_objects(pd.Series([np.str_("EW"), None, np.nan, "SR", 3]))
    assert out.tolist() == ["EW", None, None, "SR", None] and out.dtype == object
