"""Workspaces: where a sky's derived artifacts live, with the fingerprints of what made them.

A workspace is a directory (``WS``) holding ``model.pt``, ``embeddings.parquet``,
``results.parquet``, ``neighbors/``, ``flags.sqlite`` and ``manifest.json``. Each artifact is
recorded in the manifest with the fingerprint of its inputs (sky, model, parameters); a step reruns
only when that fingerprint changes. Parquet artifacts also carry their fingerprints in the file's
own metadata (key ``astrom3``), so a copied file still says what made it.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core import schema
from core.errors import WorkspaceError

__all__ = ["Workspace", "fingerprint_of", "atomic_path", "write_parquet", "write_parquet_tables", "read_parquet_meta"]

_META_KEY = b"astrom3"


def fingerprint_of(obj) -> str:
    """A short stable hash of a JSON-serialisable object (dict keys sorted).

    Examples
    --------
    >>> fingerprint_of({"b": 1, "a": [1, 2]}) == fingerprint_of({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                import shutil
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def write_parquet(data: pd.DataFrame | pa.Table, path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write a table atomically, with ``meta`` (JSON) stored in the parquet schema metadata."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    if meta:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               _META_KEY: json.dumps(meta, default=str).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return Path(path)


def write_parquet_tables(tables: Iterable[pa.Table], path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write tables of one schema one after another into one parquet file, atomically.

    Like :func:`write_parquet` (same compression, ``meta`` in the schema metadata), but only one
    table is in memory at a time. The first table's schema (less its metadata) is the file's.
    """
    writer = None
    with atomic_path(path) as tmp:
        try:
            for table in tables:
                table = table.replace_schema_metadata(
                    {_META_KEY: json.dumps(meta, default=str).encode()} if meta else None)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
            if writer is None:
                raise ValueError(f"{path}: no tables to write")
        finally:
            if writer is not None:
                writer.close()
    return Path(path)


def read_parquet_meta(path: str | os.PathLike) -> dict:
    """The ``astrom3`` metadata stored by :func:`write_parquet` (empty dict if none)."""
    md = pq.read_schema(path).metadata or {}
    raw = md.get(_META_KEY)
    return json.loads(raw) if raw else {}


class Workspace:
    """A directory of artifacts derived from one sky.

    Parameters
    ----------
    path : str or path-like
        The workspace directory; created if missing (unless ``create=False``).
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_dir():
            raise WorkspaceError(f"{self.path}: workspace not found; run `astrom3 run SKY --workspace {self.path}`")

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    # artifact paths -------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.path / schema.CHECKPOINT_FILE

    @property
    def embeddings_path(self) -> Path:
        return self.path / schema.EMBEDDINGS_FILE

    @property
    def results_path(self) -> Path:
        return self.path / schema.RESULTS_FILE

    @property
    def flags_path(self) -> Path:
        return self.path / schema.FLAGS_FILE

    def artifact(self, name: str) -> Path:
        """Path of a named artifact inside the workspace (``name`` must be a plain relative name)."""
        p = Path(name)
        if p.is_absolute() or ".." in p.parts:
            raise WorkspaceError(f"artifact name {name!r} must be a relative path inside the workspace")
        return self.path / p

    # manifest -------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def manifest(self) -> dict:
        """All recorded artifacts: ``{name: {"fingerprint", "inputs", "created"}}``."""
        if not self.manifest_path.exists():
            return {}
        try:
            return json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise WorkspaceError(f"{self.manifest_path}: corrupt ({exc}); delete it to recompute everything") from None

    def record(self, name: str, inputs: dict) -> str:
        """Record that artifact ``name`` was made from ``inputs``; returns its fingerprint."""
        fp = fingerprint_of(inputs)
        manifest = self.manifest()
        manifest[name] = {"fingerprint": fp, "inputs": inputs,
                          "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        with atomic_path(self.manifest_path) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        return fp

    def fingerprint(self, name: str) -> str | None:
        """The recorded fingerprint of an artifact, or None."""
        return self.manifest().get(name, {}).get("fingerprint")

    def is_fresh(self, name: str, inputs: dict) -> bool:
        """True if artifact ``name`` exists and was made from exactly ``inputs``."""
        return self.artifact(name).exists() and self.fingerprint(name) == fingerprint_of(inputs)
