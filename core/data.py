"""From a :class:`core.sky.Sky` to model-ready arrays: the preprocessing state and batches.

:class:`Preprocessor` holds what is fitted on the training objects (metadata and photometric
scalers) and the grids fixed by the config; it is saved inside every checkpoint.
:class:`SkyArrays` keeps, for a set of objects, the raw light curves compactly (so training can
crop a fresh random window each epoch), the preprocessed spectra and the scaled metadata, and
builds batches as dicts of tensors. Embedding does not use it: :mod:`core.embed` streams.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from core import preprocess as pp
from core.model.config import ModelConfig

__all__ = ["Preprocessor", "SkyArrays", "lightcurve_batch", "spectra_batch", "split_ids"]


def split_ids(ids, seed: int, val_fraction: float = 0.1, test_fraction: float = 0.1) -> np.ndarray:
    """Seeded split by a hash of each id: an array of ``'train'``, ``'val'``, ``'test'``.

    The split of an object depends only on its id and the seed, not on the sky's order or size,
    so pretraining and fine-tuning with the same seed agree and the test objects are never seen
    by pretraining.
    """
    import hashlib

    ids = [str(i) for i in ids]
    u = np.array([int.from_bytes(hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest(), "little")
                  for i in ids], dtype=np.uint64)
    frac = u.astype(np.float64) / float(2 ** 64)
    out = np.full(len(ids), "train", dtype=object)
    out[frac < test_fraction + val_fraction] = "val"
    out[frac < test_fraction] = "test"
    return out


@dataclass
class Preprocessor:
    """Preprocessing statistics and grids (fitted on training objects, saved with the model)."""

    seq_len: int = pp.SEQ_LEN
    grid: tuple[float, float, float] = (3850.0, 9000.0, 2.0)
    metadata: pp.MetadataScaler = field(default_factory=pp.MetadataScaler)
    photo: pp.PhotoScaler = field(default_factory=pp.PhotoScaler)
    sampling: str = "window"
    phase_harmonics: int = 0

    @classmethod
    def fit(cls, objects: pd.DataFrame, metadata_columns: list[str], config: ModelConfig) -> Preprocessor:
        """Fit the scalers on the training objects' rows of ``sky.objects``."""
        p = cls(seq_len=config.photometry.seq_len,
                grid=(config.spectra.lo, config.spectra.hi, config.spectra.step),
                sampling=config.photometry.sampling, phase_harmonics=config.photometry.phase_harmonics)
        excluded = set(config.exclude_columns)
        columns = [c for c in metadata_columns if c not in excluded]
        if columns:
            p.metadata = pp.MetadataScaler().fit(objects, columns)
        p.photo = pp.PhotoScaler().fit(objects, exclude=excluded)
        return p

    @property
    def wavelengths(self) -> np.ndarray:
        return pp.spectrum_grid(*self.grid)

    @property
    def n_metadata(self) -> int:
        return len(self.metadata.features)

    @staticmethod
    def periods(objects: pd.DataFrame) -> np.ndarray:
        """Catalogue periods (days) of ``objects``, NaN where missing (phase channels need them)."""
        if "period" not in objects.columns:
            return np.full(len(objects), np.nan)
        return pd.to_numeric(objects["period"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def lightcurves(self, curves: list, photo: np.ndarray, periods: np.ndarray,
                    rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:func:`lightcurve_batch` with this preprocessor's length, sampling and phase channels."""
        return lightcurve_batch(curves, photo, self.seq_len, rng, sampling=self.sampling, periods=periods,
                                phase_harmonics=self.phase_harmonics)

    def metadata_present(self, objects: pd.DataFrame) -> np.ndarray:
        """True where an object has at least one of the model's raw metadata columns."""
        cols = [c for c in self.metadata.raw_columns if c in objects.columns]
        if not cols:
            return np.zeros(len(objects), dtype=bool)
        return objects[cols].notna().any(axis=1).to_numpy()

    def to_dict(self) -> dict:
        return {"seq_len": self.seq_len, "grid": list(self.grid), "metadata": self.metadata.to_dict(),
                "photo": self.photo.to_dict(), "sampling": self.sampling, "phase_harmonics": self.phase_harmonics}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        return cls(seq_len=d["seq_len"], grid=tuple(d["grid"]),
                   metadata=pp.MetadataScaler.from_dict(d["metadata"]), photo=pp.PhotoScaler.from_dict(d["photo"]),
                   sampling=d.get("sampling", "window"), phase_harmonics=int(d.get("phase_harmonics", 0)))


def lightcurve_batch(curves: list, photo: np.ndarray, seq_len: int, rng: np.random.Generator | None = None, *,
                     sampling: str = "window", periods: np.ndarray | None = None, phase_harmonics: int = 0):
    """Preprocess a list of ``(time, value, error)`` into ``(B, seq_len, C)`` float32 and a ``(B, seq_len)`` mask.

    ``C`` is :func:`core.preprocess.lightcurve_channels` of ``phase_harmonics``; ``periods`` (one per
    curve, NaN where unknown) are needed for the phase channels.
    """
    x = np.zeros((len(curves), seq_len, pp.lightcurve_channels(phase_harmonics)), dtype=np.float32)
    mask = np.zeros((len(curves), seq_len), dtype=bool)
    for i, (t, v, e) in enumerate(curves):
        period = periods[i] if periods is not None else None
        xi, mi, st = pp.prepare_lightcurve(t, v, e, seq_len=seq_len, rng=rng, sampling=sampling, period=period,
                                           phase_harmonics=phase_harmonics)
        x[i] = pp.assemble_lightcurve(xi, mi, pp.lightcurve_aux(st, photo[i]))
        mask[i] = mi
    return x, mask


def spectra_batch(spectra: list, grid: np.ndarray) -> np.ndarray:
    """Preprocess a list of ``(wavelength, flux, error)`` into ``(B, 3, len(grid))`` float32."""
    out = np.zeros((len(spectra), pp.SPEC_CHANNELS, len(grid)), dtype=np.float32)
    for i, (w, f, e) in enumerate(spectra):
        out[i] = pp.prepare_spectrum(w, f, e, grid)
    return out


class SkyArrays:
    """Model inputs for a set of objects of a sky, in the order of ``ids``.

    Parameters
    ----------
    sky : Sky
    ids : sequence of str
    prep : Preprocessor
    modalities : list of str
        Modalities to load (others are marked absent).
    """

    def __init__(self, sky, ids, prep: Preprocessor, modalities):
        self.ids = np.asarray([str(i) for i in ids], dtype=object)
        self.prep = prep
        self.modalities = list(modalities)
        n = len(self.ids)
        pos = {oid: k for k, oid in enumerate(self.ids)}
        objects = sky.objects.set_index("id").loc[list(self.ids)].reset_index()
        self.labels = objects["label"].to_numpy(dtype=object)
        self.photo = prep.photo.transform(objects)
        self.periods = prep.periods(objects)
        # light curves: raw, compact (float64 time, float32 values)
        self.has = {m: np.zeros(n, dtype=bool) for m in ("photometry", "spectra", "metadata")}
        self._lc: list = [None] * n
        if "photometry" in self.modalities and sky.has_lightcurves:
            for lc in sky.iter_lightcurves(ids=self.ids):
                k = pos.get(lc.id)
                if k is not None and len(lc):
                    self._lc[k] = (lc.time.astype(np.float64), lc.value.astype(np.float32),
                                   lc.error.astype(np.float32))
                    self.has["photometry"][k] = True
        # spectra: preprocessed once
        grid = prep.wavelengths
        self._spec_row = np.full(n, -1, dtype=np.int64)
        specs = []
        if "spectra" in self.modalities and sky.has_spectra:
            rows = []
            for sp in sky.iter_spectra(ids=self.ids):
                k = pos.get(sp.id)
                if k is not None and len(sp) >= 2:
                    rows.append(k)
                    specs.append(pp.prepare_spectrum(sp.wavelength, sp.flux, sp.error, grid))
            self._spec_row[rows] = np.arange(len(rows))
            self.has["spectra"][rows] = True
        self._spec = np.stack(specs) if specs else np.zeros((0, pp.SPEC_CHANNELS, len(grid)), np.float32)
        if "metadata" in self.modalities and prep.n_metadata:
            self.meta = prep.metadata.transform(objects)
            self.has["metadata"] = prep.metadata_present(objects)
        else:
            self.meta = np.zeros((n, max(prep.n_metadata, 1)), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None, device=None) -> dict:
        """A batch dict of tensors for rows ``idx`` (random light-curve crops if ``rng`` is given)."""
        idx = np.asarray(idx)
        out: dict = {}
        if "photometry" in self.modalities:
            curves = [self._lc[k] if self._lc[k] is not None else ((), (), ()) for k in idx]
            x, mask = self.prep.lightcurves(curves, self.photo[idx], self.periods[idx], rng)
            out["lc"], out["lc_mask"] = torch.from_numpy(x), torch.from_numpy(mask)
        if "spectra" in self.modalities:
            rows = self._spec_row[idx]
            spec = np.zeros((len(idx), *self._spec.shape[1:]), dtype=np.float32)
            ok = rows >= 0
            spec[ok] = self._spec[rows[ok]]
            out["spec"] = torch.from_numpy(spec)
        if "metadata" in self.modalities:
            out["meta"] = torch.from_numpy(self.meta[idx])
        for m in self.modalities:
            out[f"has_{m}"] = torch.from_numpy(self.has[m][idx])
        if device is not None:
            out = {k: v.to(device) for k, v in out.items()}
        return out
