"""Odd for the label it carries: per-class robust surprises, their explanation, the score registry."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import schema, scores
from core.analysis import analyze, conditional, evaluate
from core.analysis.synthetic import planted_sky


def _catalogue(seed=0, n_per=400, n_intruders=12, n_flips=12):
    """Three classes by (log period, amplitude), intruders of a new kind inside class A, flips A<->B."""
    rng = np.random.default_rng(seed)
    centres = {"A": (-0.25, 0.8), "B": (-0.45, 0.4), "C": (2.4, 2.0)}
    rows = []
    for lab, (lp, amp) in centres.items():
        rows += [(lab, lab, rng.normal(lp, 0.03), rng.normal(amp, 0.08), "") for _ in range(n_per)]
    # a kind no class describes, filed as A: period 2-5 d at A's amplitude
    rows += [("A", "A", rng.uniform(0.3, 0.7), rng.normal(0.8, 0.08), "new") for _ in range(n_intruders)]
    # B stars labelled A: odd for A, ordinary for B (the label-error score's business)
    rows += [("A", "B", rng.normal(-0.45, 0.03), rng.normal(0.4, 0.08), "flip") for _ in range(n_flips)]
    df = pd.DataFrame(rows, columns=["label", "true", "logp", "amplitude", "planted"])
    df["period"] = 10 ** df.pop("logp")
    return df


def _probs(df, classes):
    """Class probabilities a good classifier would give: the true class, confidently."""
    p = np.full((len(df), len(classes)), 0.02)
    p[np.arange(len(df)), [classes.index(t) for t in df["true"]]] = 0.96
    return p


def test_own_class_surprise_finds_intruders_and_leaves_flips_to_the_label_score():
    df = _catalogue()
    classes = ["A", "B", "C"]
    y = np.array([classes.index(v) for v in df["label"]])
    feats = conditional.catalogue_features(df)
    assert list(feats.columns) == ["log_period", "amplitude"]
    surprise, med, mad = conditional.catalogue_class_distance(feats, y, 3, seed=0)
    own, _ = conditional.own_and_nearest(surprise, y)
    new, flip = (df["planted"] == "new").to_numpy(), (df["planted"] == "flip").to_numpy()
    top = np.argsort(-own)[:24]
    assert new[top].sum() == 12 and flip[top].sum() == 12            # both are odd for the label A
    explained = conditional.explained_surprise(surprise, y, _probs(df, classes))
    top = np.argsort(-explained)[:12]
    assert new[top].all()                                             # flips are explained by class B
    assert explained[flip].max() < np.percentile(explained[~new & ~flip], 99)


def test_explanation_names_the_column_the_class_and_the_median():
    df = _catalogue()
    classes = ["A", "B", "C"]
    y = np.array([classes.index(v) for v in df["label"]])
    feats = conditional.catalogue_features(df)
    _, med, mad = conditional.catalogue_class_distance(feats, y, 3, seed=0)
    words = conditional.explain_catalogue(feats, med, mad, y, classes)
    r = int(np.flatnonzero((df["planted"] == "new").to_numpy())[0])
    median_a = 10 ** np.median(np.log10(df.loc[df["label"] == "A", "period"]))
    assert words[r].startswith(f"period {df['period'][r]:.3g} d: ")
    assert f"MAD above the A median {median_a:.3g} d" in words[r]
    assert int(words[r].split(": ")[1].split(" MAD")[0]) > 10
    assert (words[(df["planted"] == "").to_numpy()] == "").mean() > 0.95   # ordinary stars: no sentence


def test_calibration_puts_a_long_tailed_class_on_the_scale_of_a_tight_one():
    rng = np.random.default_rng(1)
    tight, wide = rng.exponential(1.0, 500), rng.exponential(10.0, 500)
    y = np.repeat([0, 1], 500)
    cal = conditional.calibrate_by_class(np.concatenate([tight, wide]), y, 2)
    assert abs(np.median(cal[:500])) < 1e-9 and abs(np.median(cal[500:])) < 1e-9
    assert abs(np.percentile(cal[:500], 90) - 1) < 1e-9 and abs(np.percentile(cal[500:], 90) - 1) < 1e-9


def test_small_classes_and_unlabelled_objects_get_no_own_class_surprise():
    df = _catalogue(n_per=20, n_intruders=0, n_flips=0)
    y = np.array([["A", "B", "C"].index(v) for v in df["label"]])
    y[:5] = -1
    surprise, _, _ = conditional.catalogue_class_distance(conditional.catalogue_features(df), y, 3)
    assert np.isnan(surprise).all()                      # 20 < MIN_MEMBERS members per class


@pytest.fixture
def extra_score():
    def compute(inp):
        return np.where(inp.y >= 0, inp.columns["outlier_score"] * 0.5, np.nan)

    scores.register(scores.Score("test_half_outlier", "half the outlier score", target="anomalies",
                                 headline=False, compute=compute))
    yield "test_half_outlier"
    scores.unregister("test_half_outlier")


def test_a_registered_score_reaches_results_and_evaluate(tmp_path, extra_score):
    sky, ws = planted_sky(tmp_path, n=300, seed=2)
    r = pd.read_parquet(analyze(sky, ws, seed=0))
    labelled = r["label"].notna().to_numpy()
    np.testing.assert_allclose(r.loc[labelled, extra_score], r.loc[labelled, "outlier_score"] * 0.5)
    report = evaluate(ws, sky / schema.TRUTH_FILE, baselines=False)
    mine, ours = report["anomalies"]["ours: half outlier only"], report["anomalies"]["ours"]
    assert mine["n_positive"] == ours["n_positive"] and 0 < mine["ap"] <= ours["ap"] + 1e-9
    scores.unregister(extra_score)
    from core.analysis.engine import analysis_is_fresh
    assert not analysis_is_fresh(sky, ws, seed=0)        # the set of scores is an input of the results


def test_registry_rejects_an_unknown_target():
    with pytest.raises(ValueError, match="target must be one of"):
        scores.register(scores.Score("bad", "x", target="planets"))
    assert "bad" not in scores.REGISTRY
    assert scores.headline() == ("mislabel_score", "outlier_score", "crossmodal_score")
    assert "outlier_own_class" in scores.parts_of("outlier_score")


def test_plugins_named_in_the_environment_register_their_scores(tmp_path):
    import subprocess
    import sys

    (tmp_path / "my_scores.py").write_text(
        "from core import scores\n"
        "scores.register(scores.Score('plugin_score', 'from a plugin', target='anomalies', headline=True))\n")
    code = "from core import scores; print(scores.headline())"
    env = {"ASTROM3_PLUGINS": "my_scores", "PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[1]}",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "plugin_score" in out and "outlier_score" in out
    env["ASTROM3_PLUGINS"] = "no_such_module_here"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "ASTROM3_PLUGINS: cannot import 'no_such_module_here'" in bad.stderr


def test_a_sky_with_light_curves_gets_the_light_curve_forest_in_its_label_error_score(tmp_path):
    import core
    from core.train import DEFAULT_CHECKPOINT
    from core.workspace import read_parquet_meta

    sky_dir = core.simulate_sky(n=400, seed=1, out=tmp_path / "sky")
    sky = core.open_sky(sky_dir)
    core.embed(sky, DEFAULT_CHECKPOINT, tmp_path / "ws")
    r = pd.read_parquet(analyze(sky, tmp_path / "ws", seed=0))
    labelled = r["label"].notna().to_numpy()
    assert np.isfinite(r.loc[labelled, "mislabel_features"]).all()
    cache = tmp_path / "ws" / "baselines" / "lightcurve_features.parquet"
    assert read_parquet_meta(cache)["sky"] == sky.fingerprint
    feats = pd.read_parquet(cache)
    assert len(feats) == 400 and feats["log_period"].notna().mean() > 0.9
    assert "light-curve features" in read_parquet_meta(tmp_path / "ws" / "results.parquet")["timings"]
