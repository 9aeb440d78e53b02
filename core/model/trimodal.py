"""The trimodal model: encoders + linear projections to a shared, L2-normalised space.

A model is built for the modalities its training sky has (any non-empty subset of photometry,
spectra, metadata) and holds one learned logit scale per modality pair.
"""
from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from core import schema
from core.model.config import ModelConfig
from core.model.encoders import MetadataEncoder, PhotometryEncoder, SpectraEncoder
from core.model.loss import pair_name, trimodal_loss

__all__ = ["TrimodalModel", "Classifier"]


class TrimodalModel(nn.Module):
    """Encoders, projections and logit scales.

    Parameters
    ----------
    config : ModelConfig
    modalities : sequence of str
        Subset of ``("photometry", "spectra", "metadata")``.
    n_metadata : int
        Number of metadata features (required if ``"metadata"`` is a modality).

    Examples
    --------
    >>> from core.model.config import get_preset
    >>> m = TrimodalModel(get_preset("tiny"), ["photometry", "metadata"], n_metadata=5)
    >>> z = m.encode_metadata(torch.zeros(3, 5))
    >>> tuple(z.shape)
    (3, 16)
    """

    def __init__(self, config: ModelConfig, modalities, n_metadata: int = 0):
        super().__init__()
        self.config = config
        self.modalities = [m for m in schema.MODALITIES if m in set(modalities)]
        if not self.modalities:
            raise ValueError("a model needs at least one modality")
        enc: dict[str, nn.Module] = {}
        if "photometry" in self.modalities:
            enc["photometry"] = PhotometryEncoder(config.photometry)
        if "spectra" in self.modalities:
            enc["spectra"] = SpectraEncoder(config.spectra)
        if "metadata" in self.modalities:
            if n_metadata <= 0:
                raise ValueError("metadata modality needs n_metadata > 0")
            enc["metadata"] = MetadataEncoder(n_metadata, config.metadata)
        self.n_metadata = n_metadata
        self.encoders = nn.ModuleDict(enc)
        self.projections = nn.ModuleDict({m: nn.Linear(e.out_dim, config.shared_dim) for m, e in enc.items()})
        self.logit_scales = nn.ParameterDict({
            pair_name(a, b): nn.Parameter(torch.tensor(math.log(1 / 0.07)))
            for a, b in itertools.combinations(self.modalities, 2)})

    # --- per-modality encoders --------------------------------------------------------------
    def features(self, modality: str, batch: dict) -> torch.Tensor:
        """Projected (un-normalised) features of one modality from a batch dict."""
        enc = self.encoders[modality]
        if modality == "photometry":
            h = enc(batch["lc"], batch["lc_mask"])
        elif modality == "spectra":
            h = enc(batch["spec"])
        else:
            h = enc(batch["meta"])
        return self.projections[modality](h)

    def encode(self, modality: str, batch: dict, normalize: bool = True) -> torch.Tensor:
        z = self.features(modality, batch)
        return F.normalize(z, dim=-1) if normalize else z

    def encode_photometry(self, lc: torch.Tensor, mask: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.encode("photometry", {"lc": lc, "lc_mask": mask}, normalize)

    def encode_spectra(self, spec: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.encode("spectra", {"spec": spec}, normalize)

    def encode_metadata(self, meta: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.encode("metadata", {"meta": meta}, normalize)

    def forward(self, batch: dict) -> dict:
        """Normalised embeddings of every modality in the model: ``{modality: (B, d)}``."""
        return {m: self.encode(m, batch) for m in self.modalities}

    def loss(self, batch: dict) -> dict:
        """The trimodal CLIP loss of a batch (see :func:`core.model.loss.trimodal_loss`)."""
        out = self(batch)
        present = {m: batch[f"has_{m}"] for m in self.modalities}
        return trimodal_loss(out, present, dict(self.logit_scales.items()))


class Classifier(nn.Module):
    """A linear head on one modality's projected features, or on the mean of all available ones.

    Parameters
    ----------
    backbone : TrimodalModel
        Pretrained or freshly initialised.
    modality : {'photometry', 'spectra', 'metadata', 'all'}
    n_classes : int
    modalities : list of str, optional
        With ``'all'``: the modalities to fuse (a sky may have fewer than the backbone was trained on);
        default every modality of the backbone.
    """

    def __init__(self, backbone: TrimodalModel, modality: str, n_classes: int, modalities=None):
        super().__init__()
        self.backbone = backbone
        self.modality = modality
        if modality != "all":
            self.mods = [modality]
        else:
            self.mods = list(modalities) if modalities is not None else list(backbone.modalities)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(backbone.config.shared_dim, n_classes))

    def forward(self, batch: dict) -> torch.Tensor:
        total, count = 0.0, 0.0
        for m in self.mods:
            z = self.backbone.encode(m, batch, normalize=True)
            w = batch[f"has_{m}"].to(z.dtype).unsqueeze(-1)
            total = total + z * w
            count = count + w
        fused = total / torch.as_tensor(count).clamp_min(1.0)
        return self.head(fused * math.sqrt(self.backbone.config.shared_dim))
