"""The three modality encoders; each maps its input to a feature vector (before projection).

* :class:`PhotometryEncoder`: a standard masked transformer encoder (pre-norm, GELU) over the
  ``(seq_len, 9)`` preprocessed light curve, masked-mean pooled. The paper uses an Informer
  encoder (ProbSparse attention + distilling); at 200 steps full attention is cheap, so we use
  PyTorch's standard ``nn.TransformerEncoder`` instead.
* :class:`SpectraEncoder`: GalSpecNet-style 1-D CNN: conv (kernel 3) + ReLU + max-pool 4 blocks
  with channels 3 -> 64 -> 64 -> 32 -> 32 in the paper preset, flattened.
* :class:`MetadataEncoder`: an MLP (GELU, dropout).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from core.model.config import MetadataConfig, PhotometryConfig, SpectraConfig
from core.preprocess import SPEC_CHANNELS, lightcurve_channels

__all__ = ["PhotometryEncoder", "SpectraEncoder", "MetadataEncoder", "spectrum_length"]


class PhotometryEncoder(nn.Module):
    """Masked transformer over light curves.

    ``forward(x, mask)`` with ``x`` of shape ``(B, seq_len, C)`` (``C = 9`` plus any phase channels,
    see :func:`core.preprocess.lightcurve_channels`) and ``mask`` ``(B, seq_len)``
    (True = real point) returns ``(B, d_model)``.
    """

    def __init__(self, cfg: PhotometryConfig):
        super().__init__()
        self.cfg = cfg
        self.input = nn.Linear(lightcurve_channels(cfg.phase_harmonics), cfg.d_model)
        # sinusoidal embedding of the scaled time (channel 0) added to the input projection
        self.register_buffer("time_freq", torch.exp(torch.linspace(0, math.log(cfg.seq_len), cfg.d_model // 2)))
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out_dim = cfg.d_model

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ang = x[..., :1] * self.time_freq * math.pi
        pe = torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)
        if pe.shape[-1] < self.cfg.d_model:
            pe = nn.functional.pad(pe, (0, self.cfg.d_model - pe.shape[-1]))
        h = self.input(x) + pe
        mask = mask.clone()
        mask[:, 0] |= ~mask.any(dim=1)          # an empty curve attends to its first (zero) row
        h = self.encoder(h, src_key_padding_mask=~mask)
        h = self.norm(h)
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


def spectrum_length(cfg: SpectraConfig) -> int:
    """Number of grid points of the resampled spectrum."""
    return int(math.floor((cfg.hi - cfg.lo) / cfg.step + 0.5)) + 1


class SpectraEncoder(nn.Module):
    """GalSpecNet-style CNN: ``forward(x)`` with ``x`` ``(B, 3, L)`` returns ``(B, C_last * L_out)``."""

    def __init__(self, cfg: SpectraConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in, length = SPEC_CHANNELS, spectrum_length(cfg)
        for i, c in enumerate(cfg.channels):
            layers += [nn.Conv1d(c_in, c, cfg.kernel, padding=cfg.kernel // 2), nn.ReLU()]
            if i < len(cfg.channels) - 1 and length // cfg.pool >= 1:
                layers.append(nn.MaxPool1d(cfg.pool))
                length //= cfg.pool
            c_in = c
        layers += [nn.Flatten(), nn.Dropout(cfg.dropout)]
        self.net = nn.Sequential(*layers)
        self.out_dim = c_in * length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MetadataEncoder(nn.Module):
    """MLP: ``forward(x)`` with ``x`` ``(B, n_features)`` returns ``(B, hidden)``."""

    def __init__(self, n_features: int, cfg: MetadataConfig):
        super().__init__()
        layers: list[nn.Module] = []
        d = n_features
        for _ in range(max(cfg.n_layers, 1)):
            layers += [nn.Linear(d, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout)]
            d = cfg.hidden
        self.net = nn.Sequential(*layers)
        self.out_dim = cfg.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
