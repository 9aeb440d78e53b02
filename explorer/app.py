"""Assemble the explorer: ``build_app(sky_path, workspace_path)`` -> a Panel template.

The workspace is loaded once per process (:func:`explorer.data.load_workspace`); each session
gets its own small :class:`~explorer.state.ExplorerState` and views. When the workspace has no
results yet, the page shows a progress bar while :func:`core.pipeline.run` computes them in a
background thread, then swaps in the explorer.
"""
from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from pathlib import Path

import holoviews as hv
import panel as pn

from explorer.data import default_user, load_workspace, results_ready
from explorer.state import ExplorerState, frozen, one_message

__all__ = ["build_app", "build_views", "SessionViews", "ExplorerTemplate", "LAZY_TABS"]

_COMPUTE_LOCK = threading.Lock()

CSS = """
.legend ul li { font-size: 12px; line-height: 1.3; }
.votes td, .votes th { padding: 1px 6px; font-size: 12px; }
ul.why { font-size: 12px; padding-left: 16px; }
"""


class ExplorerTemplate(pn.template.BootstrapTemplate):
    """Panel's BootstrapTemplate, its roots added to a new session's document in one go.

    The template adds each of its parts (main, sidebar, header, modal, notifications...) as a root
    of the document, and Bokeh walks every model of every root after each one (``recompute``): a
    dozen walks of the whole page per new session. Under one ``models.freeze()`` it walks once,
    when the document is complete (and before anything is sent to the browser).
    """

    def _init_doc(self, doc=None, comm=None, title=None, notebook=False, location=True):
        """Panel's ``BasicTemplate._init_doc`` (same arguments and result) under ``doc.models.freeze()``."""
        document = doc or pn.state.curdoc
        if document is None:
            return super()._init_doc(doc, comm, title, notebook, location)
        with frozen(document):
            return super()._init_doc(document, comm, title, notebook, location)


def _extensions():
    """Load HoloViews' Bokeh backend (once per process: ~0.1 s each time) and Panel's extensions (per session)."""
    if hv.Store.current_backend != "bokeh" or "bokeh" not in hv.Store.renderers:
        hv.extension("bokeh", logo=False)
    pn.extension("tabulator", notifications=True, raw_css=[CSS])


class SessionViews(Mapping):
    """The state and views of one session by name; some are built the first time they are asked for.

    Parameters
    ----------
    views : dict
        Views built already.
    factories : dict
        Name -> callable returning the view; called once, on first ``views[name]``.
    """

    def __init__(self, views: dict, factories: dict):
        self._views = dict(views)
        self._factories = {k: f for k, f in factories.items() if k not in self._views}

    def __getitem__(self, name):
        if name not in self._views:
            if name not in self._factories:
                raise KeyError(name)
            self._views[name] = self._factories.pop(name)()
        return self._views[name]

    def __iter__(self):
        return iter([*self._views, *self._factories])

    def __len__(self) -> int:
        return len(self._views) + len(self._factories)

    def built(self, name: str) -> bool:
        """Whether the view ``name`` has been built yet."""
        return name in self._views


def build_views(data, *, user: str | None = None) -> SessionViews:
    """The state and every view of one session (no template); handy for tests and notebooks.

    Parameters
    ----------
    data : explorer.data.WorkspaceData
        The shared workspace (:func:`explorer.data.load_workspace`).
    user : str, optional
        Who the session's decisions are by (default: :func:`explorer.data.default_user`).

    Returns
    -------
    SessionViews
        ``state``, ``map``, ``table``, ``filters``, ``inspector``, ``samp``, ``review``, ``flags``, then
        ``clusters`` and ``subclasses``, which only their own tab shows: those two are built on first
        access (a page builds them when their tab is first opened).
    """
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
             "samp": samp, "review": ReviewView(state=state, data=data),
             "flags": FlagsView(state=state, error=data.flag_error)}
    return SessionViews(views, {"clusters": lambda: ClustersView(state=state),
                                "subclasses": lambda: SubclassesView(state=state, data=data)})


#: The tabs after "Explore" (title -> what builds its content from the session's views): each is
#: built the first time it is opened (``pn.Tabs(dynamic=True)`` defers only the Bokeh models).
LAZY_TABS = {
    "Clusters": lambda v: v["clusters"],
    "Subclasses": lambda v: v["subclasses"],
    "Flags & export": lambda v: pn.Column(v["flags"], v["samp"].button("flags"), sizing_mode="stretch_width"),
}


def _lazy_tabs(first, views) -> pn.Tabs:
    """The page's tabs: ``first``, then :data:`LAZY_TABS`, each built and filled in when first shown.

    Parameters
    ----------
    first : tuple
        ``(title, content)`` of the tab shown at first.
    views : SessionViews
        The session's views, which build the other tabs' contents.

    Returns
    -------
    panel.Tabs
        ``dynamic=True`` tabs; each later tab holds an empty column until it is first opened.
    """
    holders = {title: pn.Column(sizing_mode="stretch_width") for title in LAZY_TABS}
    tabs = pn.Tabs(first, *holders.items(), dynamic=True, sizing_mode="stretch_width")
    pending = dict(enumerate(holders, start=1))

    def fill(*_):
        title = pending.pop(tabs.active, None)
        if title is not None:
            with one_message():
                holders[title][:] = [LAZY_TABS[title](views)]
    tabs.param.watch(fill, ["active"])
    return tabs


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
    tabs = _lazy_tabs(("Explore", explore), v)
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
    ExplorerTemplate
        A :class:`panel.template.BootstrapTemplate`.
    """
    _extensions()
    # BootstrapTemplate: every resource is served locally (the Fast templates fetch Google fonts).
    tmpl = ExplorerTemplate(title=title, sidebar_width=280,
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
