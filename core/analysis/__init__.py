"""The discovery engine: maps, clusters, outlier / label-error / cross-modal scores, similarity,
subclasses, and evaluation against a simulator's truth.

Public functions::

    analyze(sky, workspace)                  -> WS/results.parquet
    similar(workspace, object_id, k=10, modality="fused", target=None) -> DataFrame
    subclasses(workspace, label="M", sky=None) -> SubclassResult
    evaluate(workspace, truth, sky=None)     -> dict of metrics (ours and the baselines')

Heavy libraries (umap, hdbscan, scikit-learn, cleanlab) are imported inside the functions.
The functions are bound here eagerly because two of them share their module's name
(``subclasses``, ``evaluate``): ``core.analysis.subclasses`` is the function.
"""
from __future__ import annotations

from core.analysis.engine import analyze
from core.analysis.evaluate import evaluate
from core.analysis.similarity import similar
from core.analysis.subclasses import SubclassResult, subclasses

__all__ = ["analyze", "evaluate", "similar", "subclasses", "SubclassResult"]
