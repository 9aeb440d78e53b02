"""Labeling sessions that never lose a flag: a durable, append-only store of expert decisions.

A :class:`FlagStore` keeps every decision an astronomer makes about an object (``mislabel``,
``anomaly``, ``crossmatch``, ``subclass``, ``fine``, ``interesting``) in a SQLite file
(``WORKSPACE/flags.sqlite``, WAL journal, foreign keys, ``PRAGMA user_version`` schema version with
migrations). History is append-only: changing one's mind adds a row, undo adds an ``undo`` row, and
the *current* state is the latest standing decision per (object, user).

Every :meth:`FlagStore.add` is committed (``synchronous=FULL``) before it returns. Several processes
may write at once: each write is one ``BEGIN IMMEDIATE`` transaction with a busy timeout, retried
with exponential backoff and jitter while the database is locked.

Exports (CSV, ECSV, VOTable, JSON) are written atomically and read back losslessly by
:meth:`FlagStore.import_`. :func:`merge_stores` combines several people's stores or exports and
reports their agreement per kind (Cohen's kappa for two raters, Fleiss' kappa for more).

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> store = FlagStore(os.path.join(d, "flags.sqlite"), valid_ids=["a", "b"], labels=["EW", "RRAB"])
>>> s = store.start_session("ada")
>>> store.add(s, "a", "mislabel", proposed_label="RRAB")["kind"]
'mislabel'
>>> list(store.current()["id"])
['a']
>>> store.close()
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import AstroM3Error

__all__ = ["FlagStore", "FlagStoreError", "merge_stores", "MergeReport", "cohen_kappa", "fleiss_kappa",
           "EXPORT_FORMATS", "SCHEMA_VERSION", "MAX_NOTE_LENGTH", "read_flags_file"]

#: Latest schema version this code writes and reads (``PRAGMA user_version``).
SCHEMA_VERSION = 1
MAX_NOTE_LENGTH = 2000
MAX_TAG_LENGTH = 200
#: Export formats and the file suffixes they are inferred from.
EXPORT_FORMATS = {"csv": (".csv",), "ecsv": (".ecsv",), "votable": (".xml", ".vot", ".votable"),
                  "json": (".json",)}
#: Columns of :meth:`FlagStore.current` (and of every export, after the sky columns).
CURRENT_COLUMNS = ["id", "kind", "proposed_label", "subclass", "note", "user", "session", "created",
                   "sky_fingerprint", "model_fingerprint"]
_SKY_COLUMNS = ["name", "ra", "dec", "label"]
_TEXT_OPTIONAL = ["proposed_label", "subclass", "note", "sky_fingerprint", "model_fingerprint"]
# CSV cells starting with these are formulas in spreadsheets; they are exported with a leading "'".
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")

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


class FlagStoreError(AstroM3Error):
    """A flag store cannot be opened or written, or a flag is invalid."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def _path_of(path_or_url) -> Path:
    text = str(path_or_url)
    if text.startswith(("postgresql://", "postgres://", "postgresql+")):
        raise FlagStoreError(f"{text.split('@')[-1]}: PostgreSQL flag stores are not implemented yet; "
                             "use a SQLite file path or sqlite:///path")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    elif "://" in text:
        raise FlagStoreError(f"{text}: unsupported flag store URL; use a file path or sqlite:///path")
    return Path(text)


def _clean_text(value, what: str, limit: int) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    value = str(value)
    if value == "":
        return None
    if len(value) > limit:
        raise FlagStoreError(f"{what} is {len(value)} characters long; at most {limit} are allowed")
    return value


class FlagStore:
    """An append-only store of flags (expert decisions about objects).

    Parameters
    ----------
    path_or_url : str or path-like
        A SQLite file (created if missing) or ``sqlite:///path``. ``postgresql://`` URLs are reserved
        for a future backend and raise :class:`FlagStoreError`.
    valid_ids : iterable of str, optional
        Object ids that may be flagged; others are refused. Taken from ``sky`` when not given.
    labels : iterable of str, optional
        Allowed proposed labels. Taken from ``sky.classes`` when not given.
    sky : core.sky.Sky, optional
        The sky being flagged: gives ``valid_ids``, ``labels``, its fingerprint (default for new
        sessions) and the name/ra/dec/label columns of exports.
    readonly : bool, optional
        Open without writing (also chosen automatically for a file the process cannot write).
    timeout : float
        Seconds a write waits for other writers before giving up (default 30).

    Notes
    -----
    The SQL lives in a few private methods (``_connect``, ``_write``, ``_read``); a PostgreSQL
    backend replaces those without changing callers.
    """

    KINDS = ("mislabel", "anomaly", "crossmatch", "subclass", "fine", "interesting")

    def __init__(self, path_or_url, *, valid_ids=None, labels=None, sky=None, readonly: bool = False,
                 timeout: float = 30.0):
        self.path = _path_of(path_or_url)
        self.sky = sky
        if valid_ids is None and sky is not None:
            valid_ids = sky.ids
        if labels is None and sky is not None:
            labels = sky.classes
        self.valid_ids = None if valid_ids is None else {str(i) for i in valid_ids}
        self.labels = None if labels is None else sorted({str(x) for x in labels})
        self.timeout = float(timeout)
        exists = self.path.exists()
        if exists and self.path.is_dir():
            raise FlagStoreError(f"{self.path}: is a directory, not a flag store file")
        self.readonly = bool(readonly) or (exists and not os.access(self.path, os.W_OK))
        if not exists:
            if self.readonly:
                raise FlagStoreError(f"{self.path}: flag store not found")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # one connection, shared by a server's threads: one statement at a time
        self._conn = self._connect()

    # --- connection and schema ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                       timeout=self.timeout, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.timeout,
                                       check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
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
                c.execute(f"PRAGMA user_version = {target}")
            self._retry(lambda: self._transaction(conn, step))
            version = target

    @staticmethod
    def _transaction(conn: sqlite3.Connection, fn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _retry(self, fn):
        """Run ``fn`` and retry with backoff while the database is locked or busy."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                msg = str(exc).lower()
                if "readonly" in msg or "read-only" in msg:
                    raise FlagStoreError(f"{self.path}: flag store is read-only ({exc}); nothing was written"
                                         ) from None
                if ("locked" not in msg and "busy" not in msg) or time.monotonic() > deadline:
                    raise FlagStoreError(f"{self.path}: write failed ({exc}); nothing was written") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    def _write(self, fn):
        if self.readonly:
            raise FlagStoreError(f"{self.path}: flag store is open read-only; nothing was written")
        if self._conn is None:
            raise FlagStoreError(f"{self.path}: flag store is closed")
        with self._lock:
            return self._retry(lambda: self._transaction(self._conn, fn))

    def _read(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        if self._conn is None:
            raise FlagStoreError(f"{self.path}: flag store is closed")
        def run():
            cur = self._conn.execute(sql, params)
            return cur.fetchall(), [d[0] for d in cur.description]
        with self._lock:
            rows, cols = self._retry(run)
        return pd.DataFrame([tuple(r) for r in rows], columns=cols)

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"FlagStore({str(self.path)!r})"

    # --- validation -------------------------------------------------------------------------
    def _check_kind(self, kind) -> str:
        if kind not in self.KINDS:
            raise FlagStoreError(f"flag kind {kind!r} is not allowed; use one of {', '.join(self.KINDS)}")
        return kind

    def _check_id(self, object_id) -> str:
        oid = _clean_text(object_id, "object id", MAX_TAG_LENGTH)
        if oid is None:
            raise FlagStoreError("object id is empty")
        if self.valid_ids is not None and oid not in self.valid_ids:
            raise FlagStoreError(f"object id {oid!r} is not in this sky ({len(self.valid_ids)} objects); "
                                 "flag an object of the sky")
        return oid

    def _check_label(self, label) -> str | None:
        label = _clean_text(label, "proposed label", MAX_TAG_LENGTH)
        if label is not None and self.labels is not None and label not in self.labels:
            raise FlagStoreError(f"proposed label {label!r} is not in the label set; use one of "
                                 f"{', '.join(self.labels)}")
        return label

    def check(self, object_id, kind, proposed_label=None) -> None:
        """Raise :class:`FlagStoreError` if :meth:`add` would refuse this id, kind or label (writes nothing)."""
        self._check_kind(kind)
        self._check_id(object_id)
        self._check_label(proposed_label)

    # --- writing ----------------------------------------------------------------------------
    def start_session(self, user: str, *, sky_fingerprint: str | None = None,
                      model_fingerprint: str | None = None) -> int:
        """Start a labelling session for ``user``; returns its id.

        Parameters
        ----------
        user : str
            Who is flagging (non-empty, at most 200 characters).
        sky_fingerprint, model_fingerprint : str, optional
            What was looked at; the sky's fingerprint is taken from ``sky`` when not given.
        """
        user = _clean_text(user, "user name", MAX_TAG_LENGTH)
        if user is None:
            raise FlagStoreError("user name is empty; say who is flagging")
        if sky_fingerprint is None and self.sky is not None:
            sky_fingerprint = self.sky.fingerprint
        sky_fp = _clean_text(sky_fingerprint, "sky fingerprint", MAX_TAG_LENGTH)
        model_fp = _clean_text(model_fingerprint, "model fingerprint", MAX_TAG_LENGTH)
        created = _now()
        return self._write(lambda c: c.execute(
            "INSERT INTO sessions (user, created, sky_fingerprint, model_fingerprint) VALUES (?, ?, ?, ?)",
            (user, created, sky_fp, model_fp)).lastrowid)

    def _session_row(self, session: int) -> sqlite3.Row:
        with self._lock:
            row = self._conn.execute("SELECT * FROM sessions WHERE id = ?", (int(session),)).fetchone()
        if row is None:
            raise FlagStoreError(f"session {session!r} does not exist in {self.path}; call start_session first")
        return row

    def add(self, session: int, object_id: str, kind: str, *, proposed_label: str | None = None,
            subclass: str | None = None, note: str | None = None) -> dict:
        """Record a decision; it is committed to disk before this returns.

        Parameters
        ----------
        session : int
            From :meth:`start_session`.
        object_id : str
            The object (checked against ``valid_ids``).
        kind : str
            One of :attr:`KINDS`.
        proposed_label : str, optional
            The label the astronomer proposes (checked against ``labels``).
        subclass : str, optional
            A subclass tag (at most 200 characters).
        note : str, optional
            Free text (at most 2000 characters), stored verbatim — escape it before showing it as HTML.

        Returns
        -------
        dict
            The stored decision (the columns of :meth:`current`, plus ``decision``: its row id).
        """
        kind = self._check_kind(kind)
        oid = self._check_id(object_id)
        label = self._check_label(proposed_label)
        subclass = _clean_text(subclass, "subclass tag", MAX_TAG_LENGTH)
        note = _clean_text(note, "note", MAX_NOTE_LENGTH)
        srow = self._session_row(session)
        created = _now()
        rowid = self._write(lambda c: c.execute(
            "INSERT INTO decisions (session, object_id, kind, proposed_label, subclass, note, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (int(session), oid, kind, label, subclass, note, created)).lastrowid)
        return {"decision": rowid, "id": oid, "kind": kind, "proposed_label": label, "subclass": subclass,
                "note": note, "user": srow["user"], "session": int(session), "created": created,
                "sky_fingerprint": srow["sky_fingerprint"], "model_fingerprint": srow["model_fingerprint"]}

    def undo(self, session: int, object_id: str) -> dict | None:
        """Undo the latest standing decision of the session's user on ``object_id``.

        An ``undo`` row is appended (history is never rewritten); undoing again goes one decision
        further back. Returns the decision undone, or None if there was nothing to undo.
        """
        oid = str(object_id)
        srow = self._session_row(session)
        user = srow["user"]

        def step(c):
            rows = c.execute(
                "SELECT d.id, d.kind, d.undoes FROM decisions d JOIN sessions s ON s.id = d.session "
                "WHERE d.object_id = ? AND s.user = ? ORDER BY d.id", (oid, user)).fetchall()
            standing = _standing([(r["id"], r["kind"], r["undoes"]) for r in rows])
            if not standing:
                return None
            target = standing[-1]
            c.execute("INSERT INTO decisions (session, object_id, kind, created, undoes) VALUES (?, ?, 'undo', ?, ?)",
                      (int(session), oid, _now(), target))
            return target

        target = self._write(step)
        if target is None:
            return None
        h = self.history(oid)
        row = h[h["decision"] == target].iloc[0].to_dict()
        return {k: (None if _isnull(v) else v) for k, v in row.items()}

    # --- reading ----------------------------------------------------------------------------
    def history(self, object_id: str | None = None) -> pd.DataFrame:
        """Every decision (including ``undo`` rows, with ``undoes``), oldest first."""
        sql = ("SELECT d.id AS decision, d.object_id AS id, d.kind, d.proposed_label, d.subclass, d.note, "
               "s.user, d.session, d.created, s.sky_fingerprint, s.model_fingerprint, d.undoes "
               "FROM decisions d JOIN sessions s ON s.id = d.session")
        params: tuple = ()
        if object_id is not None:
            sql += " WHERE d.object_id = ?"
            params = (str(object_id),)
        return self._read(sql + " ORDER BY d.id", params)

    def current(self, *, user: str | None = None, kind: str | None = None, session: int | None = None,
                since=None) -> pd.DataFrame:
        """The latest standing decision per (object id, user), optionally filtered.

        Parameters
        ----------
        user, kind, session : optional
            Keep only decisions by this user, of this kind, made in this session.
        since : str or datetime, optional
            Keep only decisions made at or after this time (ISO 8601; UTC when no zone is given).

        Returns
        -------
        pandas.DataFrame
            Columns ``id, kind, proposed_label, subclass, note, user, session, created,
            sky_fingerprint, model_fingerprint``, ordered by when the decision was made.
        """
        h = self.history()
        return _current_from_history(h, user=user, kind=kind, session=session, since=since)

    # --- export / import --------------------------------------------------------------------
    def export(self, path, *, format: str | None = None, sky=None, **filters) -> Path:
        """Write the current flags to ``path`` atomically (CSV, ECSV, VOTable or JSON).

        Parameters
        ----------
        path : path-like
            Output file; the format is inferred from its suffix unless ``format`` is given.
        format : {'csv', 'ecsv', 'votable', 'json'}, optional
        sky : core.sky.Sky, optional
            Adds ``name``, ``ra``, ``dec`` (when the sky has them) and the catalogue ``label``.
        **filters
            ``user``, ``kind``, ``session``, ``since`` as in :meth:`current`.
        """
        fmt = _infer_format(path, format)
        df = self.current(**filters)
        df = _with_sky_columns(df, sky if sky is not None else self.sky)
        meta = {"astrom3_flags_schema": SCHEMA_VERSION, "exported": _now(), "store": self.path.name,
                "filters": {k: str(v) for k, v in filters.items() if v is not None}}
        return write_flags_file(df, path, fmt, meta)

    def import_(self, path, *, format: str | None = None) -> int:
        """Read an export (or another store) back in; returns the number of decisions added.

        Decisions already present (same object, user, kind, time, label, subclass and note) are
        skipped, so importing the same file twice adds nothing.
        """
        df = read_flags_file(path, format=format)
        return self.add_frame(df, source=str(path))

    def add_frame(self, df: pd.DataFrame, *, source: str = "frame") -> int:
        """Append decisions given as a frame with the columns of :meth:`current` (all in one transaction)."""
        missing = [c for c in ("id", "kind", "user", "created") if c not in df.columns]
        if missing:
            raise FlagStoreError(f"{source}: missing column(s) {', '.join(missing)}; expected the columns of "
                                 f"a flags export ({', '.join(CURRENT_COLUMNS)})")
        rows = []
        for i, r in enumerate(df.to_dict("records")):
            try:
                rows.append(dict(
                    id=self._check_id(r["id"]), kind=self._check_kind(r["kind"]),
                    proposed_label=self._check_label(r.get("proposed_label")),
                    subclass=_clean_text(r.get("subclass"), "subclass tag", MAX_TAG_LENGTH),
                    note=_clean_text(r.get("note"), "note", MAX_NOTE_LENGTH),
                    user=_clean_text(r["user"], "user name", MAX_TAG_LENGTH) or "unknown",
                    created=str(r["created"]), session=r.get("session"),
                    sky_fingerprint=_clean_text(r.get("sky_fingerprint"), "sky fingerprint", MAX_TAG_LENGTH),
                    model_fingerprint=_clean_text(r.get("model_fingerprint"), "model fingerprint",
                                                  MAX_TAG_LENGTH)))
            except AstroM3Error as exc:
                raise FlagStoreError(f"{source}: row {i}: {exc}; nothing was imported") from None

        def step(c):
            sessions: dict = {}
            added = 0
            for r in rows:
                dup = c.execute(
                    "SELECT 1 FROM decisions d JOIN sessions s ON s.id = d.session WHERE d.object_id = ? "
                    "AND d.kind = ? AND d.created = ? AND s.user = ? AND d.proposed_label IS ? "
                    "AND d.subclass IS ? AND d.note IS ? LIMIT 1",
                    (r["id"], r["kind"], r["created"], r["user"], r["proposed_label"], r["subclass"],
                     r["note"])).fetchone()
                if dup:
                    continue
                key = (r["user"], str(r["session"]), r["sky_fingerprint"], r["model_fingerprint"])
                if key not in sessions:
                    sessions[key] = c.execute(
                        "INSERT INTO sessions (user, created, sky_fingerprint, model_fingerprint) "
                        "VALUES (?, ?, ?, ?)", (r["user"], _now(), r["sky_fingerprint"],
                                                r["model_fingerprint"])).lastrowid
                c.execute("INSERT INTO decisions (session, object_id, kind, proposed_label, subclass, note, "
                          "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (sessions[key], r["id"], r["kind"], r["proposed_label"], r["subclass"], r["note"],
                           r["created"]))
                added += 1
            return added

        return self._write(step)


# --- pure helpers ---------------------------------------------------------------------------------
def _isnull(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA


def _standing(rows: Iterable[tuple]) -> list:
    """Decision ids still standing after undo rows, given ``(id, kind, undoes)`` in id order."""
    undone = {u for _, k, u in rows if k == "undo" and u is not None}
    return [i for i, k, _ in rows if k != "undo" and i not in undone]


def _current_from_history(h: pd.DataFrame, *, user=None, kind=None, session=None, since=None) -> pd.DataFrame:
    if len(h) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CURRENT_COLUMNS})
    undone = set(h.loc[h["kind"] == "undo", "undoes"].dropna().astype(int))
    standing = h[(h["kind"] != "undo") & ~h["decision"].isin(undone)]
    latest = standing.sort_values("decision").groupby(["id", "user"], sort=False).tail(1)
    latest = latest.sort_values("decision")
    if user is not None:
        latest = latest[latest["user"] == user]
    if kind is not None:
        latest = latest[latest["kind"] == kind]
    if session is not None:
        latest = latest[latest["session"] == int(session)]
    if since is not None:
        t0 = pd.Timestamp(since)
        t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
        latest = latest[pd.to_datetime(latest["created"], utc=True, format="ISO8601") >= t0]
    out = latest[CURRENT_COLUMNS].reset_index(drop=True).astype(object)
    out["session"] = out["session"].astype(int)
    return out.where(out.notna(), None)


def _infer_format(path, fmt: str | None) -> str:
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in EXPORT_FORMATS:
            raise FlagStoreError(f"format {fmt!r} is not supported; use one of {', '.join(EXPORT_FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    for name, suffixes in EXPORT_FORMATS.items():
        if suffix in suffixes:
            return name
    raise FlagStoreError(f"{path}: cannot tell the format from suffix {suffix!r}; use .csv, .ecsv, .xml (VOTable) "
                         "or .json, or give the format")


def _with_sky_columns(df: pd.DataFrame, sky) -> pd.DataFrame:
    df = df.copy()
    if sky is None:
        return df
    objects = sky.objects.set_index(sky.objects["id"].astype(str))
    front = []
    for col in _SKY_COLUMNS:
        if col in objects.columns:
            df[col] = objects[col].reindex(df["id"].astype(str)).to_numpy()
            front.append(col)
    rest = [c for c in df.columns if c not in front and c != "id"]
    return df[["id", *front, *rest]]


def _csv_escape(v):
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def _csv_unescape(v):
    if isinstance(v, str) and v.startswith("'") and len(v) > 1 and v[1] in _FORMULA_START:
        return v[1:]
    return v


_ESCAPED_CSV = ["note", "subclass", "user", "proposed_label", "name", "label"]


def write_flags_file(df: pd.DataFrame, path, fmt: str, meta: dict | None = None) -> Path:
    """Write a flags frame atomically in ``fmt`` (csv, ecsv, votable, json)."""
    from core.workspace import atomic_path

    path = Path(path)
    meta = meta or {}
    with atomic_path(path) as tmp:
        if fmt == "csv":
            out = df.copy()
            for c in _ESCAPED_CSV:
                if c in out.columns:
                    out[c] = out[c].map(_csv_escape)
            out.to_csv(tmp, index=False)
        elif fmt == "json":
            records = [{k: (None if _isnull(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
                       for r in df.to_dict("records")]
            tmp.write_text(json.dumps({"format": "astrom3-flags", **meta, "columns": list(df.columns),
                                       "flags": records}, indent=1,
                                      ensure_ascii=True))
        else:
            table = _to_astropy(df, meta)
            if fmt == "ecsv":
                table.write(tmp, format="ascii.ecsv")
            else:
                table.write(tmp, format="votable")
    return path


def _to_astropy(df: pd.DataFrame, meta: dict):
    from astropy.table import MaskedColumn, Table

    t = Table(meta={k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in meta.items()})
    for c in df.columns:
        values = df[c].tolist()
        mask = [_isnull(v) for v in values]
        if c in ("ra", "dec"):
            arr = np.array([np.nan if m else float(v) for v, m in zip(values, mask)])
            t[c] = MaskedColumn(arr, mask=mask, unit="deg")
        elif c == "session":
            t[c] = np.array([int(v) for v in values], dtype=np.int64)
        else:
            # "" never stands for a value (empty text is stored as null), so masked = empty is lossless
            arr = np.array(["" if m else str(v) for v, m in zip(values, mask)], dtype=str)
            if arr.dtype.itemsize == 0 or len(arr) == 0:
                arr = np.array([], dtype="U1") if len(arr) == 0 else arr
            t[c] = MaskedColumn(arr, mask=mask)
    return t


def read_flags_file(path, *, format: str | None = None) -> pd.DataFrame:
    """Read a flags export (csv, ecsv, votable, json) or another store into a frame like :meth:`FlagStore.current`."""
    path = Path(path)
    if not path.is_file():
        raise FlagStoreError(f"{path}: file not found")
    if format is None and path.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        with FlagStore(path, readonly=True) as other:
            return other.current()
    fmt = _infer_format(path, format)
    try:
        if fmt == "csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            for c in _ESCAPED_CSV:
                if c in df.columns:
                    df[c] = df[c].map(_csv_unescape)
        elif fmt == "json":
            doc = json.loads(path.read_text())
            if not isinstance(doc, dict) or "flags" not in doc:
                raise ValueError("no 'flags' list")
            df = pd.DataFrame(doc["flags"], columns=doc.get("columns"))
        else:
            from astropy.table import Table
            t = Table.read(path, format="ascii.ecsv" if fmt == "ecsv" else "votable")
            data = {}
            for c in t.colnames:
                col = t[c]
                mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)))
                vals = [None if (m or (isinstance(v, str) and v == "")) else v for v, m in
                        zip(np.asarray(col).tolist(), np.broadcast_to(mask, (len(col),)))]
                data[c] = [v.decode() if isinstance(v, bytes) else v for v in vals]
            df = pd.DataFrame(data)
    except FlagStoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise FlagStoreError(f"{path}: cannot read as a {fmt} flags export ({exc})") from None
    df = df.astype(object).where(df.notna(), None)
    if "ra" in df.columns:
        df["ra"] = pd.to_numeric(df["ra"])
    if "dec" in df.columns:
        df["dec"] = pd.to_numeric(df["dec"])
    if "session" in df.columns:
        df["session"] = [None if _isnull(v) else int(v) for v in df["session"]]
    return df


# --- agreement ------------------------------------------------------------------------------------
def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa between two raters' labels of the same items.

    Examples
    --------
    >>> round(cohen_kappa(["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15,
    ...                   ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15), 3)
    0.4
    """
    from sklearn.metrics import cohen_kappa_score

    a, b = list(a), list(b)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("cohen_kappa needs two equally long, non-empty sequences")
    if len(set(a) | set(b)) == 1:
        return 1.0  # both raters gave every item the same one category: chance agreement is 1, kappa 0/0
    return float(cohen_kappa_score(a, b))


def fleiss_kappa(counts) -> float:
    """Fleiss' kappa from an items x categories matrix of rater counts (same number of raters per item)."""
    m = np.asarray(counts, dtype=float)
    n = m.sum(axis=1)
    if m.ndim != 2 or len(m) == 0 or not np.allclose(n, n[0]) or n[0] < 2:
        raise ValueError("fleiss_kappa needs a non-empty items x categories matrix with >= 2 raters on every item")
    n = n[0]
    p_items = (np.sum(m * m, axis=1) - n) / (n * (n - 1))
    p_cat = m.sum(axis=0) / (len(m) * n)
    pbar, pe = p_items.mean(), float(np.sum(p_cat ** 2))
    if pe >= 1.0:
        return 1.0 if pbar >= 1.0 else float("nan")
    return float((pbar - pe) / (1 - pe))


@dataclass
class MergeReport:
    """What :func:`merge_stores` found.

    Attributes
    ----------
    raters : list of str
        The users compared.
    n_objects : int
        Objects flagged by at least one rater (the items agreement is computed on).
    agreement : dict
        Per kind (and ``"overall"``): ``{"statistic": "cohen"|"fleiss", "kappa": float, "n_items": int,
        "n_flagged": int}``; per kind the question is "did the rater flag this object as <kind>?".
    conflicts : pandas.DataFrame
        One row per object where raters disagree (kind or proposed label), with each rater's decision.
    merged : pandas.DataFrame
        Every rater's current decisions together.
    out : pathlib.Path or None
        Where the merged flags were written.
    """

    raters: list
    n_objects: int
    agreement: dict
    conflicts: pd.DataFrame
    merged: pd.DataFrame
    out: Path | None = None
    sources: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"raters": self.raters, "n_objects": self.n_objects, "agreement": self.agreement,
                "conflicts": self.conflicts.to_dict("records"), "out": str(self.out) if self.out else None,
                "sources": self.sources}

    def summary(self) -> str:
        """A short plain-text report."""
        lines = [f"{len(self.raters)} raters ({', '.join(self.raters)}), {self.n_objects} objects flagged"]
        for kind, a in self.agreement.items():
            k = a["kappa"]
            lines.append(f"  {kind:<12} {a['statistic']:<6} kappa={'n/a' if k is None or np.isnan(k) else f'{k:.3f}'}"
                         f"  ({a['n_flagged']} flagged of {a['n_items']})")
        lines.append(f"{len(self.conflicts)} conflicts")
        for r in self.conflicts.head(20).to_dict("records"):
            lines.append("  " + r["id"] + ": " + "; ".join(f"{u}={r[u]}" for u in self.raters if r.get(u)))
        if self.out:
            lines.append(f"merged flags written to {self.out}")
        return "\n".join(lines)


def _decision_text(row) -> str:
    if row is None:
        return ""
    return row["kind"] + (f"->{row['proposed_label']}" if row.get("proposed_label") else "")


def merge_stores(paths_or_files: Iterable, out=None) -> MergeReport:
    """Combine several flag stores or exports and measure how much their raters agree.

    Parameters
    ----------
    paths_or_files : iterable of path-like
        SQLite stores (``.sqlite``/``.db``) or exports (csv, ecsv, xml, json). Raters are users;
        one file may hold several.
    out : path-like, optional
        Write the merged decisions there: a ``.sqlite`` store (created or appended to) or an
        export file.

    Returns
    -------
    MergeReport
        Per kind: Cohen's kappa (2 raters) or Fleiss' kappa (3+) on "flagged as this kind or not"
        over the objects anyone flagged; ``overall`` on the kind itself ("none" when a rater did
        not flag the object). Conflicts list the objects where decisions differ.
    """
    paths = [Path(p) for p in paths_or_files]
    if not paths:
        raise FlagStoreError("merge needs at least one store or export")
    frames = [read_flags_file(p) for p in paths]
    merged = pd.concat([f.reindex(columns=list(dict.fromkeys([*CURRENT_COLUMNS, *f.columns])))
                        for f in frames], ignore_index=True)
    merged = merged.astype(object).where(merged.notna(), None)
    # one decision per (object, user): the latest by time if several sources hold the same user
    merged = merged.sort_values("created", kind="stable").groupby(["id", "user"], sort=False).tail(1)
    merged = merged.sort_values(["id", "user"]).reset_index(drop=True)
    raters = sorted(merged["user"].astype(str).unique())
    objects = sorted(merged["id"].astype(str).unique())
    table = {(r["id"], r["user"]): r for r in merged.to_dict("records")}
    grid = pd.DataFrame([[table.get((o, u), {}).get("kind") or "none" for u in raters] for o in objects],
                        index=objects, columns=raters)
    agreement: dict = {}
    stat = "cohen" if len(raters) == 2 else "fleiss"
    if len(raters) >= 2 and objects:
        for kind in (*FlagStore.KINDS, "overall"):
            if kind == "overall":
                g = grid
                flagged = len(objects)
            else:
                g = grid == kind
                flagged = int(g.any(axis=1).sum())
                if flagged == 0:
                    continue
            if stat == "cohen":
                kappa = cohen_kappa(g.iloc[:, 0].tolist(), g.iloc[:, 1].tolist())
            else:
                cats = sorted({str(v) for v in np.ravel(g.to_numpy())})
                counts = np.stack([(g.astype(str) == c).sum(axis=1).to_numpy() for c in cats], axis=1)
                kappa = fleiss_kappa(counts)
            agreement[kind] = {"statistic": stat, "kappa": None if np.isnan(kappa) else round(float(kappa), 6),
                               "n_items": len(objects), "n_flagged": flagged}
    conflict_rows = []
    for o in objects:
        texts = {u: _decision_text(table.get((o, u))) for u in raters}
        given = {t for t in texts.values() if t}
        if len(given) > 1:  # raters who did not flag the object are not counted as conflicting
            conflict_rows.append({"id": o, **texts})
    conflicts = pd.DataFrame(conflict_rows, columns=["id", *raters])
    out_path = None
    if out is not None:
        out_path = Path(out)
        if out_path.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
            with FlagStore(out_path) as store:
                store.add_frame(merged[[c for c in CURRENT_COLUMNS if c in merged.columns]], source="merge")
        else:
            write_flags_file(merged, out_path, _infer_format(out_path, None),
                             {"merged_from": json.dumps([p.name for p in paths]), "exported": _now()})
    return MergeReport(raters=raters, n_objects=len(objects), agreement=agreement, conflicts=conflicts,
                       merged=merged, out=out_path, sources=[str(p) for p in paths])
