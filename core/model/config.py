"""Model and training configuration: small dataclasses per tower and named presets.

``paper`` holds the AstroM3 hyper-parameters (Rizhko & Bloom 2024) for users with a GPU; ``cpu``
(the default) is lean enough to pretrain on the 20k demo sky in minutes on 2 cores; ``tiny`` is
for tests.

The ``cpu`` preset departs from the paper where CPU time forces it or where it measured better on
2 cores (demo sky, 20k objects; benchmarks/results/train_embed.md):

* a lean photometry transformer: 100 light-curve steps, d_model 48, 2 layers, no dropout (a
  training step of the photometry tower on 256 curves took 2.1 s with dropout, 0.45 s without);
* light-curve points spread over the whole curve instead of a contiguous window, plus sin/cos phase
  channels (3 harmonics) at the catalogue period (``sampling``, ``phase_harmonics``; photometry
  out-of-fold accuracy 0.88 -> 0.95);
* a 16-channel spectra CNN on a 10 A grid (516 points), shared dimension 64;
* 12 epochs over the whole training split with a cosine learning-rate decay from 4e-3 (the
  paper's reduce-on-plateau never fires within so few epochs).

Both presets leave out ``rfr_score`` (``exclude_columns``; the paper used it): it carries the
catalogue's label into the embeddings. Override any field by keyword, by its name (``d_model=64``)
when that is unique, or as ``section.name`` (``photometry.d_model=64``)::

    >>> cfg = get_preset("cpu", epochs=2, **{"spectra.step": 10.0})
    >>> cfg.train.epochs, cfg.spectra.step
    (2, 10.0)
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from core.errors import AstroM3Error

__all__ = ["PhotometryConfig", "SpectraConfig", "MetadataConfig", "TrainConfig", "ModelConfig",
           "get_preset", "list_presets", "config_from_dict"]


@dataclass
class PhotometryConfig:
    """Masked transformer encoder over the preprocessed light curve (replaces the paper's Informer)."""

    seq_len: int = 200
    d_model: int = 128
    n_layers: int = 8
    n_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.1
    sampling: str = "window"      # how seq_len points are taken: 'window' (the paper) or 'spread'
    phase_harmonics: int = 0      # > 0: sin/cos phase channels at the catalogue period (not in the paper)


@dataclass
class SpectraConfig:
    """GalSpecNet-style 1-D CNN on the spectrum resampled to ``lo``-``hi`` A in ``step`` A."""

    lo: float = 3850.0
    hi: float = 9000.0
    step: float = 2.0
    channels: tuple[int, ...] = (64, 64, 32, 32)
    kernel: int = 3
    pool: int = 4
    dropout: float = 0.1


@dataclass
class MetadataConfig:
    """MLP over the scaled metadata vector."""

    hidden: int = 512
    n_layers: int = 2
    dropout: float = 0.1


@dataclass
class TrainConfig:
    """Optimisation: Adam with linear warm-up, then reduce-on-plateau (or cosine decay over a fixed
    budget of epochs), early stopping on validation loss."""

    batch_size: int = 512
    lr: float = 3.9e-3
    weight_decay: float = 0.0
    warmup_epochs: int = 2
    epochs: int = 100
    patience: int = 6
    plateau_patience: int = 3
    plateau_factor: float = 0.3
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    max_objects: int = 0          # 0 = all; otherwise pretrain on a seeded subset of this size
    grad_clip: float = 5.0
    schedule: str = "plateau"     # after warm-up: 'plateau' (reduce on plateau, the paper) or 'cosine'
    min_lr_ratio: float = 0.05    # cosine: the last step's learning rate as a share of lr


@dataclass
class ModelConfig:
    """Everything that defines a model and how it is trained."""

    name: str = "paper"
    shared_dim: int = 512
    #: Catalogue columns the model never reads: they describe how the catalogue labelled the star
    #: (ASAS-SN's ``rfr_score`` is its classifier's confidence in the given label), so they would
    #: carry the label, right or wrong, into the embeddings. Not in the paper, which used it.
    exclude_columns: tuple[str, ...] = ("rfr_score",)
    photometry: PhotometryConfig = field(default_factory=PhotometryConfig)
    spectra: SpectraConfig = field(default_factory=SpectraConfig)
    metadata: MetadataConfig = field(default_factory=MetadataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["spectra"]["channels"] = list(d["spectra"]["channels"])
        d["exclude_columns"] = list(d["exclude_columns"])
        return d


_SECTIONS = ("photometry", "spectra", "metadata", "train")


def _paper() -> ModelConfig:
    return ModelConfig(name="paper")


def _cpu() -> ModelConfig:
    return ModelConfig(
        name="cpu", shared_dim=64,
        photometry=PhotometryConfig(seq_len=100, d_model=48, n_layers=2, n_heads=4, d_ff=96, dropout=0.0,
                                    sampling="spread", phase_harmonics=3),
        spectra=SpectraConfig(step=10.0, channels=(16, 16, 16, 16), kernel=3, pool=4, dropout=0.1),
        metadata=MetadataConfig(hidden=128, n_layers=2, dropout=0.1),
        train=TrainConfig(batch_size=256, lr=4e-3, warmup_epochs=1, epochs=12, patience=3, schedule="cosine"),
    )


def _tiny() -> ModelConfig:
    return ModelConfig(
        name="tiny", shared_dim=16,
        photometry=PhotometryConfig(seq_len=32, d_model=16, n_layers=1, n_heads=2, d_ff=32, dropout=0.0),
        spectra=SpectraConfig(step=50.0, channels=(8, 8), kernel=3, pool=4, dropout=0.0),
        metadata=MetadataConfig(hidden=32, n_layers=1, dropout=0.0),
        train=TrainConfig(batch_size=64, lr=3e-3, warmup_epochs=0, epochs=8, patience=8, plateau_patience=4),
    )


_PRESETS = {"tiny": _tiny, "cpu": _cpu, "paper": _paper}


def list_presets() -> list[str]:
    """Names of the presets: ``['tiny', 'cpu', 'paper']``."""
    return list(_PRESETS)


def _set(cfg: ModelConfig, key: str, value) -> None:
    if "." in key:
        section, name = key.split(".", 1)
        if section not in _SECTIONS:
            raise AstroM3Error(f"unknown config section {section!r} in {key!r}; sections: {', '.join(_SECTIONS)}")
        targets = [getattr(cfg, section)]
    else:
        name = key
        targets = [getattr(cfg, s) for s in _SECTIONS if name in {f.name for f in dataclasses.fields(getattr(cfg, s))}]
        if name in {f.name for f in dataclasses.fields(cfg)} - set(_SECTIONS):
            targets.append(cfg)
        if len(targets) > 1:
            where = [s for s in _SECTIONS if name in {f.name for f in dataclasses.fields(getattr(cfg, s))}]
            raise AstroM3Error(f"config key {key!r} is ambiguous; write one of "
                               + ", ".join(f"{s}.{name}" for s in where))
    if not targets or name not in {f.name for f in dataclasses.fields(targets[0])}:
        raise AstroM3Error(f"unknown config key {key!r}; see `get_preset(...).to_dict()` for the fields")
    target = targets[0]
    current = getattr(target, name)
    setattr(target, name, _coerce(value, current, key))


def _coerce(value, current, key):
    if isinstance(value, str):
        text = value.strip()
        try:
            if isinstance(current, bool):
                return text.lower() in ("1", "true", "yes", "on")
            if isinstance(current, int):
                return int(text)
            if isinstance(current, float):
                return float(text)
            if isinstance(current, tuple):
                kind = type(current[0]) if current else str
                return tuple(kind(x.strip()) for x in text.strip("()[]").split(",") if x.strip())
        except ValueError:
            raise AstroM3Error(f"config key {key!r}: cannot read {value!r} as {type(current).__name__}") from None
        return text
    if isinstance(current, tuple):
        return tuple(value)
    if isinstance(current, float) and isinstance(value, int):
        return float(value)
    return value


def get_preset(name: str = "cpu", **overrides) -> ModelConfig:
    """A fresh config for preset ``name`` with ``overrides`` applied.

    Parameters
    ----------
    name : {'tiny', 'cpu', 'paper'}
    **overrides
        ``field=value`` or ``{"section.field": value}``; string values are converted to the
        field's type (so CLI ``--set key=value`` pairs can be passed straight in).

    Raises
    ------
    core.errors.AstroM3Error
        For an unknown preset or key, or a value of the wrong type.
    """
    if name not in _PRESETS:
        raise AstroM3Error(f"unknown preset {name!r}; choose one of {', '.join(_PRESETS)}")
    cfg = _PRESETS[name]()
    for key, value in overrides.items():
        _set(cfg, key, value)
    if cfg.photometry.sampling not in ("window", "spread"):
        raise AstroM3Error(f"photometry.sampling must be 'window' or 'spread', got {cfg.photometry.sampling!r}")
    if cfg.train.schedule not in ("plateau", "cosine"):
        raise AstroM3Error(f"train.schedule must be 'plateau' or 'cosine', got {cfg.train.schedule!r}")
    if cfg.photometry.phase_harmonics < 0:
        raise AstroM3Error(f"photometry.phase_harmonics must be >= 0, got {cfg.photometry.phase_harmonics}")
    return cfg


def config_from_dict(d: dict) -> ModelConfig:
    """Rebuild a :class:`ModelConfig` from :meth:`ModelConfig.to_dict` output (as stored in checkpoints)."""
    d = copy.deepcopy(d)
    sp = d.get("spectra", {})
    if "channels" in sp:
        sp["channels"] = tuple(sp["channels"])
    return ModelConfig(
        name=d.get("name", "custom"), shared_dim=d.get("shared_dim", 512),
        exclude_columns=tuple(d.get("exclude_columns", ())),
        photometry=PhotometryConfig(**d.get("photometry", {})), spectra=SpectraConfig(**sp),
        metadata=MetadataConfig(**d.get("metadata", {})), train=TrainConfig(**d.get("train", {})),
    )
