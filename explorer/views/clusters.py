"""Clusters: the label composition of each HDBSCAN cluster; a row click selects the cluster."""
from __future__ import annotations

import holoviews as hv
import pandas as pd
import panel as pn
import param

from explorer.state import ExplorerState

__all__ = ["cluster_composition", "composition_bars", "ClustersView"]


def cluster_composition(results: pd.DataFrame) -> pd.DataFrame:
    """One row per cluster: size, majority label, purity and the composition as text.

    Noise (cluster ``-1``) is kept as its own row. Unlabelled objects count as ``(none)``.
    """
    lab = results["label"].astype(object).where(results["label"].notna(), "(none)").astype(str)
    ct = pd.crosstab(results["cluster"].astype(int), lab)
    frac = ct.div(ct.sum(axis=1), axis=0)
    rows = []
    for c in ct.index:
        f = frac.loc[c].sort_values(ascending=False)
        f = f[f > 0]
        rows.append({"cluster": int(c), "size": int(ct.loc[c].sum()), "majority": f.index[0],
                     "purity": float(f.iloc[0]),
                     "composition": ", ".join(f"{k} {v:.0%}" for k, v in f.head(4).items())})
    return pd.DataFrame(rows).sort_values(["purity", "size"], ascending=[True, False]).reset_index(drop=True)


def composition_bars(results: pd.DataFrame, max_clusters: int = 40) -> hv.Bars:
    """Stacked bars: fraction of each label per cluster (largest clusters first)."""
    lab = results["label"].astype(object).where(results["label"].notna(), "(none)").astype(str)
    ct = pd.crosstab(results["cluster"].astype(int), lab)
    ct = ct.loc[ct.sum(axis=1).sort_values(ascending=False).index[:max_clusters]]
    frac = ct.div(ct.sum(axis=1), axis=0)
    long = frac.stack().rename("fraction").reset_index()
    long.columns = ["cluster", "label", "fraction"]
    long["cluster"] = long["cluster"].astype(str)
    from explorer.views.map import category_colors
    colors = category_colors(sorted(long["label"].unique()))
    return hv.Bars(long, ["cluster", "label"], "fraction").opts(
        stacked=True, cmap=colors, responsive=True, height=320, tools=["hover"], legend_position="right",
        title="Label composition per cluster", xrotation=90)


class ClustersView(pn.viewable.Viewer):
    """Cluster table + composition bars."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        self.frame = cluster_composition(self.state.results)
        self.table = pn.widgets.Tabulator(self.frame, show_index=False, disabled=True, pagination="local",
                                          page_size=12, sizing_mode="stretch_width", selectable=1,
                                          formatters={"purity": {"type": "progress", "max": 1}})
        self.table.on_click(self._clicked)

    def _clicked(self, event):
        c = int(self.table.value["cluster"].iloc[event.row])
        self.state.select_cluster(c)

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("Least pure clusters first: a cluster that is 95% one class with a few others "
                             "is where mislabels hide. Click a row to select the cluster.",
                             sizing_mode="stretch_width"),
            self.table, pn.pane.HoloViews(composition_bars(self.state.results), sizing_mode="stretch_width"),
            sizing_mode="stretch_width")
