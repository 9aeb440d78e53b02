"""Batched, streaming inference: every object of a sky to ``WS/embeddings.parquet``.

Light curves and spectra are read from the sky files a batch at a time, in file order, and
only the resulting vectors are kept, so raw data never sits in memory all at once. The file
holds ``id`` (every object, sky order), ``emb_photometry``, ``emb_spectra``, ``emb_metadata``
(L2-normalised, list<float32>, null where the object or the model lacks the modality) and
``emb_fused`` (mean of the available normalised vectors, renormalised).

The sky's rows are embedded in consecutive partitions of ``partition_size`` objects (cut where the
light-curve file's row groups start, when its rows follow the catalogue's). Each partition goes to
its own file under ``WS/embeddings.parts/``, written atomically with the sky and model fingerprints
and its bounds, so a run that was interrupted redoes only the partitions not yet written. When all
are there they are combined into ``embeddings.parquet`` and the parts removed. With a Dask
``scheduler`` the partitions run as ``dask.distributed`` tasks: :func:`embed_partition` takes only
paths and plain values.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core import schema
from core.errors import AstroM3Error
from core.parallel import (DEFAULT_PARTITION_SIZE, check_partition_size, check_scheduler, partition_bounds,
                           run_partitions)
from core.sky import Sky, open_sky
from core.workspace import Workspace, read_parquet_meta, write_parquet, write_parquet_tables

__all__ = ["embed", "embed_arrays", "embed_partition", "lightcurve_cuts", "PARTS_DIR"]

#: The workspace folder holding the finished partitions of an embedding in progress.
PARTS_DIR = "embeddings.parts"


def _list_column(vectors: np.ndarray, present: np.ndarray) -> pa.Array:
    n, d = vectors.shape
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * d)
    values = pa.array(vectors.reshape(-1).astype(np.float32, copy=False), type=pa.float32())
    return pa.ListArray.from_arrays(offsets, values, mask=pa.array(~present))


def _stream(records, kind: str, fields: tuple[str, str, str], encode, pos: dict, out: tuple[dict, dict], *,
            batch_size: int, min_len: int) -> None:
    """Encode the records of one modality a batch at a time into ``out = (vectors, present)``.

    Records of unknown objects or with fewer than ``min_len`` points are skipped; ``encode(rows,
    items)`` returns the ``(len(rows), d)`` tensor of a batch, ``items`` holding each record's
    ``fields`` (e.g. time, value, error).
    """
    import torch

    vectors, present = out
    rows, items = [], []

    def flush() -> None:
        if not rows:
            return
        with torch.no_grad():
            z = encode(rows, items)
        vectors[kind][rows] = z.cpu().numpy()
        present[kind][rows] = True
        rows.clear()
        items.clear()

    for rec in records:
        k = pos.get(rec.id)
        if k is None or len(rec) < min_len:
            continue
        rows.append(k)
        items.append(tuple(getattr(rec, f) for f in fields))
        if len(rows) >= batch_size:
            flush()
    flush()


def _embed_metadata(objects, model, prep, dev, vectors: dict, present: dict) -> None:
    import torch

    from core.progress import progress

    n = len(objects)
    has = prep.metadata_present(objects)
    bar = progress(range(0, n, 4096), desc="embedding metadata", unit="chunk")
    for s in bar:
        chunk = objects.iloc[s:s + 4096]
        with torch.no_grad():
            z = model.encode_metadata(torch.from_numpy(prep.metadata.transform(chunk)).to(dev))
        vectors["metadata"][s:s + len(chunk)] = z.cpu().numpy()
    present["metadata"] = has
    vectors["metadata"][~has] = 0.0


def _fuse(vectors: dict, present: dict) -> None:
    """Add the fused space: the sum of the present normalised vectors, renormalised."""
    n, d = vectors[schema.MODALITIES[0]].shape
    total = np.zeros((n, d), dtype=np.float64)
    for m in schema.MODALITIES:
        total += vectors[m] * present[m][:, None]
    norm = np.linalg.norm(total, axis=1, keepdims=True)
    vectors[schema.FUSED] = np.divide(total, norm, out=np.zeros_like(total), where=norm > 0).astype(np.float32)
    present[schema.FUSED] = norm[:, 0] > 0


def embed_arrays(sky: Sky, loaded, *, batch_size: int = 256, device=None,
                 rows: tuple[int, int] | None = None) -> tuple[dict, dict]:
    """Embed the objects of ``sky`` with a loaded model (see :func:`core.train.load_checkpoint`).

    Parameters
    ----------
    sky : Sky
    loaded : core.train.LoadedModel
    batch_size : int
        Objects per forward pass.
    device : str, optional
        Torch device (default: CUDA if available, else the CPU).
    rows : (int, int), optional
        Only the objects in rows ``start:stop`` of ``objects.parquet`` (default: all); only the
        row groups of the light-curve and spectrum files holding them are read.

    Returns
    -------
    vectors : dict
        ``space -> (n, d)`` float32 (zero rows where absent), spaces = the three modalities + fused.
    present : dict
        ``space -> (n,)`` bool.
    """
    import torch

    from core.data import spectra_batch

    start, stop = (0, len(sky)) if rows is None else (int(rows[0]), int(rows[1]))
    objects, ids = sky.objects.iloc[start:stop], sky.ids[start:stop]
    wanted = None if (start, stop) == (0, len(sky)) else list(ids)
    model, prep = loaded.model, loaded.preprocessor
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(dev).eval()
    n, d = len(objects), loaded.config.shared_dim
    pos = {oid: k for k, oid in enumerate(ids)}
    vectors = {m: np.zeros((n, d), dtype=np.float32) for m in schema.MODALITIES}
    present = {m: np.zeros(n, dtype=bool) for m in schema.MODALITIES}
    read = max(batch_size, 256)
    if "photometry" in loaded.modalities and sky.has_lightcurves:
        photo, periods = prep.photo.transform(objects), prep.periods(objects)

        def encode_lc(rows, items):
            x, mask = prep.lightcurves(items, photo[rows], periods[rows])
            return model.encode_photometry(torch.from_numpy(x).to(dev), torch.from_numpy(mask).to(dev))

        _stream(sky.iter_lightcurves(ids=wanted, batch_size=read), "photometry", ("time", "value", "error"),
                encode_lc, pos, (vectors, present), batch_size=batch_size, min_len=1)
    if "spectra" in loaded.modalities and sky.has_spectra:
        grid = prep.wavelengths

        def encode_spec(rows, items):
            return model.encode_spectra(torch.from_numpy(spectra_batch(items, grid)).to(dev))

        _stream(sky.iter_spectra(ids=wanted, batch_size=read), "spectra", ("wavelength", "flux", "error"),
                encode_spec, pos, (vectors, present), batch_size=batch_size, min_len=2)
    if "metadata" in loaded.modalities:
        _embed_metadata(objects, model, prep, dev, vectors, present)
    _fuse(vectors, present)
    return vectors, present


def _embedding_table(ids, vectors: dict, present: dict) -> pa.Table:
    """The ``embeddings.parquet`` columns of ``ids`` (one row each, in order)."""
    cols = {"id": pa.array([str(i) for i in ids], type=pa.string())}
    for space, name in schema.EMBEDDING_COLUMNS.items():
        cols[name] = _list_column(vectors[space], present[space])
    return pa.table(cols)


# ------------------------------------------------------------------------------------------------
# partitions
# ------------------------------------------------------------------------------------------------

def lightcurve_cuts(sky: Sky) -> np.ndarray | None:
    """Catalogue rows where the light-curve file's row groups start, if its rows follow the catalogue's."""
    if not sky.has_lightcurves:
        return None
    rows = sky.ids.get_indexer(sky.lightcurve_ids)
    if (rows < 0).any() or np.any(np.diff(rows) <= 0):
        return None
    return rows[sky.lightcurve_row_groups[:-1]]


def _part_meta(inputs: dict, start: int, stop: int) -> dict:
    return {"sky_fingerprint": inputs["sky"], "model_fingerprint": inputs["model"],
            "start": int(start), "stop": int(stop)}


def _part_done(path: Path, inputs: dict, start: int, stop: int) -> bool:
    """True if ``path`` is the finished partition ``start:stop`` of this sky and model."""
    if not path.exists():
        return False
    try:
        return (read_parquet_meta(path) == _part_meta(inputs, start, stop)
                and pq.ParquetFile(path).metadata.num_rows == stop - start)
    except (OSError, ValueError):
        return False


def embed_partition(sky, checkpoint, start: int, stop: int, out, *, inputs: dict, batch_size: int = 256,
                    device: str | None = None, torch_threads: int | None = None) -> str:
    """Embed rows ``start:stop`` of a sky into the partition file ``out``; returns ``out``.

    A top-level function of paths and plain values, so it runs as well in another process (a
    Dask worker) as here; in-process callers may pass the opened sky and loaded model instead.

    Parameters
    ----------
    sky : path or Sky
        The sky directory (absolute, where a worker on another machine must find it).
    checkpoint : path or core.train.LoadedModel
    start, stop : int
        The partition's rows in ``objects.parquet``.
    out : path
        The partition file, written atomically (a temporary name, then renamed).
    inputs : dict
        ``{"sky": sky fingerprint, "model": model fingerprint}``, recorded in the file with the
        bounds so a rerun knows the partition is done.
    batch_size : int
        Objects per forward pass.
    device : str, optional
        Torch device.
    torch_threads : int, optional
        Set torch's threads first (1 in Dask workers, which each run one task per core).

    Returns
    -------
    str
        ``out``.
    """
    import warnings

    from core.train import CheckpointWarning, LoadedModel, load_checkpoint

    if torch_threads:
        import torch
        torch.set_num_threads(int(torch_threads))
    sky = sky if isinstance(sky, Sky) else open_sky(sky)
    with warnings.catch_warnings():  # :func:`embed` has warned once already, not once a partition
        warnings.simplefilter("ignore", CheckpointWarning)
        loaded = checkpoint if isinstance(checkpoint, LoadedModel) else load_checkpoint(checkpoint, sky)
    if loaded.fingerprint != inputs["model"]:
        raise AstroM3Error(f"{checkpoint}: the checkpoint changed while the sky was being embedded; rerun")
    vectors, present = embed_arrays(sky, loaded, batch_size=batch_size, device=device, rows=(start, stop))
    write_parquet(_embedding_table(sky.ids[start:stop], vectors, present), out,
                  meta=_part_meta(inputs, start, stop))
    return str(out)


def embed(sky, checkpoint, workspace, *, batch_size: int = 256, force: bool = False, device=None,
          partition_size: int = DEFAULT_PARTITION_SIZE, scheduler: str | None = None) -> Path:
    """Embed every object of a sky; returns the path of ``WS/embeddings.parquet``.

    Skipped (the existing file returned) when the manifest says it was made from the same sky
    and model, unless ``force``. Partitions finished by an interrupted run are kept and not redone.

    Parameters
    ----------
    sky : Sky or path
    checkpoint : path
        A checkpoint from :func:`core.train.train`, or :data:`core.train.DEFAULT_CHECKPOINT`.
    workspace : Workspace or path
    batch_size : int
        Objects per forward pass.
    force : bool
        Recompute, partitions included, even if fresh.
    device : str, optional
        Torch device (default: CUDA if available, else the CPU).
    partition_size : int
        Objects per partition (each written to ``WS/embeddings.parts/`` as it finishes).
    scheduler : None, "local" or "tcp://HOST:PORT"
        None: embed in this process. ``"local"``: as tasks on a 2-worker ``dask.distributed``
        LocalCluster. An address: on that Dask cluster, whose workers must see the sky, the
        checkpoint and the workspace at the same (absolute) paths.

    Raises
    ------
    AstroM3Error
        A bad ``scheduler`` or ``partition_size``, an unreachable scheduler, an incompatible checkpoint.

    Examples
    --------
    >>> from core.train import DEFAULT_CHECKPOINT
    >>> embed("demo/sky20k-s0", DEFAULT_CHECKPOINT, "demo/ws")                     # doctest: +SKIP
    >>> embed("demo/sky20k-s0", DEFAULT_CHECKPOINT, "demo/ws", scheduler="local")  # doctest: +SKIP
    """
    from core.train import load_checkpoint

    check_scheduler(scheduler)
    check_partition_size(partition_size)
    sky = sky if isinstance(sky, Sky) else open_sky(sky)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    loaded = load_checkpoint(checkpoint, sky)
    inputs = {"sky": sky.fingerprint, "model": loaded.fingerprint}
    out = ws.embeddings_path
    if not force and ws.is_fresh(out.name, inputs):
        return out
    parts = ws.artifact(PARTS_DIR)
    if force:
        shutil.rmtree(parts, ignore_errors=True)
    plan = [(a, b, parts / f"part-{k:05d}.parquet")
            for k, (a, b) in enumerate(partition_bounds(len(sky), partition_size, lightcurve_cuts(sky)))]
    todo = [p for p in plan if not _part_done(p[2], inputs, p[0], p[1])]
    opts = {"inputs": inputs, "batch_size": batch_size, "device": device}
    if scheduler is None:       # here: the opened sky and the loaded model, not their paths
        calls = [(sky, loaded, a, b, path) for a, b, path in todo]
    else:                       # Dask workers open them from absolute paths, one torch thread each
        calls = [(str(sky.path.resolve()), str(Path(checkpoint).resolve()), a, b, str(path)) for a, b, path in todo]
        opts["torch_threads"] = 1
    run_partitions(embed_partition, calls, scheduler, desc="embedding partitions", key="embed-partition",
                   done=len(plan) - len(todo), **opts)
    missing = [str(p[2]) for p in plan if not _part_done(p[2], inputs, p[0], p[1])]
    if missing:
        raise AstroM3Error(f"{len(missing)} partition(s) were not written (e.g. {missing[0]}); rerun to finish")
    write_parquet_tables((pq.read_table(p[2]) for p in plan), out,
                         meta={"model_fingerprint": loaded.fingerprint, "sky_fingerprint": sky.fingerprint,
                               "dim": int(loaded.config.shared_dim), "preset": loaded.config.name,
                               "modalities": loaded.modalities, "checkpoint": str(Path(checkpoint))})
    ws.record(out.name, inputs)
    shutil.rmtree(parts, ignore_errors=True)
    return out


def _make_callable_module(name: str, function) -> None:
    """Let ``core.<name>(...)`` call ``function`` even after ``import core.<name>`` made the attribute the module.

    Importing a submodule sets the package attribute of the same name to the module, which would
    shadow the public function :mod:`core` exports under that name (``core.embed``, ``core.train``).
    """
    import sys
    import types

    class _CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return function(*args, **kwargs)

    sys.modules[name].__class__ = _CallableModule


_make_callable_module(__name__, embed)
