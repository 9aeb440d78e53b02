"""Subclasses: re-project and re-cluster one class, and describe what tells its subgroups apart.

``subclasses(ws, label="M")`` takes the objects carrying ``label``, fits a UMAP of their fused
embeddings alone (structure that the all-sky map flattens shows up), clusters it with HDBSCAN
(minimum cluster size a tenth of the class, noise points given to the nearest subgroup so
every object has one), and for each subgroup reports its size, the metadata columns with the
largest effect sizes against the rest of the class (Cohen's d), its mean folded light curve and
its mean spectrum on a common wavelength grid.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core import schema
from core.analysis.embeddings import load_embeddings
from core.errors import AstroM3Error
from core.workspace import Workspace

__all__ = ["Subgroup", "SubclassResult", "subclasses", "cohens_d", "fold_and_bin", "effect_sizes"]

N_PHASE_BINS = 40
N_WAVE_BINS = 300


@dataclass
class Subgroup:
    """One subgroup of a class: its size and what distinguishes it."""

    subgroup: int
    size: int
    effects: pd.DataFrame  # column, cohens_d, mean_in, mean_out (largest |d| first)
    phase: np.ndarray | None = None
    lightcurve: np.ndarray | None = None  # mean normalised magnitude per phase bin (brighter = lower)
    n_lightcurves: int = 0
    wavelength: np.ndarray | None = None
    spectrum: np.ndarray | None = None  # mean flux / median flux
    n_spectra: int = 0


@dataclass
class SubclassResult:
    """What :func:`subclasses` found inside one class.

    Attributes
    ----------
    label : str
    assignments : pandas.DataFrame
        ``id``, ``subgroup`` (0, 1, ...), ``x``, ``y`` (the class's own UMAP).
    groups : list of Subgroup
    """

    label: str
    assignments: pd.DataFrame
    groups: list[Subgroup] = field(default_factory=list)

    @property
    def n_subgroups(self) -> int:
        return len(self.groups)

    def to_dict(self) -> dict:
        """JSON-friendly summary (no per-object rows)."""
        return {"label": self.label, "n_objects": len(self.assignments), "subgroups": [
            {"subgroup": g.subgroup, "size": g.size, "n_lightcurves": g.n_lightcurves, "n_spectra": g.n_spectra,
             "effects": g.effects.head(5).to_dict(orient="records")} for g in self.groups]}


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's d of ``a`` against ``b`` (pooled standard deviation; NaNs ignored)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


def effect_sizes(table: pd.DataFrame, inside: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Cohen's d of each column, inside vs outside, largest ``|d|`` first."""
    rows = []
    for c in columns:
        v = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
        d = cohens_d(v[inside], v[~inside])
        if np.isfinite(d):
            rows.append({"column": c, "cohens_d": d, "mean_in": float(np.nanmean(v[inside])),
                         "mean_out": float(np.nanmean(v[~inside]))})
    df = pd.DataFrame(rows, columns=["column", "cohens_d", "mean_in", "mean_out"])
    return df.reindex(df["cohens_d"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def _period(lc, catalogue_period: float | None) -> float | None:
    if catalogue_period is not None and np.isfinite(catalogue_period) and catalogue_period > 0:
        return float(catalogue_period)
    return lc.best_period(min_period=0.1, max_period=lc.span) if lc.span > 0.2 else None


def fold_and_bin(time: np.ndarray, value: np.ndarray, period: float, *, kind: str = "mag",
                 n_bins: int = N_PHASE_BINS) -> np.ndarray:
    """Fold on ``period`` with phase 0 at maximum light, bin, and normalise to unit amplitude.

    Returns the per-bin median of ``(mag - median) / (p95 - p5)`` (fluxes are turned into
    magnitudes first); lower = brighter, as astronomers plot magnitudes.
    """
    from core.sky import LightCurve

    lc = LightCurve("", np.asarray(time, float), np.asarray(value, float), np.ones(len(time)), kind=kind)
    folded = lc.normalize().fold(period)
    phase, norm = folded.time, folded.value
    bins = np.minimum((phase * n_bins).astype(int), n_bins - 1)
    out = np.full(n_bins, np.nan)
    for b in np.unique(bins):
        out[b] = np.median(norm[bins == b])
    return out


def _mean_curves(sky, ids: list[str], periods: dict, max_objects: int):
    ids = ids[:max_objects]
    curves = []
    if sky.has_lightcurves:
        for lc in sky.iter_lightcurves(ids=ids):
            p = _period(lc, periods.get(lc.id))
            if p:
                curves.append(fold_and_bin(lc.time, lc.value, p, kind=lc.kind))
    spectra = []
    if sky.has_spectra:
        spectra = [(s.wavelength, s.flux) for s in sky.iter_spectra(ids=ids)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lc_mean = np.nanmean(np.vstack(curves), axis=0) if curves else None
        grid = sp_mean = None
        if spectra:
            lo = np.percentile([w[0] for w, _ in spectra], 90)
            hi = np.percentile([w[-1] for w, _ in spectra], 10)
            if hi > lo:
                grid = np.linspace(lo, hi, N_WAVE_BINS)
                rows = []
                for w, f in spectra:
                    g = np.interp(grid, w, f, left=np.nan, right=np.nan)
                    med = np.nanmedian(g)
                    rows.append(g / med if np.isfinite(med) and med != 0 else g * np.nan)
                sp_mean = np.nanmean(np.vstack(rows), axis=0)
    phase = (np.arange(N_PHASE_BINS) + 0.5) / N_PHASE_BINS if lc_mean is not None else None
    return phase, lc_mean, len(curves), grid, sp_mean, len(spectra)


def _label_noise(coords: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Give noise points (-1) the subgroup of their nearest clustered point."""
    labels = labels.copy()
    noise = labels < 0
    if noise.any() and (~noise).any():
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=1).fit(coords[~noise])
        _, j = nn.kneighbors(coords[noise])
        labels[noise] = labels[~noise][j[:, 0]]
    labels[labels < 0] = 0
    return labels


#: Default space for subclasses: the modality embeddings side by side (see :func:`subclasses`).
CONCAT = "concat"


def _class_vectors(ws, label: str, space: str):
    """Ids of the workspace and the rows of ``label`` with their vectors in ``space``: ``(ids_all, rows, x)``."""
    if not ws.results_path.exists():
        raise AstroM3Error(f"{ws.results_path}: no results; run `astrom3 analyze SKY --workspace {ws.path}` first")
    res = pd.read_parquet(ws.results_path, columns=["id", "label"])
    ids_all = res["id"].astype(str).to_numpy()
    emb = load_embeddings(ws.embeddings_path, ids=ids_all)
    if space == CONCAT:
        mods = emb.modalities
        present = emb.present[schema.FUSED]
    elif space in emb.present:
        mods, present = [space], emb.present[space]
    else:
        raise AstroM3Error(f"this workspace has no '{space}' embeddings (use 'concat' or one of {emb.spaces})")
    inside = (res["label"].astype(object) == label).to_numpy() & present
    rows = np.flatnonzero(inside)
    if len(rows) < 10:
        known = sorted(res["label"].dropna().unique().tolist())
        raise AstroM3Error(f"label {label!r}: {len(rows)} objects with {space} embeddings, need >= 10 "
                           f"(labels here: {known})")
    fused_rows = emb.vectors[schema.FUSED][rows]
    x = np.hstack([np.where(emb.present[m][rows, None], emb.vectors[m][rows], fused_rows) for m in mods])
    return ids_all, rows, x


def _split(x: np.ndarray, seed: int, min_cluster_size: int | None):
    """The class's own UMAP and its subgroups, numbered by size (largest = 0): ``(coords, groups, n_groups)``."""
    from core.analysis.clustering import cluster
    from core.analysis.projection import fit_projection

    coords, _ = fit_projection(x, sample=len(x), seed=seed, min_dist=0.0)
    mcs = int(min_cluster_size or max(10, len(x) // 10))
    cl = cluster(coords, min_cluster_size=mcs)
    groups_raw = _label_noise(coords, cl.labels)
    # order subgroups by size (largest = 0) so the numbering is stable
    uniq, counts = np.unique(groups_raw, return_counts=True)
    remap = {u: i for i, u in enumerate(uniq[np.lexsort((uniq, -counts))])}
    return coords, np.array([remap[g] for g in groups_raw]), len(uniq)


def _describe(sky, member_ids, groups_idx, n_groups: int, max_curves: int) -> list[Subgroup]:
    """One :class:`Subgroup` per group: size, and with a sky, effect sizes and mean curves."""
    from core.sky import Sky, open_sky

    if sky is not None and not isinstance(sky, Sky):
        sky = open_sky(sky)
    objects = None
    if sky is not None:
        objects = sky.objects.set_index("id").reindex(member_ids)
        meta_cols = [c for c in sky.metadata_columns if c in objects.columns]
        periods = objects["period"].to_dict() if "period" in objects.columns else {}
    groups = []
    for g in range(n_groups):
        members = groups_idx == g
        sub = Subgroup(subgroup=g, size=int(members.sum()),
                       effects=pd.DataFrame(columns=["column", "cohens_d", "mean_in", "mean_out"]))
        if objects is not None:
            if n_groups > 1:
                sub.effects = effect_sizes(objects.reset_index(), members, meta_cols)
            (sub.phase, sub.lightcurve, sub.n_lightcurves, sub.wavelength, sub.spectrum,
             sub.n_spectra) = _mean_curves(sky, list(member_ids[members]), periods, max_curves)
        groups.append(sub)
    return groups


def subclasses(workspace, label: str = "M", *, sky=None, seed: int = 0, space: str = CONCAT,
               min_cluster_size: int | None = None, max_curves: int = 200) -> SubclassResult:
    """Find and describe the subgroups of one class.

    Parameters
    ----------
    workspace : Workspace or path
        With ``embeddings.parquet`` and ``results.parquet`` (labels come from the results).
    label : str
        The class to split.
    sky : Sky or path, optional
        Needed for the metadata effect sizes, mean light curves and mean spectra; without it only
        the assignment is returned.
    seed : int
    space : str
        Embedding space to re-project: ``concat`` (default: the per-modality embeddings side by
        side, the fused vector standing in where one is missing) or one of ``fused``,
        ``photometry``, ``spectra``, ``metadata``.
        Measured on the 20k demo sky: the fused mean averages away what only one modality shows
        (Mira chemistry lives in the spectra: ARI 0.00 fused, 0.55 spectra, 0.88 concat; rotator
        dwarfs vs giants in the metadata: 0.51 fused, 0.95 metadata, 0.80 concat).
    min_cluster_size : int, optional
        Defaults to a tenth of the class (at least 10).
    max_curves : int
        Light curves / spectra read per subgroup for the mean curves.

    Returns
    -------
    SubclassResult

    Examples
    --------
    >>> res = subclasses("demo/ws", "M", sky="demo/sky")       # doctest: +SKIP
    >>> res.assignments.subgroup.value_counts()                # doctest: +SKIP
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    ids_all, rows, x = _class_vectors(ws, label, space)
    coords, groups_idx, n_groups = _split(x, seed, min_cluster_size)
    member_ids = ids_all[rows]
    assignments = pd.DataFrame({"id": member_ids, "subgroup": groups_idx,
                                "x": coords[:, 0], "y": coords[:, 1]})
    return SubclassResult(label=label, assignments=assignments,
                          groups=_describe(sky, member_ids, groups_idx, n_groups, max_curves))
