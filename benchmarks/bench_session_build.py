"""Server time of one new explorer session (issue 13: page load -> map drawn in 2.5 s).

Serves the explorer in this process (``panel.io.server.get_server`` with ``build_app(sky, ws)``,
what ``panel serve apps/explorer.py`` runs per session) and plays a browser's page load from a
client thread, without the browser: ``GET /explorer`` (the server builds the session: views,
template, the datashaded map, and renders the page) then the websocket's ``PULL-DOC-REQ`` (the
server serialises the whole document; the browser can draw only after this reply). The first
session warms the process (workspace loaded, shaded image cached, imports); the next ones are
the figures: median of the warm sessions. Each session then says it is drawn (``document_ready``,
as BokehJS does), and the server's work on that (Panel's onload callbacks) is timed apart.
``--profile N`` adds N sessions under cProfile (the server's thread), its top cumulative costs
up to the drawn page and after it printed and kept; their times are not in the figures.

Writes benchmarks/results/explorer_session_build.md and .json (``--label`` names the run: the
file keeps one entry per label, e.g. ``before`` and ``after``); the hand-written
``explorer_session_build_notes.md`` beside them is appended to the .md (``--render`` rewrites it).

    python benchmarks/bench_session_build.py [--sky /tmp/astrom3-demo/sky20k-s0
        --workspace /tmp/astrom3-demo/ws20k-s0] [--sessions 7] [--profile 3] [--label after]
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import re
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


#: What the browser sends once it has drawn the document: Panel then runs the session's onload callbacks.
DOCUMENT_READY = json.dumps({"events": [{"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": {
    "type": "event", "name": "document_ready", "values": {"type": "map"}}}]})


async def _read(ws, timeout=None) -> tuple[dict, int]:
    """One protocol message (header, metadata, content, buffers): ``(header, bytes)``; counted, not parsed."""
    header = await (ws.read_message() if timeout is None else asyncio.wait_for(ws.read_message(), timeout))
    size = len(await ws.read_message()) + len(await ws.read_message())
    head = json.loads(header)
    for _ in range(2 * int(head.get("num_buffers", 0))):
        size += len(await ws.read_message())
    return head, size


def pull_doc(port: int, token: str, quiet: float = 1.5, on_drawn=None) -> tuple[float, int, float]:
    """Open the session's websocket, pull its document, then say it is drawn (``document_ready``).

    Returns ``(seconds to the document, its bytes, seconds from document_ready to the server's last
    message)``: the last is the work deferred until the page is shown (the figures, the first
    focus), over when the server has been quiet for ``quiet`` seconds. ``on_drawn()`` is called
    between the two.
    """
    from tornado.websocket import websocket_connect

    async def send(ws, msgid: str, msgtype: str, content: str = "{}"):
        for text in (json.dumps({"msgid": msgid, "msgtype": msgtype}), "{}", content):
            await ws.write_message(text)

    async def run():
        ws = await websocket_connect(f"ws://127.0.0.1:{port}/explorer/ws", subprotocols=["bokeh", token])
        try:
            await _read(ws)  # the server's ACK, once the session is attached
            t0 = time.perf_counter()
            await send(ws, "1", "PULL-DOC-REQ")
            head, size = await _read(ws)
            while head.get("msgtype") != "PULL-DOC-REPLY":
                head, size = await _read(ws)
            t_doc = time.perf_counter() - t0
            if on_drawn is not None:
                on_drawn()
            t1 = last = time.perf_counter()
            await send(ws, "2", "PATCH-DOC", DOCUMENT_READY)
            try:
                await _read(ws, timeout=60)  # the reply to document_ready comes after the onload callbacks
                last = time.perf_counter()
                while True:
                    await _read(ws, timeout=quiet)
                    last = time.perf_counter()
            except asyncio.TimeoutError:
                pass
            return t_doc, size, last - t1
        finally:
            ws.close()

    return asyncio.run(run())


def one_session(port: int, on_drawn=None) -> dict:
    """One page load without a browser: the HTML page, the document over the websocket, document_ready."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/explorer", timeout=300) as r:
        page = r.read().decode()
    t_html = time.perf_counter() - t0
    token = re.search(r'"token":\s*"([^"]+)"', page).group(1)
    t_pull, size, t_load = pull_doc(port, token, on_drawn=on_drawn)
    return {"html_s": t_html, "pull_s": t_pull, "total_s": t_html + t_pull, "doc_bytes": size,
            "after_load_s": t_load}


class Profiles:
    """Two cProfiles of the server thread: up to the drawn page (``page``), and after it (``after_load``)."""

    def __init__(self, loop):
        self.loop, self.page, self.after_load, self._on = loop, cProfile.Profile(), cProfile.Profile(), None

    def switch(self, name: str | None) -> None:
        """Profile ``name`` (None: nothing) from now on, in the server's thread; returns once switched."""
        done = threading.Event()

        def flip():
            if self._on is not None:
                self._on.disable()
            self._on = None if name is None else getattr(self, name)
            if self._on is not None:
                self._on.enable()
            done.set()
        self.loop.add_callback(flip)
        done.wait()


def drive(server, n: int, profiles: Profiles | None, n_profiled: int, out: list, errors: list) -> None:
    """Client thread: ``n`` timed sessions, then ``n_profiled`` more profiled in the server thread."""
    try:
        for i in range(n + (n_profiled if profiles is not None else 0)):
            prof = profiles if i >= n else None
            if prof:
                prof.switch("page")
            out.append(one_session(server.port, on_drawn=(lambda: prof.switch("after_load")) if prof else None))
            if prof:
                prof.switch(None)
            r = out[-1]
            print(f"session {i + 1}{' (profiled)' if prof else ''}: page {r['html_s']:.2f} s, document "
                  f"{r['pull_s']:.2f} s ({r['doc_bytes'] / 1e6:.1f} MB), after load {r['after_load_s']:.2f} s",
                  file=sys.stderr, flush=True)
    except Exception as exc:  # noqa: BLE001 - reported by main
        errors.append(exc)
    finally:
        server.io_loop.add_callback(server.io_loop.stop)


def serve_and_measure(sky, ws, n: int, n_profiled: int = 0) -> tuple[list[dict], Profiles | None]:
    """Serve the explorer on a free port in this thread while :func:`drive` loads the sessions.

    Returns the timed sessions (the first warms the process) and the profiles (None without ``n_profiled``).
    """
    import panel as pn  # noqa: F401 - before the explorer, as panel serve does
    from panel.io.server import get_server

    from explorer.app import build_app

    server = get_server({"explorer": lambda: build_app(sky, ws)}, port=0, address="127.0.0.1", show=False,
                        start=False, title="AstroM3 Explorer")
    profiles = Profiles(server.io_loop) if n_profiled else None
    out, errors = [], []
    threading.Thread(target=drive, args=(server, n, profiles, n_profiled, out, errors), daemon=True).start()
    server.start()
    server.io_loop.start()
    server.stop()
    if errors:
        raise errors[0]
    return out[:n], profiles


#: Frames left out of the top-cumulative list: the event loop, Tornado and Bokeh's server plumbing
#: (every cost sits under them) and the standard library.
PLUMBING = ("/lib/python3", "~", "tornado/", "bokeh/server/", "bokeh/protocol/", "panel/io/server.py",
            "panel/io/application.py", "panel/io/handlers.py", "panel/viewable.py:351", "panel/io/state.py")

#: (what, file, function) of the named costs of a session.
KEY_COSTS = (
    ("the session's views (build_views)", "explorer/app.py", "build_views"),
    ("build_app: views, layout, template", "explorer/app.py", "build_app"),
    ("HoloViews/Panel extensions", "explorer/app.py", "_extensions"),
    ("template: Bokeh models of every part, roots added", "panel/template/base.py", "_init_doc"),
    ("the map's HoloViews plot", "holoviews/plotting/renderer.py", "get_plot"),
    ("Bokeh walks of every model (recompute)", "bokeh/document/models.py", "recompute"),
    ("page HTML (template render)", "panel/io/server.py", "server_html_page_for_session"),
    ("document serialised", "bokeh/document/document.py", "to_json"),
    ("inspector put on the page", "explorer/views/inspector.py", "_show_body"),
    ("inspector figures built", "explorer/views/figures.py", "__init__"),
    ("first focus drawn", "explorer/views/inspector.py", "_draw_focus"),
    ("review queue's first focus", "explorer/views/review.py", "_start"),
)


def _short(file: str) -> str:
    return file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")


def top_costs(stats: pstats.Stats, sessions: int, limit: int = 40) -> list[dict]:
    """The functions with the largest cumulative time per profiled session (:data:`PLUMBING` left out)."""
    rows = []
    for (file, line, name), (_cc, calls, tt, ct, _callers) in stats.stats.items():
        where = f"{_short(file)}:{line}"
        if any(p in where for p in PLUMBING):
            continue
        rows.append({"function": f"{where}({name})", "calls": calls / sessions, "cumulative_s": ct / sessions,
                     "own_s": tt / sessions})
    rows.sort(key=lambda r: -r["cumulative_s"])
    return rows[:limit]


def key_costs(stats: pstats.Stats, sessions: int) -> list[dict]:
    """:data:`KEY_COSTS` found in ``stats``, per profiled session (of same-named functions in a file, the
    outermost: the one with the largest cumulative time, e.g. a template's ``_init_doc`` calling its base's)."""
    rows = []
    for what, file, name in KEY_COSTS:
        hits = [(v[3], v[1]) for (f, _line, n), v in stats.stats.items() if n == name and _short(f) == file]
        if hits:
            cumulative, calls = max(hits)
            rows.append({"function": f"{what}: {file}({name})", "calls": calls / sessions,
                         "cumulative_s": cumulative / sessions, "own_s": None})
    return rows


def conditions() -> dict:
    import bokeh
    import panel

    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": list(os.getloadavg()),
            "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "panel": panel.__version__, "bokeh": bokeh.__version__}


def summary(runs: list[dict]) -> dict:
    warm = runs[1:]
    med = {k: statistics.median(r[k] for r in warm) for k in ("html_s", "pull_s", "total_s", "after_load_s")}
    return {"first_session": runs[0], "warm_sessions": warm, "median": med,
            "doc_bytes": statistics.median(r["doc_bytes"] for r in warm)}


def _profile_table(rows: list[dict], limit: int = 25) -> list[str]:
    def own(v) -> str:
        return "" if v is None else f"{v * 1e3:.0f} ms"  # None: not one function
    return ["| function | calls | cumulative | own |", "|---|---|---|---|"] + [
        f"| `{p['function']}` | {p['calls']:.1f} | {p['cumulative_s'] * 1e3:.0f} ms | {own(p['own_s'])} |"
        for p in rows[:limit]]


def markdown(results: dict, folder: Path = RESULTS) -> str:
    lines = ["# Server time of a new explorer session", "",
             "`python benchmarks/bench_session_build.py`: the explorer served in-process "
             "(`panel.io.server.get_server`, `build_app(sky, ws)`, what `panel serve apps/explorer.py` runs per "
             "session); each session is a page load without a browser: `GET /explorer` (the server builds the "
             "session and renders the page), then the websocket's `PULL-DOC-REQ` (the server serialises the "
             "document; the browser draws after it). The first session warms the process; the figures are the "
             "median of the warm ones. *After document_ready* is what the server does once the page says it is "
             "drawn (Panel's onload callbacks: the review queue's first focus, the inspector's figures), until "
             "its last message: not on the way to the map.", "",
             "| run | date | load average (1, 5, 15 min) | warm sessions | page (build + render) | "
             "document pull | **page + document** | every run | document | after document_ready |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in results.items():
        c, m = r["conditions"], r["median"]
        every = ", ".join(f"{s['total_s']:.2f}" for s in r["warm_sessions"])
        lines.append(f"| {label} | {c['date']} | {', '.join(f'{v:.1f}' for v in c['load_before'])} | "
                     f"{len(r['warm_sessions'])} | {m['html_s']:.2f} s | {m['pull_s']:.2f} s | "
                     f"**{m['total_s']:.2f} s** | {every} | {r['doc_bytes'] / 1e6:.2f} MB | "
                     f"{m['after_load_s']:.2f} s |")
    lines += ["", "Sky and workspace: " + "; ".join(sorted({f"`{r['sky']}`, `{r['workspace']}`"
                                                        for r in results.values()})) + "."]
    for label, r in results.items():
        prof = r.get("profile")
        if prof:
            lines += ["", f"## Top cumulative costs per profiled session ({label}, {prof['sessions']} sessions, "
                      "cProfile of the server thread: times inflated by the profiler)", "",
                      "Named costs, up to the drawn page and after document_ready:", "",
                      *_profile_table(prof["key"], 30), "",
                      "Top cumulative, up to the drawn page (page + document; the server's plumbing left out):", "",
                      *_profile_table(prof["page"], 20), "",
                      "Top cumulative, after document_ready:", "", *_profile_table(prof["after_load"], 12)]
    notes = folder / "explorer_session_build_notes.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", default="/tmp/astrom3-demo/sky20k-s0")
    ap.add_argument("--workspace", default="/tmp/astrom3-demo/ws20k-s0")
    ap.add_argument("--sessions", type=int, default=7, help="timed sessions (the first one warms the process)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="then N more sessions under cProfile (server thread), their top costs printed and kept")
    ap.add_argument("--dump", default=None, help="also write the profiles' pstats to DUMP.page / DUMP.after_load")
    ap.add_argument("--label", default="current", help="name of this run in the results file")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of explorer_session_build.md/.json")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the .json (e.g. after the notes)")
    args = ap.parse_args(argv)
    if args.render:
        results = json.loads((args.results / "explorer_session_build.json").read_text())
        (args.results / "explorer_session_build.md").write_text(markdown(results, args.results))
        return 0
    cond = conditions()
    runs, profiles = serve_and_measure(args.sky, args.workspace, max(2, args.sessions), args.profile)
    res = {**summary(runs), "conditions": cond, "sky": args.sky, "workspace": args.workspace}
    if profiles is not None:
        res["profile"] = {"sessions": args.profile, "key": []}
        for name in ("page", "after_load"):
            stats = pstats.Stats(getattr(profiles, name), stream=io.StringIO())
            res["profile"][name] = top_costs(stats, args.profile)
            res["profile"]["key"] += [{**r, "function": f"{name}: {r['function']}"} for r in key_costs(stats, args.profile)]
            if args.dump:
                stats.dump_stats(f"{args.dump}.{name}")
            stats.sort_stats("cumulative").print_stats(40)
            print(f"--- {name}, {args.profile} sessions ---\n{stats.stream.getvalue()}")
    m = res["median"]
    print(f"warm sessions: page {m['html_s']:.2f} s + document {m['pull_s']:.2f} s = {m['total_s']:.2f} s, "
          f"after load {m['after_load_s']:.2f} s (median of {len(runs) - 1}); load before {cond['load_before']}")
    if not args.no_write:
        path = args.results / "explorer_session_build.json"
        results = json.loads(path.read_text()) if path.exists() else {}
        results[args.label] = res
        path.write_text(json.dumps(results, indent=1))
        (args.results / "explorer_session_build.md").write_text(markdown(results, args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
