"""Thin view components: each module has pure functions that build HoloViews objects and a
``pn.viewable.Viewer`` that wires them to :class:`explorer.state.ExplorerState`."""
