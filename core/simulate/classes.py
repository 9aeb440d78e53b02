"""Per-kind physics of the simulated stars: class proportions, parameter draws, light-curve shapes.

A *kind* is one of the ten AstroM3 classes or one of the planted anomaly kinds. For every kind
:func:`draw_params` draws, vectorised over stars, the period, amplitude, temperature, absolute V
magnitude, population (Galactic scale height), spectral flags and shape parameters;
:func:`light_curve` evaluates one star's magnitude offset (positive = fainter) at its epochs.

Sources for the ranges (approximate, from the literature the issue cites): ASAS-SN variable-star
catalogue papers (Jayasinghe et al. 2018-2020), Rucinski (2006) for contact binaries, Catelan &
Smith (2015) for RR Lyrae, Breger (2000) for delta Scuti stars, Whitelock et al. (2008) for Miras.
"""
from __future__ import annotations

import numpy as np

from core.schema import CLASSES

#: Approximate class shares of the AstroM3 dataset (EW and SR most common, DSCT rarest).
PROPORTIONS: dict[str, float] = {
    "EW": 0.285, "SR": 0.21, "EA": 0.135, "RRAB": 0.11, "EB": 0.09,
    "ROT": 0.085, "RRC": 0.037, "HADS": 0.017, "M": 0.017, "DSCT": 0.014,
}
assert tuple(PROPORTIONS) == CLASSES

#: Kinds planted as anomalies (absent from the label set) and the labels they may carry.
#: The first four are as hard as real ones: they overlap a class of the label set in period and
#: amplitude and wear its label, as in catalogues whose label set has no such class (anomalous
#: Cepheids at 0.4-2.5 d among RR Lyrae, type-II Cepheids at 1-50 d, double-mode delta Scuti with
#: RR Lyrae periods, an RR Lyrae blended with a contact binary in one aperture).
ANOMALY_KINDS: dict[str, tuple[str, ...]] = {
    "anomalous_cepheid": ("RRAB",),
    "type2_cepheid": ("RRAB", "SR", "EA"),
    "rr_like_dsct": ("RRC", "HADS"),
    "blend": ("RRAB", "EW"),
    "yso_dipper": ("ROT", "EA", "SR"),
    "rcrb_fade": ("M", "SR"),
    "microlensing": ("EA", "SR", "ROT"),
    "flare_star": ("ROT", "EA"),
}

#: Kinds whose light curve is a pulsation sawtooth.
_SAWTOOTH = ("RRAB", "HADS", "anomalous_cepheid", "type2_cepheid")
#: Kinds without molecular (TiO) bands.
_HOT = ("EW", "EB", "EA", "HADS", "DSCT", "RRAB", "RRC", "anomalous_cepheid", "type2_cepheid", "rr_like_dsct",
        "blend")

#: Subclasses planted inside a class: kind -> (names, shares).
SUBCLASSES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "M": (("O-rich", "C-rich"), (0.7, 0.3)),
    "ROT": (("active dwarf", "RS CVn giant"), (0.6, 0.4)),
}

#: Columns of the per-star parameter table that :func:`draw_params` fills.
PARAM_COLUMNS = ("period", "amp", "teff", "logg", "feh", "m_v", "hz", "halo", "shape1", "shape2",
                 "shape3", "shape4", "t0", "tio", "carbon", "emission", "em_kind", "dust", "rv_disp")

# em_kind codes used by core.simulate.spectra
EM_NONE, EM_MIRA, EM_ACTIVE, EM_YSO = 0, 1, 2, 3


def _lognormal(rng, median, sigma, k, lo, hi):
    return np.clip(median * np.exp(sigma * rng.standard_normal(k)), lo, hi)


def _draw_ew(p, k, rng, u, subclass):
    p["period"] = _lognormal(rng, 0.37, 0.18, k, 0.22, 0.65)
    p["amp"] = _lognormal(rng, 0.35, 0.4, k, 0.08, 0.9)
    p["teff"] = np.clip(5200 + 3000 * (p["period"] - 0.25) + rng.normal(0, 350, k), 4300, 7300)
    bv = np.interp(p["teff"], [4300, 5000, 6000, 7300], [1.1, 0.85, 0.55, 0.3])
    p["m_v"] = -4.44 * np.log10(p["period"]) + 3.02 * bv + 0.12 + rng.normal(0, 0.25, k)
    p["shape1"] = u(0.9, 1.0)           # secondary/primary depth
    p["shape2"] = u(0.9, 1.5)           # exponent: pointed minima
    p["shape3"] = rng.normal(0, 0.02, k)  # O'Connell effect (mag)


def _draw_eb(p, k, rng, u, subclass):
    p["period"] = _lognormal(rng, 0.85, 0.45, k, 0.3, 6.0)
    p["amp"] = _lognormal(rng, 0.55, 0.35, k, 0.15, 1.4)
    p["teff"] = _lognormal(rng, 7500, 0.2, k, 5200, 15000)
    p["m_v"] = rng.normal(1.5, 0.9, k)
    p["shape1"] = u(0.25, 0.7)          # secondary/primary depth
    p["shape2"] = u(0.06, 0.1)          # eclipse width (phase sigma)
    p["shape3"] = u(0.25, 0.45)         # ellipsoidal share of the amplitude
    p["hz"] = np.full(k, 200.0)


def _draw_ea(p, k, rng, u, subclass):
    p["period"] = _lognormal(rng, 2.6, 0.8, k, 0.5, 60.0)
    p["amp"] = _lognormal(rng, 0.5, 0.55, k, 0.1, 2.5)
    p["teff"] = _lognormal(rng, 6800, 0.25, k, 4500, 16000)
    p["m_v"] = rng.normal(2.0, 1.2, k)
    p["shape1"] = np.where(rng.random(k) < 0.3, u(0.0, 0.15), u(0.15, 0.8))  # secondary depth ratio
    p["shape2"] = np.clip(0.04 / p["period"] ** 0.33 * np.exp(rng.normal(0, 0.3, k)), 0.01, 0.07)
    p["shape3"] = np.where(rng.random(k) < 0.3, rng.normal(0, 0.04, k), 0.0)  # eccentric offset
    p["hz"] = np.full(k, 200.0)


def _draw_rrab(p, k, rng, u, subclass):
    p["period"] = np.clip(rng.normal(0.58, 0.075, k), 0.45, 0.9)
    p["amp"] = np.clip(1.9 - 1.6 * p["period"] + rng.normal(0, 0.15, k), 0.4, 1.3)  # Bailey diagram
    p["teff"] = rng.normal(6400, 180, k)
    p["m_v"] = rng.normal(0.6, 0.12, k)
    p["feh"] = np.clip(rng.normal(-1.5, 0.45, k), -2.6, 0.0)
    p["shape1"] = u(0.12, 0.2)   # rise fraction
    p["shape2"] = u(0.75, 1.0)   # decline exponent
    p["halo"] = (rng.random(k) < 0.8).astype(float)
    p["hz"] = np.full(k, 1000.0)
    p["rv_disp"] = np.full(k, 120.0)


def _draw_rrc(p, k, rng, u, subclass):
    p["period"] = np.clip(rng.normal(0.32, 0.04, k), 0.2, 0.45)
    p["amp"] = np.clip(rng.normal(0.45, 0.08, k), 0.2, 0.7)
    p["teff"] = rng.normal(7200, 180, k)
    p["m_v"] = rng.normal(0.6, 0.12, k)
    p["feh"] = np.clip(rng.normal(-1.5, 0.45, k), -2.6, 0.0)
    p["shape1"] = u(0.05, 0.18)  # second-harmonic ratio
    p["shape2"] = u(-0.6, 0.6)   # its phase
    p["halo"] = (rng.random(k) < 0.8).astype(float)
    p["hz"] = np.full(k, 1000.0)
    p["rv_disp"] = np.full(k, 120.0)


def _draw_hads(p, k, rng, u, subclass):
    p["period"] = _lognormal(rng, 0.1, 0.35, k, 0.04, 0.25)
    p["amp"] = _lognormal(rng, 0.45, 0.3, k, 0.3, 1.0)
    p["teff"] = rng.normal(7500, 300, k)
    p["m_v"] = -2.89 * np.log10(p["period"]) - 1.31 + rng.normal(0, 0.2, k)
    p["shape1"] = u(0.25, 0.4)   # rise fraction
    p["shape2"] = u(0.8, 1.0)
    p["shape3"] = np.where(rng.random(k) < 0.4, u(0.1, 0.3), 0.0)  # first-overtone amplitude ratio
    p["hz"] = np.full(k, 150.0)


def _draw_dsct(p, k, rng, u, subclass):
    p["period"] = _lognormal(rng, 0.08, 0.4, k, 0.025, 0.25)
    p["amp"] = _lognormal(rng, 0.12, 0.35, k, 0.04, 0.29)
    p["teff"] = rng.normal(7600, 400, k)
    p["m_v"] = -2.89 * np.log10(p["period"]) - 1.31 + rng.normal(0, 0.3, k)
    p["shape1"] = rng.integers(2, 5, k).astype(float)   # number of modes
    p["shape2"] = rng.integers(0, 2**31, k).astype(float)  # seed of the mode set
    p["hz"] = np.full(k, 150.0)


def _draw_m(p, k, rng, u, subclass):
    c_rich = (subclass == "C-rich") if subclass is not None else np.zeros(k, bool)
    p["period"] = np.where(c_rich, _lognormal(rng, 400, 0.3, k, 150, 1000), _lognormal(rng, 280, 0.35, k, 100, 900))
    p["amp"] = _lognormal(rng, 4.2, 0.25, k, 2.6, 7.5)
    p["teff"] = np.where(c_rich, rng.normal(2700, 150, k), rng.normal(2900, 150, k))
    p["logg"] = np.full(k, 0.5)
    p["m_v"] = rng.normal(-0.6, 0.7, k) + 0.8 * c_rich
    p["shape1"] = u(0.2, 0.45)   # skew: fast rise
    p["shape2"] = u(0.05, 0.15)  # cycle-to-cycle amplitude scatter
    p["tio"] = np.where(c_rich, 0.0, u(1.2, 2.2))
    p["carbon"] = np.where(c_rich, u(1.0, 2.0), 0.0)
    p["emission"] = u(0.8, 2.5)
    p["em_kind"] = np.full(k, EM_MIRA)
    p["dust"] = np.where(c_rich, u(0.6, 1.6), u(0.2, 0.8))
    p["hz"] = np.where(c_rich, 200.0, 300.0)


def _draw_sr(p, k, rng, u, subclass):
    p["period"] = _lognormal(rng, 90, 0.9, k, 20, 2000)
    p["amp"] = _lognormal(rng, 0.6, 0.5, k, 0.1, 2.4)
    p["teff"] = rng.normal(3450, 200, k)
    p["logg"] = np.full(k, 0.9)
    p["m_v"] = rng.normal(-0.3, 0.8, k)
    p["shape1"] = np.where(rng.random(k) < 0.3, u(5, 10), u(0.5, 0.56))  # second period ratio (LSP or overtone)
    p["shape2"] = u(0.3, 0.7)    # its amplitude ratio
    p["shape3"] = u(0.02, 0.12)  # phase-wander strength
    p["tio"] = np.clip((3900 - p["teff"]) / 400, 0, 2.0)
    p["carbon"] = np.where(rng.random(k) < 0.05, u(0.5, 1.2), 0.0)
    p["tio"] = np.where(p["carbon"] > 0, 0.0, p["tio"])
    p["dust"] = u(0.0, 0.3)
    p["hz"] = np.full(k, 350.0)


def _draw_rot(p, k, rng, u, subclass):
    giant = (subclass == "RS CVn giant") if subclass is not None else np.zeros(k, bool)
    p["period"] = np.where(giant, _lognormal(rng, 25, 0.45, k, 6, 60), _lognormal(rng, 3.0, 0.8, k, 0.5, 20))
    p["amp"] = np.where(giant, _lognormal(rng, 0.22, 0.35, k, 0.08, 0.6), _lognormal(rng, 0.12, 0.4, k, 0.05, 0.4))
    p["teff"] = np.where(giant, rng.normal(4600, 200, k), rng.normal(4700, 450, k))
    p["logg"] = np.where(giant, 2.8, 4.5)
    p["m_v"] = np.where(giant, rng.normal(1.5, 0.6, k), np.interp(p["teff"], [3800, 4500, 5500], [8.8, 7.0, 5.2])
                        + rng.normal(0, 0.4, k))
    p["shape1"] = u(0.0, 0.4)    # second harmonic (two spots)
    p["shape2"] = _lognormal(rng, 250, 0.5, k, 60, 1200)  # spot evolution timescale (days)
    p["emission"] = np.where(giant, u(0.3, 0.8), u(0.5, 1.5))
    p["em_kind"] = np.full(k, EM_ACTIVE)
    p["hz"] = np.where(giant, 300.0, 250.0)


def _draw_yso_dipper(p, k, rng, u, subclass):
    p["period"] = u(2, 10)        # nominal; the dips are aperiodic
    p["amp"] = u(0.4, 1.2)
    p["teff"] = rng.normal(4000, 300, k)
    p["logg"] = np.full(k, 3.8)
    p["m_v"] = rng.normal(5.0, 0.8, k)
    p["shape1"] = u(10, 40)       # mean days between dips
    p["emission"] = u(2.0, 5.0)
    p["em_kind"] = np.full(k, EM_YSO)
    p["dust"] = u(1.5, 3.0)
    p["hz"] = np.full(k, 50.0)


def _draw_rcrb_fade(p, k, rng, u, subclass):
    p["period"] = u(40, 100)
    p["amp"] = u(3.0, 7.0)        # fade depth
    p["teff"] = rng.normal(6000, 500, k)
    p["logg"] = np.full(k, 0.8)
    p["m_v"] = rng.normal(-4.5, 0.5, k)
    p["carbon"] = u(0.1, 0.3)
    p["dust"] = u(1.0, 2.0)
    p["feh"] = np.full(k, -0.5)
    p["hz"] = np.full(k, 600.0)


def _draw_microlensing(p, k, rng, u, subclass):
    p["period"] = u(10, 60)       # Einstein time (days)
    p["shape2"] = u(0.05, 0.5)    # impact parameter u0
    u0 = p["shape2"]
    p["amp"] = 2.5 * np.log10((u0**2 + 2) / (u0 * np.sqrt(u0**2 + 4)))  # peak brightening (mag)
    p["teff"] = rng.normal(4800, 400, k)
    p["logg"] = np.full(k, 2.5)
    p["m_v"] = rng.normal(-0.6, 0.4, k)
    p["shape1"] = u(0.2, 0.8)     # peak time as a fraction of the span
    p["hz"] = np.full(k, -1.0)    # bulge


def _draw_flare_star(p, k, rng, u, subclass):
    p["period"] = u(0.5, 5)
    p["amp"] = u(0.5, 2.5)        # largest flare (mag)
    p["teff"] = rng.normal(3200, 150, k)
    p["logg"] = np.full(k, 5.0)
    p["m_v"] = rng.normal(11.5, 0.8, k)
    p["tio"] = u(0.8, 1.3)
    p["emission"] = u(2.0, 4.0)
    p["em_kind"] = np.full(k, EM_ACTIVE)
    p["shape1"] = u(0.02, 0.06)   # share of epochs caught in a flare
    p["hz"] = np.full(k, 200.0)


def _draw_hard(kind):
    def draw(p, k, rng, u, subclass):
        p.update(_hard_anomaly(kind, k, rng))
    return draw


#: kind -> function filling its entries of the parameter table in place: ``f(p, k, rng, u, subclass)``.
_DRAW = {
    "EW": _draw_ew, "EB": _draw_eb, "EA": _draw_ea, "RRAB": _draw_rrab, "RRC": _draw_rrc,
    "HADS": _draw_hads, "DSCT": _draw_dsct, "M": _draw_m, "SR": _draw_sr, "ROT": _draw_rot,
    **{kd: _draw_hard(kd) for kd in ("anomalous_cepheid", "type2_cepheid", "rr_like_dsct", "blend")},
    "yso_dipper": _draw_yso_dipper, "rcrb_fade": _draw_rcrb_fade, "microlensing": _draw_microlensing,
    "flare_star": _draw_flare_star,
}
assert set(_DRAW) == set(CLASSES) | set(ANOMALY_KINDS)


def draw_params(kind: str, k: int, rng: np.random.Generator, subclass: np.ndarray | None = None) -> dict:
    """Draw physical and shape parameters for ``k`` stars of one kind.

    Parameters
    ----------
    kind : str
        An AstroM3 class or an anomaly kind (:data:`ANOMALY_KINDS`).
    k : int
        Number of stars.
    rng : numpy.random.Generator
    subclass : array of str, optional
        Planted subclass of each star (for ``M`` and ``ROT``).

    Returns
    -------
    dict of numpy arrays, keys :data:`PARAM_COLUMNS`.
    """
    u = lambda lo, hi: rng.uniform(lo, hi, k)  # noqa: E731
    p = {c: np.zeros(k) for c in PARAM_COLUMNS}
    p["t0"] = u(0, 1)
    p["logg"] = np.full(k, 4.2)
    p["feh"] = np.clip(rng.normal(-0.1, 0.25, k), -1.0, 0.4)
    p["hz"] = np.full(k, 300.0)
    p["rv_disp"] = np.full(k, 25.0)
    draw = _DRAW.get(kind)
    if draw is None:
        raise ValueError(f"unknown kind {kind!r}")
    draw(p, k, rng, u, subclass)
    if kind in _HOT:
        p["tio"] = np.zeros(k)
    p["teff"] = np.asarray(p["teff"], float)
    return p


def _hard_anomaly(kind: str, k: int, rng: np.random.Generator) -> dict:
    """Parameters of the anomaly kinds that overlap a class of the label set (see :data:`ANOMALY_KINDS`)."""
    u = lambda lo, hi: rng.uniform(lo, hi, k)  # noqa: E731
    halo = {"feh": np.clip(rng.normal(-1.6, 0.4, k), -2.6, -0.3), "halo": (rng.random(k) < 0.8).astype(float),
            "hz": np.full(k, 1000.0), "rv_disp": np.full(k, 120.0)}
    if kind == "anomalous_cepheid":   # metal-poor, 1-2 mag brighter than RR Lyrae at overlapping periods
        period = _lognormal(rng, 0.9, 0.35, k, 0.4, 2.5)
        return {**halo, "period": period, "amp": _lognormal(rng, 0.55, 0.4, k, 0.2, 1.3),  # as CRTS ACEPs
                "teff": rng.normal(6300, 250, k), "logg": np.full(k, 2.2),
                "m_v": -2.9 * np.log10(period) - 1.1 + rng.normal(0, 0.2, k),
                "shape1": u(0.14, 0.24), "shape2": u(0.75, 1.0)}
    if kind == "type2_cepheid":       # BL Her / W Vir: 1-50 d, old population
        period = _lognormal(rng, 5.0, 0.9, k, 1.0, 50.0)
        return {**halo, "period": period, "amp": _lognormal(rng, 0.6, 0.35, k, 0.2, 1.2),
                "teff": rng.normal(5600, 300, k), "logg": np.full(k, 1.6),
                "m_v": -1.64 * np.log10(period) - 0.05 + rng.normal(0, 0.25, k),
                "shape1": u(0.2, 0.35), "shape2": u(0.8, 1.0)}
    if kind == "rr_like_dsct":        # disk double-mode HADS at the RR Lyrae boundary
        period = u(0.17, 0.26)
        return {"period": period, "amp": u(0.25, 0.55), "teff": rng.normal(7500, 250, k), "logg": np.full(k, 3.8),
                "feh": np.clip(rng.normal(-0.1, 0.2, k), -0.8, 0.4), "hz": np.full(k, 150.0),
                "m_v": -2.89 * np.log10(period) - 1.31 + rng.normal(0, 0.3, k),
                "shape1": u(0.05, 0.18), "shape2": u(-0.6, 0.6), "shape3": u(0.3, 0.6)}
    # blend: an RR Lyrae and a contact binary (period shape3, share shape4 of the variability)
    period = np.clip(rng.normal(0.58, 0.075, k), 0.45, 0.9)
    return {**halo, "period": period, "amp": np.clip(1.9 - 1.6 * period + rng.normal(0, 0.15, k), 0.4, 1.3),
            "teff": rng.normal(6100, 250, k), "m_v": rng.normal(0.3, 0.2, k),
            "shape1": u(0.12, 0.2), "shape2": u(0.75, 1.0), "shape3": _lognormal(rng, 0.37, 0.18, k, 0.22, 0.65),
            "shape4": u(0.3, 0.5)}


# ------------------------------------------------------------------------------------------------
# light-curve shapes (magnitude offsets, positive = fainter)
# ------------------------------------------------------------------------------------------------

def _sawtooth(phi, rise, expo):
    """Fast rise (over ``rise`` of the cycle) then slow decline, 0 at maximum, 1 at minimum."""
    up = phi < rise
    x = np.where(up, phi / rise, (phi - rise) / (1 - rise))
    s = np.where(up, 1 - (3 * x**2 - 2 * x**3), x ** expo)
    return s


def _random_walk(t, tau, rng):
    """A smooth random walk in time (unit variance per ``tau`` days)."""
    dt = np.diff(t, prepend=t[0])
    return np.cumsum(rng.standard_normal(len(t)) * np.sqrt(np.maximum(dt, 0) / tau))


def _eclipse(dphi, w):
    """Rounded eclipse profile of half-width ``w`` in phase (1 at centre, 0 outside)."""
    x = np.abs((dphi + 0.5) % 1.0 - 0.5) / w
    return np.sqrt(np.clip(1 - x**2, 0, None)) ** 1.3


def _lc_ew(kind, t, phi, P, A, p, rng):
    c = 0.5 + 0.5 * np.cos(4 * np.pi * phi)
    depth = np.where(np.abs(phi - 0.5) < 0.25, p["shape1"], 1.0)
    return A * depth * c ** p["shape2"] + p["shape3"] * np.sin(2 * np.pi * phi)


def _lc_eb(kind, t, phi, P, A, p, rng):
    ell = p["shape3"] * A * (0.5 + 0.5 * np.cos(4 * np.pi * phi))
    d1 = (1 - p["shape3"]) * A
    w = p["shape2"]
    g = lambda c: np.exp(-0.5 * (((phi - c + 0.5) % 1.0 - 0.5) / w) ** 2)  # noqa: E731
    return ell + d1 * g(0.0) + d1 * p["shape1"] * g(0.5)


def _lc_ea(kind, t, phi, P, A, p, rng):
    w = p["shape2"]
    return A * _eclipse(phi, w) + A * p["shape1"] * _eclipse(phi - 0.5 - p["shape3"], w) \
        + 0.01 * (0.5 - 0.5 * np.cos(2 * np.pi * (phi - 0.5)))


def _lc_rr_like_dsct(kind, t, phi, P, A, p, rng):
    """RRc-like first overtone beating with the fundamental (ratio 0.773)."""
    m = -0.5 * A * (np.cos(2 * np.pi * phi) + p["shape1"] * np.cos(4 * np.pi * phi + p["shape2"]))
    return m - 0.5 * A * p["shape3"] * np.cos(2 * np.pi * (t - t[0]) * 0.773 / P)


def _lc_blend(kind, t, phi, P, A, p, rng):
    """An RR Lyrae diluted by a contact binary in the same aperture."""
    rr = (1 - p["shape4"]) * A * (_sawtooth(phi, p["shape1"], p["shape2"]) - 0.5)
    phi2 = ((t - t[0]) / p["shape3"]) % 1.0
    return rr + p["shape4"] * A * (0.5 + 0.5 * np.cos(4 * np.pi * phi2))


def _lc_sawtooth(kind, t, phi, P, A, p, rng):
    m = A * (_sawtooth(phi, p["shape1"], p["shape2"]) - 0.5)
    if kind == "HADS" and p["shape3"] > 0:
        m += p["shape3"] * A * 0.5 * np.sin(2 * np.pi * (t / (P * 0.773)))
    if kind == "RRAB":  # small cycle-to-cycle (Blazhko-like) modulation for some
        m *= 1 + 0.08 * np.sin(2 * np.pi * t / (40 + 200 * p["t0"]))
    return m


def _lc_rrc(kind, t, phi, P, A, p, rng):
    return -0.5 * A * (np.cos(2 * np.pi * phi) + p["shape1"] * np.cos(4 * np.pi * phi + p["shape2"]))


def _lc_dsct(kind, t, phi, P, A, p, rng):
    r = np.random.default_rng(int(p["shape2"]))
    n = int(p["shape1"])
    f = np.concatenate([[1 / P], (1 / P) * r.uniform(0.7, 1.6, n - 1)])
    a = np.concatenate([[1.0], r.uniform(0.2, 0.7, n - 1)])
    ph = r.uniform(0, 2 * np.pi, n)
    m = (a[:, None] * np.sin(2 * np.pi * f[:, None] * t[None, :] + ph[:, None])).sum(0)
    return 0.5 * A * m / a.sum() * 1.6


def _lc_m(kind, t, phi, P, A, p, rng):
    ncyc = (t - t[0]) / P + p["t0"]
    psi = ncyc - p["shape1"] * np.sin(2 * np.pi * ncyc) / (2 * np.pi)
    cyc = np.floor(ncyc).astype(int)
    amp_c = 1 + p["shape2"] * rng.standard_normal(cyc.max() - cyc.min() + 2)
    lev_c = 0.15 * rng.standard_normal(cyc.max() - cyc.min() + 2)
    frac = ncyc - np.floor(ncyc)
    i = cyc - cyc.min()
    amp = amp_c[i] * (1 - frac) + amp_c[i + 1] * frac
    lev = lev_c[i] * (1 - frac) + lev_c[i + 1] * frac
    return -0.5 * A * amp * np.cos(2 * np.pi * psi) + lev


def _lc_sr(kind, t, phi, P, A, p, rng):
    wander = p["shape3"] * _random_walk(t, P, rng) * 2 * np.pi
    amod = np.clip(1 + 0.3 * _random_walk(t, 3 * P, rng), 0.3, 1.7)
    m = np.cos(2 * np.pi * (t - t[0]) / P + wander + 2 * np.pi * p["t0"]) * amod
    P2 = P * p["shape1"]
    m = m + p["shape2"] * np.cos(2 * np.pi * t / P2 + 0.7 * wander)
    m = 0.5 * A * m / (1 + p["shape2"]) * 1.3
    return m + 0.03 * A * rng.standard_normal(len(t))


def _lc_rot(kind, t, phi, P, A, p, rng):
    tau = p["shape2"]
    amod = np.clip(0.65 + 0.35 * np.sin(2 * np.pi * t / tau + 6.28 * p["t0"]) + 0.2 * _random_walk(t, tau, rng), 0.1, 1.5)
    drift = 0.25 * _random_walk(t, tau, rng)
    ph = 2 * np.pi * (t - t[0]) / P + drift
    return 0.5 * A * amod * (np.cos(ph) + p["shape1"] * np.cos(2 * ph + 1.0))


def _lc_yso_dipper(kind, t, phi, P, A, p, rng):
    span = t[-1] - t[0]
    ndip = max(2, rng.poisson(span / p["shape1"]))
    tc = rng.uniform(t[0], t[-1], ndip)
    dur = rng.uniform(2.0, 12.0, ndip)
    depth = rng.uniform(0.3, 1.0, ndip) * (1 - 10 ** (-0.4 * p["amp"]))
    loss = (depth[:, None] * np.exp(-0.5 * ((t[None, :] - tc[:, None]) / dur[:, None]) ** 2)).sum(0)
    return -2.5 * np.log10(np.clip(1 - loss, 0.05, None)) + 0.04 * rng.standard_normal(len(t))


def _lc_rcrb_fade(kind, t, phi, P, A, p, rng):
    m = 0.06 * np.sin(2 * np.pi * t / P)
    nf = rng.integers(1, 3)
    for te in rng.uniform(t[0] - 100, t[-1] - 50, nf):
        dec, rec = rng.uniform(15, 40), rng.uniform(80, 300)
        x = t - te
        prof = np.where(x < 0, 0.0, np.where(x < dec, x / dec, np.exp(-(x - dec) / rec)))
        m = m + p["amp"] * rng.uniform(0.6, 1.0) * prof
    return m


def _lc_microlensing(kind, t, phi, P, A, p, rng):
    tE, u0 = P, p["shape2"]
    tpk = t[int(p["shape1"] * (len(t) - 1))] + 0.3 * tE * (p["t0"] - 0.5)  # peak while observed
    u = np.sqrt(u0**2 + ((t - tpk) / tE) ** 2)
    mag = (u**2 + 2) / (u * np.sqrt(u**2 + 4))
    return -2.5 * np.log10(mag)


def _lc_flare_star(kind, t, phi, P, A, p, rng):
    m = 0.02 * np.sin(2 * np.pi * t / P)
    hit = rng.random(len(t)) < p["shape1"]
    size = np.minimum(p["amp"], rng.pareto(1.5, hit.sum()) * 0.3 + 0.15)
    m[hit] -= size
    return m


#: kind -> light-curve shape ``f(kind, t, phi, P, A, p, rng)``: magnitude offset at times ``t`` (phases
#: ``phi``, period ``P``, amplitude ``A``).
_SHAPES = {
    "EW": _lc_ew, "EB": _lc_eb, "EA": _lc_ea, "rr_like_dsct": _lc_rr_like_dsct, "blend": _lc_blend,
    **{kd: _lc_sawtooth for kd in _SAWTOOTH}, "RRC": _lc_rrc, "DSCT": _lc_dsct, "M": _lc_m, "SR": _lc_sr,
    "ROT": _lc_rot, "yso_dipper": _lc_yso_dipper, "rcrb_fade": _lc_rcrb_fade, "microlensing": _lc_microlensing,
    "flare_star": _lc_flare_star,
}
assert set(_SHAPES) == set(CLASSES) | set(ANOMALY_KINDS)


def light_curve(kind: str, t: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Magnitude offset (positive = fainter) of one star at times ``t``.

    Parameters
    ----------
    kind : str
        Class or anomaly kind.
    t : array
        Epochs (days, sorted).
    p : dict of scalars
        One row of :func:`draw_params` output.
    rng : numpy.random.Generator
        For the stochastic parts (semi-regular phase wander, spot evolution, dips, flares).
    """
    P, A = p["period"], p["amp"]
    phi = ((t - t[0]) / P + p["t0"]) % 1.0
    shape = _SHAPES.get(kind)
    if shape is None:
        raise ValueError(f"unknown kind {kind!r}")
    return shape(kind, t, phi, P, A, p, rng)
