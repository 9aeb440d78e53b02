"""AstroM3 Explorer dashboard (Panel + HoloViews + Datashader).

``explorer.app.build_app(sky_path, workspace_path)`` returns the served template; the state of a
session is :class:`explorer.state.ExplorerState`. Importing this package does not import Panel.
"""
from explorer.notebook import show  # noqa: F401 - explorer.show(ws, sky): the dashboard in a notebook
