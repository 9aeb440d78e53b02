"""What sessions share at survey scale (issue 14): one id index and one map frame per results table,
the review queue's partial sort equal to the full one, the table's flag column without a row loop."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.state import ExplorerState
from explorer.testing import fake_results, flag_store_for


@pytest.fixture
def results():
    ids = [f"o{i}" for i in range(300)]
    labels = [("EW", "RRAB", "M", "SR")[i % 4] if i % 10 != 9 else None for i in range(300)]
    return fake_results(ids, labels, seed=3)


def test_sessions_share_the_id_index_and_map_frames(results):
    import holoviews as hv
    hv.extension("bokeh")
    from explorer.views.map import map_frame

    a, b = ExplorerState(results), ExplorerState(results)
    assert a._index is b._index
    assert map_frame(a) is map_frame(b)                       # the label colouring, shared
    b.color_by = "cluster"
    assert map_frame(b) is not map_frame(a) and str(map_frame(b)["cluster"].dtype) == "category"
    other = results.copy()
    assert ExplorerState(other)._index is not a._index        # another results table, its own
    a.color_by = b.color_by = "flag"
    assert map_frame(a) is not map_frame(b)                   # each session's own flags


@pytest.mark.parametrize("limit", [1, 7, 50, 400])
def test_review_queue_matches_a_stable_sort_of_the_whole_column(results, limit):
    from explorer.views.review import review_queue

    res = results.copy()
    v = np.round(res["outlier_score"].to_numpy(), 1)          # many ties
    v[::13] = np.nan
    res["outlier_score"] = v
    decided = {"o5", "o17", "o250", "nowhere"}
    order = np.argsort(-np.where(np.isfinite(v), v, -np.inf), kind="stable")
    order = order[np.isfinite(v[order])]
    expected = [i for i in res["id"].to_numpy()[order] if i not in decided][:limit]
    assert review_queue(res, "outlier_score", decided, limit=limit) == expected
    assert review_queue(res.assign(outlier_score=np.nan), "outlier_score", decided, limit=limit) == []


def test_flag_column_of_the_selection_names_each_rows_flag(results, tmp_path):
    store = flag_store_for(tmp_path / "flags.sqlite", results)
    try:
        state = ExplorerState(results, flag_store=store, user="tester")
        state.flag("anomaly", "o4")
        state.flag("fine", "o9")
        state.select_ids(["o3", "o4", "o9", "o10"])
        frame = state.selected_frame()
        assert dict(zip(frame["id"], frame["flag"])) == {"o3": "", "o4": "anomaly", "o9": "fine", "o10": ""}
        state.select_ids([])
        empty = state.selected_frame()
        assert list(empty["flag"]) == [] and empty["flag"].dtype == frame["flag"].dtype   # the same column setup
    finally:
        store.close()


def test_a_huge_selection_lists_its_first_rows_and_says_so(results, monkeypatch):
    import holoviews as hv
    hv.extension("bokeh")
    from explorer.views import map as map_view
    from explorer.views import table as table_view

    monkeypatch.setattr(table_view, "TABLE_MAX", 50)
    monkeypatch.setattr(map_view, "TABLE_MAX", 50)
    state = ExplorerState(results)
    table, view = table_view.SelectionTable(state=state), map_view.MapView(state=state)
    state.select_ids(results["id"][::2])                       # 150 rows selected
    assert list(table.table.value["id"]) == list(results["id"][::2][:50])
    assert "150 selected" in view.count.object and "first 50" in view.count.object
    assert len(state.selected_ids) == 150                      # flags and export take the whole selection
    state.select_ids(results["id"][:20])
    assert len(table.table.value) == 20 and "first" not in view.count.object


def test_map_frame_categories_are_the_labels_and_clusters_as_text(results):
    import holoviews as hv
    hv.extension("bokeh")
    from explorer.views.map import UNLABELLED, map_frame

    state = ExplorerState(results)
    frame = map_frame(state)
    expected = results["label"].astype(object).where(results["label"].notna(), UNLABELLED).astype(str)
    assert frame["label"].astype(str).tolist() == expected.tolist()
    assert list(frame["label"].cat.categories)[-1] == UNLABELLED and frame["id"].tolist() == results["id"].tolist()
    state.color_by = "cluster"
    frame = map_frame(state)
    assert frame["cluster"].astype(str).tolist() == results["cluster"].astype(int).astype(str).tolist()
    assert list(frame["cluster"].cat.categories)[-1] == "-1"    # noise last, in grey


def test_shared_values_go_with_their_results_table(results):
    import gc

    from explorer.state import _SHARED, shared

    other = results.copy()
    made = []
    assert shared(other, "k", lambda: made.append(1) or "v") == "v"
    assert shared(other, "k", lambda: made.append(1) or "w") == "v" and made == [1]
    key = id(other)
    assert key in _SHARED
    del other
    gc.collect()
    assert key not in _SHARED                                  # a reloaded workspace does not keep the old table
