"""LAMOST-like low-resolution spectra (3700-9100 A, R~1800), vectorised over a batch of stars.

A rest-frame spectrum is a blackbody continuum times ``exp(-tau)``, where ``tau`` is a weighted sum
of fixed absorption profiles (Balmer cores and wings, metal lines, TiO bands, C2 and CN bands)
precomputed once on the pixel grid, times ``1 + emission`` (Balmer emission of Miras with its
inverted decrement, H-alpha and Ca II H&K of active stars, the emission lines of young stars). The
weights depend on temperature, gravity, metallicity and chemistry. Each spectrum is then
Doppler-shifted, reddened, given a slightly wrong flux calibration and photon noise whose
signal-to-noise ratio falls with magnitude.
"""
from __future__ import annotations

import numpy as np

from core.simulate.classes import EM_ACTIVE, EM_MIRA, EM_YSO

#: Wavelength grid (Angstrom): 2.5 A pixels, 3700-9100 A.
WAVELENGTH = np.arange(3700.0, 9100.0 + 1e-6, 2.5)
RESOLUTION = 1800.0
_C_KMS = 299792.458

_BALMER = {6562.8: 1.0, 4861.3: 0.95, 4340.5: 0.9, 4101.7: 0.8, 3970.1: 0.7, 3889.1: 0.6,
           3835.4: 0.5, 3797.9: 0.4, 3770.6: 0.3, 3750.2: 0.25}
_METALS = {3933.7: 1.6, 3968.5: 1.4, 4226.7: 0.6, 4307.9: 0.7, 4383.5: 0.5, 4045.8: 0.4, 4957.6: 0.3,
           5167.3: 0.6, 5172.7: 0.7, 5183.6: 0.8, 5269.5: 0.5, 5328.0: 0.35, 5890.0: 0.8, 5895.9: 0.7,
           6122.2: 0.3, 6162.2: 0.35, 6495.0: 0.2, 8498.0: 0.5, 8542.1: 0.9, 8662.1: 0.8}
_TIO_HEADS = {4761.0: 0.5, 4954.0: 0.7, 5167.0: 0.8, 5448.0: 0.9, 5847.0: 0.8, 6159.0: 1.0,
              6651.0: 0.9, 7054.0: 1.2, 7589.0: 0.9, 8432.0: 0.6, 8859.0: 0.5}
_C2_HEADS = {4737.0: 1.0, 5165.0: 1.1, 5636.0: 0.9, 6191.0: 0.5, 4382.0: 0.4}   # degrade to the blue
_CN_HEADS = {3883.0: 0.8, 4216.0: 0.7, 6926.0: 0.5, 7088.0: 0.6, 7874.0: 0.8, 8067.0: 0.7, 8320.0: 0.5}  # to the red


def _sigma(lam):
    return lam / RESOLUTION / 2.3548


def _gauss(center, width, lam=WAVELENGTH):
    return np.exp(-0.5 * ((lam - center) / width) ** 2)


def _band(head, length, to_red, lam=WAVELENGTH):
    x = (lam - head) if to_red else (head - lam)
    prof = np.where(x >= 0, np.exp(-np.clip(x, 0, None) / length), 0.0)
    # smooth the band head with the instrumental profile
    k = _gauss(0.0, _sigma(head), np.arange(-10, 10.01, 2.5))
    return np.convolve(prof, k / k.sum(), mode="same")


def _profiles():
    rng = np.random.default_rng(20240)  # fixed weak-line list
    lam = WAVELENGTH
    h_core = sum(s * _gauss(c, _sigma(c) * 1.3) for c, s in _BALMER.items())
    h_wing = sum(s / (1 + ((lam - c) / (9.0 * s + 3.0)) ** 2) for c, s in _BALMER.items())
    metal = sum(s * _gauss(c, _sigma(c) * (1.6 if s > 1 else 1.0)) for c, s in _METALS.items())
    weak_c = rng.uniform(3700, 9100, 500)
    weak_s = rng.exponential(0.12, 500) * np.exp(-(weak_c - 3700) / 2500)
    metal = metal + sum(s * _gauss(c, _sigma(c)) for c, s in zip(weak_c, weak_s))
    tio = sum(s * _band(h, 120.0, True) for h, s in _TIO_HEADS.items())
    c2 = sum(s * _band(h, 70.0, False) for h, s in _C2_HEADS.items())
    cn = sum(s * _band(h, 90.0, True) for h, s in _CN_HEADS.items())
    em_mira = sum(s * _gauss(c, _sigma(c) * 1.2) for c, s in
                  {6562.8: 0.6, 4861.3: 0.25, 4340.5: 0.9, 4101.7: 1.0, 3970.1: 0.3}.items())
    em_act = sum(s * _gauss(c, _sigma(c)) for c, s in
                 {6562.8: 1.0, 4861.3: 0.4, 3933.7: 0.8, 3968.5: 0.7}.items())
    em_yso = sum(s * _gauss(c, _sigma(c) * 1.5) for c, s in
                 {6562.8: 1.0, 4861.3: 0.35, 6300.3: 0.15, 8542.1: 0.25, 8662.1: 0.2, 5875.6: 0.1}.items())
    return (np.vstack([h_core, h_wing, metal, tio, c2, cn]).astype(np.float64),
            np.vstack([em_mira, em_act, em_yso]).astype(np.float64))


_ABS, _EM = _profiles()


def line_weights(teff, logg, feh, tio, carbon, h_deficient=None):
    """Weights of the absorption profiles (n x 6) for given stellar parameters."""
    teff = np.asarray(teff, float)
    lt = np.log10(teff)
    h = np.exp(-0.5 * ((lt - np.log10(9500)) / 0.09) ** 2)        # Balmer strength peaks in A stars
    dwarf = np.clip((np.asarray(logg) - 2.0) / 2.5, 0.2, 1.0)
    metal = np.clip((7500 - teff) / 2500, 0.08, 2.0) * 10 ** (0.8 * np.asarray(feh))
    tio_w = np.asarray(tio) * np.clip((3900 - teff) / 600, 0, 1.5)
    c2 = np.asarray(carbon, float)
    w = np.column_stack([0.9 * h + 0.05, 1.2 * h * dwarf, metal, tio_w, 0.6 * c2, 0.5 * c2])
    if h_deficient is not None:
        w[np.asarray(h_deficient, bool), :2] = 0.0
    return w


def blackbody(teff):
    """Blackbody F_lambda on :data:`WAVELENGTH` (n x pixels), normalised to 1 at 5500 A."""
    x = 1.4388e8 / (WAVELENGTH[None, :] * np.asarray(teff, float)[:, None])
    x0 = 1.4388e8 / (5500.0 * np.asarray(teff, float)[:, None])
    return (5500.0 / WAVELENGTH[None, :]) ** 5 * np.expm1(x0) / np.expm1(x)


def snr_for_mag(vmag):
    """Median per-pixel signal-to-noise ratio of a LAMOST low-resolution spectrum at V magnitude."""
    return np.clip(12.0 * 10 ** (0.2 * (16.0 - np.asarray(vmag, float))), 3.0, 250.0)


def make_spectra(params: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Observed spectra for a batch of stars.

    Parameters
    ----------
    params : dict of arrays (n,)
        ``teff``, ``logg``, ``feh``, ``tio``, ``carbon``, ``emission``, ``em_kind``, ``rv`` (km/s),
        ``a_v`` (mag), ``vmag``, ``h_deficient``.
    rng : numpy.random.Generator

    Returns
    -------
    flux, flux_err : float32 arrays (n x pixels)
    """
    n = len(params["teff"])
    w = line_weights(params["teff"], params["logg"], params["feh"], params["tio"], params["carbon"],
                     params.get("h_deficient"))
    tau = w @ _ABS
    em = np.zeros((n, len(WAVELENGTH)))
    for code, row in ((EM_MIRA, 0), (EM_ACTIVE, 1), (EM_YSO, 2)):
        sel = params["em_kind"] == code
        if sel.any():
            em[sel] = params["emission"][sel, None] * _EM[row][None, :]
    rest = blackbody(params["teff"]) * np.exp(-tau) * (1 + em)
    # Doppler shift: observed pixel at lambda shows rest wavelength lambda / (1 + v/c)
    lam_rest = WAVELENGTH[None, :] / (1 + params["rv"][:, None] / _C_KMS)
    pos = np.clip((lam_rest - WAVELENGTH[0]) / (WAVELENGTH[1] - WAVELENGTH[0]), 0, len(WAVELENGTH) - 1.001)
    i0 = pos.astype(np.int64)
    frac = pos - i0
    rows = np.arange(n)[:, None]
    flux = rest[rows, i0] * (1 - frac) + rest[rows, i0 + 1] * frac
    # interstellar reddening and an imperfect relative flux calibration
    x = (WAVELENGTH - 6400.0) / 2700.0
    flux *= 10 ** (-0.4 * params["a_v"][:, None] * (5500.0 / WAVELENGTH[None, :]) ** 1.3)
    calib = 1 + rng.normal(0, 0.05, (n, 1)) * x[None, :] + rng.normal(0, 0.03, (n, 1)) * x[None, :] ** 2
    flux *= calib
    # scale to counts-like units that follow the star's brightness
    norm = np.median(flux[:, (WAVELENGTH > 5400) & (WAVELENGTH < 5600)], axis=1)
    flux *= (1000.0 * 10 ** (-0.4 * (params["vmag"] - 12.0)) / np.maximum(norm, 1e-30))[:, None]
    snr = snr_for_mag(params["vmag"])
    level = np.median(flux, axis=1)
    throughput = 1 + 2.5 * np.exp(-(WAVELENGTH - 3700) / 200) + 1.5 * np.exp(-(9100 - WAVELENGTH) / 250)
    sig = np.sqrt(np.clip(flux, 0, None) * level[:, None] + (0.15 * level[:, None]) ** 2) / snr[:, None] * throughput
    flux = flux + sig * rng.standard_normal(flux.shape)
    return _quantise(flux), _quantise(sig)


def _quantise(a: np.ndarray, bits: int = 11) -> np.ndarray:
    """Round to ``bits`` mantissa bits (~0.05 %, far below the noise) so the files compress well."""
    m, e = np.frexp(a)
    return np.ldexp(np.round(m * 2.0**bits) / 2.0**bits, e).astype(np.float32)
