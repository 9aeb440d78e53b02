"""Subclasses: re-project one class, show its subgroups, what distinguishes them, their mean light
curves and spectra; tag a subgroup and the tag becomes a ``subclass`` flag on its members."""
from __future__ import annotations

import html

import holoviews as hv
import pandas as pd
import panel as pn
import param

from explorer.state import ExplorerState
from explorer.views.inspector import call_optional

__all__ = ["subgroup_points", "mean_curves", "SubclassesView"]


def subgroup_points(assignments: pd.DataFrame) -> hv.Points:
    """The class's own projection coloured by subgroup."""
    d = assignments.assign(subgroup=assignments["subgroup"].astype(str))
    return hv.Points(d, ["x", "y"], ["subgroup", "id"]).opts(
        color="subgroup", cmap="Colorblind", size=4, responsive=True, height=320, tools=["hover"],
        legend_position="right", title="Subgroups")


def mean_curves(result) -> tuple[hv.Overlay, hv.Overlay]:
    """Mean folded light curve and mean spectrum of each subgroup, overlaid."""
    lcs, specs = [], []
    for g in result.groups:
        if g.phase is not None and g.lightcurve is not None:
            lcs.append(hv.Curve((g.phase, g.lightcurve), "phase", "normalised mag", label=f"subgroup {g.subgroup}"))
        if g.wavelength is not None and g.spectrum is not None:
            specs.append(hv.Curve((g.wavelength, g.spectrum), "wavelength", "relative flux",
                                  label=f"subgroup {g.subgroup}"))
    lc = hv.Overlay(lcs or [hv.Curve([], "phase", "normalised mag")]).opts(
        hv.opts.Overlay(responsive=True, height=250, invert_yaxis=True, title="Mean folded light curve"))
    sp = hv.Overlay(specs or [hv.Curve([], "wavelength", "relative flux")]).opts(
        hv.opts.Overlay(responsive=True, height=250, title="Mean spectrum"))
    return lc, sp


class SubclassesView(pn.viewable.Viewer):
    """Pick a class, split it, tag a subgroup."""

    state = param.ClassSelector(class_=ExplorerState)
    data = param.Parameter()

    def __init__(self, **params):
        super().__init__(**params)
        classes = list(self.state.param.class_filter.objects)
        self.label = pn.widgets.Select(name="Class", options=classes, value="M" if "M" in classes else
                                       (classes[0] if classes else None), width=120)
        self.run_btn = pn.widgets.Button(name="Find subgroups", button_type="primary",
                                         css_classes=["subclasses-compute"])
        self.run_btn.on_click(lambda e: self.compute())
        self.group = pn.widgets.Select(name="Subgroup", options=[], width=110)
        self.tag = pn.widgets.TextInput(name="Tag", placeholder="e.g. C-rich", width=160)
        self.tag_btn = pn.widgets.Button(name="Tag subgroup \u2192 flags", disabled=True)
        self.tag_btn.on_click(lambda e: self.tag_group())
        self.select_btn = pn.widgets.Button(name="Select on map", disabled=True)
        self.select_btn.on_click(lambda e: self.select_group())
        self.body = pn.Column(pn.pane.Markdown("Re-projecting a class runs UMAP + HDBSCAN on its objects "
                                               "(a few seconds, longer the first time in a process)."),
                              sizing_mode="stretch_width", css_classes=["subclasses-result"])
        self.result = None

    def compute(self):
        with self.run_btn.param.update(loading=True):
            res, err = call_optional("core.analysis", "subclasses", self.data.workspace_path, self.label.value,
                                     sky=self.data.sky)
        if err:
            self.body[:] = [pn.pane.Alert(html.escape(err), alert_type="warning")]
            return
        self.result = res
        self.group.options = [g.subgroup for g in res.groups] or sorted(res.assignments["subgroup"].unique().tolist())
        self.tag_btn.disabled = self.select_btn.disabled = False
        lc, sp = mean_curves(res)
        effects = []
        for g in res.groups:
            top = g.effects.head(4)
            txt = ", ".join(f"{html.escape(str(r['column']))} d={r['cohens_d']:+.1f}" for _, r in top.iterrows())
            effects.append({"subgroup": g.subgroup, "size": g.size, "distinguishing (Cohen's d)": txt})
        self.body[:] = [pn.pane.HoloViews(subgroup_points(res.assignments), sizing_mode="stretch_width"),
                        pn.widgets.Tabulator(pd.DataFrame(effects), show_index=False, disabled=True,
                                             sizing_mode="stretch_width"),
                        pn.Row(pn.pane.HoloViews(lc, sizing_mode="stretch_width"),
                               pn.pane.HoloViews(sp, sizing_mode="stretch_width"), sizing_mode="stretch_width")]

    def members(self) -> list[str]:
        a = self.result.assignments
        return a.loc[a["subgroup"] == self.group.value, "id"].astype(str).tolist()

    def tag_group(self):
        if self.result is None or self.group.value is None or not self.tag.value.strip():
            return
        n = self.state.flag_many(self.members(), "subclass", subclass=self.tag.value.strip())
        self.body.insert(0, pn.pane.Alert(f"Tagged {n} objects as {html.escape(self.tag.value.strip())}.",
                                          alert_type="success"))

    def select_group(self):
        if self.result is not None:
            self.state.select_ids(self.members())

    def __panel__(self):
        return pn.Column(pn.Row(self.label, self.run_btn, sizing_mode="stretch_width"),
                         pn.Row(self.group, self.tag, self.tag_btn, self.select_btn, sizing_mode="stretch_width"),
                         self.body, sizing_mode="stretch_width")
