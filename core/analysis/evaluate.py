"""Measuring the discovery scores against what a simulator planted (``truth.parquet``).

For each planted kind, our scores and the baselines' (:mod:`core.analysis.baselines`):

* label errors (labelled objects only): average precision, precision at 50/100/500, recall in the
  top 2 % of the score, and the share of the errors found there whose suggested label is the true
  one;
* anomalies (``anomaly_kind`` not null) and cross-match errors (``is_crossmatch_error``): AUROC and
  average precision of ``outlier_score`` / ``crossmodal_score`` (a missing score counts as least
  suspicious);
* subclasses: adjusted Rand index of :func:`core.analysis.subclasses` against the planted
  ``subclass`` over the objects labelled with that class whose truth has a subclass.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core import schema
from core.errors import AstroM3Error
from core.workspace import Workspace

__all__ = ["evaluate", "label_error_metrics", "detection_metrics", "to_markdown", "write_report",
           "SUBCLASS_LABELS"]

#: Classes whose planted subgroups are scored, when present.
SUBCLASS_LABELS: tuple[str, ...] = ("M", "ROT")


def detection_metrics(y_true, score) -> dict:
    """AUROC and average precision (missing scores count as least suspicious)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y_true, bool)
    s = np.asarray(score, float)
    ok = np.isfinite(s)
    s = np.where(ok, s, (s[ok].min() - 1.0) if ok.any() else 0.0)
    if y.all() or not y.any():
        return {"n_positive": int(y.sum()), "auroc": None, "ap": None}
    order = np.argsort(-s, kind="stable")
    return {"n_positive": int(y.sum()), "auroc": float(roc_auc_score(y, s)),
            "ap": float(average_precision_score(y, s)), "base_rate": float(y.mean()),
            "found_top_100": int(y[order[:100]].sum()), "found_top_500": int(y[order[:500]].sum())}


def label_error_metrics(is_error, score, suggested=None, true_label=None, *, top_share: float = 0.02) -> dict:
    """Ranking metrics of a label-error score over labelled objects.

    Parameters
    ----------
    is_error : bool array
    score : float array (higher = more suspicious; NaN = least)
    suggested, true_label : arrays, optional
        For the share of found errors whose suggestion is right.
    """
    y = np.asarray(is_error, bool)
    s = np.asarray(score, float)
    s = np.where(np.isfinite(s), s, -np.inf)
    out = detection_metrics(y, np.where(np.isfinite(s), s, np.nan))
    order = np.argsort(-s, kind="stable")
    for k in (50, 100, 500):
        out[f"precision_at_{k}"] = float(y[order[:k]].mean()) if len(y) >= k else None
    top = order[:max(1, int(round(top_share * len(y))))]
    out["top_share"] = top_share
    out["recall_at_top"] = float(y[top].sum() / max(y.sum(), 1))
    found = top[y[top]]
    if suggested is not None and true_label is not None and len(found):
        sug = np.asarray(suggested, dtype=object)[found]
        tru = np.asarray(true_label, dtype=object)[found]
        out["suggestion_correct"] = float(np.mean(sug == tru))
    else:
        out["suggestion_correct"] = None
    return out


def _read_truth(truth) -> pd.DataFrame:
    if isinstance(truth, pd.DataFrame):
        return truth
    p = Path(truth)
    if p.is_dir():
        p = p / schema.TRUTH_FILE
    if not p.exists():
        raise AstroM3Error(f"{p}: truth table not found (only simulated skies have one)")
    t = pd.read_parquet(p)
    if "id" not in t.columns:
        raise AstroM3Error(f"{p}: no 'id' column; expected the simulator's truth.parquet ({list(schema.TRUTH_COLUMNS)})")
    return t


def evaluate(workspace, truth, *, sky=None, baselines: bool = True, seed: int = 0,
             subclass_labels: tuple[str, ...] = SUBCLASS_LABELS) -> dict:
    """Score a workspace's results against a truth table, beside the baselines.

    Parameters
    ----------
    workspace : Workspace or path
        With ``results.parquet`` (and ``embeddings.parquet`` for the subclass metric).
    truth : path or DataFrame
        ``truth.parquet`` (or the sky directory holding it).
    sky : Sky or path, optional
        Needed for the baselines (catalogue columns, light curves); without it only our scores
        are measured.
    baselines : bool
        Compute the baselines (light-curve features take a few minutes on 20k objects; they are
        cached in ``WS/baselines/``).
    seed : int

    Returns
    -------
    dict
        ``label_errors``, ``anomalies``, ``crossmatch``, ``subclasses``: method -> metrics.
    """
    from core.analysis.subclasses import subclasses as find_subclasses
    from core.sky import Sky, open_sky

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    if not ws.results_path.exists():
        raise AstroM3Error(f"{ws.results_path}: no results; run `astrom3 analyze` first")
    res = pd.read_parquet(ws.results_path)
    t = _read_truth(truth).copy()
    t["id"] = t["id"].astype(str)
    t = t.set_index("id").reindex(res["id"].astype(str))
    missing = t["true_label"].isna().sum() if "true_label" in t else len(t)
    if missing == len(t):
        raise AstroM3Error("the truth table shares no ids with the results; is it the same sky?")
    if sky is not None and not isinstance(sky, Sky):
        sky = open_sky(sky)
    started = time.perf_counter()
    labelled = res["label"].notna().to_numpy()
    report: dict = {"workspace": str(ws.path), "n_objects": int(len(res)), "n_labelled": int(labelled.sum()),
                    "label_errors": {}, "anomalies": {}, "crossmatch": {}, "subclasses": {}}
    is_err = t["is_mislabeled"].fillna(False).astype(bool).to_numpy()[labelled]
    true_label = t["true_label"].to_numpy(dtype=object)[labelled]
    anom = t["anomaly_kind"].notna().to_numpy() if "anomaly_kind" in t else np.zeros(len(t), bool)
    xm = t["is_crossmatch_error"].fillna(False).astype(bool).to_numpy() if "is_crossmatch_error" in t else np.zeros(len(t), bool)
    truths = {"label_errors": is_err, "anomalies": anom, "crossmatch": xm}
    for score in registered_scores(res):
        section = report[score.target]
        name = _method_name(score)
        if score.target == "label_errors":
            sug = res.get("suggested_label" if score.headline else f"{score.name}_class")
            section[name] = label_error_metrics(is_err, res[score.name].to_numpy()[labelled],
                                                None if sug is None else sug.to_numpy(dtype=object)[labelled],
                                                true_label)
        else:
            section[name] = detection_metrics(truths[score.target], res[score.name])
    if anom.any():
        kind = t["anomaly_kind"].to_numpy(dtype=object)
        report["anomalies"]["by_kind"] = {
            str(k): detection_metrics((kind == k)[~anom | (kind == k)], res["outlier_score"].to_numpy()[~anom | (kind == k)])
            for k in sorted(t["anomaly_kind"].dropna().unique())}
    report["crossmatch"]["ours: outlier_score"] = detection_metrics(xm, res["outlier_score"])

    if sky is not None and baselines:
        _baselines(report, ws, sky, res, t, labelled, is_err, true_label, anom, xm, seed)

    if "subclass" in t:
        for label in subclass_labels:
            in_truth = (res["label"].to_numpy(dtype=object) == label) & t["subclass"].notna().to_numpy()
            if in_truth.sum() < 10:
                continue
            report["subclasses"][label] = _subclass_metrics(ws, sky, label, res, t, seed, find_subclasses, baselines)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def registered_scores(results: pd.DataFrame) -> list:
    """The registry's scores that have a truth target and a column in ``results``, headline ones first."""
    from core import scores

    present = [s for s in scores.REGISTRY.values() if s.target is not None and s.name in results]
    return sorted(present, key=lambda s: not s.headline)


def _method_name(score) -> str:
    """How a score is named in the report: "ours" for a headline score, else "ours: <name> only"."""
    if score.headline:
        return "ours"
    if score.name == "mislabel_centroid":
        return "AstroM3 centroid distance (paper)"
    return f"ours: {score.name.split('_', 1)[-1].replace('_', ' ')} only"


def _subclass_metrics(ws, sky, label, res, t, seed, find_subclasses, baselines) -> dict:
    from sklearn.metrics import adjusted_rand_score

    out = {}
    sub = find_subclasses(ws, label, sky=None, seed=seed)
    a = sub.assignments.set_index("id")
    truth_sub = t["subclass"].reindex(a.index)
    keep = truth_sub.notna().to_numpy()
    out["ours"] = {"ari": float(adjusted_rand_score(truth_sub[keep].astype(str), a["subgroup"].to_numpy()[keep])),
                   "n_objects": int(keep.sum()), "n_subgroups": int(sub.n_subgroups),
                   "n_true_subgroups": int(truth_sub[keep].nunique())}
    if sky is not None and baselines:
        from core.analysis.baselines import kmeans_catalogue

        objects = sky.objects.set_index("id").reindex(a.index)
        cols = [c for c in sky.metadata_columns if c in objects.columns]
        if cols:
            g = kmeans_catalogue(objects.reset_index(), cols, seed=seed)
            out["gaussian mixture on catalogue"] = {
                "ari": float(adjusted_rand_score(truth_sub[keep].astype(str), g[keep])),
                "n_subgroups": int(len(np.unique(g)))}
    return out


def _baselines(report, ws, sky, res, t, labelled, is_err, true_label, anom, xm, seed) -> None:
    from core.analysis import baselines as bl

    objects = sky.objects.set_index("id").reindex(res["id"].astype(str)).reset_index()
    cols = [c for c in sky.metadata_columns if c in objects.columns]
    if cols:
        iso = bl.iforest_catalogue(objects, cols, seed=seed)
        report["anomalies"]["isolation forest on catalogue"] = detection_metrics(anom, iso)
        report["crossmatch"]["isolation forest on catalogue"] = detection_metrics(xm, iso)
    labels = res["label"].to_numpy(dtype=object)
    z = bl.within_class_zscore(objects, labels)
    if np.isfinite(z).any():
        report["anomalies"]["within-class catalogue z-score"] = detection_metrics(anom, z)
    if cols and labelled.sum() > 20:
        classes = sorted(set(res["label"].dropna()))
        y = np.array([classes.index(v) if isinstance(v, str) and v in classes else -1 for v in labels])
        score, probs = bl.rf_cleanlab(bl.catalogue_matrix(objects, cols), y, len(classes), seed=seed)
        sug = np.array([classes[i] for i in np.argmax(np.nan_to_num(probs, nan=-1), axis=1)], dtype=object)
        report["label_errors"]["random-forest self-confidence on catalogue columns"] = label_error_metrics(
            is_err, score[labelled], sug[labelled], true_label)
    if sky.has_lightcurves and labelled.sum() > 20:
        feats = bl.cached_lightcurve_features(sky, ws, res["id"].astype(str).tolist())
        feats = feats.reindex(res["id"].astype(str))
        classes = sorted(set(res["label"].dropna()))
        y = np.array([classes.index(v) if isinstance(v, str) and v in classes else -1
                      for v in res["label"].to_numpy(dtype=object)])
        score, probs = bl.rf_cleanlab(feats.to_numpy(dtype=float), y, len(classes), seed=seed)
        sug = np.array([classes[i] for i in np.argmax(np.nan_to_num(probs, nan=-1), axis=1)], dtype=object)
        report["label_errors"]["cleanlab + random forest on light-curve features"] = label_error_metrics(
            is_err, score[labelled], sug[labelled], true_label)
        report["label_errors"]["cleanlab + random forest on light-curve features"]["oof_accuracy"] = float(
            np.mean(sug[labelled] == res["label"].to_numpy(dtype=object)[labelled]))


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def to_markdown(report: dict, *, title: str = "Discovery scores against the planted truth", notes: str = "") -> str:
    """The report as Markdown tables."""
    lines = [f"# {title}", ""]
    if notes:
        lines += [notes, ""]
    lines += [f"Workspace `{report['workspace']}`: {report['n_objects']} objects, {report['n_labelled']} labelled.", ""]
    lines += ["## Label errors (labelled objects)", "",
              "| method | AP | P@50 | P@100 | P@500 | recall @ top 2% | suggestion correct | AUROC |",
              "|---|---|---|---|---|---|---|---|"]
    for name, m in report["label_errors"].items():
        lines.append(f"| {name} | {_fmt(m.get('ap'))} | {_fmt(m.get('precision_at_50'))} | "
                     f"{_fmt(m.get('precision_at_100'))} | {_fmt(m.get('precision_at_500'))} | "
                     f"{_fmt(m.get('recall_at_top'))} | {_fmt(m.get('suggestion_correct'))} | {_fmt(m.get('auroc'))} |")
    first = next(iter(report["label_errors"].values()), {})
    lines += ["", f"Planted label errors: {first.get('n_positive', 0)}.", ""]
    for key, title_ in (("anomalies", "Anomalies (`outlier_score`)"), ("crossmatch", "Cross-match errors (`crossmodal_score`)")):
        lines += [f"## {title_}", "", "| method | AUROC | AP | found in top 100 | top 500 | positives |",
                  "|---|---|---|---|---|---|"]
        for name, m in report[key].items():
            if name == "by_kind":
                continue
            lines.append(f"| {name} | {_fmt(m.get('auroc'))} | {_fmt(m.get('ap'))} | {_fmt(m.get('found_top_100'))} | "
                         f"{_fmt(m.get('found_top_500'))} | {m.get('n_positive')} |")
        if key == "anomalies" and report[key].get("by_kind"):
            lines += ["", "By planted kind (ours, each kind against all non-anomalies):", "",
                      "| kind | AUROC | AP | n |", "|---|---|---|---|"]
            for kind, m in report[key]["by_kind"].items():
                lines.append(f"| {kind} | {_fmt(m.get('auroc'))} | {_fmt(m.get('ap'))} | {m.get('n_positive')} |")
        lines.append("")
    if report["subclasses"]:
        lines += ["## Subclasses (adjusted Rand index)", "", "| class | method | ARI | subgroups found |",
                  "|---|---|---|---|"]
        for label, methods in report["subclasses"].items():
            for name, m in methods.items():
                lines.append(f"| {label} | {name} | {_fmt(m.get('ari'))} | {m.get('n_subgroups')} |")
        lines.append("")
    return "\n".join(lines)


def write_report(report: dict, out: str | os.PathLike, *, notes: str = "") -> tuple[Path, Path]:
    """Write ``OUT.md`` and ``OUT.json``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    md, js = out.with_suffix(".md"), out.with_suffix(".json")
    md.write_text(to_markdown(report, notes=notes) + "\n")
    js.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return md, js
