"""Flag buttons for the focused object, the current flags, and the export download."""
from __future__ import annotations

import html
import io
import tempfile
from pathlib import Path

import pandas as pd
import panel as pn
import param

from explorer.state import FLAG_KINDS, ExplorerState

__all__ = ["FlagsView", "export_bytes", "decisions_html", "EXPORT_FORMATS", "TEXT_COLUMNS"]

EXPORT_FORMATS = {"csv": "csv", "ecsv": "ecsv", "votable": "xml"}
#: Columns of the flags table holding text people typed: shown as text (Tabulator's plaintext
#: formatter escapes it), never as HTML, and never escaped beforehand (that showed ``&lt;``).
TEXT_COLUMNS = ("id", "kind", "proposed_label", "subclass", "note", "user")


def decisions_html(decisions: pd.DataFrame) -> str:
    """Standing decisions on one object as HTML: every typed text escaped exactly once.

    The browser then shows each note exactly as it was typed, as text.
    """
    if decisions is None or len(decisions) == 0:
        return ""

    def text(v) -> str:
        return "" if v is None or pd.isna(v) else html.escape(str(v), quote=True)

    items = []
    for r in decisions.to_dict("records"):
        label = f" \u2192 {text(r.get('proposed_label'))}" if text(r.get("proposed_label")) else ""
        sub = f" ({text(r.get('subclass'))})" if text(r.get("subclass")) else ""
        note = f": <span class='flag-note'>{text(r.get('note'))}</span>" if text(r.get("note")) else ""
        items.append(f"<li><b>{text(r.get('kind'))}</b>{label}{sub} by {text(r.get('user'))}{note}</li>")
    return f"<ul class='decisions'>{''.join(items)}</ul>"


def export_bytes(store, fmt: str) -> io.BytesIO:
    """The current flags exported in ``fmt`` (csv, ecsv, votable), as bytes.

    ``store``: anything with ``export(path, format=...)``: the :class:`~explorer.state.ExplorerState`
    (which the views use) or a flag store.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"export format {fmt!r} is not one of {list(EXPORT_FORMATS)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"flags.{EXPORT_FORMATS[fmt]}"
        store.export(path, format=fmt)
        return io.BytesIO(path.read_bytes())


class FlagsView(pn.viewable.Viewer):
    """Who is flagging, buttons to flag the focused object, the flag table, export.

    Everything goes through the state (its ``note``, :meth:`~ExplorerState.flag`,
    :meth:`~ExplorerState.current_flags`, :meth:`~ExplorerState.export`), never the store.
    """

    state = param.ClassSelector(class_=ExplorerState)
    error = param.String(default=None, allow_None=True)
    export_format = param.Selector(default="csv", objects=list(EXPORT_FORMATS))

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        self.user = pn.widgets.TextInput.from_param(s.param.user, name="Your name", width=160)
        self.note = pn.widgets.TextInput.from_param(s.param.note, name="Note", placeholder="optional note",
                                                    sizing_mode="stretch_width")
        self.label = pn.widgets.Select(name="Proposed label", options=[""] + list(s.param.class_filter.objects),
                                       width=120)
        self.message = pn.pane.Alert(html.escape(self.error) if self.error else "", alert_type="warning",
                                     visible=bool(self.error))
        self.buttons = []
        for kind in FLAG_KINDS:
            if kind == "subclass":
                continue
            b = pn.widgets.Button(name=kind, button_type="warning" if kind in ("mislabel", "anomaly") else "default",
                                  css_classes=[f"flag-{kind}"], disabled=not s.has_store)
            b.on_click(lambda e, k=kind: self.flag(k))
            self.buttons.append(b)
        undo = pn.widgets.Button(name="undo", css_classes=["flag-undo"], disabled=not s.has_store)
        undo.on_click(lambda e: self.state.undo())
        self.buttons.append(undo)
        self._table = None  # the flags table: built when its tab is first shown (a page rarely opens it)
        self.download = pn.widgets.FileDownload(callback=self._export, filename="flags.csv", label="Export flags",
                                                button_type="success", disabled=not s.has_store,
                                                css_classes=["flags-export"])
        self.param.watch(self._format, ["export_format"])
        s.param.watch(self._flags_changed, ["flags_version"])

    @property
    def table(self) -> pn.widgets.Tabulator:
        """The current flags (:meth:`frame`), texts as plain text; a row click focuses the object."""
        if self._table is None:
            self._table = pn.widgets.Tabulator(self.frame(), show_index=False, disabled=True, pagination="local",
                                               page_size=10, sizing_mode="stretch_width", selectable=1,
                                               formatters={c: {"type": "plaintext"} for c in TEXT_COLUMNS},
                                               css_classes=["flags-table"])
            self._table.on_click(self._clicked)
        return self._table

    def _flags_changed(self, *_):
        if self._table is not None:  # an unbuilt table reads the flags when it is built
            self._table.value = self.frame()

    def frame(self) -> pd.DataFrame:
        """Current flags for display, texts as typed (the table shows them as plain text)."""
        cols = ["id", "kind", "proposed_label", "subclass", "note", "user", "created"]
        cur = self.state.current_flags()
        if len(cur) == 0:
            return pd.DataFrame(columns=cols)
        cur = cur[[c for c in cols if c in cur]].copy()
        if "note" in cur:
            cur["note"] = cur["note"].map(lambda v: "" if pd.isna(v) else str(v))
        if "created" in cur:
            cur["created"] = cur["created"].astype(str)
        return cur.reset_index(drop=True)

    def flag(self, kind: str):
        s = self.state
        if s.focus is None:
            self.message.object, self.message.visible = "Focus an object first.", True
            return
        s.flag(kind, proposed_label=(self.label.value or None) if kind == "mislabel" else None,
               note=s.take_note())
        self.message.visible = False

    def _clicked(self, event):
        self.state.focus_on(str(self.table.value["id"].iloc[event.row]))

    def _format(self, *_):
        self.download.filename = f"flags.{EXPORT_FORMATS[self.export_format]}"

    def _export(self):
        return export_bytes(self.state, self.export_format)

    def controls(self):
        """The compact flag bar (shown next to the inspector)."""
        return pn.Column(pn.Row(self.user, self.label, self.note, sizing_mode="stretch_width"),
                         pn.FlexBox(*self.buttons), self.message, sizing_mode="stretch_width")

    def __panel__(self):
        fmt = pn.widgets.RadioButtonGroup.from_param(self.param.export_format, button_type="light")
        return pn.Column(pn.Row(fmt, self.download), self.table, sizing_mode="stretch_width")
