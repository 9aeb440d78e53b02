"""Batched, streaming inference: every object of a sky to ``WS/embeddings.parquet``.

Light curves and spectra are read from the sky files a batch at a time, in file order, and
only the resulting vectors are kept, so raw data never sits in memory all at once. The file
holds ``id`` (every object, sky order), ``emb_photometry``, ``emb_spectra``, ``emb_metadata``
(L2-normalised, list<float32>, null where the object or the model lacks the modality) and
``emb_fused`` (mean of the available normalised vectors, renormalised).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from core import schema
from core.sky import Sky, open_sky
from core.workspace import Workspace, write_parquet

__all__ = ["embed", "embed_arrays"]


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


def _embed_metadata(sky: Sky, model, prep, dev, vectors: dict, present: dict) -> None:
    import torch

    from core.progress import progress

    objects, n = sky.objects, len(sky)
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


def embed_arrays(sky: Sky, loaded, *, batch_size: int = 256, device=None) -> tuple[dict, dict]:
    """Embed every object of ``sky`` with a loaded model (see :func:`core.train.load_checkpoint`).

    Returns
    -------
    vectors : dict
        ``space -> (n, d)`` float32 (zero rows where absent), spaces = the three modalities + fused.
    present : dict
        ``space -> (n,)`` bool.
    """
    import torch

    from core.data import spectra_batch

    model, prep = loaded.model, loaded.preprocessor
    dev = torch.device(device) if device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(dev).eval()
    n, d = len(sky), loaded.config.shared_dim
    pos = {oid: k for k, oid in enumerate(sky.ids)}
    vectors = {m: np.zeros((n, d), dtype=np.float32) for m in schema.MODALITIES}
    present = {m: np.zeros(n, dtype=bool) for m in schema.MODALITIES}
    read = max(batch_size, 256)
    if "photometry" in loaded.modalities and sky.has_lightcurves:
        photo, periods = prep.photo.transform(sky.objects), prep.periods(sky.objects)

        def encode_lc(rows, items):
            x, mask = prep.lightcurves(items, photo[rows], periods[rows])
            return model.encode_photometry(torch.from_numpy(x).to(dev), torch.from_numpy(mask).to(dev))

        _stream(sky.iter_lightcurves(batch_size=read), "photometry", ("time", "value", "error"), encode_lc, pos,
                (vectors, present), batch_size=batch_size, min_len=1)
    if "spectra" in loaded.modalities and sky.has_spectra:
        grid = prep.wavelengths

        def encode_spec(rows, items):
            return model.encode_spectra(torch.from_numpy(spectra_batch(items, grid)).to(dev))

        _stream(sky.iter_spectra(batch_size=read), "spectra", ("wavelength", "flux", "error"), encode_spec, pos,
                (vectors, present), batch_size=batch_size, min_len=2)
    if "metadata" in loaded.modalities:
        _embed_metadata(sky, model, prep, dev, vectors, present)
    _fuse(vectors, present)
    return vectors, present


def embed(sky, checkpoint, workspace, *, batch_size: int = 256, force: bool = False, device=None) -> Path:
    """Embed every object of a sky; returns the path of ``WS/embeddings.parquet``.

    Skipped (the existing file returned) when the manifest says it was made from the same sky
    and model, unless ``force``.

    Parameters
    ----------
    sky : Sky or path
    checkpoint : path
        A checkpoint from :func:`core.train.train`, or :data:`core.train.DEFAULT_CHECKPOINT`.
    workspace : Workspace or path
    batch_size : int
        Objects per forward pass.

    Examples
    --------
    >>> from core.train import DEFAULT_CHECKPOINT
    >>> embed("demo/sky20k-s0", DEFAULT_CHECKPOINT, "demo/ws")      # doctest: +SKIP
    """
    from core.train import load_checkpoint

    sky = sky if isinstance(sky, Sky) else open_sky(sky)
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    loaded = load_checkpoint(checkpoint, sky)
    inputs = {"sky": sky.fingerprint, "model": loaded.fingerprint}
    out = ws.embeddings_path
    if not force and ws.is_fresh(out.name, inputs):
        return out
    vectors, present = embed_arrays(sky, loaded, batch_size=batch_size, device=device)
    cols = {"id": pa.array([str(i) for i in sky.ids], type=pa.string())}
    for space, name in schema.EMBEDDING_COLUMNS.items():
        cols[name] = _list_column(vectors[space], present[space])
    table = pa.table(cols)
    write_parquet(table, out, meta={"model_fingerprint": loaded.fingerprint, "sky_fingerprint": sky.fingerprint,
                                    "dim": int(loaded.config.shared_dim), "preset": loaded.config.name,
                                    "modalities": loaded.modalities, "checkpoint": str(Path(checkpoint))})
    ws.record(out.name, inputs)
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
