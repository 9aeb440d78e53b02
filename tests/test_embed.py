"""embeddings.parquet: contract, unit norms, nulls, round trip, freshness."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.embed import embed
from core.sky import open_sky, write_sky
from core.train import load_checkpoint, train
from core.workspace import Workspace, read_parquet_meta
from test_train import make_toy_sky


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("emb")
    sky = make_toy_sky(base / "sky", n=150, seed=3)
    ckpt = train(sky, workspace=base / "ws", preset="tiny", seed=0, epochs=3)
    return sky, ckpt, base


def _vectors(col):
    return np.array([np.asarray(v, dtype=np.float32) for v in col])


def test_contract_norms_and_nulls(trained):
    sky, ckpt, base = trained
    out = embed(sky, ckpt, base / "ws", batch_size=32)
    df = pd.read_parquet(out)
    s = open_sky(sky)
    assert list(df.columns) == ["id", "emb_photometry", "emb_spectra", "emb_metadata", "emb_fused"]
    assert df["id"].tolist() == list(s.ids)
    has_spec = df["id"].isin(set(s.spectrum_ids))
    assert (~has_spec).sum() > 0
    assert df.loc[~has_spec, "emb_spectra"].isna().all() and df.loc[has_spec, "emb_spectra"].notna().all()
    assert df["emb_photometry"].notna().all() and df["emb_fused"].notna().all()
    for col in ("emb_photometry", "emb_fused"):
        v = _vectors(df[col])
        assert v.shape == (len(df), 16) and v.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    # fused = renormalised mean of the available modalities
    row = df[~has_spec].iloc[0]
    mean = (np.asarray(row["emb_photometry"]) + np.asarray(row["emb_metadata"])) / 2
    np.testing.assert_allclose(row["emb_fused"], mean / np.linalg.norm(mean), rtol=1e-5, atol=1e-6)
    meta = read_parquet_meta(out)
    assert meta["model_fingerprint"] == load_checkpoint(ckpt).fingerprint
    assert meta["sky_fingerprint"] == s.fingerprint and meta["dim"] == 16 and meta["preset"] == "tiny"
    assert "embeddings.parquet" in Workspace(base / "ws").manifest()


def test_round_trip_identical_and_fresh_skip(trained, tmp_path):
    sky, ckpt, base = trained
    a = pd.read_parquet(embed(sky, ckpt, tmp_path / "a"))
    b = pd.read_parquet(embed(sky, ckpt, tmp_path / "b", batch_size=7))
    for col in ("emb_photometry", "emb_metadata", "emb_fused"):
        np.testing.assert_allclose(_vectors(a[col]), _vectors(b[col]), atol=1e-5)
    path = tmp_path / "a" / "embeddings.parquet"
    mtime = path.stat().st_mtime_ns
    embed(sky, ckpt, tmp_path / "a")
    assert path.stat().st_mtime_ns == mtime            # fresh: skipped


def test_model_without_a_modality_gives_nulls(trained, tmp_path):
    sky, ckpt, base = trained
    two = make_toy_sky(tmp_path / "two", n=80, seed=4, spectra=False)
    ck2 = train(two, workspace=tmp_path / "w2", preset="tiny", seed=0, epochs=2)
    df = pd.read_parquet(embed(sky, ck2, tmp_path / "w3"))   # sky has spectra; the model does not
    assert df["emb_spectra"].isna().all() and df["emb_photometry"].notna().all()


def test_cli_embed(trained, tmp_path, capsys):
    sky, ckpt, base = trained
    assert main(["embed", str(sky), "--workspace", str(tmp_path / "c"), "--checkpoint", str(ckpt)]) == 0
    assert "objects/s" in capsys.readouterr().out
    # missing metadata column -> one-line error, exit 2
    objects = open_sky(sky).objects.drop(columns=["phot_g_mean_mag"])
    other = write_sky(tmp_path / "nometa", objects, pd.read_parquet(sky / "lightcurves.parquet"))
    assert main(["embed", str(other), "--workspace", str(tmp_path / "d"), "--checkpoint", str(ckpt)]) == 2
    assert "phot_g_mean_mag" in capsys.readouterr().err


def test_core_embed_and_train_stay_callable_after_their_modules_are_imported():
    import subprocess
    import sys

    code = ("import core.embed, core.train, core, inspect; "
            "assert callable(core.embed) and callable(core.train); "
            "assert inspect.signature(core.embed.embed).parameters.keys() >= {'sky', 'checkpoint', 'workspace'}; "
            "print(core.embed.__call__ is not None, core.train.DEFAULT_CHECKPOINT.name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "demo-cpu-seed0.pt"]
