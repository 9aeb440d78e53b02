"""The explorer in a Jupyter notebook: ``explorer.show(ws, sky)`` returns the dashboard as a Panel object.

The served page (:func:`explorer.app.build_app`) is a template, which a notebook cannot show; here
the same views and layout go into a plain :class:`panel.Row` (sidebar, tabs), which renders as a
cell output. The workspace must have its results (``astrom3 run SKY --workspace WS``).

Examples
--------
>>> import explorer
>>> explorer.show("demo/workspace", "demo/sky")        # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["show"]


def show(workspace, sky, *, sidebar_width: int = 280):
    """The explorer for ``sky`` and its ``workspace`` as a Panel layout (displays in Jupyter).

    Parameters
    ----------
    workspace : path-like or core.workspace.Workspace
        A workspace with ``results.parquet``.
    sky : path-like or core.sky.Sky
        The sky it was computed from.
    sidebar_width : int
        Pixels of the controls column (map choice, colour-by, legend, filters).

    Returns
    -------
    panel.Row
        The sidebar and the tabs of the served page; its ``explorer_views`` attribute holds the
        session's state and views (:func:`explorer.app.build_views`).

    Raises
    ------
    AstroM3Error
        When the workspace has no results yet.
    """
    import panel as pn

    from core.errors import AstroM3Error
    from explorer.app import _explorer_main, _extensions
    from explorer.data import load_workspace, results_ready

    ws_path = Path(os.fspath(getattr(workspace, "path", workspace)))
    sky_path = Path(os.fspath(getattr(sky, "path", sky)))
    if not results_ready(ws_path):
        raise AstroM3Error(f"{ws_path}: no results yet; run `astrom3 run {sky_path} --workspace {ws_path}` first")
    _extensions()
    data = load_workspace(sky_path, ws_path)
    sidebar = pn.Column(width=sidebar_width)
    tabs, views = _explorer_main(data, sidebar)
    layout = pn.Row(sidebar, tabs, sizing_mode="stretch_width")
    layout.explorer_views = views
    return layout
