"""Readers (`astrom3 import`): each source on a tiny fixture written at test time."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import AstroM3Error, SkyValidationError
from core.io import READERS, import_sky
from core.sky import open_sky
from io_fixtures import write_asassn_dir, write_astrom3_parquet, write_crts_dir, write_lamost_fits

# readers warn with the count of dropped points; tests that care use pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore:dropped .* point")


def test_registry_lists_every_reader(capsys):
    assert set(READERS) == {"astrom3", "asassn", "lamost", "crts"}
    assert main(["import", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in READERS)


def test_unknown_format_is_one_line_exit_2(tmp_path, capsys):
    assert main(["import", "nope", str(tmp_path), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown import format 'nope'" in err[0]


# --- AstroM3 parquet -----------------------------------------------------------------------------

@pytest.mark.parametrize("nested,flat,id_col", [(True, False, "id"), (False, True, "name")])
def test_astrom3_parquet(tmp_path, nested, flat, id_col):
    src = write_astrom3_parquet(tmp_path / "train.parquet", nested_metadata=nested, flat_arrays=flat, id_column=id_col)
    sky = open_sky(import_sky("astrom3", src, tmp_path / "sky"))
    assert list(sky.ids) == [f"ASASSN-V J{i:04d}" for i in range(4)]
    assert list(sky.objects["label"]) == ["EW", "RRAB", "SR", "M"]
    assert sky.objects["mean_vmag"].tolist() == [12.0, 13.0, 14.0, 15.0]
    assert sky.objects["period"].tolist() == pytest.approx([0.3, 1.3, 2.3, 3.3])
    assert sky.n_lightcurves == 4 and sky.n_spectra == 3
    lc = sky.lightcurve("ASASSN-V J0001")
    assert lc.kind == "flux" and len(lc) == 21 and np.all(lc.error == pytest.approx(0.1))
    sp = sky.spectrum("ASASSN-V J0000")
    assert sp.wavelength[0] == pytest.approx(3850) and sp.wavelength[-1] == pytest.approx(9000)
    assert sky.spectrum("ASASSN-V J0003") is None


def test_astrom3_integer_labels(tmp_path, capsys):
    src = write_astrom3_parquet(tmp_path / "a.parquet", int_labels=True)
    with pytest.raises(SkyValidationError, match="integer labels need class names"):
        import_sky("astrom3", src, tmp_path / "sky")
    assert not (tmp_path / "sky").exists()
    names = "EW,RRAB,SR,M,DSCT,EA"
    assert main(["import", "astrom3", str(src), str(tmp_path / "sky"), "--label-names", names]) == 0
    assert "objects" in capsys.readouterr().out
    assert list(open_sky(tmp_path / "sky").objects["label"]) == ["EW", "RRAB", "SR", "M"]


def test_astrom3_bad_shape_names_file_and_id(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "x1", "photometry": [1.0, 2.0, 3.0, 4.0],
                                          "spectra": [], "label": "EW"}]), src)
    with pytest.raises(SkyValidationError) as exc:
        import_sky("astrom3", src, tmp_path / "sky")
    msg = str(exc.value)
    assert "bad.parquet" in msg and "photometry" in msg and "'x1'" in msg
    assert not (tmp_path / "sky").exists()


# --- ASAS-SN -------------------------------------------------------------------------------------

def test_asassn_csv(tmp_path):
    lcs, catalog = write_asassn_dir(tmp_path)
    with pytest.warns(UserWarning, match="dropped 6 flagged"):
        sky = open_sky(import_sky("asassn", lcs, tmp_path / "sky", catalog=catalog))
    assert list(sky.ids) == ["ASASSN-V_J00", "ASASSN-V_J01", "ASASSN-V_J02"]
    assert list(sky.objects["label"]) == ["EW", "RRAB", "SR"]
    assert sky.objects["ra"].tolist() == [10.0, 11.0, 12.0]
    assert sky.objects["mean_vmag"].tolist() == [12.0] * 3
    lc = sky.lightcurve("ASASSN-V_J01")
    assert len(lc) == 13 and lc.kind == "mag" and lc.value.max() < 20 and np.all(np.diff(lc.time) > 0)


def test_asassn_file_without_catalogue_row(tmp_path, capsys):
    lcs, catalog = write_asassn_dir(tmp_path)
    shutil.copy(lcs / "ASASSN-V_J00.csv", lcs / "stranger.csv")
    with pytest.raises(SkyValidationError, match="data without a catalogue row for id 'stranger'"):
        import_sky("asassn", lcs, tmp_path / "sky", catalog=catalog)
    assert not (tmp_path / "sky").exists()
    assert main(["import", "asassn", str(lcs), str(tmp_path / "sky"), "--catalog", str(catalog)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "catalog.csv" in err[0] and "stranger" in err[0]
    sky = open_sky(import_sky("asassn", lcs, tmp_path / "sky", catalog=catalog, keep_unmatched=True))
    assert sky.objects.set_index("id").loc["stranger", "label"] is None


def test_asassn_missing_column(tmp_path):
    lcs, catalog = write_asassn_dir(tmp_path, n=1)
    (lcs / "ASASSN-V_J00.csv").write_text("HJD,camera,flux\n2457000.1,bd,3.0\n")
    with pytest.raises(SkyValidationError) as exc:
        import_sky("asassn", lcs, tmp_path / "sky", catalog=catalog)
    assert "ASASSN-V_J00.csv" in str(exc.value) and "column 'mag'" in str(exc.value)


# --- CRTS ----------------------------------------------------------------------------------------

def test_crts_dat(tmp_path):
    d, catalog = write_crts_dir(tmp_path)
    sky = open_sky(import_sky("crts", d, tmp_path / "sky", catalog=catalog))
    assert list(sky.ids) == ["1001", "1002", "1003"]
    assert list(sky.objects["label"]) == ["EW", "RRAB", "ROT"]
    a, b, c = (sky.lightcurve(i) for i in ("1001", "1002", "1003"))
    assert len(a) == 12 and a.value[0] == pytest.approx(15.0) and a.error[0] == pytest.approx(0.05)
    assert len(b) == 12 and np.all(np.diff(b.time) > 0) and np.all(b.value == pytest.approx(16.0))
    assert len(c) == 8   # the nan point dropped
    assert a.time[0] > 53500


def test_crts_short_line_names_row(tmp_path):
    d = tmp_path / "crts"
    d.mkdir()
    (d / "9.dat").write_text("53000.1 15.0 0.05\n53001.1 15.1\n")
    with pytest.raises(SkyValidationError) as exc:
        import_sky("crts", d, tmp_path / "sky")
    assert "9.dat" in str(exc.value) and "row '1'" in str(exc.value)


# --- LAMOST --------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["primary", "coadd"])
def test_lamost_fits(tmp_path, layout):
    d = tmp_path / "spec"
    d.mkdir()
    write_lamost_fits(d / "spec-1.fits", obsid=111, layout=layout)
    write_lamost_fits(d / "spec-2.fits.gz", obsid=222, ra=200.0, dec=-10.0, layout=layout, seed=1)
    sky = open_sky(import_sky("lamost", d, tmp_path / "sky"))
    assert list(sky.ids) == ["111", "222"]
    obj = sky.objects.set_index("id")
    assert obj.loc["222", "ra"] == pytest.approx(200.0) and obj.loc["222", "dec"] == pytest.approx(-10.0)
    assert obj.loc["111", "lamost_subclass"] == "G2" and obj.loc["111", "label"] is None
    sp = sky.spectrum("111")
    assert len(sp) == 500 and sp.wavelength[0] == pytest.approx(3700) and sp.wavelength[-1] == pytest.approx(9100)
    assert np.isinf(sp.error[10]) and np.isinf(sp.error[20]) and sp.error[0] == pytest.approx(5.0)
    assert np.all(np.isfinite(sp.flux))


def test_lamost_with_catalogue(tmp_path):
    d = tmp_path / "spec"
    d.mkdir()
    write_lamost_fits(d / "spec-1.fits", obsid=111)
    write_lamost_fits(d / "spec-2.fits", obsid=222)
    cat = tmp_path / "cat.csv"
    pd.DataFrame({"id": ["starA", "starB"], "obsid": ["111", "222"], "label": ["EW", "M"]}).to_csv(cat, index=False)
    sky = open_sky(import_sky("lamost", d, tmp_path / "sky", catalog=cat))
    assert list(sky.ids) == ["starA", "starB"] and list(sky.objects["label"]) == ["EW", "M"]
    assert sky.spectrum("starB") is not None


def test_lamost_corrupt_fits(tmp_path):
    d = tmp_path / "spec"
    d.mkdir()
    (d / "spec-bad.fits").write_bytes(b"SIMPLE  = not really fits")
    with pytest.raises(SkyValidationError, match="spec-bad.fits: cannot be read as FITS"):
        import_sky("lamost", d, tmp_path / "sky")
    assert not (tmp_path / "sky").exists()


def test_lamost_shared_fixtures(tmp_path, shared_data):
    src = shared_data / "lamost-fixtures"
    if not src.is_dir():
        pytest.skip("lamost-fixtures absent")
    sky = open_sky(import_sky("lamost", src, tmp_path / "sky"))
    assert sorted(sky.ids) == ["359910161", "677503031"]
    obj = sky.objects.set_index("id")
    assert obj.loc["359910161", "ra"] == pytest.approx(292.05872)
    assert obj.loc["677503031", "dec"] == pytest.approx(25.427147)
    assert obj.loc["677503031", "lamost_subclass"] == "G3"
    for sp in sky.iter_spectra():
        assert len(sp) == 3909
        assert 3690 < sp.wavelength[0] < 3710 and 9090 < sp.wavelength[-1] < 9110
        assert np.all(np.isfinite(sp.flux)) and np.median(sp.flux) > 0


# --- atomicity -----------------------------------------------------------------------------------

def test_failed_import_leaves_nothing(tmp_path, monkeypatch):
    from core.sky import SkyWriter

    d, catalog = write_crts_dir(tmp_path)
    out = tmp_path / "out"
    seen = {}

    def boom(self, data):   # fail midway: objects.parquet is already in the temp dir
        seen["tmp"] = self.tmp
        seen["objects_written"] = (self.tmp / "objects.parquet").exists()
        raise AstroM3Error("disk on fire")
    monkeypatch.setattr(SkyWriter, "write_lightcurves", boom)
    with pytest.raises(AstroM3Error, match="disk on fire"):
        import_sky("crts", d, out, catalog=catalog)
    assert seen["objects_written"]
    assert not seen["tmp"].exists()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_existing_out_needs_force(tmp_path, capsys):
    d, catalog = write_crts_dir(tmp_path)
    out = tmp_path / "out"
    import_sky("crts", d, out, catalog=catalog)
    assert main(["import", "crts", str(d), str(out), "--catalog", str(catalog)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["import", "crts", str(d), str(out), "--catalog", str(catalog), "--force"]) == 0
    assert len(open_sky(out)) == 3


def test_asassn_skypatrol_v2_quality_column(tmp_path):
    d = tmp_path / "lcs"
    d.mkdir()
    rows = ["jd,flux,flux_err,mag,mag_err,limit,fwhm,image_id,camera,quality"]
    rows += [f"{2458000 + k}.5,5.0,0.1,{13 + 0.01 * k:.2f},0.03,17.0,1.6,im{k},bq,{'B' if k == 2 else 'G'}"
             for k in range(6)]
    (d / "star.csv").write_text("\n".join(rows) + "\n")
    cat = tmp_path / "cat.csv"
    cat.write_text("ASASSN Name,Other Names,Variable Type,Period\nstar,HD 1,EW,0.5\n")
    with pytest.warns(UserWarning, match="dropped 1 flagged"):
        sky = open_sky(import_sky("asassn", d, tmp_path / "sky", catalog=cat))
    obj = sky.objects.iloc[0]
    assert (obj["id"], obj["label"], obj["period"], obj["other_names"]) == ("star", "EW", 0.5, "HD 1")
    lc = sky.lightcurve("star")
    assert lc.value.tolist() == pytest.approx([13.0, 13.01, 13.03, 13.04, 13.05])


def test_astrom3_three_parallel_lists_match_nested(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = [1.0, 3.0, 2.0, 4.0]
    rows = {"nested": [[v, 10 + v, 0.1] for v in t], "parallel": [t, [10 + v for v in t], [0.1] * 4]}
    for name, ph in rows.items():
        src = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pylist([{"name": "a", "photometry": ph, "spectra": None, "label": "EW"}]), src)
        lc = open_sky(import_sky("astrom3", src, tmp_path / f"sky_{name}")).lightcurve("a")
        assert lc.time.tolist() == [1.0, 2.0, 3.0, 4.0] and lc.value.tolist() == [11.0, 12.0, 13.0, 14.0]


def test_readers_reject_options_they_do_not_take(tmp_path, capsys):
    from core.cli import main
    from core.errors import AstroM3Error
    from core.io import import_sky

    src = tmp_path / "x.parquet"
    src.write_text("")
    with pytest.raises(AstroM3Error, match=r"the 'astrom3' reader does not take catalog \(it takes: label_names\)"):
        import_sky("astrom3", src, tmp_path / "out", catalog="cat.csv")
    assert main(["import", "astrom3", str(src), str(tmp_path / "out"), "--catalog", "cat.csv"]) == 2
    assert "does not take catalog" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
