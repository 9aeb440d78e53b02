"""Where a flag store keeps its rows: one small :class:`Backend` protocol, a SQLite and a PostgreSQL backend.

A new database is one new module here implementing :class:`Backend` (most of it can subclass
:class:`core.flags.backends.base.SQLBackend`, which writes every operation's SQL once) and one
branch in :func:`open_backend`. :class:`core.flags.FlagStore` only talks to this protocol.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.flags.common import FlagStoreError

__all__ = ["Backend", "open_backend", "is_postgres_url", "redact"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@runtime_checkable
class Backend(Protocol):
    """The storage operations a :class:`~core.flags.FlagStore` needs; every write is one committed transaction.

    Attributes
    ----------
    path : pathlib.Path or str
        Where the store is, for messages: a file, or a URL without its password.
    readonly : bool
        Whether writes are refused.
    """

    path: Path | str
    readonly: bool

    def schema_version(self) -> int:
        """The schema version of the stored data."""

    def insert_session(self, user: str, created: str, sky_fingerprint: str | None,
                       model_fingerprint: str | None) -> int:
        """Append a session; returns its id."""

    def session(self, session_id: int) -> dict | None:
        """The session's row (``id, user, created, sky_fingerprint, model_fingerprint``), or None."""

    def insert_decision(self, session: int, object_id: str, kind: str, proposed_label: str | None,
                        subclass: str | None, note: str | None, created: str) -> int:
        """Append a decision; returns its id."""

    def undo_latest(self, session: int, object_id: str, user: str) -> int | None:
        """Append an ``undo`` row for ``user``'s latest standing decision on the object (atomically).

        Returns the id of the decision undone, or None when nothing stands.
        """

    def history(self, object_id: str | None = None) -> list[tuple]:
        """Every decision joined with its session, oldest first, in :data:`~core.flags.common.HISTORY_COLUMNS`."""

    def add_decisions(self, rows: list[dict]) -> int:
        """Append checked decisions (each with its user and fingerprints) in one transaction, skipping
        those already present; returns how many were added."""

    def dump(self) -> dict:
        """A consistent snapshot: ``{"sessions": [...], "decisions": [...]}`` as lists of dicts, ids kept."""

    def load(self, dump: dict) -> None:
        """Write a :meth:`dump` into this empty store, ids kept, in one transaction."""

    def backup_to(self, path) -> Path:
        """Write a consistent copy of the store to a new SQLite file at ``path`` (atomically)."""

    def close(self) -> None:
        """Release the connection (idempotent); later calls raise :class:`FlagStoreError`."""


def is_postgres_url(location) -> bool:
    """Whether ``location`` names a PostgreSQL flag store (``postgresql://`` or ``postgres://``)."""
    return str(location).lower().startswith(_POSTGRES_SCHEMES)


def redact(location) -> str:
    """``location`` as text without a URL's password (for messages and ``repr``)."""
    text = re.sub(r"(://[^:/@?#]*):[^@/?#]*@", r"\1@", str(location))
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", text)


def open_backend(location, *, readonly: bool = False, timeout: float = 30.0) -> Backend:
    """Open the backend ``location`` names: a file path, ``sqlite:///path`` or ``postgresql://user@host/db``.

    Raises
    ------
    FlagStoreError
        For an unsupported URL, or a store that cannot be opened.
    """
    text = str(location)
    if is_postgres_url(text):
        from core.flags.backends.postgres import PostgresBackend
        return PostgresBackend(text, readonly=readonly, timeout=timeout)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    elif "://" in text:
        raise FlagStoreError(f"{text.split('://')[0]}://...: unsupported flag store URL; use a file path, "
                             "sqlite:///path or postgresql://user@host/database")
    from core.flags.backends.sqlite import SQLiteBackend
    return SQLiteBackend(Path(text), readonly=readonly, timeout=timeout)
