"""Where else a star is known: links to SIMBAD, VSX, ASAS-SN, Gaia, CRTS and ZTF for one object.

:func:`object_links` builds the links from the object's catalogue row (coordinates, name, Gaia
source id, survey); it never fetches anything. Every value is URL-encoded.

Examples
--------
>>> links = object_links({"id": "a", "ra": 10.5, "dec": -5.25})
>>> [name for name, _ in links]
['SIMBAD', 'AAVSO VSX', 'ASAS-SN variables', 'Gaia DR3']
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from urllib.parse import quote, urlencode

__all__ = ["object_links", "DEFAULT_RADIUS_ARCSEC"]

#: Cone radius of the coordinate searches.
DEFAULT_RADIUS_ARCSEC = 5.0

SIMBAD = "https://simbad.cds.unistra.fr/simbad/"
VSX = "https://www.aavso.org/vsx/index.php"
ASASSN = "https://asas-sn.osu.edu/variables"
GAIA_TAP = "https://gea.esac.esa.int/tap-server/tap/sync"
CRTS = "http://nesssi.cacr.caltech.edu/cgi-bin/getcssconedbid_release2.cgi"
ZTF_IRSA = "https://irsa.ipac.caltech.edu/cgi-bin/ZTF/nph_light_curves"
ALERCE = "https://alerce.online/object/"

#: Columns that may hold a Gaia DR3 ``source_id`` (first present wins).
GAIA_ID_COLUMNS = ("gaia_source_id", "gaia_dr3_source_id", "gaia_id", "source_id")
_GAIA_NAME = re.compile(r"^Gaia\s*(?:DR[23]|EDR3)\s+(\d{5,20})$", re.IGNORECASE)
_CRTS_NAME = re.compile(r"^(?:CSS|MLS|SSS|CRTS)[_ ]J?\d{6}", re.IGNORECASE)
_ZTF_OID = re.compile(r"^ZTF\d{2}[a-z]{7}$")


def _float(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    s = str(value).strip()
    return s or None


def _gaia_source_id(row: Mapping) -> str | None:
    for col in GAIA_ID_COLUMNS:
        v = row.get(col)
        if isinstance(v, float):
            v = int(v) if math.isfinite(v) and v == int(v) else None
        s = _text(v)
        if s and s.isdigit():
            return s
    for col in ("name", "id", "other_names"):
        m = _GAIA_NAME.match(_text(row.get(col)) or "")
        if m:
            return m.group(1)
    return None


def _surveys(row: Mapping) -> set[str]:
    """Surveys the row names: its ``survey`` column, or the form of its id and name."""
    said = (_text(row.get("survey")) or "").lower()
    out = set()
    if any(k in said for k in ("crts", "catalina", "css")):
        out.add("crts")
    if "ztf" in said:
        out.add("ztf")
    for col in ("id", "name"):
        s = _text(row.get(col)) or ""
        if _CRTS_NAME.match(s):
            out.add("crts")
        if _ZTF_OID.match(s):
            out.add("ztf")
    return out


def object_links(row: Mapping, *, radius_arcsec: float = DEFAULT_RADIUS_ARCSEC) -> list[tuple[str, str]]:
    """Links to the object in public archives, by coordinates and name.

    Parameters
    ----------
    row : mapping
        The object's catalogue row (``sky.objects`` row, a dict or a pandas Series): ``ra``/``dec``
        in degrees, optional ``name``, a Gaia ``source_id`` (see :data:`GAIA_ID_COLUMNS`) and
        ``survey``. Missing or non-finite values leave their links out.
    radius_arcsec : float
        Cone radius of the coordinate searches.

    Returns
    -------
    list of (str, str)
        ``(name, url)`` pairs: SIMBAD (coordinates; and by name when there is one), AAVSO VSX,
        the ASAS-SN variable-star database, Gaia DR3 (by source id, else a cone), and CRTS / ZTF
        when the row's survey column or id form says the star comes from them.
    """
    ra, dec = _float(row.get("ra")), _float(row.get("dec"))
    coords = ra is not None and dec is not None and -90 <= dec <= 90
    if coords:
        ra = ra % 360.0
    r = float(radius_arcsec)
    name = _text(row.get("name"))
    links: list[tuple[str, str]] = []
    if coords:
        links.append(("SIMBAD", SIMBAD + "sim-coo?" + urlencode(
            {"Coord": f"{ra:.6f} {dec:+.6f}", "CooFrame": "ICRS", "CooEpoch": "2000", "CooEqui": "2000",
             "Radius": f"{r:g}", "Radius.unit": "arcsec", "submit": "submit query"})))
    if name:
        links.append(("SIMBAD (name)", SIMBAD + "sim-id?" + urlencode({"Ident": name, "submit": "submit id"})))
    if coords:
        links.append(("AAVSO VSX", VSX + "?" + urlencode(
            {"view": "results.submit1", "ql": "1", "constid": "0", "format": "d",
             "targetcenter": f"{ra:.6f} {dec:+.6f}", "fieldsize": f"{r / 60:.4g}", "fieldunit": "2",
             "geometry": "r", "order": "9"})))
        links.append(("ASAS-SN variables", ASASSN + "?" + urlencode(
            {"ra": f"{ra:.6f}", "dec": f"{dec:+.6f}", "radius": f"{r / 60:.4g}"})))
    source_id = _gaia_source_id(row)
    if source_id:
        adql = f"SELECT * FROM gaiadr3.gaia_source WHERE source_id = {source_id}"
    elif coords:
        adql = (f"SELECT * FROM gaiadr3.gaia_source WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
                f"CIRCLE('ICRS', {ra:.6f}, {dec:+.6f}, {r / 3600:.6g}))")
    else:
        adql = None
    if adql:
        links.append(("Gaia DR3", GAIA_TAP + "?" + urlencode(
            {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "votable", "QUERY": adql})))
    surveys = _surveys(row)
    if "crts" in surveys and coords:
        links.append(("CRTS", CRTS + "?" + urlencode(
            {"RA": f"{ra:.6f}", "Dec": f"{dec:+.6f}", "Rad": f"{r / 60:.4g}", "DB": "photcat", "OUT": "web",
             "SHORT": "short"})))
    if "ztf" in surveys:
        oid = next((s for s in (_text(row.get("id")), name) if s and _ZTF_OID.match(s)), None)
        if oid:
            links.append(("ZTF (ALeRCE)", ALERCE + quote(oid, safe="")))
        if coords:
            links.append(("ZTF (IRSA)", ZTF_IRSA + "?" + urlencode(
                {"POS": f"CIRCLE {ra:.6f} {dec:+.6f} {r / 3600:.6g}", "FORMAT": "html"})))
    return links
