"""core.links.object_links: archive links by coordinates, name, Gaia id and survey; values URL-encoded."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

from core.links import object_links


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_coordinates_give_simbad_vsx_asassn_and_gaia_cone():
    links = dict(object_links({"id": "obj1", "ra": 123.456789, "dec": -12.5}))
    assert list(links) == ["SIMBAD", "AAVSO VSX", "ASAS-SN variables", "Gaia DR3"]
    simbad = urlsplit(links["SIMBAD"])
    assert (simbad.scheme, simbad.netloc, simbad.path) == ("https", "simbad.cds.unistra.fr", "/simbad/sim-coo")
    q = _query(links["SIMBAD"])
    assert q["Coord"] == "123.456789 -12.500000"
    assert (q["Radius"], q["Radius.unit"], q["CooFrame"]) == ("5", "arcsec", "ICRS")
    vsx = _query(links["AAVSO VSX"])
    assert vsx["targetcenter"] == "123.456789 -12.500000" and vsx["format"] == "d"
    asassn = _query(links["ASAS-SN variables"])
    assert (asassn["ra"], asassn["dec"]) == ("123.456789", "-12.500000")
    assert abs(float(asassn["radius"]) * 60 - 5.0) < 1e-3  # arcmin
    gaia = _query(links["Gaia DR3"])
    assert gaia["LANG"] == "ADQL"
    assert "CIRCLE('ICRS', 123.456789, -12.500000, 0.00138889)" in gaia["QUERY"]


def test_positive_dec_sign_survives_encoding():
    """A '+' left raw in a query string means a space; it must arrive as '+'."""
    url = dict(object_links({"ra": 10.0, "dec": 5.0}))["SIMBAD"]
    assert "%2B5.000000" in url
    assert _query(url)["Coord"] == "10.000000 +5.000000"


def test_name_link_is_encoded():
    links = dict(object_links({"ra": 1.0, "dec": 2.0, "name": "ASASSN-V J000400.00+020000.0 & <x>"}))
    url = links["SIMBAD (name)"]
    assert " " not in url and "&" not in url.split("Ident=")[1].split("&submit")[0]
    assert _query(url)["Ident"] == "ASASSN-V J000400.00+020000.0 & <x>"


def test_gaia_source_id_is_preferred_over_a_cone():
    for row in ({"ra": 1.0, "dec": 2.0, "source_id": 4295806720}, {"ra": 1.0, "dec": 2.0, "source_id": 4295806720.0},
                {"name": "Gaia DR3 4295806720"}, {"gaia_source_id": "4295806720"}):
        q = _query(dict(object_links(row))["Gaia DR3"])["QUERY"]
        assert q == "SELECT * FROM gaiadr3.gaia_source WHERE source_id = 4295806720", row


def test_no_coordinates_no_coordinate_links():
    for row in ({"id": "x"}, {"id": "x", "ra": np.nan, "dec": 3.0}, {"ra": "n/a", "dec": 3.0},
                {"ra": 1.0, "dec": 95.0}, pd.Series({"id": "x", "ra": None, "dec": None})):
        assert object_links(row) == [], row
    assert [n for n, _ in object_links({"id": "x", "name": "RR Lyr"})] == ["SIMBAD (name)"]


def test_ra_wraps_into_0_360():
    q = _query(dict(object_links({"ra": -10.0, "dec": 0.0}))["ASAS-SN variables"])
    assert q["ra"] == "350.000000"


def test_crts_and_ztf_only_where_the_sky_says_so():
    plain = [n for n, _ in object_links({"id": "obj1", "ra": 1.0, "dec": 2.0})]
    assert "CRTS" not in plain and not any(n.startswith("ZTF") for n in plain)

    crts = dict(object_links({"id": "1109065026725", "ra": 1.0, "dec": 2.0, "survey": "CRTS"}))
    q = _query(crts["CRTS"])
    assert (q["RA"], q["Dec"], q["DB"]) == ("1.000000", "+2.000000", "photcat")
    assert "CRTS" in dict(object_links({"id": "CSS_J000400.0+020000", "ra": 1.0, "dec": 2.0}))

    ztf = dict(object_links({"id": "ZTF18abcdefg", "ra": 1.0, "dec": 2.0}))
    assert ztf["ZTF (ALeRCE)"] == "https://alerce.online/object/ZTF18abcdefg"
    assert _query(ztf["ZTF (IRSA)"])["POS"] == "CIRCLE 1.000000 +2.000000 0.00138889"
    by_survey = dict(object_links(pd.Series({"id": "633207400004730", "ra": 1.0, "dec": 2.0, "survey": "ztf dr20"})))
    assert "ZTF (IRSA)" in by_survey and "ZTF (ALeRCE)" not in by_survey


def test_radius_is_used_everywhere():
    links = dict(object_links({"ra": 1.0, "dec": 2.0}, radius_arcsec=30))
    assert _query(links["SIMBAD"])["Radius"] == "30"
    assert float(_query(links["ASAS-SN variables"])["radius"]) == 0.5
    assert float(_query(links["AAVSO VSX"])["fieldsize"]) == 0.5


def test_simulated_sky_row(handmade_sky):
    """A sky row (pandas Series from sky.objects) works as given."""
    from core.sky import open_sky

    row = open_sky(handmade_sky).objects.iloc[0]
    assert object_links(row) == []  # the hand-made sky has no coordinates
