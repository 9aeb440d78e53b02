"""AstroM3 preprocessing (Rizhko & Bloom 2024): pure functions from raw data to model inputs.

Light curves
    deduplicated (same time), sorted, brightness normalised by mean and MAD (magnitudes or
    fluxes alike), time scaled to [0, 1], cropped to ``seq_len`` steps (a random window in
    training, the centred window otherwise) or zero-padded with a mask; auxiliary channels
    ``log10(MAD)``, ``span / 365`` and the photometric catalogue columns (period, amplitude,
    lksl_statistic, rfr_score, standard-scaled), broadcast over time: 9 channels in all
    (time, value, error, log10 MAD, span, 4 photometric columns).
Spectra
    interpolated onto 3850-9000 A in 2 A steps (the ``cpu`` preset uses a coarser step),
    normalised by mean and MAD, ``log10(MAD)`` as the third channel (flux, error, log10 MAD).
Metadata
    absolute magnitudes from the parallax, cos/sin of the Galactic coordinates, log10 of the
    period, then standard scaling fitted on the training objects and saved with the model.

Deviations from the paper, documented where they occur:

* the error channel is the magnitude/flux error divided by the same MAD (the paper does the same);
* non-positive or missing parallaxes cannot give an absolute magnitude: the apparent magnitude
  column is kept as is (the paper dropped such stars) and the absolute one is set missing, then
  imputed;
* missing metadata values are imputed with the training median (the paper had none), and a
  column missing for every training object is dropped from the model's inputs;
* the photometric auxiliary channels are standard-scaled with the training statistics (the paper
  feeds them raw); a sky without them (e.g. CRTS has period and amplitude only) gets zeros;
* catalogue columns that describe how the catalogue *labelled* the star (ASAS-SN's ``rfr_score``,
  its classifier's confidence in the label it gave) are not read by default
  (``ModelConfig.exclude_columns``): they carry the given label into the embeddings, so the
  classifiers that look for wrong labels learn to repeat them (measured on the demo sky: adding the
  catalogue columns with ``rfr_score`` to a random forest on light-curve features dropped
  label-error AP from 0.96 to 0.74; without it, 0.98);
* two options the paper does not have, off in the ``paper`` preset and on in ``cpu`` (chosen by
  measurement, see :mod:`core.model.config`): ``sampling="spread"`` takes the ``seq_len`` points
  from the whole curve instead of a contiguous window (a 100-point window of a 400-epoch curve
  sees a quarter of it and can miss a single event entirely), and ``phase_harmonics`` adds the
  phase at the catalogue period as ``sin``/``cos`` channels, so a small encoder sees the folded
  shape (EW vs EB vs RRC) that the sparse, unfolded sampling of ASAS-SN hides.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core import schema
from core.sky import phase_of

__all__ = [
    "SEQ_LEN", "LC_CHANNELS", "SPEC_CHANNELS", "SAMPLINGS", "mad", "prepare_lightcurve", "lightcurve_aux",
    "lightcurve_channels", "phase_channels", "spectrum_grid", "prepare_spectrum", "metadata_features",
    "MetadataScaler", "PhotoScaler",
]

#: The paper's light-curve length.
SEQ_LEN = 200
#: Channels of a preprocessed light curve (the paper's; phase channels come on top, see
#: :func:`lightcurve_channels`).
LC_CHANNELS = 9
#: How ``seq_len`` points are taken from a longer light curve: ``window`` (the paper: a contiguous
#: window, random in training, centred otherwise) or ``spread`` (points spread over the whole curve:
#: a random subset in training, evenly spaced otherwise).
SAMPLINGS = ("window", "spread")
#: Channels of a preprocessed spectrum.
SPEC_CHANNELS = 3
_EPS = 1e-6


def mad(x: np.ndarray) -> float:
    """Median absolute deviation (unscaled); 0 for fewer than one finite value."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return 0.0
    return float(np.median(np.abs(x - np.median(x))))


def lightcurve_channels(phase_harmonics: int = 0) -> int:
    """Channels of a preprocessed light curve: the paper's 9 plus ``2 * phase_harmonics``."""
    return LC_CHANNELS + 2 * int(phase_harmonics)


def phase_channels(time, value, period, harmonics: int) -> np.ndarray:
    """``sin``/``cos`` of ``2 pi k phase`` (k = 1..harmonics) of each point, folded at ``period``.

    Phase zero is put where a ``harmonics``-term Fourier fit of the folded curve peaks (the
    faintest phase for magnitudes: primary eclipse, minimum light), so the same kind of star gets
    the same phases whatever its epoch. Without a usable period (missing, not positive) or with
    too few points, every channel is zero.

    Parameters
    ----------
    time, value : array-like
        The points to describe (days; magnitudes or fluxes).
    period : float
        Catalogue period in days.
    harmonics : int

    Returns
    -------
    numpy.ndarray, shape (len(time), 2 * harmonics), float32
        Columns ``sin(2 pi phi), cos(2 pi phi), sin(4 pi phi), ...``.

    Examples
    --------
    >>> t = np.linspace(0, 10, 200)
    >>> ch = phase_channels(t, np.cos(2 * np.pi * (t - 0.3)), 1.0, 1)
    >>> round(float(ch[np.argmin(np.abs(t - 0.3)), 1]), 2)   # the peak is at phase 0: cos = 1
    1.0
    """
    t = np.asarray(time, dtype=np.float64)
    out = np.zeros((len(t), 2 * harmonics), dtype=np.float32)
    k = np.arange(1, harmonics + 1)
    if harmonics <= 0 or period is None or not np.isfinite(period) or period <= 0 or len(t) < 2 * harmonics + 2:
        return out
    v = np.asarray(value, dtype=np.float64)
    ang = 2 * np.pi * np.outer(phase_of(t, period, t[0]), k)                    # (n, K)
    design = np.hstack([np.ones((len(t), 1)), np.sin(ang), np.cos(ang)])
    coef, *_ = np.linalg.lstsq(design, v - v.mean(), rcond=None)
    grid = np.linspace(0.0, 1.0, 200, endpoint=False)
    ga = 2 * np.pi * np.outer(grid, k)
    fit = np.sin(ga) @ coef[1:harmonics + 1] + np.cos(ga) @ coef[harmonics + 1:]
    phi = np.mod(ang[:, 0] / (2 * np.pi) - grid[int(np.argmax(fit))], 1.0)
    a = 2 * np.pi * np.outer(phi, k)
    out[:, 0::2] = np.sin(a)
    out[:, 1::2] = np.cos(a)
    return out


def _sample(n: int, seq_len: int, sampling: str, rng: np.random.Generator | None) -> np.ndarray:
    """Indices of ``seq_len`` of ``n > seq_len`` sorted points (see :data:`SAMPLINGS`)."""
    if sampling == "spread":
        if rng is not None:
            return np.sort(rng.choice(n, seq_len, replace=False))
        return np.unique(np.linspace(0, n - 1, seq_len).round().astype(int))
    if sampling != "window":
        raise ValueError(f"unknown light-curve sampling {sampling!r}; choose one of {', '.join(SAMPLINGS)}")
    start = int(rng.integers(0, n - seq_len + 1)) if rng is not None else (n - seq_len) // 2
    return np.arange(start, start + seq_len)


def prepare_lightcurve(time, value, error, *, seq_len: int = SEQ_LEN, rng: np.random.Generator | None = None,
                       sampling: str = "window", period: float | None = None, phase_harmonics: int = 0):
    """The paper's light-curve steps: dedup, sort, normalise, scale time, crop or pad.

    Parameters
    ----------
    time, value, error : array-like
        Times (days), magnitudes or fluxes, and their 1-sigma errors. Non-finite points are dropped.
    seq_len : int
        Output length (200 in the paper).
    rng : numpy.random.Generator, optional
        If given, the ``seq_len`` points of a longer curve are drawn at random (training);
        otherwise deterministically (inference).
    sampling : {'window', 'spread'}
        ``window``: a contiguous window (the paper; random, or the centred one); ``spread``: points
        spread over the whole curve (a random subset, or evenly spaced ones).
    period : float, optional
        Catalogue period (days) for the phase channels.
    phase_harmonics : int
        If > 0, ``2 * phase_harmonics`` channels of :func:`phase_channels` (computed on the whole
        curve, so phase zero does not depend on the crop) follow the three sequence channels.

    Returns
    -------
    x : numpy.ndarray, shape (seq_len, 3 + 2 * phase_harmonics), float32
        Channels: time scaled to [0, 1] over the kept points, ``(value - mean) / MAD``, ``error / MAD``
        [, phase channels]. Padded rows are zero.
    mask : numpy.ndarray, shape (seq_len,), bool
        True for real points.
    stats : dict
        ``log_mad`` (log10 of the MAD of the whole curve) and ``span`` (days, whole curve).

    Examples
    --------
    >>> x, m, s = prepare_lightcurve([0, 1, 2], [10.0, 10.5, 11.0], [0.1, 0.1, 0.1], seq_len=4)
    >>> m.tolist()
    [True, True, True, False]
    >>> float(x[2, 0])
    1.0
    """
    t = np.asarray(time, dtype=np.float64)
    v = np.asarray(value, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(v)
    t, v, e = t[ok], v[ok], np.where(np.isfinite(e[ok]), e[ok], 0.0)
    # dedup on time (keep the first of each), sorted
    t, idx = np.unique(t, return_index=True)
    v, e = v[idx], e[idx]
    x = np.zeros((seq_len, 3 + 2 * phase_harmonics), dtype=np.float32)
    mask = np.zeros(seq_len, dtype=bool)
    if len(t) == 0:
        return x, mask, {"log_mad": 0.0, "span": 0.0}
    phase = phase_channels(t, v, period, phase_harmonics) if phase_harmonics > 0 else None
    m = mad(v)
    scale = m if m > _EPS else 1.0
    span = float(t[-1] - t[0])
    stats = {"log_mad": float(np.log10(max(m, _EPS))), "span": span}
    v = (v - v.mean()) / scale
    e = e / scale
    n = len(t)
    if n > seq_len:
        keep = _sample(n, seq_len, sampling, rng)
        t, v, e = t[keep], v[keep], e[keep]
        phase = phase[keep] if phase is not None else None
        n = len(keep)
    width = t[-1] - t[0]
    ts = (t - t[0]) / width if width > 0 else np.zeros_like(t)
    x[:n, 0], x[:n, 1], x[:n, 2] = ts, v, e
    if phase is not None:
        x[:n, 3:] = phase
    mask[:n] = True
    return x, mask, stats


def lightcurve_aux(stats: dict, photo: np.ndarray) -> np.ndarray:
    """The 6 auxiliary light-curve channels: log10 MAD, span/365 and 4 (scaled) photometric columns.

    Parameters
    ----------
    stats : dict
        From :func:`prepare_lightcurve`.
    photo : array-like, shape (4,)
        Scaled ``period, amplitude, lksl_statistic, rfr_score`` (see :class:`PhotoScaler`).
    """
    return np.concatenate([[stats["log_mad"], stats["span"] / 365.0],
                           np.asarray(photo, dtype=np.float64)]).astype(np.float32)


def assemble_lightcurve(x: np.ndarray, mask: np.ndarray, aux: np.ndarray) -> np.ndarray:
    """Stack the sequence channels and the 6 broadcast auxiliary channels.

    ``x`` from :func:`prepare_lightcurve` (3 sequence channels, then any phase channels); the
    result is ``(seq_len, 9 + phase channels)``: time, value, error, the 6 auxiliary channels, then
    the phase channels. Auxiliary channels are zero on padded rows, like the sequence channels.
    """
    n_phase = x.shape[1] - 3
    out = np.zeros((len(x), LC_CHANNELS + n_phase), dtype=np.float32)
    out[:, :3] = x[:, :3]
    out[mask, 3:LC_CHANNELS] = aux
    out[:, LC_CHANNELS:] = x[:, 3:]
    return out


def spectrum_grid(lo: float = 3850.0, hi: float = 9000.0, step: float = 2.0) -> np.ndarray:
    """The wavelength grid (Angstrom), ``lo`` to ``hi`` inclusive in ``step`` steps (2576 points by default)."""
    return np.arange(lo, hi + step / 2, step, dtype=np.float64)


def prepare_spectrum(wavelength, flux, error, grid: np.ndarray) -> np.ndarray:
    """Interpolate a spectrum onto ``grid`` and normalise it: ``(3, len(grid))`` float32.

    Channels: ``(flux - mean) / MAD``, ``error / MAD`` and ``log10(MAD)`` (constant). Outside the
    observed range the flux is the mean (0 after normalisation) and the error 0; non-finite
    points and infinite errors (``ivar == 0``) are dropped before interpolation.

    Examples
    --------
    >>> g = spectrum_grid(4000, 4010, 5)
    >>> prepare_spectrum([4000, 4010], [1.0, 3.0], [0.1, 0.1], g).shape
    (3, 3)
    """
    w = np.asarray(wavelength, dtype=np.float64)
    f = np.asarray(flux, dtype=np.float64)
    e = np.asarray(error, dtype=np.float64)
    ok = np.isfinite(w) & np.isfinite(f) & np.isfinite(e)
    w, f, e = w[ok], f[ok], e[ok]
    out = np.zeros((SPEC_CHANNELS, len(grid)), dtype=np.float32)
    if len(w) < 2:
        return out
    order = np.argsort(w, kind="stable")
    w, f, e = w[order], f[order], e[order]
    inside = (grid >= w[0]) & (grid <= w[-1])
    fi = np.interp(grid[inside], w, f)
    ei = np.interp(grid[inside], w, e)
    if len(fi) == 0:
        return out
    m = mad(fi)
    scale = m if m > _EPS else 1.0
    out[0, inside] = (fi - fi.mean()) / scale
    out[1, inside] = ei / scale
    out[2, :] = np.log10(max(m, _EPS))
    return out


# --- metadata --------------------------------------------------------------------------------

def metadata_features(objects: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """The paper's metadata transformations (before scaling); returns a float frame.

    * every apparent magnitude in :data:`core.schema.MAGNITUDE_COLUMNS` becomes an absolute magnitude
      ``M = m + 5 log10(parallax / mas) - 10``; where the parallax is missing or not positive the
      value is missing (imputed later);
    * ``l``, ``b`` become ``cos``/``sin`` of each (degrees);
    * ``period`` becomes ``log10(period)`` (missing if not positive);
    * everything else passes through.

    Parameters
    ----------
    objects : DataFrame
        ``sky.objects`` (or a subset of its rows).
    columns : list of str, optional
        Raw numeric columns to use (default: every numeric column but ``ra``/``dec``).
    """
    if columns is None:
        columns = [c for c in objects.columns if c not in ("id", "label", "ra", "dec")
                   and pd.api.types.is_numeric_dtype(objects[c])]
    out: dict[str, np.ndarray] = {}
    has_plx = "parallax" in objects.columns
    plx = objects["parallax"].to_numpy(dtype=np.float64) if has_plx else None
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in columns:
            v = objects[c].to_numpy(dtype=np.float64, na_value=np.nan)
            if c in schema.MAGNITUDE_COLUMNS and has_plx:
                absmag = np.where(plx > 0, v + 5.0 * np.log10(plx) - 10.0, np.nan)
                out[c] = absmag
            elif c in ("l", "b"):
                r = np.deg2rad(v)
                out[f"cos_{c}"] = np.cos(r)
                out[f"sin_{c}"] = np.sin(r)
            elif c == "period":
                out["log_period"] = np.where(v > 0, np.log10(v), np.nan)
            else:
                out[c] = v
    df = pd.DataFrame(out, index=objects.index)
    return df.replace([np.inf, -np.inf], np.nan)


@dataclass
class MetadataScaler:
    """Median imputation + standard scaling of metadata features, fitted on training objects.

    Attributes
    ----------
    raw_columns : list of str
        The sky columns the model reads (a sky used with the model must have them).
    features : list of str
        The feature names after :func:`metadata_features` (columns all-missing in training dropped).
    median_, mean_, std_ : list of float
        Fitted statistics, one per feature.
    """

    raw_columns: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    median_: list[float] = field(default_factory=list)
    mean_: list[float] = field(default_factory=list)
    std_: list[float] = field(default_factory=list)

    def fit(self, objects: pd.DataFrame, raw_columns: list[str]) -> MetadataScaler:
        """Fit on the training objects' raw columns; returns self."""
        self.raw_columns = list(raw_columns)
        feats = metadata_features(objects, self.raw_columns)
        keep = [c for c in feats.columns if feats[c].notna().any()]
        feats = feats[keep]
        med = feats.median()
        filled = feats.fillna(med)
        self.features = keep
        self.median_ = [float(x) for x in med]
        self.mean_ = [float(x) for x in filled.mean()]
        self.std_ = [float(x) if x > _EPS else 1.0 for x in filled.std(ddof=0).fillna(1.0)]
        return self

    def transform(self, objects: pd.DataFrame) -> np.ndarray:
        """``(n, len(features))`` float32: transformed, imputed, standard-scaled."""
        feats = metadata_features(objects, self.raw_columns).reindex(columns=self.features)
        x = feats.to_numpy(dtype=np.float64)
        med = np.asarray(self.median_)
        x = np.where(np.isnan(x), med, x)
        return ((x - np.asarray(self.mean_)) / np.asarray(self.std_)).astype(np.float32)

    def to_dict(self) -> dict:
        return {"raw_columns": self.raw_columns, "features": self.features, "median_": self.median_,
                "mean_": self.mean_, "std_": self.std_}

    @classmethod
    def from_dict(cls, d: dict) -> MetadataScaler:
        return cls(**d)


@dataclass
class PhotoScaler:
    """Standard scaling of the 4 photometric auxiliary columns (log10 of the period first).

    Columns a sky lacks, or that the model excludes (``ModelConfig.exclude_columns``, e.g. the
    label-leaking ``rfr_score``), become zeros (the training mean).
    """

    columns: tuple[str, ...] = schema.PHOTO_COLUMNS
    present: list[bool] = field(default_factory=lambda: [False] * 4)
    mean_: list[float] = field(default_factory=lambda: [0.0] * 4)
    std_: list[float] = field(default_factory=lambda: [1.0] * 4)

    def _raw(self, objects: pd.DataFrame) -> np.ndarray:
        cols = []
        for c in self.columns:
            if c in objects.columns and pd.api.types.is_numeric_dtype(objects[c]):
                v = objects[c].to_numpy(dtype=np.float64, na_value=np.nan)
                if c == "period":
                    with np.errstate(divide="ignore", invalid="ignore"):
                        v = np.where(v > 0, np.log10(v), np.nan)
            else:
                v = np.full(len(objects), np.nan)
            cols.append(v)
        return np.stack(cols, axis=1) if cols else np.zeros((len(objects), 0))

    def fit(self, objects: pd.DataFrame, exclude=()) -> PhotoScaler:
        """Fit on the training objects; columns in ``exclude`` stay zero (never read)."""
        x = self._raw(objects)
        self.present = [bool(np.isfinite(x[:, j]).any()) and c not in set(exclude)
                        for j, c in enumerate(self.columns)]
        with np.errstate(invalid="ignore"):
            self.mean_ = [float(np.nanmean(x[:, j])) if p else 0.0 for j, p in enumerate(self.present)]
            std = [float(np.nanstd(x[:, j])) if p else 1.0 for j, p in enumerate(self.present)]
        self.std_ = [s if s > _EPS else 1.0 for s in std]
        return self

    def transform(self, objects: pd.DataFrame) -> np.ndarray:
        """``(n, 4)`` float32 scaled columns; missing values, and columns absent (or excluded) when
        fitting, are 0 (the mean)."""
        x = (self._raw(objects) - np.asarray(self.mean_)) / np.asarray(self.std_)
        x = np.where(np.asarray(self.present, dtype=bool), x, 0.0)
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "present": self.present, "mean_": self.mean_, "std_": self.std_}

    @classmethod
    def from_dict(cls, d: dict) -> PhotoScaler:
        return cls(columns=tuple(d["columns"]), present=d["present"], mean_=d["mean_"], std_=d["std_"])
