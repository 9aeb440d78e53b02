"""The training loops behind :func:`core.train.train` and :func:`core.train.finetune`.

* :class:`ContrastiveTrainer`: CLIP-style pretraining epochs (learning-rate schedule, gradient
  clipping, reduce-on-plateau, early stopping on the validation loss, resume state). Every epoch
  record holds the total loss and each pair loss of the objective (``photometry-spectra``,
  ``photometry-metadata``, ``spectra-metadata``; see :mod:`core.model.loss`) on the training
  and the validation split; the progress bar shows them while an epoch runs.
* :class:`ClassifierTrainer`: a classification head, early stopping on validation accuracy.
* :func:`write_train_log`: the epoch records as JSON lines, ``WS/train_log.jsonl``.

Both trainers draw random numbers (shuffling, crops, dropout) in the order of the loops they
replaced, so a seed still gives bit-identical weights (the shipped checkpoint's fingerprint).
"""
from __future__ import annotations

import copy
import itertools
import json
import math
import time
from dataclasses import dataclass

import numpy as np

from core.progress import progress
from core.workspace import atomic_path

__all__ = ["ContrastiveTrainer", "ClassifierTrainer", "LabelledSet", "TRAIN_LOG", "write_train_log",
           "pair_summary"]

#: Name of the per-epoch log in the workspace.
TRAIN_LOG = "train_log.jsonl"


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


def _short(pair: str) -> str:
    """``'photometry-spectra'`` -> ``'phot-spec'`` (progress-bar labels)."""
    return "-".join(m[:4] for m in pair.split("-"))


def pair_summary(rec: dict, split: str = "val") -> str:
    """``'phot-spec 3.10, phot-meta 2.95, ...'``: one split's pair losses of an epoch record."""
    return ", ".join(f"{_short(p)} {v:.3f}" for p, v in rec.get(f"{split}_pairs", {}).items())


def write_train_log(path, history: list[dict]) -> None:
    """Write epoch records as JSON lines (rewritten whole, atomically, so a resumed run stays consistent)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(rec, sort_keys=True) + "\n" for rec in history))


def _cpu_copy(state_dict) -> dict:
    return {k: v.detach().cpu().clone() for k, v in state_dict.items()}


class ContrastiveTrainer:
    """Pretrains a :class:`~core.model.trimodal.TrimodalModel` with its trimodal CLIP loss.

    Parameters
    ----------
    model : TrimodalModel
        Built right after ``torch.manual_seed(seed)``, already on ``device``.
    train_config : core.model.config.TrainConfig
    train_data, val_data : core.data.SkyArrays
    seed : int
        Seeds the shuffling and crops (a numpy generator owned by the trainer).
    device : torch.device

    Attributes
    ----------
    history : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``lr``, ``seconds``,
        ``train_pairs`` and ``val_pairs`` (``{pair: loss}``, see :meth:`train_epoch`, :meth:`validate`).
    pairs : list of str
        The pairs of the objective, e.g. ``['photometry-spectra', ...]``.
    """

    def __init__(self, model, train_config, train_data, val_data, *, seed: int, device):
        import torch

        from core.model.loss import pair_name

        tc = self.tc = train_config
        self.model, self.train_data, self.val_data, self.device = model, train_data, val_data, device
        self.opt = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(self.opt, factor=tc.plateau_factor,
                                                                  patience=tc.plateau_patience)
        self.rng = np.random.default_rng(seed)
        self.pairs = [pair_name(a, b) for a, b in itertools.combinations(model.modalities, 2)]
        self.epoch, self.step, self.best, self.bad = 0, 0, math.inf, 0
        self.history: list[dict] = []
        self.best_state = None
        self.batch_size = tc.batch_size
        self.n_batches = max(1, len(train_data) // tc.batch_size)
        self.warmup_steps = tc.warmup_epochs * self.n_batches
        self.cosine = tc.schedule == "cosine"
        self.total_steps = tc.epochs * self.n_batches

    # --- one step, one epoch -----------------------------------------------------------------
    def _set_lr(self) -> None:
        if self.step < self.warmup_steps or self.cosine:
            lr = _lr_at(self.step, self.warmup_steps, self.tc.lr, total_steps=self.total_steps if self.cosine else 0,
                        min_ratio=self.tc.min_lr_ratio)
            for g in self.opt.param_groups:
                g["lr"] = lr

    def train_step(self, batch: dict) -> dict[str, float]:
        """One optimiser step on a batch; returns ``{"loss": total, pair: loss ...}`` as floats."""
        import torch

        self._set_lr()
        out = self.model.loss(batch)
        self.opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        if self.tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
        self.opt.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in out.items()}

    def _pair_means(self, steps: list[dict]) -> dict[str, float]:
        """Mean of each pair loss over the steps in which it could be scored (NaN if none)."""
        out = {}
        for p in self.pairs:
            vals = [s[p] for s in steps if p in s]
            out[p] = float(np.mean(vals)) if vals else float("nan")
        return out

    def train_epoch(self) -> tuple[float, dict[str, float]]:
        """One pass over the shuffled training split.

        Returns
        -------
        train_loss : float
            Mean total loss over the batches.
        pairs : dict
            Each pair loss averaged over the batches in which it could be scored.
        """
        self.model.train()
        perm = self.rng.permutation(len(self.train_data))
        bs, n = self.batch_size, self.n_batches
        bar = progress(range(n), desc=f"train epoch {self.epoch + 1}/{self.tc.epochs}", unit="batch")
        steps: list[dict] = []
        for b in bar:
            idx = perm[b * bs:(b + 1) * bs] if b < n - 1 else perm[b * bs:]
            steps.append(self.train_step(self.train_data.batch(idx, rng=self.rng, device=self.device)))
            recent = steps[-20:]
            bar.set_postfix(loss=f"{np.mean([s['loss'] for s in recent]):.3f}",
                            **{_short(p): f"{v:.2f}" for p, v in self._pair_means(recent).items()})
        bar.close()
        return float(np.mean([s["loss"] for s in steps])), self._pair_means(steps)

    def validate(self) -> tuple[float, dict[str, float]]:
        """Validation loss (total and per pair), object-weighted over batches of at least two objects.

        A pair is averaged over the batches in which it could be scored (NaN if none).
        """
        import torch

        model, data, bs = self.model, self.val_data, self.batch_size
        model.eval()
        total, weight = 0.0, 0
        pair_sum = {p: 0.0 for p in self.pairs}
        pair_w = {p: 0 for p in self.pairs}
        with torch.no_grad():
            for start in range(0, len(data), bs):
                idx = np.arange(start, min(start + bs, len(data)))
                if len(idx) < 2:
                    continue
                out = model.loss(data.batch(idx, device=self.device))
                total += float(out["loss"]) * len(idx)
                weight += len(idx)
                for p in self.pairs:
                    if p in out:
                        pair_sum[p] += float(out[p]) * len(idx)
                        pair_w[p] += len(idx)
        pairs = {p: pair_sum[p] / pair_w[p] if pair_w[p] else float("nan") for p in self.pairs}
        return total / max(weight, 1), pairs

    def run_epoch(self) -> tuple[dict, bool]:
        """Train one epoch, validate, step the plateau schedule, track the best weights.

        Returns
        -------
        record : dict
            The epoch's record (also appended to :attr:`history`).
        improved : bool
            The validation loss is the best so far (by more than 1e-4).
        """
        t0 = time.perf_counter()
        train_loss, train_pairs = self.train_epoch()
        val, val_pairs = self.validate()
        if self.step >= self.warmup_steps and not self.cosine:
            self.plateau.step(val)
        rec = {"epoch": self.epoch + 1, "train_loss": train_loss, "val_loss": val,
               "lr": self.opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0,
               "train_pairs": train_pairs, "val_pairs": val_pairs}
        self.history.append(rec)
        improved = val < self.best - 1e-4
        if improved:
            self.best, self.bad = val, 0
            self.best_state = _cpu_copy(self.model.state_dict())
        else:
            self.bad += 1
        self.epoch += 1
        return rec, improved

    @property
    def stopped(self) -> bool:
        """Early stopping: ``patience`` epochs without improvement."""
        return self.bad >= self.tc.patience

    def fit(self, on_epoch=None) -> None:
        """Run epochs until ``epochs`` or early stopping.

        Parameters
        ----------
        on_epoch : callable, optional
            Called after each epoch as ``on_epoch(record, improved, done)`` (e.g. to checkpoint).
        """
        while self.epoch < self.tc.epochs:
            rec, improved = self.run_epoch()
            if on_epoch is not None:
                on_epoch(rec, improved, self.stopped or self.epoch >= self.tc.epochs)
            if self.stopped:
                break

    # --- checkpoint state --------------------------------------------------------------------
    def best_weights(self) -> dict:
        """CPU copy of the best weights so far (the current ones before any epoch)."""
        return _cpu_copy(self.best_state or self.model.state_dict())

    def resume_state(self, done: bool) -> dict:
        """What :meth:`load_resume_state` needs to continue the run exactly."""
        import torch

        return {"done": done, "epoch": self.epoch, "step": self.step, "best": self.best, "bad": self.bad,
                "last_state": _cpu_copy(self.model.state_dict()), "optimizer": self.opt.state_dict(),
                "plateau": self.plateau.state_dict(), "rng": self.rng.bit_generator.state,
                "torch_rng": torch.get_rng_state()}

    def load_resume_state(self, resume: dict, history: list, best_state: dict) -> None:
        """Continue a run from a checkpoint's ``resume`` dict, its history and its (best) weights."""
        import torch

        self.model.load_state_dict(resume["last_state"])
        self.opt.load_state_dict(resume["optimizer"])
        self.plateau.load_state_dict(resume["plateau"])
        self.rng.bit_generator.state = resume["rng"]
        torch.set_rng_state(resume["torch_rng"])
        self.epoch, self.step, self.best, self.bad = resume["epoch"], resume["step"], resume["best"], resume["bad"]
        self.history, self.best_state = history, best_state


@dataclass
class LabelledSet:
    """The labelled objects of one split, as fine-tuning uses them.

    Attributes
    ----------
    arrays : core.data.SkyArrays
    keep : ndarray of int
        Rows of ``arrays`` used (those with the modality, or any of them for ``'all'``).
    y : ndarray of int
        Class index of every row of ``arrays``.
    """

    arrays: object
    keep: np.ndarray
    y: np.ndarray

    @classmethod
    def build(cls, arrays, modalities, class_index: dict) -> "LabelledSet":
        """Keep the rows of ``arrays`` that have any of ``modalities``."""
        has = np.zeros(len(arrays), dtype=bool)
        for m in modalities:
            has |= arrays.has[m]
        return cls(arrays, np.flatnonzero(has), np.array([class_index[c] for c in arrays.labels]))

    @property
    def labels(self) -> np.ndarray:
        """Labels of the kept rows."""
        return self.arrays.labels[self.keep]

    def truth(self) -> np.ndarray:
        """Class indices of the kept rows."""
        return self.y[self.keep]


class ClassifierTrainer:
    """Trains a :class:`~core.model.trimodal.Classifier` with cross-entropy (Adam).

    Parameters
    ----------
    classifier : Classifier
        Built right after ``torch.manual_seed(seed)``, already on ``device``.
    lr : float
    rng : numpy.random.Generator
        Shuffling and crops (the one that drew the label subset).
    device : torch.device
    batch_size : int
    min_epoch_objects : int
        An epoch repeats the training set until it has seen at least this many objects.
    """

    def __init__(self, classifier, *, lr: float, rng: np.random.Generator, device, batch_size: int,
                 min_epoch_objects: int):
        import torch

        self.clf, self.rng, self.device = classifier, rng, device
        self.batch_size, self.min_epoch_objects = batch_size, min_epoch_objects
        self.opt = torch.optim.Adam(classifier.parameters(), lr=lr)

    def predict(self, data: LabelledSet) -> np.ndarray:
        """Predicted class indices of the kept rows."""
        import torch

        self.clf.eval()
        preds = []
        with torch.no_grad():
            for s in range(0, len(data.keep), 512):
                idx = data.keep[s:s + 512]
                preds.append(self.clf(data.arrays.batch(idx, device=self.device)).argmax(1).cpu().numpy())
        return np.concatenate(preds) if preds else np.zeros(0, dtype=int)

    def accuracy(self, data: LabelledSet) -> float:
        """Accuracy on the kept rows (0 if there are none)."""
        return float(np.mean(self.predict(data) == data.truth())) if len(data.keep) else 0.0

    def train_epoch(self, train: LabelledSet) -> None:
        """One epoch: the kept rows reshuffled ``reps`` times, batches of at least two objects."""
        import torch
        import torch.nn.functional as F

        self.clf.train()
        reps = max(1, math.ceil(self.min_epoch_objects / max(len(train.keep), 1)))
        perm = np.concatenate([self.rng.permutation(train.keep) for _ in range(reps)])
        for s in range(0, len(perm), self.batch_size):
            idx = perm[s:s + self.batch_size]
            if len(idx) < 2:
                continue
            batch = train.arrays.batch(idx, rng=self.rng, device=self.device)
            loss = F.cross_entropy(self.clf(batch), torch.as_tensor(train.y[idx], device=self.device))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()

    def fit(self, train: LabelledSet, val: LabelledSet, *, epochs: int, patience: int) -> tuple[float, int]:
        """Train with early stopping on validation accuracy, then restore the best weights.

        Returns
        -------
        best_val_accuracy : float
            -1 if no epoch ran.
        epochs_run : int
        """
        best, best_state, bad, n_ep = -1.0, None, 0, 0
        for epoch in range(epochs):
            self.train_epoch(train)
            n_ep = epoch + 1
            acc = self.accuracy(val)
            if acc > best + 1e-6:
                best, bad = acc, 0
                best_state = copy.deepcopy(self.clf.state_dict())
            else:
                bad += 1
                if bad >= patience:
                    break
        if best_state is not None:
            self.clf.load_state_dict(best_state)
        return best, n_ep
