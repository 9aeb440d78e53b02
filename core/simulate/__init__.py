"""The demo sky simulator: an AstroM3-like sky with planted label errors, anomalies and cross-matches.

Modules, one concern each:

``classes``   per-class (and anomaly-kind) physics: proportions, parameter draws, light-curve shapes
``cadence``   ASAS-SN-like epochs, noise, outliers and detection limit
``spectra``   LAMOST-like low-resolution spectra
``metadata``  Galactic positions, extinction, Gaia / 2MASS / WISE columns
``planting``  true classes, subclasses, label errors, anomalies, cross-match errors
``sky``       orchestration: :func:`simulate_sky`

    from core.simulate import simulate_sky
    simulate_sky(2000, seed=0, out="demo/sky")
"""
from __future__ import annotations

from core.simulate.sky import simulate_sky

__all__ = ["simulate_sky"]
