"""core.flags: the flag store, undo, export/import round trips, bad input, agreement, CLI."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from core.cli import main
from core.errors import AstroM3Error
from core.flags import (FlagStore, FlagStoreError, MAX_NOTE_LENGTH, cohen_kappa, fleiss_kappa, merge_stores,
                        read_flags_file)
from flag_backends import flag_location, locations  # noqa: F401 - fixtures: each test below runs on both backends

IDS = [f"obj{i}" for i in range(6)]
LABELS = ["EW", "RRAB", "M", "SR"]
COMPARE = ["id", "kind", "proposed_label", "subclass", "note", "user", "created", "sky_fingerprint",
           "model_fingerprint"]


@pytest.fixture
def store(flag_location):
    s = FlagStore(flag_location, valid_ids=IDS, labels=LABELS)
    yield s
    s.close()


def _fill(store):
    a = store.start_session("ada", sky_fingerprint="sky1", model_fingerprint="m1")
    b = store.start_session("bob", model_fingerprint="m1")
    store.add(a, "obj0", "mislabel", proposed_label="RRAB", note="period says RRAB, 0.55 d")
    store.add(a, "obj1", "anomaly", note="=HYPERLINK(\"x\") <script>alert(1)</script> & ünïcode, \"quoted\"\nline2")
    store.add(a, "obj2", "subclass", subclass="Blazhko")
    store.add(b, "obj0", "fine")
    store.add(b, "obj3", "crossmatch", note="'-starts with quote")
    store.add(b, "obj4", "interesting")
    return a, b


def test_add_is_committed_and_current_is_latest_per_user(store, flag_location):
    a, b = _fill(store)
    store.add(a, "obj0", "fine")  # ada changes her mind
    # another connection sees everything at once: committed before add returned
    other = FlagStore(flag_location)
    cur = other.current()
    other.close()
    assert len(cur) == 6
    got = {(r["id"], r["user"]): r["kind"] for r in cur.to_dict("records")}
    assert got[("obj0", "ada")] == "fine" and got[("obj0", "bob")] == "fine"
    assert got[("obj1", "ada")] == "anomaly"
    assert list(store.current(user="bob")["id"]) == ["obj0", "obj3", "obj4"]
    assert list(store.current(kind="subclass")["subclass"]) == ["Blazhko"]
    assert set(store.current(session=a)["id"]) == {"obj0", "obj1", "obj2"}
    assert len(store.current(since="2100-01-01")) == 0
    assert len(store.history("obj0")) == 3  # append-only: nothing rewritten
    assert set(store.current().columns) >= {"id", "kind", "proposed_label", "subclass", "note", "user",
                                             "session", "created", "sky_fingerprint", "model_fingerprint"}
    assert store.current(user="ada").set_index("id").loc["obj1", "sky_fingerprint"] == "sky1"


def test_undo_appends_and_goes_back(store):
    a, b = _fill(store)
    store.add(a, "obj0", "anomaly")
    undone = store.undo(a, "obj0")
    assert undone["kind"] == "anomaly" and undone["user"] == "ada"
    cur = store.current(user="ada").set_index("id")
    assert cur.loc["obj0", "kind"] == "mislabel" and cur.loc["obj0", "proposed_label"] == "RRAB"
    assert store.undo(a, "obj0")["kind"] == "mislabel"
    assert "obj0" not in set(store.current(user="ada")["id"])
    assert store.undo(a, "obj0") is None
    # bob's decision on the same object is untouched; undo from a new session of the same user works
    assert store.current(user="bob").set_index("id").loc["obj0", "kind"] == "fine"
    a2 = store.start_session("ada")
    assert store.undo(a2, "obj1")["kind"] == "anomaly"
    h = store.history("obj0")
    assert list(h["kind"]) == ["mislabel", "fine", "anomaly", "undo", "undo"]


@pytest.mark.parametrize("suffix", ["csv", "ecsv", "xml", "json"])
def test_round_trip_every_format(store, locations, tmp_path, suffix):
    _fill(store)
    path = store.export(tmp_path / f"out.{suffix}")
    assert path.exists() and not list(tmp_path.glob(".out*tmp*"))
    fresh = FlagStore(locations.new(f"fresh-{suffix}"))
    assert fresh.import_(fresh.export(tmp_path / f"empty.{suffix}")) == 0  # an empty export reads back
    assert fresh.import_(path) == 6
    assert fresh.import_(path) == 0  # idempotent
    before, after = store.current()[COMPARE], fresh.current()[COMPARE]
    pd.testing.assert_frame_equal(before.reset_index(drop=True), after.reset_index(drop=True))
    assert after.set_index("id").loc["obj1", "note"].startswith("=HYPERLINK")
    fresh.close()


def test_export_formats_are_safe_and_readable(store, tmp_path):
    _fill(store)
    csv = store.export(tmp_path / "f.csv").read_text()
    assert "'=HYPERLINK" in csv and "\n=HYPERLINK" not in csv  # no spreadsheet formula
    xml = store.export(tmp_path / "f.xml").read_text()
    assert "<script>" not in xml and "&lt;script&gt;" in xml
    doc = json.loads(store.export(tmp_path / "f.json").read_text())
    assert doc["format"] == "astrom3-flags" and len(doc["flags"]) == 6
    from astropy.table import Table
    t = Table.read(tmp_path / "f.xml", format="votable")
    assert set(t["id"]) == {"obj0", "obj1", "obj2", "obj3", "obj4"}
    e = Table.read(store.export(tmp_path / "f.ecsv", kind="mislabel"), format="ascii.ecsv")
    assert list(e["id"]) == ["obj0"] and e["proposed_label"][0] == "RRAB"


def test_export_with_sky_columns(tmp_path, handmade_sky):
    from core.sky import open_sky
    sky = open_sky(handmade_sky)
    objects = sky.objects.copy()
    s = FlagStore(tmp_path / "f.sqlite", sky=sky)
    sess = s.start_session("ada")
    assert s.current().empty
    s.add(sess, "obj1", "mislabel", proposed_label="EW")
    with pytest.raises(FlagStoreError, match="'RRC'"):
        s.add(sess, "obj1", "mislabel", proposed_label="RRC")
    df = read_flags_file(s.export(tmp_path / "f.csv"))
    assert df.loc[0, "label"] == objects.set_index("id").loc["obj1", "label"] == "RRAB"
    assert df.loc[0, "sky_fingerprint"] == sky.fingerprint
    s.close()


def test_bad_input_names_the_value(store):
    a, _ = _fill(store)
    n = len(store.history())
    with pytest.raises(AstroM3Error, match="'nope'.*not in this sky"):
        store.add(a, "nope", "anomaly")
    with pytest.raises(AstroM3Error, match="'XYZ'.*EW"):
        store.add(a, "obj0", "mislabel", proposed_label="XYZ")
    with pytest.raises(AstroM3Error, match="'weird'.*mislabel, anomaly"):
        store.add(a, "obj0", "weird")
    with pytest.raises(AstroM3Error, match="2001 characters"):
        store.add(a, "obj0", "anomaly", note="x" * (MAX_NOTE_LENGTH + 1))
    with pytest.raises(AstroM3Error, match="session 999"):
        store.add(999, "obj0", "anomaly")
    with pytest.raises(AstroM3Error, match="user name"):
        store.start_session("")
    with pytest.raises(AstroM3Error, match="note contains a NUL character"):  # PostgreSQL text cannot hold it
        store.add(a, "obj0", "anomaly", note="a\x00b")
    with pytest.raises(AstroM3Error, match="subclass tag is not valid text"):
        store.add(a, "obj0", "subclass", subclass="\ud800")
    with pytest.raises(AstroM3Error, match="user name contains a NUL"):
        store.start_session("a\x00")
    assert len(store.history()) == n and len(store._backend.dump()["sessions"]) == 2  # nothing half-written
    # SQL injection attempts are plain data
    d = store.add(a, "obj5", "anomaly", note="'); DROP TABLE decisions; --")
    assert store.current(user="ada").set_index("id").loc["obj5", "note"] == d["note"]
    s = store.start_session("x'); DROP TABLE sessions; --", model_fingerprint="%s %(x)s ? $1")
    d = store.add(s, "obj5", "fine", subclass="? IS ? %s", note="\\'; SELECT 1; -- ünï 🌟")
    got = store.history("obj5").iloc[-1]
    assert (got["user"], got["model_fingerprint"], got["subclass"], got["note"]) == (
        "x'); DROP TABLE sessions; --", "%s %(x)s ? $1", "? IS ? %s", "\\'; SELECT 1; -- ünï 🌟")
    assert len(store.current()) == 8
    # HTML stays verbatim in the store
    assert "<script>alert(1)</script>" in store.current().set_index("id").loc["obj1", "note"]


def test_corrupt_readonly_newer_and_postgres(tmp_path, monkeypatch):
    bad = tmp_path / "garbage.sqlite"
    bad.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(AstroM3Error, match="garbage.sqlite: cannot open flag store"):
        FlagStore(bad)
    assert bad.stat().st_size == 8192  # untouched

    path = tmp_path / "flags.sqlite"
    s = FlagStore(path, valid_ids=IDS)
    sess = s.start_session("ada")
    s.add(sess, "obj0", "anomaly")
    s.close()
    # a file this process cannot write (root ignores chmod, so the permission check is simulated)
    monkeypatch.setattr("core.flags.backends.sqlite.os.access", lambda p, mode: False)
    ro = FlagStore(path)
    assert ro.readonly and list(ro.current()["id"]) == ["obj0"]
    with pytest.raises(AstroM3Error, match="read-only"):
        ro.start_session("bob")
    ro.close()
    monkeypatch.undo()

    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(AstroM3Error, match="schema version 99 is newer"):
        FlagStore(path)
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM decisions").fetchone()[0] == 1  # nothing lost
    con.close()


@pytest.mark.parametrize("url, message", [
    ("postgresql://ada:secret@nosuchhost.invalid/flags", r"ada@nosuchhost.invalid/flags: cannot connect"),
    ("postgresql://ada:secret@localhost:notaport/flags", "not a valid PostgreSQL URL"),
    ("postgres://ada:secret@localhost/", "names no database"),
    ("postgresql://localhost/flags?password=secret&bogus=1", "not a valid PostgreSQL URL"),
    ("mysql://ada:secret@localhost/flags", "mysql://...: unsupported flag store URL"),
])
def test_bad_store_urls_are_refused_without_showing_the_password(url, message):
    with pytest.raises(AstroM3Error, match=message) as info:
        FlagStore(url, timeout=2)
    assert "secret" not in str(info.value)


def test_a_closed_store_refuses_every_call_with_a_clear_error(tmp_path):
    s = FlagStore(tmp_path / "flags.sqlite", valid_ids=IDS)
    sess = s.start_session("ada")
    s.add(sess, "obj0", "fine")
    s.close()
    s.close()  # idempotent
    for call in (lambda: s.add(sess, "obj1", "anomaly"), lambda: s.start_session("bob"),
                 lambda: s.undo(sess, "obj0"), s.history, s.current, lambda: s.backup_to(tmp_path / "b.sqlite")):
        with pytest.raises(FlagStoreError, match="flags.sqlite: flag store is closed"):
            call()
    with FlagStore(tmp_path / "flags.sqlite") as again:  # nothing was written after the close
        assert list(again.history()["id"]) == ["obj0"]
    assert not (tmp_path / "b.sqlite").exists()


def test_sqlite_url_and_schema(tmp_path):
    s = FlagStore(f"sqlite:///{tmp_path}/u.sqlite")
    assert s.schema_version == 1
    assert s._backend._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s._backend._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    s.close()
    assert (tmp_path / "u.sqlite").exists()


def test_kappa_known_values():
    # Cohen: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> po=0.7, pe=0.5, kappa=0.4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == 1.0
    # Fleiss (1971)-style worked example: 10 items, 14 raters, 5 categories -> kappa 0.210
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    assert fleiss_kappa(counts) == pytest.approx(0.2099, abs=1e-3)


def _store_with(path, user, decisions):
    s = FlagStore(path)
    sess = s.start_session(user)
    for oid, kind in decisions:
        s.add(sess, oid, kind, proposed_label="RRAB" if kind == "mislabel" else None)
    s.close()
    return path


def test_merge_two_raters_cohen(tmp_path):
    # 4 objects; ada: M M A A ; bob: M A A F
    p1 = _store_with(tmp_path / "ada.sqlite", "ada", [("o1", "mislabel"), ("o2", "mislabel"), ("o3", "anomaly"),
                                                       ("o4", "anomaly")])
    p2 = _store_with(tmp_path / "bob.sqlite", "bob", [("o1", "mislabel"), ("o2", "anomaly"), ("o3", "anomaly"),
                                                       ("o4", "fine")])
    exported = FlagStore(p2).export(tmp_path / "bob.ecsv")
    rep = merge_stores([p1, exported], out=tmp_path / "merged.sqlite")
    assert rep.raters == ["ada", "bob"] and rep.n_objects == 4
    # mislabel: ada T T F F, bob T F F F -> po=.75, pe=.5*.25+.5*.75=.5 -> kappa .5
    assert rep.agreement["mislabel"]["statistic"] == "cohen"
    assert rep.agreement["mislabel"]["kappa"] == pytest.approx(0.5)
    # anomaly: ada F F T T, bob F T T F -> po=.5, pe=.5 -> 0
    assert rep.agreement["anomaly"]["kappa"] == pytest.approx(0.0)
    assert set(rep.conflicts["id"]) == {"o2", "o4"}
    assert rep.conflicts.set_index("id").loc["o2", "ada"] == "mislabel->RRAB"
    with FlagStore(tmp_path / "merged.sqlite") as m:
        assert len(m.current()) == 8
    assert "kappa=0.500" in rep.summary()


def test_merge_three_raters_fleiss(tmp_path):
    paths = [_store_with(tmp_path / f"{u}.sqlite", u, [("o1", "anomaly"), ("o2", "anomaly")]) for u in "abc"]
    rep = merge_stores(paths)
    assert rep.agreement["overall"]["statistic"] == "fleiss"
    assert rep.agreement["overall"]["kappa"] == 1.0 and rep.conflicts.empty
    paths.append(_store_with(tmp_path / "d.sqlite", "d", [("o1", "anomaly"), ("o3", "fine")]))
    rep = merge_stores(paths)
    # anomaly per item (flagged counts of 4 raters): o1 4/4, o2 3/4, o3 0/4
    counts = [[4, 0], [3, 1], [0, 4]]
    assert rep.agreement["anomaly"]["kappa"] == pytest.approx(fleiss_kappa(counts))
    assert rep.conflicts.empty or set(rep.conflicts["id"]) <= {"o2", "o3"}


def _workspace_with_results(ws, ids, labels):
    """A workspace holding only results.parquet (what the CLI checks flags against)."""
    from explorer.testing import fake_results

    ws.mkdir(parents=True)
    fake_results(ids, labels).to_parquet(ws / "results.parquet", index=False)
    return ws


def test_cli(tmp_path, capsys):
    ws = _workspace_with_results(tmp_path / "ws", ["o1", "o2", "o3"], ["EW", "RRAB", None])
    assert main(["flags", "add", str(ws), "o1", "mislabel", "--user", "ada", "--label", "EW",
                 "--note", "<b>x</b>"]) == 0
    assert main(["flags", "add", str(ws), "o2", "anomaly", "--user", "bob"]) == 0
    capsys.readouterr()
    assert main(["flags", "list", str(ws), "--user", "ada"]) == 0
    out = capsys.readouterr().out
    assert "o1" in out and "o2" not in out
    assert main(["flags", "export", str(ws), "f.ecsv"]) == 0
    assert (ws / "f.ecsv").exists()
    capsys.readouterr()
    assert main(["flags", "export", str(ws), "../outside.csv"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and err.count("\n") == 1 and not (tmp_path / "outside.csv").exists()
    assert main(["flags", "export", str(ws), "--out", str(tmp_path / "outside.xml")]) == 0
    assert main(["flags", "import", str(tmp_path / "copy.sqlite"), str(tmp_path / "outside.xml")]) == 0
    assert len(FlagStore(tmp_path / "copy.sqlite").current()) == 2
    assert main(["flags", "undo", str(ws), "o1", "--user", "ada"]) == 0
    assert "undid mislabel" in capsys.readouterr().out
    assert main(["flags", "add", str(ws), "o1", "bogus", "--user", "ada"]) == 2
    assert "'bogus'" in capsys.readouterr().err
    assert main(["flags", "list", str(tmp_path / "missing")]) == 2
    assert main(["flags", "merge", str(ws), str(tmp_path / "copy.sqlite"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["raters"] == ["ada", "bob"]


@pytest.mark.parametrize("bad, message", [
    (["../../etc/passwd", "anomaly"], "'../../etc/passwd' is not in this sky"),
    (["o1", "mislabel", "--label", "NOTACLASS"], "'NOTACLASS' is not in the label set"),
])
def test_cli_add_checks_ids_and_labels_against_the_workspace(tmp_path, capsys, bad, message):
    """Without --sky the workspace's results give the ids and labels; nothing bad is stored."""
    ws = _workspace_with_results(tmp_path / "ws", ["o1", "o2"], ["EW", "RRAB"])
    assert main(["flags", "add", str(ws), *bad, "--user", "ada"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    with FlagStore(ws / "flags.sqlite") as s:
        assert len(s.history()) == 0 and s._backend.dump()["sessions"] == []
    # a .sqlite path inside the workspace is checked the same way
    assert main(["flags", "add", str(ws / "flags.sqlite"), *bad, "--user", "ada"]) == 2
    assert message in capsys.readouterr().err


def test_cli_add_sky_overrides_and_no_sky_known_is_an_error(tmp_path, capsys):
    from core.sky import write_sky

    ws = _workspace_with_results(tmp_path / "ws", ["o1"], ["EW"])
    sky = write_sky(tmp_path / "sky", pd.DataFrame({"id": ["o1", "o9"], "label": ["EW", "M"]}))
    assert main(["flags", "add", str(ws), "o9", "mislabel", "--label", "M", "--user", "ada"]) == 2
    capsys.readouterr()
    assert main(["flags", "add", str(ws), "o9", "mislabel", "--label", "M", "--user", "ada", "--sky", str(sky)]) == 0
    bare = tmp_path / "bare"
    bare.mkdir()
    assert main(["flags", "add", str(bare), "o1", "fine", "--user", "ada"]) == 2
    err = capsys.readouterr().err
    assert "--sky" in err and err.count("\n") == 1 and not (bare / "flags.sqlite").exists()
