"""Explorer in a real browser: page load -> map drawn, box selection -> table updated, focus ->
inspector drawn (the first of a session apart), review-queue step, review step with learning, the
20-run first-selection loop, and a screenshot of each main view (issue 13's targets: 2.5 s, 300 ms,
1 s / 300 ms (p95 500 ms), 300 ms).

Serves the analysed demo workspace (``demo/sky20k-s0`` + ``demo/ws20k-s0``, made by
``astrom3 simulate`` + ``astrom3 run --checkpoint demo``), or with
``--fake N`` a seeded fake workspace of N objects, with ``panel serve --warm`` on 127.0.0.1 as the
README starts it, and drives Debian's Chromium through Playwright. Times are taken in the page
(``performance.now()`` from the action to the DOM change, polled every few ms), so Playwright's
round trips are not in them.
A focus or a review step is timed until the inspector's title shows the new id (its figures'
data arrive in the same message) and two animation frames have passed (the canvases repainted).
A review step is the skip key ``s`` (the cursor moves on); a review step *with learning* (issue 12) is
the decision key ``f`` in a new session: the decision is stored, the queue's
:class:`core.review.ReviewSession` re-ranks the rest, and the step is timed until the review line shows
the next position and the inspector a new id (the first decision, which opens the session, apart). The
server's flag store is a copy of the workspace's (``ASTROM3_FLAGS``), so these decisions stay out of it;
afterwards a new ReviewSession replaying the stored decisions checks that the suspect shown is its next.
Writes benchmarks/results/explorer.md and .json and benchmarks/results/explorer_*.png.

    python benchmarks/bench_explorer.py [--sky demo/sky20k-s0 --workspace demo/ws20k-s0] [--repeats 5]
        [--focuses 20] [--steps 20] [--learning-steps 20] [--selection-runs 20]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ui"))
RESULTS = ROOT / "benchmarks" / "results"

# Panel renders every component inside a shadow root, so the page's own document.querySelector
# does not see them: DEEP finds elements through the shadow roots.
DEEP = """const deep = (sel, root = document, out = []) => {
  root.querySelectorAll(sel).forEach(e => out.push(e));
  root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) deep(sel, e.shadowRoot, out); });
  return out; };
const within = (host, sel) => deep(host).some(h => deep(sel, h.shadowRoot || h).length > 0);
const text = host => deep(host).map(h => (h.shadowRoot || h).textContent).join(' ');"""

# Resolves with the ms from now until the count is shown and the table's first row id changes. The
# hosts are found once (walking every shadow root on each poll would load the page being measured).
WAIT_SELECTION = """([before, first]) => new Promise(resolve => {
  %s
  const counts = deep('.selection-count'), tables = deep('.selection-table');
  const firstId = () => {
    for (const h of tables) {
      const c = (h.shadowRoot || h).querySelector(".tabulator-row .tabulator-cell[tabulator-field='id']")
        || deep(".tabulator-row .tabulator-cell[tabulator-field='id']", h.shadowRoot || h)[0];
      if (c) return c.textContent.trim();
    }
    return ''; };
  const t0 = performance.now();
  const done = () => {
    const now = counts.map(h => (h.shadowRoot || h).textContent).join(' ').trim();
    return /[0-9] selected/.test(now) && firstId() !== '' && firstId() !== first;
  };
  const tick = () => done() ? resolve(performance.now() - t0)
      : performance.now() - t0 > 60000 ? resolve(-1) : setTimeout(tick, 2);
  tick();
})""" % DEEP

def selected_text(page) -> str:
    loc = page.locator(".selection-count .count")
    return loc.first.inner_text().strip() if loc.count() else ""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def start_timer(page, js: str, arg) -> None:
    """Start an in-page timer promise without waiting for it (evaluate would wait for it to resolve)."""
    args = arg if isinstance(arg, list) else [arg]
    page.evaluate(f"() => {{ window.__benchTimer = ({js})({json.dumps(args)}); }}")


def read_timer(page) -> float:
    """Wait for the timer started by :func:`start_timer`; its ms (the page gives up after 60 s)."""
    ms = float(page.evaluate("() => window.__benchTimer"))
    if ms < 0:
        shot = Path(tempfile.gettempdir()) / "bench_explorer_failed.png"
        page.screenshot(path=str(shot))
        seen = page.evaluate("() => {" + DEEP + " return [text('.count'), within('.selection-table', '.tabulator-row'),"
                             " text('.inspector-title').slice(0, 40)]; }")
        raise RuntimeError(f"the page did not show the expected change within 60 s (the page shows {seen}; "
                           f"screenshot {shot})")
    return ms


# Resolves with the ms from now until the inspector's title shows the id and two frames were painted.
WAIT_FOCUS = """([oid]) => new Promise(resolve => {
  %s
  const titles = deep('.inspector-title');
  const t0 = performance.now();
  const ok = () => titles.some(h => (h.shadowRoot || h).textContent.includes(oid));
  const painted = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  const tick = () => ok() ? painted()
      : performance.now() - t0 > 60000 ? resolve(-1) : setTimeout(tick, 2);
  tick(); })""" % DEEP


def first_row_id(page) -> str:
    cells = page.locator(".selection-table .tabulator-row .tabulator-cell[tabulator-field='id']")
    return cells.first.inner_text().strip() if cells.count() else ""


def drag_box(page, box, x0, y0, x1, y1, before: str) -> float:
    """Box-select from fractions (x0, y0) to (x1, y1) of the map; ms from mouse-up to the new first row."""
    first = first_row_id(page)
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1, steps=4)
    start_timer(page, WAIT_SELECTION, [before, first])
    page.mouse.up()
    return read_timer(page)


def focus_time(page, cell, oid: str) -> float:
    """ms from a click on the table row of ``oid`` until the inspector shows it (title, figures painted)."""
    cell.scroll_into_view_if_needed()
    start_timer(page, WAIT_FOCUS, oid)
    cell.click()
    return read_timer(page)


def step_time(page, oid: str) -> float:
    """ms from the skip key (``s``) until the inspector shows the queue's next suspect ``oid``."""
    start_timer(page, WAIT_FOCUS, oid)
    page.keyboard.press("s")
    return read_timer(page)


# Resolves with the ms from now until the review line shows 1-based position ``pos`` and the inspector's
# title an id other than ``old`` (the decided suspect), and two frames were painted.
WAIT_DECIDED = """([old, pos]) => new Promise(resolve => {
  %s
  const infos = deep('.review-info'), titles = deep('.inspector-title');
  const title = () => titles.map(h => (deep('h3', h.shadowRoot || h)[0] || {}).textContent || '').join('').trim();
  const moved = () => infos.some(h => (h.shadowRoot || h).textContent.trim().startsWith(pos + ' /'));
  const t0 = performance.now();
  const ok = () => moved() && title() !== '' && title() !== old;
  const painted = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  const tick = () => ok() ? painted()
      : performance.now() - t0 > 60000 ? resolve(-1) : setTimeout(tick, 2);
  tick(); })""" % DEEP


def inspected(page) -> str:
    """The id in the inspector's title."""
    return page.locator(".inspector-title h3").first.inner_text(timeout=60000).strip()


def decide_time(page, old: str, pos: int) -> float:
    """ms from the decision key ``f`` on ``old`` until the queue's next suspect (position ``pos``) is drawn."""
    start_timer(page, WAIT_DECIDED, [old, pos])
    page.keyboard.press("f")
    return read_timer(page)


def learning_steps(browser, url: str, n: int) -> tuple[dict, list[str], str]:
    """A new session decides ``n + 1`` suspects ``fine`` with the key; ``(times, decided ids, id shown last)``.

    The first decision opens the session's ReviewSession (reported apart); each of the ``n`` others
    stores one decision, re-ranks the queue and shows its next suspect.
    """
    page, _ = load_page(browser, url)
    page.locator(".review-info").get_by_text(re.compile(r"^1 /")).first.wait_for(timeout=60000)
    page.locator(".review-info").first.scroll_into_view_if_needed()
    page.locator("body").click(position={"x": 5, "y": 5})
    decided, out = [], []
    for i in range(n + 1):
        decided.append(inspected(page))
        out.append(decide_time(page, decided[-1], i + 2))
    shown = inspected(page)
    page.context.close()
    log(f"review steps with learning: first {out[0]:.0f} ms, then {[round(x) for x in out[1:]]} ms")
    return {"learning_first_decision_ms": round(out[0]), "learning_step_ms": [round(x) for x in out[1:]]}, \
        decided, shown


def check_learning(sky, ws, store_path: Path, decided: list[str], shown: str) -> dict:
    """Whether the store holds the steps' decisions and ``shown`` is what a new ReviewSession ranks next."""
    from core.flags import FlagStore
    from core.review import ReviewSession

    with FlagStore(store_path) as store:
        hist = store.history()
        mine = hist[hist["id"].astype(str).isin(decided)]
        flagged = set(store.current()["id"].astype(str))
        user = str(mine["user"].iloc[-1]) if len(mine) else ""
        sess = ReviewSession(ws, sky=sky, target="mislabel", user=user, store=store)
        expected = next((i for i in sess.ranking().index if i not in flagged), None)
    ok = len(mine) == len(decided) and expected == shown
    log(f"learning check: {len(mine)} of {len(decided)} decisions stored; shown {shown}, session's next {expected}")
    return {"learning_decisions_stored": int(len(mine)), "learning_next_matches_session": bool(ok)}


def private_store(ws) -> Path:
    """A copy of the workspace's flag store (a new one if it has none), for the server to write to."""
    import sqlite3

    dst = Path(tempfile.mkdtemp(prefix="bench_explorer_flags_")) / "flags.sqlite"
    src = Path(ws) / "flags.sqlite"
    if src.exists():
        a, b = sqlite3.connect(src), sqlite3.connect(dst)
        try:
            a.backup(b)
        finally:
            a.close()
            b.close()
    return dst


def tab(page, name: str) -> None:
    page.locator(".bk-tab", has_text=name).first.click()
    page.wait_for_timeout(1500)


def load_page(browser, url: str, viewport=(1500, 1000), context=None):
    """A new session: a new tab of ``context`` (the browser's cache kept), or of a new context (a cold cache);
    returns ``(page, seconds from goto to the map's canvas)``."""
    ctx = context or browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = ctx.new_page()
    t = time.perf_counter()
    page.goto(url)
    page.locator(".map-plot canvas").first.wait_for(timeout=120000)
    return page, time.perf_counter() - t


def select_first(page) -> tuple[float, int]:
    """Switch on box select and draw the first box of a session; ``(ms to the table's rows, count)``."""
    page.locator("[title='Box Select']").first.click()  # once: a second click would switch it off
    box = page.locator(".map-plot").first.bounding_box()
    ms = drag_box(page, box, 0.12, 0.10, 0.45, 0.90, selected_text(page))
    return ms, int(selected_text(page).split()[0].replace(",", ""))


def sessions(browser, url: str, repeats: int) -> dict:
    """``repeats`` new sessions, tabs of one browser context (the first with a cold cache, then as a user's
    next tab): page load, first box selection, first focus (a table row click) of each."""
    loads, first_sel, first_focus = [], [], []
    page, ctx = None, browser.new_context(viewport={"width": 1500, "height": 1000})
    for i in range(repeats):
        if page is not None:
            page.close()
        page, s = load_page(browser, url, context=ctx)
        loads.append(s)
        page.wait_for_timeout(1000)  # the queue's first suspect is focused once the page is loaded
        first_sel.append(select_first(page)[0])
        cell = page.locator(".selection-table .tabulator-row .tabulator-cell[tabulator-field='id']").nth(1)
        first_focus.append(focus_time(page, cell, cell.inner_text().strip()))
        log(f"session {i}: load {s:.2f} s, first selection {first_sel[-1]:.0f} ms, "
            f"first focus {first_focus[-1]:.0f} ms")
    return page, {"page_load_s": [round(x, 2) for x in loads], "first_selection_ms": [round(x) for x in first_sel],
                  "first_focus_ms": [round(x) for x in first_focus]}


def later_selections(page, repeats: int) -> dict:
    box = page.locator(".map-plot").first.bounding_box()
    sel, counts = [], []
    for i in range(repeats):
        # alternate the right and the left half of the map: disjoint sets, so the first row always changes
        x0, x1 = (0.55, 0.97) if i % 2 == 0 else (0.12, 0.5)
        sel.append(drag_box(page, box, x0, 0.08 + 0.01 * i, x1, 0.92, selected_text(page)))
        counts.append(int(selected_text(page).split()[0].replace(",", "")))
    log(f"selections {counts}: {[round(x) for x in sel]} ms")
    return {"selection_counts": counts, "selection_to_table_ms": [round(x) for x in sel]}


def later_focuses(page, n: int) -> dict:
    """Click ``n`` different table rows (next pages when one runs out), each a new object."""
    cells = page.locator(".selection-table .tabulator-row .tabulator-cell[tabulator-field='id']")
    out, row = [], 2  # rows 0 and 1 were focused by the sessions' first focuses
    while len(out) < n:
        if row >= cells.count():
            page.locator(".selection-table .tabulator-page[data-page='next']").first.click()
            page.wait_for_timeout(800)
            row = 0
        cell = cells.nth(row)
        out.append(focus_time(page, cell, cell.inner_text().strip()))
        row += 1
    log(f"later focuses {[round(x) for x in out]} ms")
    return {"later_focus_ms": [round(x) for x in out]}


def review_steps(page, queue: list[str], n: int) -> dict:
    """Press ``s`` ``n`` times; each step is timed until the next suspect is inspected."""
    page.locator(".review-info").first.scroll_into_view_if_needed()
    page.locator(".review-info").get_by_text("1 /").first.wait_for(timeout=30000)
    page.locator("body").click(position={"x": 5, "y": 5})
    out = [step_time(page, queue[i + 1]) for i in range(n)]
    log(f"review steps {[round(x) for x in out]} ms")
    return {"review_step_ms": [round(x) for x in out]}


def selection_loop(browser, url: str, runs: int) -> dict:
    """The UI test's first-selection loop: ``runs`` fresh pages, each box-selected once, must all list rows."""
    empty = []
    for i in range(runs):
        page, _ = load_page(browser, url, (1400, 1000))
        try:
            page.wait_for_timeout(500)
            select_first(page)
        except Exception as exc:  # noqa: BLE001 - counted and reported, with why
            empty.append(f"run {i}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        finally:
            page.context.close()
    log(f"selection loop: {runs - len(empty)} / {runs} filled the table")
    return {"selection_loop_runs": runs, "selection_loop_failures": empty}


def screenshots(browser, page, url: str, top: str) -> None:
    """The published screenshots: map, selection, inspector, clusters, subclasses, flags, narrow."""
    page.screenshot(path=str(RESULTS / "explorer_selection.png"))
    page.set_viewport_size({"width": 1500, "height": 2300})
    page.locator(".review-back button").first.click()
    page.locator(".inspector-title").get_by_text(str(top)).first.wait_for(timeout=30000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(RESULTS / "explorer_inspector.png"))
    page.set_viewport_size({"width": 1500, "height": 1000})
    tab(page, "Clusters")
    page.screenshot(path=str(RESULTS / "explorer_clusters.png"))
    tab(page, "Subclasses")
    page.locator(".subclasses-compute button").first.click()
    page.locator(".subclasses-result canvas").first.wait_for(timeout=180000)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(RESULTS / "explorer_subclasses.png"))
    tab(page, "Flags & export")
    page.screenshot(path=str(RESULTS / "explorer_flags.png"))
    fresh, _ = load_page(browser, url)
    fresh.wait_for_timeout(1500)
    fresh.screenshot(path=str(RESULTS / "explorer_map.png"))
    narrow, _ = load_page(browser, url, (420, 900))
    narrow.wait_for_timeout(1500)
    narrow.screenshot(path=str(RESULTS / "explorer_narrow.png"))


def workspace(args):
    if args.fake:
        from explorer.testing import make_fake_workspace
        return make_fake_workspace(tempfile.mkdtemp(prefix="bench_explorer_"), n=args.fake, seed=11, n_points=150)
    sky, ws = Path(args.sky), Path(args.workspace)
    if not (ws / "results.parquet").exists():
        raise SystemExit(f"{ws} has no results: run `astrom3 run {sky} --workspace {ws} --checkpoint demo` first")
    return sky, ws


def review_order(ws) -> list[str]:
    """The review queue a new session starts with (by mislabel score, decided objects left out)."""
    import pandas as pd

    from explorer.views.review import review_queue
    decided = set()
    if (Path(ws) / "flags.sqlite").exists():
        from core.flags import FlagStore
        with FlagStore(Path(ws) / "flags.sqlite") as store:
            decided = set(store.current()["id"].astype(str))
    return review_queue(pd.read_parquet(Path(ws) / "results.parquet", columns=["id", "mislabel_score"]),
                        "mislabel_score", decided)


def conditions(browser_version: str) -> dict:
    from importlib.metadata import version
    return {"machine": f"{os.cpu_count()} cores, {platform.platform()}", "python": platform.python_version(),
            "versions": {p: version(p) for p in ("panel", "bokeh", "holoviews", "datashader", "playwright")}
            | {"chromium": browser_version}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", default=str(ROOT / "demo" / "sky20k-s0"))
    ap.add_argument("--workspace", default=str(ROOT / "demo" / "ws20k-s0"))
    ap.add_argument("--fake", type=int, default=0, help="serve a fake workspace of this many objects instead")
    ap.add_argument("--repeats", type=int, default=5, help="new sessions (page load, first selection and focus)")
    ap.add_argument("--focuses", type=int, default=20, help="later focuses (table row clicks)")
    ap.add_argument("--steps", type=int, default=20, help="review-queue steps")
    ap.add_argument("--learning-steps", type=int, default=None,
                    help="review steps with learning after the first decision (default: --steps; 0: skip)")
    ap.add_argument("--selection-runs", type=int, default=20, help="fresh pages of the first-selection loop (0: skip)")
    ap.add_argument("--no-screenshots", action="store_true")
    args = ap.parse_args(argv)
    from conftest import LAUNCH_ARGS, free_port, start_server, stop_server  # tests/ui/conftest.py
    from playwright.sync_api import sync_playwright

    from core.flags.common import STORE_ENV

    sky, ws = workspace(args)
    queue = review_order(ws)
    n = len(__import__("pandas").read_parquet(Path(ws) / "results.parquet", columns=["id"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    out = {"load_average_before": [round(x, 2) for x in os.getloadavg()]}
    t0 = time.perf_counter()
    store = private_store(ws)  # the learning steps' decisions go to a copy, not to the workspace's store
    proc = start_server(sky, ws, port, warm=True, env={STORE_ENV: str(store)})
    shown = Path(sky).resolve()
    out |= {"sky": str(shown.relative_to(ROOT)) if shown.is_relative_to(ROOT) else str(sky), "n_objects": n,
            "server_ready_s": round(time.perf_counter() - t0, 2)}
    url = f"http://127.0.0.1:{port}/explorer"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
            out |= conditions(browser.version)
            page, first = sessions(browser, url, args.repeats)
            out |= first | later_selections(page, args.repeats) | later_focuses(page, args.focuses)
            out |= review_steps(page, queue, args.steps)
            if not args.no_screenshots:
                screenshots(browser, page, url, queue[args.steps - 1])
            learning = args.steps if args.learning_steps is None else args.learning_steps
            if learning:
                got, decided, shown = learning_steps(browser, url, learning)
                out |= got | check_learning(sky, ws, store, decided, shown)
            if args.selection_runs:
                out |= selection_loop(browser, url, args.selection_runs)
            browser.close()
    finally:
        stop_server(proc)
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    (RESULTS / "explorer.json").write_text(json.dumps(out, indent=2))
    md = markdown(out, args)
    notes = RESULTS / "explorer_notes.md"
    if notes.exists():  # written by hand after looking at the run
        md += "\n" + notes.read_text()
    (RESULTS / "explorer.md").write_text(md)
    print(md)
    return 0


def p95(values) -> float:
    return float(statistics.quantiles(values, n=20, method="inclusive")[-1]) if len(values) > 1 else float(values[0])


def learning_rows(out: dict) -> list[str]:
    """The table's rows for the review steps with learning (none if they were not run)."""
    if "learning_first_decision_ms" not in out:
        return []
    steps = out["learning_step_ms"]
    check = ("the suspect shown is the session's next" if out["learning_next_matches_session"]
             else "**the suspect shown is not the session's next**")
    rows = [f"| first decision of a session (key `f` → ReviewSession opened, next suspect drawn) | | "
            f"{out['learning_first_decision_ms']:.0f} ms | | {out['learning_decisions_stored']} decisions stored; "
            f"{check} |"]
    if steps:
        rows += [f"| review step with learning (decide → next suspect shown), median | | "
                 f"{statistics.median(steps):.0f} ms | | {', '.join(f'{x:.0f}' for x in steps)} |",
                 f"| review step with learning, p95 | | {p95(steps):.0f} ms | | |"]
    return rows


def markdown(out: dict, args) -> str:
    loads, fsel, ffoc = out["page_load_s"], out["first_selection_ms"], out["first_focus_ms"]
    sel, foc, steps = out["selection_to_table_ms"], out["later_focus_ms"], out["review_step_ms"]
    med = statistics.median

    def runs(v, fmt="{:.0f}"):
        return ", ".join(fmt.format(x) for x in v)

    def ok(value, target):
        return "met" if value <= target else "**missed**"
    rows = [
        f"| page load → map drawn, first session (cold browser cache) | 2.5 s | {loads[0]:.2f} s | "
        f"{ok(loads[0], 2.5)} | |",
        f"| page load → map drawn, new sessions (new tabs) | 2.5 s | {med(loads[1:] or loads):.2f} s | "
        f"{ok(med(loads[1:] or loads), 2.5)} | {runs(loads[1:], '{:.2f}')} |",
        f"| first box selection of a session → count + first row changed | 300 ms | {med(fsel):.0f} ms | "
        f"{ok(med(fsel), 300)} | {runs(fsel)} |",
        f"| later box selections ({min(out['selection_counts']):,}–{max(out['selection_counts']):,} points) | "
        f"300 ms | {med(sel):.0f} ms | {ok(med(sel), 300)} | {runs(sel)} |",
        f"| first focus of a session (table row click → inspector drawn) | 1 s | {med(ffoc):.0f} ms | "
        f"{ok(med(ffoc), 1000)} | {runs(ffoc)} |",
        f"| later focus (each a new object), median | 300 ms | {med(foc):.0f} ms | {ok(med(foc), 300)} | {runs(foc)} |",
        f"| later focus, p95 | 500 ms | {p95(foc):.0f} ms | {ok(p95(foc), 500)} | |",
        f"| review queue step (key `s` → next suspect drawn), median | 300 ms | {med(steps):.0f} ms | "
        f"{ok(med(steps), 300)} | {runs(steps)} |",
        f"| review queue step, p95 | | {p95(steps):.0f} ms | | |", *learning_rows(out)]
    if "selection_loop_runs" in out:
        f = out["selection_loop_failures"]
        rows.append(f"| first selection of a fresh page, {out['selection_loop_runs']} runs in a row | 0 failures | "
                    f"{len(f)} failures | {ok(len(f), 0)} | {f or ''} |")
    v = out["versions"]
    return "\n".join([
        "# Explorer in a real browser (Chromium, Playwright)", "",
        f"Workspace of {out['n_objects']:,} objects (`{out['sky']}`), `panel serve apps/explorer.py --warm` on "
        f"127.0.0.1 (server ready in {out['server_ready_s']:.1f} s); {out['machine']}, Python {out['python']}, "
        + ", ".join(f"{k} {x}" for k, x in v.items()) + f". Load average before {out['load_average_before']}, "
        f"after {out['load_average_after']}. {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
        f"{args.repeats} new sessions (each: page load, first selection, first focus), then in the last one "
        f"{args.repeats} more selections, {args.focuses} focuses and {args.steps} review steps (key `s`); then in a "
        "new session review steps with learning (key `f`: the decision stored in a copy of the flag store, the "
        "queue re-ranked by its ReviewSession, the next suspect drawn; the first decision, which opens the "
        "session, apart). Times are taken in "
        "the page (`performance.now()`, polled every 2 ms) from the mouse-up / click / key press until the DOM "
        "shows the result: for a selection the count and the table's first row id changed; for a focus or a step "
        "the inspector's title shows the new id (its figures' data come in the same message) and two animation "
        "frames have passed; page loads from `goto` until the map's canvas exists.", "",
        "| step | target | measured | | every run |", "|---|---|---|---|---|", *rows, "",
        "Screenshots: " + ", ".join(f"[{n}](explorer_{n}.png)" for n in
                                     ("map", "selection", "inspector", "clusters", "subclasses", "flags", "narrow")),
        ""])


if __name__ == "__main__":
    raise SystemExit(main())
