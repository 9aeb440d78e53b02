"""``analyze``: embeddings -> results.parquet (projection, clusters, and every score).

The steps (:mod:`core.analysis.steps`, run by one loop that shows progress and times each, all
seeded): UMAP of the fused space and of each modality, HDBSCAN + GLOSH on the fused map, kNN (exact
up to ``neighbors.EXACT_MAX_ROWS`` objects, a seeded approximate graph above; the results metadata's
``knn`` says which, per space, with the approximate one's measured recall),
out-of-fold class votes per space, label-error scores, outlier scores, cross-modal scores, the
registered scores with their own ``compute`` (:mod:`core.scores`), the similarity index; then
``results.parquet`` recorded in the workspace manifest with the fingerprints of its inputs; a rerun
with the same inputs is a no-op. Each finished step is saved (:mod:`core.analysis.checkpoints`), so a
run that was interrupted (Ctrl-C, SIGTERM, a lost machine) resumes after its last finished step.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import schema
from core.analysis import clustering, crossmodal, mislabels, outliers, projection
from core.analysis.checkpoints import StepCheckpoints, clear_checkpoints
from core.analysis.embeddings import load_embeddings, normalise_rows
from core.analysis.results import assemble_results, write_results
from core.analysis.similarity import INDEX_DIR
from core.analysis.steps import Context, Step, steps
from core.errors import WorkspaceError
from core.progress import progress
from core.sky import Sky, open_sky
from core.workspace import Workspace

__all__ = ["analyze", "place", "ANALYSIS_VERSION", "analysis_inputs", "analysis_is_fresh"]

#: Bumped when the scoring changes, so old results are recomputed.
ANALYSIS_VERSION = 5

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
            progress_callback: ProgressCallback | None = None, scheduler: str | None = None,
            partition_size: int | None = None) -> Path:
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
        Recompute even if results are fresh, and redo the steps an interrupted run had finished.
    progress_callback : callable, optional
        ``callback(step_name, fraction_done)`` after each step (for dashboards).
    scheduler : None, "local" or "tcp://HOST:PORT"
        Run the partitioned steps (the light-curve features) as dask.distributed tasks
        (:mod:`core.parallel`); the results are the same.
    partition_size : int, optional
        Objects per partition of those steps (default 50,000).

    Returns
    -------
    Path of ``results.parquet``.

    Examples
    --------
    >>> from core.analysis import analyze
    >>> analyze("demo/sky", "demo/ws")          # doctest: +SKIP
    """
    from core.parallel import check_partition_size, check_scheduler

    check_scheduler(scheduler)
    if partition_size is not None:
        check_partition_size(partition_size)
    sky, ws = _as_sky(sky), _as_ws(workspace)
    params = _params(umap_sample, seed, min_cluster_size, k, folds)
    inputs = analysis_inputs(sky, ws, params)
    if not force and analysis_is_fresh(sky, ws, **params):
        clear_checkpoints(ws.artifact("analysis"))    # left by an interrupted run of other inputs
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
    folder = ws.artifact("analysis")
    folder.mkdir(exist_ok=True)
    ctx = Context(sky, ws, emb, labels, classes, y, params, folder, scheduler=scheduler,
                  partition_size=partition_size)
    checkpoints = StepCheckpoints(folder, inputs, watch=[ws.artifact(INDEX_DIR), ws.artifact("baselines")])
    if force:
        checkpoints.clear()
    timings, resumed = _run_steps(ctx, steps(emb.modalities), checkpoints, progress_callback)
    for s in emb.spaces:
        ctx.cols[f"has_{s}"] = emb.present[s]
    df = assemble_results(emb.ids, labels, ctx.cols)
    meta = {**inputs, "classes": classes, "embeddings_meta": emb.fingerprint, "timings": timings,
            "resumed_steps": resumed,
            "knn": ctx.data.get("knn", {}),
            "weights": {"outlier": outliers.WEIGHTS, "outlier_own_class": outliers.OWN_CLASS_WEIGHTS,
                        "mislabel": mislabels.WEIGHTS, "crossmodal": crossmodal.WEIGHTS}}
    write_results(df, ws.results_path, meta)
    ws.record(schema.RESULTS_FILE, inputs)
    checkpoints.clear()
    return ws.results_path


def _run_steps(ctx: Context, todo: list[Step], checkpoints: StepCheckpoints,
               progress_callback: ProgressCallback | None) -> tuple[dict[str, float], list[str]]:
    """Run the steps in order with one progress bar, each saved as it finishes. The leading steps an
    interrupted run with the same inputs finished are loaded instead (up to the first one missing; every
    step after it runs). Returns the seconds each took (then, for a loaded one) and the loaded ones' names."""
    timings: dict[str, float] = {}
    resumed: list[str] = []
    bar = progress(total=len(todo), desc="analyze", unit="step")
    with bar, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # empty-slice means of objects lacking a view
        for i, step in enumerate(todo, 1):
            saved = checkpoints.load(i, step.name, ctx) if len(resumed) == i - 1 else None
            if saved is not None:
                timings[step.name] = saved
                resumed.append(step.name)
            else:
                t, before = time.perf_counter(), checkpoints.before(ctx)
                step.run(ctx)
                timings[step.name] = time.perf_counter() - t
                checkpoints.save(i, step.name, ctx, before, timings[step.name])
            bar.set_postfix_str(step.name)
            bar.update(1)
            if progress_callback:
                progress_callback(step.name, i / len(todo))
    return timings, resumed


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
