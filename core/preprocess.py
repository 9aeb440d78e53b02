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
  feeds them raw); a sky without them (e.g. CRTS has period and amplitude only) gets zeros.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core import schema

__all__ = [
    "SEQ_LEN", "LC_CHANNELS", "SPEC_CHANNELS", "mad", "prepare_lightcurve", "lightcurve_aux",
    "spectrum_grid", "prepare_spectrum", "metadata_features", "MetadataScaler", "PhotoScaler",
]

#: The paper's light-curve length.
SEQ_LEN = 200
#: Channels of a preprocessed light curve.
LC_CHANNELS = 9
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


def prepare_lightcurve(time, value, error, *, seq_len: int = SEQ_LEN, rng: np.random.Generator | None = None):
    """The paper's light-curve steps: dedup, sort, normalise, scale time, crop or pad.

    Parameters
    ----------
    time, value, error : array-like
        Times (days), magnitudes or fluxes, and their 1-sigma errors. Non-finite points are dropped.
    seq_len : int
        Output length (200 in the paper).
    rng : numpy.random.Generator, optional
        If given, a random window of ``seq_len`` points is cropped (training); otherwise the
        centred window (inference).

    Returns
    -------
    x : numpy.ndarray, shape (seq_len, 3), float32
        Channels: time scaled to [0, 1] over the kept window, ``(value - mean) / MAD``, ``error / MAD``.
        Padded rows are zero.
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
    x = np.zeros((seq_len, 3), dtype=np.float32)
    mask = np.zeros(seq_len, dtype=bool)
    if len(t) == 0:
        return x, mask, {"log_mad": 0.0, "span": 0.0}
    m = mad(v)
    scale = m if m > _EPS else 1.0
    span = float(t[-1] - t[0])
    stats = {"log_mad": float(np.log10(max(m, _EPS))), "span": span}
    v = (v - v.mean()) / scale
    e = e / scale
    n = len(t)
    if n > seq_len:
        start = int(rng.integers(0, n - seq_len + 1)) if rng is not None else (n - seq_len) // 2
        t, v, e = t[start:start + seq_len], v[start:start + seq_len], e[start:start + seq_len]
        n = seq_len
    width = t[-1] - t[0]
    ts = (t - t[0]) / width if width > 0 else np.zeros_like(t)
    x[:n, 0], x[:n, 1], x[:n, 2] = ts, v, e
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
    """Stack the 3 sequence channels and the 6 broadcast auxiliary channels: ``(seq_len, 9)``.

    Auxiliary channels are zero on padded rows, like the sequence channels.
    """
    out = np.zeros((len(x), LC_CHANNELS), dtype=np.float32)
    out[:, :3] = x
    out[mask, 3:] = aux
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

    Columns a sky lacks become zeros (the training mean).
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

    def fit(self, objects: pd.DataFrame) -> PhotoScaler:
        x = self._raw(objects)
        self.present = [bool(np.isfinite(x[:, j]).any()) for j in range(x.shape[1])]
        with np.errstate(invalid="ignore"):
            self.mean_ = [float(np.nanmean(x[:, j])) if p else 0.0 for j, p in enumerate(self.present)]
            std = [float(np.nanstd(x[:, j])) if p else 1.0 for j, p in enumerate(self.present)]
        self.std_ = [s if s > _EPS else 1.0 for s in std]
        return self

    def transform(self, objects: pd.DataFrame) -> np.ndarray:
        """``(n, 4)`` float32 scaled columns; missing values are 0 (the mean)."""
        x = (self._raw(objects) - np.asarray(self.mean_)) / np.asarray(self.std_)
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "present": self.present, "mean_": self.mean_, "std_": self.std_}

    @classmethod
    def from_dict(cls, d: dict) -> PhotoScaler:
        return cls(columns=tuple(d["columns"]), present=d["present"], mean_=d["mean_"], std_=d["std_"])
