"""The inspector's figures as plain Bokeh: built once per session, updated by assigning new data.

A new focus sends each figure's ``ColumnDataSource.data`` and its ranges, nothing else: no
HoloViews re-rendering, no figure rebuilt in the browser. The ``*_data`` functions are pure
(arrays in, column dicts out) and :class:`InspectorFigures` holds the figures of one session.
"""
from __future__ import annotations

import numpy as np
from bokeh.core.properties import field
from bokeh.models import ColumnDataSource, GlyphRenderer, Line, Quad, Range1d, Scatter, Segment, Span, Text
from bokeh.plotting import figure

__all__ = ["SPECTRAL_LINES", "SPECTRAL_BANDS", "fold_phase", "first_epoch", "padded_range", "errorbar_data",
           "lightcurve_data", "folded_data", "periodogram_data", "spectrum_data", "add_glyph", "InspectorFigures"]

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
BAND_COLORS = {"TiO": "#CC79A7", "C2": "#009E73"}
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"


def fold_phase(time, period: float, epoch: float | None = None) -> np.ndarray:
    """Phase in ``[0, 1)`` of each time for ``period`` (days), counted from ``epoch`` (default: first time).

    A thin wrapper of :meth:`core.sky.LightCurve.phase` for bare time arrays; the inspector counts
    phase from the first point, not from maximum light (``LightCurve.fold``'s default).
    """
    from core.sky import LightCurve

    t = np.asarray(time, float)
    if not period or period <= 0:
        raise ValueError(f"period must be positive, got {period!r}")
    t0 = t[0] if epoch is None and len(t) else (epoch or 0.0)
    ph = LightCurve("", t, t, t).phase(period, float(t0))
    return np.where(ph >= 1.0, 0.0, ph)


def first_epoch(lc) -> float:
    """The epoch the inspector folds from: the light curve's first time (0 when empty)."""
    return float(lc.time[0]) if len(lc.time) else 0.0


def padded_range(*arrays, pad: float = 0.05, default=(0.0, 1.0)) -> tuple[float, float]:
    """``(low, high)`` of the finite values of ``arrays``, widened by ``pad`` of the span on each side."""
    v = np.concatenate([np.asarray(a, float).ravel() for a in arrays]) if arrays else np.zeros(0)
    v = v[np.isfinite(v)]
    if not len(v):
        return default
    lo, hi = float(v.min()), float(v.max())
    d = (hi - lo) * pad if hi > lo else max(abs(hi) * pad, 0.5)
    return lo - d, hi + d


def errorbar_data(x, value, error) -> dict:
    """Columns ``x``, ``y`` and the error bar ends ``lo``, ``hi`` (no bar where the error is not finite)."""
    x, y, e = (np.asarray(a, float) for a in (x, value, error))
    e = np.where(np.isfinite(e), e, 0.0)
    return {"x": x, "y": y, "lo": y - e, "hi": y + e}


def lightcurve_data(lc) -> dict:
    """The light curve against time, with error bars."""
    return errorbar_data(lc.time, lc.value, lc.error)


def folded_data(lc, period: float) -> dict:
    """The light curve folded at ``period``: ``x`` is the phase in [0, 1)."""
    return errorbar_data(lc.phase(period, first_epoch(lc)), lc.value, lc.error)


def periodogram_data(periods, power) -> dict:
    return {"period": np.asarray(periods, float), "power": np.asarray(power, float)}


def spectrum_data(spec, *, z: float = 0.0) -> dict:
    """Columns of the spectrum's four layers: ``curve``, ``bands`` (TiO, C2), ``lines`` and their names.

    Bands and lines outside the spectrum are left out; they span the 1st-99th percentile of the flux.
    """
    wl, fl = np.asarray(spec.wavelength, float), np.asarray(spec.flux, float)
    lo, hi = (np.nanmin(wl), np.nanmax(wl)) if len(wl) else (0.0, 0.0)
    fin = fl[np.isfinite(fl)]
    bottom, top = (float(np.percentile(fin, 1)), float(np.percentile(fin, 99))) if len(fin) else (0.0, 1.0)
    bands = [(a * (1 + z), b * (1 + z), "TiO" if n.startswith("TiO") else "C2")
             for n, (a, b) in SPECTRAL_BANDS.items() if b * (1 + z) >= lo and a * (1 + z) <= hi]
    lines = {k: v * (1 + z) for k, v in SPECTRAL_LINES.items() if lo <= v * (1 + z) <= hi}
    return {
        "curve": {"x": wl, "y": fl},
        "bands": {"left": [b[0] for b in bands], "right": [b[1] for b in bands], "bottom": [bottom] * len(bands),
                  "top": [top] * len(bands), "band": [b[2] for b in bands],
                  "color": [BAND_COLORS[b[2]] for b in bands]},
        "lines": {"x": list(lines.values()), "y0": [bottom] * len(lines), "y1": [top] * len(lines),
                  "name": list(lines)},
    }


def _set_range(rng: Range1d, lo: float, hi: float) -> None:
    """Move a range and make its reset go there too (one message per changed property)."""
    rng.update(start=lo, end=hi, reset_start=lo, reset_end=hi)


def add_glyph(fig, source: ColumnDataSource, glyph) -> GlyphRenderer:
    """Draw ``glyph`` from ``source`` on ``fig``: one renderer, its other glyphs left to BokehJS ("auto").

    ``figure.scatter()`` and friends also make a nonselection and a muted copy of every glyph:
    two more models per renderer to build, send and draw, for states these figures never enter
    (no selection tools, no legend: not for the periodogram, whose tap tool selects).
    """
    renderer = GlyphRenderer(data_source=source, glyph=glyph)
    fig.renderers.append(renderer)
    return renderer


def _errorbar_figure(title: str, xlabel: str, color: str, err_color: str, height: int, css: str):
    src = ColumnDataSource(errorbar_data([], [], []))
    fig = figure(title=title, height=height, sizing_mode="stretch_width", tools=TOOLS, x_range=Range1d(0, 1),
                 y_range=Range1d(0, 1), x_axis_label=xlabel, y_axis_label="magnitude", css_classes=[css])
    add_glyph(fig, src, Segment(x0=field("x"), y0=field("lo"), x1=field("x"), y1=field("hi"), line_color=err_color,
                                line_width=1))
    add_glyph(fig, src, Scatter(x=field("x"), y=field("y"), size=3, fill_color=color, line_color=color,
                                hatch_color=color))
    return fig, src


class InspectorFigures:
    """The four figures of one session's inspector: raw and folded light curve, periodogram, spectrum.

    Their CSS classes (``raw-lc``, ``folded-lc``, ``periodogram``, ``spectrum``) are on the figures.

    Built empty once; the ``show_*`` methods assign new data and ranges (magnitudes: brighter up).
    """

    def __init__(self):
        self.raw, self.raw_src = _errorbar_figure("Light curve", "time (d)", "#0072B2", "#8fb8de", 220, "raw-lc")
        self.folded, self.folded_src = _errorbar_figure("No light curve / period", "phase", "#D55E00", "#f0b48a",
                                                        220, "folded-lc")
        self.pg_src = ColumnDataSource(periodogram_data([], []))
        self.pg = figure(title="Lomb-Scargle periodogram (click a peak to fold there)", height=180,
                         sizing_mode="stretch_width", x_axis_type="log", tools="tap," + TOOLS,
                         x_range=Range1d(0.05, 1.0), y_range=Range1d(0, 1), x_axis_label="period (d)",
                         y_axis_label="power", css_classes=["periodogram"])
        # figure's own line (with its nonselection glyph): a tap on the periodogram selects, unlike elsewhere
        self.pg.line("period", "power", source=self.pg_src, color="#0072B2")
        self.pg_mark = Span(location=None, dimension="height", line_color="#D55E00", line_dash="dashed",
                            line_width=2)
        self.pg.add_layout(self.pg_mark)
        self.spec_src = {k: ColumnDataSource(v) for k, v in spectrum_data(_NoSpectrum).items()}
        self.spec = figure(title="No spectrum", height=240, sizing_mode="stretch_width", tools=TOOLS,
                           x_range=Range1d(0, 1), y_range=Range1d(0, 1), x_axis_label="wavelength (\u00c5)",
                           y_axis_label="flux", css_classes=["spectrum"])
        add_glyph(self.spec, self.spec_src["bands"], Quad(
            left=field("left"), right=field("right"), bottom=field("bottom"), top=field("top"),
            fill_color=field("color"), line_color=field("color"), hatch_color=field("color"), fill_alpha=0.18,
            hatch_alpha=0.18, line_alpha=0))
        add_glyph(self.spec, self.spec_src["curve"], Line(x=field("x"), y=field("y"), line_color="#333333",
                                                          line_width=1))
        add_glyph(self.spec, self.spec_src["lines"], Segment(
            x0=field("x"), y0=field("y0"), x1=field("x"), y1=field("y1"), line_color="#0072B2", line_dash="dotted",
            line_width=1))
        add_glyph(self.spec, self.spec_src["lines"], Text(
            x=field("x"), y=field("y1"), text=field("name"), angle=np.pi / 2, text_font_size="8pt",
            text_align="right", text_color="#0072B2"))

    def _show_errorbars(self, fig, src, data: dict, x_range, kind: str) -> None:
        src.data = data
        _set_range(fig.x_range, *x_range)
        lo, hi = padded_range(data["lo"], data["hi"])
        _set_range(fig.y_range, *((hi, lo) if kind == "mag" else (lo, hi)))
        fig.yaxis.axis_label = "magnitude" if kind == "mag" else "flux"

    def show_lightcurve(self, lc) -> None:
        """The raw light curve (None: empty)."""
        if lc is None:
            self.raw_src.data = errorbar_data([], [], [])
            self.raw.title.text = "No light curve"
            return
        self._show_errorbars(self.raw, self.raw_src, lightcurve_data(lc), padded_range(lc.time, pad=0.02), lc.kind)
        self.raw.title.text = "Light curve"

    def show_folded(self, lc, period: float | None) -> None:
        """The light curve folded at ``period`` (None, or no light curve: empty)."""
        if lc is None or not period:
            self.folded_src.data = errorbar_data([], [], [])
            self.folded.title.text = "No light curve / period"
            return
        self._show_errorbars(self.folded, self.folded_src, folded_data(lc, period), (-0.02, 1.02), lc.kind)
        self.folded.title.text = f"Folded at P = {period:.6g} d"

    def show_periodogram(self, pgram, chosen: float | None) -> None:
        """``pgram = (periods, power)`` with the chosen period marked (None: empty)."""
        if pgram is None:
            self.pg_src.data = periodogram_data([], [])
            self.pg_mark.location = None
            return
        periods, power = pgram
        self.pg_src.data = periodogram_data(periods, power)
        _set_range(self.pg.x_range, float(np.min(periods)), float(np.max(periods)))
        _set_range(self.pg.y_range, 0.0, float(np.nanmax(power)) * 1.05 if len(power) else 1.0)
        self.mark_period(chosen)

    def mark_period(self, period: float | None) -> None:
        self.pg_mark.location = float(period) if period else None

    def show_spectrum(self, spec) -> None:
        """The spectrum with its lines and bands (None: empty)."""
        parts = spectrum_data(spec if spec is not None else _NoSpectrum)
        for k, v in parts.items():
            self.spec_src[k].data = v
        self.spec.title.text = "Spectrum" if spec is not None else "No spectrum"
        if spec is not None:
            _set_range(self.spec.x_range, *padded_range(spec.wavelength, pad=0.01))
            _set_range(self.spec.y_range, *padded_range(spec.flux))


class _NoSpectrum:
    wavelength = flux = np.zeros(0)
