"""The discovery scores as pure functions, on tiny planted cases (no UMAP, no HDBSCAN: fast)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import crossmodal, mislabels, outliers, votes
from core.analysis.embeddings import load_embeddings, normalise_rows
from core.analysis.evaluate import detection_metrics, label_error_metrics
from core.analysis.neighbors import knn
from core.analysis.scores import combine_ranks, rank_normalise
from core.analysis.subclasses import cohens_d, effect_sizes, fold_and_bin


def clusters(n_per=40, dim=8, n_classes=3, seed=0, noise=0.15):
    rng = np.random.default_rng(seed)
    centres = normalise_rows(rng.normal(size=(n_classes, dim)))
    y = np.repeat(np.arange(n_classes), n_per)
    x = normalise_rows(centres[y] + rng.normal(scale=noise, size=(len(y), dim)))
    return x, y, centres, rng


def test_rank_normalise_keeps_nan_and_order():
    r = rank_normalise([0.1, 5.0, np.nan, 2.0])
    assert np.isnan(r[2])
    assert r[1] == 1.0 and r[0] < r[3] < r[1]
    assert np.all((r[~np.isnan(r)] > 0) & (r[~np.isnan(r)] <= 1))


def test_combine_ranks_ignores_missing_parts():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([np.nan, np.nan, np.nan])
    assert np.allclose(combine_ranks({"a": a, "b": b}, {"a": 1, "b": 1}), rank_normalise(a))


def test_combine_ranks_keeps_one_detector_s_extreme_on_top():
    """Fisher's method: the top object of one detector beats objects that are merely high in both."""
    n = 100
    a = np.arange(n, dtype=float)                 # object 99 is a's most extreme
    b = np.arange(n, dtype=float)[::-1].copy()    # ... and b's least
    b[90:99] = 200 + np.arange(9)                 # objects 90-98: high in a, top of b
    s = combine_ranks({"a": a, "b": b}, {"a": 1.0, "b": 1.0})
    assert np.argmax(s) == 98                     # top of b and high in a
    assert s[99] > np.median(s)                   # extreme in one detector is not averaged away


def test_knn_finds_true_neighbours_and_excludes_self():
    x = normalise_rows(np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=float))
    idx, sim = knn(x, 1)
    assert idx[:, 0].tolist() == [1, 0, 3, 2]
    assert np.all(sim[:, 0] > 0.9)


def test_planted_label_flip_ranks_first_on_every_mislabel_score():
    x, y, _, _ = clusters()
    y_given = y.copy()
    y_given[5] = 2  # planted flip: a class-0 object labelled 2
    cent, nearest = mislabels.centroid_scores(x, np.ones(len(x), bool), y_given, 3)
    assert np.argmax(cent) == 5 and nearest[5] == 0
    idx, sim = knn(x, 8)
    p = mislabels.knn_label_probs(idx, sim, y_given, 3)
    dis = 1 - p[np.arange(len(x)), y_given]
    assert np.argmax(dis) == 5
    probs = votes.oof_probabilities(x, np.ones(len(x), bool), y_given, 3, folds=4)
    cl, _ = mislabels.confident_learning_scores(probs, y_given)
    assert np.argsort(-cl)[:3].tolist().count(5) == 1
    cent_p = mislabels.centroid_probabilities(x, np.ones(len(x), bool), y_given, 3)
    assert np.argmax(cent_p[5]) == 0 and np.allclose(cent_p.sum(axis=1), 1)
    ens = mislabels.ensemble_probabilities({"classifier": probs, "knn": p, "centroid": cent_p})
    assert np.allclose(ens.sum(axis=1), 1)
    out = mislabels.combine_mislabel_scores(ens, y_given, ["A", "B", "C"],
                                            details={"centroid": cent, "knn": dis, "cleanlab": cl})
    assert np.argmax(out["mislabel_score"]) == 5
    assert out["suggested_label"][5] == "A"
    for name in ("centroid", "knn", "cleanlab"):
        assert np.nanargmax(out[f"mislabel_{name}"]) == 5


def test_ensemble_skips_missing_estimates():
    a = np.array([[0.9, 0.1], [np.nan, np.nan], [np.nan, np.nan]])
    b = np.array([[0.1, 0.9], [0.2, 0.8], [np.nan, np.nan]])
    ens = mislabels.ensemble_probabilities({"classifier": a, "knn": b}, {"classifier": 3.0, "knn": 1.0})
    assert np.allclose(ens[0], [0.7, 0.3]) and np.allclose(ens[1], [0.2, 0.8]) and np.isnan(ens[2]).all()


def test_unlabelled_objects_get_no_mislabel_score_but_a_suggestion():
    x, y, _, _ = clusters()
    y_given = y.copy()
    y_given[:4] = -1
    probs = votes.oof_probabilities(x, np.ones(len(x), bool), y_given, 3, folds=4)
    assert np.isfinite(probs[:4]).all()  # unlabelled objects are still classified
    cent, _ = mislabels.centroid_scores(x, np.ones(len(x), bool), y_given, 3)
    cl, _ = mislabels.confident_learning_scores(probs, y_given)
    out = mislabels.combine_mislabel_scores(probs, y_given, ["A", "B", "C"], details={"centroid": cent, "cleanlab": cl})
    assert np.isnan(out["mislabel_score"][:4]).all() and np.isnan(out["mislabel_centroid"][:4]).all()
    assert np.isfinite(out["mislabel_score"][4:]).all()
    assert list(out["suggested_label"][:4]) == ["A"] * 4


def test_oof_votes_absent_rows_are_nan():
    x, y, _, _ = clusters()
    present = np.ones(len(x), bool)
    present[:3] = False
    probs = votes.oof_probabilities(x, present, y, 3, folds=3)
    assert np.isnan(probs[:3]).all() and np.allclose(probs[3:].sum(axis=1), 1)
    vote, prob = votes.vote_columns(probs, ["A", "B", "C"])
    assert vote[0] is None and np.isnan(prob[0]) and vote[50] == "B"


def test_planted_outlier_gets_the_top_outlier_score():
    x, y, _, rng = clusters()
    far = normalise_rows(rng.normal(size=(1, x.shape[1])))
    x = np.vstack([x, far])
    y = np.r_[y, 0]
    _, sim = knn(x, 5)
    kd = outliers.knn_distance(sim)
    iso = outliers.iforest_scores(x, seed=0)
    probs = votes.oof_probabilities(x, np.ones(len(x), bool), y, 3, folds=4)
    cls = outliers.class_distance_score({"photometry": x}, {"photometry": np.ones(len(x), bool)}, ["photometry"],
                                        y, probs)
    assert np.argmax(cls) == len(x) - 1
    out = outliers.combine_outlier_scores(kd, {}, iso, np.zeros(len(x)), cls)
    assert np.argmax(out["outlier_score"]) == len(x) - 1
    assert out["outlier_score"][-1] == 1.0 and out["outlier_class"][-1] == 1.0


def test_a_group_of_strangers_is_found_by_the_class_distance():
    """Ten alike objects of a kind the label set lacks: each other's neighbours, yet far from every class."""
    x, y, _, rng = clusters(n_per=60)
    odd_centre = normalise_rows(rng.normal(size=(1, x.shape[1])))
    odd = normalise_rows(odd_centre + rng.normal(scale=0.05, size=(10, x.shape[1])))
    x = np.vstack([x, odd])
    y = np.r_[y, rng.integers(0, 3, 10)]          # they carry ordinary labels
    probs = votes.oof_probabilities(x, np.ones(len(x), bool), y, 3, folds=4)
    cls = outliers.class_distance_score({"metadata": x}, {"metadata": np.ones(len(x), bool)}, ["metadata"], y, probs)
    assert set(np.argsort(-cls)[:10]) == set(range(len(x) - 10, len(x)))
    _, sim = knn(x, 5)
    kd = outliers.knn_distance(sim)
    assert len(set(np.argsort(-kd)[:10]) & set(range(len(x) - 10, len(x)))) < 10   # kNN alone misses some


def test_class_distance_without_labels_is_distance_to_the_whole():
    x, _, _, rng = clusters()
    x = np.vstack([x, -x.mean(axis=0, keepdims=True) / np.linalg.norm(x.mean(axis=0))])
    cls = outliers.class_distance_score({"spectra": x}, {"spectra": np.ones(len(x), bool)}, ["spectra"],
                                        np.full(len(x), -1), np.zeros((len(x), 0)))
    assert np.argmax(cls) == len(x) - 1 and np.isfinite(cls).all()


def test_planted_crossmatch_ranks_first_and_names_the_odd_modality():
    x, y, centres, rng = clusters(n_per=40)
    views = {m: normalise_rows(x + rng.normal(scale=0.05, size=x.shape)) for m in ("photometry", "spectra", "metadata")}
    views["spectra"][7] = views["spectra"][100]  # object 7 (class 0) got a class-2 spectrum
    present = {m: np.ones(len(x), bool) for m in views}
    present["spectra"][50:60] = False  # some objects have no spectrum
    probs = {m: votes.oof_probabilities(views[m], present[m], y, 3, folds=3) for m in views}
    out = crossmodal.crossmodal_scores(views, present, list(views), y, probs)
    assert np.nanargmax(out["crossmodal_score"]) == 7
    assert out["crossmodal_odd"][7] == "spectra"
    assert np.isfinite(out["crossmodal_score"][50:60]).all()  # two modalities still give a score


def test_crossmodal_with_exactly_two_modalities():
    x, y, _, rng = clusters()
    views = {m: normalise_rows(x + rng.normal(scale=0.05, size=x.shape)) for m in ("photometry", "metadata")}
    views["metadata"][3] = views["metadata"][110]
    present = {m: np.ones(len(x), bool) for m in views}
    out = crossmodal.crossmodal_scores(views, present, list(views), y, {})
    assert np.nanargmax(out["crossmodal_score"]) == 3
    assert out["crossmodal_odd"][3] is None  # two modalities cannot say which one is wrong


def test_crossmodal_needs_two_modalities():
    x, y, _, _ = clusters()
    out = crossmodal.crossmodal_scores({"photometry": x}, {"photometry": np.ones(len(x), bool)},
                                       ["photometry"], y, {})
    assert np.isnan(out["crossmodal_score"]).all()


def test_load_embeddings_handles_null_vectors_and_sky_order(tmp_path):
    import pyarrow as pa

    from core.workspace import write_parquet
    t = pa.table({"id": ["b", "a"],
                  "emb_photometry": pa.array([[3.0, 4.0], [1.0, 0.0]], pa.list_(pa.float32())),
                  "emb_spectra": pa.array([None, [0.0, 2.0]], pa.list_(pa.float32()))})
    write_parquet(t, tmp_path / "e.parquet", meta={"dim": 2})
    emb = load_embeddings(tmp_path / "e.parquet", ids=["a", "b", "c"])
    assert emb.present["spectra"].tolist() == [True, False, False]
    assert emb.present["photometry"].tolist() == [True, True, False]
    assert np.allclose(emb.vectors["photometry"][1], [0.6, 0.8])
    assert emb.present["fused"].tolist() == [True, True, False]  # fused computed when absent
    assert np.allclose(np.linalg.norm(emb.vectors["fused"][0]), 1)


def test_label_error_metrics_on_a_known_ranking():
    is_err = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    score = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], float)
    m = label_error_metrics(is_err, score, np.array(["X"] * 10, object), np.array(["X", "Y", "Z"] + ["Y"] * 7, object),
                            top_share=0.2)
    assert m["ap"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["recall_at_top"] == 0.5  # top 2 objects hold one of the two errors
    assert m["suggestion_correct"] == 1.0
    d = detection_metrics(is_err, score)
    assert d["auroc"] == pytest.approx(1 - 1 / 16)


def test_effect_sizes_and_cohens_d():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 50), rng.normal(3, 1, 50)], "b": rng.normal(size=100)})
    inside = np.r_[np.zeros(50, bool), np.ones(50, bool)]
    eff = effect_sizes(table, inside, ["a", "b"])
    assert eff.column.iloc[0] == "a" and eff.cohens_d.iloc[0] > 2
    assert np.isnan(cohens_d([1.0], [1.0, 2.0]))


def test_fold_and_bin_recovers_a_sine():
    t = np.linspace(0, 100, 2000)
    mag = 12 + 0.5 * np.sin(2 * np.pi * t / 0.7)
    curve = fold_and_bin(t, mag, 0.7, n_bins=20)
    assert np.nanargmin(curve) in (0, 19)  # phase 0 at maximum light
    assert np.nanmax(curve) - np.nanmin(curve) == pytest.approx(1.0, abs=0.1)
