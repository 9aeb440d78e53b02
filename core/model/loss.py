"""The CLIP-style trimodal loss.

For each pair of modalities (photometry-spectra, photometry-metadata, spectra-metadata) the
batch similarity matrix ``scale * z_a @ z_b.T`` is scored by the symmetric cross-entropy (each
object must pick its own partner among the batch, in both directions). Objects lacking a
modality drop out of the pairs that need it; a pair with fewer than two objects in the batch
contributes nothing. The total is the sum over pairs.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

__all__ = ["pair_name", "clip_pair_loss", "trimodal_loss"]


def pair_name(a: str, b: str) -> str:
    """``'photometry-spectra'`` etc."""
    return f"{a}-{b}"


def clip_pair_loss(za: torch.Tensor, zb: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy of one pair; ``za``, ``zb`` ``(n, d)`` L2-normalised, row i matches row i."""
    logits = logit_scale.exp().clamp(max=100.0) * za @ zb.T
    target = torch.arange(len(za), device=za.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def trimodal_loss(out: dict, present: dict[str, torch.Tensor], logit_scales: dict[str, torch.Tensor]) -> dict:
    """Sum of the pair losses over the modalities present.

    Parameters
    ----------
    out : dict
        ``modality -> (B, d)`` normalised embeddings (rows of absent objects are ignored).
    present : dict
        ``modality -> (B,)`` bool.
    logit_scales : dict
        ``pair name -> scalar log scale``.

    Returns
    -------
    dict
        ``{"loss": total, "<pair>": pair loss ...}`` (a pair appears only if it could be scored);
        ``total`` is a zero tensor if no pair could be scored.
    """
    losses: dict[str, torch.Tensor] = {}
    mods = [m for m in out if m in present]
    for a, b in itertools.combinations(mods, 2):
        both = present[a] & present[b]
        if int(both.sum()) < 2:
            continue
        name = pair_name(a, b)
        losses[name] = clip_pair_loss(out[a][both], out[b][both], logit_scales[name])
    ref = next(iter(out.values()))
    total = sum(losses.values()) if losses else ref.sum() * 0.0
    return {"loss": total, **losses}
