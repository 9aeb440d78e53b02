"""Positions in the Galaxy and the Gaia / 2MASS / WISE catalogue columns of simulated stars.

Stars are placed in a thin/thick disk or halo (or the bulge, for microlensing events) subject to
ASAS-SN's magnitude range; extinction follows a dust layer; colours follow temperature (dwarf and
giant sequences), circumstellar dust reddens the infrared; parallaxes and proper motions get
Gaia-DR3-like errors (so distant stars have negative parallaxes, as in the real catalogue).
"""
from __future__ import annotations

import numpy as np

R_SUN, Z_SUN = 8200.0, 20.0
#: Galactic -> ICRS rotation (transpose of the IAU ICRS -> Galactic matrix).
_G2E = np.array([[-0.0548755604, -0.8734370902, -0.4838350155],
                 [0.4941094279, -0.4448296300, 0.7469822445],
                 [-0.8676661490, -0.1980763734, 0.4559837762]]).T

_T = np.array([2400, 2700, 3000, 3300, 3500, 3800, 4000, 4500, 5000, 5500, 5800, 6000, 6500, 7000, 7500,
               8000, 9000, 10000, 12000, 16000], float)
_VK_DWARF = np.array([8.0, 7.3, 5.9, 4.8, 4.2, 3.65, 3.4, 2.7, 2.2, 1.75, 1.55, 1.4, 1.08, 0.8, 0.65,
                      0.5, 0.2, 0.0, -0.25, -0.6])
_VK_GIANT = np.array([11.5, 9.5, 7.6, 6.0, 5.0, 4.1, 3.6, 2.8, 2.3, 1.8, 1.6, 1.45, 1.1, 0.8, 0.65,
                      0.5, 0.2, 0.0, -0.25, -0.6])
_BPRP = np.array([4.6, 4.0, 3.2, 2.5, 2.2, 1.84, 1.7, 1.35, 1.1, 0.92, 0.82, 0.73, 0.59, 0.45, 0.35,
                  0.27, 0.08, 0.0, -0.08, -0.2])
_JK = np.array([1.05, 1.0, 0.92, 0.88, 0.85, 0.82, 0.76, 0.62, 0.5, 0.4, 0.36, 0.33, 0.27, 0.18, 0.14,
                0.1, 0.04, 0.0, -0.04, -0.1])
#: A_band / A_V
EXT = {"G": 0.83, "BP": 1.08, "RP": 0.63, "J": 0.28, "H": 0.18, "K": 0.12, "W1": 0.07, "W2": 0.05,
       "W3": 0.03, "W4": 0.02}


def place(m_v, hz, halo, rng, vlim=(9.5, 16.5), amp=None, max_rounds=1500):
    """Draw Galactic positions so each star's mean V lies within ``vlim``.

    Parameters
    ----------
    m_v, hz, halo : arrays (n,)
        Absolute V magnitude, disk scale height (pc; negative = bulge), halo flag.
    amp : array (n,), optional
        V amplitude; faint stars are kept with a probability that grows with amplitude / noise
        (a survey's detection efficiency).
    rng : numpy.random.Generator

    Returns
    -------
    dict with ``distance_pc``, ``l``, ``b`` (degrees), ``a_v``.
    """
    n = len(m_v)
    d = np.full(n, np.nan)
    l = np.zeros(n)
    b = np.zeros(n)
    av = np.zeros(n)
    todo = np.arange(n)
    vhi_all = np.full(n, float(vlim[1]))
    if amp is not None:  # faintest magnitude at which the amplitude still stands out of the noise
        vdet = 13.0 + np.log10(np.maximum(np.asarray(amp, float), 1e-3) / 4 / 0.02) / 0.32
        vhi_all = np.clip(vdet + 0.7, vlim[0] + 1.0, vlim[1])
    for rnd in range(max_rounds):
        if len(todo) == 0:
            break
        k = len(todo)
        mv, h, hal, vhi = m_v[todo], hz[todo], halo[todo] > 0, vhi_all[todo]
        dmax = np.minimum(10 ** ((vhi - mv + 5) / 5), 30000.0)
        bulge = h < 0
        hh = np.abs(h)
        # halo proposal: uniform in a sphere of radius dmax around the Sun
        dd = dmax * rng.random(k) ** (1 / 3)
        sinb = rng.uniform(-1, 1, k)
        ll = rng.uniform(0, 2 * np.pi, k)
        # disk proposal: exponential in height, uniform in area within dmax in the plane
        disk_p = ~hal & ~bulge
        zz = rng.laplace(0.0, np.maximum(hh, 1.0), k)
        ss = dmax * np.sqrt(rng.random(k))
        dz = zz - Z_SUN
        d_disk = np.hypot(ss, dz)
        dd = np.where(disk_p, d_disk, dd)
        sinb = np.where(disk_p, dz / np.maximum(d_disk, 1e-9), sinb)
        if bulge.any():  # microlensing sources: towards the bulge
            dd[bulge] = rng.normal(7500, 800, bulge.sum())
            ll[bulge] = np.deg2rad(rng.normal(0, 4, bulge.sum()))
            sinb[bulge] = np.sin(np.deg2rad(-rng.uniform(1.5, 5, bulge.sum())))
        cosb = np.sqrt(1 - sinb**2)
        x = R_SUN - dd * cosb * np.cos(ll)
        y = dd * cosb * np.sin(ll)
        z = Z_SUN + dd * sinb
        R = np.hypot(x, y)
        radial = np.exp(-(R - R_SUN) / 2600.0) / np.exp(np.minimum(dmax, R_SUN) / 2600.0)
        rgc = np.sqrt(R**2 + (z / 0.7) ** 2)
        halo_w = ((rgc + 1000) / (R_SUN + 1000)) ** -3 / 8.0
        w = np.where(hal, halo_w, radial)
        w = np.where(bulge, 1.0, w)
        # extinction through a 120-pc dust layer (0.8 mag/kpc in the plane), with patchiness
        s = np.maximum(np.abs(sinb), 1e-3)
        a = 0.0008 * 120.0 / s * (1 - np.exp(-dd * s / 120.0)) * rng.lognormal(0, 0.3, k)
        a = np.where(bulge, rng.uniform(0.6, 1.6, k), a)
        v = mv + 5 * np.log10(dd / 10) + a
        ok = (rng.random(k) < w) & (v > vlim[0]) & (v < vhi) & (dd <= dmax * 1.0001 + bulge * 1e9)
        if amp is not None:  # a variable is only catalogued when its amplitude stands out of the noise
            noise = np.sqrt(0.01**2 + (0.02 * 10 ** (0.32 * (v - 13.0))) ** 2)
            ok &= rng.random(k) < np.clip(amp[todo] / (8 * noise), 0, 1) ** 1.5
        if rnd == max_rounds - 1:
            ok[:] = True
        idx = todo[ok]
        d[idx], l[idx], b[idx], av[idx] = dd[ok], ll[ok], np.arcsin(sinb[ok]), a[ok]
        todo = todo[~ok]
    n_forced = len(idx) if rnd == max_rounds - 1 else 0
    return {"distance_pc": d, "l": np.rad2deg(l) % 360, "b": np.rad2deg(b), "a_v": av, "n_forced": n_forced}


def radec(l_deg, b_deg):
    """Equatorial (ICRS) coordinates in degrees from Galactic ``l``, ``b`` in degrees."""
    l, b = np.deg2rad(l_deg), np.deg2rad(b_deg)
    v = np.stack([np.cos(b) * np.cos(l), np.cos(b) * np.sin(l), np.sin(b)])
    e = _G2E @ v
    return np.rad2deg(np.arctan2(e[1], e[0])) % 360, np.rad2deg(np.arcsin(np.clip(e[2], -1, 1)))


def galactic_to_equatorial_pm(l_deg, b_deg, pm_l, pm_b):
    """Rotate proper motions (mas/yr) from Galactic (mu_l*, mu_b) to equatorial (mu_ra*, mu_dec)."""
    ra, dec = np.deg2rad(radec(l_deg, b_deg))
    ra_g, dec_g = np.deg2rad(192.85948), np.deg2rad(27.12825)   # north Galactic pole (ICRS)
    c1 = np.sin(dec_g) * np.cos(dec) - np.cos(dec_g) * np.sin(dec) * np.cos(ra - ra_g)
    c2 = np.cos(dec_g) * np.sin(ra - ra_g)
    cosb = np.hypot(c1, c2)
    c1, c2 = c1 / cosb, c2 / cosb
    return c1 * pm_l - c2 * pm_b, c2 * pm_l + c1 * pm_b


def catalogue(p: dict, pos: dict, vmean: np.ndarray, amp: np.ndarray, rng) -> dict:
    """Gaia, 2MASS and WISE columns from stellar parameters, position and extinction.

    Parameters
    ----------
    p : dict of arrays
        ``teff``, ``logg``, ``dust``, ``carbon``, ``halo``, ``ruwe_extra``.
    pos : dict
        Output of :func:`place`.
    vmean, amp : arrays
        Mean V magnitude and V amplitude (variable stars have inflated Gaia magnitude errors).
    """
    n = len(vmean)
    teff, av, d = p["teff"], pos["a_v"], pos["distance_pc"]
    giant = p["logg"] < 3.5
    vk = np.where(giant, np.interp(teff, _T, _VK_GIANT), np.interp(teff, _T, _VK_DWARF))
    bprp0 = np.interp(teff, _T, _BPRP) + np.where(giant & (teff < 3800), 0.5 * (vk - np.interp(teff, _T, _VK_DWARF)) / 2, 0)
    jk0 = np.interp(teff, _T, _JK) + np.where(giant, 0.12, 0) + 0.35 * p["dust"] + 0.35 * p["carbon"]
    jk0 = jk0 + rng.normal(0, 0.03, n)
    bprp = bprp0 + (EXT["BP"] - EXT["RP"]) * av
    v0 = vmean
    g = v0 + (-0.02704 + 0.01424 * bprp - 0.2156 * bprp**2 + 0.01426 * bprp**3) + rng.normal(0, 0.02, n)
    grp = np.clip(0.63 * bprp - 0.065 * bprp**2, -0.1, 1.6)
    rp = g - grp
    bp = rp + bprp
    k = v0 - vk - (1 - EXT["K"]) * av + 0.3 * p["dust"]
    jk = jk0 + (EXT["J"] - EXT["K"]) * av
    hk = 0.28 * jk0 + (EXT["H"] - EXT["K"]) * av
    j, h = k + jk, k + hk
    dust = p["dust"]
    w1 = k - (0.05 + 0.1 * (teff < 4000) + 0.5 * dust) + (EXT["K"] - EXT["W1"]) * av + rng.normal(0, 0.02, n)
    w2 = w1 - (np.where(giant & (teff < 4000), -0.08, 0.0) + 0.3 * dust) + rng.normal(0, 0.02, n)
    w3 = w2 - (0.02 + 0.8 * dust) + rng.normal(0, 0.03, n)
    w4 = w3 - (0.02 + 0.6 * dust) + rng.normal(0, 0.05, n)
    # photometric errors (variables: Gaia's epoch scatter inflates the mean-magnitude error)
    var = 0.3 * amp / np.sqrt(250.0)
    e = lambda base, m, m0, slope: np.sqrt(base**2 + (base * 10 ** (slope * (m - m0))) ** 2)  # noqa: E731
    out = {
        "phot_g_mean_mag": g, "e_phot_g_mean_mag": np.hypot(e(0.0003, g, 14, 0.4), var),
        "phot_bp_mean_mag": bp, "e_phot_bp_mean_mag": np.hypot(e(0.001, bp, 14, 0.4), 1.2 * var),
        "phot_rp_mean_mag": rp, "e_phot_rp_mean_mag": np.hypot(e(0.0008, rp, 13, 0.4), 0.8 * var),
        "bp_rp": bprp,
        "j_mag": j, "e_j_mag": np.minimum(e(0.022, j, 13, 0.25), 0.3),
        "h_mag": h, "e_h_mag": np.minimum(e(0.025, h, 12.5, 0.25), 0.3),
        "k_mag": k, "e_k_mag": np.minimum(e(0.022, k, 12, 0.25), 0.35),
        "w1_mag": w1, "e_w1_mag": np.minimum(e(0.023, w1, 12.5, 0.3), 0.3),
        "w2_mag": w2, "e_w2_mag": np.minimum(e(0.021, w2, 12, 0.3), 0.4),
        "w3_mag": w3, "e_w3_mag": np.minimum(e(0.02, w3, 9.5, 0.4), 0.5),
        "w4_mag": w4, "e_w4_mag": np.minimum(e(0.05, w4, 6.5, 0.4), 0.6),
        "j_k": j - k, "w1_w2": w1 - w2, "w3_w4": w3 - w4,
    }
    # astrometry
    ruwe = np.clip(rng.lognormal(0.0, 0.08, n) + p["ruwe_extra"] * rng.exponential(1.0, n), 0.75, 30)
    plx_true = 1000.0 / d
    plx_err = np.sqrt(0.015**2 + (0.07 * 10 ** (0.2 * (g - 17))) ** 2) * np.sqrt(ruwe)
    plx = plx_true + plx_err * rng.standard_normal(n) - 0.017
    sig_v = np.where(p["halo"] > 0, 130.0, np.where(giant, 35.0, 25.0))
    vt_l = rng.normal(0, sig_v) - np.where(p["halo"] > 0, 200.0, 10.0) * np.cos(np.deg2rad(pos["l"]))
    vt_b = rng.normal(0, 0.6 * sig_v)
    pm_l, pm_b = vt_l / (4.74 * d / 1000), vt_b / (4.74 * d / 1000)
    pmra, pmdec = galactic_to_equatorial_pm(pos["l"], pos["b"], pm_l, pm_b)
    pm_err = 1.1 * plx_err
    pmra = pmra + pm_err * rng.standard_normal(n)
    pmdec = pmdec + pm_err * rng.standard_normal(n)
    out.update({"parallax": plx, "parallax_error": plx_err, "parallax_over_error": plx / plx_err,
                "pmra": pmra, "pmra_error": pm_err, "pmdec": pmdec, "pmdec_error": pm_err * 0.9,
                "pm": np.hypot(pmra, pmdec), "ruwe": ruwe, "l": pos["l"], "b": pos["b"]})
    return out
