"""Explorer in a real browser: start -> first paint, 10k-point box selection -> table updated,
focus -> inspector drawn (targets 5 s / 300 ms / 500 ms), and a screenshot of each main view.

Serves the analysed demo workspace (``demo/sky20k-s0`` + ``demo/ws20k-s0``, made by
``astrom3 simulate`` + ``astrom3 run --checkpoint demo``), or with
``--fake N`` a seeded fake workspace of N objects, with ``panel serve --warm`` on 127.0.0.1 as the
README starts it, and drives Debian's Chromium through Playwright. Times are taken in the page
(``performance.now()`` from the action to the DOM change, polled every few ms), so Playwright's
round trips are not in them.
Writes benchmarks/results/explorer.md and .json and benchmarks/results/explorer_*.png.

    python benchmarks/bench_explorer.py [--sky demo/sky20k-s0 --workspace demo/ws20k-s0] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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

# Resolves with the ms from now until the selection count changes and the table shows rows.
WAIT_SELECTION = """([before]) => new Promise(resolve => {
  %s
  const t0 = performance.now();
  const done = () => {
    const now = text('.count').trim();
    return now !== '' && now !== before && within('.selection-table', '.tabulator-row');
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
    page.evaluate(f"() => {{ window.__benchTimer = ({js})([{json.dumps(arg)}]); }}")


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


def drag_box(page, box, x0, y0, x1, y1, before: str) -> float:
    """Box-select from fractions (x0, y0) to (x1, y1) of the map; ms from mouse-up to table filled."""
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1, steps=4)
    start_timer(page, WAIT_SELECTION, before)
    page.mouse.up()
    return read_timer(page)


def focus_time(page, cell, oid: str) -> float:
    """ms from a click on the table row of ``oid`` until the inspector shows it with its folded curve."""
    js = """([oid]) => new Promise(resolve => {
      %s
      const t0 = performance.now();
      const ok = () => text('.inspector-title').includes(oid) && within('.folded-lc', 'canvas');
      const tick = () => ok() ? resolve(performance.now() - t0)
          : performance.now() - t0 > 60000 ? resolve(-1) : setTimeout(tick, 2);
      tick(); })""" % DEEP
    cell.scroll_into_view_if_needed()
    start_timer(page, js, oid)
    cell.click()
    return read_timer(page)


def tab(page, name: str) -> None:
    page.locator(".bk-tab", has_text=name).first.click()
    page.wait_for_timeout(1500)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sky", default=str(ROOT / "demo" / "sky20k-s0"))
    ap.add_argument("--workspace", default=str(ROOT / "demo" / "ws20k-s0"))
    ap.add_argument("--fake", type=int, default=0, help="serve a fake workspace of this many objects instead")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    from conftest import LAUNCH_ARGS, free_port, start_server, stop_server  # tests/ui/conftest.py
    from playwright.sync_api import sync_playwright

    if args.fake:
        from explorer.testing import make_fake_workspace
        sky, ws = make_fake_workspace(tempfile.mkdtemp(prefix="bench_explorer_"), n=args.fake, seed=11, n_points=150)
    else:
        sky, ws = Path(args.sky), Path(args.workspace)
        if not (ws / "results.parquet").exists():
            raise SystemExit(f"{ws} has no results: run `astrom3 run {sky} --workspace {ws} "
                             f"--checkpoint demo` first")
    import pandas as pd
    results = pd.read_parquet(Path(ws) / "results.parquet", columns=["id", "umap_x", "umap_y", "mislabel_score"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    t0 = time.perf_counter()
    proc = start_server(sky, ws, port, warm=True)
    server_ready = time.perf_counter() - t0
    url = f"http://127.0.0.1:{port}/explorer"
    shown = Path(sky).resolve()
    out = {"sky": str(shown.relative_to(ROOT)) if shown.is_relative_to(ROOT) else str(sky), "n_objects": len(results), "server_ready_s": round(server_ready, 2),
           "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
            paints = []
            for i in range(args.repeats):
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                t = time.perf_counter()
                page.goto(url)
                page.locator(".map-plot canvas").first.wait_for(timeout=120000)
                paints.append(time.perf_counter() - t)
                if i < args.repeats - 1:
                    page.close()
            out["first_paint_s"] = [round(x, 2) for x in paints]
            page.bring_to_front()
            log(f"page loads {out['first_paint_s']}")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(RESULTS / "explorer_map.png"))
            box = page.locator(".map-plot").first.bounding_box()
            sel, counts = [], []
            page.locator("[title='Box Select']").first.click()  # once: a second click would switch it off
            for i in range(args.repeats):
                before = selected_text(page)
                # alternate a smaller and a larger box, so the count always changes
                sel.append(drag_box(page, box, 0.12, 0.10, 0.45 + 0.02 * i + 0.25 * (i % 2), 0.90, before))
                counts.append(int(selected_text(page).split()[0].replace(",", "")))
            out["selection_counts"] = counts
            out["selection_to_table_ms"] = [round(x) for x in sel]
            log(f"selections {counts}: {out['selection_to_table_ms']} ms")
            page.wait_for_timeout(800)
            page.screenshot(path=str(RESULTS / "explorer_selection.png"))
            ids = page.locator(".selection-table .tabulator-row .tabulator-cell[tabulator-field='id']")
            oids = [ids.nth(i + 1).inner_text().strip() for i in range(args.repeats)]
            out["focus_to_inspector_ms"] = [round(focus_time(page, ids.nth(i + 1), oid)) for i, oid in enumerate(oids)]
            log(f"focus {out['focus_to_inspector_ms']} ms")
            # the inspector on the top label-error suspect, full height
            page.set_viewport_size({"width": 1500, "height": 2300})
            page.locator(".review-info").first.scroll_into_view_if_needed()
            page.locator(".review-accept button, .review-skip button").first.wait_for()
            top = results.sort_values("mislabel_score", ascending=False).id.iloc[0]
            page.locator(".review-skip button").first.click()       # start the queue (focuses #2)
            page.locator(".review-back button").first.click()       # back to #1
            page.locator(".inspector-title").get_by_text(str(top)).first.wait_for(timeout=30000)
            page.wait_for_timeout(2500)
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
            narrow = browser.new_page(viewport={"width": 420, "height": 900})
            narrow.goto(url)
            narrow.locator(".map-plot canvas").first.wait_for(timeout=120000)
            narrow.wait_for_timeout(1500)
            narrow.screenshot(path=str(RESULTS / "explorer_narrow.png"))
            browser.close()
    finally:
        stop_server(proc)
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out["machine"] = f"{os.cpu_count()} cores, {platform.platform()}"
    (RESULTS / "explorer.json").write_text(json.dumps(out, indent=2))
    md = markdown(out, args.repeats)
    notes = RESULTS / "explorer_notes.md"
    if notes.exists():  # written by hand after looking at the run
        md += "\n" + notes.read_text()
    (RESULTS / "explorer.md").write_text(md)
    print(md)
    return 0


def markdown(out: dict, repeats: int) -> str:
    paints, sel, foc = out["first_paint_s"], out["selection_to_table_ms"], out["focus_to_inspector_ms"]
    later = statistics.median(paints[1:]) if len(paints) > 1 else paints[0]
    return "\n".join([
        "# Explorer in a real browser (Chromium, Playwright)", "",
        f"Workspace of {out['n_objects']:,} objects (`{out['sky']}`), `panel serve apps/explorer.py --warm` on "
        f"127.0.0.1, {repeats} repeats; {out['machine']}; load average before {out['load_average_before']}, "
        f"after {out['load_average_after']}. {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Selection and focus times are measured in the page, from the mouse-up / click to the DOM showing the "
        "result; page loads from `goto` until the map's canvas exists.", "",
        "| step | target | measured (median) | every run |", "|---|---|---|---|",
        f"| server start with `--warm` (process start → HTTP answers) | | {out['server_ready_s']:.1f} s | |",
        f"| page load → map drawn, first session | 5 s | {paints[0]:.1f} s | |",
        f"| page load → map drawn, later sessions | 5 s | {later:.1f} s | {', '.join(f'{x:.1f}' for x in paints[1:])} |",
        f"| box selection of {min(out['selection_counts']):,}–{max(out['selection_counts']):,} points → count + "
        f"table updated | 300 ms | {statistics.median(sel):.0f} ms | {', '.join(map(str, sel))} |",
        f"| table row click → inspector drawn (title + folded light curve) | 500 ms | {statistics.median(foc):.0f} ms "
        f"| {', '.join(map(str, foc))} |", "",
        "Screenshots: " + ", ".join(f"[{n}](explorer_{n}.png)" for n in
                                     ("map", "selection", "inspector", "clusters", "subclasses", "flags", "narrow")),
        ""])


if __name__ == "__main__":
    raise SystemExit(main())
