"""Where else a star is known: archive links for one object, and a cross-match with a catalogue file.

:func:`object_links` builds links to SIMBAD, VSX, ASAS-SN, Gaia, CRTS and ZTF from the object's
catalogue row (coordinates, name, Gaia source id, survey); it never fetches anything, and every
value is URL-encoded. :func:`crossmatch` matches a sky's objects to a catalogue the user has (a
VSX or Gaia export read with astropy.table) by position, giving each object the nearest entry's
name and type (``astrom3 crossmatch``).

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

import numpy as np
import pandas as pd

from core.errors import AstroM3Error

__all__ = ["object_links", "DEFAULT_RADIUS_ARCSEC", "crossmatch", "catalogue_columns", "parse_radius",
           "CatalogueError"]

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


# --- cross-match with a catalogue file ---------------------------------------------------------

#: Catalogue column names (lower-cased) looked for, first present wins.
RA_NAMES = ("ra", "_raj2000", "raj2000", "ra_icrs", "_ra_icrs", "radeg", "ra_deg", "ra_j2000", "ra2000", "ramean")
DEC_NAMES = ("dec", "_dej2000", "dej2000", "decj2000", "de_icrs", "dec_icrs", "_de_icrs", "dedeg", "decdeg", "dec_deg",
             "dec_j2000", "dec2000", "decmean")
NAME_NAMES = ("name", "designation", "main_id", "star", "object", "id", "source_id", "oid")
TYPE_NAMES = ("type", "vartype", "var_type", "variable_type", "otype", "main_type", "best_class_name", "class",
              "classification", "varclass")


class CatalogueError(AstroM3Error):
    """A catalogue file lacks what a cross-match needs, or a radius is not an angle."""


def parse_radius(text) -> float:
    """A match radius (``"2arcsec"``, ``"0.5 arcmin"``, ``"1e-3 deg"``; a bare number is arcsec) in arcsec."""
    import astropy.units as u

    try:
        q = u.Quantity(str(text).strip())
    except (TypeError, ValueError):
        raise CatalogueError(f"radius {text!r} is not an angle; write e.g. 2arcsec or 0.5arcmin") from None
    if q.unit == u.dimensionless_unscaled:
        q = q.value * u.arcsec
    if q.unit.physical_type != "angle" or not np.isfinite(q.value) or q.value <= 0:
        raise CatalogueError(f"radius {text!r} is not a positive angle; write e.g. 2arcsec or 0.5arcmin")
    return float(q.to_value(u.arcsec))


def _pick(colnames, names, given: str | None, what: str, source: str, required: bool) -> str | None:
    lower = {c.lower(): c for c in colnames}
    if given is not None:
        if given.lower() not in lower:
            raise CatalogueError(f"{source}: no {what} column {given!r}; its columns are {', '.join(colnames)}")
        return lower[given.lower()]
    col = next((lower[n] for n in names if n in lower), None)
    if col is None and required:
        raise CatalogueError(f"{source}: no {what} column (looked for {', '.join(names[:6])}...; its columns are "
                             f"{', '.join(colnames) or 'none'}); name it with --{what.lower()}")
    return col


def catalogue_columns(colnames, *, source: str = "catalogue", ra=None, dec=None, name=None, type=None) -> dict:
    """The catalogue's ``ra``, ``dec``, ``name`` and ``type`` columns (given ones checked, others detected).

    Raises
    ------
    CatalogueError
        Naming the file and its columns when RA or Dec is missing (name and type are optional).
    """
    colnames = list(colnames)
    return {"ra": _pick(colnames, RA_NAMES, ra, "RA", source, True),
            "dec": _pick(colnames, DEC_NAMES, dec, "Dec", source, True),
            "name": _pick(colnames, NAME_NAMES, name, "name", source, False),
            "type": _pick(colnames, TYPE_NAMES, type, "type", source, False)}


def _angles(col, hours: bool):
    """A column of degrees (numbers or numeric text) or sexagesimal text as degrees (NaN where unreadable)."""
    import astropy.units as u
    from astropy.coordinates import Angle

    try:
        scale = 15.0 if u.Unit(col.unit) in (u.hourangle, u.hour) else 1.0
    except (TypeError, ValueError, AttributeError):
        scale = 1.0
    try:  # numbers, or text of numbers (the fast path)
        return np.ma.filled(np.ma.asarray(col).astype(float), np.nan) * scale
    except (TypeError, ValueError):
        pass
    values = np.ma.filled(np.ma.asarray(col).astype(object), None)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        try:
            out[i] = float(v) * scale
        except (TypeError, ValueError):
            try:
                out[i] = Angle(str(v).strip(), unit=u.hourangle if hours else u.deg).to_value(u.deg)
            except (TypeError, ValueError):
                pass
    return out


def _texts(col) -> np.ndarray:
    values = np.ma.filled(np.ma.asarray(col).astype(object), None)
    return np.array([None if v is None or str(v).strip() in ("", "--") else
                     (v.decode() if isinstance(v, bytes) else str(v)).strip() for v in values], dtype=object)


def crossmatch(objects: pd.DataFrame, catalogue, *, radius_arcsec: float = 2.0, source: str = "catalogue",
               prefix: str = "xmatch", **columns) -> pd.DataFrame:
    """The nearest catalogue entry within ``radius_arcsec`` of each object (astropy ``match_to_catalog_sky``).

    Parameters
    ----------
    objects : pandas.DataFrame
        ``sky.objects``: ``id``, ``ra``, ``dec`` in degrees (ICRS).
    catalogue : astropy.table.Table
        The catalogue (e.g. :func:`core.idlist.read_table` of a VSX or Gaia export).
    radius_arcsec : float
    source : str
        Named in errors.
    prefix : str
        Output column prefix.
    **columns
        ``ra``, ``dec``, ``name``, ``type``: catalogue column names (default: detected, see
        :func:`catalogue_columns`).

    Returns
    -------
    pandas.DataFrame
        ``id`` and ``{prefix}_name``, ``{prefix}_type`` (when the catalogue has them) and
        ``{prefix}_sep_arcsec``, as text (None where nothing matched), so they are never taken
        for metadata model inputs.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    missing = [c for c in ("id", "ra", "dec") if c not in objects.columns]
    if missing:
        raise CatalogueError(f"the sky has no {', '.join(missing)} column(s); a cross-match needs coordinates")
    cols = catalogue_columns(catalogue.colnames, source=source, **columns)
    cra, cdec = _angles(catalogue[cols["ra"]], hours=True), _angles(catalogue[cols["dec"]], hours=False)
    ok = np.isfinite(cra) & np.isfinite(cdec) & (np.abs(cdec) <= 90)
    if not ok.any():
        raise CatalogueError(f"{source}: no row has readable coordinates in {cols['ra']}/{cols['dec']}")
    ra, dec = (pd.to_numeric(objects[c], errors="coerce").to_numpy(float) for c in ("ra", "dec"))
    have = np.isfinite(ra) & np.isfinite(dec)
    out = pd.DataFrame({"id": objects["id"].astype(str).to_numpy()})
    keep = {k: _texts(catalogue[c])[ok] for k, c in cols.items() if k in ("name", "type") and c is not None}
    sep_text = np.full(len(out), None, dtype=object)
    picked = np.full(len(out), -1)
    if have.any():
        idx, sep, _ = SkyCoord(ra[have] * u.deg, dec[have] * u.deg).match_to_catalog_sky(
            SkyCoord(cra[ok] * u.deg, cdec[ok] * u.deg))
        sep = sep.to_value(u.arcsec)
        hit = sep <= radius_arcsec
        rows = np.flatnonzero(have)[hit]
        picked[rows] = idx[hit]
        sep_text[rows] = [f"{s:.3f}" for s in sep[hit]]
    for k, vals in keep.items():
        out[f"{prefix}_{k}"] = [vals[j] if j >= 0 else None for j in picked]
    out[f"{prefix}_sep_arcsec"] = sep_text
    out.attrs.update(columns=cols, catalogue_rows=int(ok.sum()), unreadable=int((~ok).sum()),
                     matched=int((picked >= 0).sum()))
    return out
