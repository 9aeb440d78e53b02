"""The explorer reads core.scores: a registered headline score shows up everywhere, older results lack some."""
from __future__ import annotations

import dataclasses

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from core import scores
from core.scores import Score
from explorer.state import ExplorerState, color_options, headline_scores
from explorer.testing import fake_results

hv.extension("bokeh", logo=False)

DESC = "a <test> score & its tooltip"


def _results(n=40, seed=2):
    ids = [f"o{i}" for i in range(n)]
    labels = [("EW", "RRAB", "M", "SR")[i % 4] for i in range(n)]
    return fake_results(ids, labels, seed=seed)


@pytest.fixture
def extra_score():
    """A headline score registered for one test (and its part), removed afterwards whatever happens."""
    scores.register(Score("test_score", DESC, target="anomalies", headline=True, label="test", range=(0.0, 10.0)))
    scores.register(Score("test_score_part", "a part of it", target="anomalies", part_of="test_score"))
    try:
        yield "test_score"
    finally:
        scores.unregister("test_score")
        scores.unregister("test_score_part")


def test_a_registered_headline_score_reaches_every_option(extra_score, tmp_path):
    from explorer.views.map import MapView, legend_html, map_frame
    from explorer.views.review import ReviewView
    from explorer.views.table import SelectionTable, filter_widgets

    res = _results()
    res["test_score"] = np.linspace(0.0, 10.0, len(res))
    res["test_score_part"] = 0.5
    state = ExplorerState(res, user="tester")
    assert state.scores == ("mislabel_score", "outlier_score", "crossmodal_score", "test_score")
    assert "test_score" in state.param.color_by.objects and color_options(res)[-2] == "test_score"
    assert state.score_ranges["test_score"] == (0.0, 10.0)
    # filter: the slider spans the registry's range and drives the state's mask
    sliders = {w.css_classes[0]: w for w in filter_widgets(state) if "range-" in " ".join(w.css_classes or [])}
    slider = sliders["range-test_score"]
    assert (slider.start, slider.end) == (0.0, 10.0) and slider.label == "test range"
    slider.value = (5.0, 10.0)
    assert state.score_ranges["test_score"] == (5.0, 10.0)
    state.select_ids(res["id"])
    assert (state.selected_frame()["test_score"] >= 5.0).all()
    assert len(state.selected_frame()) == (res["test_score"] >= 5.0).sum() < len(res)
    state.set_score_range("test_score", (0.0, 10.0))
    assert slider.value == (0.0, 10.0)
    # table: a column with a bar over its range and the description as header tooltip
    table = SelectionTable(state=state).table
    assert "test_score" in table.value.columns
    assert table.formatters["test_score"]["max"] == 10.0 and table.header_tooltips["test_score"] == DESC
    # map colour-by and its legend
    state.color_by = "test_score"
    MapView(state=state)._shaded()
    legend = legend_html(state, map_frame(state))
    assert "<b>test</b>" in legend and "10 (suspicious)" in legend and "&lt;test&gt;" in legend
    # review queue ranks by it
    rv = ReviewView(state=state)
    assert "test_score" in state.param.review_score.objects
    buttons = [w for w in rv.__panel__()[0] if hasattr(w, "options")][0]
    assert buttons.options["test"] == "test_score" and buttons.options["cross-modal"] == "crossmodal_score"
    state.review_score = "test_score"
    assert state.review_ids[0] == res["id"].iloc[-1] and "by test" in rv.info.object


def test_why_flagged_lists_headline_scores_with_their_parts(extra_score):
    from explorer.data import class_ranges, score_columns
    from explorer.views.inspector import why_flagged_html

    res = _results()
    res["test_score"], res["test_score_part"] = 9.0, 0.25
    assert score_columns()[-2:] == ["test_score", "test_score_part"]
    ranges = class_ranges(res, [c for c in score_columns() if c in res])
    html_ = why_flagged_html(res.iloc[0], ranges)
    for name in ("mislabel_score", "outlier_score", "crossmodal_score", "test_score", *scores.parts_of("outlier_score"),
                 "test_score_part"):
        assert f"class='score-{name}'" in html_
    # a part is listed inside its headline score's item
    item = html_[html_.index("class='score-test_score'"):]
    assert item.index("<ul class='why-parts'><li class='score-test_score_part'") < item.index("</ul></li>")
    assert "test: 9.00" in html_ and "title='a &lt;test&gt; score &amp; its tooltip'" in html_


def test_only_scores_in_the_results_are_shown():
    """Older results lack some scores (and parts, and outlier_why): they are left out, nothing breaks."""
    from explorer.views.inspector import why_flagged_html
    from explorer.views.review import ReviewView
    from explorer.views.table import filter_widgets

    res = _results().drop(columns=["crossmodal_score", "outlier_own_class", "outlier_catalogue", "outlier_why"])
    state = ExplorerState(res)
    assert state.scores == headline_scores(res) == ("mislabel_score", "outlier_score")
    assert "crossmodal_score" not in state.param.color_by.objects
    assert set(state.score_ranges) == {"mislabel_score", "outlier_score"}
    assert "crossmodal_score" not in state.selected_frame().columns
    assert len([w for w in filter_widgets(state) if "range-" in " ".join(w.css_classes or [])]) == 2
    assert ReviewView(state=state).state.param.review_score.objects == ["mislabel_score", "outlier_score"]
    html_ = why_flagged_html(res.iloc[0], pd.DataFrame(columns=["q05", "median", "q95"]))
    assert "score-crossmodal" not in html_ and "score-outlier_own_class" not in html_
    assert "score-outlier_knn" in html_ and "outlier-why" not in html_


@pytest.mark.parametrize("why", ["", None, np.nan])
def test_empty_or_missing_outlier_why_adds_no_sentence(why):
    from explorer.views.inspector import why_flagged_html

    row = _results().iloc[0].copy()
    row["outlier_why"] = why
    assert "outlier-why" not in why_flagged_html(row, pd.DataFrame(columns=["q05", "median", "q95"]))


def test_outlier_why_is_shown_first_and_as_typed():
    import html
    import re

    from explorer.views.inspector import why_flagged_html

    typed = "period 12.0 d: 41 MAD above the RRAB median 0.583 d <img src=x onerror=alert(1)> & co"
    row = _results().iloc[0].copy()
    row["outlier_why"] = typed
    out = why_flagged_html(row, pd.DataFrame(columns=["q05", "median", "q95"]))
    m = re.match(r"<p class='why-sentence'><span class='outlier-why'>([^<]*)</span></p><ul class='why'>", out)
    assert m and html.unescape(m.group(1)) == typed and "<img" not in out


def test_inspector_shows_the_why_sentence_of_the_focused_object(tmp_path):
    from explorer.app import build_views
    from explorer.data import load_workspace
    from explorer.testing import make_fake_workspace

    data = load_workspace(*make_fake_workspace(tmp_path, n=40, seed=3), reload=True)
    oid = data.results.loc[data.results["outlier_why"] != "", "id"].iloc[0]
    sentence = data.results.set_index("id").loc[oid, "outlier_why"]
    v = build_views(dataclasses.replace(data, flag_store=None), user="tester")
    v["state"].focus_on(oid)
    assert f"<span class='outlier-why'>{sentence}</span>" in v["inspector"]._why.object
