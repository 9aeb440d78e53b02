"""The demo sky simulator: reproducibility, proportions, planted truth, physics, CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import schema
from core.errors import AstroM3Error
from core.simulate import simulate_sky
from core.sky import file_fingerprint, open_sky, validate_sky

N = 400


@pytest.fixture(scope="module")
def sky_dir(tmp_path_factory):
    return simulate_sky(N, seed=7, out=tmp_path_factory.mktemp("sim") / "sky")


@pytest.fixture(scope="module")
def sky(sky_dir):
    return open_sky(sky_dir)


@pytest.fixture(scope="module")
def truth(sky):
    return sky.read_truth().set_index("id")


def _files(path):
    return {f: file_fingerprint(path / f) for f in
            (schema.OBJECTS_FILE, schema.LIGHTCURVES_FILE, schema.SPECTRA_FILE, schema.TRUTH_FILE)}


def test_same_seed_identical_files_and_different_seed_differs(tmp_path):
    a = simulate_sky(120, seed=3, out=tmp_path / "a")
    b = simulate_sky(120, seed=3, out=tmp_path / "b")
    c = simulate_sky(120, seed=4, out=tmp_path / "c")
    assert _files(a) == _files(b)
    fc = _files(c)
    assert all(fc[f] != fp for f, fp in _files(a).items())
    assert open_sky(a).fingerprint == open_sky(b).fingerprint != open_sky(c).fingerprint


def test_written_sky_validates_with_all_columns(sky_dir, sky):
    summary = validate_sky(sky_dir)
    assert summary.n_objects == N and summary.n_lightcurves == N and summary.n_spectra == N
    assert summary.has_truth
    lo, hi = summary.wavelength_range
    assert lo == pytest.approx(3700) and hi == pytest.approx(9100)
    for col in (*schema.METADATA_COLUMNS, *schema.PHOTO_COLUMNS, "ra", "dec", "name"):
        assert col in sky.objects.columns, col
    num = sky.objects[list(schema.METADATA_COLUMNS) + list(schema.PHOTO_COLUMNS)]
    assert np.isfinite(num.to_numpy(float)).all()
    assert sky.objects["id"].is_unique
    assert 100 <= summary.epochs["median"] <= 1500


def test_truth_columns_and_rates(truth):
    for col in (*schema.TRUTH_COLUMNS[1:], "teff", "distance_pc", "true_period"):
        assert col in truth.columns, col
    assert truth["is_mislabeled"].sum() == round(0.03 * N)
    assert truth["anomaly_kind"].notna().sum() == round(0.005 * N)
    assert truth["is_crossmatch_error"].sum() == round(0.01 * N)
    mis = truth[truth["is_mislabeled"]]
    assert (mis["label"] != mis["true_label"]).all()
    ok = truth[~truth["is_mislabeled"]]
    assert (ok["label"] == ok["true_label"]).all()
    assert set(truth["label"]) <= set(schema.CLASSES)


def test_zero_rates_plant_nothing(tmp_path):
    t = open_sky(simulate_sky(150, seed=1, out=tmp_path / "z", mislabel_rate=0, anomaly_rate=0,
                              crossmatch_rate=0)).read_truth()
    assert not t["is_mislabeled"].any() and t["anomaly_kind"].isna().all() and not t["is_crossmatch_error"].any()


def test_class_proportions(sky):
    share = sky.objects["label"].value_counts(normalize=True)
    assert share.index[0] == "EW" and share.index[1] == "SR"
    assert share["EW"] == pytest.approx(0.285, abs=0.05)
    assert share.get("DSCT", 0) < 0.04 and share.get("DSCT", 0) <= share["HADS"] + 0.02
    assert set(share.index) == set(schema.CLASSES)


def test_per_class_physics(sky, truth):
    obj = sky.objects.set_index("id").join(truth[["true_label", "kind", "subclass", "true_period"]])
    ordinary = obj[obj["kind"] == obj["true_label"]]
    per = ordinary.groupby("true_label")["true_period"].median()
    assert 0.45 <= per["RRAB"] <= 0.9
    assert 0.2 <= per["RRC"] <= 0.45
    assert 0.25 <= per["EW"] <= 0.6
    assert per["M"] > 100 and per["HADS"] < 0.25
    mira = ordinary[ordinary["true_label"] == "M"]
    assert (mira["amplitude"] > 2.5).mean() > 0.8
    assert ordinary.loc[ordinary["true_label"] == "SR", "amplitude"].median() < mira["amplitude"].median()
    # catalogue period follows the true period
    assert np.allclose(ordinary["period"], ordinary["true_period"], rtol=1e-3) or \
        (np.isclose(ordinary["period"], ordinary["true_period"], rtol=1e-3).mean() > 0.95)


def test_mira_chemistry_and_rot_groups(tmp_path):
    # a sky with enough Miras and rotators to compare the subclasses
    path = simulate_sky(1500, seed=2, out=tmp_path / "s")
    s = open_sky(path)
    t = s.read_truth().set_index("id")
    o = s.objects.set_index("id").join(t[["kind", "subclass", "distance_pc"]])
    m = o[o["kind"] == "M"]
    assert m.loc[m["subclass"] == "C-rich", "j_k"].median() > m.loc[m["subclass"] == "O-rich", "j_k"].median() + 0.3
    r = o[o["kind"] == "ROT"]
    giant, dwarf = r[r["subclass"] == "RS CVn giant"], r[r["subclass"] == "active dwarf"]
    assert giant["period"].median() > 3 * dwarf["period"].median()
    assert t.loc[giant.index, "abs_vmag"].median() < t.loc[dwarf.index, "abs_vmag"].median() - 3


def test_ea_flat_out_of_eclipse(sky, truth):
    ids = truth.index[(truth["kind"] == "EA") & ~truth["is_crossmatch_error"]][:15]
    frac_flat = []
    for oid in ids:
        lc = sky.lightcurve(oid)
        med = np.median(lc.value)
        # most epochs sit within the noise of the out-of-eclipse level
        frac_flat.append(np.mean(np.abs(lc.value - med) < 3 * np.median(lc.error) + 0.03))
    assert np.median(frac_flat) > 0.75


def test_spectra_physics(sky, truth):
    wl = None
    depth = {}
    for kind in ("RRAB", "EW", "M"):
        ids = truth.index[(truth["kind"] == kind) & ~truth["is_crossmatch_error"]][:8]
        vals = []
        for oid in ids:
            sp = sky.spectrum(oid)
            wl = sp.wavelength
            f = sp.flux
            # H-beta depth relative to nearby continuum
            line = f[np.abs(wl - 4861) < 4].mean()
            cont = np.median(f[(np.abs(wl - 4861) > 30) & (np.abs(wl - 4861) < 60)])
            vals.append(1 - line / cont)
        depth[kind] = np.median(vals)
    assert depth["RRAB"] > depth["EW"] - 0.05
    assert wl is not None and np.all(np.diff(wl) > 0)


def test_crossmatch_spectrum_belongs_to_donor(tmp_path):
    path = simulate_sky(300, seed=5, out=tmp_path / "x", crossmatch_rate=0.05)
    t = open_sky(path).read_truth()
    xm = t[t["is_crossmatch_error"]]
    assert len(xm) == 15
    assert xm["crossmatch_source"].notna().all()
    donor_class = t.set_index("id").loc[xm["crossmatch_source"], "true_label"].to_numpy()
    assert (donor_class != xm["true_label"].to_numpy()).all()


def test_anomalies_are_new_kinds_with_ordinary_labels(tmp_path):
    path = simulate_sky(800, seed=9, out=tmp_path / "an", anomaly_rate=0.02)
    t = open_sky(path).read_truth()
    an = t[t["anomaly_kind"].notna()]
    assert len(an) == 16
    assert set(an["anomaly_kind"]) == {"anomalous_cepheid", "type2_cepheid", "rr_like_dsct", "blend",
                                       "yso_dipper", "rcrb_fade", "microlensing", "flare_star"}
    assert set(an["label"]) <= set(schema.CLASSES)
    assert not an["is_mislabeled"].any()


@pytest.mark.parametrize("kw", [dict(n=0), dict(n=-5), dict(mislabel_rate=-0.1), dict(anomaly_rate=2.0),
                                dict(out=None)])
def test_bad_options_raise(tmp_path, kw):
    args = dict(n=10, out=tmp_path / "bad")
    args.update(kw)
    with pytest.raises(AstroM3Error):
        simulate_sky(**args)


def test_cli(tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "cli"
    assert main(["simulate", str(out), "--n", "60", "--seed", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert "60 objects" in line and len(line.splitlines()) == 1
    assert (out / schema.TRUTH_FILE).exists()
    assert main(["simulate", str(out), "--n", "60"]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and len(err.splitlines()) == 1
    assert main(["simulate", str(out), "--n", "60", "--force"]) == 0
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "n0"), "--n", "0"]) == 2
    assert "positive integer" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "neg"), "--mislabel-rate", "-0.2"]) == 2
    assert "mislabel_rate" in capsys.readouterr().err
    assert not (tmp_path / "n0").exists() and not (tmp_path / "neg").exists()
    assert pd.read_parquet(out / schema.OBJECTS_FILE).shape[0] == 60


def test_coordinates_and_proper_motions_match_astropy():
    astropy_coords = pytest.importorskip("astropy.coordinates")
    import astropy.units as u

    from core.simulate.metadata import galactic_to_equatorial_pm, radec

    l, b = np.array([10.0, 120, 250, 33]), np.array([5.0, -40, 60, -2])
    pl, pb = np.array([3.0, -1, 2, 0.5]), np.array([1.0, 2, -4, 0.3])
    c = astropy_coords.SkyCoord(l=l * u.deg, b=b * u.deg, pm_l_cosb=pl * u.mas / u.yr, pm_b=pb * u.mas / u.yr,
                                frame="galactic").icrs
    ra, dec = radec(l, b)
    assert np.allclose(ra, c.ra.deg, atol=1e-4) and np.allclose(dec, c.dec.deg, atol=1e-4)
    pmra, pmdec = galactic_to_equatorial_pm(l, b, pl, pb)
    assert np.allclose(pmra, c.pm_ra_cosdec.value, atol=1e-5) and np.allclose(pmdec, c.pm_dec.value, atol=1e-5)


def test_label_errors_sit_near_the_wrong_class(tmp_path):
    """Planted errors are concentrated where surveys confuse classes: near the wrong class's periods."""
    path = simulate_sky(3000, seed=4, out=tmp_path / "b", mislabel_rate=0.05)
    t = open_sky(path).read_truth()
    logp = np.log10(t["true_period"].to_numpy())
    clean = ~t["is_mislabeled"].to_numpy() & t["anomaly_kind"].isna().to_numpy()
    med = {c: np.median(logp[clean & (t["true_label"] == c).to_numpy()]) for c in set(t["true_label"])}
    mis = t[t["is_mislabeled"]]
    assert len(mis) == 150
    z_mis = np.abs(np.log10(mis["true_period"]).to_numpy() - [med[c] for c in mis["label"]])
    # the same true classes, the same wrong labels, but stars drawn regardless of their period
    rng = np.random.default_rng(0)
    z_any = []
    for true_c, wrong in zip(mis["true_label"], mis["label"]):
        pool = logp[clean & (t["true_label"] == true_c).to_numpy()]
        z_any.append(abs(rng.choice(pool) - med[wrong]))
    assert np.median(z_mis) < 0.7 * np.median(z_any)
