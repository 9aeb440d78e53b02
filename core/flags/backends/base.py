"""Every flag-store operation's SQL, written once; a subclass supplies the connection and its dialect.

Statements use ``?`` placeholders and ``IS ?`` for null-safe equality; :meth:`SQLBackend._sql`
rewrites them for a database that spells these differently. Every value is a bound parameter and
every table name is fixed here: nothing a user types becomes SQL.
"""
from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager

from core.flags.common import FlagStoreError, now, standing

SESSION_COLUMNS = ["id", "user", "created", "sky_fingerprint", "model_fingerprint"]
DECISION_COLUMNS = ["id", "session", "object_id", "kind", "proposed_label", "subclass", "note", "created",
                    "undoes"]

_HISTORY = ('SELECT d.id AS decision, d.object_id AS id, d.kind, d.proposed_label, d.subclass, d.note, '
            's."user", d.session, d.created, s.sky_fingerprint, s.model_fingerprint, d.undoes '
            "FROM decisions d JOIN sessions s ON s.id = d.session")
_INSERT_SESSION = 'INSERT INTO sessions ("user", created, sky_fingerprint, model_fingerprint) VALUES (?, ?, ?, ?)'
_INSERT_DECISION = ("INSERT INTO decisions (session, object_id, kind, proposed_label, subclass, note, created, "
                    "undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_USER_DECISIONS = ('SELECT d.id, d.kind, d.undoes FROM decisions d JOIN sessions s ON s.id = d.session '
                   'WHERE d.object_id = ? AND s."user" = ? ORDER BY d.id')
_DUPLICATE = ('SELECT 1 FROM decisions d JOIN sessions s ON s.id = d.session WHERE d.object_id = ? '
              'AND d.kind = ? AND d.created = ? AND s."user" = ? AND d.proposed_label IS ? '
              "AND d.subclass IS ? AND d.note IS ? LIMIT 1")

_LOAD_SESSION = 'INSERT INTO sessions (id, "user", created, sky_fingerprint, model_fingerprint) VALUES (?, ?, ?, ?, ?)'
_LOAD_DECISION = ("INSERT INTO decisions (id, session, object_id, kind, proposed_label, subclass, note, created, "
                  "undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_DUMP_SESSIONS = 'SELECT id, "user", created, sky_fingerprint, model_fingerprint FROM sessions ORDER BY id'
_DUMP_DECISIONS = ("SELECT id, session, object_id, kind, proposed_label, subclass, note, created, undoes "
                   "FROM decisions ORDER BY id")


class SQLBackend:
    """A :class:`~core.flags.backends.Backend` over a DB-API connection (one, shared by threads under a lock).

    Subclasses implement :meth:`_connect`, :meth:`_write_transaction`, :meth:`_read_transaction`,
    :meth:`_insert`, :meth:`_error_kind` and :meth:`schema_version`.
    """

    #: the driver's base exception class (caught and turned into :class:`FlagStoreError`)
    DB_ERROR: type = Exception

    def __init__(self, path, *, readonly: bool, timeout: float):
        self.path = path
        self.readonly = bool(readonly)
        self.timeout = float(timeout)
        self._lock = threading.RLock()
        self._conn = None
        self._sql_cache: dict[str, str] = {}

    # --- dialect hooks ----------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        """``text`` in this database's placeholder syntax (SQLite's ``?`` here)."""
        return text

    def _insert(self, conn, sql: str, params) -> int:
        """Run an ``INSERT`` and return the new row's id."""
        raise NotImplementedError

    def _error_kind(self, exc) -> str:
        """``"busy"`` (retry), ``"readonly"``, ``"lost"`` (connection) or ``"other"`` for a driver error,
        told by its type or result code."""
        raise NotImplementedError

    @contextmanager
    def _write_transaction(self, conn):
        """One write transaction that excludes other writers; commits on success, rolls back otherwise."""
        raise NotImplementedError
        yield

    @contextmanager
    def _read_transaction(self, conn):
        """A transaction in which several reads see one snapshot."""
        raise NotImplementedError
        yield

    def _after_load(self, conn) -> None:
        """Bring id generators past the ids a :meth:`load` wrote (nothing to do for SQLite)."""

    # --- running statements -----------------------------------------------------------------
    def _q(self, text: str) -> str:
        sql = self._sql_cache.get(text)
        if sql is None:
            sql = self._sql_cache[text] = self._sql(text)
        return sql

    def _execute(self, conn, text: str, params=()):
        return conn.execute(self._q(text), params)

    def _connection(self):
        """The open connection; :class:`FlagStoreError` once closed."""
        if self._conn is None:
            raise FlagStoreError(f"{self.path}: flag store is closed")
        return self._conn

    def _retry(self, fn):
        """Run ``fn`` and retry with backoff and jitter while the database is locked or busy."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                return fn()
            except self.DB_ERROR as exc:
                kind = self._error_kind(exc)
                if kind == "readonly":
                    raise FlagStoreError(f"{self.path}: flag store is read-only ({exc}); nothing was written"
                                         ) from None
                if kind == "lost":
                    raise FlagStoreError(f"{self.path}: lost the connection to the database ({exc}); the last "
                                         "write may not have been stored (check the history)") from None
                if kind != "busy" or time.monotonic() > deadline:
                    raise FlagStoreError(f"{self.path}: write failed ({exc}); nothing was written") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def write(self, fn):
        """Run ``fn(conn)`` in one write transaction (retried while locked); returns its result."""
        if self.readonly:
            raise FlagStoreError(f"{self.path}: flag store is open read-only; nothing was written")
        with self._lock:
            def attempt():
                conn = self._connection()
                with self._write_transaction(conn):
                    return fn(conn)
            return self._retry(attempt)

    def read(self, text: str, params=()) -> tuple[list[tuple], list[str]]:
        """Rows (as tuples) and column names of one query."""
        with self._lock:
            def run():
                cur = self._execute(self._connection(), text, params)
                return [tuple(r) for r in cur.fetchall()], [d[0] for d in cur.description]
            return self._retry(run)

    # --- the protocol -----------------------------------------------------------------------
    def insert_session(self, user, created, sky_fingerprint, model_fingerprint) -> int:
        return self.write(lambda c: self._insert(c, _INSERT_SESSION, (user, created, sky_fingerprint,
                                                                        model_fingerprint)))

    def session(self, session_id: int) -> dict | None:
        rows, cols = self.read('SELECT id, "user", created, sky_fingerprint, model_fingerprint FROM sessions '
                               "WHERE id = ?", (int(session_id),))
        return dict(zip(cols, rows[0])) if rows else None

    def insert_decision(self, session, object_id, kind, proposed_label, subclass, note, created) -> int:
        params = (int(session), object_id, kind, proposed_label, subclass, note, created, None)
        return self.write(lambda c: self._insert(c, _INSERT_DECISION, params))

    def undo_latest(self, session: int, object_id: str, user: str) -> int | None:
        def step(c):
            rows = self._execute(c, _USER_DECISIONS, (object_id, user)).fetchall()
            ids = standing([tuple(r) for r in rows])
            if not ids:
                return None
            self._insert(c, _INSERT_DECISION, (int(session), object_id, "undo", None, None, None, now(), ids[-1]))
            return ids[-1]
        return self.write(step)

    def history(self, object_id: str | None = None) -> list[tuple]:
        if object_id is None:
            return self.read(_HISTORY + " ORDER BY d.id")[0]
        return self.read(_HISTORY + " WHERE d.object_id = ? ORDER BY d.id", (str(object_id),))[0]

    def add_decisions(self, rows: list[dict]) -> int:
        def step(c):
            sessions: dict = {}
            added = 0
            for r in rows:
                if self._execute(c, _DUPLICATE, (r["id"], r["kind"], r["created"], r["user"], r["proposed_label"],
                                                 r["subclass"], r["note"])).fetchone():
                    continue
                key = (r["user"], str(r["session"]), r["sky_fingerprint"], r["model_fingerprint"])
                if key not in sessions:
                    sessions[key] = self._insert(c, _INSERT_SESSION, (r["user"], now(), r["sky_fingerprint"],
                                                                      r["model_fingerprint"]))
                self._insert(c, _INSERT_DECISION, (sessions[key], r["id"], r["kind"], r["proposed_label"],
                                                   r["subclass"], r["note"], r["created"], None))
                added += 1
            return added
        return self.write(step)

    def dump(self) -> dict:
        with self._lock:
            def run():
                conn = self._connection()
                with self._read_transaction(conn):
                    return {"sessions": [dict(zip(SESSION_COLUMNS, r)) for r in
                                         self._execute(conn, _DUMP_SESSIONS).fetchall()],
                            "decisions": [dict(zip(DECISION_COLUMNS, r)) for r in
                                          self._execute(conn, _DUMP_DECISIONS).fetchall()]}
            return self._retry(run)

    def load(self, dump: dict) -> None:
        def step(c):
            n = [self._execute(c, sql).fetchone()[0] for sql in ("SELECT count(*) FROM sessions",
                                                                 "SELECT count(*) FROM decisions")]
            if any(n):
                raise FlagStoreError(f"{self.path}: not empty ({n[0]} sessions, {n[1]} decisions); a store is "
                                     "only copied into an empty one, so nothing was written")
            cur = c.cursor()
            cur.executemany(self._q(_LOAD_SESSION), [tuple(s[k] for k in SESSION_COLUMNS) for s in dump["sessions"]])
            cur.executemany(self._q(_LOAD_DECISION), [tuple(d[k] for k in DECISION_COLUMNS)
                                                      for d in dump["decisions"]])
            self._after_load(c)
        self.write(step)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
