"""The explorer's review queue is a learning core.review.ReviewSession per user (issue 12)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from explorer.testing import flag_store_for, make_fake_workspace


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A small analysed planted sky: results + embeddings, so the neighbour terms are live."""
    from core.analysis import analyze
    from core.analysis.synthetic import planted_sky
    from explorer.data import load_workspace

    sky, ws = planted_sky(tmp_path_factory.mktemp("review_learning"), n=300, seed=2)
    analyze(sky, ws, seed=0)
    return load_workspace(sky, ws, reload=True)


def _view(data, store, score):
    from explorer.state import ExplorerState
    from explorer.views.review import ReviewView

    state = ExplorerState(data.results, flag_store=store, session_info=data.session_info, user="learner")
    return state, ReviewView(state=state, data=dataclasses.replace(data, flag_store=store), score=score)


def test_a_fine_decision_reorders_the_queue_by_the_sessions_ranking(planted, tmp_path):
    from explorer.views.review import PREFETCH, next_html, review_queue

    store = flag_store_for(tmp_path / "flags.sqlite", planted.results)
    state, rv = _view(planted, store, "outlier_score")
    static = review_queue(state.results, "outlier_score", {})
    assert state.review_ids == static and "Static order" in rv.learning.object
    first = rv.current
    rv.act("fine")
    sess = rv.review_session()
    assert sess is not None and sess.target == "anomaly" and sess.user == "learner"
    # the decision is stored once, by the session, in the real store
    h = store.history(first)
    assert len(h) == 1 and h.iloc[0]["kind"] == "fine" and state.flags[first] == "fine"
    # decided items stay before the cursor; the rest is the session's new ranking
    assert state.review_ids[0] == first and state.review_position == 1
    ranked = [i for i in sess.ranking().index if i not in state.flags][:len(state.review_ids) - 1]
    assert state.review_ids[1:] == ranked
    assert state.review_ids[1:] != static[1:]
    # the page names the reordered next suspects
    assert rv.next_up.object == next_html(state.review_ids[2:2 + PREFETCH])
    # 'fine' lowers the neighbours of the decided object in the queue
    row = sess._row.get_indexer([first])[0]
    nbrs = [str(sess.ids[j]) for j in sess._neighbours(int(row))[0]]
    moved = [(static.index(n), state.review_ids.index(n)) for n in nbrs if n in static and n in state.review_ids]
    assert moved and any(new > old for old, new in moved)
    assert "found 0 per 1 inspected" in rv.learning.object
    rv.act("anomaly")
    assert "found 1 per 2 inspected" in rv.learning.object
    assert (store.history()["id"].astype(str) == first).sum() == 1
    store.close()


def test_review_decisions_keep_the_dashboards_flag_session_and_undo(planted, tmp_path):
    store = flag_store_for(tmp_path / "flags.sqlite", planted.results)
    state, rv = _view(planted, store, "mislabel_score")
    first = rv.current
    rv.act("accept")
    sess = rv.review_session()
    assert sess.target == "mislabel" and len(sess.decisions()) == 1
    assert store.current(user="learner").iloc[0]["session"] == state.session()
    rv.act("back")
    rv.act("undo")
    assert first not in state.flags and len(sess.decisions()) == 0
    store.close()


def test_without_a_session_the_queue_stays_static_and_says_why(tmp_path):
    from explorer.data import load_workspace
    from explorer.views.review import review_queue

    sky, ws = make_fake_workspace(tmp_path / "fake", n=40, seed=3)
    data = load_workspace(sky, ws, reload=True)
    store = flag_store_for(tmp_path / "flags.sqlite", data.results)
    broken = dataclasses.replace(data, workspace_path=tmp_path / "missing")
    state, rv = _view(broken, store, "mislabel_score")
    first = rv.current
    rv.act("anomaly")
    assert rv.review_session() is None and "could not be opened" in rv.learning.object
    assert len(store.history(first)) == 1 and state.flags[first] == "anomaly"
    assert state.review_ids == review_queue(state.results, "mislabel_score", {}) and state.review_position == 1
    store.close()


def test_the_next_line_names_the_upcoming_suspects_escaped():
    from explorer.views.review import next_html

    shown = next_html(["s1", "<b>x</b>"])
    assert shown.count('class="review-next-id"') == 2 and "&lt;b&gt;x&lt;/b&gt;" in shown and "<b>" not in shown
    assert shown.index("s1") < shown.index("&lt;b&gt;")
    assert "last suspect" in next_html([])


def test_decisions_stored_outside_the_queue_are_learned_too(planted, tmp_path):
    """A flag from the flag bar (not the queue's keys) re-ranks the queue as a replay of the store does."""
    from core.review import ReviewSession

    store = flag_store_for(tmp_path / "flags.sqlite", planted.results)
    state, rv = _view(planted, store, "outlier_score")
    rv.act("fine")                                  # opens the learning session
    other = state.review_ids[state.review_position + 2]

    def replayed(head):
        sess = ReviewSession(planted.workspace_path, sky=planted.sky, target="anomaly", user="learner", store=store)
        return [i for i in sess.ranking().index if i not in state.flags and i not in head]

    state.flag("anomaly", other)                    # stored by another view, for the same user
    pos = state.review_position
    rest = state.review_ids[pos + 1:]
    assert other not in rest and rest == replayed(state.review_ids[:pos + 1])[:len(rest)]
    rv.act("fine")                                  # the next queue decision learns from both
    rest = state.review_ids[state.review_position:]
    assert rest == replayed(state.review_ids[:state.review_position])[:len(rest)]
    store.close()
