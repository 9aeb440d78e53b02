"""Pretraining end to end (tiny preset, real CLI), checkpoints, reproducibility, fine-tuning."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from core.cli import main
from core.errors import AstroM3Error, CheckpointMismatchError
from core.sky import open_sky, write_sky
from core.train import CheckpointWarning, finetune, load_checkpoint, train


def make_toy_sky(path, n=200, seed=0, spectra=True, metadata=True):
    """A small seeded sky whose three modalities share a hidden class (so contrastive loss can fall)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["EW", "RRAB", "M"], n)
    ids = [f"s{i:04d}" for i in range(n)]
    period = np.array([{"EW": 0.35, "RRAB": 0.6, "M": 300.0}[c] for c in labels]) * rng.uniform(0.8, 1.2, n)
    amp = np.array([{"EW": 0.4, "RRAB": 0.8, "M": 3.0}[c] for c in labels]) * rng.uniform(0.7, 1.3, n)
    obj = pd.DataFrame({"id": ids, "label": labels})
    if metadata:
        obj["period"] = period
        obj["amplitude"] = amp
        obj["parallax"] = rng.uniform(-0.2, 3, n)
        obj["phot_g_mean_mag"] = rng.normal(13, 1, n) + (labels == "M") * 2
        obj["bp_rp"] = np.where(labels == "M", 3.0, 0.6) + rng.normal(0, 0.1, n)
        obj.loc[rng.random(n) < 0.1, "bp_rp"] = np.nan
    lcs = []
    for i in range(n):
        m = int(rng.integers(40, 120))
        t = np.sort(rng.uniform(0, 1000, m))
        lcs.append({"id": ids[i], "time": t, "mag": 12 + amp[i] * np.sin(2 * np.pi * t / period[i])
                    + rng.normal(0, 0.02, m), "mag_err": np.full(m, 0.02)})
    sp = []
    if spectra:
        wl = np.linspace(3700, 9100, 300)
        for i in range(n):
            if rng.random() < 0.15:
                continue
            temp = {"EW": 6000, "RRAB": 7000, "M": 3000}[labels[i]]
            f = 1e5 / (wl / 5000) ** 5 / (np.exp(14388e4 / (wl * temp)) - 1) * (1 + rng.normal(0, 0.02, len(wl)))
            sp.append({"id": ids[i], "wavelength": wl, "flux": f, "flux_err": np.abs(f) * 0.02 + 1e-6})
    return write_sky(path, obj, pd.DataFrame(lcs), pd.DataFrame(sp) if sp else None)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    base = tmp_path_factory.mktemp("toy")
    sky = make_toy_sky(base / "sky")
    ws = base / "ws"
    rc = main(["train", str(sky), "--workspace", str(ws), "--preset", "tiny", "--seed", "0"])
    assert rc == 0
    return sky, ws


def test_cli_train_tiny_loss_falls(toy):
    sky, ws = toy
    m = load_checkpoint(ws / "model.pt", sky)
    assert m.preset == "tiny" and m.modalities == ["photometry", "spectra", "metadata"]
    losses = [h["train_loss"] for h in m.history]
    assert len(losses) >= 3
    assert losses[-1] < 0.9 * losses[0]
    assert m.history[-1]["val_loss"] < m.history[0]["val_loss"]
    assert "model.pt" in __import__("core").Workspace(ws).manifest()


def test_same_seed_same_weights_and_resume_is_noop(toy, tmp_path):
    sky, ws = toy
    p = train(sky, workspace=tmp_path / "again", preset="tiny", seed=0)
    a, b = load_checkpoint(ws / "model.pt"), load_checkpoint(p)
    assert a.fingerprint == b.fingerprint
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(v, b.model.state_dict()[k], rtol=0, atol=0)
    assert train(sky, workspace=tmp_path / "again", preset="tiny", seed=0, resume=True) == p
    assert load_checkpoint(p).fingerprint == a.fingerprint


def test_resume_continues_an_interrupted_run(toy, tmp_path):
    sky, _ = toy
    full = train(sky, workspace=tmp_path / "full", preset="tiny", seed=1, epochs=4, patience=10)
    part = train(sky, workspace=tmp_path / "part", preset="tiny", seed=1, epochs=4, patience=10)
    ck = torch.load(part, weights_only=False)
    # rewind the saved run to its state after epoch 2 by retraining 2 epochs then resuming with 4
    short = train(sky, workspace=tmp_path / "short", preset="tiny", seed=1, epochs=2, patience=10)
    ck2 = torch.load(short, weights_only=False)
    ck2["config"]["train"]["epochs"] = 4
    ck2["resume"]["done"] = False
    torch.save(ck2, short)
    resumed = train(sky, workspace=tmp_path / "short", preset="tiny", seed=1, epochs=4, patience=10, resume=True)
    assert len(load_checkpoint(resumed).history) == 4
    assert load_checkpoint(resumed).fingerprint == load_checkpoint(full).fingerprint == ck["fingerprint"]
    with pytest.raises(CheckpointMismatchError, match="cannot resume"):
        train(sky, workspace=tmp_path / "short", preset="tiny", seed=2, resume=True)


def test_two_modality_sky_trains(tmp_path):
    sky = make_toy_sky(tmp_path / "sky2", n=120, spectra=False)
    p = train(sky, workspace=tmp_path / "ws2", preset="tiny", seed=0, epochs=3)
    m = load_checkpoint(p)
    assert m.modalities == ["photometry", "metadata"]
    assert list(m.model.logit_scales) == ["photometry-metadata"]
    assert np.isfinite(m.history[-1]["val_loss"])


def test_checkpoint_mismatch_errors(toy, tmp_path):
    sky, ws = toy
    objects = open_sky(sky).objects.drop(columns=["bp_rp", "parallax"])
    lcs = pd.read_parquet(sky / "lightcurves.parquet")
    other = write_sky(tmp_path / "other", objects, lcs)
    with pytest.raises(CheckpointMismatchError, match="lacks: parallax, bp_rp|lacks: .*bp_rp"):
        load_checkpoint(ws / "model.pt", other)
    # a different sky with the right columns: a warning, not an error
    sky3 = make_toy_sky(tmp_path / "sky3", n=60, seed=5)
    with pytest.warns(CheckpointWarning, match="another sky"):
        load_checkpoint(ws / "model.pt", sky3)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(AstroM3Error, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    ck = torch.load(ws / "model.pt", weights_only=False)
    ck["versions"]["torch"] = "1.0.0"
    old = tmp_path / "old.pt"
    torch.save(ck, old)
    with pytest.warns(CheckpointWarning, match="other library versions"):
        load_checkpoint(old)


def test_cli_errors_exit_2(toy, tmp_path, capsys):
    sky, ws = toy
    assert main(["train", str(sky), "--workspace", str(tmp_path / "w"), "--preset", "huge"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["train", str(sky), "--workspace", str(tmp_path / "w"), "--preset", "tiny", "--set", "oops"]) == 2
    assert main(["finetune", str(sky), "--workspace", str(tmp_path / "w"), "--modality", "photometry"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_finetune_pretrained_and_scratch(toy, capsys):
    sky, ws = toy
    rc = main(["finetune", str(sky), "--workspace", str(ws), "--modality", "metadata", "--labels", "0.5",
               "--epochs", "2"])
    assert rc == 0 and "test accuracy" in capsys.readouterr().out
    m = finetune(sky, workspace=ws, modality="all", label_fraction=1.0, pretrained=None, preset="tiny",
                 seed=0, epochs=15, min_epoch_objects=0)
    assert m["init"] == "scratch" and m["n_test"] > 0
    assert m["test_accuracy"] > 0.6          # three well separated classes; chance is ~0.33
    p = finetune(sky, workspace=ws, modality="photometry", label_fraction=0.5, pretrained=ws / "model.pt",
                 seed=0, epochs=3, min_epoch_objects=0)
    assert p["init"] == "pretrained" and p["n_train"] < m["n_train"]
    with pytest.raises(AstroM3Error, match="unknown modality"):
        finetune(sky, workspace=ws, modality="radio")


def test_simulated_mini_sky_trains_and_embeds(tmp_path):
    """The real simulator's sky (3 modalities, AstroM3 columns) through train and embed."""
    simulate = pytest.importorskip("core.simulate")
    sky = simulate.simulate_sky(150, 0, out=tmp_path / "sim")
    assert main(["train", str(sky), "--workspace", str(tmp_path / "ws"), "--preset", "tiny", "--epochs", "3"]) == 0
    m = load_checkpoint(tmp_path / "ws" / "model.pt", sky)
    assert m.modalities == ["photometry", "spectra", "metadata"]
    assert "log_period" in m.preprocessor.metadata.features and "cos_l" in m.preprocessor.metadata.features
    assert m.history[-1]["train_loss"] < m.history[0]["train_loss"]
    assert main(["embed", str(sky), "--workspace", str(tmp_path / "ws")]) == 0
    df = pd.read_parquet(tmp_path / "ws" / "embeddings.parquet")
    assert len(df) == 150 and df["emb_fused"].notna().all()
