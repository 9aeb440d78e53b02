"""The HoloViews objects and widgets the explorer's views build (no browser)."""
from __future__ import annotations

import io

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from core.sky import LightCurve, Spectrum
from explorer.testing import flag_store_for, make_fake_workspace

hv.extension("bokeh", logo=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The workspace as the app loads it, with its own real store (WS/flags.sqlite)."""
    from explorer.data import load_workspace

    sky, ws = make_fake_workspace(tmp_path_factory.mktemp("explorer"), n=40, seed=3)
    return load_workspace(sky, ws, reload=True)


@pytest.fixture
def views(data, tmp_path):
    """Every view of one session, on a fresh real FlagStore (a temporary SQLite file)."""
    import dataclasses

    from explorer.app import build_views

    store = flag_store_for(tmp_path / "flags.sqlite", data.results)
    yield build_views(dataclasses.replace(data, flag_store=store), user="tester")
    store.close()


def test_dashboard_flags_carry_sky_and_model_fingerprints(data):
    """A decision made in the dashboard records the fingerprints of the sky and of results.parquet."""
    from core import schema
    from core.sky import open_sky
    from core.workspace import Workspace
    from explorer.app import build_views

    model_fp = Workspace(data.workspace_path, create=False).fingerprint(schema.RESULTS_FILE)
    assert model_fp  # the fake workspace records its results as the engine does
    assert data.flag_error is None and data.flag_store.path == data.workspace_path / schema.FLAGS_FILE
    state = build_views(data, user="provenance")["state"]
    state.flag("fine", "s00002")
    row = data.flag_store.current(user="provenance").iloc[0]
    assert row["model_fingerprint"] == model_fp
    assert row["sky_fingerprint"] == open_sky(data.sky_path).fingerprint


def _lc(period=0.5, n=200, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 300, n))
    return LightCurve("x", t, 12 + 0.3 * np.sin(2 * np.pi * t / period), np.full(n, 0.01), "mag")


def test_fold_phase_in_unit_interval():
    from explorer.views.inspector import fold_phase

    t = np.linspace(-10, 1000, 5000)
    ph = fold_phase(t, 0.37)
    assert ph.min() >= 0 and ph.max() < 1
    assert fold_phase(np.array([0.0, 0.25, 1.0]), 1.0).tolist() == [0.0, 0.25, 0.0]
    with pytest.raises(ValueError):
        fold_phase(t, 0)


def test_folded_and_raw_data():
    from explorer.views.figures import folded_data, lightcurve_data

    lc = _lc()
    folded = folded_data(lc, 0.5)
    assert set(folded) == {"x", "y", "lo", "hi"}
    assert folded["x"].min() >= 0 and folded["x"].max() < 1 and len(folded["x"]) == len(lc)
    assert np.allclose(folded["hi"] - folded["lo"], 2 * lc.error) and np.array_equal(folded["y"], lc.value)
    raw = lightcurve_data(lc)
    assert np.array_equal(raw["x"], lc.time) and np.allclose(raw["hi"] - raw["y"], lc.error)


def test_periodogram_finds_the_period_and_marks_it():
    from explorer.views.figures import InspectorFigures
    from explorer.views.inspector import periodogram

    p, power = periodogram(_lc(period=0.5), 0.1, 5.0, n=4000)
    assert abs(p[np.argmax(power)] - 0.5) < 0.01
    f = InspectorFigures()
    f.show_periodogram((p, power), 0.5)
    assert len(f.pg_src.data["period"]) == 4000 and f.pg_mark.location == 0.5
    assert (f.pg.x_range.start, f.pg.x_range.end) == pytest.approx((0.1, 5.0))
    f.show_periodogram(None, None)
    assert len(f.pg_src.data["period"]) == 0 and f.pg_mark.location is None


def test_spectrum_lines_marked():
    from explorer.views.figures import SPECTRAL_LINES, InspectorFigures, spectrum_data

    wl = np.linspace(3800, 9000, 500)
    parts = spectrum_data(Spectrum("x", wl, np.ones_like(wl), np.full_like(wl, 0.1)))
    assert list(parts) == ["curve", "bands", "lines"]
    texts = set(parts["lines"]["name"])
    assert {"H\u03b1", "H\u03b2", "Ca II K", "Ca II H", "Na D", "Ca II 8542"} <= texts
    assert len(parts["lines"]["x"]) == len(texts) == len(SPECTRAL_LINES)  # every line lies inside 3800-9000 A
    assert sorted(parts["lines"]["x"]) == sorted(SPECTRAL_LINES.values())
    assert len(parts["bands"]["left"]) == 7 and set(parts["bands"]["band"]) == {"TiO", "C2"}
    # a red-only spectrum shows no blue lines
    red = spectrum_data(Spectrum("y", np.linspace(6000, 9000, 100), np.ones(100), np.ones(100)))
    assert "Ca II K" not in red["lines"]["name"] and "H\u03b1" in red["lines"]["name"]
    f = InspectorFigures()  # the figure's sources receive exactly these columns
    f.show_spectrum(Spectrum("x", wl, np.ones_like(wl), np.full_like(wl, 0.1)))
    assert list(f.spec_src["lines"].data["name"]) == parts["lines"]["name"] and f.spec.title.text == "Spectrum"
    f.show_spectrum(None)
    assert len(f.spec_src["curve"].data["x"]) == 0 and f.spec.title.text == "No spectrum"


def test_metadata_frame_and_votes_escape():
    from explorer.views.inspector import metadata_frame, votes_html

    ranges = pd.DataFrame({"q05": [1.0], "median": [2.0], "q95": [3.0]},
                          index=pd.MultiIndex.from_tuples([("EW", "parallax")], names=["label", "column"]))
    f = metadata_frame(pd.Series({"parallax": 5.0, "bp_rp": 1.0}), "EW", ranges, ["parallax", "bp_rp"])
    assert f.set_index("column").loc["parallax", "outside"] != ""
    assert f.set_index("column").loc["parallax", "class q95"] == 3.0
    assert np.isnan(f.set_index("column").loc["bp_rp", "class q05"])
    from explorer.views.inspector import metadata_html
    table = metadata_html(f)
    assert table.count("<tr") == 3 and "<tr class='outside'><td>parallax</td><td><b>5</b></td><td>1</td>" in table
    html_ = votes_html(pd.Series({"vote_photometry": "<b>EW</b>", "vote_photometry_prob": 0.9,
                                  "suggested_label": "RRAB"}))
    assert "<b>EW</b>" not in html_ and "&lt;b&gt;EW&lt;/b&gt;" in html_


def test_map_builds_datashaded_pipeline(views):
    from explorer.views.map import map_frame, shaded_map

    state = views["state"]
    for color in ("label", "cluster", "outlier_score", "flag"):
        state.color_by = color
        df = map_frame(state)
        assert list(df.columns[:3]) == ["x", "y", "id"]
        el = shaded_map(df, color, x_range=(-2, 15), y_range=(-2, 8), width=100, height=80)
        assert isinstance(el, hv.RGB)
        assert el.kdims[0].name == "x" and el.kdims[1].name == "y"
    state.color_by = "label"
    assert str(map_frame(state)["label"].dtype) == "category"


def test_map_switches_colour_and_projection_when_rendered(views):
    mv, state = views["map"], views["state"]
    plot = hv.renderer("bokeh").get_plot(mv._base * mv._marks)
    from core.scores import REGISTRY

    for color in ("outlier_score", "label", "flag", "cluster", "crossmodal_score"):
        state.color_by = color  # must not raise (one DynamicMap, one element type)
        assert f"<b>{REGISTRY[color].display if color in REGISTRY else color}</b>" in mv.legend.object
    state.projection = "metadata"
    assert "metadata" in mv._shaded().opts.get("plot").kwargs["xlabel"]
    assert plot is not None


def test_map_legend_and_tools(views):
    mv = views["map"]
    plot = hv.renderer("bokeh").get_plot(mv._base * mv._marks)
    tools = {type(t).__name__ for t in plot.state.tools}
    assert {"BoxSelectTool", "LassoSelectTool", "TapTool"} <= tools
    assert "EW" in mv.legend.object and "RRAB" in mv.legend.object


def test_map_streams_select(views):
    mv, state = views["map"], views["state"]
    mv._bounds.event(bounds=(-1.5, -1.5, 1.5, 1.5))
    assert len(state.selection) > 0
    assert set(state.selected_frame()["label"].dropna()) == {"EW"}
    assert len(views["table"].table.value) == len(state.selection)
    mv._lasso.event(geometry=np.array([[2.0, -2], [6, -2], [6, 4], [2, 4]]))
    assert set(state.selected_frame()["label"].dropna()) == {"RRAB"}
    # a tap on a point focuses it
    r = state.results.iloc[5]
    mv._tap.event(x=r["umap_x"], y=r["umap_y"])
    assert state.focus == r["id"]


def test_focus_moves_the_star_glyph_not_the_holoviews_overlay(views):
    """The star is a Bokeh glyph on the map's figure; a focus sets its two coordinates, nothing re-renders."""
    mv, state = views["map"], views["state"]
    plot = hv.renderer("bokeh").get_plot(mv.overlay)
    stars = [r for r in plot.state.renderers if getattr(r, "data_source", None) is mv._star_src]
    assert len(stars) == 1 and stars[0].glyph.marker == "star"
    state.select_ids(["s00001", "s00002"])
    marks = mv._remark.counter
    state.focus_on("s00003")
    r = state.results.set_index("id").loc["s00003"]
    assert list(mv._star_src.data["x"]) == [r["umap_x"]] and list(mv._star_src.data["y"]) == [r["umap_y"]]
    assert mv._remark.counter == marks and len(mv._selected()) == 2
    state.projection = "spectra"  # the star follows the projection
    assert list(mv._star_src.data["x"]) == [r["umap_x_spectra"]]
    plot.update(0)  # a HoloViews re-render keeps one star
    assert sum(getattr(x, "data_source", None) is mv._star_src for x in plot.state.renderers) == 1


def test_highlight_marks_selection_and_focus(views):
    from explorer.views.map import highlight_points, map_frame

    state = views["state"]
    df = map_frame(state)
    ov = highlight_points(df, np.array([0, 1, 2]), focus_row=4)
    sel, foc = ov.get(0), ov.get(1)
    assert len(sel) == 3 and list(foc.dimension_values("id")) == [state.results["id"].iloc[4]]


def _table_setup(model) -> tuple:
    """What makes the browser's Tabulator rebuild itself when it changes (all but the data)."""
    return (repr(model.configuration), model.layout, model.pagination, model.page_size,
            [(c.field, type(c.formatter).__name__, repr(c.formatter.properties_with_values())) for c in model.columns])


def test_selection_changes_only_the_tables_data(views):
    """The empty-table bug: a selection must not change the Tabulator's configuration or columns.

    The empty frame's ``flag`` column was float64 and a selection's str, so the first selection (and
    every return to an empty one) changed ``configuration`` (the flag column's number sorter), sent
    before the rows. The browser rebuilds its Tabulator 20 ms after a configuration change, and rows
    arriving while it builds are dropped (``setData`` returns early): when the server took longer
    than that to send the rows, the table stayed empty (header only, no pager).
    """
    from bokeh.document import Document

    state, table = views["state"], views["table"].table
    model = table.get_root(Document())
    empty = _table_setup(model)
    for bounds in ((-100, -100, 100, 100), (-1.5, -1.5, 1.5, 1.5), None, (2.0, -2.0, 6.0, 4.0)):
        state.select_bounds(bounds)
        assert len(table.value) == len(state.selection)
        assert _table_setup(model) == empty
    assert len(model.source.data["id"]) == min(15, len(state.selection)) > 0  # remote pagination: one page


def test_table_click_focuses(views):
    state, table = views["state"], views["table"]
    state.select_ids(["s00003", "s00010"])
    from types import SimpleNamespace
    table._clicked(SimpleNamespace(row=1))
    assert state.focus == "s00010"


def test_inspector_draws_on_focus(views):
    state, insp = views["state"], views["inspector"]
    state.focus_on("s00001")  # RRAB, period ~0.55, has a spectrum
    f = insp.figures
    ph = np.asarray(f.folded_src.data["x"])
    assert len(ph) == len(insp._lc) and ph.min() >= 0 and ph.max() < 1
    assert state.fold_period == pytest.approx(insp.data.sky.objects.set_index("id").loc["s00001", "period"])
    assert f.folded.title.text == f"Folded at P = {state.fold_period:.6g} d"
    p0 = state.fold_period
    insp._scale(2.0)
    assert state.fold_period == pytest.approx(2 * p0)
    assert f.folded.title.text == f"Folded at P = {2 * p0:.6g} d"
    insp._scale(0.5)
    assert len(f.spec_src["lines"].data["x"]) > 0  # lines marked on this object's spectrum
    assert "s00001" in insp._title.object
    assert set(insp.meta_frame["column"]) >= {"period", "parallax"}
    assert "<td>parallax</td>" in insp._meta.object
    # neighbours: core.analysis.similar needs an index this fake workspace lacks -> a clear message
    assert insp._neigh.objects


def test_inspector_figures_are_built_once_and_only_their_data_changes(views):
    """A focus assigns new data to the same Bokeh figures and sources; nothing is rebuilt."""
    from bokeh.document import Document

    state, insp = views["state"], views["inspector"]
    f = insp.figures
    models = [f.raw, f.folded, f.pg, f.spec, f.raw_src, f.folded_src, f.pg_src, *f.spec_src.values()]
    root = insp.__panel__().get_root(Document())
    assert {id(m) for m in models} <= {id(m) for m in root.references()}
    for oid in ("s00001", "s00002", "s00005"):
        state.focus_on(oid)
        assert [f.raw, f.folded, f.pg, f.spec] == models[:4]
        assert np.array_equal(f.raw_src.data["x"], insp._lc.time)
    assert [id(m) for m in (f.raw, f.folded, f.pg, f.spec, f.raw_src, f.folded_src, f.pg_src)] == \
        [id(m) for m in models[:7]]


def test_periodogram_only_while_its_panel_is_open(views):
    state, insp = views["state"], views["inspector"]
    f = insp.figures
    state.focus_on("s00001")  # has a catalogue period: no periodogram needed to fold
    assert insp._pg_card.collapsed and insp._pgram is None and len(f.pg_src.data["period"]) == 0
    insp._pg_card.collapsed = False  # opening the panel computes it for the focused object
    assert insp._pgram is not None and len(f.pg_src.data["period"]) == 3000
    assert f.pg_mark.location == pytest.approx(state.fold_period)
    state.focus_on("s00002")  # while open, every focus draws it
    assert len(f.pg_src.data["period"]) == 3000 and "s00002" in insp._pgrams
    insp._pg_card.collapsed = True
    state.focus_on("s00005")
    assert "s00005" not in insp._pgrams and len(f.pg_src.data["period"]) == 0
    insp._best()  # "LS peak" computes it when needed, closed or not
    periods, power = insp._pgrams["s00005"]
    assert state.fold_period == periods[np.argmax(power)]


def test_periodogram_click_folds_at_the_clicked_period(views):
    from bokeh.events import Tap

    state, insp = views["state"], views["inspector"]
    state.focus_on("s00001")
    insp.figures.pg._trigger_event(Tap(insp.figures.pg, x=0.731, y=0.2))
    assert state.fold_period == pytest.approx(0.731)
    assert insp.figures.folded.title.text == "Folded at P = 0.731 d" and insp.figures.pg_mark.location == 0.731
    state.fold_period = 1.25  # the state's period is what the inspector folds at
    assert insp.figures.folded.title.text == "Folded at P = 1.25 d" and insp.figures.pg_mark.location == 1.25


def test_review_queue_prefetches_the_next_suspects(views):
    from explorer.views.review import PREFETCH

    rv, state, insp = views["review"], views["state"], views["inspector"]
    rv.rebuild()
    assert state.upcoming == rv.queue[1:1 + PREFETCH]
    insp._prefetching.result(timeout=30)
    cached = insp.data._objects
    assert set(state.upcoming) <= set(cached)
    nxt = state.upcoming[0]
    obj = cached[nxt]
    rv.act("skip")
    assert state.focus == nxt and insp._obj is obj  # drawn from what was read ahead
    assert state.upcoming == rv.queue[2:2 + PREFETCH]


def test_object_data_by_index(data):
    from explorer.data import lightcurve_period, object_data

    objects = data.sky.objects
    for oid in ("s00000", "s00013", objects["id"].iloc[-1]):
        obj = object_data(data, oid)
        assert obj.meta["id"] == oid and obj.lightcurve.id == oid
        assert obj.period == pytest.approx(objects.set_index("id").loc[oid, "period"])
        assert lightcurve_period(data, oid) == obj.period and object_data(data, oid) is obj
    assert data.meta_row("nope") is None


def test_inspector_neighbours_with_fake_similar(views, monkeypatch):
    import core.analysis

    def fake_similar(ws, oid, k=10, *, modality="fused", target=None):
        return pd.DataFrame({"rank": [1, 2], "id": ["s00002", "s00006"], "label": ["M", "M"],
                             "similarity": [0.9, 0.8], "distance": [0.1, 0.2]})

    monkeypatch.setattr(core.analysis, "similar", fake_similar)
    state, insp = views["state"], views["inspector"]
    state.focus_on("s00002")
    insp._tabs.active = 1  # neighbours load when their tab is shown
    import panel as pn
    buttons = [w for row in insp._neigh for w in row if isinstance(w, pn.widgets.Button)]
    assert [b.name for b in buttons] == ["s00002", "s00006"]
    buttons[1].clicks += 1
    assert state.focus == "s00006"


def test_missing_similar_is_reported(monkeypatch):
    from explorer.views.inspector import call_optional

    res, err = call_optional("core.analysis", "no_such_function")
    assert res is None and "not available" in err


def test_cluster_composition(views):
    from explorer.views.clusters import cluster_composition, composition_bars

    res = views["state"].results
    comp = cluster_composition(res)
    assert set(comp["cluster"]) == set(res["cluster"])
    assert comp["size"].sum() == len(res)
    assert comp.set_index("cluster").loc[0, "majority"] == "EW"
    bars = composition_bars(res)
    assert [d.name for d in bars.kdims] == ["cluster", "label"]
    from types import SimpleNamespace
    cv = views["clusters"]
    cv._clicked(SimpleNamespace(row=0))
    c = int(cv.table.value["cluster"].iloc[0])
    assert (res["cluster"].to_numpy()[views["state"].selection] == c).all()


def test_review_queue_starts_focused_on_its_first_suspect(views):
    """The queue says "1 / N": the inspector shows that object at once, without a key press."""
    rv, state, insp = views["review"], views["state"], views["inspector"]
    assert rv.current is not None and rv.info.object.startswith("<b>1 / ")
    assert state.focus == rv.current
    assert rv.current in insp._title.object and "Focus an object" not in insp._title.object


def test_review_queue_and_decisions(views):
    from explorer.views.review import review_queue

    res = views["state"].results
    q = review_queue(res, "mislabel_score", {})
    scores = res.set_index("id").loc[q, "mislabel_score"].to_numpy()
    assert (np.diff(scores) <= 0).all() and np.isfinite(scores).all()
    assert q[0] not in review_queue(res, "mislabel_score", {q[0]: "fine"})
    rv, state = views["review"], views["state"]
    rv.rebuild()
    first = rv.current
    assert state.focus == first and state.review_position == 0 and state.review_ids[0] == first
    rv.keys.key, rv.keys.count = "a", rv.keys.count + 1  # keyboard: accept suggested
    assert state.flags[first] == "mislabel" and state.review_position == 1
    cur = state.current_flags().set_index("id")
    assert cur.loc[first, "proposed_label"] == res.set_index("id").loc[first, "suggested_label"]
    second = rv.current
    assert second == state.review_current == state.review_ids[1]
    rv.act("skip")
    assert second not in state.flags and rv.current != second and state.review_position == 2
    rv.act("back")
    assert state.review_position == 1 and state.focus == second
    rv.act("anomaly")
    assert "anomaly" in state.flags.values() and state.review_position == 2
    rv.rebuild()
    assert first not in state.review_ids and state.review_position == 0


def test_review_score_is_state(views):
    """Choosing the queue's score in the state rebuilds the queue and focuses its first suspect."""
    from explorer.views.review import review_queue

    rv, state = views["review"], views["state"]
    other = [n for n in state.scores if n != state.review_score][0]
    state.review_position = 3
    state.review_score = other
    assert state.review_ids == review_queue(state.results, other, state.flags)
    assert state.review_position == 0 and state.focus == state.review_ids[0] == rv.current


NOTE = "<img src=x onerror=alert(1)> & *not bold* &lt;"


def _shown_text(fragment_html: str, css_class: str) -> str:
    """The text a browser shows for the element of ``css_class`` in an HTML fragment (no child tags allowed)."""
    import html
    import re

    m = re.search(rf"<span class='{css_class}'>([^<]*)</span>", fragment_html)
    assert m, f"no {css_class} element holding only text in {fragment_html!r}"
    return html.unescape(m.group(1))


def test_flags_table_shows_notes_as_typed_never_as_html(views):
    """The value is not pre-escaped; the column's formatter is Tabulator's plaintext, which escapes."""
    fv, state = views["flags"], views["state"]
    state.focus_on("s00004")
    state.note = NOTE
    assert fv.note.value == NOTE == views["review"].note.value  # one note, shown by both flag controls
    fv.flag("anomaly")
    assert fv.table.value.loc[0, "note"] == NOTE and state.note == "" and fv.note.value == ""
    for col in ("id", "kind", "proposed_label", "subclass", "note", "user"):  # every free-text column
        assert fv.table.formatters[col] == {"type": "plaintext"}


def test_inspector_and_review_show_notes_as_typed(views):
    """The inspector's flag line and the review queue show the note's text, escaped exactly once."""
    state, insp, rv = views["state"], views["inspector"], views["review"]
    first = rv.current
    rv.note.value = NOTE  # typing in the review's input sets the state's note
    assert state.note == NOTE
    rv.act("anomaly")
    assert state.note == ""
    rv.act("back")
    assert rv.current == first and state.focus == first
    assert _shown_text(rv.info.object, "flag-note") == NOTE
    assert _shown_text(insp._why.object, "flag-note") == NOTE
    assert "<img" not in rv.info.object and "<img" not in insp._why.object


def test_flags_view_exports(views):
    fv, state = views["flags"], views["state"]
    state.focus_on("s00004")
    state.note = NOTE
    fv.flag("anomaly")
    for fmt in ("csv", "ecsv", "votable"):
        fv.export_format = fmt
        payload = fv._export()
        assert isinstance(payload, io.BytesIO)
        assert b"s00004" in payload.getvalue()
    assert fv.download.filename == "flags.xml"
    fv.export_format = "csv"
    rows = pd.read_csv(fv._export())
    assert rows["id"].tolist() == ["s00004"] and rows["kind"].tolist() == ["anomaly"]


def test_subclasses_view_with_fake(views, monkeypatch):
    import core.analysis
    from core.analysis.subclasses import SubclassResult, Subgroup

    ids = views["state"].results.query("label == 'M'")["id"].tolist()

    def fake(ws, label="M", *, sky=None, **kw):
        a = pd.DataFrame({"id": ids, "subgroup": [i % 2 for i in range(len(ids))],
                          "x": np.arange(len(ids), dtype=float), "y": np.zeros(len(ids))})
        eff = pd.DataFrame({"column": ["bp_rp"], "cohens_d": [1.5], "mean_in": [1.0], "mean_out": [0.5]})
        groups = [Subgroup(g, int((a.subgroup == g).sum()), eff, np.linspace(0, 1, 10), np.zeros(10), 3,
                           np.linspace(4000, 9000, 20), np.ones(20), 2) for g in (0, 1)]
        return SubclassResult(label, a, groups)

    monkeypatch.setattr(core.analysis, "subclasses", fake)
    sv = views["subclasses"]
    sv.label.value = "M"
    sv.compute()
    assert sv.group.options == [0, 1]
    sv.group.value = 1
    sv.tag.value = "C-rich"
    sv.tag_group()
    members = ids[1::2]
    assert {views["state"].flags[i] for i in members} == {"subclass"}
    cur = views["state"]._store.current().set_index("id")
    assert set(cur.loc[members, "subclass"]) == {"C-rich"}


def test_data_loaded_once(data):
    from explorer.data import load_workspace

    assert load_workspace(data.sky_path, data.workspace_path) is data


def test_serve_command_binds_localhost(tmp_path):
    from core.cli import serve

    (tmp_path / "sky").mkdir()
    args = serve_args(sky=str(tmp_path / "sky"), port=5099)
    cmd = serve.command(args)
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1"
    assert "--warm" in cmd[:cmd.index("--args")]
    assert cmd[cmd.index("--args"):] == ["--args", "--sky", str(tmp_path / "sky"), "--workspace",
                                         str(tmp_path / "sky-workspace"), "--preset", "cpu"]
    cmd = serve.command(serve_args(sky=str(tmp_path / "sky"), checkpoint="m.pt", preset="tiny"))
    assert cmd[-4:] == ["--preset", "tiny", "--checkpoint", "m.pt"]
    from core.errors import AstroM3Error
    with pytest.raises(AstroM3Error):
        serve.command(serve_args(sky=str(tmp_path / "nope")))


def serve_args(**kw):
    """``astrom3 serve`` arguments as the parser gives them."""
    from core.cli import build_parser

    ns = build_parser().parse_args(["serve", kw.pop("sky")])
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_inspector_plots_follow_the_focused_object(views):
    """The figures' ranges follow each new object (they start empty, on 0..1)."""
    state, insp = views["state"], views["inspector"]
    f = insp.figures
    insp._pg_card.collapsed = False
    for oid in ("s00001", "s00002"):
        state.focus_on(oid)
        lc, spec = insp._lc, insp._obj.spectrum
        x = f.raw.x_range
        assert x.start <= lc.time.min() and x.end >= lc.time.max() and x.end - x.start < 2 * np.ptp(lc.time)
        y = f.raw.y_range
        assert min(y.start, y.end) <= lc.value.min() and max(y.start, y.end) >= lc.value.max()
        assert y.start > y.end                                   # magnitudes: brighter up
        assert f.folded.y_range.start > f.folded.y_range.end
        assert -0.1 < f.folded.x_range.start <= 0 and 1 <= f.folded.x_range.end <= 1.1
        assert f.pg.x_range.end > 1.0                            # periods beyond the empty plot's 0..1
        s = f.spec.x_range
        assert s.start <= spec.wavelength.min() + 1 and s.end >= spec.wavelength.max() - 1 and s.end > 1000
        assert (f.raw.x_range.reset_start, f.raw.x_range.reset_end) == (x.start, x.end)  # reset goes there too


def test_tabs_after_explore_are_built_when_first_opened(data, tmp_path):
    """Clusters, Subclasses and Flags & export are built the first time their tab is shown, once."""
    import dataclasses

    import panel as pn

    from explorer.app import LAZY_TABS, _explorer_main

    store = flag_store_for(tmp_path / "flags.sqlite", data.results)
    try:
        tabs, v = _explorer_main(dataclasses.replace(data, flag_store=store), pn.Column())
        assert list(tabs._names) == ["Explore", *LAZY_TABS]
        assert {"clusters", "subclasses", "flags"} <= set(v)  # every view is named, built or not
        assert not v.built("clusters") and not v.built("subclasses") and v["flags"]._table is None
        assert [len(tabs[i]) for i in (1, 2, 3)] == [0, 0, 0]
        v["state"].flag("fine", "s00003")  # a flag before its table exists: read when it is built
        tabs.active = 1
        assert v.built("clusters") and not v.built("subclasses") and len(tabs[1]) == 1
        shown = tabs[1][0]
        tabs.active = 3
        assert v["flags"]._table is not None and len(tabs[3]) == 1
        assert v["flags"].table.value["id"].tolist() == ["s00003"]
        v["state"].flag("anomaly", "s00004")  # a built table follows the flags
        assert set(v["flags"].table.value["id"]) == {"s00003", "s00004"}
        tabs.active = 1
        tabs.active = 2
        assert tabs[1][0] is shown and v.built("subclasses") and len(tabs[2]) == 1
    finally:
        store.close()


def test_served_document_holds_every_model_of_its_roots(data):
    """The template adds its roots under one freeze: the document still knows every model (no walk lost)."""
    from bokeh.document import Document
    from bokeh.models import Tabs
    from panel.io.state import set_curdoc

    from explorer.app import ExplorerTemplate, build_app

    doc = Document()
    with set_curdoc(doc):
        tmpl = build_app(data.sky_path, data.workspace_path)
        assert isinstance(tmpl, ExplorerTemplate)
        tmpl.server_doc(doc)
    known = {m.id for m in doc.models}
    assert doc.roots and all({m.id for m in r.references()} <= known for r in doc.roots)
    tabs = [m for m in doc.models if isinstance(m, Tabs)]
    assert ["Explore", "Clusters", "Subclasses", "Flags & export"] in [[p.title for p in t.tabs] for t in tabs]
    assert all(m.document is doc for m in doc.models)  # attached, so later changes reach the browser


def test_inspector_waits_for_the_page_in_a_server_session(views, data, monkeypatch):
    """In a served session the inspector (figures and all) is shown once the page is loaded (outside one, at once)."""
    import panel as pn

    from explorer.state import ExplorerState
    from explorer.views.inspector import Inspector

    assert views["inspector"]._figures is not None  # no server: onload runs at once
    deferred = []  # what a server does with onload callbacks: run them once the page says it is drawn
    monkeypatch.setattr(pn.state, "onload", lambda cb, threaded=False: deferred.append(cb))
    insp = Inspector(state=ExplorerState(data.results), data=data)  # nothing focused yet
    assert insp._figures is None and [type(o) for o in insp.__panel__()] == [pn.Spacer] and deferred
    for cb in deferred:
        cb()
    shown = list(insp.__panel__())
    assert insp._figures is not None and shown[0] is insp._title and insp._raw in shown and shown[-1] is insp._tabs
    assert insp._pg_card.objects[0].object is insp.figures.pg
