"""core.review.ReviewSession: stored-first decisions, replay, undo, two users, learning; the oracle CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import schema
from core.analysis.oracle import oracle_answer, oracle_curves
from core.analysis.synthetic import planted_sky
from core.cli import main
from core.flags import FlagStore, FlagStoreError
from core.review import ReviewError, ReviewSession
from core.sky import open_sky
from core.workspace import Workspace, write_parquet


def _results(sky_path, seed=0) -> pd.DataFrame:
    """Static scores that only weakly know the planted truth (what a learning queue should improve)."""
    sky = open_sky(sky_path)
    truth = sky.read_truth().set_index("id").reindex(sky.ids.astype(str))
    rng = np.random.default_rng(seed)
    n = len(sky)
    anom = truth["anomaly_kind"].notna().to_numpy()
    mis = truth["is_mislabeled"].to_numpy(bool)
    labels = sky.objects["label"].to_numpy(dtype=object)
    out = {"id": sky.ids.astype(str), "label": labels,
           "outlier_score": np.clip(rng.random(n) * 0.8 + 0.25 * anom, 0, 1),
           "mislabel_score": np.where(pd.notna(labels), np.clip(rng.random(n) * 0.8 + 0.3 * mis, 0, 1), np.nan),
           "suggested_label": np.array(["EW"] * n, dtype=object),
           "crossmodal_score": rng.random(n)}
    out["outlier_knn"] = rng.random(n)
    return pd.DataFrame(out)


@pytest.fixture
def planted(tmp_path):
    sky, ws = planted_sky(tmp_path / "p", n=600, seed=0, outlier_frac=0.05)
    write_parquet(_results(sky), Workspace(ws).results_path)
    truth = pd.read_parquet(sky / schema.TRUTH_FILE)
    truth["id"] = truth["id"].astype(str)
    return {"sky": sky, "ws": ws, "truth": truth.set_index("id")}


def _review(session, truth, steps, target="anomaly"):
    for _ in range(steps):
        oid = session.next()
        kind, label = oracle_answer(truth.loc[oid], target, session.classes)
        session.decide(oid, kind, label=label)


def test_decision_is_stored_first_then_learned(planted):
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    before = s.ranking()
    oid = s.next()
    assert oid == before.index[0] and len(before) == 600
    flag = s.decide(oid, "anomaly", note="P=12 d")
    assert flag["kind"] == "anomaly" and flag["user"] == "ana"
    cur = s.store.current(user="ana")
    assert cur["id"].tolist() == [oid] and cur["note"].tolist() == ["P=12 d"]
    after = s.ranking()
    assert oid not in after.index and len(after) == 599
    # its fused-embedding neighbours rose
    nbrs = s.ids[s._neighbours(s._row.get_loc(oid))[0][:5]]
    assert (after[nbrs] > before[nbrs]).all()


def test_replay_reaches_the_same_ranking(planted):
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    _review(s, planted["truth"], 15)
    s.decide(s.next(), "fine")
    again = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    pd.testing.assert_series_equal(again.ranking(), s.ranking())
    assert again.next() == s.next()
    assert len(again.decisions()) == 16 and np.array_equal(again.weights, s.weights)


def test_undo_restores_the_previous_ranking(planted):
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    _review(s, planted["truth"], 5)
    before = s.ranking()
    oid = s.next()
    s.decide(oid, "fine")
    assert oid not in s.ranking().index
    undone = s.undo()
    assert undone["id"] == oid and undone["kind"] == "fine"
    pd.testing.assert_series_equal(s.ranking(), before)
    h = s.store.history(oid)
    assert h["kind"].tolist() == ["fine", "undo"]
    # changing one's mind: the latest decision stands
    s.decide(oid, "anomaly")
    s.decide(oid, "fine")
    s.undo(oid)
    assert s.decisions().set_index("id").loc[oid, "kind"] == "anomaly"


def test_failed_write_changes_nothing(planted, tmp_path):
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    _review(s, planted["truth"], 3)
    ranking, oid = s.ranking(), s.next()
    s.store.close()
    with pytest.raises(FlagStoreError):
        s.decide(oid, "anomaly")
    pd.testing.assert_series_equal(s.ranking(), ranking)
    assert s.next() == oid and len(s.decisions()) == 3
    # a read-only store: the stored decisions replay, a new one is refused and changes nothing
    ro = FlagStore(Workspace(planted["ws"]).flags_path, readonly=True)
    r = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana", store=ro)
    pd.testing.assert_series_equal(r.ranking(), ranking)
    with pytest.raises(FlagStoreError):
        r.decide(oid, "fine")
    pd.testing.assert_series_equal(r.ranking(), ranking)
    assert len(ro.current()) == 3
    # invalid decisions are refused before anything is written
    w = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    with pytest.raises(ReviewError):
        w.decide(oid, "maybe")
    with pytest.raises(ReviewError):
        w.decide("not-an-id", "fine")
    with pytest.raises(FlagStoreError):
        w.decide(oid, "mislabel", label="NOT_A_CLASS")
    assert len(w.store.current()) == 3
    pd.testing.assert_series_equal(w.ranking(), ranking)


def test_two_users_each_learn_from_their_own_and_see_the_others_flags(planted):
    ana = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    ben = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ben")
    ben_before = ben.ranking()
    oid = ana.next()
    ana.decide(oid, "anomaly", note="ana's")
    ben.refresh()
    flags = ben.store.current()
    assert flags.set_index("id").loc[oid, "user"] == "ana"
    pd.testing.assert_series_equal(ben.ranking(), ben_before)     # per-user model: ben's queue unchanged
    assert ben.next() == oid                                        # ... and ana's object still in it
    ben.decide(ben.ranking().index[1], "fine")
    assert sorted(ana.store.current()["user"]) == ["ana", "ben"]
    team = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="cy", shared=True)
    assert oid not in team.ranking().index and len(team.decisions()) == 2


def test_learning_finds_more_than_the_static_ranking(planted):
    # 45 steps: the neighbour term's weights start at zero and are learned from the decisions
    # (with the old fixed weight, 30 steps showed the same margin)
    steps = 45
    pos = planted["truth"]["anomaly_kind"].notna()
    res = pd.read_parquet(Workspace(planted["ws"]).results_path)
    static = int(pos.reindex(res.nlargest(steps, "outlier_score")["id"].astype(str)).sum())
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="oracle")
    _review(s, planted["truth"], steps)
    found = s.found()
    assert len(found) == steps and found[-1] == (s.decisions()["kind"] == "anomaly").sum()
    assert found[-1] >= static + 5, (found[-1], static)
    st = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="static", learn=False)
    _review(st, planted["truth"], steps)
    assert st.found()[-1] == static


def test_trusted_label_updates_similar_objects(planted):
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="mislabel", user="ana")
    assert set(s.suggestions().dropna()) == {"EW"}
    truth = planted["truth"]
    flipped = [i for i in s.ranking().index if truth.loc[i, "is_mislabeled"] and truth.loc[i, "true_label"] != "EW"]
    oid = flipped[0]
    true = truth.loc[oid, "true_label"]
    before = s.ranking()
    s.decide(oid, "mislabel", label=true)
    assert s.trusted == {s._row.get_loc(oid): true}
    nbrs = s.ids[s._neighbours(s._row.get_loc(oid))[0]]
    sug = s.suggestions()
    assert sug[oid] == true and (sug[nbrs] == true).all()
    # neighbours carrying the trusted label became less suspect than the rest (the ranking is what
    # counts: a decision may shift every score by the same intercept) ...
    after = s.ranking()
    lab = s.results.set_index("id")["label"]
    same = [j for j in nbrs if lab[j] == true and j in after.index]
    shift = (after - before[after.index]).median()
    assert len(same) >= 3 and (after[same] - before[same] < shift - 1e-6).all()
    # ... and, for another astronomer who trusts another label there, more suspect
    other_label = next(c for c in s.classes if c != true)
    b = ReviewSession(planted["ws"], sky=planted["sky"], target="mislabel", user="ben")
    b.decide(oid, "mislabel", label=other_label)
    b_after = b.ranking()
    b_shift = (b_after - before[b_after.index]).median()
    assert (b_after[same] - before[same] > b_shift + 1e-6).all() and (b.suggestions()[same] == other_label).all()
    # unlabelled objects are not in a mislabel queue
    assert lab[after.index].notna().all()


def test_skip_is_not_stored_and_only_defers(planted):
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    first = s.next()
    ranking = s.ranking()
    assert s.decide(first, "skip") is None
    assert s.next() == ranking.index[1] and len(s.store.current()) == 0
    pd.testing.assert_series_equal(s.ranking(), ranking)


def test_oracle_curves_and_cli(planted, tmp_path, capsys):
    rep = oracle_curves(planted["ws"], planted["sky"], sky=planted["sky"], target="anomaly", n=25,
                        methods=["learning", "static", "random", "catalogue z-score", "AAD (fused embedding)"])
    assert rep["n_positive"] == 30 and set(rep["curves"]) == {"learning", "static", "random", "catalogue z-score",
                                                              "AAD (fused embedding)"}
    for c in rep["curves"].values():
        assert len(c) == 25 and all(b - a in (0, 1) for a, b in zip([0, *c], c))
    assert rep["curves"]["learning"][-1] > rep["curves"]["static"][-1]
    out = tmp_path / "active"
    assert main(["evaluate", str(planted["ws"]), "--truth", str(planted["sky"]), "--sky", str(planted["sky"]),
                 "--oracle", "20", "--target", "mislabel", "--methods", "learning,static,random",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| learning |" in text and "| static |" in text
    js = json.loads(out.with_suffix(".json").read_text())
    assert js["target"] == "mislabel" and len(js["curves"]["static"]) == 20
    assert out.with_suffix(".png").stat().st_size > 1000
    assert not Workspace(planted["ws"]).flags_path.exists()       # the oracle never writes the user's flags


def test_review_features_take_the_registry_parts_and_ignore_text_columns():
    import numpy as np
    import pandas as pd

    from core import scores
    from core.review import review_features

    rng = np.random.default_rng(0)
    n = 50
    results = pd.DataFrame({"id": [f"o{i}" for i in range(n)], "label": ["EW"] * n,
                            "crossmodal_score": rng.random(n), "crossmodal_pair": rng.random(n),
                            "crossmodal_votes": rng.random(n), "crossmodal_odd": ["spectra"] * n,
                            "outlier_score": rng.random(n), "outlier_own_class": rng.random(n)})
    _, names = review_features(results, "crossmodal")
    assert "part:crossmodal_pair" in names and "part:crossmodal_votes" in names
    assert not any("crossmodal_odd" in c for c in names)              # a text column, not a score
    _, names = review_features(results, "anomaly")
    assert "part:outlier_own_class" in names                           # a part the registry names
    scores.register(scores.Score("outlier_test_part", "x", target="anomalies", part_of="outlier_score"))
    try:
        results["outlier_test_part"] = rng.random(n)
        assert "part:outlier_test_part" in review_features(results, "anomaly")[1]
    finally:
        scores.unregister("outlier_test_part")


def test_mislabel_neighbour_term_moves_only_neighbours_with_the_same_given_label(planted):
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="mislabel", user="cy", ridge=1e6,
                      neighbour_weight=1.0, label_weight=0.0)
    lab = s.results.set_index("id")["label"]

    def mixed(i):
        idx, sim = s._neighbours(s._row.get_loc(i))
        same = lab[s.ids[idx[sim > 0]]].to_numpy() == lab[i]
        return same.any() and (~same).any()

    oid = next(i for i in s.ranking().index if mixed(i))
    before = s.ranking()
    s.decide(oid, "mislabel", label=next(c for c in s.classes if c != lab[oid]))
    after = s.ranking()
    change = after - before[after.index]
    shift = change.median()                       # the intercept moves every score alike
    idx, sim = s._neighbours(s._row.get_loc(oid))
    nbrs = [j for j in s.ids[idx[sim > 0]] if j in after.index]
    moved = (change[nbrs] - shift).abs() > 1e-6
    same = (lab[nbrs] == lab[oid]).to_numpy()
    assert same.any() and (~same).any()
    assert moved[same].all() and not moved[~same].any()


def test_anomaly_neighbours_are_looked_up_in_the_sessions_own_features(planted):
    """'fine' lowers, 'anomaly' raises the objects nearest in the session's standardised features."""
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana", neighbour_space="features")
    assert s.neighbour_space == "features"
    assert ReviewSession(planted["ws"], target="anomaly", user="x").neighbour_space == "fused"  # the default
    oid = s.next()
    row = s._row.get_loc(oid)
    feat_idx, feat_sim = s._neighbours(row)
    fused_idx, _ = s._neighbours(row, "fused")
    assert set(feat_idx) != set(fused_idx)
    # the feature-space neighbours are the rows of highest cosine similarity of the standardised features
    z = (s.features - s.features.mean(axis=0)) / np.where(s.features.std(axis=0) > 0, s.features.std(axis=0), 1)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    cos = z @ z[row]
    cos[row] = -np.inf
    np.testing.assert_array_equal(np.sort(feat_idx), np.sort(np.argsort(-cos, kind="stable")[:s.k]))
    np.testing.assert_allclose(feat_sim, np.clip(cos[feat_idx], 0, 1), atol=1e-5)
    before = s.ranking()
    s.decide(oid, "fine")
    after = s.ranking()
    moved = (after - before[after.index])
    shift = moved.median()
    nbrs = [i for i in s.ids[feat_idx] if i in after.index and feat_sim[list(s.ids[feat_idx]).index(i)] > 0.2]
    assert nbrs and (moved[nbrs] < shift - 1e-6).all()
    both = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="bo", neighbour_space="both")
    assert both.neighbour_weights.shape == (4,)
    np.testing.assert_array_equal(both._neighbours(row, "fused")[0], fused_idx)
    with pytest.raises(ReviewError, match="neighbour_space 'umap' is not"):
        ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="cy", neighbour_space="umap")


def test_how_far_a_verdict_carries_to_neighbours_is_learned(planted):
    """The neighbour term's weights start at zero and follow the decisions: on this sky the planted
    anomalies sit near each other, so 'near a found anomaly' becomes a reason to rank higher."""
    s = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    assert s.learn_neighbours and s.neighbour_weights.tolist() == [0.0, 0.0]
    _review(s, planted["truth"], 45)
    near_found, near_fine = s.neighbour_weights
    assert near_found > 0.3 and near_fine < 0, s.neighbour_weights
    assert any(n.startswith("near found") for n in s.explain(80).index)
    again = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana")
    np.testing.assert_array_equal(again.neighbour_weights, s.neighbour_weights)
    fixed = ReviewSession(planted["ws"], sky=planted["sky"], target="anomaly", user="ana", learn_neighbours=False,
                          neighbour_weight=1.0)
    assert fixed.neighbour_weights.tolist() == [1.0, -1.0]
