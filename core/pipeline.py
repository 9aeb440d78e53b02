"""``run``: every stale step from a sky to its results, in order (train -> embed -> analyze).

Each step is skipped when the workspace manifest says its output was made from exactly the
current inputs (fingerprints of the sky, the checkpoint file and the parameters), so a second
``astrom3 run`` on an unchanged sky is a no-op and changing the sky or the model reruns exactly
what depends on it.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from core.sky import Sky, file_fingerprint, open_sky
from core.workspace import Workspace

__all__ = ["run", "StepReport", "resolve_checkpoint", "CHECKPOINT_ALIASES"]

#: Names accepted for ``checkpoint`` besides paths: ``"demo"`` is the shipped checkpoint.
CHECKPOINT_ALIASES = ("demo",)

ProgressCallback = Callable[[str, float], None]

#: Share of the overall progress given to each step (for progress callbacks).
_SPANS = {"train": (0.0, 0.45), "embed": (0.45, 0.7), "analyze": (0.7, 1.0)}


def resolve_checkpoint(checkpoint: str | os.PathLike) -> Path:
    """The checkpoint file meant by ``checkpoint``: a path, or ``"demo"`` for the shipped one.

    Parameters
    ----------
    checkpoint : str or path-like
        A ``.pt`` file, or ``"demo"`` for :data:`core.train.DEFAULT_CHECKPOINT`.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> resolve_checkpoint("demo").name
    'demo-cpu-seed0.pt'
    """
    if str(checkpoint) == "demo":
        from core.train import DEFAULT_CHECKPOINT
        return Path(DEFAULT_CHECKPOINT)
    return Path(checkpoint)


class StepReport(dict):
    """``{step: {"seconds": float, "skipped": bool}}`` plus ``results`` (the results path)."""


def _scaled(cb: ProgressCallback | None, step: str) -> ProgressCallback | None:
    if cb is None:
        return None
    lo, hi = _SPANS[step]
    return lambda name, frac: cb(f"{step}: {name}", lo + (hi - lo) * float(frac))


def _recorded(ws: Workspace, key: str, inputs: dict, output: Path) -> bool:
    entry = ws.manifest().get(key)
    return bool(entry) and output.exists() and entry.get("inputs") == {**inputs, "output": file_fingerprint(output)}


def _model_for(sky: Sky, ws: Workspace, checkpoint, *, preset: str, seed: int,
               cb: ProgressCallback | None) -> tuple[Path, bool]:
    """The checkpoint to embed with and whether training was skipped (given, or already trained)."""
    if checkpoint is not None:
        ckpt = resolve_checkpoint(checkpoint)
        if not ckpt.exists():
            from core.errors import AstroM3Error
            raise AstroM3Error(f"{ckpt}: checkpoint not found")
        return ckpt, True
    train_inputs = {"sky": sky.fingerprint, "preset": preset, "seed": int(seed)}
    ckpt = ws.checkpoint_path
    if _recorded(ws, "pipeline:train", train_inputs, ckpt):
        return ckpt, True
    from core.train import train

    if cb:
        cb("train: training the model", _SPANS["train"][0])
    ckpt = Path(train(sky, workspace=ws, preset=preset, seed=seed))
    ws.record("pipeline:train", {**train_inputs, "output": file_fingerprint(ckpt)})
    return ckpt, False


def run(sky, workspace, *, checkpoint: str | os.PathLike | None = None, preset: str = "cpu", seed: int = 0,
        umap_sample: int = 50000, progress_callback: ProgressCallback | None = None,
        report: StepReport | None = None, scheduler: str | None = None,
        partition_size: int | None = None) -> Path:
    """Train (if needed), embed and analyze a sky; returns the path of ``results.parquet``.

    Parameters
    ----------
    sky : Sky or path
    workspace : Workspace or path
    checkpoint : path or "demo", optional
        Use this model instead of training one on the sky; ``"demo"`` is the shipped
        :data:`core.train.DEFAULT_CHECKPOINT` (``core/resources/checkpoints/demo-cpu-seed0.pt``).
    preset : str
        Model preset when training (``tiny``, ``cpu``, ``paper``).
    seed : int
        Seeds training and analysis.
    umap_sample : int
        See :func:`core.analysis.analyze`.
    progress_callback : callable, optional
        ``callback(step, fraction_done)``; fractions run from 0 to 1 over the whole pipeline.
    report : StepReport, optional
        Filled with each step's wall time and whether it was skipped.
    scheduler : None, "local" or "tcp://HOST:PORT"
        Where the embed step and analyze's light-curve features run their partitions (see
        :mod:`core.parallel`); checked first.
    partition_size : int, optional
        Objects per partition of both (default :data:`core.parallel.DEFAULT_PARTITION_SIZE`).

    Examples
    --------
    >>> from core.pipeline import run
    >>> run("demo/sky", "demo/ws", checkpoint="demo")  # doctest: +SKIP
    """
    from core.analysis import analyze
    from core.analysis.engine import analysis_is_fresh
    from core.parallel import check_partition_size, check_scheduler

    check_scheduler(scheduler)  # bad embed options fail before training, not after
    embed_options = {"scheduler": scheduler} if scheduler is not None else {}
    if partition_size is not None:
        embed_options["partition_size"] = check_partition_size(partition_size)
    sky = sky if isinstance(sky, Sky) else open_sky(sky)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    report = report if report is not None else StepReport()
    cb = progress_callback

    t = time.perf_counter()
    ckpt, skipped = _model_for(sky, ws, checkpoint, preset=preset, seed=seed, cb=cb)
    report["train"] = {"seconds": time.perf_counter() - t, "skipped": skipped}
    if cb:
        cb("train: done", _SPANS["train"][1])

    t = time.perf_counter()
    embed_inputs = {"sky": sky.fingerprint, "checkpoint": file_fingerprint(ckpt)}
    skipped = _recorded(ws, "pipeline:embed", embed_inputs, ws.embeddings_path)
    if not skipped:
        from core.embed import embed

        if cb:
            cb("embed: computing embeddings", _SPANS["embed"][0])
        out = Path(embed(sky, ckpt, ws, **embed_options))
        ws.record("pipeline:embed", {**embed_inputs, "output": file_fingerprint(out)})
    report["embed"] = {"seconds": time.perf_counter() - t, "skipped": skipped}
    if cb:
        cb("embed: done", _SPANS["embed"][1])

    t = time.perf_counter()
    fresh = analysis_is_fresh(sky, ws, seed=seed, umap_sample=umap_sample)
    results = analyze(sky, ws, seed=seed, umap_sample=umap_sample, progress_callback=_scaled(cb, "analyze"),
                      **embed_options)   # the same scheduler and partitions for analyze's partitioned steps
    report["analyze"] = {"seconds": time.perf_counter() - t, "skipped": fresh}
    report["results"] = str(results)
    if cb:
        cb("done", 1.0)
    return results
