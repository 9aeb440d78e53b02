"""Assemble the explorer: ``build_app(sky_path, workspace_path)`` -> a Panel template.

The workspace is loaded once per process (:func:`explorer.data.load_workspace`); each session
gets its own small :class:`~explorer.state.ExplorerState` and views. When the workspace has no
results yet, the page shows a progress bar while :func:`core.pipeline.run` computes them in a
background thread, then swaps in the explorer.
"""
from __future__ import annotations

import html
import threading
from pathlib import Path

import holoviews as hv
import panel as pn

from explorer.data import default_user, load_workspace, results_ready
from explorer.state import ExplorerState

__all__ = ["build_app", "build_views"]

_COMPUTE_LOCK = threading.Lock()

CSS = """
.legend ul li { font-size: 12px; line-height: 1.3; }
.votes td, .votes th { padding: 1px 6px; font-size: 12px; }
ul.why { font-size: 12px; padding-left: 16px; }
"""


def _extensions():
    hv.extension("bokeh", logo=False)
    pn.extension("tabulator", notifications=True, raw_css=[CSS])


def build_views(data, *, user: str | None = None) -> dict:
    """The state and every view of one session (no template); handy for tests and notebooks."""
    from explorer.views.clusters import ClustersView
    from explorer.views.flags import FlagsView
    from explorer.views.inspector import Inspector
    from explorer.views.map import MapView
    from explorer.views.review import ReviewView
    from explorer.views.samp import SampControls
    from explorer.views.subclasses import SubclassesView
    from explorer.views.table import SelectionTable, filter_widgets

    state = ExplorerState(data.results, flag_store=data.flag_store, session_info=data.session_info,
                          user=user or default_user())
    samp = SampControls(state=state, data=data)
    views = {"state": state, "map": MapView(state=state), "table": SelectionTable(state=state),
             "filters": filter_widgets(state), "inspector": Inspector(state=state, data=data, samp=samp),
             "samp": samp,
             "clusters": ClustersView(state=state), "review": ReviewView(state=state, data=data),
             "flags": FlagsView(state=state, error=data.flag_error),
             "subclasses": SubclassesView(state=state, data=data)}
    return views


def _explorer_main(data, template_sidebar):
    v = build_views(data)
    state = v["state"]
    proj = pn.widgets.Select.from_param(state.param.projection, name="Map",
                                        options=[p for p in state.param.projection.objects
                                                 if state.available_projection(p)], sizing_mode="stretch_width")
    color = pn.widgets.Select.from_param(state.param.color_by, name="Colour by", sizing_mode="stretch_width")
    template_sidebar[:] = [proj, color, v["map"].legend, pn.layout.Divider(), "**Filters**", v["filters"]]
    review = pn.Card(v["review"], title="Review queue (keyboard)", collapsed=False, sizing_mode="stretch_width",
                     css_classes=["review-card"])
    explore = pn.FlexBox(
        pn.Column(v["map"], v["table"], v["samp"], sizing_mode="stretch_width", min_width=300,
                  styles={"flex": "1 1 560px"}),
        pn.Column(review, v["flags"].controls(), v["inspector"], sizing_mode="stretch_width", min_width=300,
                  styles={"flex": "1 1 420px"}),
        sizing_mode="stretch_width", flex_wrap="wrap")
    flags_tab = pn.Column(v["flags"], v["samp"].button("flags"), sizing_mode="stretch_width")
    tabs = pn.Tabs(("Explore", explore), ("Clusters", v["clusters"]), ("Subclasses", v["subclasses"]),
                   ("Flags & export", flags_tab), dynamic=True, sizing_mode="stretch_width")
    return tabs, v


class _Job:
    """One computation of a workspace's results in this server process, watched by every session."""

    def __init__(self):
        self.step, self.fraction, self.error, self.done = "starting", 0.0, None, False

    def progress(self, step, fraction) -> None:
        self.step, self.fraction = str(step), max(self.fraction, min(1.0, float(fraction)))


_JOBS: dict[str, _Job] = {}


def _compute(key: str, work) -> _Job:
    """Start ``work(progress_callback)`` in a thread unless it runs (or ran) already for ``key``."""
    with _COMPUTE_LOCK:
        job = _JOBS.get(key)
        if job is None or job.error:  # a failed computation is tried again by the next session
            job = _JOBS[key] = _Job()

            def target():
                try:
                    work(job.progress)
                    job.done = True
                except Exception as exc:  # noqa: BLE001 - shown on the page
                    job.error = f"{type(exc).__name__}: {exc}"

            threading.Thread(target=target, daemon=True, name=f"astrom3-compute {key}").start()
    return job


def build_app(sky_path, workspace_path, *, title: str = "AstroM3 Explorer", prepare=None):
    """The explorer for a sky and its workspace, as a servable Panel template.

    Parameters
    ----------
    sky_path, workspace_path : path
        The sky directory and its workspace.
    prepare : callable, optional
        ``prepare(progress_callback)`` makes the sky and its results when the workspace has no
        ``results.parquet`` (the demo: :func:`core.demo.ensure_demo`); by default
        :func:`core.pipeline.run` computes them from the sky. Either way it runs once per server
        process, in the background, while every open page shows its progress.

    Returns
    -------
    panel.template.BootstrapTemplate
    """
    _extensions()
    # BootstrapTemplate: every resource is served locally (the Fast templates fetch Google fonts).
    tmpl = pn.template.BootstrapTemplate(title=title, sidebar_width=280,
                                         header_background="#0072B2", collapsed_sidebar=False)
    holder = pn.Column(sizing_mode="stretch_width")
    tmpl.main.append(holder)

    def show():
        data = load_workspace(sky_path, workspace_path)
        tabs, views = _explorer_main(data, tmpl.sidebar)
        holder[:] = [tabs]
        tmpl._explorer_views = views

    if results_ready(workspace_path):
        show()
        return tmpl

    def work(progress):
        if prepare is not None:
            prepare(progress)
        else:
            from core.pipeline import run
            run(sky_path, workspace_path, progress_callback=progress)

    bar = pn.indicators.Progress(value=0, max=100, sizing_mode="stretch_width", name="progress",
                                 css_classes=["compute-progress"])
    msg = pn.pane.Markdown("Computing the results of this sky (first start only; later starts are fast)...",
                           css_classes=["compute-message"])
    holder[:] = [msg, bar]
    state = {"callback": None}
    key = str(Path(workspace_path).resolve())

    def poll():
        job = _JOBS.get(key)
        if job is None:
            return
        if job.error:
            state["callback"].stop()
            holder[:] = [pn.pane.Alert(f"Could not compute the results: {html.escape(job.error)}",
                                       alert_type="danger")]
        elif job.done and results_ready(workspace_path):
            # Reload the page: the explorer is then built at page load like on any later start.
            # (Swapping it into this page from a callback left one of two waiting pages blank.)
            state["callback"].stop()
            msg.object = "Results ready: opening the explorer..."
            bar.value = 100
            if pn.state.location is not None:
                pn.state.location.reload = True
                pn.state.location.search = "?ready=1"
            else:
                show()
        else:
            bar.value = int(100 * job.fraction)
            msg.object = f"Computing the results of this sky (first start only): {html.escape(job.step)}..."

    def start():
        _compute(key, work)
        state["callback"] = pn.state.add_periodic_callback(poll, period=1000)

    pn.state.onload(start)
    return tmpl
