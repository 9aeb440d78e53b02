"""The methods a user would otherwise pick, scored against the same truth as ours.

* :func:`iforest_catalogue`: isolation forest on the catalogue (metadata) columns, the
  Astronomaly-style anomaly detector.
* :func:`lightcurve_features` + :func:`rf_cleanlab`: hand-crafted light-curve features (period from
  the catalogue or Lomb-Scargle, Lomb-Scargle power, amplitude, skewness, kurtosis, scatter, Fourier amplitude ratios and phase
  differences of the folded curve), a random forest with out-of-fold probabilities, and
  cleanlab's confident learning on them: the usual label-error pipeline.
* :func:`within_class_zscore`: the astronomer's own first check: how far a star's log period and
  amplitude sit from its class's median, in MAD units (the larger of the two).
* :func:`kmeans_catalogue`: subgroups from a Gaussian mixture on the catalogue columns of one class.
* AstroM3's centroid-distance method alone is the ``mislabel_centroid`` column of our results.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import AstroM3Error
from core.progress import progress

__all__ = ["catalogue_matrix", "iforest_catalogue", "within_class_zscore", "cached_lightcurve_features", "lightcurve_features", "rf_cleanlab", "kmeans_catalogue",
           "LC_FEATURES"]

LC_FEATURES = ("log_period", "ls_power", "amplitude", "std", "mad", "skew", "kurtosis", "beyond1std",
               "r21", "r31", "phi21", "phi31", "log_n_obs", "log_span")


def catalogue_matrix(objects: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Numeric catalogue columns, median-imputed and standardised (robustly)."""
    x = objects[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    med = np.nanmedian(x, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    x = np.where(np.isfinite(x), x, med)
    scale = np.nanpercentile(x, 75, axis=0) - np.nanpercentile(x, 25, axis=0)
    scale = np.where(scale > 0, scale, np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0))
    return (x - med) / scale


def iforest_catalogue(objects: pd.DataFrame, columns: list[str], *, seed: int = 0) -> np.ndarray:
    """Isolation-forest anomaly score on catalogue columns (higher = more anomalous)."""
    from sklearn.ensemble import IsolationForest

    x = catalogue_matrix(objects, columns)
    return -IsolationForest(n_estimators=200, random_state=seed, n_jobs=1).fit(x).score_samples(x)


def within_class_zscore(objects: pd.DataFrame, labels) -> np.ndarray:
    """Largest robust z-score of ``log10 period`` and ``amplitude`` against the star's own class.

    ``|x - median_class| / (1.4826 MAD_class)`` per column, the larger of the two; NaN for
    unlabelled stars and where the sky has neither column.
    """
    from scipy.stats import median_abs_deviation

    labels = pd.Series(np.asarray(labels, dtype=object), index=objects.index)
    cols = {}
    if "period" in objects:
        p = pd.to_numeric(objects["period"], errors="coerce")
        cols["log_period"] = np.log10(p.where(p > 0))
    if "amplitude" in objects:
        cols["amplitude"] = pd.to_numeric(objects["amplitude"], errors="coerce")
    z = np.full((len(objects), max(len(cols), 1)), np.nan)
    for j, v in enumerate(cols.values()):
        for label, idx in labels.groupby(labels).groups.items():
            rows = objects.index.get_indexer(idx)
            x = v.to_numpy(dtype=float)[rows]
            mad = median_abs_deviation(x, scale="normal", nan_policy="omit")
            if np.isfinite(mad) and mad > 0:
                z[rows, j] = np.abs(x - np.nanmedian(x)) / mad
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(z).any(axis=1), np.nanmax(np.where(np.isfinite(z), z, -np.inf), axis=1), np.nan)


def skew_kurtosis(v: np.ndarray) -> tuple[float, float]:
    """Sample skewness and excess kurtosis, as ``scipy.stats.skew`` / ``kurtosis`` with their defaults.

    The same formulas (biased moments, Fisher's kurtosis; NaN for a constant series) without scipy's
    per-call argument handling, which was two thirds of the light-curve features' time
    (``benchmarks/bench_lc_features.py``).
    """
    mean = float(np.mean(v))
    d = np.asarray(v, dtype=float) - mean
    d2 = d * d
    m2 = float(np.mean(d2))
    if m2 <= (np.finfo(float).eps * mean) ** 2:     # scipy's test for a constant series
        return np.nan, np.nan
    return float(np.mean(d2 * d)) / m2 ** 1.5, float(np.mean(d2 * d2)) / m2 ** 2 - 3.0


def _features(t: np.ndarray, v: np.ndarray, e: np.ndarray, period: float | None = None) -> list[float]:
    from astropy.timeseries import LombScargle

    n = len(t)
    span = float(t[-1] - t[0]) if n > 1 else 0.0
    out = [np.nan] * len(LC_FEATURES)
    if n < 10 or span <= 0:
        return out
    std = float(np.std(v))
    ls = LombScargle(t, v)
    if period is not None and np.isfinite(period) and period > 0:
        f0 = 1.0 / float(period)
        power_best = float(ls.power(np.array([f0]))[0])
    else:
        freq, power = ls.autopower(minimum_frequency=max(1.0 / span, 1e-3), maximum_frequency=10.0,
                                   samples_per_peak=2, method="fast")
        best = int(np.argmax(power))
        f0, power_best = float(freq[best]), float(power[best])
    # Fourier series with three harmonics at the best frequency (least squares)
    phase = 2 * np.pi * f0 * (t - t[0])
    design = np.column_stack([np.ones(n)] + [f(k * phase) for k in (1, 2, 3) for f in (np.sin, np.cos)])
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    amps = [np.hypot(coef[1 + 2 * i], coef[2 + 2 * i]) for i in range(3)]
    phis = [np.arctan2(coef[2 + 2 * i], coef[1 + 2 * i]) for i in range(3)]
    a1 = amps[0] if amps[0] > 0 else 1e-9
    return [np.log10(1.0 / f0), power_best, float(np.percentile(v, 95) - np.percentile(v, 5)), std,
            float(np.median(np.abs(v - np.median(v)))), *skew_kurtosis(v),
            float(np.mean(np.abs(v - v.mean()) > std)), amps[1] / a1, amps[2] / a1,
            float((phis[1] - 2 * phis[0]) % (2 * np.pi)), float((phis[2] - 3 * phis[0]) % (2 * np.pi)),
            float(np.log10(n)), float(np.log10(span))]


def lightcurve_features(sky, ids=None, *, use_catalogue_period: bool = True, show_progress: bool | None = None
                        ) -> pd.DataFrame:
    """Hand-crafted features of every light curve (rows indexed by id; NaN where none).

    The period is the catalogue's ``period`` column where the sky has one (as a user of a
    variable-star catalogue would do; a Lomb-Scargle search over 8-year light curves costs
    ~0.1-0.3 s per star here), else the Lomb-Scargle peak (``astropy``, 1/span..10 per day).
    """
    ids = list(sky.ids if ids is None else ids)
    periods = {}
    if use_catalogue_period and "period" in sky.objects.columns:
        periods = pd.to_numeric(sky.objects.set_index("id")["period"], errors="coerce").to_dict()
    rows = {}
    it = sky.iter_lightcurves(ids=ids)
    for lc in progress(it, desc="light-curve features", total=min(len(ids), sky.n_lightcurves), unit="obj",
                       enabled=show_progress):
        v = lc.value if lc.kind == "mag" else -2.5 * np.log10(np.clip(lc.value, 1e-12, None))
        rows[lc.id] = _features(lc.time, v, lc.error, periods.get(lc.id))
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(LC_FEATURES)).reindex(ids)


def lightcurve_features_partition(sky, start: int, stop: int, out, *, sky_fingerprint: str) -> str:
    """Features of the light curves of catalogue rows ``start:stop``, written to the partition file ``out``.

    A top-level function of paths and plain values, so a Dask worker runs it as well as this process
    (:func:`core.parallel.run_partitions`); the file (atomic) records the sky and the bounds, so a
    rerun knows the partition is done.
    """
    from core.sky import Sky, open_sky
    from core.workspace import write_parquet

    sky = sky if isinstance(sky, Sky) else open_sky(sky)
    if sky.fingerprint != sky_fingerprint:
        raise AstroM3Error(f"{sky.path}: the sky changed while its light-curve features were computed; rerun")
    feats = lightcurve_features(sky, ids=sky.ids[start:stop], show_progress=False)
    write_parquet(feats.reset_index(names="id"), out, meta=_part_meta(sky_fingerprint, start, stop))
    return str(out)


def _part_meta(sky_fingerprint: str, start: int, stop: int) -> dict:
    return {"sky": sky_fingerprint, "start": int(start), "stop": int(stop)}


def _part_done(path, sky_fingerprint: str, start: int, stop: int) -> bool:
    from core.workspace import read_parquet_meta

    try:
        return path.exists() and read_parquet_meta(path) == _part_meta(sky_fingerprint, start, stop)
    except (OSError, ValueError):
        return False


def cached_lightcurve_features(sky, workspace, ids, *, scheduler: str | None = None,
                               partition_size: int | None = None) -> pd.DataFrame:
    """:func:`lightcurve_features` of ``ids``, cached in ``WS/baselines/`` for this sky's fingerprint.

    Computed partition by partition (``partition_size`` catalogue rows, cut where the light-curve
    file's row groups start), here or as Dask tasks on ``scheduler`` (see :mod:`core.parallel`); the
    features of a star do not depend on the cut, so every way gives the same table. Partitions
    finished by an interrupted run are kept in ``WS/baselines/lightcurve_features.parts/`` and not
    redone; the folder is removed once the whole table is written.
    """
    import shutil

    from core.embed import lightcurve_cuts
    from core.parallel import DEFAULT_PARTITION_SIZE, partition_bounds, run_partitions
    from core.workspace import Workspace, read_parquet_meta, write_parquet

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    cache = ws.artifact("baselines") / "lightcurve_features.parquet"
    ids = [str(i) for i in ids]
    if cache.exists() and read_parquet_meta(cache).get("sky") == sky.fingerprint:
        feats = pd.read_parquet(cache).set_index("id")
        if feats.index.isin(ids).sum() == len(ids):
            return feats.reindex(ids)
    parts = ws.artifact("baselines") / "lightcurve_features.parts"
    parts.mkdir(parents=True, exist_ok=True)
    bounds = partition_bounds(len(sky), partition_size or DEFAULT_PARTITION_SIZE, cuts=lightcurve_cuts(sky))
    files = [parts / f"part-{i:05d}.parquet" for i in range(len(bounds))]
    todo = [(str(sky.path.resolve()), a, b, str(f)) for (a, b), f in zip(bounds, files)
            if not _part_done(f, sky.fingerprint, a, b)]
    run_partitions(lightcurve_features_partition, todo, scheduler, desc="light-curve features",
                   key="lightcurve-features", done=len(bounds) - len(todo), sky_fingerprint=sky.fingerprint)
    feats = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True).set_index("id")
    write_parquet(feats.reset_index(names="id"), cache, meta={"sky": sky.fingerprint})
    shutil.rmtree(parts, ignore_errors=True)
    return feats.reindex(ids)


#: Largest number of rows a random forest of :func:`rf_cleanlab` is trained on (per fold).
RF_MAX_TRAIN = 50_000


def rf_cleanlab(features: np.ndarray, y: np.ndarray, n_classes: int, *, seed: int = 0,
                folds: int = 5, max_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold random-forest probabilities and cleanlab's label-error score.

    Each fold's forest is trained on at most ``max_train`` (default :data:`RF_MAX_TRAIN`) of the other
    folds' rows, a seeded random subset when there are more, so the cost stops growing with the sky
    past ~60k labelled objects (200 trees on 800k rows are most of an hour on two cores); every
    labelled row is still predicted by a forest that did not see it. Skies below the cap are unchanged.

    Returns ``(score, probs)``: ``score`` is ``1 -`` self-confidence (NaN for unlabelled rows).
    """
    from cleanlab.rank import get_label_quality_scores
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold

    x = np.where(np.isfinite(features), features, np.nanmedian(np.where(np.isfinite(features), features, np.nan), axis=0))
    x = np.nan_to_num(x)
    lab = np.flatnonzero(y >= 0)
    probs = np.full((len(y), n_classes), np.nan)
    cap = RF_MAX_TRAIN if max_train is None else int(max_train)
    rng = np.random.default_rng(seed)
    for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(lab, y[lab]):
        if len(tr) > cap:
            tr = np.sort(rng.choice(tr, size=cap, replace=False))
        rf = RandomForestClassifier(n_estimators=200, min_samples_leaf=2, random_state=seed, n_jobs=1)
        rf.fit(x[lab[tr]], y[lab[tr]])
        p = np.zeros((len(te), n_classes))
        p[:, rf.classes_] = rf.predict_proba(x[lab[te]])
        probs[lab[te]] = p
    score = np.full(len(y), np.nan)
    p = np.clip(probs[lab], 1e-9, None)
    score[lab] = 1 - get_label_quality_scores(y[lab], p / p.sum(axis=1, keepdims=True), method="self_confidence")
    return score, probs


def kmeans_catalogue(objects: pd.DataFrame, columns: list[str], *, seed: int = 0, max_k: int = 4) -> np.ndarray:
    """Subgroups of one class from a Gaussian mixture on its catalogue columns (k by BIC, 1..max_k)."""
    from sklearn.mixture import GaussianMixture

    x = catalogue_matrix(objects, columns)
    best, best_bic = np.zeros(len(x), dtype=int), np.inf
    for k in range(1, max_k + 1):
        if len(x) <= k * 5:
            break
        gm = GaussianMixture(n_components=k, covariance_type="diag", random_state=seed).fit(x)
        bic = gm.bic(x)
        if bic < best_bic:
            best, best_bic = gm.predict(x), bic
    return best
