"""The :class:`FlagStore`: validated, append-only decisions with sessions and undo, over a backend.

The store checks every value (kinds, ids, labels, lengths) and keeps history append-only; where
the rows live is a :class:`~core.flags.backends.Backend` chosen from the location: a SQLite file
(or ``sqlite:///path``) or ``postgresql://user@host/db``. :func:`migrate` copies one store into
another without loss.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.errors import AstroM3Error
from core.flags.backends import Backend, open_backend
from core.flags.common import (CURRENT_COLUMNS, HISTORY_COLUMNS, KINDS, MAX_NOTE_LENGTH, MAX_TAG_LENGTH,
                               SCHEMA_VERSION, FlagStoreError, clean_text, isnull, now)
from core.flags.formats import infer_format, read_flags_file, with_sky_columns, write_flags_file

__all__ = ["FlagStore", "migrate"]


class FlagStore:
    """An append-only store of flags (expert decisions about objects).

    Parameters
    ----------
    path_or_url : str or path-like
        A SQLite file (created if missing), ``sqlite:///path``, or ``postgresql://user@host/db``
        (a PostgreSQL database several explorer servers can share; see
        :mod:`core.flags.backends.postgres`).
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

    Attributes
    ----------
    path : pathlib.Path or str
        The SQLite file, or the PostgreSQL URL without its password.
    """

    KINDS = KINDS

    def __init__(self, path_or_url, *, valid_ids=None, labels=None, sky=None, readonly: bool = False,
                 timeout: float = 30.0):
        self.sky = sky
        if valid_ids is None and sky is not None:
            valid_ids = sky.ids
        if labels is None and sky is not None:
            labels = sky.classes
        self.valid_ids = None if valid_ids is None else {str(i) for i in valid_ids}
        self.labels = None if labels is None else sorted({str(x) for x in labels})
        self.timeout = float(timeout)
        self._backend: Backend = open_backend(path_or_url, readonly=readonly, timeout=self.timeout)
        self.path = self._backend.path
        self.readonly = self._backend.readonly

    @property
    def schema_version(self) -> int:
        return self._backend.schema_version()

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite" if isinstance(self.path, Path) else "postgresql"

    def close(self) -> None:
        """Close the connection (idempotent); the store refuses every later call with :class:`FlagStoreError`."""
        self._backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"FlagStore({str(self.path)!r})"

    def backup_to(self, path) -> Path:
        """Write a consistent copy of the store to a new SQLite file at ``path`` (atomically), even while
        others write; returns ``path``."""
        return self._backend.backup_to(path)

    # --- validation -------------------------------------------------------------------------
    def _check_kind(self, kind) -> str:
        if kind not in self.KINDS:
            raise FlagStoreError(f"flag kind {kind!r} is not allowed; use one of {', '.join(self.KINDS)}")
        return kind

    def _check_id(self, object_id) -> str:
        oid = clean_text(object_id, "object id", MAX_TAG_LENGTH)
        if oid is None:
            raise FlagStoreError("object id is empty")
        if self.valid_ids is not None and oid not in self.valid_ids:
            raise FlagStoreError(f"object id {oid!r} is not in this sky ({len(self.valid_ids)} objects); "
                                 "flag an object of the sky")
        return oid

    def _check_label(self, label) -> str | None:
        label = clean_text(label, "proposed label", MAX_TAG_LENGTH)
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
        user = clean_text(user, "user name", MAX_TAG_LENGTH)
        if user is None:
            raise FlagStoreError("user name is empty; say who is flagging")
        if sky_fingerprint is None and self.sky is not None:
            sky_fingerprint = self.sky.fingerprint
        sky_fp = clean_text(sky_fingerprint, "sky fingerprint", MAX_TAG_LENGTH)
        model_fp = clean_text(model_fingerprint, "model fingerprint", MAX_TAG_LENGTH)
        return self._backend.insert_session(user, now(), sky_fp, model_fp)

    def _session_row(self, session: int) -> dict:
        row = self._backend.session(int(session))
        if row is None:
            raise FlagStoreError(f"session {session!r} does not exist in {self.path}; call start_session first")
        return row

    def add(self, session: int, object_id: str, kind: str, *, proposed_label: str | None = None,
            subclass: str | None = None, note: str | None = None) -> dict:
        """Record a decision; it is committed (to disk, or by the database server) before this returns.

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
        subclass = clean_text(subclass, "subclass tag", MAX_TAG_LENGTH)
        note = clean_text(note, "note", MAX_NOTE_LENGTH)
        srow = self._session_row(session)
        created = now()
        rowid = self._backend.insert_decision(int(session), oid, kind, label, subclass, note, created)
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
        target = self._backend.undo_latest(int(session), oid, srow["user"])
        if target is None:
            return None
        h = self.history(oid)
        row = h[h["decision"] == target].iloc[0].to_dict()
        return {k: (None if isnull(v) else v) for k, v in row.items()}

    # --- reading ----------------------------------------------------------------------------
    def history(self, object_id: str | None = None) -> pd.DataFrame:
        """Every decision (including ``undo`` rows, with ``undoes``), oldest first."""
        return pd.DataFrame(self._backend.history(object_id), columns=HISTORY_COLUMNS)

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
        return _current_from_history(self.history(), user=user, kind=kind, session=session, since=since)

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
        fmt = infer_format(path, format)
        df = self.current(**filters)
        df = with_sky_columns(df, sky if sky is not None else self.sky)
        store = self.path.name if isinstance(self.path, Path) else str(self.path)
        meta = {"astrom3_flags_schema": SCHEMA_VERSION, "exported": now(), "store": store,
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
                    subclass=clean_text(r.get("subclass"), "subclass tag", MAX_TAG_LENGTH),
                    note=clean_text(r.get("note"), "note", MAX_NOTE_LENGTH),
                    user=clean_text(r["user"], "user name", MAX_TAG_LENGTH) or "unknown",
                    created=str(r["created"]), session=r.get("session"),
                    sky_fingerprint=clean_text(r.get("sky_fingerprint"), "sky fingerprint", MAX_TAG_LENGTH),
                    model_fingerprint=clean_text(r.get("model_fingerprint"), "model fingerprint",
                                                 MAX_TAG_LENGTH)))
            except AstroM3Error as exc:
                raise FlagStoreError(f"{source}: row {i}: {exc}; nothing was imported") from None
        return self._backend.add_decisions(rows)


def migrate(source, target, *, timeout: float = 30.0) -> dict:
    """Copy every session and decision (ids, undo rows and times kept) from one store into an empty one.

    Parameters
    ----------
    source, target : str or path-like
        Store locations as :class:`FlagStore` takes them (e.g. a SQLite file and a PostgreSQL URL).
        ``source`` is only read; ``target`` is created if needed and must hold no decisions.

    Returns
    -------
    dict
        ``{"sessions": n, "decisions": m}`` copied. The target is read back and compared field by
        field with the source before this returns.

    Raises
    ------
    FlagStoreError
        When the source cannot be read, the target is not empty, or the copy differs (it is
        then left as written, for inspection).
    """
    with FlagStore(source, readonly=True, timeout=timeout) as src:
        dump = src._backend.dump()
    with FlagStore(target, timeout=timeout) as dst:
        dst._backend.load(dump)
        copied = dst._backend.dump()
        where = dst.path
    for table in ("sessions", "decisions"):
        if copied[table] != dump[table]:
            bad = next((i for i, (a, b) in enumerate(zip(dump[table], copied[table])) if a != b),
                       min(len(dump[table]), len(copied[table])))
            raise FlagStoreError(f"{where}: the copy differs from {source} in {table} (first at row {bad}); "
                                 "the source is untouched")
    return {"sessions": len(dump["sessions"]), "decisions": len(dump["decisions"])}


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
