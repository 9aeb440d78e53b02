"""How much raters agree: Cohen's and Fleiss' kappa, conflicts, and merging several people's flags."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.flags.common import CURRENT_COLUMNS, KINDS, FlagStoreError, now as _now
from core.flags.formats import STORE_SUFFIXES, infer_format, read_flags_file, write_flags_file

__all__ = ["cohen_kappa", "fleiss_kappa", "MergeReport", "merge_stores"]


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa between two raters' labels of the same items.

    Examples
    --------
    >>> round(cohen_kappa(["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15,
    ...                   ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15), 3)
    0.4
    """
    from sklearn.metrics import cohen_kappa_score

    a, b = list(a), list(b)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("cohen_kappa needs two equally long, non-empty sequences")
    if len(set(a) | set(b)) == 1:
        return 1.0  # both raters gave every item the same one category: chance agreement is 1, kappa 0/0
    return float(cohen_kappa_score(a, b))


def fleiss_kappa(counts) -> float:
    """Fleiss' kappa from an items x categories matrix of rater counts (same number of raters per item)."""
    m = np.asarray(counts, dtype=float)
    n = m.sum(axis=1)
    if m.ndim != 2 or len(m) == 0 or not np.allclose(n, n[0]) or n[0] < 2:
        raise ValueError("fleiss_kappa needs a non-empty items x categories matrix with >= 2 raters on every item")
    n = n[0]
    p_items = (np.sum(m * m, axis=1) - n) / (n * (n - 1))
    p_cat = m.sum(axis=0) / (len(m) * n)
    pbar, pe = p_items.mean(), float(np.sum(p_cat ** 2))
    if pe >= 1.0:
        return 1.0 if pbar >= 1.0 else float("nan")
    return float((pbar - pe) / (1 - pe))


@dataclass
class MergeReport:
    """What :func:`merge_stores` found.

    Attributes
    ----------
    raters : list of str
        The users compared.
    n_objects : int
        Objects flagged by at least one rater (the items agreement is computed on).
    agreement : dict
        Per kind (and ``"overall"``): ``{"statistic": "cohen"|"fleiss", "kappa": float, "n_items": int,
        "n_flagged": int}``; per kind the question is "did the rater flag this object as <kind>?".
    conflicts : pandas.DataFrame
        One row per object where raters disagree (kind or proposed label), with each rater's decision.
    merged : pandas.DataFrame
        Every rater's current decisions together.
    out : pathlib.Path or None
        Where the merged flags were written.
    """

    raters: list
    n_objects: int
    agreement: dict
    conflicts: pd.DataFrame
    merged: pd.DataFrame
    out: Path | None = None
    sources: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"raters": self.raters, "n_objects": self.n_objects, "agreement": self.agreement,
                "conflicts": self.conflicts.to_dict("records"), "out": str(self.out) if self.out else None,
                "sources": self.sources}

    def summary(self) -> str:
        """A short plain-text report."""
        lines = [f"{len(self.raters)} raters ({', '.join(self.raters)}), {self.n_objects} objects flagged"]
        for kind, a in self.agreement.items():
            k = a["kappa"]
            lines.append(f"  {kind:<12} {a['statistic']:<6} kappa={'n/a' if k is None or np.isnan(k) else f'{k:.3f}'}"
                         f"  ({a['n_flagged']} flagged of {a['n_items']})")
        lines.append(f"{len(self.conflicts)} conflicts")
        for r in self.conflicts.head(20).to_dict("records"):
            lines.append("  " + r["id"] + ": " + "; ".join(f"{u}={r[u]}" for u in self.raters if r.get(u)))
        if self.out:
            lines.append(f"merged flags written to {self.out}")
        return "\n".join(lines)


def _decision_text(row) -> str:
    if row is None:
        return ""
    return row["kind"] + (f"->{row['proposed_label']}" if row.get("proposed_label") else "")


def merge_stores(paths_or_files: Iterable, out=None) -> MergeReport:
    """Combine several flag stores or exports and measure how much their raters agree.

    Parameters
    ----------
    paths_or_files : iterable of path-like
        SQLite stores (``.sqlite``/``.db``) or exports (csv, ecsv, xml, json). Raters are users;
        one file may hold several.
    out : path-like, optional
        Write the merged decisions there: a ``.sqlite`` store (created or appended to) or an
        export file.

    Returns
    -------
    MergeReport
        Per kind: Cohen's kappa (2 raters) or Fleiss' kappa (3+) on "flagged as this kind or not"
        over the objects anyone flagged; ``overall`` on the kind itself ("none" when a rater did
        not flag the object). Conflicts list the objects where decisions differ.
    """
    paths = [Path(p) for p in paths_or_files]
    if not paths:
        raise FlagStoreError("merge needs at least one store or export")
    frames = [read_flags_file(p) for p in paths]
    merged = pd.concat([f.reindex(columns=list(dict.fromkeys([*CURRENT_COLUMNS, *f.columns])))
                        for f in frames], ignore_index=True)
    merged = merged.astype(object).where(merged.notna(), None)
    # one decision per (object, user): the latest by time if several sources hold the same user
    merged = merged.sort_values("created", kind="stable").groupby(["id", "user"], sort=False).tail(1)
    merged = merged.sort_values(["id", "user"]).reset_index(drop=True)
    raters = sorted(merged["user"].astype(str).unique())
    objects = sorted(merged["id"].astype(str).unique())
    table = {(r["id"], r["user"]): r for r in merged.to_dict("records")}
    grid = pd.DataFrame([[table.get((o, u), {}).get("kind") or "none" for u in raters] for o in objects],
                        index=objects, columns=raters)
    agreement: dict = {}
    stat = "cohen" if len(raters) == 2 else "fleiss"
    if len(raters) >= 2 and objects:
        for kind in (*KINDS, "overall"):
            if kind == "overall":
                g = grid
                flagged = len(objects)
            else:
                g = grid == kind
                flagged = int(g.any(axis=1).sum())
                if flagged == 0:
                    continue
            if stat == "cohen":
                kappa = cohen_kappa(g.iloc[:, 0].tolist(), g.iloc[:, 1].tolist())
            else:
                cats = sorted({str(v) for v in np.ravel(g.to_numpy())})
                counts = np.stack([(g.astype(str) == c).sum(axis=1).to_numpy() for c in cats], axis=1)
                kappa = fleiss_kappa(counts)
            agreement[kind] = {"statistic": stat, "kappa": None if np.isnan(kappa) else round(float(kappa), 6),
                               "n_items": len(objects), "n_flagged": flagged}
    conflict_rows = []
    for o in objects:
        texts = {u: _decision_text(table.get((o, u))) for u in raters}
        given = {t for t in texts.values() if t}
        if len(given) > 1:  # raters who did not flag the object are not counted as conflicting
            conflict_rows.append({"id": o, **texts})
    conflicts = pd.DataFrame(conflict_rows, columns=["id", *raters])
    out_path = None
    if out is not None:
        out_path = Path(out)
        if out_path.suffix.lower() in STORE_SUFFIXES:
            from core.flags.store import FlagStore
            with FlagStore(out_path) as store:
                store.add_frame(merged[[c for c in CURRENT_COLUMNS if c in merged.columns]], source="merge")
        else:
            write_flags_file(merged, out_path, infer_format(out_path, None),
                             {"merged_from": json.dumps([p.name for p in paths]), "exported": _now()})
    return MergeReport(raters=raters, n_objects=len(objects), agreement=agreement, conflicts=conflicts,
                       merged=merged, out=out_path, sources=[str(p) for p in paths])
