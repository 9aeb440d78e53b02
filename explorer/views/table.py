"""The selection table: the selected objects, sortable, filterable, paginated; a row click focuses."""
from __future__ import annotations

import panel as pn
import param

from core import scores as registry
from explorer.state import TABLE_MAX, ExplorerState

__all__ = ["SelectionTable", "filter_widgets", "score_slider", "score_formatters"]

#: The colour ramp of the score bars in the table (light: typical, dark: suspicious).
SCORE_BAR_COLORS = ["#fde0c5", "#eb7f54", "#b13f2e"]


def score_slider(state: ExplorerState, score: str) -> pn.widgets.RangeSlider:
    """A range slider over one headline score's full range, kept in step with ``state.score_ranges``."""
    lo, hi = state.full_range(score)
    entry = registry.REGISTRY.get(score)
    slider = pn.widgets.RangeSlider(label=f"{entry.display if entry else score} range", start=lo, end=hi,
                                    value=state.score_ranges[score], step=(hi - lo) / 100,
                                    sizing_mode="stretch_width", css_classes=[f"range-{score}"])
    slider.param.watch(lambda e: state.set_score_range(score, e.new), "value")

    def follow(event):
        if tuple(slider.value) != tuple(event.new[score]):
            slider.value = tuple(event.new[score])
    state.param.watch(follow, "score_ranges")
    return slider


def filter_widgets(state: ExplorerState) -> pn.Column:
    """Class, cluster and score-range filters (one per headline score in the results) bound to the state."""
    return pn.Column(
        pn.widgets.MultiChoice.from_param(state.param.class_filter, name="Classes", sizing_mode="stretch_width"),
        pn.widgets.MultiChoice.from_param(state.param.cluster_filter, name="Clusters", sizing_mode="stretch_width"),
        *[score_slider(state, s) for s in state.scores],
        sizing_mode="stretch_width")


def score_formatters(state: ExplorerState) -> tuple[dict, dict]:
    """``(formatters, header tooltips)`` of the table's score columns, from the registry."""
    fmt, tips = {}, {}
    for s in state.scores:
        lo, hi = state.full_range(s)
        fmt[s] = {"type": "progress", "min": lo, "max": hi, "color": SCORE_BAR_COLORS}
        tips[s] = registry.REGISTRY[s].description if s in registry.REGISTRY else s
    return fmt, tips


class SelectionTable(pn.viewable.Viewer):
    """Tabulator of the selected rows; clicking a row focuses that object."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        fmt, tips = score_formatters(s)
        self.table = pn.widgets.Tabulator(
            s.selected_frame(limit=TABLE_MAX), pagination="remote", page_size=15, show_index=False, disabled=True,
            selectable=1, header_filters={"id": {"type": "input", "func": "like"},
                                          "label": {"type": "input", "func": "like"},
                                          "suggested_label": {"type": "input", "func": "like"},
                                          "flag": {"type": "input", "func": "like"}},
            # a fixed height (a page of 15 rows, header and pager): the layout does not jump with each selection
            formatters=fmt, header_tooltips=tips, sizing_mode="stretch_width", height=520, name="selection-table",
            css_classes=["selection-table"])
        self.table.on_click(self._clicked)
        s.param.watch(self._update, ["selection", "class_filter", "cluster_filter", "score_ranges", "flags_version"])

    def _update(self, *_):
        self.table.value = self.state.selected_frame(limit=TABLE_MAX)

    def _clicked(self, event):
        df = self.table.value
        try:
            oid = str(df["id"].iloc[event.row])
        except (IndexError, KeyError):
            return
        self.state.focus_on(oid)

    def __panel__(self):
        return self.table
