"""``astrom3 plant``: a planted copy of a sky, reproducible, with complete truth and no leaking columns."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import schema
from core.cli import main
from core.plant import CONFUSABLE, parse_relabel, plant_sky
from core.sky import open_sky, write_sky


def _sky(tmp_path, n=400, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.choice(["EW", "EA", "RRAB", "RRC", "ACEP"], size=n, p=[0.3, 0.2, 0.25, 0.2, 0.05])
    ids = [f"s{i:04d}" for i in range(n)]
    objects = pd.DataFrame({"id": ids, "label": labels, "period": rng.uniform(0.2, 2.0, n),
                            "amplitude": rng.uniform(0.1, 1.0, n), "catalog_type": [f"{v}-type" for v in labels],
                            "other_names": ["V* X"] * n, "name": [f"J{i}" for i in range(n)],
                            "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-60, 0, n)})
    lcs = pd.DataFrame({"id": ids, "time": [np.sort(rng.uniform(0, 100, 20)) for _ in ids],
                        "mag": [rng.normal(15, 0.1, 20) for _ in ids], "mag_err": [np.full(20, 0.02)] * n})
    wl = np.linspace(4000, 9000, 50)
    spectra = pd.DataFrame({"id": ids[:200], "wavelength": [wl] * 200,
                            "flux": [np.full(50, float(i)) for i in range(200)], "flux_err": [np.ones(50)] * 200})
    return write_sky(tmp_path / "sky", objects, lcs, spectra)


def test_plant_truth_is_complete_and_consistent(tmp_path):
    sky_dir = _sky(tmp_path)
    rep = plant_sky(sky_dir, tmp_path / "p", seed=3, flip=0.05, relabel={"ACEP": "RRAB"}, swap=0.1)
    planted = open_sky(tmp_path / "p")
    t = pd.read_parquet(tmp_path / "p" / schema.TRUTH_FILE)
    orig = open_sky(sky_dir).objects.set_index("id")
    assert set(schema.TRUTH_COLUMNS) <= set(t.columns)
    assert t["id"].tolist() == planted.ids.tolist()
    n_acep = int((orig["label"] == "ACEP").sum())
    assert rep.relabelled == {"ACEP": n_acep} and (t["anomaly_kind"] == "ACEP").sum() == n_acep
    assert "ACEP" not in set(planted.labels)                                   # relabelled: RRAB now
    assert (planted.labels[t.set_index("id")["anomaly_kind"] == "ACEP"] == "RRAB").all()
    flipped = t[t["is_mislabeled"]]
    assert len(flipped) == rep.n_flipped == round(0.05 * len(orig))
    assert (flipped["label"] != flipped["true_label"]).all()
    assert (flipped["true_label"] == orig.loc[flipped["id"], "label"].to_numpy()).all()
    pairs = {frozenset(p) for p in CONFUSABLE}
    assert all(frozenset((a, b)) in pairs for a, b in zip(flipped["true_label"], flipped["label"]))
    clean = t[~t["is_mislabeled"] & t["anomaly_kind"].isna()]
    assert (planted.labels[clean["id"]].to_numpy() == clean["true_label"].to_numpy()).all()


def test_plant_swaps_spectra_and_records_the_donor(tmp_path):
    sky_dir = _sky(tmp_path)
    rep = plant_sky(sky_dir, tmp_path / "p", seed=1, flip=0.0, swap=0.1)
    t = pd.read_parquet(tmp_path / "p" / schema.TRUTH_FILE).set_index("id")
    swapped = t.index[t["is_crossmatch_error"]]
    assert len(swapped) == rep.n_swapped == 20          # 10 % of the 200 spectra, in 10 pairs
    planted, orig = open_sky(tmp_path / "p"), open_sky(sky_dir)
    for i in swapped:
        donor = t.loc[i, "crossmatch_source"]
        assert t.loc[donor, "crossmatch_source"] == i                       # pairs exchange
        np.testing.assert_array_equal(planted.spectrum(i).flux, orig.spectrum(donor).flux)
    untouched = orig.spectrum_ids.difference(swapped)[0]
    np.testing.assert_array_equal(planted.spectrum(untouched).flux, orig.spectrum(untouched).flux)


def test_plant_is_reproducible_and_drops_leaking_columns(tmp_path):
    sky_dir = _sky(tmp_path)
    a = plant_sky(sky_dir, tmp_path / "a", seed=7, relabel={"ACEP": "RRAB"})
    plant_sky(sky_dir, tmp_path / "b", seed=7, relabel={"ACEP": "RRAB"})
    plant_sky(sky_dir, tmp_path / "c", seed=8, relabel={"ACEP": "RRAB"})
    ta, tb, tc = (pd.read_parquet(tmp_path / d / schema.TRUTH_FILE) for d in "abc")
    pd.testing.assert_frame_equal(ta, tb)
    assert not ta["is_mislabeled"].equals(tc["is_mislabeled"])
    cols = open_sky(tmp_path / "a").objects.columns
    assert "catalog_type" not in cols and "other_names" not in cols
    assert {"name", "period", "amplitude", "ra", "dec"} <= set(cols)
    assert a.dropped_columns == ["catalog_type", "other_names"]


@pytest.mark.parametrize("argv, message", [
    (["--relabel", "NOPE:RRAB"], "no class 'NOPE'"),
    (["--relabel", "ACEP"], "is not FROM:TO"),
    (["--relabel", "ACEP:GONE"], "must be a class of the sky"),
    (["--flip", "0.7"], "--flip 0.7"),
    (["--swap", "-1"], "--swap -1"),
])
def test_plant_cli_bad_options_give_one_line_and_exit_2(tmp_path, capsys, argv, message):
    sky_dir = _sky(tmp_path)
    assert main(["plant", str(sky_dir), str(tmp_path / "p"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "p").exists()


def test_plant_cli_refuses_existing_out_and_writes_with_force(tmp_path, capsys):
    sky_dir = _sky(tmp_path)
    assert main(["plant", str(sky_dir), str(tmp_path / "p"), "--relabel", "ACEP:RRAB,EA:EW"]) == 0
    assert "dropped columns that would leak the truth: catalog_type, other_names" in capsys.readouterr().out
    assert main(["plant", str(sky_dir), str(tmp_path / "p")]) == 2
    assert main(["plant", str(sky_dir), str(tmp_path / "p"), "--force", "--seed", "2"]) == 0


def test_parse_relabel():
    assert parse_relabel("ACEP:RRAB, CEPII:RRAB") == {"ACEP": "RRAB", "CEPII": "RRAB"}
    assert parse_relabel("") == {}


def test_plant_real_crts_relabels_cepheids(shared_data, tmp_path):
    rep = plant_sky(shared_data / "crts-sss", tmp_path / "p", seed=0, relabel={"ACEP": "RRAB", "CEPII": "RRAB"})
    t = pd.read_parquet(tmp_path / "p" / schema.TRUTH_FILE)
    assert rep.relabelled == {"ACEP": 107, "CEPII": 107}
    assert t["anomaly_kind"].notna().sum() == 214 and rep.n_flipped == round(0.03 * 16195)
    assert set(open_sky(tmp_path / "p").classes) == {"EW", "EA", "RRAB", "RRC", "ROT", "LPV", "RRD", "DSCT"}
