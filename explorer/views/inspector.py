"""The inspector of the focused object: light curve (raw and folded), periodogram, spectrum with
lines marked, metadata against the class's typical range, votes, why it is flagged, neighbours.

The figures are plain Bokeh (:mod:`explorer.views.figures`), built once per session and updated
through their data sources; the periodogram is computed only while its panel is open (or when
the catalogue has no period to fold at). The builders are pure functions of data (testable
without a browser); :class:`Inspector` wires them to the state.
"""
from __future__ import annotations

import html
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.events import Tap

from core import scores as registry
from explorer.data import object_data, range_lookup
from explorer.state import ExplorerState, one_message
from explorer.views.figures import (SPECTRAL_BANDS, SPECTRAL_LINES, InspectorFigures, first_epoch,
                                    fold_phase)

__all__ = ["fold_phase", "periodogram", "SPECTRAL_LINES", "SPECTRAL_BANDS", "metadata_frame", "metadata_html",
           "votes_html", "why_flagged_html", "sparkline_svg", "links_html", "xmatch_html", "Inspector", "call_optional"]

#: Periodograms kept per session (recent focuses and prefetched suspects).
PGRAM_CACHE = 16
#: Pixels the inspector takes (title, figures, metadata tabs) before the page is loaded and it is shown.
BODY_HEIGHT = 1150
#: One background reader for every session's prefetches (the sky's readers are locked anyway).
_PREFETCH = ThreadPoolExecutor(max_workers=1, thread_name_prefix="astrom3-prefetch")


def call_optional(module: str, name: str, *args, **kwargs):
    """Call ``module.name(*args, **kwargs)``; returns ``(result, None)`` or ``(None, message)``.

    Used for analysis functions that may not exist in this installation (or fail for this
    workspace); the view then shows the message instead of breaking.
    """
    import importlib
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None, f"{module}.{name} is not available in this installation"
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - shown to the user, not swallowed silently
        return None, f"{name} failed: {exc}"


def periodogram(lc, min_period: float = 0.05, max_period: float | None = None, n: int = 5000):
    """Lomb-Scargle power on a log grid of periods: :meth:`core.sky.LightCurve.periodogram`."""
    return lc.periodogram(min_period, max_period, n)


_NO_RANGE = (np.nan, np.nan, np.nan)


def _lookup(ranges) -> dict:
    """``(label, column) -> (q05, median, q95)`` from :func:`explorer.data.class_ranges` (or that dict)."""
    return ranges if isinstance(ranges, dict) else range_lookup(ranges)


def metadata_frame(meta_row: pd.Series, label, ranges, columns) -> pd.DataFrame:
    """Metadata values beside the class's typical range (5th-95th percentile), with a flag when outside.

    ``ranges``: :func:`explorer.data.class_ranges`, or its :func:`~explorer.data.range_lookup` dict.
    """
    ranges = _lookup(ranges)
    rows = []
    for c in columns:
        v = meta_row.get(c, np.nan)
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        q05, med, q95 = ranges.get((label, c), _NO_RANGE)
        outside = bool(np.isfinite(v) and np.isfinite(q05) and (v < q05 or v > q95))
        rows.append({"column": c, "value": v, "class q05": q05, "class median": med, "class q95": q95,
                     "outside": "\u26a0" if outside else ""})
    out = pd.DataFrame(rows, columns=["column", "value", "class q05", "class median", "class q95", "outside"])
    # the same dtypes for every object (an empty frame too): the table's setup never changes with the focus
    return out.astype({"column": str, "value": float, "class q05": float, "class median": float,
                       "class q95": float, "outside": str})


def metadata_html(frame: pd.DataFrame) -> str:
    """A :func:`metadata_frame` as a small HTML table (escaped); values outside the class's range marked.

    Plain HTML, not a Tabulator: a focus then replaces one string instead of re-rendering a table widget.
    """
    def num(v) -> str:
        return "" if not np.isfinite(v) else f"{v:.4g}"
    rows = "".join(
        f"<tr class='{'outside' if r['outside'] else ''}'><td>{html.escape(str(r['column']))}</td>"
        f"<td><b>{num(r['value'])}</b></td><td>{num(r['class q05'])}</td><td>{num(r['class median'])}</td>"
        f"<td>{num(r['class q95'])}</td><td>{html.escape(r['outside'])}</td></tr>" for r in frame.to_dict("records"))
    return ("<table class='meta'><tr><th>column</th><th>value</th><th>class 5%</th><th>median</th><th>95%</th>"
            f"<th></th></tr>{rows}</table>")


def votes_html(row: pd.Series) -> str:
    """Per-modality class votes of one results row as a small HTML table (escaped)."""
    cells = []
    for m in ("photometry", "spectra", "metadata"):
        v, p = row.get(f"vote_{m}"), row.get(f"vote_{m}_prob")
        vote = "\u2014" if v is None or (isinstance(v, float) and np.isnan(v)) else html.escape(str(v))
        prob = "" if p is None or not np.isfinite(float(p)) else f" ({float(p):.2f})"
        cells.append(f"<tr><td>{m}</td><td><b>{vote}</b>{prob}</td></tr>")
    sug = html.escape(str(row.get("suggested_label"))) if row.get("suggested_label") is not None else "\u2014"
    return (f"<table class='votes'><tr><th>modality</th><th>vote</th></tr>{''.join(cells)}"
            f"<tr><td>suggested</td><td><b>{sug}</b></td></tr></table>")


def _score_item(name: str, row: pd.Series, label, ranges: dict, inner: str = "") -> str:
    """One ``<li>``: a score's value against its class's median and 95th percentile (bold above it)."""
    try:
        v = float(row.get(name, np.nan))
    except (TypeError, ValueError):
        v = np.nan
    _, med, q95 = ranges.get((label, name), _NO_RANGE)
    hot = bool(np.isfinite(v) and np.isfinite(q95) and v > q95)
    entry = registry.REGISTRY.get(name)
    shown = html.escape(entry.display if entry and entry.headline else name.replace("_", " "))
    tip = html.escape(entry.description, quote=True) if entry else ""
    txt = "n/a" if not np.isfinite(v) else f"{v:.2f}"
    body = f"{shown}: {txt} (class median {med:.2f}, 95% {q95:.2f})"
    body = f"<b>{body} \u2190 unusual</b>" if hot else body
    return f"<li class='score-{html.escape(name, quote=True)}' title='{tip}'>{body}{inner}</li>"


def why_flagged_html(row: pd.Series, ranges) -> str:
    """Why one object may be suspicious, escaped: its ``outlier_why`` sentence (as typed), then each
    headline score of :mod:`core.scores` the results have, with its parts, against its class's range.

    Only the scores present in ``row`` (the results' columns) are listed: older results lack some.
    """
    label, ranges = row.get("label"), _lookup(ranges)
    why = row.get("outlier_why")
    head = (f"<p class='why-sentence'><span class='outlier-why'>{html.escape(why)}</span></p>"
            if isinstance(why, str) and why.strip() else "")
    items = []
    for name in registry.headline():
        if name not in row.index:
            continue
        parts = "".join(_score_item(p, row, label, ranges) for p in registry.parts_of(name) if p in row.index)
        items.append(_score_item(name, row, label, ranges, f"<ul class='why-parts'>{parts}</ul>" if parts else ""))
    return f"{head}<ul class='why'>{''.join(items)}</ul>"


def links_html(meta_row) -> str:
    """Archive links of one object (:func:`core.links.object_links`) as escaped ``<a>`` elements.

    Parameters
    ----------
    meta_row : mapping or None
        The object's catalogue row (``sky.objects``): ``ra``/``dec``, ``name``, ``survey``...

    Returns
    -------
    str
        The links, each opening in a new tab (``rel=noopener``); empty without a row or links.
    """
    from core.links import object_links

    if meta_row is None:
        return ""
    row = meta_row.to_dict() if isinstance(meta_row, pd.Series) else dict(meta_row)
    links = object_links(row)
    if not links:
        return ""
    items = " \u00b7 ".join(f"<a href='{html.escape(url, quote=True)}' target='_blank' rel='noopener'>"
                            f"{html.escape(name)}</a>" for name, url in links)
    return f"<div class='object-links'>{items}</div>"


def xmatch_html(meta_row) -> str:
    """The cross-match of one object (``astrom3 crossmatch``: ``{prefix}_name``, ``{prefix}_type``), escaped.

    Every prefix with a ``{prefix}_sep_arcsec`` column in the row is shown; empty when none matched.
    """
    if meta_row is None:
        return ""
    row = meta_row.to_dict() if isinstance(meta_row, pd.Series) else dict(meta_row)
    parts = []
    for col in row:
        if not str(col).endswith("_sep_arcsec"):
            continue
        prefix = str(col)[:-len("_sep_arcsec")]
        shown = [str(v) for v in (row.get(f"{prefix}_name"), row.get(f"{prefix}_type"))
                 if v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v).strip()]
        if shown:
            sep = row.get(col)
            sep = f" ({html.escape(str(sep))}\u2033)" if sep is not None and str(sep) not in ("", "nan", "None") else ""
            parts.append(f"{html.escape(prefix)}: <b>{html.escape(' / '.join(shown))}</b>{sep}")
    joined = " \u00b7 ".join(parts)
    return f"<div class='object-xmatch'>{joined}</div>" if parts else ""


def sparkline_svg(phase, value, *, width=90, height=28, invert=True) -> str:
    """A tiny inline SVG of a folded light curve (cheap thumbnails for neighbours)."""
    ph, v = np.asarray(phase, float), np.asarray(value, float)
    ok = np.isfinite(ph) & np.isfinite(v)
    if ok.sum() < 2:
        return f"<svg width='{width}' height='{height}'></svg>"
    ph, v = ph[ok], v[ok]
    lo, hi = np.percentile(v, [2, 98])
    span = hi - lo or 1.0
    yy = (v - lo) / span if invert else (hi - v) / span
    xs, ys = ph * (width - 2) + 1, np.clip(yy, 0, 1) * (height - 2) + 1
    dots = "".join(f"<circle cx='{a:.1f}' cy='{b:.1f}' r='0.8'/>" for a, b in zip(xs[:300], ys[:300]))
    return f"<svg width='{width}' height='{height}' fill='#D55E00' role='img'>{dots}</svg>"


class Inspector(pn.viewable.Viewer):
    """Everything about the focused object."""

    state = param.ClassSelector(class_=ExplorerState)
    data = param.Parameter(doc="explorer.data.WorkspaceData")
    neighbour_space = param.Selector(default="fused", objects=["fused", "photometry", "spectra", "metadata"])
    k = param.Integer(default=8, bounds=(1, 30))
    samp = param.Parameter(default=None, doc="explorer.views.samp.SampControls (its 'Point Aladin here').")

    def __init__(self, **params):
        super().__init__(**params)
        # caches of data derived from the focus (not state: the period shown is ``state.fold_period``)
        self._obj, self._lc, self._pgram = None, None, None
        self._pgrams: OrderedDict = OrderedDict()  # object id -> (periods, power)
        self._pg_lock = threading.Lock()           # the prefetch thread fills _pgrams too
        self._prefetching = None                   # the latest prefetch (a Future), for tests to wait on
        self._title = pn.pane.Markdown("Focus an object (click the map or a table row).",
                                       sizing_mode="stretch_width", css_classes=["inspector-title"])
        self._links = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["inspector-links"])
        self._figures = None  # InspectorFigures: built once (a focus only sends new data), see `figures`
        self._pg_card = pn.Card(title="Periodogram (computed when open)", collapsed=True,
                                sizing_mode="stretch_width", css_classes=["periodogram-card"])
        # the inspector goes on the page once it is loaded (it shows nothing before the first focus, which
        # comes then too): a new session's first message has ~200 Bokeh models fewer to build, send and
        # draw before the map; the spacer keeps its place
        self._body = pn.Column(pn.Spacer(height=BODY_HEIGHT), sizing_mode="stretch_width",
                               css_classes=["inspector-body"])
        self.meta_frame = metadata_frame(pd.Series(dtype=float), None, {}, [])
        self._meta = pn.pane.HTML(metadata_html(self.meta_frame), sizing_mode="stretch_width",
                                  css_classes=["inspector-meta"])
        self._neigh_hint = pn.pane.Markdown("Open this tab to load the neighbours.")
        self._votes = pn.pane.HTML("", sizing_mode="stretch_width")
        self._why = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["inspector-why"])
        # the hint from the start: the first focus then changes no children (a walk of every model on the server)
        self._neigh = pn.Column(self._neigh_hint, sizing_mode="stretch_width")
        self._period_row = pn.Row(
            pn.widgets.FloatInput.from_param(self.state.param.fold_period, name="Period (d)", width=130,
                                             css_classes=["period-input"]),
            *[self._button(name, width, cb) for name, width, cb in (
                ("P \u00d7\u00bd", 70, lambda e: self._scale(0.5)), ("P \u00d72", 70, lambda e: self._scale(2.0)),
                ("LS peak", 80, lambda e: self._best()))], sizing_mode="stretch_width")
        self.state.param.watch(self._refocus, ["focus"])
        self.state.param.watch(lambda e: self._draw_why(), ["flags_version"])
        self.state.param.watch(self._prefetch, ["upcoming"])
        self.state.param.watch(self._refold, ["fold_period"])
        self.param.watch(lambda e: self._draw_neighbours(), ["neighbour_space"])
        self._pg_card.param.watch(self._pg_toggled, ["collapsed"])
        space = pn.widgets.RadioButtonGroup.from_param(self.param.neighbour_space, button_type="light")
        self._tabs = pn.Tabs(("Metadata", pn.Column(self._meta, pn.Row(pn.Column("**Votes**", self._votes),
                                                                        pn.Column("**Why flagged**", self._why)))),
                             ("Neighbours", pn.Column(space, self._neigh)), dynamic=False,
                             sizing_mode="stretch_width")
        self._tabs.param.watch(lambda e: self._draw_neighbours(), ["active"])
        pn.state.onload(self._show_body)  # at once outside a server (tests, notebooks)
        if self.state.focus:
            self._refocus()

    @property
    def figures(self) -> InspectorFigures:
        """The four Bokeh figures of this inspector, built on first use (at the latest once the page is loaded)."""
        if self._figures is None:
            self._figures = f = InspectorFigures()
            self._raw = pn.pane.Bokeh(f.raw, sizing_mode="stretch_width", min_height=220)
            self._folded = pn.pane.Bokeh(f.folded, sizing_mode="stretch_width", min_height=220)
            self._spec = pn.pane.Bokeh(f.spec, sizing_mode="stretch_width", min_height=240)
            self._pg_card.objects = [pn.pane.Bokeh(f.pg, sizing_mode="stretch_width", min_height=180)]
            f.pg.on_event(Tap, self._pg_clicked)
        return self._figures

    def _show_body(self):
        """Put the inspector on the page (in its spacer's place): one message, after the page's first."""
        if self._body.objects and isinstance(self._body.objects[0], pn.Spacer):
            self.figures  # noqa: B018 - builds them
            head = [self._title, pn.Row(self._links, self.samp.point_button, sizing_mode="stretch_width")
                    if self.samp is not None else self._links]
            with one_message():
                self._body[:] = [*head, self._raw, self._period_row, self._folded, self._pg_card, self._spec,
                                 self._tabs]

    @staticmethod
    def _button(name, width, callback):
        b = pn.widgets.Button(name=name, button_type="light", width=width)
        b.on_click(callback)
        return b

    # events ----------------------------------------------------------------------------------
    def _scale(self, f):
        if self.state.fold_period:
            self.state.fold_period = self.state.fold_period * f

    def _best(self):
        """Fold at the periodogram's highest peak (computing it if its panel is closed)."""
        if self._pgram is None and self._obj is not None and self._lc is not None:
            self._pgram = self._periodogram(self._obj)
        if self._pgram is not None:
            p, pw = self._pgram
            self.state.fold_period = float(p[int(np.argmax(pw))])

    def _pg_clicked(self, event):
        if event.x is not None and event.x > 0:
            self.state.fold_period = float(event.x)

    def _pg_toggled(self, *_):
        """Opening the periodogram panel computes it for the focused object."""
        if self._pg_card.collapsed or self._obj is None or self._lc is None:
            return
        with pn.io.hold():
            self._pgram = self._periodogram(self._obj)
            self.figures.show_periodogram(self._pgram, self.state.fold_period)

    def _periodogram(self, obj):
        """The Lomb-Scargle periodogram of ``obj``'s light curve, cached per session."""
        with self._pg_lock:
            hit = self._pgrams.get(obj.id)
        if hit is None:
            lc = obj.lightcurve
            hit = lc.periodogram(0.05, min(max(lc.span, 0.2) / 2, 1000.0), n=3000)
            with self._pg_lock:
                self._pgrams[obj.id] = hit
                while len(self._pgrams) > PGRAM_CACHE:
                    self._pgrams.popitem(last=False)
        return hit

    def _prefetch(self, *_):
        """Read the next suspects (and their periodograms, where they will be drawn) in the background."""
        ids, data, pg_open = list(self.state.upcoming), self.data, not self._pg_card.collapsed

        def work():
            for oid in ids:
                obj = object_data(data, oid)
                if obj.lightcurve is not None and len(obj.lightcurve) > 1 and (pg_open or obj.period is None):
                    self._periodogram(obj)
        if not ids:
            self._prefetching = None
            return
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:  # after this step's message has gone out
            doc.add_next_tick_callback(lambda: setattr(self, "_prefetching", _PREFETCH.submit(work)))
        else:
            self._prefetching = _PREFETCH.submit(work)

    def _refocus(self, *_):
        if self.state.focus is None:
            return
        with one_message():  # one message to the browser for the whole inspector
            self._draw_focus()

    def _draw_focus(self):
        s, d, f = self.state, self.data, self.figures
        oid, row = s.focus, s.row()
        obj = self._obj = object_data(d, oid)
        label = row.get("label")
        self._title.object = (f"### {html.escape(oid)}\nlabel **{html.escape(str(label))}** \u00b7 suggested "
                              f"**{html.escape(str(row.get('suggested_label')))}** \u00b7 cluster {int(row['cluster'])}"
                              + (f" \u00b7 flag **{html.escape(s.flags[oid])}**" if oid in s.flags else ""))
        lc = obj.lightcurve
        self._lc = lc if lc is not None and len(lc) > 1 else None
        f.show_lightcurve(self._lc)
        p = obj.period
        need_pg = self._lc is not None and (p is None or not self._pg_card.collapsed)
        self._pgram = self._periodogram(obj) if need_pg else None
        if p is None and self._pgram is not None:
            p = float(self._pgram[0][int(np.argmax(self._pgram[1]))])
        f.show_periodogram(self._pgram, p)
        if p == s.fold_period:
            self._refold()
        else:
            s.fold_period = p
        spec = obj.spectrum
        f.show_spectrum(spec if spec is not None and len(spec) else None)
        self.meta_frame = metadata_frame(obj.meta if obj.meta is not None else pd.Series(dtype=float), label,
                                         d.range_lookup, d.sky.metadata_columns)
        self._meta.object = metadata_html(self.meta_frame)
        self._votes.object = votes_html(row)
        self._links.object = xmatch_html(obj.meta) + links_html(obj.meta)
        self._draw_why()
        self._draw_neighbours()

    def _refold(self, *_):
        self.figures.show_folded(self._lc, self.state.fold_period)
        self.figures.mark_period(self.state.fold_period)

    def _draw_why(self):
        s = self.state
        row = s.row()
        if row is None:
            return
        from explorer.views.flags import decisions_html

        flag = s.flags.get(s.focus)
        head = f"<p>Flagged as <b>{html.escape(flag)}</b>.</p>{decisions_html(s.decisions())}" if flag else ""
        self._why.object = head + why_flagged_html(row, self.data.range_lookup)

    def _draw_neighbours(self, force: bool = False):
        s = self.state
        if s.focus is None:
            return
        if not force and self._tabs.active != 1:
            if list(self._neigh) != [self._neigh_hint]:  # new children re-lay out the whole page in the browser
                self._neigh[:] = [self._neigh_hint]
            return
        res, err = call_optional("core.analysis", "similar", self.data.workspace_path, s.focus, k=self.k,
                                 modality=self.neighbour_space)
        if err:
            self._neigh[:] = [pn.pane.Alert(html.escape(err), alert_type="warning")]
            return
        rows = []
        for _, nb in res.iterrows():
            nid = str(nb["id"])
            obj = object_data(self.data, nid)  # by index, cached: no table scan per neighbour
            lc, p, svg = obj.lightcurve, obj.period, ""
            if lc is not None and p and len(lc) > 1:
                svg = sparkline_svg(lc.phase(p, first_epoch(lc)), lc.value, invert=lc.kind != "mag")
            btn = pn.widgets.Button(name=nid, button_type="light", width=120, css_classes=["neighbour"])
            btn.on_click(lambda e, nid=nid: self.state.focus_on(nid))
            rows.append(pn.Row(btn, pn.pane.HTML(svg, width=95, height=32),
                               pn.pane.HTML(f"{html.escape(str(nb['label']))} \u00b7 {nb['similarity']:.3f}")))
        self._neigh[:] = rows or [pn.pane.Markdown("no neighbours")]

    def __panel__(self):
        return self._body
