"""The steps of ``analyze``, each a small function of one shared :class:`Context`.

:func:`core.analysis.engine.analyze` runs :func:`steps` in order with one loop that shows progress
and times each step. A step reads what earlier steps left in ``ctx.data`` (named intermediate
products) and writes results columns into ``ctx.cols``. Adding a step = one function and one
:class:`Step` entry; a new *score* is one entry of :mod:`core.scores` instead (run by the
``scores`` step).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import schema
from core.analysis import clustering, conditional, crossmodal, mislabels, outliers, projection, votes
from core.analysis.embeddings import normalise_rows
from core.analysis.neighbors import knn_report
from core.analysis.scores import rank_normalise
from core.analysis.similarity import build_index

__all__ = ["Context", "Step", "steps"]


@dataclass
class Context:
    """Everything the steps share: inputs, parameters, intermediate products and the results columns."""

    sky: object
    ws: object
    emb: object
    labels: np.ndarray           # object array, None where unlabelled
    classes: list[str]
    y: np.ndarray                # label index, -1 unlabelled
    params: dict
    folder: Path                 # WS/analysis: fitted projectors and clusterer
    cols: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    #: Where partitioned work runs (None: here; "local" or "tcp://HOST:PORT": Dask) and its partition
    #: size; neither changes a result, so neither is a parameter of the analysis.
    scheduler: str | None = None
    partition_size: int | None = None

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def rows(self) -> np.ndarray:
        """Objects with a fused embedding."""
        return np.flatnonzero(self.emb.present[schema.FUSED])

    @property
    def objects(self):
        """The sky's catalogue rows in embedding order (indexed by id), built once per analysis."""
        if "objects" not in self.data:
            self.data["objects"] = self.sky.objects.set_index("id").reindex(self.emb.ids)
        return self.data["objects"]

    @property
    def side(self) -> np.ndarray:
        """Every modality's vectors side by side (built once per analysis; never checkpointed)."""
        if "side" not in self.data:
            self.data["side"] = votes.side_by_side(self.emb.vectors, self.emb.present, self.emb.modalities)
        return self.data["side"]

    @property
    def probs(self) -> np.ndarray:
        """The label-error ensemble's class probabilities (empty columns with fewer than two classes)."""
        return self.data["p"] if self.n_classes >= 2 and "p" in self.data else np.zeros((self.n, 0))


@dataclass(frozen=True)
class Step:
    """One named step of ``analyze``."""

    name: str
    run: Callable[[Context], None]


def _project(space: str | None) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        m = space or schema.FUSED
        r = np.flatnonzero(ctx.emb.present[m])
        xy = np.full((ctx.n, 2), np.nan, dtype=np.float32)
        if len(r):
            coords, proj = projection.fit_projection(ctx.emb.vectors[m][r], sample=ctx.params["umap_sample"],
                                                     seed=ctx.params["seed"])
            xy[r] = coords
            proj.save(ctx.folder / f"umap_{m}.joblib")
        suffix = f"_{space}" if space else ""
        ctx.cols[f"umap_x{suffix}"], ctx.cols[f"umap_y{suffix}"] = xy[:, 0], xy[:, 1]
        if space is None:
            ctx.data["xy"] = xy
    return run


def _clusters(ctx: Context) -> None:
    rows = ctx.rows
    cl = clustering.cluster(ctx.data["xy"][rows], min_cluster_size=ctx.params["min_cluster_size"])
    cluster, cprob, glosh = np.full(ctx.n, -1), np.zeros(ctx.n), np.full(ctx.n, np.nan)
    cluster[rows], cprob[rows], glosh[rows] = cl.labels, cl.probabilities, cl.glosh
    if cl.clusterer is not None:
        clustering.save_clusterer(cl.clusterer, ctx.folder / "hdbscan.joblib")
    ctx.cols["cluster"], ctx.cols["cluster_prob"] = cluster, cprob
    ctx.data["glosh"] = glosh


def _neighbours(ctx: Context) -> None:
    """kNN of the fused and the side-by-side space; how each was made goes to ``ctx.data["knn"]``."""
    emb, rows, k, seed = ctx.emb, ctx.rows, ctx.params["k"], ctx.params["seed"]
    made = ctx.data.setdefault("knn", {})
    ctx.data["idx"], ctx.data["sim"], made[schema.FUSED] = knn_report(emb.vectors[schema.FUSED][rows], k, seed=seed)
    ctx.data["side_idx"], ctx.data["side_sim"], made["side_by_side"] = knn_report(normalise_rows(ctx.side[rows]),
                                                                                  k, seed=seed)


def _class_votes(ctx: Context) -> None:
    probs: dict[str, np.ndarray] = {}
    if ctx.n_classes >= 2:
        f, s = ctx.params["folds"], ctx.params["seed"]
        for m in ctx.emb.modalities:
            probs[m] = votes.oof_probabilities(ctx.emb.vectors[m], ctx.emb.present[m], ctx.y, ctx.n_classes,
                                               folds=f, seed=s)
            ctx.cols[f"vote_{m}"], ctx.cols[f"vote_{m}_prob"] = votes.vote_columns(probs[m], ctx.classes)
        probs["all"] = votes.oof_probabilities(ctx.side, ctx.emb.present[schema.FUSED], ctx.y,
                                               ctx.n_classes, folds=f, seed=s)
    ctx.data["votes"] = probs


def _feature_votes(ctx: Context) -> None:
    """Out-of-fold random-forest class probabilities on hand-made light-curve features (if any)."""
    from core.analysis import baselines

    if ctx.n_classes < 2 or not ctx.sky.has_lightcurves:
        return
    feats = baselines.cached_lightcurve_features(ctx.sky, ctx.ws, ctx.emb.ids, scheduler=ctx.scheduler,
                                                 partition_size=ctx.partition_size)
    if not np.isfinite(feats.to_numpy(dtype=float)).any():
        return
    ctx.data["feature_probs"] = baselines.rf_cleanlab(feats.to_numpy(dtype=float), ctx.y, ctx.n_classes,
                                                      seed=ctx.params["seed"], folds=ctx.params["folds"])[1]


def _mislabels(ctx: Context) -> None:
    n, C, y, emb = ctx.n, ctx.n_classes, ctx.y, ctx.emb
    if C < 2:
        ctx.data["p"] = np.full((n, max(C, 1)), np.nan)
        ctx.cols.update({"mislabel_score": np.full(n, np.nan), "suggested_label": np.full(n, None, dtype=object),
                         "suggested_label_prob": np.full(n, np.nan)})
        return
    has, rows, fused = emb.present[schema.FUSED], ctx.rows, emb.vectors[schema.FUSED]
    knn_p = np.full((n, C), np.nan)
    knn_p[rows] = mislabels.knn_label_probs(ctx.data["side_idx"], ctx.data["side_sim"], y[rows], C)
    cent_p = mislabels.centroid_probabilities(fused, has, y, C)
    clf = ctx.data["votes"]["all"]
    parts = {"classifier": clf, "knn": knn_p, "centroid": cent_p}
    if "feature_probs" in ctx.data:
        parts["features"] = ctx.data["feature_probs"]
    p = mislabels.ensemble_probabilities(parts)
    cent, cent_other = mislabels.centroid_scores(fused, has, y, C)
    details = {"cleanlab": mislabels.confident_learning_scores(clf, y)[0],
               "knn": mislabels.disagreement(knn_p, y), "centroid": cent}
    if "features" in parts:
        details["features"] = mislabels.confident_learning_scores(parts["features"], y)[0]
    mis = mislabels.combine_mislabel_scores(p, y, ctx.classes, details=details)
    mis["mislabel_centroid_class"] = np.array([ctx.classes[c] if c >= 0 else None for c in cent_other], dtype=object)
    ctx.cols.update(mis)
    ctx.data["p"] = p


def _own_class(ctx: Context) -> dict[str, np.ndarray]:
    """The "odd for its own class" detector and its explanation (:mod:`core.analysis.conditional`)."""
    feats = conditional.catalogue_features(ctx.objects)
    C, seed, y, emb = ctx.n_classes, ctx.params["seed"], ctx.y, ctx.emb
    cat, med, mad = conditional.catalogue_class_distance(feats, y, C, seed=seed)
    spaces = {m: conditional.embedding_class_distance(emb.vectors[m], emb.present[m], y, C, seed=seed)
              for m in emb.modalities if m in outliers.OWN_CLASS_WEIGHTS and emb.present[m].any()}
    own, calibrated = conditional.own_class_score(cat, spaces, y, ctx.probs, outliers.OWN_CLASS_WEIGHTS)
    return {"own_class": own, "outlier_catalogue": rank_normalise(calibrated["catalogue"]),
            "outlier_why": conditional.explain(feats, med, mad, calibrated, y, ctx.classes)}


def _outliers(ctx: Context) -> None:
    emb, rows, n = ctx.emb, ctx.rows, ctx.n
    fused = emb.vectors[schema.FUSED]
    knn_fused = np.full(n, np.nan)
    knn_fused[rows] = outliers.knn_distance(ctx.data["sim"])
    k = min(ctx.params["k"], 10)
    knn_mod, made = {}, ctx.data.setdefault("knn", {})
    for m in emb.modalities:
        knn_mod[m], made[f"modality {m}"] = outliers.modality_knn(emb.vectors[m], emb.present[m], k=k,
                                                                  seed=ctx.params["seed"])
    iso = np.full(n, np.nan)
    iso[rows] = outliers.iforest_scores(fused[rows], seed=ctx.params["seed"])
    class_part = outliers.class_distance_score(emb.vectors, emb.present, emb.modalities, ctx.y, ctx.probs)
    own = _own_class(ctx)
    ctx.cols.update(outliers.combine_outlier_scores(knn_fused, knn_mod, iso, ctx.data["glosh"], class_part,
                                                    own_class=own.pop("own_class")))
    ctx.cols.update(own)


def _crossmodal(ctx: Context) -> None:
    p = ctx.data["p"]
    ok = np.isfinite(p).all(axis=1)
    sugg = np.where(ok, np.argmax(np.nan_to_num(p, nan=-1.0), axis=1), -1)
    group = np.where(ctx.y >= 0, ctx.y, sugg)
    probs = {m: v for m, v in ctx.data["votes"].items() if m in ctx.emb.modalities}
    ctx.cols.update(crossmodal.crossmodal_scores(ctx.emb.vectors, ctx.emb.present, ctx.emb.modalities, group, probs))


def _registered(ctx: Context) -> None:
    """The columns of every registered score that brings its own ``compute`` (:mod:`core.scores`)."""
    from core import scores

    todo = [s for s in scores.REGISTRY.values() if s.compute is not None]
    if not todo:
        return
    inputs = scores.ScoreInputs(ids=np.asarray(ctx.emb.ids), labels=ctx.labels, classes=ctx.classes, y=ctx.y,
                                columns=ctx.cols, vectors=ctx.emb.vectors, present=ctx.emb.present,
                                objects=ctx.objects, seed=ctx.params["seed"])
    for s in todo:
        v = np.asarray(s.compute(inputs), dtype=float)
        if v.shape != (ctx.n,):
            raise ValueError(f"score {s.name!r}: compute returned shape {v.shape}, expected ({ctx.n},)")
        ctx.cols[s.name] = v


def _index(ctx: Context) -> None:
    build_index(ctx.ws, ctx.emb, ctx.labels)


def steps(modalities: list[str]) -> list[Step]:
    """The steps of ``analyze`` in order (one projection per modality space)."""
    return ([Step("projection", _project(None))]
            + [Step(f"projection {m}", _project(m)) for m in modalities]
            + [Step("clusters", _clusters), Step("neighbours", _neighbours), Step("class votes", _class_votes),
               Step("light-curve features", _feature_votes), Step("mislabels", _mislabels),
               Step("outliers", _outliers), Step("cross-modal", _crossmodal),
               Step("scores", _registered), Step("index", _index)])
