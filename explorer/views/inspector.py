"""The inspector of the focused object: light curve (raw and folded), periodogram, spectrum with
lines marked, metadata against the class's typical range, votes, why it is flagged, neighbours.

The builders are pure functions of data (testable without a browser); :class:`Inspector` wires
them to the state.
"""
from __future__ import annotations

import html

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from core.sky import LightCurve, Spectrum
from core import scores as registry
from explorer.state import ExplorerState

__all__ = ["fold_phase", "raw_lightcurve_plot", "folded_plot", "periodogram", "periodogram_plot",
           "spectrum_plot", "SPECTRAL_LINES", "SPECTRAL_BANDS", "metadata_frame", "votes_html",
           "why_flagged_html", "sparkline_svg", "Inspector", "call_optional"]

#: Rest-frame air wavelengths (Angstrom) of the lines marked on spectra.
SPECTRAL_LINES: dict[str, float] = {
    "H\u03b1": 6562.8, "H\u03b2": 4861.3, "H\u03b3": 4340.5, "H\u03b4": 4101.7, "H\u03b5": 3970.1,
    "Ca II K": 3933.7, "Ca II H": 3968.5,
    "Ca II 8498": 8498.0, "Ca II 8542": 8542.1, "Ca II 8662": 8662.1,
    "Na D": 5892.9,
}
#: Molecular bands (start, end in Angstrom): TiO (M stars) and C2 Swan bands (carbon stars).
SPECTRAL_BANDS: dict[str, tuple[float, float]] = {
    "TiO 4955": (4955.0, 5000.0), "TiO 5167": (5167.0, 5200.0), "TiO 6159": (6159.0, 6250.0),
    "TiO 7054": (7054.0, 7150.0), "C2 4737": (4715.0, 4737.0), "C2 5165": (5130.0, 5165.0),
    "C2 5636": (5585.0, 5636.0),
}


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


def fold_phase(time, period: float, epoch: float | None = None) -> np.ndarray:
    """Phase in ``[0, 1)`` of each time for ``period`` (days), counted from ``epoch`` (default: first time)."""
    t = np.asarray(time, float)
    if not period or period <= 0:
        raise ValueError(f"period must be positive, got {period!r}")
    t0 = t[0] if epoch is None and len(t) else (epoch or 0.0)
    ph = np.mod((t - t0) / period, 1.0)
    return np.where(ph >= 1.0, 0.0, ph)


def _ylabel(lc) -> str:
    return "magnitude" if lc.kind == "mag" else "flux"


def raw_lightcurve_plot(lc) -> hv.Overlay:
    """Time series with error bars (magnitudes inverted: brighter up)."""
    d = pd.DataFrame({"time": lc.time, "value": lc.value, "error": lc.error})
    pts = hv.Scatter(d, "time", ["value"]).opts(size=3, color="#0072B2", framewise=True)
    err = hv.ErrorBars(d, "time", ["value", "error"]).opts(color="#8fb8de", line_width=1, framewise=True)
    return (err * pts).opts(hv.opts.Overlay(invert_yaxis=lc.kind == "mag", responsive=True, height=220,
                                            xlabel="time (d)", ylabel=_ylabel(lc), title="Light curve"))


def folded_plot(lc, period: float) -> hv.Overlay:
    """The light curve folded at ``period``: phase in [0, 1) with error bars."""
    ph = fold_phase(lc.time, period)
    d = pd.DataFrame({"phase": ph, "value": lc.value, "error": lc.error})
    pts = hv.Scatter(d, "phase", ["value"]).opts(size=3, color="#D55E00", framewise=True)
    err = hv.ErrorBars(d, "phase", ["value", "error"]).opts(color="#f0b48a", line_width=1, framewise=True)
    return (err * pts).opts(hv.opts.Overlay(invert_yaxis=lc.kind == "mag", responsive=True, height=220,
                                            xlabel="phase", ylabel=_ylabel(lc),
                                            title=f"Folded at P = {period:.6g} d"))


def periodogram(lc, min_period: float = 0.05, max_period: float | None = None, n: int = 5000):
    """Lomb-Scargle power on a log grid of periods (astropy); returns ``(periods, power)``."""
    from astropy.timeseries import LombScargle

    t, y, e = np.asarray(lc.time, float), np.asarray(lc.value, float), np.asarray(lc.error, float)
    ok = np.isfinite(t) & np.isfinite(y)
    e = np.where(np.isfinite(e) & (e > 0), e, np.nan)
    dy = e[ok] if np.isfinite(e[ok]).all() else None
    span = float(t[ok].max() - t[ok].min()) if ok.sum() > 1 else 1.0
    max_period = max_period or max(span / 2, min_period * 2)
    periods = np.geomspace(min_period, max_period, n)
    power = LombScargle(t[ok], y[ok], dy).power(1.0 / periods)
    return periods, np.asarray(power, float)


def periodogram_plot(periods, power, chosen: float | None = None) -> hv.Overlay:
    """Power against period (log axis) with the chosen period marked."""
    curve = hv.Curve((periods, power), "period", "power").opts(logx=True, color="#0072B2", responsive=True,
                                                               framewise=True,
                                                               height=180, title="Lomb-Scargle periodogram",
                                                               tools=["tap"], xlabel="period (d)")
    mark = hv.VLine(chosen if chosen else np.nan).opts(color="#D55E00", line_dash="dashed", line_width=2,
                                                        framewise=True)
    return curve * mark


def spectrum_plot(spec, *, z: float = 0.0) -> hv.Overlay:
    """Flux against wavelength with the lines (:data:`SPECTRAL_LINES`) and bands marked.

    Always the same four layers (so a DynamicMap can update it in place): the spectrum
    (``hv.Curve``), the molecular bands (``hv.Rectangles``: TiO and C2), the lines
    (``hv.Segments``) and their names (``hv.Labels``); lines outside the spectrum are left out.
    """
    wl, fl = np.asarray(spec.wavelength, float), np.asarray(spec.flux, float)
    lo, hi = (np.nanmin(wl), np.nanmax(wl)) if len(wl) else (0.0, 0.0)
    curve = hv.Curve((wl, fl), "wavelength", "flux").opts(color="#333333", line_width=1, framewise=True)
    fin = fl[np.isfinite(fl)]
    bottom, top = (float(np.percentile(fin, 1)), float(np.percentile(fin, 99))) if len(fin) else (0.0, 1.0)
    bands = [(a * (1 + z), bottom, b * (1 + z), top, "TiO" if n.startswith("TiO") else "C2")
             for n, (a, b) in SPECTRAL_BANDS.items() if b * (1 + z) >= lo and a * (1 + z) <= hi]
    rects = hv.Rectangles(bands, kdims=["wavelength", "flux", "x1", "y1"], vdims=["band"]).opts(
        color="band", cmap={"TiO": "#CC79A7", "C2": "#009E73"}, alpha=0.18, line_alpha=0)
    lines = {k: v * (1 + z) for k, v in SPECTRAL_LINES.items() if lo <= v * (1 + z) <= hi}
    segs = hv.Segments([(w, bottom, w, top) for w in lines.values()],
                       kdims=["wavelength", "flux", "x1", "y1"]).opts(color="#0072B2", line_dash="dotted",
                                                                        line_width=1)
    labels = hv.Labels({"wavelength": list(lines.values()), "flux": [top] * len(lines), "text": list(lines)},
                       ["wavelength", "flux"], "text").opts(text_font_size="8pt", angle=90, text_align="right",
                                                            text_color="#0072B2")
    return (curve * rects * segs * labels).opts(hv.opts.Overlay(responsive=True, height=240, title="Spectrum",
                                                                xlabel="wavelength (\u00c5)", show_legend=False))


def metadata_frame(meta_row: pd.Series, label, ranges: pd.DataFrame, columns) -> pd.DataFrame:
    """Metadata values beside the class's typical range (5th-95th percentile), with a flag when outside."""
    rows = []
    for c in columns:
        v = meta_row.get(c, np.nan)
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        q05 = med = q95 = np.nan
        if label is not None and (label, c) in ranges.index:
            q05, med, q95 = ranges.loc[(label, c), ["q05", "median", "q95"]]
        outside = bool(np.isfinite(v) and np.isfinite(q05) and (v < q05 or v > q95))
        rows.append({"column": c, "value": v, "class q05": q05, "class median": med, "class q95": q95,
                     "outside": "\u26a0" if outside else ""})
    return pd.DataFrame(rows, columns=["column", "value", "class q05", "class median", "class q95", "outside"])


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


def _score_item(name: str, row: pd.Series, label, ranges: pd.DataFrame, inner: str = "") -> str:
    """One ``<li>``: a score's value against its class's median and 95th percentile (bold above it)."""
    try:
        v = float(row.get(name, np.nan))
    except (TypeError, ValueError):
        v = np.nan
    med = q95 = np.nan
    if label is not None and (label, name) in ranges.index:
        med, q95 = ranges.loc[(label, name), ["median", "q95"]]
    hot = bool(np.isfinite(v) and np.isfinite(q95) and v > q95)
    entry = registry.REGISTRY.get(name)
    shown = html.escape(entry.display if entry and entry.headline else name.replace("_", " "))
    tip = html.escape(entry.description, quote=True) if entry else ""
    txt = "n/a" if not np.isfinite(v) else f"{v:.2f}"
    body = f"{shown}: {txt} (class median {med:.2f}, 95% {q95:.2f})"
    body = f"<b>{body} \u2190 unusual</b>" if hot else body
    return f"<li class='score-{html.escape(name, quote=True)}' title='{tip}'>{body}{inner}</li>"


def why_flagged_html(row: pd.Series, ranges: pd.DataFrame) -> str:
    """Why one object may be suspicious, escaped: its ``outlier_why`` sentence (as typed), then each
    headline score of :mod:`core.scores` the results have, with its parts, against its class's range.

    Only the scores present in ``row`` (the results' columns) are listed: older results lack some.
    """
    label = row.get("label")
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


_EMPTY_LC = LightCurve("", np.zeros(0), np.zeros(0), np.zeros(0), "mag")
_EMPTY_SPEC = Spectrum("", np.zeros(0), np.zeros(0), np.zeros(0))


class Inspector(pn.viewable.Viewer):
    """Everything about the focused object."""

    state = param.ClassSelector(class_=ExplorerState)
    data = param.Parameter(doc="explorer.data.WorkspaceData")
    period = param.Number(default=None, allow_None=True, doc="Folding period (days).")
    neighbour_space = param.Selector(default="fused", objects=["fused", "photometry", "spectra", "metadata"])
    k = param.Integer(default=8, bounds=(1, 30))

    def __init__(self, **params):
        super().__init__(**params)
        self._lc = None
        self._pgram = None
        self._title = pn.pane.Markdown("Focus an object (click the map or a table row).",
                                       sizing_mode="stretch_width", css_classes=["inspector-title"])
        # DynamicMaps: a new focus updates the plots' data in place instead of rebuilding figures.
        self._focus_tick, self._fold_tick = hv.streams.Counter(), hv.streams.Counter()
        self._spec_obj = None
        self.raw_dmap = hv.DynamicMap(self._raw_plot, streams=[self._focus_tick])
        self.folded_dmap = hv.DynamicMap(self._folded_plot, streams=[self._fold_tick])
        self.pg_dmap = hv.DynamicMap(self._pg_plot, streams=[self._fold_tick])
        self.spec_dmap = hv.DynamicMap(self._spec_plot, streams=[self._focus_tick])
        self._raw = pn.pane.HoloViews(self.raw_dmap, sizing_mode="stretch_width", min_height=220)
        self._folded = pn.pane.HoloViews(self.folded_dmap, sizing_mode="stretch_width", min_height=220,
                                         css_classes=["folded-lc"])
        self._pg = pn.pane.HoloViews(self.pg_dmap, sizing_mode="stretch_width", min_height=180)
        self._spec = pn.pane.HoloViews(self.spec_dmap, sizing_mode="stretch_width", min_height=240,
                                       css_classes=["spectrum"])
        self._meta = pn.widgets.Tabulator(pd.DataFrame(), show_index=False, disabled=True,
                                          sizing_mode="stretch_width", height=220, pagination=None)
        self._votes = pn.pane.HTML("", sizing_mode="stretch_width")
        self._why = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["inspector-why"])
        self._neigh = pn.Column(sizing_mode="stretch_width")
        half = pn.widgets.Button(name="P \u00d7\u00bd", button_type="light", width=70)
        double = pn.widgets.Button(name="P \u00d72", button_type="light", width=70)
        best = pn.widgets.Button(name="LS peak", button_type="light", width=80)
        half.on_click(lambda e: self._scale(0.5))
        double.on_click(lambda e: self._scale(2.0))
        best.on_click(lambda e: self._best())
        self._period_input = pn.widgets.FloatInput.from_param(self.param.period, name="Period (d)", width=130,
                                                                css_classes=["period-input"])
        self._pg_tap = hv.streams.Tap(source=self.pg_dmap)
        self._pg_tap.param.watch(self._pg_clicked, ["x"])
        self._period_row = pn.Row(self._period_input, half, double, best, sizing_mode="stretch_width")
        self.state.param.watch(self._refocus, ["focus"])
        self.state.param.watch(lambda e: self._draw_why(), ["flags_version"])
        self.param.watch(self._refold, ["period"])
        self.param.watch(lambda e: self._draw_neighbours(), ["neighbour_space"])
        space = pn.widgets.RadioButtonGroup.from_param(self.param.neighbour_space, button_type="light")
        self._tabs = pn.Tabs(("Metadata", pn.Column(self._meta, pn.Row(pn.Column("**Votes**", self._votes),
                                                                        pn.Column("**Why flagged**", self._why)))),
                             ("Neighbours", pn.Column(space, self._neigh)), dynamic=False,
                             sizing_mode="stretch_width")
        self._tabs.param.watch(lambda e: self._draw_neighbours(), ["active"])
        if self.state.focus:
            self._refocus()

    # events ----------------------------------------------------------------------------------
    def _scale(self, f):
        if self.period:
            self.period = self.period * f

    def _best(self):
        if self._pgram is not None:
            p, pw = self._pgram
            self.period = float(p[int(np.argmax(pw))])

    def _pg_clicked(self, *_):
        if self._pg_tap.x and self._pg_tap.x > 0:
            self.period = float(self._pg_tap.x)

    def _refocus(self, *_):
        if self.state.focus is None:
            return
        with pn.io.hold():  # one message to the browser for the whole inspector
            self._draw_focus()

    def _draw_focus(self):
        s, d = self.state, self.data
        oid = s.focus
        row = s.row()
        label = row.get("label")
        self._title.object = (f"### {html.escape(oid)}\nlabel **{html.escape(str(label))}** \u00b7 suggested "
                              f"**{html.escape(str(row.get('suggested_label')))}** \u00b7 cluster {int(row['cluster'])}"
                              + (f" \u00b7 flag **{html.escape(s.flags[oid])}**" if oid in s.flags else ""))
        self._lc = d.sky.lightcurve(oid) if d.sky.has_lightcurves else None
        if self._lc is not None and len(self._lc) > 1:
            span = max(self._lc.span, 0.2)
            self._pgram = periodogram(self._lc, 0.05, min(span / 2, 1000.0), n=3000)
        else:
            self._lc, self._pgram = None, None
        from explorer.data import lightcurve_period
        p = lightcurve_period(d, oid)
        if p is None and self._pgram is not None:
            p = float(self._pgram[0][int(np.argmax(self._pgram[1]))])
        if p == self.period:
            self._refold()
        else:
            self.period = p
        spec = d.sky.spectrum(oid) if d.sky.has_spectra else None
        self._spec_obj = spec if spec is not None and len(spec) else None
        self._focus_tick.event()
        meta = d.sky.objects
        mrow = meta.loc[meta["id"].astype(str) == oid]
        cols = d.sky.metadata_columns
        self._meta.value = (metadata_frame(mrow.iloc[0], label, d.ranges, cols) if len(mrow)
                            else pd.DataFrame())
        self._votes.object = votes_html(row)
        self._draw_why()
        self._draw_neighbours()

    def _refold(self, *_):
        self._fold_tick.event()

    # DynamicMap callbacks: same element types whatever the object has
    def _raw_plot(self, **_):
        return raw_lightcurve_plot(self._lc if self._lc is not None else _EMPTY_LC)

    def _folded_plot(self, **_):
        if self._lc is None or not self.period:
            return folded_plot(_EMPTY_LC, 1.0).opts(title="No light curve / period")
        return folded_plot(self._lc, self.period)

    def _pg_plot(self, **_):
        if self._pgram is None:
            return periodogram_plot(np.array([0.1, 1.0]), np.zeros(2), None)
        return periodogram_plot(*self._pgram, chosen=self.period)

    def _spec_plot(self, **_):
        if self._spec_obj is None:
            return spectrum_plot(_EMPTY_SPEC).opts(title="No spectrum")
        return spectrum_plot(self._spec_obj)

    def _draw_why(self):
        s = self.state
        row = s.row()
        if row is None:
            return
        from explorer.views.flags import decisions_html

        flag = s.flags.get(s.focus)
        head = f"<p>Flagged as <b>{html.escape(flag)}</b>.</p>{decisions_html(s.decisions())}" if flag else ""
        self._why.object = head + why_flagged_html(row, self.data.ranges)

    def _draw_neighbours(self, force: bool = False):
        s = self.state
        if s.focus is None:
            return
        if not force and self._tabs.active != 1:
            self._neigh[:] = [pn.pane.Markdown("Open this tab to load the neighbours.")]
            return
        res, err = call_optional("core.analysis", "similar", self.data.workspace_path, s.focus, k=self.k,
                                 modality=self.neighbour_space)
        if err:
            self._neigh[:] = [pn.pane.Alert(html.escape(err), alert_type="warning")]
            return
        rows = []
        sky = self.data.sky
        from explorer.data import lightcurve_period
        for _, nb in res.iterrows():
            nid = str(nb["id"])
            svg = ""
            lc = sky.lightcurve(nid) if sky.has_lightcurves else None
            p = lightcurve_period(self.data, nid)
            if lc is not None and p and len(lc) > 1:
                svg = sparkline_svg(fold_phase(lc.time, p), lc.value, invert=lc.kind != "mag")
            btn = pn.widgets.Button(name=nid, button_type="light", width=120, css_classes=["neighbour"])
            btn.on_click(lambda e, nid=nid: self.state.focus_on(nid))
            rows.append(pn.Row(btn, pn.pane.HTML(svg, width=95, height=32),
                               pn.pane.HTML(f"{html.escape(str(nb['label']))} \u00b7 {nb['similarity']:.3f}")))
        self._neigh[:] = rows or [pn.pane.Markdown("no neighbours")]

    def __panel__(self):
        return pn.Column(self._title, self._raw, self._period_row, self._folded, self._pg, self._spec,
                         self._tabs, sizing_mode="stretch_width")
