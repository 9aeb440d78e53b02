"""The one registry of score columns: adding a score is one :class:`Score` entry here.

``analyze`` computes every registered score from the step's inputs and writes its column,
``evaluate`` measures every score against the planted truth it names, and the explorer's filters,
colour-by, table columns, "why flagged" panel and review-queue options list :func:`headline`
scores (the ones a user ranks by) from here.

A score's ``compute`` receives a :class:`ScoreInputs` (everything ``analyze`` knows at the end:
the other columns computed so far, the embeddings, labels, the sky's catalogue) and returns the
column (``(n,)`` floats in ``range``, higher = more suspicious). Built-in scores are computed by
the analysis steps themselves and have ``compute=None``.

Examples
--------
>>> import numpy as np
>>> from core import scores
>>> scores.register(scores.Score("period_oddness", "how odd the period is", target="anomalies",
...     compute=lambda inp: np.zeros(inp.n)))                # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Score", "ScoreInputs", "REGISTRY", "register", "unregister", "get", "headline", "parts_of", "load_plugins",
           "TARGETS"]

#: What a score can be measured against in a truth table (see :mod:`core.analysis.evaluate`).
TARGETS = ("label_errors", "anomalies", "crossmatch")


@dataclass
class ScoreInputs:
    """What a score's ``compute`` may read (all arrays in results-row order)."""

    ids: np.ndarray
    labels: np.ndarray            # object array, None where unlabelled
    classes: list[str]
    y: np.ndarray                 # label index, -1 where unlabelled
    columns: dict                 # results columns computed so far (name -> array)
    vectors: dict                 # embedding space -> (n, d) array
    present: dict                 # embedding space -> (n,) bool
    objects: object = None        # sky.objects aligned to ids (pandas), or None
    seed: int = 0

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Score:
    """One score column of ``results.parquet``.

    Parameters
    ----------
    name : str
        The column.
    description : str
        One line, shown as the column's tooltip and in the docs.
    target : str or None
        The truth it is measured against in ``evaluate`` (one of :data:`TARGETS`), or None.
    headline : bool
        A score users rank and filter by (table column, colour-by, review queue); else a detail part.
    part_of : str or None
        The headline score this is a part of (evaluate lists it under that score).
    step : str
        The analysis step that produces it (``analyze`` runs ``compute`` after that step).
    compute : callable or None
        ``compute(ScoreInputs) -> (n,) array``; None for the scores the built-in steps write.
    range : tuple
        Display range (filters, colour scales).
    label : str
        Short display name.
    """

    name: str
    description: str
    target: str | None = None
    headline: bool = False
    part_of: str | None = None
    step: str = "scores"
    compute: Callable | None = field(default=None, compare=False)
    range: tuple[float, float] = (0.0, 1.0)
    label: str = ""

    @property
    def display(self) -> str:
        return self.label or self.name.replace("_", " ")


def _builtin() -> list[Score]:
    S = Score
    return [
        S("mislabel_score", "how likely the given label is wrong (class votes, kNN, centroids; cleanlab)",
          "label_errors", headline=True, step="mislabels", label="mislabel"),
        S("outlier_score", "how little the object fits any class, or its own class (Fisher combination)",
          "anomalies", headline=True, step="outliers", label="outlier"),
        S("crossmodal_score", "how much its light curve, spectrum and metadata disagree",
          "crossmatch", headline=True, step="cross-modal", label="cross-modal"),
        S("mislabel_cleanlab", "confident learning on the out-of-fold class probabilities",
          "label_errors", part_of="mislabel_score", step="mislabels"),
        S("mislabel_knn", "neighbours' labels disagree with its own", "label_errors",
          part_of="mislabel_score", step="mislabels"),
        S("mislabel_centroid", "AstroM3's centroid distance (the paper's method)", "label_errors",
          part_of="mislabel_score", step="mislabels"),
        S("mislabel_features", "confident learning on a random forest over light-curve features", "label_errors",
          part_of="mislabel_score", step="mislabels"),
        S("outlier_own_class", "odd for the label it carries: robust distance to its own class "
          "(catalogue columns and embeddings)", "anomalies", part_of="outlier_score", step="outliers"),
        S("outlier_catalogue", "odd catalogue columns for its class (period, amplitude, colours; MCD)",
          "anomalies", part_of="outlier_score", step="outliers"),
        S("outlier_class", "far from every class in the embedding spaces", "anomalies",
          part_of="outlier_score", step="outliers"),
        S("outlier_glosh", "HDBSCAN GLOSH on the map", "anomalies", part_of="outlier_score", step="outliers"),
        S("outlier_knn", "mean distance to its nearest neighbours", "anomalies", part_of="outlier_score",
          step="outliers"),
        S("outlier_iforest", "isolation forest on the fused embeddings", "anomalies",
          part_of="outlier_score", step="outliers"),
        S("crossmodal_pair", "pairwise modality embeddings disagree", "crossmatch",
          part_of="crossmodal_score", step="cross-modal"),
        S("crossmodal_votes", "per-modality class votes disagree", "crossmatch",
          part_of="crossmodal_score", step="cross-modal"),
    ]


#: name -> Score, in display order.
REGISTRY: dict[str, Score] = {s.name: s for s in _builtin()}


def register(score: Score) -> Score:
    """Add (or replace) a score; it appears in results, evaluate and the explorer from then on."""
    if score.target is not None and score.target not in TARGETS:
        raise ValueError(f"score {score.name!r}: target must be one of {TARGETS}, not {score.target!r}")
    REGISTRY[score.name] = score
    return score


def unregister(name: str) -> None:
    """Remove a score (tests and plugins that add one temporarily)."""
    REGISTRY.pop(name, None)


def get(name: str) -> Score:
    return REGISTRY[name]


def headline() -> tuple[str, ...]:
    """The scores users rank by (table, colour-by, filters, review queue), in display order."""
    return tuple(s.name for s in REGISTRY.values() if s.headline)


def parts_of(name: str) -> tuple[str, ...]:
    """The detail scores that make up one headline score."""
    return tuple(s.name for s in REGISTRY.values() if s.part_of == name)


def load_plugins(names: str | None = None) -> list[str]:
    """Import the modules named in ``ASTROM3_PLUGINS`` (comma-separated), which register their scores.

    Called when this module is imported, so ``astrom3 analyze`` and ``astrom3 serve`` see the same
    scores as the script that registered them. Returns the names imported.
    """
    import importlib
    import os

    names = os.environ.get("ASTROM3_PLUGINS", "") if names is None else names
    loaded = []
    for name in (n.strip() for n in names.split(",")):
        if name:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                raise ImportError(f"ASTROM3_PLUGINS: cannot import {name!r}: {exc}") from exc
            loaded.append(name)
    return loaded


load_plugins()
