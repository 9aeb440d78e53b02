"""analyze / similar / subclasses / evaluate end to end on a tiny planted sky (one UMAP JIT per module)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import schema
from core.analysis import analyze, evaluate, similar, subclasses
from core.analysis.synthetic import planted_sky
from core.cli import main


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    sky, ws = planted_sky(root, n=400, seed=1, mislabel_frac=0.02, outlier_frac=0.01, crossmatch_frac=0.02)
    path = analyze(sky, ws, seed=0)
    return {"sky": sky, "ws": ws, "results": pd.read_parquet(path),
            "truth": pd.read_parquet(sky / schema.TRUTH_FILE)}


def test_results_contract(planted):
    r = planted["results"]
    for c in schema.RESULTS_REQUIRED:
        assert c in r.columns, c
    for m in schema.MODALITIES:
        for c in (f"umap_x_{m}", f"umap_y_{m}", f"vote_{m}", f"vote_{m}_prob"):
            assert c in r.columns, c
    assert len(r) == 400 and r["id"].is_unique
    for c in ("outlier_score", "mislabel_score", "crossmodal_score", "cluster_prob", "outlier_glosh",
              "outlier_class", "outlier_knn", "outlier_iforest", "mislabel_centroid", "mislabel_knn", "mislabel_cleanlab"):
        v = r[c].dropna()
        assert len(v) and v.between(0, 1).all(), c
    assert r["cluster"].dtype == np.int64 and (r["cluster"] >= -1).all()
    assert r["cluster"].nunique() >= 3


def test_planted_cases_rank_at_the_top(planted):
    r, t = planted["results"], planted["truth"]
    flips = set(t.id[t.is_mislabeled])
    top = set(r.nlargest(len(flips) + 3, "mislabel_score").id)
    assert len(flips & top) >= len(flips) - 1
    outl = set(t.id[t.anomaly_kind.notna()])
    assert r.set_index("id").loc[list(outl), "outlier_score"].min() > 0.9
    xm = set(t.id[t.is_crossmatch_error])
    top = set(r.nlargest(len(xm) + 2, "crossmodal_score").id)
    assert len(xm & top) >= len(xm) - 1


def test_missing_spectra_and_unlabelled(planted):
    r = planted["results"]
    no_spec = ~r["has_spectra"]
    assert no_spec.sum() > 20
    assert r.loc[no_spec, ["outlier_score", "crossmodal_score"]].notna().all().all()
    assert r.loc[no_spec, "umap_x_spectra"].isna().all() and r.loc[no_spec, "vote_spectra"].isna().all()
    unl = r["label"].isna()
    assert unl.sum() > 5
    assert r.loc[unl, "mislabel_score"].isna().all()
    assert r.loc[~unl, "mislabel_score"].notna().all()
    assert r.loc[unl, ["suggested_label", "outlier_score"]].notna().all().all()


def test_rerun_is_fresh_and_reproducible(planted, tmp_path):
    path = analyze(planted["sky"], planted["ws"], seed=0)  # fresh: no recomputation
    assert pd.read_parquet(path).equals(planted["results"])
    sky2, ws2 = planted_sky(tmp_path, n=400, seed=1, mislabel_frac=0.02, outlier_frac=0.01, crossmatch_frac=0.02)
    again = pd.read_parquet(analyze(sky2, ws2, seed=0))
    pd.testing.assert_frame_equal(again, planted["results"])


def test_similar_returns_true_neighbours(planted):
    from core.analysis.embeddings import load_embeddings

    ws = planted["ws"]
    emb = load_embeddings(ws / schema.EMBEDDINGS_FILE)
    q = 3
    sims = emb.vectors["fused"] @ emb.vectors["fused"][q]
    sims[q] = -np.inf
    expect = emb.ids[np.argsort(-sims)[:5]].tolist()
    got = similar(ws, emb.ids[q], k=5)
    assert got["id"].tolist() == expect and got["rank"].tolist() == [1, 2, 3, 4, 5]
    assert (np.diff(got["similarity"]) <= 0).all()
    # cross-modal: query with the metadata vector, search the light-curve vectors (self included)
    cross = similar(ws, emb.ids[q], k=3, modality="metadata", target="photometry")
    s2 = emb.vectors["photometry"] @ emb.vectors["metadata"][q]
    assert cross["id"].tolist() == emb.ids[np.argsort(-s2)[:3]].tolist()
    assert emb.ids[q] in similar(ws, emb.ids[q], k=10, modality="metadata", target="photometry")["id"].tolist()


def test_similar_errors(planted):
    from core.errors import AstroM3Error

    with pytest.raises(AstroM3Error, match="not in"):
        similar(planted["ws"], "no-such-id")
    with pytest.raises(AstroM3Error, match="modality"):
        similar(planted["ws"], planted["results"].id[0], modality="xray")


def test_subclasses_recover_two_planted_groups(planted):
    from sklearn.metrics import adjusted_rand_score

    res = subclasses(planted["ws"], "M", sky=planted["sky"], seed=0)
    t = planted["truth"].set_index("id")
    a = res.assignments
    truth = t.loc[a.id, "subclass"]
    keep = truth.notna().to_numpy()
    assert adjusted_rand_score(truth[keep], a.subgroup[keep]) > 0.8
    assert res.n_subgroups == 2
    # the planted colour difference is the top effect
    assert res.groups[0].effects.column.iloc[0] == "bp_rp"
    assert abs(res.groups[0].effects.cohens_d.iloc[0]) > 1


def test_evaluate_on_planted_sky(planted, tmp_path):
    rep = evaluate(planted["ws"], planted["sky"], sky=planted["sky"])
    assert rep["label_errors"]["ours"]["ap"] > 0.6
    assert rep["anomalies"]["ours"]["auroc"] > 0.95
    assert rep["crossmatch"]["ours"]["auroc"] > 0.95
    assert rep["subclasses"]["M"]["ours"]["ari"] > 0.8
    assert "isolation forest on catalogue" in rep["anomalies"]
    out = tmp_path / "disc"
    assert main(["evaluate", str(planted["ws"]), "--truth", str(planted["sky"]), "--no-baselines",
                 "--out", str(out)]) == 0
    assert (tmp_path / "disc.md").read_text().startswith("# Discovery")
    assert (tmp_path / "disc.json").exists()


def test_cli_exit_codes(planted, tmp_path, capsys):
    assert main(["analyze", str(planted["sky"]), "--workspace", str(planted["ws"])]) == 0
    assert main(["similar", str(planted["ws"]), str(planted["results"].id[0]), "-k", "2"]) == 0
    assert main(["analyze", str(planted["sky"]), "--workspace", str(tmp_path / "empty")]) == 2
    assert "embeddings not found" in capsys.readouterr().err
    assert main(["evaluate", str(planted["ws"]), "--truth", str(tmp_path / "nope.parquet")]) == 2
    assert main(["similar", str(planted["ws"]), "no-such-id"]) == 2


def test_one_modality_and_no_labels(tmp_path, planted):
    sky, ws = planted_sky(tmp_path, n=120, seed=2, modalities=("photometry",), unlabelled_frac=1.0,
                          mislabel_frac=0.0, crossmatch_frac=0.0)
    r = pd.read_parquet(analyze(sky, ws, seed=0))
    assert len(r) == 120 and r["label"].isna().all()
    assert r["mislabel_score"].isna().all() and r["suggested_label"].isna().all()
    assert r["crossmodal_score"].isna().all()  # one modality: nothing to compare
    assert r["outlier_score"].between(0, 1).all()
    assert r["umap_x_photometry"].notna().all() and r["umap_x_spectra"].isna().all()


def test_place_new_objects_lands_them_in_their_cluster(planted):
    from core.analysis.embeddings import load_embeddings
    from core.analysis.engine import place

    r = planted["results"]
    emb = load_embeddings(planted["ws"] / schema.EMBEDDINGS_FILE, ids=r["id"])
    rows = np.flatnonzero((r["cluster"] >= 0).to_numpy() & (r["cluster_prob"] > 0.5).to_numpy())[:20]
    placed = place(planted["ws"], emb.vectors["fused"][rows])
    assert (placed["cluster"].to_numpy() == r["cluster"].to_numpy()[rows]).mean() >= 0.8


def test_results_record_how_the_knn_was_made(planted):
    from core.analysis.neighbors import EXACT_MAX_ROWS
    from core.analysis.results import read_results
    from core.workspace import Workspace

    _, meta = read_results(Workspace(planted["ws"]).results_path)
    made = meta["knn"]
    assert set(made) == {"fused", "side_by_side", *(f"modality {m}" for m in schema.MODALITIES)}
    assert all(v["method"] == "exact" and v["threshold"] == EXACT_MAX_ROWS for v in made.values())
    assert made["fused"]["n"] == 400 and made["fused"]["k"] == 15
    assert set(meta["params"]) == {"umap_sample", "seed", "min_cluster_size", "k", "folds"}   # fingerprint as before
