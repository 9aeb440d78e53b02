"""The map: the datashaded UMAP, coloured by label, cluster, a score or flag status.

Pure builders (:func:`map_frame`, :func:`shaded_map`, :func:`highlight_points`, :func:`legend_html`)
and :class:`MapView`, which wires them to the state: box and lasso selection through
``hv.streams.BoundsXY`` / ``hv.streams.Lasso`` (``Selection1D`` never fires on datashaded plots),
the mask computed by :class:`~explorer.state.ExplorerState`; a tap picks the nearest object; when
zoomed in to a few hundred points an invisible hover layer shows their details.
"""
from __future__ import annotations

import html

import colorcet as cc
import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource
from holoviews.operation.datashader import dynspread, rasterize

from core import scores as registry
from explorer.state import CATEGORIES, NO_FLAG, TABLE_MAX, ExplorerState, shared

__all__ = ["map_frame", "selection_count_html", "shaded_map", "highlight_points", "legend_html", "category_colors",
           "selected_points", "focused_point",
           "MapView", "HOVER_MAX"]

#: Okabe & Ito's colour-blind-safe palette (the flag colours).
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
#: Categorical palette for labels and clusters: ten colours chosen (max-min search over an sRGB grid,
#: lightness J' 30-80 so points show on white, chroma >= 20) to stay apart under normal vision and
#: simulated deuteranomaly, protanomaly and tritanomaly at severity 100 (colorspacious): min pairwise
#: CAM02-UCS dE 18.0 with the unlabelled grey included (Okabe-Ito + glasbey_cool had 4.4).
CATEGORICAL = ["#e7b600", "#92c2ff", "#f36d6d", "#b66dff", "#867900", "#008692", "#b63161", "#9e0cce",
               "#005500", "#790061"]
UNLABELLED_COLOR = "#bbbbbb"
FLAG_COLORS = {NO_FLAG: "#c8c8c8", "mislabel": "#D55E00", "anomaly": "#CC79A7", "crossmatch": "#E69F00",
               "subclass": "#0072B2", "fine": "#009E73", "interesting": "#56B4E9"}
SCORE_CMAP = cc.CET_L17 if hasattr(cc, "CET_L17") else cc.fire  # light yellow -> dark red, CVD-readable
HOVER_MAX = 500
_SHADED: dict = {}  # (results, colour, projection, x range, y range) -> shaded image, shared by sessions
HIGHLIGHT_MAX = 2000  # larger selections are not outlined point by point (the box shows them)
UNLABELLED = "(none)"


def category_colors(categories) -> dict:
    """A colour per category: :data:`CATEGORICAL` first, then colorcet's glasbey; ``-1``/unlabelled in grey."""
    palette = CATEGORICAL + list(cc.glasbey)
    out, i = {}, 0
    for c in categories:
        if str(c) in ("-1", UNLABELLED):
            out[c] = UNLABELLED_COLOR
        else:
            out[c] = palette[i % len(palette)]
            i += 1
    return out


def map_frame(state: ExplorerState) -> pd.DataFrame:
    """The columns the map draws: ``x``, ``y``, ``id`` and the colour column (categorical or float).

    Shared by the sessions (one frame per colouring and projection) except the flag colouring, which
    is each session's own; the frame must not be modified.
    """
    if state.color_by == "flag":
        return _map_frame(state)
    return shared(state.results, ("map frame", state.color_by, state.projection), lambda: _map_frame(state))


def _map_frame(state: ExplorerState) -> pd.DataFrame:
    x, y = state.xy()
    r = state.results
    c = state.color_by
    if c == "label":    # categoricals, not one Python string per object (seconds at 10 million)
        col = pd.Series(pd.Categorical(r["label"])).cat.add_categories([UNLABELLED]).fillna(UNLABELLED)
        col = col.cat.rename_categories(lambda v: str(v))
    elif c == "cluster":
        col = pd.Series(pd.Categorical(r["cluster"].astype(int))).cat.rename_categories(lambda v: str(v))
    elif c == "flag":
        col = pd.Series(state.flag_status(), index=r.index).astype(str)
    else:
        col = r[c].astype(float)
    df = pd.DataFrame({"x": x, "y": y, "id": r["id"].array, c: col.array})   # .array: no copy to Python objects
    if c in CATEGORIES:
        cats = (list(FLAG_COLORS) if c == "flag" else
                sorted(pd.unique(df[c]), key=lambda v: (v in ("-1", UNLABELLED), _num(v), v)))
        df[c] = pd.Categorical(df[c], categories=cats)
    return df[np.isfinite(df["x"]) & np.isfinite(df["y"])]


def _num(v):
    try:
        return int(v)
    except ValueError:
        return 0


def shaded_map(df: pd.DataFrame, color_by: str, *, x_range=None, y_range=None, width=600, height=520):
    """Datashaded points: ``count_cat`` for categories, the highest score per pixel for scores.

    Returns an ``hv.RGB`` (rasterize + shade, wrapped in :func:`dynspread` so single points stay
    visible) whatever ``color_by`` is.
    """
    pts = hv.Points(df, kdims=["x", "y"], vdims=[color_by, "id"])
    kw = {}
    if x_range is not None:
        kw = {"x_range": tuple(x_range), "y_range": tuple(y_range)}
    from holoviews.operation.datashader import shade
    # Both branches return hv.RGB, so one DynamicMap can switch between them; the legend is ours.
    if color_by not in CATEGORIES:  # a score: its registry range is the colour scale
        agg = rasterize(pts, aggregator=ds.max(color_by), dynamic=False, width=width, height=height, **kw)
        img = shade(agg, cmap=list(SCORE_CMAP), clims=_score_range(color_by), cnorm="linear", min_alpha=120)
    else:
        cats = list(df[color_by].cat.categories)
        colors = FLAG_COLORS if color_by == "flag" else category_colors(cats)
        agg = rasterize(pts, aggregator=ds.count_cat(color_by), dynamic=False, width=width, height=height, **kw)
        img = shade(agg, color_key={k: colors[k] for k in cats}, min_alpha=120)
    return dynspread(img, threshold=0.6, max_px=3)


def _score_range(name: str) -> tuple[float, float]:
    entry = registry.REGISTRY.get(name)
    return tuple(float(v) for v in entry.range) if entry else (0.0, 1.0)


def selected_points(df: pd.DataFrame, rows) -> hv.Points:
    """The selected points, outlined (none when more than :data:`HIGHLIGHT_MAX`: the box shows them)."""
    sel = df.loc[df.index.intersection(rows)] if len(rows) and len(rows) <= HIGHLIGHT_MAX else df.iloc[:0]
    return hv.Points(sel, kdims=["x", "y"], vdims=["id"], label="selected").opts(
        fill_alpha=0, line_color="#000000", line_width=1, size=6, show_legend=False)


def focused_point(df: pd.DataFrame, focus_row=None) -> hv.Points:
    """The focused object as a large star (no point when nothing is focused)."""
    foc = df.loc[df.index.intersection([focus_row])] if focus_row is not None else df.iloc[:0]
    return hv.Points(foc, kdims=["x", "y"], vdims=["id"], label="focus").opts(
        marker="star", size=22, color="#000000", line_color="#ffffff", line_width=2, show_legend=False)


def highlight_points(df: pd.DataFrame, rows, focus_row=None):
    """Overlay of the selected points (outlined) and the focused object (a large marker)."""
    return selected_points(df, rows) * focused_point(df, focus_row)


def legend_html(state: ExplorerState, df: pd.DataFrame) -> str:
    """The map's own legend (Bokeh's is unusable with datashaded categories)."""
    c = state.color_by
    if c not in CATEGORIES:
        entry = registry.REGISTRY.get(c)
        name, desc = (entry.display, entry.description) if entry else (c.replace("_", " "), "")
        lo, hi = _score_range(c)
        stops = ", ".join(SCORE_CMAP[int(i)] for i in np.linspace(0, len(SCORE_CMAP) - 1, 6))
        return (f"<div class='legend' title='{html.escape(desc, quote=True)}'><b>{html.escape(name)}</b>"
                f"<div style='height:10px;background:linear-gradient(to right,{stops})'></div>"
                f"<span>{lo:g} (typical)</span><span style='float:right'>{hi:g} (suspicious)</span></div>")
    cats = list(df[c].cat.categories)
    counts = df[c].value_counts()
    colors = FLAG_COLORS if c == "flag" else category_colors(cats)
    items = "".join(
        f"<li><span class='swatch' style='display:inline-block;width:10px;height:10px;"
        f"background:{colors[k]};margin-right:4px'></span>{html.escape(str(k))} ({int(counts.get(k, 0))})</li>"
        for k in cats if counts.get(k, 0) or c == "flag")
    return f"<div class='legend'><b>{html.escape(c)}</b><ul style='list-style:none;padding-left:0;margin:0'>{items}</ul></div>"


def selection_count_html(n: int) -> str:
    """The line above the map: how many points are selected, or how to select some."""
    if n == 0:
        return ("<span class='count-hint'>Nothing selected: box- or lasso-select on the map to list "
                "objects below; click a point to inspect it.</span>")
    if n > TABLE_MAX:
        return (f"<span class='count'>{n:,} selected</span> <span class='count-hint'>(the table lists the first "
                f"{TABLE_MAX:,}; flags, export and SAMP take them all)</span>")
    return f"<span class='count'>{n:,} selected</span>"


class MapView(pn.viewable.Viewer):
    """The linked UMAP map of one session."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        self._df = map_frame(s)
        self._range = hv.streams.RangeXY()
        self._bounds = hv.streams.BoundsXY()
        self._lasso = hv.streams.Lasso()
        self._tap = hv.streams.Tap()
        self._redraw = hv.streams.Counter()
        self._remark = hv.streams.Counter()
        # the focus star is a plain Bokeh glyph added to the map's figure (a hook) and moved through its
        # data source: a focus sends two numbers, HoloViews does not re-render the overlay (~0.2 s)
        self._star_src = ColumnDataSource({"x": [], "y": []})
        self._last_shaded = None  # (key, image): the map is shaded once per view
        self._base = hv.DynamicMap(self._shaded, streams=[self._range, self._redraw])
        for st in (self._bounds, self._lasso, self._tap):
            st.source = self._base
        self._bounds.param.watch(lambda e: s.select_bounds(e.new), "bounds")
        self._lasso.param.watch(lambda e: s.select_lasso(e.new), "geometry")
        self._tap.param.watch(self._on_tap, ["x", "y"])
        self._marks = hv.DynamicMap(self._selected, streams=[self._remark])
        self._hover = hv.DynamicMap(self._hover_points, streams=[self._range])
        self._legend = pn.pane.HTML(legend_html(s, self._df), sizing_mode="stretch_width")
        # fixed height: the line changing from the hint to a count must not move the map or the table
        self._count = pn.pane.HTML(selection_count_html(0), sizing_mode="stretch_width", height=22,
                                   styles={"overflow": "hidden"}, css_classes=["selection-count"])
        self.overlay = (self._base * self._hover * self._marks).opts(
            hv.opts.Overlay(responsive=True, min_height=380, toolbar="above", show_legend=False,
                            hooks=[self._attach_star]))
        self._plot = pn.pane.HoloViews(
            self.overlay, sizing_mode="stretch_both", min_height=400, linked_axes=False, css_classes=["map-plot"])
        s.param.watch(self._recolor, ["color_by", "projection"])
        s.param.watch(lambda e: self._recolor() if s.color_by == "flag" else None, ["flags_version"])
        s.param.watch(self._mark, ["selection"])
        s.param.watch(self._move_star, ["focus"])
        self._move_star()

    # rendering -----------------------------------------------------------------------------------
    def _extent(self, x_range, y_range):
        if x_range is None or y_range is None or None in x_range:
            x, y = self._df["x"], self._df["y"]
            pad_x, pad_y = 0.02 * (x.max() - x.min() or 1), 0.02 * (y.max() - y.min() or 1)
            return (x.min() - pad_x, x.max() + pad_x), (y.min() - pad_y, y.max() + pad_y)
        return x_range, y_range

    def _shaded(self, x_range=None, y_range=None, **_):
        xr, yr = self._extent(x_range, y_range)
        # the first render asks with no range, the figure then reports the same extent: shade once; and
        # every new session opens on the same view: its image is shaded once per process (not by flag)
        c, proj = self.state.color_by, self.state.projection
        key = (self._redraw.counter, c, proj, tuple(xr), tuple(yr))
        if self._last_shaded is not None and self._last_shaded[0] == key:
            return self._last_shaded[1]
        shared = None if c == "flag" else (id(self.state.results), c, proj, tuple(xr), tuple(yr))
        hit = _SHADED.get(shared) if shared else None  # (results, image): the reference keeps the id unique
        img = hit[1] if hit is not None and hit[0] is self.state.results else None
        if img is None:
            img = shaded_map(self._df, c, x_range=xr, y_range=yr)
            if shared:
                _SHADED[shared] = (self.state.results, img)
                while len(_SHADED) > 8:
                    _SHADED.pop(next(iter(_SHADED)))
        img = img.opts(tools=["box_select", "lasso_select", "tap"], active_tools=["wheel_zoom"],
                        xlabel=f"UMAP 1 ({self.state.projection})", ylabel="UMAP 2", responsive=True,
                        min_height=380)
        self._last_shaded = (key, img)
        return img

    def _hover_points(self, x_range=None, y_range=None):
        xr, yr = self._extent(x_range, y_range)
        d = self._df
        inview = d[(d.x >= xr[0]) & (d.x <= xr[1]) & (d.y >= yr[0]) & (d.y <= yr[1])]
        if len(inview) > HOVER_MAX:
            inview = inview.iloc[:0]
        r = self.state.results.loc[inview.index]
        extra = {c: r[c].to_numpy() for c in ("label", "suggested_label", *self.state.scores) if c in r}
        data = inview[["x", "y", "id"]].assign(**extra)
        return hv.Points(data, kdims=["x", "y"], vdims=[c for c in data.columns if c not in ("x", "y")]).opts(
            tools=["hover"], alpha=0, size=8, nonselection_alpha=0, selection_alpha=0)

    def _selected(self, **_):
        return selected_points(self._df, self.state.selection)

    def _attach_star(self, plot, element):
        """HoloViews hook: add the focus star's glyph to the map's Bokeh figure (once)."""
        fig = plot.state
        if not any(getattr(r, "data_source", None) is self._star_src for r in fig.renderers):
            fig.scatter("x", "y", source=self._star_src, marker="star", size=22, color="#000000",
                        line_color="#ffffff", line_width=2)

    def _move_star(self, *_):
        s, d = self.state, self._df
        row = s.row_number(s.focus)
        at = d.index.get_indexer([row])  # the map frame leaves out objects without coordinates
        pts = d.iloc[at[at >= 0]]
        self._star_src.data = {"x": pts["x"].to_numpy(float), "y": pts["y"].to_numpy(float)}

    # events --------------------------------------------------------------------------------------
    def _recolor(self, *_):
        self._df = map_frame(self.state)
        self._legend.object = legend_html(self.state, self._df)
        self._redraw.event()
        self._remark.event()
        self._move_star()

    def _mark(self, *_):
        self._count.object = selection_count_html(len(self.state.selection))
        self._remark.event()

    def _on_tap(self, *_):
        x, y = self._tap.x, self._tap.y
        if x is None or y is None or not len(self._df):
            return
        d = self._df
        xr, yr = self._extent(self._range.x_range, self._range.y_range)
        dx = (d.x.to_numpy() - x) / max(xr[1] - xr[0], 1e-12)
        dy = (d.y.to_numpy() - y) / max(yr[1] - yr[0], 1e-12)
        i = int(np.argmin(dx * dx + dy * dy))
        if np.hypot(dx[i], dy[i]) < 0.03:
            self.state.focus_on(str(d["id"].iat[i]))

    @property
    def legend(self):
        return self._legend

    @property
    def count(self):
        return self._count

    def __panel__(self):
        return pn.Column(self._count, self._plot, sizing_mode="stretch_both", min_height=450)
