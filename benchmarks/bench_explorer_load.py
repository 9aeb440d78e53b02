"""Explorer under load: N browser sessions flag at once; every acknowledged decision stored, none twice.

Issue 13 ("For a team" -> Load): one ``astrom3 serve SKY --workspace WS --auth basic --users FILE``
on 127.0.0.1, N users (``load01`` ...) from a generated users file, one Chromium (Debian's, through
Playwright's asyncio API) with one browser context -- one login, one tab -- per user. After all N
are open, every session works through its review queue with the keyboard for ``--duration``
seconds: read the current suspect (the inspector's title) and the queue position, press a decision
key (``n`` anomaly, ``f`` fine, ``x`` cross-match, ``a`` accept the suggested label, in turn) and
wait until the page acknowledges it, i.e. the queue position moved on and the inspector shows the
next suspect (the server sends that in the same message, after the store committed the decision).
The latency is taken in the page (``performance.now()`` from just before the key press to the
acknowledgement, polled every 10 ms).

At the end the workspace's real :class:`core.flags.FlagStore` is opened and each acknowledged
decision (user, object id, kind) is looked up among the decisions stored since the run started:
missing (not stored) and duplicated (stored more than once) ones are counted, and so are stored
decisions no session saw acknowledged. Memory is the RSS of the server process (the ``panel
serve`` that ``astrom3 serve`` starts): with the server warm, with one session open, with all N
open (-> MB per extra tab) and after the flagging (each user's learning review session is built on
their first decision). Writes ``OUT/explorer_load.json`` and ``.md`` (OUT defaults to
benchmarks/results).

    python benchmarks/bench_explorer_load.py [--sky SKY --workspace WS] [--n 2000]
        [--sessions 10] [--duration 120] [--out DIR]
    python benchmarks/bench_explorer_load.py --smoke     # 2 sessions, 15 s, results in a temp dir

Without ``--sky``/``--workspace`` a seeded sky of ``--n`` objects is simulated and analysed
(``astrom3 simulate`` + ``astrom3 run --checkpoint demo``) in a temporary directory; a given sky or
workspace that does not exist yet is made the same way (and kept, so later runs reuse it).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ui"))
RESULTS = ROOT / "benchmarks" / "results"
CHROMIUM = "/usr/bin/chromium"
#: The decision keys the sessions press in turn, and the flag kind each one stores.
KEYS = {"n": "anomaly", "f": "fine", "x": "crossmatch", "a": "mislabel"}
#: Seconds a page may take to acknowledge one decision (or to log in and show its queue).
ACK_TIMEOUT_S = 120
OPEN_TIMEOUT_S = 600

# Resolves with the ms from now until the review queue's position is no longer ``before`` and the
# inspector's title no longer shows ``oid`` (-1 after the timeout). Panel renders every component in
# a shadow root: the hosts are found once through them, then polled.
WAIT_ACK = """([before, oid, timeout]) => new Promise(resolve => {
  const deep = (sel, root = document, out = []) => {
    root.querySelectorAll(sel).forEach(e => out.push(e));
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) deep(sel, e.shadowRoot, out); });
    return out; };
  const infos = deep('.review-info'), titles = deep('.inspector-title');
  const text = hs => hs.map(h => (h.shadowRoot || h).textContent).join(' ');
  const position = () => { const m = text(infos).match(/(\\d+) \\/ (\\d+)/); return m ? m[0] : ''; };
  const titleId = () => {
    for (const h of titles) { const e = deep('h3', h.shadowRoot || h)[0]; if (e) return e.textContent.trim(); }
    return ''; };
  const t0 = performance.now();
  const done = () => position() !== '' && position() !== before && titleId() !== '' && titleId() !== oid;
  const tick = () => done() ? resolve(performance.now() - t0)
      : performance.now() - t0 > timeout ? resolve(-1) : setTimeout(tick, 10);
  tick(); })"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def astrom3(*args: str, cwd=None) -> None:
    """Run ``astrom3 ARGS`` (this interpreter's CLI), failing loudly with its output."""
    done = subprocess.run([sys.executable, "-m", "core", *args], cwd=cwd or ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"astrom3 {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def prepare_workspace(args) -> tuple[Path, Path]:
    """The sky and workspace to serve: the given ones, made first where missing (or new ones in a temp dir).

    Parameters
    ----------
    args : argparse.Namespace
        ``sky``, ``workspace`` (None: a temporary directory) and ``n`` (objects of a new sky).

    Returns
    -------
    tuple of pathlib.Path
        The sky directory and the workspace, which has ``results.parquet``.
    """
    base = Path(tempfile.mkdtemp(prefix="bench_explorer_load_"))
    sky = Path(args.sky) if args.sky else base / "sky"
    ws = Path(args.workspace) if args.workspace else sky.parent / f"{sky.name}-workspace"
    args.made = []  # the commands that made them, for the report
    if not sky.exists():
        args.made.append(f"astrom3 simulate SKY --n {args.n} --seed 0")
        log(f"simulating a sky of {args.n} objects in {sky}")
        astrom3("simulate", str(sky), "--n", str(args.n), "--seed", "0")
    if not (ws / "results.parquet").exists():
        args.made.append("astrom3 run SKY --workspace WS --checkpoint demo")
        log(f"analysing it into {ws} (astrom3 run --checkpoint demo)")
        astrom3("run", str(sky), "--workspace", str(ws), "--checkpoint", "demo")
    return sky, ws


def write_users(n: int, folder: Path) -> dict[str, str]:
    """``n`` logins with random passwords, written to ``folder/users.json`` for ``--auth basic``."""
    users = {f"load{i + 1:02d}": secrets.token_urlsafe(12) for i in range(n)}
    (folder / "users.json").write_text(json.dumps(users))
    return users


def serve(sky: Path, ws: Path, port: int, users_file: Path, log_file: Path) -> subprocess.Popen:
    """``astrom3 serve SKY --workspace WS --port P --auth basic --users FILE``; returns once it answers."""
    cmd = [sys.executable, "-m", "core", "serve", str(sky), "--workspace", str(ws), "--port", str(port),
           "--auth", "basic", "--users", str(users_file)]
    out = open(log_file, "w")  # a pipe nobody reads would fill and block the server
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"astrom3 serve exited: {log_file.read_text(errors='replace')[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)
            return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError("astrom3 serve did not answer in 600 s")


def stop(proc: subprocess.Popen) -> None:
    """Stop ``astrom3 serve`` and the ``panel serve`` it started (children first)."""
    import psutil

    try:
        procs = psutil.Process(proc.pid).children(recursive=True) + [psutil.Process(proc.pid)]
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        p.kill()


def server_rss_mb(proc: subprocess.Popen) -> float:
    """RSS in MB of the ``panel serve`` process under ``astrom3 serve`` (the process serving the sessions)."""
    import psutil

    parent = psutil.Process(proc.pid)
    panel = [c for c in parent.children(recursive=True) if "panel" in " ".join(c.cmdline())]
    return round((panel[0] if panel else parent).memory_info().rss / 2**20, 1)


def cpu_seconds(proc: subprocess.Popen) -> dict[str, dict[int, float]]:
    """CPU seconds (user + system) so far of each server process and each Chromium process, by pid."""
    import psutil

    def times(procs):
        out = {}
        for p in procs:
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return out
    server = psutil.Process(proc.pid)
    browser = [c for c in psutil.Process().children(recursive=True) if "chrom" in c.name().lower()]
    return {"server": times([server, *server.children(recursive=True)]), "chromium": times(browser)}


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds each group used between two :func:`cpu_seconds` snapshots (processes started since: all theirs)."""
    return {g: round(sum(t - before[g].get(pid, 0.0) for pid, t in after[g].items()), 1) for g in after}


async def open_session(browser, base: str, user: str, password: str) -> dict:
    """Log ``user`` in (a new browser context), open the explorer and wait for its review queue.

    Returns
    -------
    dict
        ``user``, ``context``, ``page`` and ``open_s`` (seconds from the login page to the queue shown).
    """
    t = time.perf_counter()
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(OPEN_TIMEOUT_S * 1000)
    await page.goto(f"{base}/explorer", timeout=OPEN_TIMEOUT_S * 1000)
    await page.wait_for_selector("input[name='username']")
    await page.fill("input[name='username']", user)
    await page.fill("input[name='password']", password)
    await page.click("button[type='submit']", no_wait_after=True)
    await page.wait_for_url(re.compile(rf"{re.escape(base)}/(?!login)"))
    await page.goto(f"{base}/explorer", timeout=OPEN_TIMEOUT_S * 1000)
    await page.locator(".review-info").get_by_text(re.compile(r"^1 /")).first.wait_for()
    await page.locator(".inspector-title h3").first.wait_for()
    page.set_default_timeout(ACK_TIMEOUT_S * 1000)
    return {"user": user, "context": ctx, "page": page, "open_s": round(time.perf_counter() - t, 2)}


async def current(page) -> tuple[str, str]:
    """The review queue's position text (``"3 / 500"``) and the id the inspector shows."""
    info = await page.locator(".review-info b").first.inner_text()  # "<b>3 / 500</b> by ..."
    m = re.search(r"\d+ / \d+", info)
    oid = (await page.locator(".inspector-title h3").first.inner_text()).strip()
    return (m.group(0) if m else ""), oid


async def flag_loop(session: dict, deadline: float, offset: int) -> list[dict]:
    """Decide suspects one after the other until ``deadline`` (``time.monotonic()``); one record each.

    Each record: ``user``, ``id``, ``kind``, ``key``, ``t_sent`` and ``t_ack`` (Unix seconds; ``t_ack``
    None when the page did not acknowledge within :data:`ACK_TIMEOUT_S`) and ``ms`` (in the page).
    """
    page, user, out = session["page"], session["user"], []
    keys = list(KEYS)
    await page.locator("body").click(position={"x": 5, "y": 5})  # the document has the keyboard
    i = offset
    while time.monotonic() < deadline:
        pos, oid = await current(page)
        if pos == "" or not oid:
            await asyncio.sleep(0.5)  # the queue is being redrawn (or empty): look again
            continue
        key = keys[i % len(keys)]
        i += 1
        await page.evaluate(f"() => {{ window.__ack = ({WAIT_ACK})({json.dumps([pos, oid, ACK_TIMEOUT_S * 1000])}); }}")
        t_sent = time.time()
        await page.keyboard.press(key)
        ms = float(await page.evaluate("() => window.__ack"))
        t_ack = time.time()
        out.append({"user": user, "id": oid, "kind": KEYS[key], "key": key, "t_sent": round(t_sent, 3),
                    "t_ack": round(t_ack, 3) if ms >= 0 else None, "ms": round(ms, 1) if ms >= 0 else None})
        if ms < 0:
            log(f"{user}: no acknowledgement of {KEYS[key]} on {oid} within {ACK_TIMEOUT_S} s")
    log(f"{user}: {sum(r['t_ack'] is not None for r in out)} decisions acknowledged")
    return out


def check_store(ws: Path, records: list[dict], users, since: str) -> dict:
    """Look every acknowledged decision up in the real flag store (decisions of ``users`` made at or after ``since``).

    Returns
    -------
    dict
        ``sent``, ``acknowledged``, ``stored`` (decisions of the run in the store), ``missing`` and
        ``duplicated`` (acknowledged decisions stored 0 or more than 1 times), ``stored_unacknowledged``,
        and up to 20 examples of each problem.
    """
    from core.flags import FlagStore

    with FlagStore(ws / "flags.sqlite", readonly=True) as store:
        h = store.history()
    h = h[h["user"].isin(list(users)) & (h["created"].astype(str) >= since) & h["undoes"].isna()]
    stored: dict[tuple, int] = {}
    for key in zip(h["user"].astype(str), h["id"].astype(str), h["kind"].astype(str)):
        stored[key] = stored.get(key, 0) + 1
    acked = [(r["user"], r["id"], r["kind"]) for r in records if r["t_ack"] is not None]
    missing = [k for k in acked if stored.get(k, 0) == 0]
    duplicated = [k for k in set(acked) if stored.get(k, 0) > 1]
    twice_acked = [k for k in set(acked) if acked.count(k) > 1]
    unacked = [k for k in stored if k not in set(acked)]
    return {"sent": len(records), "acknowledged": len(acked), "stored": int(len(h)), "missing": len(missing),
            "duplicated": len(duplicated), "acknowledged_twice": len(twice_acked),
            "stored_unacknowledged": len(unacked),
            "examples": {"missing": missing[:20], "duplicated": [(*k, stored[k]) for k in duplicated[:20]],
                         "stored_unacknowledged": unacked[:20]}}


def quantile(values, q: float) -> float | None:
    """The ``q`` quantile (inclusive method) of ``values``; None when empty."""
    v = sorted(values)
    if not v:
        return None
    if len(v) == 1:
        return float(v[0])
    return float(statistics.quantiles(v, n=100, method="inclusive")[int(round(q * 100)) - 1])


def latency(records: list[dict]) -> dict:
    """p50/p95/max of the acknowledged decisions' in-page latency (ms): all, first of each session, later."""
    ms = [r["ms"] for r in records if r["ms"] is not None]
    first, later, seen = [], [], set()
    for r in records:
        if r["ms"] is None:
            continue
        (later if r["user"] in seen else first).append(r["ms"])
        seen.add(r["user"])

    def summary(v):
        return {"n": len(v), "p50_ms": quantile(v, 0.5), "p95_ms": quantile(v, 0.95),
                "max_ms": max(v) if v else None}
    return {"all": summary(ms), "first_of_session": summary(first), "later": summary(later)}


async def drive(args, base: str, users: dict, proc) -> dict:
    """Open the sessions (one, then the others at once), let them all flag, measure the server's RSS."""
    from playwright.async_api import async_playwright

    from conftest import LAUNCH_ARGS  # tests/ui/conftest.py: how the project launches Debian's Chromium

    out: dict = {"rss_mb": {"server_warm": server_rss_mb(proc)}}
    names = list(users)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        out["chromium"] = browser.version
        sessions = [await open_session(browser, base, names[0], users[names[0]])]
        await asyncio.sleep(3)
        out["rss_mb"]["one_session"] = server_rss_mb(proc)
        log(f"first session open in {sessions[0]['open_s']} s; server RSS {out['rss_mb']['one_session']} MB")
        sessions += await asyncio.gather(*[open_session(browser, base, u, users[u]) for u in names[1:]])
        await asyncio.sleep(3)
        out["rss_mb"]["all_sessions"] = server_rss_mb(proc)
        out["open_s"] = [s["open_s"] for s in sessions]
        log(f"{len(sessions)} sessions open (seconds {out['open_s']}); server RSS {out['rss_mb']['all_sessions']} MB")
        out["flagging_started"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")
        t0, cpu0 = time.monotonic(), cpu_seconds(proc)
        per = await asyncio.gather(*[flag_loop(s, t0 + args.duration, k) for k, s in enumerate(sessions)])
        out["flagging_s"] = round(time.monotonic() - t0, 1)
        out["cpu_s_during_flagging"] = cpu_used(cpu0, cpu_seconds(proc))
        out["rss_mb"]["after_flagging"] = server_rss_mb(proc)
        out["records"] = [r for rs in per for r in rs]
        for s in sessions:
            await s["context"].close()
        await browser.close()
    return out


def versions(chromium: str) -> dict:
    from importlib.metadata import version
    return {p: version(p) for p in ("panel", "bokeh", "playwright")} | {"chromium": chromium}


def summarise(args, sky, ws, raw: dict, check: dict, load_before, since: str) -> dict:
    """The JSON written: conditions, the store check, latencies, memory, and every decision record."""
    import pandas as pd

    rss, n = raw["rss_mb"], args.sessions
    per_tab = (rss["all_sessions"] - rss["one_session"]) / (n - 1) if n > 1 else None
    acked = check["acknowledged"]
    return {
        "command": " ".join(["python", "benchmarks/bench_explorer_load.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "nproc": os.cpu_count(),
        "machine": platform.platform(), "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in load_before],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "versions": versions(raw["chromium"]), "sessions": n, "duration_s": args.duration,
        "flagging_s": raw["flagging_s"], "since": since, "cpu_s_during_flagging": raw["cpu_s_during_flagging"],
        "workspace": {"sky": str(sky), "workspace": str(ws),
                      "n_objects": len(pd.read_parquet(ws / "results.parquet", columns=["id"])),
                      "made_by": args.made},
        "server": "astrom3 serve SKY --workspace WS --port P --auth basic --users FILE (127.0.0.1)",
        "store_check": check, "decisions_per_minute": round(acked / raw["flagging_s"] * 60, 1),
        "latency": latency(raw["records"]), "session_open_s": raw["open_s"],
        "memory": {"rss_mb": rss, "mb_per_extra_tab": None if per_tab is None else round(per_tab, 1),
                   "after_flagging_mb_per_session": round((rss["after_flagging"] - rss["server_warm"]) / n, 1)},
        "records": raw["records"]}


def markdown(r: dict) -> str:
    """The results as a short Markdown report."""
    c, lat, mem, cpu = r["store_check"], r["latency"], r["memory"], r["cpu_s_during_flagging"]
    v = ", ".join(f"{k} {x}" for k, x in r["versions"].items())

    def ms(s):
        return " / ".join("–" if s[k] is None else f"{s[k]:.0f}" for k in ("p50_ms", "p95_ms", "max_ms"))
    made = f" (made by `{'` + `'.join(r['workspace']['made_by'])}`)" if r["workspace"].get("made_by") else ""
    verdict = "met" if c["missing"] == 0 and c["duplicated"] == 0 else "**missed**"
    return "\n".join([
        "# Explorer under load: concurrent sessions flagging", "",
        f"{r['sessions']} browser sessions (Playwright contexts of one Chromium, one basic-auth login each) "
        f"flagging through their review queues for {r['duration_s']} s against one `{r['server']}` on a workspace "
        f"of {r['workspace']['n_objects']:,} objects{made}. {r['date']}; `nproc` {r['nproc']} ({r['machine']}, Python "
        f"{r['python']}); load average at start {r['load_average_start']}, at end {r['load_average_end']}; {v}.", "",
        f"Command: `{r['command']}`.", "",
        "Each session reads the current suspect, presses a decision key (`n`, `f`, `x`, `a` in turn) and waits "
        "until the page acknowledges it (queue position moved on, the inspector shows the next suspect); latency "
        "from just before the key press to that, in the page. Then the real `FlagStore` is checked.", "",
        "| | |", "|---|---|",
        f"| decisions sent / acknowledged | {c['sent']} / {c['acknowledged']} "
        f"({r['decisions_per_minute']} per minute) |",
        f"| stored (this run's users, since it started) | {c['stored']} |",
        f"| acknowledged but missing from the store | {c['missing']} |",
        f"| acknowledged and stored more than once | {c['duplicated']} |",
        f"| stored but never acknowledged | {c['stored_unacknowledged']} |",
        f"| every acknowledged decision stored, none twice | {verdict} |",
        f"| decision latency p50 / p95 / max, all (ms) | {ms(lat['all'])} (n = {lat['all']['n']}) |",
        f"| first decision of a session (builds its learning queue) | {ms(lat['first_of_session'])} |",
        f"| later decisions | {ms(lat['later'])} |",
        f"| server RSS warm / 1 session / {r['sessions']} sessions / after flagging (MB) | "
        + " / ".join(f"{mem['rss_mb'][k]:.0f}" for k in ("server_warm", "one_session", "all_sessions",
                                                          "after_flagging")) + " |",
        f"| server memory per extra tab (open, before flagging) | {mem['mb_per_extra_tab']} MB |",
        f"| server memory per session after flagging | {mem['after_flagging_mb_per_session']} MB |",
        f"| session open (login → queue shown), s | {', '.join(str(x) for x in r['session_open_s'])} |",
        f"| CPU seconds used while flagging ({r['flagging_s']:.0f} s wall, {r['nproc']} cores): server / Chromium | "
        f"{cpu['server']} / {cpu['chromium']} |", "",
        f"While flagging, the server process used {cpu['server'] / r['flagging_s']:.0%} of one core and the "
        f"Chromium processes (all {r['sessions']} tabs) {cpu['chromium'] / r['flagging_s']:.1f} cores, of the "
        f"machine's {r['nproc']} (shared with other jobs, see the load averages): the latencies above include "
        "the browsers' rendering on the server's cores, which a team on its own machines would not have.", ""])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", default=None, help="sky directory (simulated if missing)")
    ap.add_argument("--workspace", default=None, help="workspace (analysed if it has no results)")
    ap.add_argument("--n", type=int, default=2000, help="objects of a simulated sky (default 2000)")
    ap.add_argument("--sessions", type=int, default=10, help="browser sessions, one user each (default 10)")
    ap.add_argument("--duration", type=float, default=120, help="seconds of flagging (default 120)")
    ap.add_argument("--out", default=str(RESULTS), help="where explorer_load.json/.md go (default benchmarks/results)")
    ap.add_argument("--smoke", action="store_true", help="2 sessions, 15 s, results in a temporary directory")
    args = ap.parse_args(argv)
    if args.smoke:
        args.sessions, args.duration = 2, 15
        args.out = args.out if args.out != str(RESULTS) else tempfile.mkdtemp(prefix="bench_explorer_load_out_")
    from conftest import free_port

    load_before = os.getloadavg()
    sky, ws = prepare_workspace(args)
    tmp = Path(tempfile.mkdtemp(prefix="bench_explorer_load_serve_"))
    users = write_users(args.sessions, tmp)
    port = free_port()
    log(f"serving {ws} on 127.0.0.1:{port} (log {tmp / 'serve.log'})")
    proc = serve(sky, ws, port, tmp / "users.json", tmp / "serve.log")
    try:
        raw = asyncio.run(drive(args, f"http://127.0.0.1:{port}", users, proc))
    finally:
        stop(proc)
    check = check_store(ws, raw["records"], users, raw["flagging_started"])
    result = summarise(args, sky, ws, raw, check, load_before, raw["flagging_started"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "explorer_load.json").write_text(json.dumps(result, indent=2))
    md = markdown(result)
    (out / "explorer_load.md").write_text(md)
    print(md)
    log(f"wrote {out / 'explorer_load.json'} and .md")
    return 0 if check["missing"] == 0 and check["duplicated"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
