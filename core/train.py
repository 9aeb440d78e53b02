"""Contrastive pretraining, fine-tuning and checkpoints of the trimodal model.

* :func:`train`: CLIP-style pretraining without labels on a seeded train split, early stopping on
  the validation loss, checkpoint ``WS/model.pt`` written after every epoch (so ``resume=True``
  continues an interrupted run).
* :func:`finetune`: a classifier on one modality or all of them, from a pretrained checkpoint or
  from scratch, on a fraction of the labels, scored on the held-out test split (which
  pretraining with the same seed never saw; see :func:`core.data.split_ids`).
* :func:`load_checkpoint`: a checkpoint back as a :class:`LoadedModel`, with checks against a sky.

A checkpoint is a ``torch.save`` dict: weights, config, modalities, preprocessing statistics
(metadata/photometric scalers, grids), the training sky's fingerprint, library versions, the seed
and the loss history.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import platform
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import AstroM3Error, CheckpointMismatchError
from core.resources import DEMO_CHECKPOINT, resource_path
from core.sky import Sky, open_sky
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
        Per-epoch train/val losses.
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

def _lr_at(step: int, warmup_steps: int, base: float, *, total_steps: int = 0, min_ratio: float = 0.0) -> float:
    """Linear warm-up; then constant (``total_steps == 0``) or cosine decay to ``min_ratio * base``.

    The same schedule as torch's ``LinearLR`` then ``CosineAnnealingLR`` (tested), kept in closed
    form: torch's recursive updates give rates that differ by rounding (up to ~5e-15 relative), so
    the learning rates the shipped checkpoint was trained with would not be reproduced exactly.
    """
    if step < warmup_steps:
        return base * (step + 1) / warmup_steps
    if total_steps <= warmup_steps:
        return base
    done = min(1.0, (step - warmup_steps) / max(total_steps - warmup_steps, 1))
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * done)))


def _evaluate_loss(model, data, batch_size, device) -> float:
    import torch
    model.eval()
    total, weight = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            idx = np.arange(start, min(start + batch_size, len(data)))
            if len(idx) < 2:
                continue
            out = model.loss(data.batch(idx, device=device))
            total += float(out["loss"]) * len(idx)
            weight += len(idx)
    return total / max(weight, 1)


def train(sky, *, workspace, preset: str = "cpu", seed: int = 0, resume: bool = False, device=None,
          **overrides) -> Path:
    """Pretrain the trimodal model on a sky (no labels used); returns the checkpoint path.

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

    from core.data import Preprocessor, SkyArrays, split_ids
    from core.model.config import get_preset
    from core.progress import progress

    sky = _as_sky(sky)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    cfg = get_preset(preset, **overrides)
    tc = cfg.train
    dev = _device(device)
    mods = sky_modalities(sky)
    if not mods:
        raise AstroM3Error(f"{sky.path}: the sky has no light curves, spectra or metadata columns to train on")
    if len(mods) < 2:
        raise AstroM3Error(f"{sky.path}: contrastive pretraining needs two modalities; the sky has only {mods[0]}")
    inputs = {"sky": sky.fingerprint, "config": cfg.to_dict(), "seed": int(seed)}
    path = ws.checkpoint_path

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

    # sky.ids are the objects' rows in order, so the training rows index the table directly
    prep = Preprocessor.fit(sky.objects.iloc[train_rows], sky.metadata_columns, cfg)
    if "metadata" in mods and prep.n_metadata == 0:
        mods.remove("metadata")

    torch.manual_seed(seed)
    from core.model.trimodal import TrimodalModel
    model = TrimodalModel(cfg, mods, n_metadata=prep.n_metadata).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=tc.plateau_factor, patience=tc.plateau_patience)
    rng = np.random.default_rng(seed)
    state = {"epoch": 0, "step": 0, "best": math.inf, "bad": 0, "history": [], "best_state": None, "done": False}

    if resume and path.exists():
        ckpt = _read_checkpoint(path)
        r = ckpt.get("resume")
        if r is None or ckpt.get("sky_fingerprint") != sky.fingerprint or ckpt.get("config") != cfg.to_dict() \
                or int(ckpt.get("seed", -1)) != int(seed):
            raise CheckpointMismatchError(f"{path}: cannot resume: it was made with another sky, config or seed "
                                          f"(or without resume state); train again without --resume")
        if r["done"]:
            return path
        model.load_state_dict(r["last_state"])
        opt.load_state_dict(r["optimizer"])
        plateau.load_state_dict(r["plateau"])
        rng.bit_generator.state = r["rng"]
        torch.set_rng_state(r["torch_rng"])
        state.update(epoch=r["epoch"], step=r["step"], best=r["best"], bad=r["bad"], history=ckpt["history"],
                     best_state=ckpt["state_dict"])

    train_data = SkyArrays(sky, train_ids, prep, mods)
    val_data = SkyArrays(sky, val_ids, prep, mods)
    bs = tc.batch_size
    n_batches = max(1, len(train_data) // bs)
    warmup_steps = tc.warmup_epochs * n_batches
    cosine = tc.schedule == "cosine"
    total_steps = tc.epochs * n_batches

    def save(done: bool) -> None:
        best_state = state["best_state"] or model.state_dict()
        best_cpu = {k: v.detach().cpu().clone() for k, v in best_state.items()}
        payload = {
            "format": _FORMAT, "config": cfg.to_dict(), "modalities": mods, "n_metadata": prep.n_metadata,
            "preprocessing": prep.to_dict(), "state_dict": best_cpu,
            "fingerprint": _state_fingerprint(best_cpu, cfg.to_dict()),
            "sky_fingerprint": sky.fingerprint, "sky_path": str(sky.path), "versions": _versions(),
            "seed": int(seed), "history": state["history"],
            "split": {"val_fraction": tc.val_fraction, "test_fraction": tc.test_fraction},
            "resume": {"done": done, "epoch": state["epoch"], "step": state["step"], "best": state["best"],
                       "bad": state["bad"], "last_state": {k: v.detach().cpu().clone()
                                                            for k, v in model.state_dict().items()},
                       "optimizer": opt.state_dict(), "plateau": plateau.state_dict(),
                       "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()},
        }
        _save(path, payload)

    while state["epoch"] < tc.epochs:
        epoch = state["epoch"]
        model.train()
        perm = rng.permutation(len(train_data))
        t0 = time.perf_counter()
        bar = progress(range(n_batches), desc=f"train epoch {epoch + 1}/{tc.epochs}", unit="batch")
        running = []
        for b in bar:
            idx = perm[b * bs:(b + 1) * bs] if b < n_batches - 1 else perm[b * bs:]
            batch = train_data.batch(idx, rng=rng, device=dev)
            if state["step"] < warmup_steps or cosine:
                for g in opt.param_groups:
                    g["lr"] = _lr_at(state["step"], warmup_steps, tc.lr, total_steps=total_steps if cosine else 0,
                                     min_ratio=tc.min_lr_ratio)
            out = model.loss(batch)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            if tc.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            state["step"] += 1
            running.append(float(out["loss"].detach()))
            bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}")
        bar.close()
        val = _evaluate_loss(model, val_data, bs, dev)
        if state["step"] >= warmup_steps and not cosine:
            plateau.step(val)
        rec = {"epoch": epoch + 1, "train_loss": float(np.mean(running)), "val_loss": val,
               "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        state["history"].append(rec)
        improved = val < state["best"] - 1e-4
        if improved:
            state["best"], state["bad"] = val, 0
            state["best_state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            state["bad"] += 1
        state["epoch"] = epoch + 1
        stop = state["bad"] >= tc.patience
        save(done=stop or state["epoch"] >= tc.epochs)
        if os.environ.get("ASTROM3_PROGRESS", "1") != "0":
            import sys
            print(f"epoch {epoch + 1}: train loss {rec['train_loss']:.4f}, val loss {val:.4f}"
                  f"{' (best)' if improved else ''}, {rec['seconds']:.0f} s", file=sys.stderr)
        if stop:
            break
    if state["epoch"] == 0 or not path.exists():
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
    from sklearn.metrics import f1_score

    from core.data import Preprocessor, SkyArrays, split_ids
    from core.model.config import get_preset
    from core.model.trimodal import Classifier, TrimodalModel

    if modality not in _FT_MODALITIES:
        raise AstroM3Error(f"unknown modality {modality!r}; choose one of {', '.join(_FT_MODALITIES)}")
    if not 0 < label_fraction <= 1:
        raise AstroM3Error(f"label fraction must be in (0, 1], got {label_fraction}")
    sky = _as_sky(sky)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    dev = _device(device)
    t0 = time.perf_counter()
    if pretrained is not None:
        loaded = load_checkpoint(pretrained, sky)
        cfg, prep, backbone = loaded.config, loaded.preprocessor, loaded.model
        mods = [m for m in loaded.modalities if m in sky_modalities(sky)]
        split_seed = loaded.seed if split_seed is None else split_seed
        vf, tf = cfg.train.val_fraction, cfg.train.test_fraction
    else:
        cfg = config if config is not None else get_preset(preset, **overrides)
        split_seed = seed if split_seed is None else split_seed
        vf, tf = cfg.train.val_fraction, cfg.train.test_fraction
        mods = sky_modalities(sky)
        backbone = None
    if modality != "all" and modality not in mods:
        raise AstroM3Error(f"{sky.path}: cannot fine-tune on {modality}: available {', '.join(mods)}")
    use = mods if modality == "all" else [modality]

    labels = sky.objects["label"].to_numpy(dtype=object)
    ids = np.asarray(sky.ids, dtype=object)
    labelled = np.array([isinstance(x, str) and x != "" for x in labels])
    if labelled.sum() < 10:
        raise AstroM3Error(f"{sky.path}: fine-tuning needs labels; only {int(labelled.sum())} objects have one")
    split = split_ids(ids, split_seed, vf, tf)
    rng = np.random.default_rng(seed)
    pools = {}
    for name in ("train", "val", "test"):
        rows = np.flatnonzero(labelled & (split == name))
        if max_per_split and len(rows) > max_per_split:
            rows = np.sort(np.random.default_rng(split_seed).choice(rows, max_per_split, replace=False))
        pools[name] = rows
    classes = sky.classes
    cidx = {c: i for i, c in enumerate(classes)}

    if backbone is None:
        tr_objects = sky.objects.iloc[pools["train"]]
        prep = Preprocessor.fit(tr_objects, sky.metadata_columns, cfg)
        if "metadata" in mods and prep.n_metadata == 0:
            mods.remove("metadata")
        torch.manual_seed(seed)
        backbone = TrimodalModel(cfg, mods, n_metadata=prep.n_metadata)
    data = {k: SkyArrays(sky, ids[rows], prep, use) for k, rows in pools.items()}
    # keep only objects that have the modality (any of them for 'all')
    for k in data:
        has = np.zeros(len(data[k]), dtype=bool)
        for m in use:
            has |= data[k].has[m]
        data[k].keep = np.flatnonzero(has)
        data[k].y = np.array([cidx[c] for c in data[k].labels])
    tr = data["train"]
    tr.keep = tr.keep[_stratified_fraction(tr.labels[tr.keep], label_fraction, rng)]

    torch.manual_seed(seed)
    clf = Classifier(backbone, modality if modality != "all" else "all", len(classes)).to(dev)
    if modality == "all":
        clf.mods = use
    opt = torch.optim.Adam(clf.parameters(), lr=lr)

    def predict(d) -> np.ndarray:
        clf.eval()
        preds = []
        with torch.no_grad():
            for s in range(0, len(d.keep), 512):
                idx = d.keep[s:s + 512]
                preds.append(clf(d.batch(idx, device=dev)).argmax(1).cpu().numpy())
        return np.concatenate(preds) if preds else np.zeros(0, dtype=int)

    best, best_state, bad, n_ep = -1.0, None, 0, 0
    for epoch in range(epochs):
        clf.train()
        reps = max(1, math.ceil(min_epoch_objects / max(len(tr.keep), 1)))
        perm = np.concatenate([rng.permutation(tr.keep) for _ in range(reps)])
        for s in range(0, len(perm), batch_size):
            idx = perm[s:s + batch_size]
            if len(idx) < 2:
                continue
            batch = tr.batch(idx, rng=rng, device=dev)
            loss = torch.nn.functional.cross_entropy(clf(batch), torch.as_tensor(tr.y[idx], device=dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        n_ep = epoch + 1
        va = data["val"]
        acc = float(np.mean(predict(va) == va.y[va.keep])) if len(va.keep) else 0.0
        if acc > best + 1e-6:
            best, bad = acc, 0
            best_state = copy.deepcopy(clf.state_dict())
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        clf.load_state_dict(best_state)
    te = data["test"]
    pred = predict(te)
    truth = te.y[te.keep]
    metrics = {
        "modality": modality, "label_fraction": float(label_fraction),
        "init": "pretrained" if pretrained is not None else "scratch",
        "pretrained": str(pretrained) if pretrained is not None else None, "seed": int(seed),
        "split_seed": int(split_seed), "preset": cfg.name,
        "test_accuracy": float(np.mean(pred == truth)) if len(truth) else float("nan"),
        "test_macro_f1": float(f1_score(truth, pred, average="macro")) if len(truth) else float("nan"),
        "val_accuracy": float(best), "n_train": int(len(tr.keep)), "n_val": int(len(data["val"].keep)),
        "n_test": int(len(te.keep)), "epochs": n_ep, "seconds": time.perf_counter() - t0,
        "classes": classes,
    }
    out = ws.artifact(f"finetune/{modality}-{label_fraction:g}-{metrics['init']}-s{seed}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    return metrics
