"""``analyze``: embeddings -> results.parquet (projection, clusters, and every score).

Steps (each with a progress bar, all seeded): UMAP of the fused space and of each modality,
HDBSCAN + GLOSH on the fused map, exact kNN, outlier scores, out-of-fold class votes per space,
label-error scores, cross-modal scores, the similarity index, then ``results.parquet`` recorded in
the workspace manifest with the fingerprints of its inputs; a rerun with the same inputs is a no-op.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import schema
from core.analysis import clustering, conditional, crossmodal, mislabels, outliers, projection, votes
from core.analysis.embeddings import load_embeddings, normalise_rows
from core.analysis.neighbors import knn
from core.analysis.results import assemble_results, write_results
from core.analysis.scores import rank_normalise
from core.analysis.similarity import INDEX_DIR, build_index
from core.errors import WorkspaceError
from core.progress import progress
from core.sky import Sky, open_sky
from core.workspace import Workspace

__all__ = ["analyze", "place", "ANALYSIS_VERSION", "analysis_inputs", "analysis_is_fresh"]

#: Bumped when the scoring changes, so old results are recomputed.
ANALYSIS_VERSION = 4

ProgressCallback = Callable[[str, float], None]


def _as_sky(sky) -> Sky:
    return sky if isinstance(sky, Sky) else open_sky(sky)


def _as_ws(workspace) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace(workspace)


def analysis_inputs(sky: Sky, ws: Workspace, params: dict) -> dict:
    """What results.parquet depends on: the sky, the embeddings and the parameters."""
    from core.sky import file_fingerprint

    if not ws.embeddings_path.exists():
        raise WorkspaceError(f"{ws.embeddings_path}: embeddings not found; run "
                             f"`astrom3 embed {sky.path} --workspace {ws.path}` (or `astrom3 run`) first")
    from core import scores

    return {"sky": sky.fingerprint, "embeddings": file_fingerprint(ws.embeddings_path),
            "params": params, "version": ANALYSIS_VERSION,
            "scores": sorted(s.name for s in scores.REGISTRY.values() if s.compute is not None)}


def _params(umap_sample=50000, seed=0, min_cluster_size=None, k=15, folds=5) -> dict:
    return {"umap_sample": int(umap_sample), "seed": int(seed), "min_cluster_size": min_cluster_size,
            "k": int(k), "folds": int(folds)}


def analysis_is_fresh(sky, workspace, **params) -> bool:
    """True if results.parquet (and the similarity index) were made from exactly these inputs."""
    sky, ws = _as_sky(sky), _as_ws(workspace)
    if not ws.embeddings_path.exists():
        return False
    inputs = analysis_inputs(sky, ws, _params(**params))
    return ws.is_fresh(schema.RESULTS_FILE, inputs) and (ws.artifact(INDEX_DIR) / "index.parquet").exists()


def analyze(sky, workspace, *, umap_sample: int = 50000, seed: int = 0, min_cluster_size: int | None = None,
            k: int = 15, folds: int = 5, force: bool = False,
            progress_callback: ProgressCallback | None = None) -> Path:
    """Project, cluster and score every object of a sky from its embeddings.

    Parameters
    ----------
    sky : Sky or path
        The sky the embeddings were computed from (labels and ids come from it).
    workspace : Workspace or path
        Holds ``embeddings.parquet``; receives ``results.parquet``, ``analysis/`` (fitted
        projectors and clusterer) and ``neighbors/`` (similarity index).
    umap_sample : int
        UMAP is fitted on at most this many objects and applied to the rest.
    seed : int
        Seeds every random step (same seed, same results).
    min_cluster_size : int, optional
        HDBSCAN's minimum cluster size (default: ``n / 200`` clamped to [10, 250]).
    k : int
        Neighbours for the kNN outlier and label-disagreement scores.
    folds : int
        Folds of the out-of-fold classifiers.
    force : bool
        Recompute even if results are fresh.
    progress_callback : callable, optional
        ``callback(step_name, fraction_done)`` after each step (for dashboards).

    Returns
    -------
    Path of ``results.parquet``.

    Examples
    --------
    >>> from core.analysis import analyze
    >>> analyze("demo/sky", "demo/ws")          # doctest: +SKIP
    """
    sky, ws = _as_sky(sky), _as_ws(workspace)
    params = _params(umap_sample, seed, min_cluster_size, k, folds)
    inputs = analysis_inputs(sky, ws, params)
    if not force and analysis_is_fresh(sky, ws, **params):
        if progress_callback:
            progress_callback("analysis up to date", 1.0)
        return ws.results_path

    emb = load_embeddings(ws.embeddings_path, ids=sky.ids)
    made_from = emb.meta.get("sky_fingerprint")
    if made_from and made_from != sky.fingerprint:
        raise WorkspaceError(f"{ws.embeddings_path}: made from another sky (fingerprint {made_from}, "
                             f"this sky {sky.fingerprint}); rerun `astrom3 embed {sky.path} --workspace {ws.path}`")
    labels = sky.labels.reindex(emb.ids).to_numpy(dtype=object)
    labels = np.array([None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v)
                       for v in labels], dtype=object)
    classes = [c for c in sky.classes if c in set(labels[labels != None])]  # noqa: E711
    cls_index = {c: i for i, c in enumerate(classes)}
    y = np.array([cls_index.get(v, -1) if v is not None else -1 for v in labels])
    n, C = len(emb), len(classes)
    fused = schema.FUSED
    has = emb.present[fused]
    rows = np.flatnonzero(has)
    cols: dict[str, np.ndarray] = {}
    timings: dict[str, float] = {}
    mods = emb.modalities
    steps = ["projection"] + [f"projection {m}" for m in mods] + [
        "clusters", "neighbours", "class votes", "mislabels", "outliers", "cross-modal", "index", "write"]
    bar = progress(total=len(steps), desc="analyze", unit="step")
    done = [0]

    def step(name):
        done[0] += 1
        bar.set_postfix_str(name)
        bar.update(1)
        if progress_callback:
            progress_callback(name, done[0] / len(steps))

    folder = ws.artifact("analysis")
    folder.mkdir(exist_ok=True)
    with bar, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = time.perf_counter()
        xy = np.full((n, 2), np.nan, dtype=np.float32)
        if len(rows):
            coords, proj = projection.fit_projection(emb.vectors[fused][rows], sample=umap_sample, seed=seed)
            xy[rows] = coords
            proj.save(folder / "umap_fused.joblib")
        cols["umap_x"], cols["umap_y"] = xy[:, 0], xy[:, 1]
        timings["projection"] = time.perf_counter() - t
        step("projection")
        for m in mods:
            t = time.perf_counter()
            r = np.flatnonzero(emb.present[m])
            mxy = np.full((n, 2), np.nan, dtype=np.float32)
            if len(r):
                coords, proj = projection.fit_projection(emb.vectors[m][r], sample=umap_sample, seed=seed)
                mxy[r] = coords
                proj.save(folder / f"umap_{m}.joblib")
            cols[f"umap_x_{m}"], cols[f"umap_y_{m}"] = mxy[:, 0], mxy[:, 1]
            timings[f"projection {m}"] = time.perf_counter() - t
            step(f"projection {m}")

        t = time.perf_counter()
        cl = clustering.cluster(xy[rows], min_cluster_size=min_cluster_size)
        cluster = np.full(n, -1)
        cprob = np.zeros(n)
        glosh = np.full(n, np.nan)
        cluster[rows], cprob[rows], glosh[rows] = cl.labels, cl.probabilities, cl.glosh
        if cl.clusterer is not None:
            clustering.save_clusterer(cl.clusterer, folder / "hdbscan.joblib")
        cols["cluster"], cols["cluster_prob"] = cluster, cprob
        timings["clusters"] = time.perf_counter() - t
        step("clusters")

        t = time.perf_counter()
        idx_r, sim_r = knn(emb.vectors[fused][rows], k)
        side = votes.side_by_side(emb.vectors, emb.present, mods)
        side_idx, side_sim = knn(normalise_rows(side[rows]), k)
        timings["neighbours"] = time.perf_counter() - t
        step("neighbours")

        t = time.perf_counter()
        probs = {}
        if C >= 2:
            for m in mods:
                probs[m] = votes.oof_probabilities(emb.vectors[m], emb.present[m], y, C, folds=folds, seed=seed)
                cols[f"vote_{m}"], cols[f"vote_{m}_prob"] = votes.vote_columns(probs[m], classes)
            probs["all"] = votes.oof_probabilities(side, has, y, C, folds=folds, seed=seed)
        timings["class votes"] = time.perf_counter() - t
        step("class votes")

        t = time.perf_counter()
        labelled = y >= 0
        if C >= 2:
            knn_p = np.full((n, C), np.nan)
            knn_p[rows] = mislabels.knn_label_probs(side_idx, side_sim, y[rows], C)
            cent_p = mislabels.centroid_probabilities(emb.vectors[fused], has, y, C)
            p = mislabels.ensemble_probabilities({"classifier": probs["all"], "knn": knn_p, "centroid": cent_p})
            cent, cent_other = mislabels.centroid_scores(emb.vectors[fused], has, y, C)
            details = {"cleanlab": mislabels.confident_learning_scores(probs["all"], y)[0],
                       "knn": mislabels.disagreement(knn_p, y), "centroid": cent}
            mis = mislabels.combine_mislabel_scores(p, y, classes, details=details)
            mis["mislabel_centroid_class"] = np.array([classes[c] if c >= 0 else None for c in cent_other],
                                                      dtype=object)
        else:
            p = np.full((n, max(C, 1)), np.nan)
            mis = {"mislabel_score": np.full(n, np.nan), "suggested_label": np.full(n, None, dtype=object),
                   "suggested_label_prob": np.full(n, np.nan)}
        cols.update(mis)
        timings["mislabels"] = time.perf_counter() - t
        step("mislabels")

        t = time.perf_counter()
        knn_fused = np.full(n, np.nan)
        knn_fused[rows] = outliers.knn_distance(sim_r)
        knn_mod = {m: outliers.modality_knn_distance(emb.vectors[m], emb.present[m], k=min(k, 10)) for m in mods}
        iso = np.full(n, np.nan)
        iso[rows] = outliers.iforest_scores(emb.vectors[fused][rows], seed=seed)
        class_part = outliers.class_distance_score(emb.vectors, emb.present, mods, y,
                                                   p if C >= 2 else np.zeros((n, 0)))
        own = _own_class_parts(sky, emb, mods, y, classes, p if C >= 2 else np.zeros((n, 0)), seed)
        cols.update(outliers.combine_outlier_scores(knn_fused, knn_mod, iso, glosh, class_part,
                                                    own_class=own.pop("own_class")))
        cols.update(own)
        timings["outliers"] = time.perf_counter() - t
        step("outliers")

        t = time.perf_counter()
        ok = np.isfinite(p).all(axis=1)
        sugg = np.where(ok, np.argmax(np.nan_to_num(p, nan=-1.0), axis=1), -1)
        group = np.where(labelled, y, sugg)
        cols.update(crossmodal.crossmodal_scores(emb.vectors, emb.present, mods, group,
                                                 {m: probs[m] for m in mods if m in probs}))
        timings["cross-modal"] = time.perf_counter() - t
        step("cross-modal")

        cols.update(_registered_scores(emb, labels, classes, y, cols, sky, seed))

        t = time.perf_counter()
        build_index(ws, emb, labels)
        timings["index"] = time.perf_counter() - t
        step("index")

        t = time.perf_counter()
        for s in emb.spaces:
            cols[f"has_{s}"] = emb.present[s]
        df = assemble_results(emb.ids, labels, cols)
        meta = {**inputs, "classes": classes, "embeddings_meta": emb.fingerprint, "timings": timings,
                "weights": {"outlier": outliers.WEIGHTS, "outlier_own_class": outliers.OWN_CLASS_WEIGHTS,
                            "mislabel": mislabels.WEIGHTS,
                            "crossmodal": crossmodal.WEIGHTS}}
        write_results(df, ws.results_path, meta)
        ws.record(schema.RESULTS_FILE, inputs)
        step("write")
    return ws.results_path


def _registered_scores(emb, labels, classes, y, cols, sky: Sky, seed: int) -> dict[str, np.ndarray]:
    """The columns of every registered score that brings its own ``compute`` (:mod:`core.scores`)."""
    from core import scores

    todo = [s for s in scores.REGISTRY.values() if s.compute is not None]
    if not todo:
        return {}
    inputs = scores.ScoreInputs(ids=np.asarray(emb.ids), labels=labels, classes=classes, y=y, columns=cols,
                                vectors=emb.vectors, present=emb.present,
                                objects=sky.objects.set_index("id").reindex(emb.ids), seed=seed)
    out = {}
    for s in todo:
        v = np.asarray(s.compute(inputs), dtype=float)
        if v.shape != (len(y),):
            raise ValueError(f"score {s.name!r}: compute returned shape {v.shape}, expected ({len(y)},)")
        out[s.name] = v
    return out


def _own_class_parts(sky: Sky, emb, mods: list[str], y: np.ndarray, classes: list[str], probs: np.ndarray,
                     seed: int) -> dict[str, np.ndarray]:
    """The "odd for its own class" detector and its explanation (:mod:`core.analysis.conditional`)."""
    objects = sky.objects.set_index("id").reindex(emb.ids)
    feats = conditional.catalogue_features(objects)
    n_classes = len(classes)
    cat, med, mad = conditional.catalogue_class_distance(feats, y, n_classes, seed=seed)
    spaces = {m: conditional.embedding_class_distance(emb.vectors[m], emb.present[m], y, n_classes, seed=seed)
              for m in mods if m in outliers.OWN_CLASS_WEIGHTS and emb.present[m].any()}
    own, calibrated = conditional.own_class_score(cat, spaces, y, probs, outliers.OWN_CLASS_WEIGHTS)
    return {"own_class": own, "outlier_catalogue": rank_normalise(calibrated["catalogue"]),
            "outlier_why": conditional.explain(feats, med, mad, calibrated, y, classes)}


def place(workspace, vectors: np.ndarray):
    """Put new objects on an analysed workspace's fused map and clusters, without refitting.

    Uses the saved UMAP projector (``transform``) and HDBSCAN clusterer (``approximate_predict``).

    Parameters
    ----------
    workspace : Workspace or path
    vectors : (m, d) array
        Fused embeddings of the new objects (from the same model).

    Returns
    -------
    pandas.DataFrame
        ``umap_x``, ``umap_y``, ``cluster``, ``cluster_prob``.
    """
    import pandas as pd


    ws = _as_ws(workspace)
    folder = ws.artifact("analysis")
    proj_path, cl_path = folder / "umap_fused.joblib", folder / "hdbscan.joblib"
    if not proj_path.exists():
        raise WorkspaceError(f"{proj_path}: no fitted projection; run `astrom3 analyze` first")
    coords = projection.load_projector(proj_path).transform(normalise_rows(vectors))
    clusterer = clustering.load_clusterer(cl_path) if cl_path.exists() else None
    labels, strengths = clustering.predict_clusters(clusterer, coords)
    return pd.DataFrame({"umap_x": coords[:, 0], "umap_y": coords[:, 1], "cluster": labels, "cluster_prob": strengths})
