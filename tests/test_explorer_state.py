"""ExplorerState: selection from bounds and lasso, filters, focus, flags -> state."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.state import ExplorerState, points_in_polygon
from explorer.testing import fake_results, flag_store_for


@pytest.fixture
def results():
    ids = [f"o{i}" for i in range(40)]
    labels = [("EW", "RRAB", "M", "SR")[i % 4] if i % 10 != 9 else None for i in range(40)]
    return fake_results(ids, labels, seed=1)


@pytest.fixture
def store(results, tmp_path):
    """A real FlagStore on a temporary SQLite file."""
    s = flag_store_for(tmp_path / "flags.sqlite", results)
    yield s
    s.close()


@pytest.fixture
def state(results, store):
    return ExplorerState(results, flag_store=store, user="tester")


def test_points_in_polygon_square_and_triangle():
    x = np.array([0.5, 1.5, 0.1, 0.9, -0.1])
    y = np.array([0.5, 0.5, 0.8, 0.05, 0.5])
    assert points_in_polygon(x, y, [0, 1, 1, 0], [0, 0, 1, 1]).tolist() == [True, False, True, True, False]
    # triangle (0,0) (1,0) (0,1): (0.1, 0.8) inside, (0.9, 0.05) inside, (0.5, 0.5) on the edge-ish, (0.6,0.6) out
    tri = points_in_polygon(np.array([0.1, 0.6, 0.2]), np.array([0.8, 0.6, 0.2]), [0, 1, 0], [0, 0, 1])
    assert tri.tolist() == [True, False, True]


def _even_odd(x, y, px, py):
    """The hand-written even-odd test that ``points_in_polygon`` (now shapely) replaced."""
    px, py = np.asarray(px, float), np.asarray(py, float)
    inside = np.zeros(x.shape, bool)
    xj, yj = px[-1], py[-1]
    for xi, yi in zip(px, py):
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < x_at)
        xj, yj = xi, yi
    return inside


def _random_polygon(rng, n):
    """A star-shaped (usually concave) polygon: n vertices at sorted random angles and radii."""
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = rng.uniform(0.2, 1.0, n)
    return rng.uniform(-1, 1) + r * np.cos(t), rng.uniform(-1, 1) + r * np.sin(t)


def _off_boundary(x, y, px, py, tol=1e-9):
    """Points farther than ``tol`` from the polygon's boundary (where the two rules may differ)."""
    import shapely

    ring = shapely.LinearRing(np.column_stack([px, py]))
    return shapely.distance(ring, shapely.points(x, y)) > tol


def test_points_in_polygon_equals_the_even_odd_rule_off_the_boundary():
    rng = np.random.default_rng(15)
    t = np.linspace(0, 2 * np.pi, 11)[:-1]
    r = np.where(np.arange(10) % 2, 0.3, 0.9)
    polys = {"concave": ([0, 1, 1, 0.5, 0], [0, 0, 1, 0.4, 1]),
             "star": (0.5 + r * np.cos(t), 0.5 + r * np.sin(t)),
             "bowtie (self-intersecting)": ([0, 1, 1, 0], [0, 1, 0, 1]),
             **{f"random {i}": _random_polygon(rng, int(rng.integers(3, 40))) for i in range(20)}}
    for name, (px, py) in polys.items():
        x, y = rng.uniform(-2, 2, 5000), rng.uniform(-2, 2, 5000)
        keep = _off_boundary(x, y, px, py)
        got = points_in_polygon(x, y, px, py)
        assert got[keep].tolist() == _even_odd(x, y, px, py)[keep].tolist(), name
        assert 0 < got.sum() < len(x), name
        # closing the ring (first vertex repeated) changes nothing
        assert points_in_polygon(x, y, [*px, px[0]], [*py, py[0]]).tolist() == got.tolist(), name


def test_points_in_polygon_boundary_is_outside():
    """Edge and vertex points are outside with shapely (the old rule kept the left/bottom edges)."""
    ex = np.array([0.0, 0.5, 1.0, 0.5, 0.0, 1.0, 0.5])
    ey = np.array([0.5, 0.0, 0.5, 1.0, 0.0, 1.0, 0.5])
    got = points_in_polygon(ex, ey, [0, 1, 1, 0], [0, 0, 1, 1])
    assert got.tolist() == [False] * 6 + [True]
    assert _even_odd(ex, ey, [0, 1, 1, 0], [0, 0, 1, 1]).tolist() == [True, True, False, False, True, False, True]
    assert not points_in_polygon(np.array([np.nan]), np.array([0.5]), [0, 1, 1, 0], [0, 0, 1, 1]).any()
    assert points_in_polygon(np.array([0.5]), np.array([0.5]), [0, 1], [0, 1]).tolist() == [False]


def test_select_bounds_gives_exactly_the_points_inside(state, results):
    rows = state.select_bounds((-1.0, -1.0, 1.0, 1.0))
    x, y = results["umap_x"].to_numpy(), results["umap_y"].to_numpy()
    expected = np.flatnonzero((x >= -1) & (x <= 1) & (y >= -1) & (y <= 1))
    assert rows.tolist() == expected.tolist()
    assert len(rows) > 0
    assert state.selected_ids == results["id"].iloc[expected].tolist()
    # reversed corners select the same
    assert state.select_bounds((1.0, 1.0, -1.0, -1.0)).tolist() == expected.tolist()
    assert len(state.select_bounds(None)) == 0


def test_select_lasso_matches_bounds_for_a_rectangle(state):
    box = state.select_bounds((2.0, -1.0, 6.0, 3.5)).tolist()
    lasso = state.select_lasso(np.array([[2.0, -1.0], [6.0, -1.0], [6.0, 3.5], [2.0, 3.5]])).tolist()
    assert lasso == box and len(box) > 0
    assert len(state.select_lasso(np.array([[0, 0], [1, 1]]))) == 0


def test_projection_changes_coordinates(state, results):
    state.projection = "spectra"
    x, _ = state.xy()
    assert np.allclose(x, results["umap_x_spectra"].to_numpy())


def test_filters_restrict_selection_and_frame(state, results):
    state.select_bounds((-100, -100, 100, 100))
    assert len(state.selection) == len(results)
    state.class_filter = ["RRAB"]
    frame = state.selected_frame()
    assert set(frame["label"]) == {"RRAB"}
    assert len(frame) == (results["label"] == "RRAB").sum()
    state.class_filter = []
    assert state.score_ranges == {s: (0.0, 1.0) for s in ("mislabel_score", "outlier_score", "crossmodal_score")}
    state.set_score_range("outlier_score", (0.5, 1.0))
    frame = state.selected_frame()
    assert (frame["outlier_score"] >= 0.5).all()
    assert len(frame) == (results["outlier_score"] >= 0.5).sum()
    state.set_score_range("outlier_score", (0.0, 1.0))
    assert len(state.selected_frame()) == len(results)
    with pytest.raises(KeyError):
        state.set_score_range("no_such_score", (0.0, 1.0))
    state.cluster_filter = [2]
    assert set(state.selected_frame()["cluster"]) == {2}


def test_select_cluster_and_ids(state, results):
    rows = state.select_cluster(1)
    assert (results["cluster"].to_numpy()[rows] == 1).all()
    assert len(rows) == (results["cluster"] == 1).sum()
    assert state.select_ids(["o3", "o1", "nope"]).tolist() == [1, 3]


def test_focus(state):
    state.focus_on("o5")
    assert state.focus == "o5"
    assert state.row()["id"] == "o5"
    with pytest.raises(KeyError):
        state.focus_on("missing")
    state.focus_on(None)
    assert state.focus is None and state.row() is None


def test_flag_updates_state_and_store(state):
    v0 = state.flags_version
    state.focus_on("o7")
    state.flag("anomaly", note="odd <script>")
    assert state.flags == {"o7": "anomaly"}
    assert state.flags_version > v0
    status = state.flag_status()
    assert status[7] == "anomaly" and (status[np.arange(40) != 7] == "none").all()
    state.flag("mislabel", "o8", proposed_label="EW")
    cur = state._store.current()
    assert set(cur["id"]) == {"o7", "o8"}
    assert cur.set_index("id").loc["o8", "proposed_label"] == "EW"
    assert cur.set_index("id").loc["o7", "user"] == "tester"
    assert "flag" in state.selected_frame().columns
    state.undo("o7")
    assert state.flags == {"o8": "mislabel"}
    with pytest.raises(ValueError):
        state.flag("bogus", "o1")


def test_flag_many(state):
    assert state.flag_many(["o1", "o2", "o3"], "subclass", subclass="C-rich") == 3
    cur = state._store.current()
    assert set(cur["subclass"]) == {"C-rich"}
    assert {state.flags[i] for i in ("o1", "o2", "o3")} == {"subclass"}


def test_without_store_flags_raise(results):
    s = ExplorerState(results)
    assert not s.has_store
    with pytest.raises(RuntimeError):
        s.flag("fine", "o1")


def test_existing_flags_are_read_at_start(results, store):
    sid = store.start_session("someone")
    store.add(sid, "o2", "fine")
    s = ExplorerState(results, flag_store=store)
    assert s.flags == {"o2": "fine"}


def test_results_are_not_modified(results, store):
    before = results.copy()
    s = ExplorerState(results, flag_store=store)
    s.select_bounds((-5, -5, 5, 5))
    s.selected_frame()
    s.flag("fine", "o1")
    pd.testing.assert_frame_equal(results, before)


def test_with_the_real_flag_store(results, tmp_path):
    flags = pytest.importorskip("core.flags")
    store = flags.FlagStore(tmp_path / "flags.sqlite", valid_ids=results["id"].tolist(),
                            labels=["EW", "RRAB", "M", "SR"])
    s = ExplorerState(results, flag_store=store, user="alice")
    s.flag("mislabel", "o3", proposed_label="EW", note="<b>bold</b>")
    s.flag("fine", "o4")
    again = ExplorerState(results, flag_store=flags.FlagStore(tmp_path / "flags.sqlite"))
    assert again.flags == {"o3": "mislabel", "o4": "fine"}
    s.undo("o4")
    assert s.flags == {"o3": "mislabel"}


def test_two_users_on_one_store_keep_their_own_decisions_and_undo(results, store):
    """The store keeps one decision per (object, user); undo takes back the user's own, not the session's."""
    alice = ExplorerState(results, flag_store=store, user="alice")
    bob = ExplorerState(results, flag_store=store, user="bob")
    alice.flag("anomaly", "o1")
    bob.flag("fine", "o1")
    cur = store.current()
    assert sorted(zip(cur["id"], cur["user"], cur["kind"])) == [("o1", "alice", "anomaly"), ("o1", "bob", "fine")]
    alice.refresh_flags()
    assert alice.flags == {"o1": "fine"}  # the latest decision on the object colours the map
    bob.undo("o1")
    assert bob.flags == {"o1": "anomaly"}  # bob's undo leaves alice's decision standing
    # undo is per user, across sessions: a new session of alice undoes her decision of the earlier one
    again = ExplorerState(results, flag_store=store, user="alice")
    again.undo("o1")
    assert again.flags == {} and len(store.current()) == 0


def test_ui_state_lives_in_the_state(state, results, tmp_path):
    """Review cursor and score, the note, the folding period and the flag table are the state's."""
    assert state.review_score == "mislabel_score" and state.param.review_score.objects == list(state.scores)
    assert state.fold_period is None and state.note == "" and state.review_current is None
    state.set_review_queue(["o3", "o5", "o7"])
    assert state.review_current == "o3" and state.review_position == 0
    state.review_step(1)
    assert state.review_current == "o5"
    state.review_step(-5)
    assert state.review_position == 0
    state.review_step(10)
    assert state.review_position == 3 and state.review_current is None
    state.note = "look again"
    assert state.take_note() == "look again" and state.note == "" and state.take_note() is None
    assert state.row_number("o3") == results.index[results["id"] == "o3"][0]
    assert state.row_number("nope") == -1 and state.row_number(None) == -1
    assert len(state.current_flags()) == 0
    state.flag("fine", "o3")
    assert state.current_flags()["id"].astype(str).tolist() == ["o3"]
    state.export(tmp_path / "flags.csv", format="csv")
    assert "o3" in (tmp_path / "flags.csv").read_text()


def test_without_store_the_flag_table_is_empty(results):
    s = ExplorerState(results)
    assert len(s.current_flags()) == 0 and list(s.current_flags().columns)[:2] == ["id", "kind"]
    with pytest.raises(RuntimeError):
        s.export("x.csv")


def test_one_message_leaves_the_document_unfrozen_when_its_block_raises():
    """Bokeh's freeze() stays frozen after an exception; the explorer's must not (models added later still count)."""
    from bokeh.document import Document
    from bokeh.models import Div
    from panel.io.state import set_curdoc

    from explorer.state import one_message

    doc = Document()
    with set_curdoc(doc):
        with pytest.raises(RuntimeError):
            with one_message():
                raise RuntimeError("a focus that fails")
        div = Div(text="later")
        doc.add_root(div)
        assert doc.get_model_by_id(div.id) is div and div.document is doc
        with one_message():
            inside = Div(text="inside")
            doc.add_root(inside)
            assert doc.get_model_by_id(inside.id) is None  # the walk waits for the end of the block
        assert doc.get_model_by_id(inside.id) is inside
