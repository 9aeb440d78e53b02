"""core.flags durability on both backends (SQLite and PostgreSQL): SIGKILL mid-stream loses no acknowledged
flag; parallel writers, connections and threads lose and duplicate none; imports are all or nothing."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import AstroM3Error
from core.flags import FlagStore
from flag_backends import flag_location, locations  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent("""
    import sys, os, time
    from pathlib import Path
    from core.flags import FlagStore
    path, worker, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = FlagStore(path)
    s = store.start_session("user-" + worker)
    print("ready", flush=True)
    while go != "-" and not Path(go).exists():
        time.sleep(0.005)
    i = 0
    while n < 0 or i < n:
        d = store.add(s, f"{worker}-{i}", "anomaly", note=f"w{worker} #{i}")
        print(d["id"], flush=True)
        i += 1
""")


def _spawn(path, worker, n, go):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(worker), str(n), str(go)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def test_sigkill_mid_stream_keeps_every_acknowledged_flag(flag_location):
    path = flag_location
    FlagStore(path).close()
    proc = _spawn(path, "k", -1, "-")
    acked = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        while len(acked) < 40:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            acked.append(line.strip())
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    acked += [x for x in rest.split("\n") if x.strip()]
    assert proc.returncode == -signal.SIGKILL
    if isinstance(path, Path):
        con = sqlite3.connect(path)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    with FlagStore(path) as store:
        ids = list(store.history()["id"])
    assert len(ids) >= len(acked) >= 40
    assert set(acked) <= set(ids)
    assert len(ids) == len(set(ids))  # nothing duplicated
    assert ids[: len(acked)] == acked  # in order


def test_parallel_writers_lose_and_duplicate_nothing(flag_location, tmp_path):
    n_proc, m = 4, 50
    path = flag_location
    go = tmp_path / "go"
    procs = [_spawn(path, w, m, go) for w in range(n_proc)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        go.touch()  # all start writing at once
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * n_proc, [o[1][-500:] for o in outs]
    acked = [x for o in outs for x in o[0].split() if x != "ready"]
    assert len(acked) == n_proc * m
    with FlagStore(path) as store:
        h = store.history()
        cur = store.current()
    assert len(h) == n_proc * m and h["id"].is_unique
    assert set(h["id"]) == {f"{w}-{i}" for w in range(n_proc) for i in range(m)} == set(acked)
    assert len(cur) == n_proc * m and cur["user"].value_counts().tolist() == [m] * n_proc
    assert set(h["note"]) == {f"w{w} #{i}" for w in range(n_proc) for i in range(m)}


def _hold_write_lock(location):
    """A raw connection holding the store's write lock (what another writer's transaction holds)."""
    if isinstance(location, Path):
        blocker = sqlite3.connect(location, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        return blocker
    import psycopg
    from core.flags.backends.postgres import WRITE_LOCK

    blocker = psycopg.connect(location, autocommit=True)
    blocker.execute("BEGIN")
    blocker.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
    return blocker


def test_many_connections_in_one_process_retry(flag_location):
    """Two stores on the same file interleave writes (one waits while a third connection holds the lock)."""
    import threading

    a, b = FlagStore(flag_location, timeout=10), FlagStore(flag_location, timeout=10)
    sa, sb = a.start_session("a"), b.start_session("b")
    blocker = _hold_write_lock(flag_location)
    released = threading.Event()

    def release():
        released.set()
        blocker.execute("COMMIT")
    t = threading.Timer(0.3, release)
    t.start()
    a.add(sa, "x", "fine")  # waits for the lock instead of failing
    assert released.is_set()  # it could only be written once the lock was let go
    t.join()
    b.add(sb, "x", "anomaly")
    assert len(a.current()) == 2
    blocker.close()
    a.close()
    b.close()


def test_threads_share_one_store(flag_location):
    """A server's threads (browser sessions) share one FlagStore: no decision lost or doubled."""
    from concurrent.futures import ThreadPoolExecutor

    store = FlagStore(flag_location)

    def work(t):
        s = store.start_session(f"t{t}")
        for i in range(25):
            store.add(s, f"{t}-{i}", "fine")
        store.undo(s, f"{t}-0")
        return t

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(work, range(8))) == list(range(8))
    h, cur = store.history(), store.current()
    store.close()
    assert (h["kind"] == "fine").sum() == 200 and (h["kind"] == "undo").sum() == 8
    assert len(cur) == 192 and not any(cur["id"].str.endswith("-0"))


def test_import_is_all_or_nothing(tmp_path, flag_location):
    src = FlagStore(tmp_path / "src.sqlite")
    s = src.start_session("ada")
    for oid in ("a", "b", "zzz"):
        src.add(s, oid, "anomaly")
    path = src.export(tmp_path / "f.csv")
    src.close()
    dst = FlagStore(flag_location, valid_ids=["a", "b"])
    with pytest.raises(AstroM3Error, match="row 2.*'zzz'.*nothing was imported"):
        dst.import_(path)
    assert len(dst.history()) == 0
    dst.close()
