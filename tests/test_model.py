"""Model configs, encoders, loss: every preset does a forward pass; the loss behaves."""
from __future__ import annotations

import math

import pytest
import torch

from core.errors import AstroM3Error
from core.model.config import config_from_dict, get_preset, list_presets
from core.model.encoders import spectrum_length
from core.model.loss import clip_pair_loss, trimodal_loss
from core.model.trimodal import Classifier, TrimodalModel
from core.preprocess import lightcurve_channels
from core.train import _lr_at


def _batch(cfg, b=2, n_meta=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, cfg.photometry.seq_len, dtype=torch.bool)
    mask[0, cfg.photometry.seq_len // 2:] = False
    channels = lightcurve_channels(cfg.photometry.phase_harmonics)
    return {"lc": torch.randn(b, cfg.photometry.seq_len, channels, generator=g), "lc_mask": mask,
            "spec": torch.randn(b, 3, spectrum_length(cfg.spectra), generator=g),
            "meta": torch.randn(b, n_meta, generator=g),
            "has_photometry": torch.ones(b, dtype=torch.bool), "has_spectra": torch.ones(b, dtype=torch.bool),
            "has_metadata": torch.ones(b, dtype=torch.bool)}


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_forward(name):
    cfg = get_preset(name)
    torch.manual_seed(0)
    model = TrimodalModel(cfg, ["photometry", "spectra", "metadata"], n_metadata=7).eval()
    with torch.no_grad():
        out = model(_batch(cfg))
        loss = model.loss(_batch(cfg))
    for m in ("photometry", "spectra", "metadata"):
        assert out[m].shape == (2, cfg.shared_dim)
        torch.testing.assert_close(out[m].norm(dim=1), torch.ones(2))
    assert set(loss) == {"loss", "photometry-spectra", "photometry-metadata", "spectra-metadata"}
    assert torch.isfinite(loss["loss"])


def test_paper_preset_is_the_papers():
    cfg = get_preset("paper")
    p = cfg.photometry
    assert (p.seq_len, p.d_model, p.n_layers, p.n_heads, p.d_ff) == (200, 128, 8, 4, 512)
    assert cfg.shared_dim == 512 and cfg.metadata.hidden == 512 and cfg.train.batch_size == 512
    assert cfg.spectra.channels == (64, 64, 32, 32) and cfg.spectra.kernel == 3 and cfg.spectra.pool == 4
    assert spectrum_length(cfg.spectra) == 2576
    assert cfg.train.lr == pytest.approx(3.9e-3)
    # the paper's inputs: a contiguous window, no phase channels, plateau schedule
    assert (p.sampling, p.phase_harmonics, cfg.train.schedule) == ("window", 0, "plateau")


def test_cosine_schedule_warms_up_then_decays_to_the_floor():
    lrs = [_lr_at(s, 10, 1.0, total_steps=110, min_ratio=0.05) for s in range(111)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.525)
    assert lrs[110] == pytest.approx(0.05) and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert _lr_at(50, 10, 1.0) == 1.0                     # no total: constant after warm-up (plateau mode)
    with pytest.raises(AstroM3Error, match="schedule"):
        get_preset("cpu", schedule="linear")
    with pytest.raises(AstroM3Error, match="sampling"):
        get_preset("cpu", sampling="random")


def test_overrides_and_errors():
    cfg = get_preset("cpu", epochs="3", **{"photometry.d_model": "32", "spectra.channels": "8,8"})
    assert cfg.train.epochs == 3 and cfg.photometry.d_model == 32 and cfg.spectra.channels == (8, 8)
    assert config_from_dict(cfg.to_dict()) == cfg
    with pytest.raises(AstroM3Error, match="ambiguous"):
        get_preset("cpu", dropout=0.2)
    with pytest.raises(AstroM3Error, match="unknown config key"):
        get_preset("cpu", nonsense=1)
    with pytest.raises(AstroM3Error, match="unknown preset"):
        get_preset("huge")
    with pytest.raises(AstroM3Error, match="cannot read"):
        get_preset("cpu", epochs="many")


def test_padding_does_not_change_photometry_embedding():
    cfg = get_preset("tiny")
    torch.manual_seed(0)
    model = TrimodalModel(cfg, ["photometry", "metadata"], n_metadata=3).eval()
    b = _batch(cfg)
    z1 = model.encode_photometry(b["lc"], b["lc_mask"])
    lc = b["lc"].clone()
    lc[0, cfg.photometry.seq_len // 2:] = 123.0      # garbage in padded rows
    z2 = model.encode_photometry(lc, b["lc_mask"])
    torch.testing.assert_close(z1[0], z2[0], atol=1e-5, rtol=1e-5)


def test_loss_lower_for_aligned_pairs_and_missing_modalities_drop_out():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    other = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    scale = torch.tensor(math.log(10.0))
    assert clip_pair_loss(z, z, scale) < clip_pair_loss(z, other, scale)
    out = {"photometry": z, "spectra": other, "metadata": z}
    present = {"photometry": torch.ones(8, dtype=torch.bool),
               "spectra": torch.tensor([True, False, False, False, False, False, False, False]),
               "metadata": torch.ones(8, dtype=torch.bool)}
    scales = {"photometry-spectra": scale, "photometry-metadata": scale, "spectra-metadata": scale}
    res = trimodal_loss(out, present, scales)
    assert set(res) == {"loss", "photometry-metadata"}       # spectra pairs need >= 2 objects
    torch.testing.assert_close(res["loss"], clip_pair_loss(z, z, scale))


def test_two_modality_model_and_classifier():
    cfg = get_preset("tiny")
    model = TrimodalModel(cfg, ["metadata", "photometry"], n_metadata=7)
    assert model.modalities == ["photometry", "metadata"] and list(model.logit_scales) == ["photometry-metadata"]
    clf = Classifier(model, "all", 4)
    assert clf(_batch(cfg)).shape == (2, 4)
