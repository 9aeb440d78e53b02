"""Thin view components: each module has pure functions that build HoloViews (the map) or Bokeh
(the inspector's figures) objects, and a ``pn.viewable.Viewer`` that wires them to
:class:`explorer.state.ExplorerState`."""
