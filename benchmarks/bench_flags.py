"""Flags per second on each backend: one writer, and 4 concurrent writer processes, each add committed.

    .venv/bin/python benchmarks/bench_flags.py [--n 500] [--writers 4] [--backends sqlite,postgresql]
                                               [--postgres postgresql://user:pw@host/db]

SQLite: WAL, ``synchronous=FULL``. PostgreSQL: the server's settings (recorded); ``--postgres`` (default
``$ASTROM3_TEST_POSTGRES``) names a role that may create databases: every run writes into a fresh one,
dropped afterwards. Writes benchmarks/results/flags.md and flags.json with the conditions (load
average before and after, versions, server settings).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from core.flags import FlagStore
    path, worker, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = FlagStore(path)
    s = store.start_session("user-" + worker)
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.001)
    t0 = time.perf_counter()
    for i in range(n):
        store.add(s, f"{worker}-{i}", "anomaly", note="benchmark flag")
    print(time.perf_counter() - t0, flush=True)
""")


class Fresh:
    """Fresh, empty store locations of one backend (new SQLite files, or new PostgreSQL databases)."""

    def __init__(self, backend: str, tmp: Path, admin: str | None):
        self.backend, self.tmp, self.admin, self.made = backend, tmp, admin, []

    def __enter__(self):
        if self.backend == "sqlite":
            return self.tmp / f"flags-{uuid.uuid4().hex[:8]}.sqlite"
        import psycopg
        from psycopg import sql
        db = f"astrom3_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
        self.made.append(db)
        return urlsplit(self.admin)._replace(path="/" + db).geturl()

    def __exit__(self, *exc):
        if self.made:
            import psycopg
            from psycopg import sql
            with psycopg.connect(self.admin, autocommit=True) as conn:
                for db in self.made:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            self.made.clear()


def run(n: int, writers: int, fresh: Fresh) -> dict:
    """``writers`` processes adding ``n`` flags each into one fresh store, started together."""
    from core.flags import FlagStore

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    go = fresh.tmp / f"go-{uuid.uuid4().hex[:8]}"
    with fresh as location:
        FlagStore(location).close()
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(location), str(w), str(n), str(go)],
                                  stdout=subprocess.PIPE, text=True, env=env) for w in range(writers)]
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        t0 = time.perf_counter()
        go.touch()
        outs = [p.communicate()[0] for p in procs]
        wall = time.perf_counter() - t0
        assert all(p.returncode == 0 for p in procs)
        per = [float(o.split()[-1]) for o in outs]
        with FlagStore(location) as store:
            h = store.history()
    rows = len(h)
    assert rows == n * writers and h["id"].is_unique, (rows, n * writers)
    total = n * writers
    return {"writers": writers, "flags_per_writer": n, "total_flags": total, "rows_in_store": rows,
            "wall_s": round(wall, 3), "flags_per_s": round(total / wall, 1),
            "per_writer_flags_per_s": [round(n / t, 1) for t in per],
            "mean_ms_per_add": round(1000 * sum(per) / total, 3)}


def median_run(n: int, writers: int, repeats: int, fresh: Fresh) -> dict:
    runs = sorted((run(n, writers, fresh) for _ in range(repeats)), key=lambda r: r["flags_per_s"])
    best = dict(runs[len(runs) // 2])
    best["all_runs_flags_per_s"] = [r["flags_per_s"] for r in runs]
    return best


def postgres_info(admin: str) -> dict:
    import psycopg

    with psycopg.connect(admin) as conn:
        show = {k: conn.execute(f"SHOW {k}").fetchone()[0]  # fixed setting names
                for k in ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers")}
    host = urlsplit(admin).hostname or "local socket"
    return {"postgresql": show.pop("server_version"), "psycopg": psycopg.__version__,
            "postgresql_settings": show, "postgresql_host": host}


def conditions(args, admin: str | None) -> dict:
    import sqlite3

    info = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "conditions": args.note,
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "settings": {"sqlite": "WAL, synchronous=FULL, BEGIN IMMEDIATE per add, busy_timeout 30 s + backoff",
                         "postgresql": "one transaction per add holding a transaction-level advisory lock "
                                       "(writers serialised as in SQLite); server's synchronous_commit"},
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if admin:
        info.update(postgres_info(admin))
    return info


def markdown(result: dict, args) -> str:
    info = result["info"]
    pg = (f", PostgreSQL {info['postgresql']} on {info['postgresql_host']} (psycopg {info['psycopg']}; "
          + ", ".join(f"{k}={v}" for k, v in info["postgresql_settings"].items()) + ")") if "postgresql" in info else ""
    md = ["# Flag store throughput", "",
          f"`benchmarks/bench_flags.py --n {args.n} --writers {args.writers} --backends {args.backends}` on "
          f"{info['machine']} (Python {info['python']}, SQLite {info['sqlite']}{pg}), {info['date']}; "
          f"{info['conditions']}; load average (1, 5, 15 min) {info['load_average_before']} before, "
          f"{info['load_average_after']} after.", "",
          *[f"- {k}: {v}" for k, v in info["settings"].items()], "",
          "Every add is committed before it returns. Median of "
          f"{args.repeats} runs; the last column lists every run (the spread is the machine's load).", "",
          "| backend | writers | flags | wall (s) | flags/s (all) | flags/s per writer | mean ms per add | "
          "rows in store | flags/s, every run |", "|---|---|---|---|---|---|---|---|---|"]
    for backend, runs in result["backends"].items():
        for r in runs.values():
            md.append(f"| {backend} | {r['writers']} | {r['total_flags']} | {r['wall_s']} | {r['flags_per_s']} | "
                      f"{', '.join(map(str, r['per_writer_flags_per_s']))} | {r['mean_ms_per_add']} | "
                      f"{r['rows_in_store']} | {', '.join(map(str, r['all_runs_flags_per_s']))} |")
    md += ["", "No flag was lost or duplicated (rows in store = flags written, ids unique; asserted by the script). "
           "An astronomer flags at most a few objects per second, so every figure leaves a wide margin. The cost "
           "of an add is its commit's flush to disk (SQLite's fsync, PostgreSQL's WAL flush), whose latency "
           "depends on what else is using the disk; PostgreSQL adds a network round trip per statement (an add "
           "reads its session, then begins, locks, inserts and commits)"
           + (", and its server shared this machine's cores with the writers." if info.get("postgresql_host") in
              ("127.0.0.1", "localhost", "::1", "local socket") else ".")]
    return "\n".join(md) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500, help="flags per writer")
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each; the median run is reported")
    ap.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--postgres", default=os.environ.get("ASTROM3_TEST_POSTGRES"),
                    help="postgresql:// URL of a role that may create databases (default $ASTROM3_TEST_POSTGRES)")
    ap.add_argument("--note", default="other agents' work was running on the machine at the same time",
                    help="conditions to record in the result file")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and not args.postgres:
        ap.error("postgresql needs --postgres URL (or ASTROM3_TEST_POSTGRES)")
    admin = args.postgres if "postgresql" in backends else None
    info = conditions(args, admin)
    result = {"info": info, "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            fresh = Fresh(backend, Path(tmp), admin)
            result["backends"][backend] = {
                "one_writer": median_run(args.n, 1, args.repeats, fresh),
                "concurrent": median_run(args.n, args.writers, args.repeats, fresh)}
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "flags.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "flags.md").write_text(markdown(result, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
