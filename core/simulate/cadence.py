"""ASAS-SN-like sampling and noise: epochs with seasonal gaps, magnitude-dependent errors, outliers."""
from __future__ import annotations

import numpy as np

#: First epoch of the simulated survey (HJD - 2450000; ASAS-SN V-band began around 2012).
SURVEY_START = 6000.0
#: Faintest magnitude ASAS-SN detects; fainter epochs are non-detections and are dropped.
DETECTION_LIMIT = 17.3


def epochs(ra_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Observation times (days) of one star: 1.5-6 yr, a few days' cadence, seasonal gaps.

    The star is unobservable while the Sun is within ~50 degrees of it in right ascension;
    bad-weather runs thin the rest. Returns 100-1500 sorted epochs (HJD - 2450000).
    """
    span = rng.uniform(1.5, 6.0) * 365.25
    start = SURVEY_START + rng.uniform(0, 1200)
    target = int(np.clip(rng.lognormal(np.log(90 * span / 365.25), 0.35), 100, 1500))
    nights = np.arange(start, start + span)
    sun_ra = 360.0 * ((nights - 6007.5) / 365.25 % 1.0)  # RA of the Sun (0 at the March equinox)
    sep = np.abs((ra_deg - sun_ra + 180) % 360 - 180)
    ok = sep > rng.uniform(40, 60)
    # weather: multi-night bad runs
    weather = np.repeat(rng.random(len(nights) // 4 + 1) > 0.25, 4)[:len(nights)]
    ok &= weather
    cand = nights[ok]
    if len(cand) == 0:
        cand = nights
    if len(cand) >= target:
        t = rng.choice(cand, size=target, replace=False)
    else:  # several visits on some nights
        t = rng.choice(cand, size=target, replace=True)
    t = t + rng.uniform(0.1, 0.4, target)  # time of night (fraction of a day)
    return np.sort(t)


def mag_error(mag: np.ndarray) -> np.ndarray:
    """Typical ASAS-SN V-band 1-sigma error at magnitude ``mag`` (saturation below V~10)."""
    sat = np.clip(10.0 - mag, 0, None) * 0.02
    return np.sqrt(0.01**2 + (0.02 * 10 ** (0.32 * (mag - 13.0))) ** 2) + sat


def observe(true_mag: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add noise and outliers to true magnitudes; drop non-detections.

    Returns ``(keep_mask, mag, mag_err)`` where the arrays are already masked.
    """
    err = mag_error(true_mag) * rng.uniform(0.9, 1.1, len(true_mag))
    mag = true_mag + err * rng.standard_normal(len(true_mag)) * 1.1
    out = rng.random(len(mag)) < 0.01  # clouds, blends, bad subtractions
    mag[out] += rng.choice([1, 1, 1, -1], out.sum()) * rng.uniform(0.2, 1.5, out.sum())
    keep = mag < DETECTION_LIMIT
    if keep.sum() < 30:  # keep the brightest points rather than an almost empty curve
        keep = mag <= np.sort(mag)[min(29, len(mag) - 1)]
    return keep, np.round(mag[keep], 3), np.round(np.maximum(err[keep], 0.005), 3)
