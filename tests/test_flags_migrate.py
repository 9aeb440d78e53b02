"""Moving a flag store between backends without loss (``astrom3 flags migrate``), copies (``backup_to``),
and what only the PostgreSQL backend does: its schema, read-only roles, lost connections, bad URLs."""
from __future__ import annotations

import pandas as pd
import pytest

from core.cli import main
from core.errors import AstroM3Error
from core.flags import FlagStore, FlagStoreError, migrate
from flag_backends import locations, postgres  # noqa: F401 - fixtures

IDS = [f"o{i}" for i in range(8)]


def _rich_store(location) -> FlagStore:
    """A store with everything a store holds: two users, fingerprints, undo rows, notes, an import."""
    s = FlagStore(location, valid_ids=IDS, labels=["EW", "RRAB"])
    a = s.start_session("ada", sky_fingerprint="sky1", model_fingerprint="m1")
    b = s.start_session("bob")
    s.add(a, "o0", "mislabel", proposed_label="RRAB", note="period 0.55 d; 'quoted' \"twice\"\nünï 🌟")
    s.add(a, "o0", "fine")
    s.undo(a, "o0")
    s.add(b, "o0", "anomaly", subclass="Blazhko")
    s.add(b, "o1", "interesting", note="=1+1")
    s.undo(b, "o1")
    s.undo(b, "o1")  # nothing left: no row
    s.add_frame(pd.DataFrame([{"id": "o2", "kind": "crossmatch", "user": "cyd", "created": "2024-01-02T03:04:05+00:00",
                               "session": 7, "model_fingerprint": "m0"}]), source="test")
    return s


def _same(a: FlagStore, b: FlagStore) -> None:
    da, db = a._backend.dump(), b._backend.dump()
    assert len(da["sessions"]) == 3 and len(da["decisions"]) == 7
    assert da == db  # every row, every field, ids included
    pd.testing.assert_frame_equal(a.history(), b.history())
    pd.testing.assert_frame_equal(a.current(), b.current())


def test_migrate_round_trip_keeps_every_field(tmp_path, locations):
    src = _rich_store(tmp_path / "src.sqlite")
    target = locations.new("target")
    assert migrate(tmp_path / "src.sqlite", target) == {"sessions": 3, "decisions": 7}
    with FlagStore(target, valid_ids=IDS) as dst:
        _same(src, dst)
        # ids go on after the copied ones, and undo still finds the copied decisions
        s = dst.start_session("ada")
        assert s == 4 and dst.add(s, "o3", "fine")["decision"] == 8
        assert dst.undo(s, "o0")["kind"] == "mislabel"
    back = tmp_path / "back.sqlite"
    assert migrate(target, back) == {"sessions": 4, "decisions": 9}
    with FlagStore(back) as b, FlagStore(target) as t:
        assert b._backend.dump() == t._backend.dump()
    src.close()


def test_migrate_refuses_a_non_empty_target_and_writes_nothing(tmp_path, locations):
    _rich_store(tmp_path / "src.sqlite").close()
    target = locations.new("target")
    with FlagStore(target) as t:
        t.add(t.start_session("zoe"), "x", "fine")
    with pytest.raises(FlagStoreError, match=r"not empty \(1 sessions, 1 decisions\).*nothing was written"):
        migrate(tmp_path / "src.sqlite", target)
    with FlagStore(target) as t:
        assert len(t._backend.dump()["sessions"]) == 1 and list(t.history()["id"]) == ["x"]
    with pytest.raises(FlagStoreError, match="flag store not found"):
        migrate(tmp_path / "missing.sqlite", locations.new("other"))


def test_cli_migrate(tmp_path, locations, capsys):
    ws = tmp_path / "ws"
    _rich_store(ws / "flags.sqlite").close()
    target = locations.new("target")
    assert main(["flags", "migrate", str(ws), str(target)]) == 0
    out = capsys.readouterr().out
    assert "copied 3 sessions and 7 decisions" in out and "compared equal" in out
    with FlagStore(ws / "flags.sqlite") as a, FlagStore(target) as b:
        _same(a, b)
    assert main(["flags", "migrate", str(ws), str(target)]) == 2  # not empty any more
    assert "not empty" in capsys.readouterr().err
    assert main(["flags", "list", str(target), "--user", "bob"]) == 0
    assert "anomaly" in capsys.readouterr().out


def test_backup_to_is_a_sqlite_copy(tmp_path, locations):
    s = _rich_store(locations.new("src"))
    copy = s.backup_to(tmp_path / "copy" / "flags.sqlite")
    with FlagStore(copy) as c:
        _same(s, c)
    assert not list((tmp_path / "copy").glob(".*tmp*"))
    s.close()


def test_carry_flags_copies_the_newest_store(tmp_path):
    from core.demo import carry_flags

    old = tmp_path / "ws-old"
    _rich_store(old / "flags.sqlite").close()
    new = tmp_path / "ws-new"
    assert carry_flags(new, [old, new]) == old / "flags.sqlite"
    with FlagStore(old / "flags.sqlite") as a, FlagStore(new / "flags.sqlite") as b:
        _same(a, b)
    assert carry_flags(new, [old]) is None  # the new workspace has a store now: left alone


# --- PostgreSQL only --------------------------------------------------------------------------------
def _connect(url):
    import psycopg
    return psycopg.connect(url, autocommit=True)


def test_postgres_schema_version_and_read_only(postgres):
    url = postgres.new()
    with pytest.raises(FlagStoreError, match="flag store not found"):
        FlagStore(url, readonly=True)
    with FlagStore(url) as s:
        s.add(s.start_session("ada"), "o1", "anomaly")
        assert s.schema_version == 1 and s.backend == "postgresql"
    with _connect(url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'astrom3_flags'")}
        assert tables == {"sessions", "decisions", "schema_version"}
        assert conn.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = 'public'").fetchone()[0] == 0
    ro = FlagStore(url, readonly=True)
    assert ro.readonly and list(ro.current()["id"]) == ["o1"]
    with pytest.raises(AstroM3Error, match="read-only"):
        ro.start_session("bob")
    ro.close()
    with _connect(url) as conn:
        conn.execute("UPDATE astrom3_flags.schema_version SET version = 99")
    with pytest.raises(AstroM3Error, match="schema version 99 is newer"):
        FlagStore(url)
    with _connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM astrom3_flags.decisions").fetchone()[0] == 1  # nothing lost


def test_postgres_role_without_write_rights_is_refused_cleanly(postgres):
    import psycopg
    from psycopg import sql
    from urllib.parse import urlsplit

    url = postgres.new()
    FlagStore(url).close()
    with _connect(url) as conn:
        if not conn.execute("SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            pytest.skip("the test role may not create roles (CREATEROLE)")
    role = "astrom3_reader_" + urlsplit(url).path.rsplit("_", 1)[-1]
    with _connect(url) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'reader-secret'").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA astrom3_flags TO {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA astrom3_flags TO {}").format(sql.Identifier(role)))
    parts = urlsplit(url)
    reader = parts._replace(netloc=f"{role}:reader-secret@{parts.hostname}:{parts.port or 5432}").geturl()
    try:
        s = FlagStore(reader)
        with pytest.raises(FlagStoreError, match="read-only") as info:
            s.start_session("eve")
        assert "reader-secret" not in str(info.value) and "reader-secret" not in repr(s)
        assert s.current().empty
        s.close()
        wrong = parts._replace(netloc=f"{role}:wrong-secret@{parts.hostname}:{parts.port or 5432}").geturl()
        with pytest.raises(FlagStoreError, match="cannot connect") as info:
            FlagStore(wrong)
        assert "wrong-secret" not in str(info.value)
    finally:
        postgres.cleanup()
        postgres._databases.clear()
        with psycopg.connect(postgres.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_postgres_reconnects_after_the_server_drops_the_connection(postgres):
    url = postgres.new()
    s = FlagStore(url)
    sess = s.start_session("ada")
    s.add(sess, "o1", "fine")
    with _connect(url) as conn:  # what a server restart does to every client
        killed = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = 'astrom3' AND pid <> pg_backend_pid()").fetchone()[0]
    assert killed == 1
    s.add(sess, "o2", "anomaly")  # broken before anything was sent: run again on a new connection
    assert list(s.history()["id"]) == ["o1", "o2"]
    s.close()
