"""The SQLite backend: one file (``WORKSPACE/flags.sqlite``), WAL journal, ``synchronous=FULL``.

Every write is one ``BEGIN IMMEDIATE`` transaction (it excludes other writers of the file, in this
or other processes), waiting up to the busy timeout and retried with backoff while the file is
locked. Lock and read-only errors are told apart by SQLite's result code, not by message text.
The schema version is ``PRAGMA user_version``.
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from core.flags.backends.base import SQLBackend
from core.flags.common import SCHEMA_VERSION, FlagStoreError

__all__ = ["SQLiteBackend"]

# schema migrations: version reached -> statements that reach it from the previous version
_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE sessions (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               user TEXT NOT NULL,
               created TEXT NOT NULL,
               sky_fingerprint TEXT,
               model_fingerprint TEXT)""",
        """CREATE TABLE decisions (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               session INTEGER NOT NULL REFERENCES sessions(id),
               object_id TEXT NOT NULL,
               kind TEXT NOT NULL,
               proposed_label TEXT,
               subclass TEXT,
               note TEXT,
               created TEXT NOT NULL,
               undoes INTEGER REFERENCES decisions(id))""",
        "CREATE INDEX decisions_object ON decisions(object_id)",
        "CREATE INDEX decisions_session ON decisions(session)",
    ],
}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class SQLiteBackend(SQLBackend):
    """A flag store in a SQLite file (created if missing, unless ``readonly``).

    Parameters
    ----------
    path : pathlib.Path
        The file. A file this process cannot write is opened read-only.
    readonly : bool
        Open without writing.
    timeout : float
        Seconds a write waits for other writers before giving up.
    """

    DB_ERROR = sqlite3.Error

    def __init__(self, path: Path, *, readonly: bool = False, timeout: float = 30.0):
        path = Path(path)
        exists = path.exists()
        if exists and path.is_dir():
            raise FlagStoreError(f"{path}: is a directory, not a flag store file")
        readonly = bool(readonly) or (exists and not os.access(path, os.W_OK))
        if not exists:
            if readonly:
                raise FlagStoreError(f"{path}: flag store not found")
            path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, readonly=readonly, timeout=timeout)
        self._conn = self._connect()

    # --- dialect hooks ----------------------------------------------------------------------
    def _insert(self, conn, sql: str, params) -> int:
        return self._execute(conn, sql, params).lastrowid

    def _error_kind(self, exc) -> str:
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF  # extended result codes keep the primary in the low byte
        if primary == sqlite3.SQLITE_READONLY:
            return "readonly"
        return "busy" if primary in _BUSY else "other"

    @contextmanager
    def _write_transaction(self, conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _read_transaction(self, conn):
        conn.execute("BEGIN")  # deferred: the first read takes a snapshot (WAL) that later reads share
        try:
            yield
        finally:
            conn.execute("COMMIT")

    # --- connection and schema --------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                       timeout=self.timeout, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.timeout,
                                       check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")  # a float we own, not input
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                conn.close()
                raise FlagStoreError(f"{self.path}: flag store schema version {version} is newer than this "
                                     f"astrom3 understands (up to {SCHEMA_VERSION}); upgrade astrom3 to open it "
                                     "(the file was left untouched)")
            if not self.readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                self._migrate(conn, version)
            elif version < SCHEMA_VERSION:
                raise FlagStoreError(f"{self.path}: read-only flag store has old schema version {version}; "
                                     "open it writable once to upgrade it")
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise FlagStoreError(f"{self.path}: flag store is damaged ({ok}); restore it from a backup "
                                     "or an export")
            return conn
        except sqlite3.DatabaseError as exc:
            raise FlagStoreError(f"{self.path}: cannot open flag store ({exc}); it is not a valid SQLite "
                                 "flag store or cannot be written — move it aside or restore it from a "
                                 "backup or export") from None

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        while version < SCHEMA_VERSION:
            target = version + 1

            def step(c, target=target):
                current = c.execute("PRAGMA user_version").fetchone()[0]
                if current >= target:  # another process migrated first
                    return
                for stmt in _MIGRATIONS[target]:
                    c.execute(stmt)
                c.execute(f"PRAGMA user_version = {int(target)}")  # PRAGMAs take no parameters; ours

            def attempt(step=step):
                with self._write_transaction(conn):
                    step(conn)
            self._retry(attempt)
            version = target

    def schema_version(self) -> int:
        with self._lock:
            return self._connection().execute("PRAGMA user_version").fetchone()[0]

    # --- copies -----------------------------------------------------------------------------
    def backup_to(self, path) -> Path:
        """Copy the store to a new SQLite file with SQLite's online backup (a consistent snapshot even
        while other processes write), written atomically."""
        from core.workspace import atomic_path

        path = Path(path)
        with self._lock, atomic_path(path) as tmp:
            dst = sqlite3.connect(tmp)
            try:
                self._connection().backup(dst)
            finally:
                dst.close()
        return path
