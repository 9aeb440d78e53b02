"""The selection table: the selected objects, sortable, filterable, paginated; a row click focuses."""
from __future__ import annotations

import panel as pn
import param

from explorer.state import SCORES, ExplorerState

__all__ = ["SelectionTable", "filter_widgets"]


def filter_widgets(state: ExplorerState) -> pn.Column:
    """Class, cluster and score-range filters bound to the state."""
    return pn.Column(
        pn.widgets.MultiChoice.from_param(state.param.class_filter, name="Classes", sizing_mode="stretch_width"),
        pn.widgets.MultiChoice.from_param(state.param.cluster_filter, name="Clusters", sizing_mode="stretch_width"),
        *[pn.widgets.RangeSlider.from_param(state.param[p], name=p.replace("_", " "), step=0.01,
                                             sizing_mode="stretch_width")
          for p in ("outlier_range", "mislabel_range", "crossmodal_range")],
        sizing_mode="stretch_width")


class SelectionTable(pn.viewable.Viewer):
    """Tabulator of the selected rows; clicking a row focuses that object."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        fmt = {c: {"type": "progress", "max": 1, "color": ["#fde0c5", "#eb7f54", "#b13f2e"]} for c in SCORES}
        self.table = pn.widgets.Tabulator(
            s.selected_frame(), pagination="remote", page_size=15, show_index=False, disabled=True,
            selectable=1, header_filters={"id": {"type": "input", "func": "like"},
                                          "label": {"type": "input", "func": "like"},
                                          "suggested_label": {"type": "input", "func": "like"},
                                          "flag": {"type": "input", "func": "like"}},
            # a fixed height (a page of 15 rows, header and pager): the layout does not jump with each selection
            formatters=fmt, sizing_mode="stretch_width", height=520, name="selection-table",
            css_classes=["selection-table"])
        self.table.on_click(self._clicked)
        s.param.watch(self._update, ["selection", "class_filter", "cluster_filter", "outlier_range",
                                     "mislabel_range", "crossmodal_range", "flags_version"])

    def _update(self, *_):
        self.table.value = self.state.selected_frame()

    def _clicked(self, event):
        df = self.table.value
        try:
            oid = str(df["id"].iloc[event.row])
        except (IndexError, KeyError):
            return
        self.state.focus_on(oid)

    def __panel__(self):
        return self.table
