"""Contrastive pretraining, fine-tuning and checkpoints of the trimodal model.

* :func:`train`: CLIP-style pretraining without labels on a seeded train split, early stopping on
  the validation loss, checkpoint ``WS/model.pt`` written after every epoch (so ``resume=True``
  continues an interrupted run).
* :func:`finetune`: a classifier on one modality or all of them, from a pretrained checkpoint or
  from scratch, on a fraction of the labels, scored on the held-out test split (which
  pretraining with the same seed never saw; see :func:`core.data.split_ids`).
* :func:`load_checkpoint`: a checkpoint back as a :class:`LoadedModel`, with checks against a sky.

The loops themselves (epochs, validation, early stopping, per-pair CLIP losses) are in
:mod:`core.trainer`; this module sets runs up and reads and writes checkpoints.

A checkpoint is a ``torch.save`` dict: weights, config, modalities, preprocessing statistics
(metadata/photometric scalers, grids), the training sky's fingerprint, library versions, the seed
and the loss history.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from core.errors import AstroM3Error, CheckpointMismatchError
from core.resources import DEMO_CHECKPOINT, resource_path
from core.sky import Sky, open_sky
from core.trainer import _lr_at  # noqa: F401  (the schedule; tested as core.train._lr_at)
from core.workspace import Workspace, atomic_path

__all__ = ["train", "finetune", "load_checkpoint", "LoadedModel", "DEFAULT_CHECKPOINT",
           "CheckpointWarning", "sky_modalities"]

#: The shipped checkpoint: the ``cpu`` preset pretrained on the 20k demo sky, seed 0.
#: Shipped inside the package (``core/resources/checkpoints/``), found with importlib.resources.
DEFAULT_CHECKPOINT = resource_path(DEMO_CHECKPOINT)

_FORMAT = "astrom3-checkpoint-1"


class CheckpointWarning(UserWarning):
    """A checkpoint is used with a different sky or library versions than it was made with."""


def sky_modalities(sky: Sky) -> list[str]:
    """The modalities a sky has: ``photometry`` (light curves), ``spectra``, ``metadata`` (numeric columns)."""
    mods = []
    if sky.has_lightcurves:
        mods.append("photometry")
    if sky.has_spectra:
        mods.append("spectra")
    if sky.has_metadata:
        mods.append("metadata")
    return mods


def _versions() -> dict:
    import torch
    return {"astrom3": _pkg_version(), "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _pkg_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("astrom3-explorer")
    except PackageNotFoundError:
        return "unknown"


def _state_fingerprint(state_dict, config: dict) -> str:
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for k in sorted(state_dict):
        h.update(k.encode())
        h.update(state_dict[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _device(device):
    import torch
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _as_sky(sky) -> Sky:
    return sky if isinstance(sky, Sky) else open_sky(sky)


# ------------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------------

@dataclass
class LoadedModel:
    """A checkpoint loaded for inference or fine-tuning.

    Attributes
    ----------
    model : core.model.trimodal.TrimodalModel
        In eval mode, on the CPU.
    config : core.model.config.ModelConfig
    fingerprint : str
        Hash of the weights and config.
    modalities : list of str
        The modalities the model was trained with.
    preprocessor : core.data.Preprocessor
        Preprocessing statistics (metadata scaler with its raw columns, photometric scaler, grids).
    sky_fingerprint : str
        Fingerprint of the training sky.
    versions : dict
        Library versions at training time.
    seed : int
        Training seed (also the seed of its train/val/test split).
    history : list of dict
        Per-epoch train/val losses, total and per modality pair (``train_pairs``, ``val_pairs``;
        checkpoints made before :mod:`core.trainer` lack the pairs).
    path : Path
    """

    model: object
    config: object
    fingerprint: str
    modalities: list[str]
    preprocessor: object
    sky_fingerprint: str
    versions: dict
    seed: int = 0
    history: list = field(default_factory=list)
    path: Path | None = None

    @property
    def preset(self) -> str:
        return self.config.name


def _read_checkpoint(path: Path) -> dict:
    import torch
    if not path.exists():
        raise AstroM3Error(f"{path}: checkpoint not found; train one with `astrom3 train SKY --workspace WS`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointMismatchError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        raise CheckpointMismatchError(f"{path}: not an AstroM3 Explorer checkpoint (format "
                                      f"{ckpt.get('format') if isinstance(ckpt, dict) else type(ckpt).__name__!r}"
                                      f", expected {_FORMAT!r})")
    return ckpt


def check_compatible(ckpt: dict, sky: Sky, path: Path | str = "checkpoint") -> None:
    """Check a checkpoint dict against a sky; raise or warn, saying what does not match.

    Raises
    ------
    CheckpointMismatchError
        The model reads metadata columns the sky lacks (they are named), or the sky has none of
        the model's modalities.
    Warns
    -----
    CheckpointWarning
        The sky is not the one the model was trained on (embedding another sky is allowed), or
        the library versions differ.
    """
    mods = ckpt["modalities"]
    if "metadata" in mods:
        raw = ckpt["preprocessing"]["metadata"]["raw_columns"]
        missing = [c for c in raw if c not in sky.objects.columns]
        if missing:
            raise CheckpointMismatchError(
                f"{path}: the model reads metadata columns the sky {sky.path} lacks: {', '.join(missing)}; "
                f"add them to objects.parquet (NaN is allowed) or train a model on this sky")
    have = set(sky_modalities(sky))
    if not have & set(mods):
        raise CheckpointMismatchError(f"{path}: the model uses {', '.join(mods)} but the sky {sky.path} has "
                                      f"{', '.join(sorted(have)) or 'no modality'}")
    if ckpt.get("sky_fingerprint") != sky.fingerprint:
        warnings.warn(f"{path}: trained on another sky (fingerprint {ckpt.get('sky_fingerprint')}, this sky "
                      f"{sky.fingerprint}); embedding it anyway", CheckpointWarning, stacklevel=3)


def _check_versions(ckpt: dict, path) -> None:
    now = _versions()
    then = ckpt.get("versions", {})
    diff = [f"{k} {then.get(k)} -> {now[k]}" for k in ("torch", "numpy")
            if then.get(k) and then.get(k).split(".")[:2] != now[k].split(".")[:2]]
    if diff:
        warnings.warn(f"{path}: made with other library versions ({'; '.join(diff)}); results may differ slightly",
                      CheckpointWarning, stacklevel=3)


def _build(ckpt: dict):
    from core.data import Preprocessor
    from core.model.config import config_from_dict
    from core.model.trimodal import TrimodalModel

    cfg = config_from_dict(ckpt["config"])
    prep = Preprocessor.from_dict(ckpt["preprocessing"])
    model = TrimodalModel(cfg, ckpt["modalities"], n_metadata=ckpt["n_metadata"])
    return cfg, prep, model


def load_checkpoint(path: str | os.PathLike, sky: Sky | str | os.PathLike | None = None) -> LoadedModel:
    """Load a checkpoint; if ``sky`` is given, check it can be used on that sky.

    Parameters
    ----------
    path : path
        A ``model.pt`` written by :func:`train` (or :data:`DEFAULT_CHECKPOINT`).
    sky : Sky or path, optional

    Returns
    -------
    LoadedModel

    Raises
    ------
    CheckpointMismatchError
        Unreadable file, or incompatible with ``sky`` (see :func:`check_compatible`).

    Examples
    --------
    >>> m = load_checkpoint(DEFAULT_CHECKPOINT)        # doctest: +SKIP
    >>> m.modalities                                   # doctest: +SKIP
    ['photometry', 'spectra', 'metadata']
    """
    path = Path(path)
    ckpt = _read_checkpoint(path)
    _check_versions(ckpt, path)
    if sky is not None:
        check_compatible(ckpt, _as_sky(sky), path)
    cfg, prep, model = _build(ckpt)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return LoadedModel(model=model, config=cfg, fingerprint=ckpt["fingerprint"], modalities=list(ckpt["modalities"]),
                       preprocessor=prep, sky_fingerprint=ckpt.get("sky_fingerprint", ""),
                       versions=ckpt.get("versions", {}), seed=int(ckpt.get("seed", 0)),
                       history=ckpt.get("history", []), path=path)


def _save(path: Path, payload: dict) -> None:
    import torch
    buf = io.BytesIO()
    torch.save(payload, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


# ------------------------------------------------------------------------------------------------
# pretraining
# ------------------------------------------------------------------------------------------------

def _pretrain_modalities(sky: Sky) -> list[str]:
    mods = sky_modalities(sky)
    if not mods:
        raise AstroM3Error(f"{sky.path}: the sky has no light curves, spectra or metadata columns to train on")
    if len(mods) < 2:
        raise AstroM3Error(f"{sky.path}: contrastive pretraining needs two modalities; the sky has only {mods[0]}")
    return mods


def _pretrain_split(sky: Sky, tc, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training rows, training ids and validation ids of the seeded split (``max_objects`` subset)."""
    from core.data import split_ids

    ids = np.asarray(sky.ids, dtype=object)
    split = split_ids(ids, seed, tc.val_fraction, tc.test_fraction)
    train_rows, val_rows = np.flatnonzero(split == "train"), np.flatnonzero(split == "val")
    if tc.max_objects and len(train_rows) > tc.max_objects:
        sub = np.random.default_rng(seed).choice(len(train_rows), tc.max_objects, replace=False)
        train_rows = train_rows[np.sort(sub)]
        val_rows = val_rows[: max(2, tc.max_objects // 8)]
    train_ids, val_ids = ids[train_rows], ids[val_rows]
    if len(train_ids) < 4 or len(val_ids) < 2:
        raise AstroM3Error(f"{sky.path}: too few objects to train ({len(ids)}); need at least ~40")
    return train_rows, train_ids, val_ids


def _resumable(path: Path, sky: Sky, cfg, seed: int) -> dict:
    """The checkpoint at ``path``, checked to be a resumable run of this sky, config and seed."""
    ckpt = _read_checkpoint(path)
    if ckpt.get("resume") is None or ckpt.get("sky_fingerprint") != sky.fingerprint \
            or ckpt.get("config") != cfg.to_dict() or int(ckpt.get("seed", -1)) != int(seed):
        raise CheckpointMismatchError(f"{path}: cannot resume: it was made with another sky, config or seed "
                                      f"(or without resume state); train again without --resume")
    return ckpt


def _pretrain_payload(trainer, cfg, mods: list[str], prep, sky: Sky, seed: int, done: bool) -> dict:
    """The checkpoint dict of a pretraining run (best weights, history, resume state)."""
    best_cpu = trainer.best_weights()
    tc = cfg.train
    return {
        "format": _FORMAT, "config": cfg.to_dict(), "modalities": mods, "n_metadata": prep.n_metadata,
        "preprocessing": prep.to_dict(), "state_dict": best_cpu,
        "fingerprint": _state_fingerprint(best_cpu, cfg.to_dict()),
        "sky_fingerprint": sky.fingerprint, "sky_path": str(sky.path), "versions": _versions(),
        "seed": int(seed), "history": trainer.history,
        "split": {"val_fraction": tc.val_fraction, "test_fraction": tc.test_fraction},
        "resume": trainer.resume_state(done),
    }


def _report_epoch(rec: dict, improved: bool) -> None:
    """One line per epoch on stderr (unless ``ASTROM3_PROGRESS=0``), with the validation pair losses."""
    if os.environ.get("ASTROM3_PROGRESS", "1") == "0":
        return
    import sys

    from core.trainer import pair_summary
    print(f"epoch {rec['epoch']}: train loss {rec['train_loss']:.4f}, val loss {rec['val_loss']:.4f}"
          f"{' (best)' if improved else ''} [{pair_summary(rec)}], {rec['seconds']:.0f} s", file=sys.stderr)


def train(sky, *, workspace, preset: str = "cpu", seed: int = 0, resume: bool = False, device=None,
          **overrides) -> Path:
    """Pretrain the trimodal model on a sky (no labels used); returns the checkpoint path.

    Each epoch's losses (total and per modality pair, train and validation) go to the checkpoint's
    ``history`` and to ``WS/train_log.jsonl``; see :class:`core.trainer.ContrastiveTrainer`.

    Parameters
    ----------
    sky : Sky or path
    workspace : Workspace or path
        The checkpoint goes to ``Workspace(workspace).checkpoint_path`` (``WS/model.pt``) and is
        recorded in the manifest as ``model.pt`` with inputs {sky, config, seed}.
    preset : {'cpu', 'tiny', 'paper'}
    seed : int
        Seeds the split (see :func:`core.data.split_ids`), initialisation, shuffling, crops, dropout.
    resume : bool
        Continue the run saved in ``WS/model.pt`` (same sky and config) instead of starting over.
    device : str, optional
        ``'cuda'`` if available, else ``'cpu'``, by default.
    **overrides
        Config overrides, see :func:`core.model.config.get_preset` (e.g. ``epochs=3``).

    Examples
    --------
    >>> train("demo/sky20k-s0", workspace="demo/ws", preset="cpu")   # doctest: +SKIP
    """
    import torch

    from core.data import Preprocessor, SkyArrays
    from core.model.config import get_preset
    from core.model.trimodal import TrimodalModel
    from core.trainer import TRAIN_LOG, ContrastiveTrainer, write_train_log

    sky = _as_sky(sky)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    cfg = get_preset(preset, **overrides)
    dev = _device(device)
    mods = _pretrain_modalities(sky)
    inputs = {"sky": sky.fingerprint, "config": cfg.to_dict(), "seed": int(seed)}
    path = ws.checkpoint_path
    train_rows, train_ids, val_ids = _pretrain_split(sky, cfg.train, seed)
    # sky.ids are the objects' rows in order, so the training rows index the table directly
    prep = Preprocessor.fit(sky.objects.iloc[train_rows], sky.metadata_columns, cfg)
    if "metadata" in mods and prep.n_metadata == 0:
        mods.remove("metadata")
    ckpt = _resumable(path, sky, cfg, seed) if resume and path.exists() else None
    if ckpt is not None and ckpt["resume"]["done"]:
        return path

    torch.manual_seed(seed)
    model = TrimodalModel(cfg, mods, n_metadata=prep.n_metadata).to(dev)
    trainer = ContrastiveTrainer(model, cfg.train, SkyArrays(sky, train_ids, prep, mods),
                                 SkyArrays(sky, val_ids, prep, mods), seed=seed, device=dev)
    if ckpt is not None:
        trainer.load_resume_state(ckpt["resume"], ckpt["history"], ckpt["state_dict"])

    def save(done: bool) -> None:
        _save(path, _pretrain_payload(trainer, cfg, mods, prep, sky, seed, done))
        write_train_log(ws.artifact(TRAIN_LOG), trainer.history)

    def on_epoch(rec: dict, improved: bool, done: bool) -> None:
        save(done)
        _report_epoch(rec, improved)

    trainer.fit(on_epoch)
    if trainer.epoch == 0 or not path.exists():
        save(done=True)
    ws.record(path.name, inputs)
    return path


def strip_resume_state(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy a checkpoint without its resume state (optimizer, last weights): the small file to ship."""
    import torch
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    ckpt.pop("resume", None)
    dst = Path(dst)
    _save(dst, ckpt)
    return dst


# ------------------------------------------------------------------------------------------------
# fine-tuning
# ------------------------------------------------------------------------------------------------

_FT_MODALITIES = ("all", "photometry", "spectra", "metadata")


def _stratified_fraction(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a class-stratified ``fraction`` of ``labels`` (at least one per class)."""
    keep = []
    for c in sorted(set(labels)):
        rows = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * len(rows))))
        keep.append(rng.choice(rows, min(k, len(rows)), replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=int)


@dataclass
class _Start:
    """Where fine-tuning starts: a config, and a pretrained backbone with its statistics or none."""

    cfg: object
    mods: list[str]
    split_seed: int
    prep: object = None
    backbone: object = None


def _finetune_start(sky: Sky, pretrained, preset: str, config, overrides: dict, seed: int,
                    split_seed: int | None) -> _Start:
    if pretrained is not None:
        loaded = load_checkpoint(pretrained, sky)
        mods = [m for m in loaded.modalities if m in sky_modalities(sky)]
        return _Start(loaded.config, mods, loaded.seed if split_seed is None else split_seed,
                      loaded.preprocessor, loaded.model)
    from core.model.config import get_preset
    cfg = config if config is not None else get_preset(preset, **overrides)
    return _Start(cfg, sky_modalities(sky), seed if split_seed is None else split_seed)


def _label_pools(sky: Sky, split_seed: int, cfg, max_per_split: int) -> dict[str, np.ndarray]:
    """Rows of the labelled objects in each split (at most ``max_per_split``, seeded, if > 0)."""
    from core.data import split_ids

    labels = sky.objects["label"].to_numpy(dtype=object)
    labelled = np.array([isinstance(x, str) and x != "" for x in labels])
    if labelled.sum() < 10:
        raise AstroM3Error(f"{sky.path}: fine-tuning needs labels; only {int(labelled.sum())} objects have one")
    split = split_ids(np.asarray(sky.ids, dtype=object), split_seed, cfg.train.val_fraction,
                      cfg.train.test_fraction)
    pools = {}
    for name in ("train", "val", "test"):
        rows = np.flatnonzero(labelled & (split == name))
        if max_per_split and len(rows) > max_per_split:
            rows = np.sort(np.random.default_rng(split_seed).choice(rows, max_per_split, replace=False))
        pools[name] = rows
    return pools


def _scratch_backbone(sky: Sky, start: _Start, train_rows: np.ndarray, seed: int) -> None:
    """Fit preprocessing on the training rows and build a fresh backbone (drops metadata if none is usable)."""
    import torch

    from core.data import Preprocessor
    from core.model.trimodal import TrimodalModel

    start.prep = Preprocessor.fit(sky.objects.iloc[train_rows], sky.metadata_columns, start.cfg)
    if "metadata" in start.mods and start.prep.n_metadata == 0:
        start.mods.remove("metadata")
    torch.manual_seed(seed)
    start.backbone = TrimodalModel(start.cfg, start.mods, n_metadata=start.prep.n_metadata)


def _labelled_sets(sky: Sky, pools: dict, prep, use: list[str], classes: list[str]) -> dict:
    """A :class:`core.trainer.LabelledSet` per split: the pooled rows that have any of ``use``."""
    from core.data import SkyArrays
    from core.trainer import LabelledSet

    cidx = {c: i for i, c in enumerate(classes)}
    ids = np.asarray(sky.ids, dtype=object)
    return {k: LabelledSet.build(SkyArrays(sky, ids[rows], prep, use), use, cidx) for k, rows in pools.items()}


def _classifier(backbone, modality: str, use: list[str], n_classes: int):
    from core.model.trimodal import Classifier

    # 'all' fuses the modalities this sky has, which may be fewer than the pretrained backbone's
    return Classifier(backbone, modality, n_classes, modalities=use)


def _finetune_metrics(*, modality, label_fraction, pretrained, seed, start, best, n_ep, t0, trainer, sets,
                      classes) -> dict:
    from sklearn.metrics import f1_score

    te = sets["test"]
    pred, truth = trainer.predict(te), te.truth()
    init = "pretrained" if pretrained is not None else "scratch"
    return {
        "modality": modality, "label_fraction": float(label_fraction), "init": init,
        "pretrained": str(pretrained) if pretrained is not None else None, "seed": int(seed),
        "split_seed": int(start.split_seed), "preset": start.cfg.name,
        "test_accuracy": float(np.mean(pred == truth)) if len(truth) else float("nan"),
        "test_macro_f1": float(f1_score(truth, pred, average="macro")) if len(truth) else float("nan"),
        "val_accuracy": float(best), "n_train": int(len(sets["train"].keep)), "n_val": int(len(sets["val"].keep)),
        "n_test": int(len(te.keep)), "epochs": n_ep, "seconds": time.perf_counter() - t0,
        "classes": classes,
    }


def finetune(sky, *, workspace, modality: str = "all", label_fraction: float = 1.0, pretrained=None,
             seed: int = 0, preset: str = "cpu", split_seed: int | None = None, epochs: int = 10,
             patience: int = 5, lr: float = 1e-3, batch_size: int = 128, max_per_split: int = 0,
             min_epoch_objects: int = 1000, device=None, config=None, **overrides) -> dict:
    """Train a classifier on one modality (or ``'all'``, fused) and score it on the test split.

    Parameters
    ----------
    sky : Sky or path
        Must have labels.
    workspace : Workspace or path
        Metrics are written to ``WS/finetune/<modality>-<fraction>-<init>-s<seed>.json``.
    modality : {'all', 'photometry', 'spectra', 'metadata'}
    label_fraction : float
        Fraction of the training labels used (class-stratified), e.g. 0.1 for the paper's sub10.
    pretrained : path or None
        Start from this checkpoint's encoders (its preprocessing statistics are reused); None
        trains from scratch with ``preset`` (+ ``overrides``).
    seed : int
        Seeds the label subset, the initialisation and the shuffling.
    split_seed : int, optional
        Seed of the train/val/test split; defaults to the pretrained checkpoint's seed (so its
        test objects were never seen in pretraining), else ``seed``.
    epochs, patience, lr, batch_size : training settings (early stopping on validation accuracy).
    max_per_split : int
        If > 0, at most this many objects of each split (seeded), to keep CPU benchmarks short.
    min_epoch_objects : int
        An epoch passes over the (possibly small) labelled training set as many times as needed to
        see at least this many objects, so 10% of the labels gets as many optimisation steps per
        epoch as 100% (otherwise tiny label sets stop after a handful of steps).
    config : ModelConfig, optional
        From scratch: use this config instead of ``preset`` (e.g. a checkpoint's, for a fair comparison).

    Returns
    -------
    dict
        ``test_accuracy``, ``test_macro_f1``, ``val_accuracy``, ``n_train``, ``n_val``, ``n_test``,
        ``epochs``, ``seconds`` and the settings.
    """
    import torch

    from core.trainer import ClassifierTrainer

    if modality not in _FT_MODALITIES:
        raise AstroM3Error(f"unknown modality {modality!r}; choose one of {', '.join(_FT_MODALITIES)}")
    if not 0 < label_fraction <= 1:
        raise AstroM3Error(f"label fraction must be in (0, 1], got {label_fraction}")
    sky = _as_sky(sky)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    dev = _device(device)
    t0 = time.perf_counter()
    start = _finetune_start(sky, pretrained, preset, config, overrides, seed, split_seed)
    if modality != "all" and modality not in start.mods:
        raise AstroM3Error(f"{sky.path}: cannot fine-tune on {modality}: available {', '.join(start.mods)}")
    pools = _label_pools(sky, start.split_seed, start.cfg, max_per_split)
    rng = np.random.default_rng(seed)
    if start.backbone is None:
        _scratch_backbone(sky, start, pools["train"], seed)
    use = list(start.mods) if modality == "all" else [modality]
    classes = sky.classes
    sets = _labelled_sets(sky, pools, start.prep, use, classes)
    tr = sets["train"]
    sets["train"] = replace(tr, keep=tr.keep[_stratified_fraction(tr.labels, label_fraction, rng)])

    torch.manual_seed(seed)
    clf = _classifier(start.backbone, modality, use, len(classes)).to(dev)
    trainer = ClassifierTrainer(clf, lr=lr, rng=rng, device=dev, batch_size=batch_size,
                                min_epoch_objects=min_epoch_objects)
    best, n_ep = trainer.fit(sets["train"], sets["val"], epochs=epochs, patience=patience)
    metrics = _finetune_metrics(modality=modality, label_fraction=label_fraction, pretrained=pretrained, seed=seed,
                                start=start, best=best, n_ep=n_ep, t0=t0, trainer=trainer, sets=sets,
                                classes=classes)
    out = ws.artifact(f"finetune/{modality}-{label_fraction:g}-{metrics['init']}-s{seed}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    return metrics


from core.embed import _make_callable_module  # noqa: E402  (core.train(...) stays callable, see there)

_make_callable_module(__name__, train)
