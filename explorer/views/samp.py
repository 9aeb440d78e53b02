"""SAMP buttons of one session: send the selection or the flags to TOPCAT / Aladin, point Aladin at the focus.

:class:`SampControls` holds one :class:`core.samp.SampLink` per session, connected on the first
click (a page that never uses SAMP never touches a hub). Every failure (no hub running, nobody
listening, an unknown id) is shown as a notification with its text, never raised. A row
selection another tool sends back (``table.select.rowList``) becomes the map selection: it
arrives on the SAMP client's thread and is handed to the session's document.
"""
from __future__ import annotations

import panel as pn
import param

from explorer.state import ExplorerState

__all__ = ["SampControls", "SAMP_TIMEOUT"]

#: Seconds the dashboard waits for the hub (a click must not hang the page for long).
SAMP_TIMEOUT = 5.0


class SampControls(pn.viewable.Viewer):
    """Send the selection, the flags or a pointAt over SAMP, connecting lazily.

    Parameters
    ----------
    state : ExplorerState
        The session's state (its selection, focus and flags).
    data : explorer.data.WorkspaceData
        Gives the workspace path and the sky (coordinates, names).
    """

    state = param.ClassSelector(class_=ExplorerState)
    data = param.Parameter(doc="explorer.data.WorkspaceData")
    message = param.String(default="", doc="The latest outcome (also shown as a notification).")

    def __init__(self, **params):
        super().__init__(**params)
        self.link = None
        self._doc = None
        self.buttons = {key: self.button(key) for key in self.ACTIONS}
        self.point_button = pn.widgets.Button(name="Point Aladin here", button_type="light", width=140,
                                              css_classes=["samp-point"])
        self.point_button.on_click(lambda e: self.point_at())

    #: Button key -> (label, method name).
    ACTIONS = {"selection": ("Send selection to TOPCAT/Aladin (SAMP)", "send_selection"),
               "flags": ("Send flags (SAMP)", "send_flags")}

    def button(self, key: str) -> pn.widgets.Button:
        """A new button for one of :attr:`ACTIONS` (a widget is shown in one place only)."""
        name, method = self.ACTIONS[key]
        b = pn.widgets.Button(name=name, button_type="light", css_classes=[f"samp-{key}"])
        b.on_click(lambda e: getattr(self, method)())
        return b

    # connection ----------------------------------------------------------------------------------
    def _connect(self):
        """The session's link, connected now if it is not (raises :class:`core.samp.SampError`)."""
        from core.samp import SampLink

        if self.link is None:
            self.link = SampLink(self.data.workspace_path, sky=self.data.sky, timeout=SAMP_TIMEOUT)
            self.link.on_selection(self._received)
            doc = pn.state.curdoc
            if doc is not None and doc.session_context is not None:
                self._doc = doc
                pn.state.on_session_destroyed(lambda ctx: self.close())
        return self.link.connect()

    def close(self) -> None:
        """Leave the hub (idempotent)."""
        if self.link is not None:
            self.link.close()

    def _received(self, got) -> None:
        """A selection from another tool (SAMP thread): select its ids in this session."""
        def apply():
            self.state.select_ids(got.ids)
            self._notify("info", f"{len(got.ids)} objects selected by {got.sender}")
        if self._doc is not None:
            self._doc.add_next_tick_callback(apply)
        else:
            apply()

    def _notify(self, kind: str, text: str) -> None:
        self.message = text
        notes = pn.state.notifications
        if notes is not None:
            getattr(notes, kind)(text, duration=6000 if kind == "error" else 3000)

    def _run(self, what: str, action) -> bool:
        """Connect, run ``action(link)`` and report its outcome; True when it worked."""
        from core.samp import SampError

        try:
            done = action(self._connect())
        except SampError as exc:
            self._notify("error", f"SAMP: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - a click must not break the page; the text is shown
            self._notify("error", f"SAMP {what} failed: {type(exc).__name__}: {exc}")
            return False
        self._notify("success", done)
        return True

    # actions -------------------------------------------------------------------------------------
    def send_selection(self) -> bool:
        """Send the selected objects as a VOTable (``table.load.votable``) to every listening tool."""
        ids = self.state.selected_ids
        if not ids:
            self._notify("warning", "Nothing selected: select objects on the map first.")
            return False

        def act(link):
            link.send_table(ids, name=f"AstroM3 selection ({len(ids)})", wait=False)
            return f"Sent {len(ids)} objects to {', '.join(link.listeners().values())}"
        return self._run("send", act)

    def send_flags(self) -> bool:
        """Send every currently flagged object (the session's store) as a VOTable."""
        ids = list(self.state.flags)
        if not ids:
            self._notify("warning", "No flags to send.")
            return False

        def act(link):
            link.send_table(ids, name=f"AstroM3 flags ({len(ids)})", wait=False)
            return f"Sent {len(ids)} flagged objects to {', '.join(link.listeners().values())}"
        return self._run("send", act)

    def point_at(self) -> bool:
        """Centre Aladin (any ``coord.pointAt.sky`` listener) on the focused object."""
        oid = self.state.focus
        if oid is None:
            self._notify("warning", "Focus an object first.")
            return False

        def act(link):
            ra, dec = link.point_at(oid)
            return f"Pointed at {oid} ({ra:.5f}, {dec:+.5f})"
        return self._run("pointAt", act)

    def __panel__(self):
        return pn.Row(*self.buttons.values(), sizing_mode="stretch_width")
