"""The explorer on a survey-size workspace in a real browser (issue 14's dashboard targets).

Usage::

    python benchmarks/bench_explorer_scale.py --sky SKY --workspace WS          # an analysed sky (1M)
    python benchmarks/bench_explorer_scale.py --synthetic 10000000              # a synthetic results table

Serves the workspace with ``panel serve --warm`` on 127.0.0.1 (as ``astrom3 serve`` does; the results
are read once when the server starts, then shared by every session) and drives Debian's Chromium through
Playwright, timing in the page as ``bench_explorer.py`` does:

* first paint: new tab -> the map's canvas, then -> the first datashaded image in the map's data source;
* box selections of growing size -> the count shown and the table's first row changed;
* focus: a table row click -> the inspector's title and figures drawn;
* zoom (mouse wheel) and pan (drag) -> a new datashaded image arrived and painted;
* memory: the server's resident memory after each of ``--tabs`` open tabs (all left open).

``--synthetic N`` writes a catalogue-only sky and a results table of ``N`` rows with every column of the
results contract (:func:`explorer.testing.fake_results`: seeded scores, points in class blobs); nothing
in it is science, only its size. Writes ``benchmarks/results/explorer_scale.md`` and ``.json``; each
size is a row kept across runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ui"))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"

from bench_explorer import (focus_time, load_page, log, read_timer, selected_text,  # noqa: E402
                            start_timer, drag_box)

# Resolves with the ms from now until a datashaded image (a data source with an 'image' column) is
# replaced by a new one and two frames are painted; ``wait_first`` only waits for one to exist.
WAIT_IMAGE = """([mode]) => new Promise(resolve => {
  const sources = () => {
    const out = [];
    for (const doc of (window.Bokeh && Bokeh.documents) || [])
      for (const m of doc.all_models) if (m.data && m.data.image !== undefined) out.push(m);
    return out; };
  const before = mode === 'first' ? [] : sources().map(s => s.data.image);
  const t0 = performance.now();
  const changed = () => {
    const now = sources().map(s => s.data.image);
    return mode === 'first' ? now.length > 0 && now.some(a => a.length > 0)
                            : now.some((a, i) => a !== before[i]);
  };
  const painted = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  const tick = () => changed() ? painted()
      : performance.now() - t0 > 60000 ? resolve(-1) : setTimeout(tick, 5);
  tick(); })"""


def server_rss_mb(pid: int) -> float:
    """Resident memory of the server process (VmRSS), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_workspace(n: int, root: Path, seed: int = 0) -> tuple[Path, Path]:
    """A catalogue-only sky and a results table of ``n`` rows (written once, reused by later runs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core import schema
    from core.workspace import Workspace
    from explorer.testing import CLASSES, fake_results

    sky, ws = root / f"synthetic-{n}" / "sky", root / f"synthetic-{n}" / "ws"
    if (ws / schema.RESULTS_FILE).exists():
        return sky, ws
    log(f"writing a synthetic workspace of {n:,} rows under {sky.parent}")
    ids = np.char.add("S", np.arange(n).astype(str)).astype(object)
    labels = np.array(CLASSES, dtype=object)[np.arange(n) % len(CLASSES)]
    labels[np.arange(n) % 10 == 9] = None
    sky.mkdir(parents=True, exist_ok=True)
    ws.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pq.write_table(pa.table({"id": pa.array(ids, pa.string()), "label": pa.array(labels, pa.string()),
                             "period": rng.uniform(0.2, 300, n), "parallax": rng.uniform(0.1, 3, n)}),
                   sky / schema.OBJECTS_FILE)
    res = fake_results(ids, labels, seed)
    res.to_parquet(ws / schema.RESULTS_FILE, index=False)
    del res
    Workspace(ws).record(schema.RESULTS_FILE, {"synthetic": {"n": n, "seed": seed}})
    return sky, ws


def first_paint(browser, url: str, repeats: int) -> dict:
    """``repeats`` new tabs (one context, as a user opens them): seconds to the canvas and to the first image."""
    canvas, image = [], []
    ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
    for _ in range(repeats):
        t = time.perf_counter()
        page, s = load_page(browser, url, context=ctx)
        start_timer(page, WAIT_IMAGE, "first")
        read_timer(page)
        canvas.append(s)
        image.append(time.perf_counter() - t)
        page.close()
    log(f"first paint: canvas {canvas} s, image {image} s")
    return {"canvas_s": [round(x, 2) for x in canvas], "first_image_s": [round(x, 2) for x in image]}


def settled(page) -> None:
    """Wait until the page is whole: the first image drawn and the inspector (put on the page after load,
    which redraws the layout) showing the queue's first suspect."""
    start_timer(page, WAIT_IMAGE, "first")
    read_timer(page)
    page.locator(".inspector-title").first.wait_for(timeout=120000)
    page.wait_for_timeout(1000)


def selections(page, widths) -> list[dict]:
    """Box selections of the given widths (fractions of the map), left and right of the map's middle in
    turn (consecutive selections are disjoint, so the table's first row changes); count and ms each."""
    page.locator(".map-plot [title='Box Select']").first.click()
    box = page.locator(".map-plot").first.bounding_box()
    out = []
    for i, w in enumerate(widths):
        x0, x1 = (0.55 - w, 0.545) if i % 2 == 0 else (0.555, 0.55 + w)
        ms = drag_box(page, box, x0, 0.12, x1, 0.88, selected_text(page))  # below the toolbar
        out.append({"width": w, "count": int(selected_text(page).split()[0].replace(",", "")), "ms": round(ms)})
        log(f"selection {out[-1]}")
    return out


def focuses(page, n: int) -> list[float]:
    cells = page.locator(".selection-table .tabulator-row .tabulator-cell[tabulator-field='id']")
    times = []
    for row in range(min(n, cells.count())):
        cell = cells.nth(row)
        times.append(round(focus_time(page, cell, cell.inner_text().strip())))
    log(f"focus {times} ms")
    return times


def zoom_and_pan(browser, url: str, repeats: int) -> dict:
    """Wheel-zoom into the map's centre, then pan by dragging; ms until the re-shaded image is painted."""
    page, _ = load_page(browser, url)
    settled(page)
    pan = page.locator(".map-plot [title='Pan']").first
    if "bk-active" not in (pan.get_attribute("class") or ""):   # an on/off button: a click on an active one stops it
        pan.click()
    box = page.locator(".map-plot canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    zooms, pans = [], []
    for i in range(repeats):
        page.mouse.move(cx, cy)
        start_timer(page, WAIT_IMAGE, "change")
        page.mouse.wheel(0, -240 if i % 2 == 0 else 240)
        zooms.append(round(read_timer(page)))
        page.wait_for_timeout(600)
        dx = 0.15 * box["width"] * (1 if i % 2 == 0 else -1)
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dx / 3, steps=5)
        start_timer(page, WAIT_IMAGE, "change")
        page.mouse.up()
        pans.append(round(read_timer(page)))
        page.wait_for_timeout(600)
    page.context.close()
    log(f"zoom {zooms} ms, pan {pans} ms")
    return {"zoom_ms": zooms, "pan_ms": pans}


def _tabs_text(row: dict) -> str:
    """MB per extra tab with the server's RSS after the first and the last tab (the difference is within
    the noise of a collecting interpreter when it is near zero or below)."""
    rss = row.get("rss_mb_by_tabs") or []
    span = f" ({rss[0]:,.0f} -> {rss[-1]:,.0f} MB with {len(rss)} tabs)" if len(rss) > 1 else ""
    return f"{row['mb_per_extra_tab']}{span}"


def tab_memory(browser, url: str, pid: int, tabs: int) -> dict:
    """Server RSS after each of ``tabs`` tabs is opened and drawn (every tab stays open)."""
    ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
    rss, pages = [], []
    for _ in range(tabs):
        page, _ = load_page(browser, url, context=ctx)
        settled(page)
        pages.append(page)
        rss.append(round(server_rss_mb(pid), 1))
    per_tab = (rss[-1] - rss[0]) / (tabs - 1) if tabs > 1 else float("nan")
    ctx.close()
    log(f"server RSS with 1..{tabs} tabs: {rss} MB ({per_tab:.1f} MB a tab)")
    return {"rss_mb_by_tabs": rss, "mb_per_extra_tab": round(per_tab, 1)}


# The peer: Apple's embedding-atlas, timed the same way. Its header reads "K / N points" (K selected).
# It brushes live (the count follows the drag), so a selection is timed from the drag's last move to
# the header's last change (settled: no change for 1 s); 'first' waits for the drawn map and count.
WAIT_ATLAS = """([mode, total]) => new Promise(resolve => {
  const t0 = performance.now();
  const header = () => { const m = document.body.innerText.match(new RegExp('([0-9,]+) / ' + total + ' points'));
                         return m ? m[1] : null; };
  let last = header(), changed = t0;
  const drawn = () => { const c = document.querySelector('canvas');
                        return c && c.width > 300 && document.body.innerText.includes(total + ' points'); };
  const painted = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  const tick = () => {
    const now = performance.now();
    if (now - t0 > 120000) return resolve(-1);
    if (mode === 'first') return drawn() ? painted() : setTimeout(tick, 5);
    const h = header();
    if (h !== last) { last = h; changed = now; }
    if (now - changed > 1000 && now - t0 > 1000) return resolve(changed - t0);
    setTimeout(tick, 5); };
  tick(); })"""

ATLAS_COLUMNS = ["id", "label", "umap_x", "umap_y", "cluster", "mislabel_score", "outlier_score"]


def atlas_side_by_side(browser, exe: Path, ws: Path, n: int, repeats: int, widths) -> dict:
    """embedding-atlas on the same results (its columns that a map needs): first paint and box selections."""
    import subprocess

    import pyarrow.parquet as pq
    from conftest import free_port

    table = Path(tempfile.mkdtemp(prefix="bench_atlas_")) / "results.parquet"
    have = pq.ParquetFile(ws / "results.parquet").schema_arrow.names
    pq.write_table(pq.read_table(ws / "results.parquet", columns=[c for c in ATLAS_COLUMNS if c in have]), table)
    port = free_port()
    log_file = open(table.parent / "atlas.log", "w")
    proc = subprocess.Popen([str(exe), str(table), "--x", "umap_x", "--y", "umap_y", "--disable-projection",
                             "--host", "127.0.0.1", "--port", str(port), "--no-auto-port"],
                            stdout=log_file, stderr=subprocess.STDOUT)
    url, total = f"http://127.0.0.1:{port}/", f"{n:,}"
    try:
        _wait_http(url, proc)
        paints = []
        for _ in range(repeats):
            ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
            page = ctx.new_page()
            t = time.perf_counter()
            page.goto(url)
            start_timer(page, WAIT_ATLAS, ["first", total])
            read_timer(page)
            paints.append(round(time.perf_counter() - t, 2))
            if len(paints) < repeats:
                ctx.close()
        page.wait_for_timeout(1500)
        page.locator("button[title^='Toggle rectangle selection']").first.click()
        box = page.locator("canvas").first.bounding_box()
        sels = []
        for i, w in enumerate(widths):
            x0, x1 = (0.55 - w, 0.545) if i % 2 == 0 else (0.555, 0.55 + w)
            page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * 0.12)
            page.mouse.down()
            xa = x0 + 0.9 * (x1 - x0)
            page.mouse.move(box["x"] + box["width"] * xa, box["y"] + box["height"] * 0.8, steps=4)
            start_timer(page, WAIT_ATLAS, ["select", total])
            page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * 0.88)
            page.mouse.up()
            try:
                ms = read_timer(page)
            except RuntimeError:      # recorded as a miss, not dropped
                ms = float("nan")
            count = page.evaluate("([t]) => (document.body.innerText.match(new RegExp('([0-9,]+) / ' + t + ' points'))"
                                  " || ['', '0'])[1]", [total])
            clear = page.locator("button[title='Clear filters']").first
            if clear.count():
                clear.click()
                page.wait_for_timeout(800)
            sels.append({"width": w, "count": int(count.replace(",", "")), "ms": None if ms != ms else round(ms)})
            log(f"atlas selection {sels[-1]}")
        ctx.close()
    finally:
        proc.terminate()
        proc.wait(10)
    log(f"atlas first paint {paints} s")
    return {"first_paint_s": paints, "selections": sels, "version": atlas_version(exe)}


def atlas_version(exe: Path) -> str:
    import subprocess
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[-1] if (out.stdout or out.stderr) else "?"


def _wait_http(url: str, proc, timeout: float = 300) -> None:
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the peer's server exited ({proc.returncode})")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {timeout} s")


def conditions(browser_version: str) -> dict:
    from conditions import run_conditions

    return run_conditions(("panel", "bokeh", "holoviews", "datashader", "playwright"), chromium=browser_version)


def browser_args(launch_args) -> list[str]:
    """The UI tests' Chromium flags with WebGL on the CPU (SwiftShader) instead of ``--disable-gpu``: the
    peer draws its map with WebGL (ours is a server-side datashaded image and does not care)."""
    return [a for a in launch_args if a != "--disable-gpu"] + ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def measure(sky: Path, ws: Path, args) -> dict:
    """Every figure for one workspace, against one warm server."""
    from conftest import LAUNCH_ARGS, free_port, start_server, stop_server  # tests/ui/conftest.py
    from playwright.sync_api import sync_playwright

    from core.flags.common import STORE_ENV

    n = pq_rows(ws / "results.parquet")
    port = free_port()
    store = Path(tempfile.mkdtemp(prefix="bench_explorer_scale_")) / "flags.sqlite"  # keep the workspace's clean
    t0 = time.perf_counter()
    proc = start_server(sky, ws, port, warm=True, env={STORE_ENV: str(store)})
    out = {"n": n, "sky": str(sky), "workspace": str(ws), "server_ready_s": round(time.perf_counter() - t0, 1),
           "server_rss_mb_ready": round(server_rss_mb(proc.pid), 1)}
    log(f"{n:,} objects: server ready in {out['server_ready_s']} s, {out['server_rss_mb_ready']:.0f} MB")
    url = f"http://127.0.0.1:{port}/explorer"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=browser_args(LAUNCH_ARGS))
            out["conditions"] = conditions(browser.version)
            out["first_paint"] = first_paint(browser, url, args.repeats)
            page, _ = load_page(browser, url)
            settled(page)
            out["selections"] = selections(page, args.widths)
            out["focus_ms"] = focuses(page, args.focuses)
            page.context.close()
            out |= zoom_and_pan(browser, url, args.pans)
            out |= tab_memory(browser, url, proc.pid, args.tabs)
            stop_server(proc)   # the peer gets the machine to itself too
            proc = None
            if args.atlas:
                out["atlas"] = atlas_side_by_side(browser, args.atlas, ws, n, args.repeats, args.widths)
            browser.close()
    finally:
        if proc is not None:
            stop_server(proc)
    return out


def pq_rows(path: Path) -> int:
    import pyarrow.parquet as pq
    return pq.ParquetFile(path).metadata.num_rows


def median(values) -> float:
    return float(statistics.median(values)) if values else float("nan")


def markdown(doc: dict) -> str:
    rows = sorted(doc["sizes"].values(), key=lambda r: r["n"])
    lines = ["# The explorer at survey scale", "",
             "`python benchmarks/bench_explorer_scale.py --sky SKY --workspace WS` or `--synthetic N` (see the "
             "module docstring). Medians, times in the page (Chromium, Playwright); the server is "
             "`panel serve --warm` on 127.0.0.1, the results read once at start-up and shared by the sessions. "
             "Targets (issue 14): first paint 3 s and box selection of 100k points 300 ms, focus 300 ms and "
             "20 MB a tab at 1M; selection count 1 s at 10M.", "",
             "| objects | workspace | server start s / MB | first paint: canvas / image s | selections: count -> ms "
             "| focus median / max ms | zoom / pan median ms | MB per extra tab | measured (load at start) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fp, c = r["first_paint"], r["conditions"]
        sel = ", ".join(f"{s['count']:,} -> {s['ms']}" for s in r["selections"])
        lines.append(
            f"| {r['n']:,} | {r['kind']} | {r['server_ready_s']} / {r['server_rss_mb_ready']:.0f} | "
            f"{median(fp['canvas_s']):.2f} / {median(fp['first_image_s']):.2f} | {sel} | "
            f"{median(r['focus_ms']):.0f} / {max(r['focus_ms'] or [0]):.0f} | "
            f"{median(r['zoom_ms']):.0f} / {median(r['pan_ms']):.0f} | {_tabs_text(r)} | "
            f"{c['date']} ({', '.join(str(v) for v in c['load_average_at_start'])}) |")
    peers = [r for r in rows if r.get("atlas")]
    if peers:
        lines += ["", "## Side by side with embedding-atlas (same results, same Chromium, same run)", "",
                  "Its map, count and table on our results table (id, label, UMAP x/y, cluster, two scores), served "
                  "by its own command; a selection is timed from the drag's last move to its count's last change "
                  "(it brushes live), ours from mouse-up to the count and the table's first row. A ratio above 1 "
                  "means ours was faster.", "",
                  "| objects | embedding-atlas | first paint s: ours / atlas (atlas ÷ ours) | selection median ms: ours / "
                  "atlas (atlas ÷ ours) | atlas selections: count -> ms |", "|---|---|---|---|---|"]
        for r in peers:
            a = r["atlas"]
            ours_p, atl_p = median(r["first_paint"]["first_image_s"]), median(a["first_paint_s"])
            ours_s = median([x["ms"] for x in r["selections"]])
            atl_s = median([x["ms"] for x in a["selections"] if x["ms"] is not None])
            sel = ", ".join(f"{x['count']:,} -> {x['ms'] if x['ms'] is not None else 'missed'}" for x in a["selections"])
            lines.append(f"| {r['n']:,} | {a['version']} | {ours_p:.2f} / {atl_p:.2f} ({atl_p / ours_p:.2f}x) | "
                         f"{ours_s:.0f} / {atl_s:.0f} ({atl_s / ours_s:.2f}x) | {sel} |")
    lines += ["", f"Conditions of the last run: {json.dumps(doc['conditions'])}", ""]
    notes = RESULTS / "explorer_scale_notes.md"
    if notes.exists():
        lines += [notes.read_text()]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sky", type=Path)
    ap.add_argument("--workspace", type=Path)
    ap.add_argument("--synthetic", type=int, default=0, help="rows of a synthetic results table instead")
    ap.add_argument("--root", type=Path, default=Path("/tmp/astrom3-scale"), help="where synthetic ones are written")
    ap.add_argument("--repeats", type=int, default=3, help="new tabs timed for the first paint")
    ap.add_argument("--widths", type=float, nargs="+", default=[0.04, 0.08, 0.15, 0.25, 0.4, 0.1],
                    help="box selections, widths as fractions of the map")
    ap.add_argument("--focuses", type=int, default=8)
    ap.add_argument("--pans", type=int, default=4)
    ap.add_argument("--tabs", type=int, default=4, help="tabs open at once for the memory per tab")
    ap.add_argument("--atlas", type=Path, default=None, metavar="EXE",
                    help="the embedding-atlas command (the peer, installed apart): timed on the same results")
    args = ap.parse_args(argv)
    if args.synthetic:
        sky, ws = synthetic_workspace(args.synthetic, args.root)
        kind = "synthetic results table"
    elif args.sky and args.workspace:
        sky, ws, kind = args.sky, args.workspace, "analysed sky"
    else:
        ap.error("give --sky and --workspace, or --synthetic N")
    rec = measure(sky, ws, args) | {"kind": kind}
    path = RESULTS / "explorer_scale.json"
    doc = json.loads(path.read_text()) if path.exists() else {"sizes": {}}
    doc["sizes"][str(rec["n"])] = rec
    doc["conditions"] = rec["conditions"]
    doc["command"] = "python benchmarks/bench_explorer_scale.py " + " ".join(argv or sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
    md = markdown(doc)
    (RESULTS / "explorer_scale.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
