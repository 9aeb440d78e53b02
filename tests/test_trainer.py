"""core.trainer: pair losses logged per epoch, and bit-identical to the loop it replaced.

``reference_pretrain`` is the pretraining loop as it was inside ``core.train.train`` before the
trainer (the loop that made the shipped checkpoint, fingerprint in test_packaging.py), without
resume. Comparing it with ``train`` in the same run checks that the trainer draws the same random
numbers in the same order, whatever the torch version.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from test_train import make_toy_sky

from core.train import _lr_at, load_checkpoint, train
from core.trainer import TRAIN_LOG, pair_summary

PAIRS = ["photometry-spectra", "photometry-metadata", "spectra-metadata"]


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    return make_toy_sky(tmp_path_factory.mktemp("trainer") / "sky", n=200, seed=3)


def reference_pretrain(sky, preset, seed, **overrides):
    """The pre-trainer loop of ``core.train.train`` (no resume): best weights and history."""
    from core.data import Preprocessor, SkyArrays, split_ids
    from core.model.config import get_preset
    from core.model.trimodal import TrimodalModel
    from core.train import sky_modalities

    cfg = get_preset(preset, **overrides)
    tc = cfg.train
    mods = sky_modalities(sky)
    ids = np.asarray(sky.ids, dtype=object)
    split = split_ids(ids, seed, tc.val_fraction, tc.test_fraction)
    train_rows, val_rows = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    if tc.max_objects and len(train_rows) > tc.max_objects:
        sub = np.random.default_rng(seed).choice(len(train_rows), tc.max_objects, replace=False)
        train_rows = train_rows[np.sort(sub)]
        val_rows = val_rows[: max(2, tc.max_objects // 8)]
    prep = Preprocessor.fit(sky.objects.iloc[train_rows], sky.metadata_columns, cfg)
    torch.manual_seed(seed)
    model = TrimodalModel(cfg, mods, n_metadata=prep.n_metadata)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=tc.plateau_factor, patience=tc.plateau_patience)
    rng = np.random.default_rng(seed)
    train_data, val_data = SkyArrays(sky, ids[train_rows], prep, mods), SkyArrays(sky, ids[val_rows], prep, mods)
    bs = tc.batch_size
    n_batches = max(1, len(train_data) // bs)
    warmup_steps, cosine, total_steps = tc.warmup_epochs * n_batches, tc.schedule == "cosine", tc.epochs * n_batches
    step, best, bad, history, best_state = 0, math.inf, 0, [], None
    for epoch in range(tc.epochs):
        model.train()
        perm = rng.permutation(len(train_data))
        running = []
        for b in range(n_batches):
            idx = perm[b * bs:(b + 1) * bs] if b < n_batches - 1 else perm[b * bs:]
            batch = train_data.batch(idx, rng=rng)
            if step < warmup_steps or cosine:
                for g in opt.param_groups:
                    g["lr"] = _lr_at(step, warmup_steps, tc.lr, total_steps=total_steps if cosine else 0,
                                     min_ratio=tc.min_lr_ratio)
            out = model.loss(batch)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            if tc.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            step += 1
            running.append(float(out["loss"].detach()))
        model.eval()
        total, weight = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(val_data), bs):
                vidx = np.arange(start, min(start + bs, len(val_data)))
                if len(vidx) >= 2:
                    total += float(model.loss(val_data.batch(vidx))["loss"]) * len(vidx)
                    weight += len(vidx)
        val = total / max(weight, 1)
        if step >= warmup_steps and not cosine:
            plateau.step(val)
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(running)), "val_loss": val,
                        "lr": opt.param_groups[0]["lr"]})
        if val < best - 1e-4:
            best, bad = val, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        if bad >= tc.patience:
            break
    return best_state or model.state_dict(), history


@pytest.mark.parametrize("overrides", [
    {"epochs": 3},                                                       # tiny: reduce-on-plateau
    {"epochs": 3, "schedule": "cosine", "warmup_epochs": 1, "grad_clip": 1.0, "max_objects": 100},  # as cpu
], ids=["plateau", "cosine-warmup-clip-subset"])
def test_trainer_reproduces_the_original_loop_bit_for_bit(sky, tmp_path, overrides):
    from core.sky import open_sky

    sky = open_sky(sky)
    ref_state, ref_history = reference_pretrain(sky, "tiny", 0, **overrides)
    m = load_checkpoint(train(sky, workspace=tmp_path, preset="tiny", seed=0, device="cpu", **overrides))
    assert [{k: h[k] for k in ("epoch", "train_loss", "val_loss", "lr")} for h in m.history] == ref_history
    state = m.model.state_dict()
    assert sorted(state) == sorted(ref_state)
    for k, v in ref_state.items():
        assert torch.equal(state[k], v), k


def test_each_pair_loss_is_logged_per_epoch(sky, tmp_path):
    p = train(sky, workspace=tmp_path, preset="tiny", seed=0, epochs=3)
    hist = load_checkpoint(p).history
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    for h in hist:
        for split in ("train", "val"):
            pairs = h[f"{split}_pairs"]
            assert list(pairs) == PAIRS
            assert all(np.isfinite(v) and v > 0 for v in pairs.values())
            # every batch of this sky scores every pair, so the pair losses add up to the total
            assert sum(pairs.values()) == pytest.approx(h[f"{split}_loss"], rel=1e-6)
    # contrastive training lowers each pair's training loss
    assert all(hist[-1]["train_pairs"][q] < hist[0]["train_pairs"][q] for q in PAIRS)
    log = [json.loads(line) for line in (tmp_path / TRAIN_LOG).read_text().splitlines()]
    assert log == json.loads(json.dumps(hist))
    assert pair_summary(hist[0]).startswith(f"phot-spec {hist[0]['val_pairs']['photometry-spectra']:.3f}, phot-meta")


def test_two_modalities_log_their_single_pair(tmp_path):
    sky = make_toy_sky(tmp_path / "sky2", n=120, spectra=False)
    hist = load_checkpoint(train(sky, workspace=tmp_path / "ws", preset="tiny", seed=0, epochs=2)).history
    assert [list(h["val_pairs"]) for h in hist] == [["photometry-metadata"]] * 2
    assert hist[-1]["val_pairs"]["photometry-metadata"] == pytest.approx(hist[-1]["val_loss"], rel=1e-6)


def test_epoch_line_names_the_pair_losses(sky, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASTROM3_PROGRESS", "1")
    train(sky, workspace=tmp_path, preset="tiny", seed=0, epochs=1)
    err = capsys.readouterr().err
    assert "epoch 1: train loss" in err and "[phot-spec " in err and "spec-meta " in err
