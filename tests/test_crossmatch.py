"""astrom3 crossmatch / core.links.crossmatch: nearest catalogue entry within a radius, by astropy coordinates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import Angle
from astropy.table import Table

from core.cli import main
from core.links import CatalogueError, catalogue_columns, crossmatch, parse_radius
from core.sky import open_sky, write_sky

IDS = [f"obj{i}" for i in range(6)]
RA = np.array([10.0, 45.0, 120.0, 200.0, 300.0, 359.9999])
DEC = np.array([-30.0, 0.0, 45.0, 80.0, -89.0, 10.0])


@pytest.fixture
def sky(tmp_path):
    from tests.conftest import make_handmade_sky_tables

    objects, lcs, spectra = make_handmade_sky_tables()
    objects["ra"], objects["dec"] = RA, DEC
    return write_sky(tmp_path / "sky", objects, lcs, spectra)


def _vsx(tmp_path, suffix=".csv"):
    """A VSX-like export: obj0 at 0.5", obj1 at 1.5", obj3 at 5" (outside 2"), obj5 across RA=0, a far star."""
    ddec = np.array([0.5, 1.5, 5.0, 1.0]) / 3600
    t = Table({"_RAJ2000": [RA[0], RA[1], RA[3], 0.0001, 150.0],
               "_DEJ2000": [DEC[0] + ddec[0], DEC[1] + ddec[1], DEC[3] + ddec[2], DEC[5], 0.0],
               "Name": ["V0 Scl", "ASASSN-V J030000", "V3 Cep", "V5 Psc", "far"],
               "Type": ["EW", "RRAB", "M", "DSCT", "SR"]})
    path = tmp_path / f"vsx{suffix}"
    t.write(path, format={".csv": "ascii.csv", ".xml": "votable", ".fits": "fits"}[suffix])
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xml", ".fits"])
def test_cli_adds_name_type_and_separation(sky, tmp_path, suffix, capsys):
    out = tmp_path / "sky2"
    assert main(["crossmatch", str(sky), str(_vsx(tmp_path, suffix)), "--out", str(out)]) == 0
    msg = capsys.readouterr().out
    assert msg.startswith("matched 3 of 6 objects within 2 arcsec of 5 catalogue rows") and str(out) in msg
    new = open_sky(out)
    o = new.objects.set_index("id")

    def values(col):
        return [None if pd.isna(v) else v for v in o[col]]

    assert values("xmatch_name") == ["V0 Scl", "ASASSN-V J030000", None, None, None, "V5 Psc"]
    assert values("xmatch_type") == ["EW", "RRAB", None, None, None, "DSCT"]
    sep = [None if v is None else float(v) for v in values("xmatch_sep_arcsec")]
    assert sep[0] == pytest.approx(0.5, abs=1e-3) and sep[1] == pytest.approx(1.5, abs=1e-3)
    assert sep[5] == pytest.approx(0.0002 * 3600 * np.cos(np.radians(10.0)), abs=1e-3)
    assert sep[2:5] == [None, None, None]
    # the new columns are text: never taken for metadata (model inputs)
    assert not any(c.startswith("xmatch") for c in new.metadata_columns)
    # everything else came along
    old = open_sky(sky)
    assert new.n_lightcurves == old.n_lightcurves == 6 and new.n_spectra == old.n_spectra
    np.testing.assert_array_equal(new.lightcurve("obj2").value, old.lightcurve("obj2").value)
    pd.testing.assert_frame_equal(new.objects[old.objects.columns], old.objects)


def test_across_ra_zero(sky, tmp_path):
    """obj5 at RA 359.9999 matches an entry at RA 0.0002 (0.0003 deg apart on the sky, scaled by cos dec)."""
    cat = Table({"ra": [0.0002], "dec": [10.0], "designation": ["Gaia DR3 1"]})
    m = crossmatch(open_sky(sky).objects, cat, radius_arcsec=2.0)
    assert m.loc[m["id"] == "obj5", "xmatch_name"].item() == "Gaia DR3 1"
    assert float(m.loc[m["id"] == "obj5", "xmatch_sep_arcsec"].item()) == pytest.approx(
        0.0003 * 3600 * np.cos(np.radians(10.0)), rel=1e-3)
    assert "xmatch_type" not in m.columns  # a Gaia source table has no type


def test_sexagesimal_columns_and_radius(sky, tmp_path):
    ra_s = Angle(RA[2], unit="deg").to_string(unit="hourangle", sep=" ", precision=3)
    dec_s = Angle(DEC[2] + 3 / 3600, unit="deg").to_string(unit="deg", sep=" ", precision=2, alwayssign=True)
    path = tmp_path / "sexa.csv"
    pd.DataFrame({"Name": ["V2 Aur"], "VarType": ["EA"], "RAJ2000": [ra_s], "DEJ2000": [dec_s]}).to_csv(path, index=False)
    assert main(["crossmatch", str(sky), str(path), "--radius", "2arcsec", "--out", str(tmp_path / "a")]) == 0
    assert open_sky(tmp_path / "a").objects["xmatch_name"].notna().sum() == 0
    assert main(["crossmatch", str(sky), str(path), "--radius", "0.1arcmin", "--out", str(tmp_path / "b"),
                 "--prefix", "vsx"]) == 0
    o = open_sky(tmp_path / "b").objects.set_index("id")
    assert o.loc["obj2", "vsx_name"] == "V2 Aur" and o.loc["obj2", "vsx_type"] == "EA"
    assert float(o.loc["obj2", "vsx_sep_arcsec"]) == pytest.approx(3.0, abs=0.01)


def test_in_place_rerun_replaces_its_columns(sky, tmp_path):
    cat = _vsx(tmp_path)
    before = open_sky(sky).fingerprint
    assert main(["crossmatch", str(sky), str(cat)]) == 0
    assert main(["crossmatch", str(sky), str(cat), "--radius", "6"]) == 0
    s = open_sky(sky)
    assert s.fingerprint != before
    assert [c for c in s.objects.columns if c.startswith("xmatch")] == ["xmatch_name", "xmatch_type",
                                                                        "xmatch_sep_arcsec"]
    assert s.objects["xmatch_name"].notna().sum() == 4  # obj3 at 5" is within 6"
    assert not list(sky.parent.glob(".sky.*"))         # no temporary or old copies left


def test_errors_name_file_and_columns(sky, tmp_path, capsys):
    bad = tmp_path / "nodec.csv"
    pd.DataFrame({"RA": [1.0], "Name": ["x"]}).to_csv(bad, index=False)
    assert main(["crossmatch", str(sky), str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "nodec.csv: no Dec column" in err and "its columns are RA, Name" in err and err.count("\n") == 1
    assert main(["crossmatch", str(sky), str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: catalogue not found" in capsys.readouterr().err
    cat = _vsx(tmp_path)
    assert main(["crossmatch", str(sky), str(cat), "--radius", "2 m"]) == 2
    assert "not a positive angle" in capsys.readouterr().err
    (tmp_path / "notasky").mkdir()
    assert main(["crossmatch", str(sky), str(cat), "--out", str(tmp_path / "notasky"), "--force"]) == 2
    assert "is not a sky" in capsys.readouterr().err
    assert main(["crossmatch", str(sky), str(cat), "--out", str(tmp_path / "s2")]) == 0
    assert main(["crossmatch", str(sky), str(cat), "--out", str(tmp_path / "s2")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["crossmatch", str(sky), str(cat), "--out", str(tmp_path / "s2"), "--force"]) == 0
    assert main(["crossmatch", str(sky), str(cat), "--out", str(sky / "inner")]) == 2
    assert "inside the sky" in capsys.readouterr().err
    assert main(["crossmatch", str(sky), str(cat), "--prefix", "a b"]) == 2


def test_column_detection_and_radius_parsing():
    assert catalogue_columns(["OID", "Name", "Type", "_RAJ2000", "_DEJ2000", "RAJ2000", "DEJ2000"]) == \
        {"ra": "_RAJ2000", "dec": "_DEJ2000", "name": "Name", "type": "Type"}
    assert catalogue_columns(["source_id", "ra", "dec", "designation"]) == \
        {"ra": "ra", "dec": "dec", "name": "designation", "type": None}
    assert catalogue_columns(["RA_ICRS", "DE_ICRS"], name=None)["dec"] == "DE_ICRS"
    with pytest.raises(CatalogueError, match="no RA column"):
        catalogue_columns(["x", "dec"], source="f.csv")
    with pytest.raises(CatalogueError, match="no type column 'kind'"):
        catalogue_columns(["ra", "dec"], type="kind")
    assert parse_radius("2arcsec") == 2.0 and parse_radius("0.5 arcmin") == 30.0 and parse_radius("3") == 3.0
    assert parse_radius("1e-3 deg") == pytest.approx(3.6)
    for bad in ("-1arcsec", "x", "2 m", "nan"):
        with pytest.raises(CatalogueError):
            parse_radius(bad)


def test_sky_without_coordinates(handmade_sky, tmp_path):
    cat = Table({"ra": [1.0], "dec": [2.0]})
    with pytest.raises(CatalogueError, match="no ra, dec column"):
        crossmatch(open_sky(handmade_sky).objects, cat)
