"""2-D projection of embeddings with UMAP, fitted on a sample and applied to the rest.

The fitted projector (an optional PCA followed by UMAP) is saved with joblib so that new objects
can be placed on the same map without refitting (:func:`load_projector` + :meth:`Projector.transform`).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["Projector", "fit_projection", "load_projector"]



def _quiet_umap() -> None:
    """Silence only UMAP's own notes (n_jobs with a seed, disconnected graphs) and numba's, not everything."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"umap(\..*)?$")
    warnings.filterwarnings("ignore", module=r"numba(\..*)?$")


class Projector:
    """PCA (to ``pca_dim`` when the input is wider) followed by UMAP; scikit-learn style.

    Parameters
    ----------
    n_neighbors, min_dist : UMAP parameters.
    pca_dim : int or None
        Reduce wider inputs to this many principal components first (faster UMAP, same map).
    seed : int
        Seeds PCA and UMAP (UMAP then runs single-threaded, which makes it reproducible).
    """

    def __init__(self, *, n_neighbors: int = 15, min_dist: float = 0.05, pca_dim: int | None = 32,
                 seed: int = 0):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.pca_dim = pca_dim
        self.seed = seed

    def _reduce(self, x: np.ndarray) -> np.ndarray:
        return self.pca_.transform(x).astype(np.float32) if self.pca_ is not None else x

    def fit(self, x: np.ndarray) -> Projector:
        """Fit on ``x`` (rows = objects); sets ``embedding_`` (the fitted rows' coordinates)."""
        from sklearn.decomposition import PCA

        x = np.asarray(x, dtype=np.float32)
        n, d = x.shape
        self.pca_ = None
        if self.pca_dim and d > self.pca_dim and n > self.pca_dim:
            self.pca_ = PCA(n_components=self.pca_dim, random_state=self.seed).fit(x)
        z = self._reduce(x)
        self.umap_ = None
        if n <= 3:  # too few objects for a neighbour graph: lay them on a line
            self.embedding_ = np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, np.float32)])
            return self
        import umap

        self.umap_ = umap.UMAP(n_neighbors=max(2, min(self.n_neighbors, n - 1)), min_dist=self.min_dist,
                               random_state=self.seed, n_jobs=1, init="spectral" if n > 10 else "random")
        with warnings.catch_warnings():
            _quiet_umap()
            self.embedding_ = self.umap_.fit_transform(z).astype(np.float32)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Place new rows on the fitted map."""
        x = np.asarray(x, dtype=np.float32)
        if self.umap_ is None:
            return np.zeros((len(x), 2), dtype=np.float32)
        with warnings.catch_warnings():
            _quiet_umap()
            return self.umap_.transform(self._reduce(x)).astype(np.float32)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted projector with joblib (atomically)."""
        import joblib

        from core.workspace import atomic_path
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                joblib.dump(self, fh, compress=3)
        return Path(path)


def load_projector(path: str | os.PathLike) -> Projector:
    """Load a projector saved by :meth:`Projector.save`."""
    import joblib
    return joblib.load(path)


def fit_projection(x: np.ndarray, *, sample: int = 50000, seed: int = 0, **params) -> tuple[np.ndarray, Projector]:
    """2-D coordinates for every row of ``x``: fit on at most ``sample`` rows, transform the rest.

    Parameters
    ----------
    x : (n, d) array
        Embeddings (L2-normalised rows).
    sample : int
        Largest number of rows UMAP is fitted on; the others are placed with ``transform``.
    seed : int
        Seeds the sample and the fit.

    Returns
    -------
    coords : (n, 2) float32 array
    projector : Projector
    """
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
    proj = Projector(seed=seed, **params).fit(x[fit_rows])
    coords = np.zeros((n, 2), dtype=np.float32)
    coords[fit_rows] = proj.embedding_
    rest = np.setdiff1d(np.arange(n), fit_rows)
    if len(rest):
        for start in range(0, len(rest), 20000):
            chunk = rest[start:start + 20000]
            coords[chunk] = proj.transform(x[chunk])
    return coords, proj
