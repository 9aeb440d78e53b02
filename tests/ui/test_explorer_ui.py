"""Real-browser tests of the explorer (Chromium via Playwright, `panel serve` on 127.0.0.1)."""
from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.ui

NEEDS_FLAGS = pytest.mark.skipif(importlib.util.find_spec("core.flags") is None,
                                 reason="core.flags is not available yet")
IGNORED_CONSOLE = ("GL Driver Message", "WebGL")


def open_app(page, url):
    page.goto(url)
    page.wait_for_selector(".bk-Canvas canvas, canvas", timeout=60000)
    page.wait_for_timeout(800)


def map_box(page):
    """Bounding box of the map pane (toolbar above, axes left and below)."""
    return page.locator(".map-plot").first.bounding_box()


def box_select(page, x0f=0.12, y0f=0.12, x1f=0.98, y1f=0.85):
    page.locator("[title='Box Select']").first.click()
    b = map_box(page)
    page.mouse.move(b["x"] + b["width"] * x0f, b["y"] + b["height"] * y0f)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * (x0f + x1f) / 2, b["y"] + b["height"] * (y0f + y1f) / 2, steps=5)
    page.mouse.move(b["x"] + b["width"] * x1f, b["y"] + b["height"] * y1f, steps=5)
    page.mouse.up()


def wait_selected(page):
    try:
        page.get_by_text(re.compile(r"^[1-9][0-9,]* selected$")).first.wait_for(timeout=30000)
    except Exception:
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "astrom3_ui_fail.png"))
        raise


def select_and_list(page) -> None:
    """Box-select and wait for the selection table's first row (a screenshot is kept if it stays empty).

    The table once stayed empty about one run in three (header only, no pager): the first selection
    changed the table's column setup, so the browser rebuilt the Tabulator while the rows arrived.
    """
    rows = page.locator(".selection-table .tabulator-row .tabulator-cell[tabulator-field='id']").first
    box_select(page)
    wait_selected(page)
    try:
        rows.wait_for(timeout=20000)
    except Exception:
        page.screenshot(path=str(Path(tempfile.gettempdir()) / "astrom3_ui_fail_rows.png"), full_page=True)
        raise


def selected_count(page) -> int:
    txt = page.get_by_text(re.compile(r"selected$")).first.inner_text(timeout=30000)
    return int(txt.split()[0].replace(",", ""))


def focus_first_row(page) -> str:
    cell = page.locator(".selection-table .tabulator-row .tabulator-cell[tabulator-field='id']").first
    cell.wait_for(timeout=30000)
    oid = cell.inner_text().strip()
    cell.click()
    page.locator(".inspector-title").get_by_text(oid).first.wait_for(timeout=30000)
    return oid


def test_page_loads_without_console_errors(served, page, shots):
    open_app(page, served["url"])
    page.get_by_text("Review queue").first.wait_for()
    errors = [e for e in page.errors if not any(s in e for s in IGNORED_CONSOLE)]
    assert errors == []
    page.screenshot(path=shots / "explorer_start.png")


def test_box_select_fills_table(served, page, shots):
    open_app(page, served["url"])
    select_and_list(page)
    n = selected_count(page)
    assert 0 < n <= 200
    rows = page.locator(".selection-table .tabulator-row")
    assert rows.count() >= min(n, 15) - 1
    page.screenshot(path=shots / "explorer_map.png")


def test_first_selection_of_fresh_pages_always_fills_the_table(served, playwright_browser):
    """The first selection of a page used to leave the table empty about one time in three; now never.

    ``ASTROM3_SELECTION_RUNS`` pages (default 5) in a row, each box-selected once, must all list rows.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    runs = int(os.environ.get("ASTROM3_SELECTION_RUNS", "5"))
    empty = []
    for i in range(runs):
        ctx = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        try:
            open_app(pg, served["url"])
            select_and_list(pg)
        except PlaywrightTimeout:  # counted, reported below with the run number
            empty.append(i)
        finally:
            ctx.close()
    assert empty == [], f"{len(empty)} of {runs} first selections left the table empty: {empty}"


def test_focus_shows_folded_lightcurve_and_spectrum(served, page, shots):
    open_app(page, served["url"])
    select_and_list(page)
    oid = focus_first_row(page)
    page.locator(".folded-lc canvas").first.wait_for(timeout=30000)
    page.locator(".spectrum canvas").first.wait_for(timeout=30000)
    period = float(page.locator(".period-input input").first.input_value())
    truth = pd.read_parquet(served["sky"] / "objects.parquet").set_index("id").loc[oid, "period"]
    assert period == pytest.approx(truth, rel=1e-6)
    page.locator(".folded-lc").first.scroll_into_view_if_needed()
    page.screenshot(path=shots / "explorer_inspector.png", full_page=True)


@NEEDS_FLAGS
def test_flag_survives_reload_and_exports(served, page, tmp_path, shots):
    open_app(page, served["url"])
    select_and_list(page)
    oid = focus_first_row(page)
    page.locator(".flag-anomaly button").first.click()
    page.get_by_text("Flagged as").first.wait_for(timeout=30000)
    page.reload()
    open_app(page, served["url"])
    page.get_by_text("Flags & export").first.click()
    page.locator(".flags-table").get_by_text(oid).first.wait_for(timeout=30000)
    page.screenshot(path=shots / "explorer_flags.png")
    with page.expect_download(timeout=40000) as dl:
        page.locator(".flags-export").locator("a, button").first.click()
    path = tmp_path / "flags.csv"
    dl.value.save_as(path)
    rows = pd.read_csv(path)
    assert oid in rows["id"].astype(str).tolist()
    assert rows.set_index(rows["id"].astype(str)).loc[oid, "kind"] == "anomaly"


@NEEDS_FLAGS
def test_review_keyboard_decides(served, page):
    open_app(page, served["url"])
    page.locator(".review-skip button").first.click()  # start the queue: focuses its second suspect
    info = page.locator(".review-info").first
    info.get_by_text(re.compile(r"^2 /")).wait_for(timeout=30000)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("f")
    info.get_by_text(re.compile(r"^3 /")).wait_for(timeout=30000)


@NEEDS_FLAGS
def test_starts_focused_and_shows_a_note_as_typed(served, page):
    """The queue's first suspect is inspected at once; a note with HTML in it reads as typed, no element made."""
    from core.flags import FlagStore
    from explorer.views.review import review_queue

    note = "<img src=x onerror=alert(1)> & *not bold* &lt;"
    with FlagStore(served["ws"] / "flags.sqlite") as store:
        decided = set(store.current()["id"])
    first = review_queue(pd.read_parquet(served["ws"] / "results.parquet"), "mislabel_score", decided)[0]
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_app(page, served["url"])
    page.locator(".review-info").get_by_text(re.compile(r"^1 /")).first.wait_for(timeout=30000)
    page.locator(".inspector-title").get_by_text(first).first.wait_for(timeout=30000)
    page.locator(".review-note input").first.fill(note)
    page.locator(".review-note input").first.press("Enter")
    page.locator(".review-anomaly button").first.click()
    page.locator(".review-info").get_by_text(re.compile(r"^2 /")).first.wait_for(timeout=30000)
    page.locator(".review-back button").first.click()
    shown = page.locator(".review-info .flag-note").first
    shown.wait_for(timeout=30000)
    assert shown.inner_text() == note
    assert page.locator(".inspector-why .flag-note").first.inner_text(timeout=30000) == note
    page.get_by_text("Flags & export").first.click()
    cells = page.locator(".flags-table .tabulator-cell[tabulator-field='note']")
    cells.filter(has_text="onerror").first.wait_for(timeout=30000)
    assert note in [c.strip() for c in cells.all_inner_texts()]
    assert page.locator("img[src='x']").count() == 0 and dialogs == []


def test_narrow_window(served, playwright_browser, shots):
    ctx = playwright_browser.new_context(viewport={"width": 420, "height": 900})
    pg = ctx.new_page()
    open_app(pg, served["url"])
    width = pg.evaluate("() => document.documentElement.scrollWidth")
    pg.screenshot(path=shots / "explorer_narrow.png", full_page=False)
    ctx.close()
    assert width <= 460


def test_first_start_computes_the_results_with_a_progress_bar(playwright_browser, tmp_path):
    """A sky without results: the page shows progress while the pipeline runs, then the explorer."""
    from conftest import free_port, start_server, stop_server
    from core.simulate import simulate_sky

    sky = simulate_sky(150, seed=5, out=tmp_path / "sky")
    ws = tmp_path / "ws"
    port = free_port()
    proc = start_server(sky, ws, port, env={"ASTROM3_PROGRESS": "0"}, extra=["--preset", "tiny"], warm=True)
    try:
        ctx = playwright_browser.new_context(viewport={"width": 1200, "height": 900})
        pg = ctx.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(f"http://127.0.0.1:{port}/explorer")
        pg.locator(".compute-progress").first.wait_for(timeout=60000)
        assert not (ws / "results.parquet").exists()
        pg.locator(".map-plot canvas").first.wait_for(timeout=300000)
        assert (ws / "results.parquet").exists() and (ws / "model.pt").exists()
        pg.get_by_text("Review queue").first.wait_for(timeout=30000)
        assert errors == []
        ctx.close()
    finally:
        stop_server(proc)
