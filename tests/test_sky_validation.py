"""Every malformed sky the format rejects: the error names the file, the column and the ids."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sky_cases import CASES, lc_table, objects_table, sp_table, write

from core.errors import SkyValidationError
from core.sky import SkyWarning, open_sky, validate_sky


def build(case, tmp_path):
    return case.build(tmp_path / ("notadir" if case.name == "not a directory" else "badsky"))


def check_message(case, exc: SkyValidationError):
    msg = str(exc)
    assert case.file in msg and case.file in exc.file
    if case.column:
        assert f"column '{case.column}'" in msg and exc.column == case.column
    for i in case.ids:
        assert f"'{i}'" in msg
    assert sorted(exc.ids) == sorted(case.ids) or not case.ids
    assert case.words in msg
    assert "expected" in msg or case.words in ("cannot be read as parquet",)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_sky_is_rejected(case, tmp_path):
    path = build(case, tmp_path)
    if case.at_open:
        with pytest.raises(SkyValidationError) as exc:
            open_sky(path)
        check_message(case, exc.value)
    else:
        sky = open_sky(path)   # structure is fine; the data are checked when read
        with pytest.raises(SkyValidationError) as exc:
            list(sky.iter_lightcurves())
        check_message(case, exc.value)
    with pytest.raises(SkyValidationError) as exc:
        validate_sky(path)
    check_message(case, exc.value)


def test_bad_single_read_names_the_id(tmp_path):
    path = write(tmp_path / "s", objects_table(), lc_table(times=[[1.0, 2.0], [1.0, np.nan], [3.0, 4.0]]))
    sky = open_sky(path)
    assert len(sky.lightcurve("s0")) == 2
    with pytest.raises(SkyValidationError, match=r"column 'time': non-finite values for id 's1'"):
        sky.lightcurve("s1")


def test_unsorted_times_are_sorted_with_a_warning(tmp_path):
    path = write(tmp_path / "s", objects_table(), lc_table(
        times=[[1.0, 2.0, 3.0], [5.0, 1.0, 3.0], [1.0, 2.0, 3.0]],
        mags=[[10.0, 11.0, 12.0], [15.0, 11.0, 13.0], [10.0, 11.0, 12.0]]))
    sky = open_sky(path)
    with pytest.warns(SkyWarning, match=r"time not sorted for 1 object\(s\) \(e.g. \['s1'\]\); sorted on read"):
        lc = sky.lightcurve("s1")
    assert lc.time.tolist() == [1.0, 3.0, 5.0] and lc.value.tolist() == [11.0, 13.0, 15.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = validate_sky(path)   # not an error, and validate_sky records it instead of warning
    assert summary.repaired == {"blocks with unsorted time/wavelength (sorted)": 1}


def test_good_sky_summary(tmp_path):
    path = write(tmp_path / "s", objects_table(), lc_table(n=4), sp_table())
    s = validate_sky(path)
    assert (s.n_objects, s.n_lightcurves, s.n_spectra) == (3, 3, 2)
    assert s.labels == {"EW": 1, "RRAB": 1} and s.n_unlabelled == 1
    assert s.epochs == {"min": 4.0, "median": 4.0, "max": 4.0}
    assert s.wavelength_range == (3700.0, 9100.0)
    text = s.to_text()
    assert "3 objects" in text and "EW 1, RRAB 1, unlabelled 1" in text
    assert "light curves: 3 (100.0%)" in text and "spectra: 2 (66.7%)" in text and "3700-9100 A" in text


def test_shared_crts_sky_opens_lazily(shared_data):
    path = shared_data / "crts-sss"
    if not path.is_dir():
        pytest.skip("crts-sss absent")
    sky = open_sky(path)
    assert len(sky) == 16195 and sky.n_lightcurves == 16195
    assert not sky.has_spectra and sky.spectrum(sky.ids[0]) is None
    assert sky._lc._cache == {}          # nothing but the ids read so far
    counts = sky.objects["label"].value_counts()
    assert counts["EW"] == 3156 and counts["DSCT"] == 102 and counts["LPV"] == 900
    assert sky.objects["id"].map(type).eq(str).all()
    lc = sky.lightcurve(sky.ids[100])
    assert lc.kind == "mag" and 20 <= len(lc) <= 2000 and np.all(np.diff(lc.time) >= 0)
    assert 40000 < lc.time[0] < 70000 and 8 < np.median(lc.value) < 22
    assert len(sky._lc._cache) == 1      # one row group read, not the whole file
    assert {"period", "amplitude"} <= set(sky.metadata_columns)


def test_categorical_labels_are_accepted(tmp_path):
    import pyarrow as pa

    labels = pa.array(["EW", "RRAB", None]).dictionary_encode()
    path = write(tmp_path / "s", objects_table().set_column(1, "label", labels))
    sky = open_sky(path)
    assert sky.objects["label"].tolist() == ["EW", "RRAB", None] and sky.classes == ["EW", "RRAB"]
    assert sky.labels.to_dict() == {"s0": "EW", "s1": "RRAB", "s2": None}


def test_summary_of_an_unlabelled_sky(tmp_path):
    import pyarrow as pa

    path = write(tmp_path / "s", objects_table().set_column(1, "label", pa.array([None, None, None], pa.string())))
    text = validate_sky(path).to_text()
    assert "  labels: unlabelled 3\n" in text
