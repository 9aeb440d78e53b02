"""A simulated astronomer: found-per-inspected curves of review orders against a planted truth.

The oracle answers each object it is shown from ``truth.parquet``:

* target ``anomaly``: ``"anomaly"`` where ``anomaly_kind`` is set, else ``"fine"``;
* target ``mislabel``: ``"mislabel"`` with the ``true_label`` where ``is_mislabeled``, else ``"fine"``;
* target ``crossmodal``: ``"crossmatch"`` where ``is_crossmatch_error``, else ``"fine"``.

:func:`oracle_curves` runs N steps of several review orders on the same workspace and counts the
targets found after each inspected object:

* ``learning``: :class:`core.review.ReviewSession` (decisions go to a throw-away flag store);
* ``static``: the target's static score (``outlier_score``, ``mislabel_score``, ``crossmodal_score``);
* ``random``: a seeded random order;
* ``catalogue z-score``: the largest within-class robust z-score of the catalogue columns (the
  astronomer's own first check: an RRAB with a 12-day period is not an RRAB);
* ``AAD (...)`` / ``PineForest (...)``: coniferest's active anomaly discovery run as an oracle
  session on the fused embeddings, on the catalogue columns, or on the session's own features.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import AstroM3Error

__all__ = ["oracle_answer", "oracle_curves", "curves_markdown", "plot_curves", "write_curves", "METHODS"]

#: Review orders :func:`oracle_curves` knows.
METHODS = ("learning", "static", "random", "catalogue z-score", "AAD (fused embedding)",
           "AAD (catalogue)", "AAD (session features)", "PineForest (fused embedding)", "PineForest (catalogue)")


def _truth_frame(truth, ids) -> pd.DataFrame:
    from core.analysis.evaluate import _read_truth

    t = _read_truth(truth).copy()
    t["id"] = t["id"].astype(str)
    return t.set_index("id").reindex(pd.Index(ids).astype(str))


def _positives(t: pd.DataFrame, target: str) -> np.ndarray:
    if target == "anomaly":
        return t["anomaly_kind"].notna().to_numpy() if "anomaly_kind" in t else np.zeros(len(t), bool)
    col = {"mislabel": "is_mislabeled", "crossmodal": "is_crossmatch_error"}[target]
    return t[col].fillna(False).astype(bool).to_numpy() if col in t else np.zeros(len(t), bool)


def oracle_answer(row: pd.Series, target: str, labels=None) -> tuple[str, str | None]:
    """The decision the simulated astronomer gives one object: ``(kind, label)``.

    Parameters
    ----------
    row : pandas.Series
        The object's truth row (``anomaly_kind``, ``is_mislabeled``, ``true_label``, ...).
    target : {'anomaly', 'mislabel', 'crossmodal'}
    labels : collection of str, optional
        Labels the store accepts; a true label outside them is given as no label.
    """
    if target == "anomaly":
        return ("anomaly", None) if pd.notna(row.get("anomaly_kind")) else ("fine", None)
    if target == "mislabel":
        if bool(row.get("is_mislabeled") or False):
            lab = row.get("true_label")
            lab = None if pd.isna(lab) or (labels is not None and str(lab) not in labels) else str(lab)
            return "mislabel", lab
        return "fine", None
    return ("crossmatch", None) if bool(row.get("is_crossmatch_error") or False) else ("fine", None)


def _learning_curve(ws, sky, t, target, n, seed, learn=True, **kw) -> tuple[list, dict]:
    from core.flags import FlagStore
    from core.review import ReviewSession

    with tempfile.TemporaryDirectory(prefix="astrom3-oracle-") as d:
        res_ids = pd.read_parquet(ws.results_path, columns=["id"])["id"].astype(str)
        store = FlagStore(Path(d) / "flags.sqlite", valid_ids=res_ids.tolist())
        s = ReviewSession(ws, sky=sky, target=target, user="oracle", store=store, learn=learn, seed=seed, **kw)
        rows = t.reindex(s.ids)
        times = []
        for _ in range(n):
            oid = s.next()
            if oid is None:
                break
            kind, label = oracle_answer(rows.loc[oid], target, s.classes)
            t0 = time.perf_counter()
            s.decide(oid, kind, label=label)
            s.next()
            times.append(time.perf_counter() - t0)
        found = s.found()
        info = {"step_ms_median": round(1000 * float(np.median(times)), 1) if times else None,
                "step_ms_max": round(1000 * float(np.max(times)), 1) if times else None,
                "moved_weights": {k: round(float(v), 3) for k, v in s.explain(5).items()}}
        store.close()
    return found, info


def _order_curve(score: np.ndarray, pos: np.ndarray, n: int, eligible=None) -> list:
    s = np.where(np.isfinite(score), score, -np.inf)
    if eligible is not None:
        s = np.where(eligible, s, -np.inf)
    order = np.argsort(-s, kind="stable")[:n]
    return np.cumsum(pos[order]).astype(int).tolist()


def _catalogue_z(sky, ids, labels) -> np.ndarray | None:
    from core.review import _catalogue_z as cz

    if sky is None:
        return None
    obj = sky.objects.assign(id=sky.objects["id"].astype(str)).set_index("id").reindex(ids)
    zs = cz(obj, labels)
    if not zs:
        return None
    z = np.max(np.abs(np.column_stack(list(zs.values()))), axis=1)
    return np.where(pd.notna(labels), z, np.nan)


def _catalogue_matrix(sky, ids) -> np.ndarray | None:
    from core.analysis.baselines import catalogue_matrix

    if sky is None:
        return None
    obj = sky.objects.assign(id=sky.objects["id"].astype(str)).set_index("id").reindex(ids)
    cols = [c for c in sky.metadata_columns if c in obj and pd.api.types.is_numeric_dtype(obj[c])
            and c not in ("ra", "dec", "n_obs")]
    if not cols:
        return None
    x = obj[cols].copy()
    if "period" in x:
        x["period"] = np.log10(x["period"].where(x["period"] > 0))
    return catalogue_matrix(x.reset_index(), cols)


def _coniferest_curve(x: np.ndarray, pos: np.ndarray, n: int, model: str, seed: int) -> list:
    from coniferest.aadforest import AADForest
    from coniferest.label import Label
    from coniferest.pineforest import PineForest
    from coniferest.session.oracle import create_oracle_session

    labels = np.where(pos, Label.ANOMALY, Label.REGULAR)
    m = (AADForest(n_trees=128, n_subsamples=256, random_seed=seed, n_jobs=1) if model == "AAD"
         else PineForest(n_trees=128, n_spare_trees=512, random_seed=seed, n_jobs=1))
    s = create_oracle_session(np.ascontiguousarray(x, dtype=np.float64), labels, model=m, max_iterations=n).run()
    seen = list(s.known_labels.values())
    return np.cumsum([v == Label.ANOMALY for v in seen]).astype(int).tolist()


def _space_matrix(space: str, ws, sky, res, ids, target, seed, cache: dict):
    """Features a coniferest method runs on (``space`` of its name); None when unavailable.

    ``cache`` keeps what was built for the next method of the same run.
    """
    from core import schema
    from core.analysis.embeddings import load_embeddings

    if space == "fused embedding":
        if cache.get("fused") is None and ws.embeddings_path.exists():
            cache["fused"] = load_embeddings(ws.embeddings_path, ids=ids).vectors[schema.FUSED]
        return cache.get("fused")
    if space == "catalogue":
        if cache.get("cat") is None:
            cache["cat"] = _catalogue_matrix(sky, ids)
        return cache["cat"]
    if cache.get("feats") is None:
        from core.review import ReviewSession  # noqa: F401  (features as the session builds them)
        from core.review import review_features
        obj = None if sky is None else sky.objects.assign(
            id=sky.objects["id"].astype(str)).set_index("id").reindex(ids)
        fz = load_embeddings(ws.embeddings_path, ids=ids).vectors[schema.FUSED] \
            if ws.embeddings_path.exists() else None
        cache["feats"] = review_features(res.assign(id=ids), target, objects=obj, fused=fz, seed=seed)[0]
    return cache["feats"]


def _method_curve(m: str, ws, sky, res, ids, labels, target, pos, n, eligible, seed, cache: dict):
    """Found-per-inspected curve of one non-learning method of :data:`METHODS`; None when it cannot run."""
    from core.review import TARGETS

    if m == "static":
        return _order_curve(res[TARGETS[target].prior].to_numpy(float), pos, n, eligible)
    if m == "random":
        return _order_curve(np.random.default_rng(seed).random(len(ids)), pos, n, eligible)
    if m == "catalogue z-score":
        z = _catalogue_z(sky, ids, labels)
        return None if z is None else _order_curve(z, pos, n, eligible)
    model, space = m.split(" (")[0], m.split(" (")[1].rstrip(")")
    x = _space_matrix(space, ws, sky, res, ids, target, seed, cache)
    return None if x is None else _coniferest_curve(x, pos, n, model, seed)


def oracle_curves(workspace, truth, *, sky=None, target: str = "anomaly", n: int = 100,
                  methods=METHODS, seed: int = 0, session_options: dict | None = None) -> dict:
    """Found-per-inspected curves of several review orders, answered by the simulated astronomer.

    Parameters
    ----------
    workspace : Workspace or path
    truth : path or DataFrame
        ``truth.parquet`` (or the sky directory holding it).
    sky : Sky or path, optional
        Needed for the catalogue methods and the catalogue features of ``learning``.
    target : {'anomaly', 'mislabel', 'crossmodal'}
    n : int
        Objects inspected per method.
    methods : sequence of str
        A subset of :data:`METHODS` (unavailable ones are skipped and listed in ``skipped``).
    session_options : dict, optional
        Passed to :class:`core.review.ReviewSession` for ``learning``.

    Returns
    -------
    dict
        ``curves`` (method -> cumulative found per inspected), ``seconds`` per method,
        ``n_positive``, ``n_objects``, ``learning_info`` and the conditions.
    """
    from core.review import TARGETS
    from core.sky import Sky, open_sky
    from core.workspace import Workspace

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    if not ws.results_path.exists():
        raise AstroM3Error(f"{ws.results_path}: no results; run `astrom3 run` first")
    if sky is not None and not isinstance(sky, Sky):
        sky = open_sky(sky)
    res = pd.read_parquet(ws.results_path)
    ids = res["id"].astype(str).to_numpy()
    labels = res["label"].to_numpy(dtype=object)
    t = _truth_frame(truth, ids)
    pos = _positives(t, target)
    eligible = pd.notna(labels) if TARGETS[target].labelled_only else None
    curves, seconds, skipped, info, cache = {}, {}, [], {}, {}
    for m in methods:
        t0 = time.perf_counter()
        if m == "learning":
            curves[m], info = _learning_curve(ws, sky, t, target, n, seed, **(session_options or {}))
        else:
            c = _method_curve(m, ws, sky, res, ids, labels, target, pos, n, eligible, seed, cache)
            if c is None:
                skipped.append(m)
                continue
            curves[m] = c
        seconds[m] = round(time.perf_counter() - t0, 1)
    return {"workspace": str(ws.path), "sky": None if sky is None else str(sky.path), "target": target,
            "n": int(n), "n_objects": int(len(ids)), "n_positive": int(pos.sum()),
            "n_eligible": int(len(ids) if eligible is None else eligible.sum()), "curves": curves,
            "seconds": seconds, "skipped": skipped, "learning_info": info, "seed": seed,
            "conditions": _conditions()}


def _conditions() -> dict:
    import importlib.metadata as md

    vers = {}
    for p in ("numpy", "pandas", "scipy", "scikit-learn", "coniferest"):
        try:
            vers[p] = md.version(p)
        except md.PackageNotFoundError:
            vers[p] = None
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "load_average": [round(v, 2) for v in os.getloadavg()], "versions": vers}


def _at(curve: list, k: int):
    return curve[k - 1] if len(curve) >= k else (curve[-1] if curve else 0)


def curves_markdown(report: dict, marks=(10, 20, 50, 100, 200)) -> str:
    """A table: found after k inspected, per method."""
    marks = [k for k in marks if k <= report["n"]] or [report["n"]]
    lines = [f"Target `{report['target']}` on `{report['workspace']}`: {report['n_positive']} to find among "
             f"{report['n_eligible']} objects; found after k inspected:", "",
             "| method | " + " | ".join(f"@{k}" for k in marks) + " | seconds |",
             "|---|" + "---|" * (len(marks) + 1)]
    for m, c in report["curves"].items():
        lines.append(f"| {m} | " + " | ".join(str(_at(c, k)) for k in marks) + f" | {report['seconds'].get(m)} |")
    return "\n".join(lines)


def plot_curves(report: dict, path) -> Path:
    """Found-per-inspected curves as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for m, c in report["curves"].items():
        ax.plot(np.arange(1, len(c) + 1), c, label=m, lw=2.2 if m == "learning" else 1.2)
    ax.set_xlabel("objects inspected")
    ax.set_ylabel(f"{report['target']} found")
    ax.set_title(f"{Path(report['workspace']).name}: {report['target']} ({report['n_positive']} planted)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_curves(report: dict, out) -> tuple[Path, Path, Path]:
    """Write ``OUT.md``, ``OUT.json`` and ``OUT.png``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    md, js, png = out.with_suffix(".md"), out.with_suffix(".json"), out.with_suffix(".png")
    md.write_text("# Found per inspected (simulated astronomer)\n\n" + curves_markdown(report) + "\n")
    js.write_text(json.dumps(report, indent=1, default=str) + "\n")
    plot_curves(report, png)
    return md, js, png
