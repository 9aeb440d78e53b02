"""A screenshot of the explorer beside the table a SAMP client (playing TOPCAT) received from it.

Starts astropy's ``SAMPHubServer`` on 127.0.0.1 with a temporary lockfile (as tests/test_samp.py does),
a second ``SAMPIntegratedClient`` subscribed to ``table.load.votable`` that writes each table it is sent
as HTML, and ``panel serve`` of the explorer on a small fake workspace with ``SAMP_HUB`` pointing at the
hub's lockfile (the dashboard connects on the first SAMP click through :class:`core.samp.SampLink`).
Chromium (Playwright) box-selects on the map, clicks "Send selection to TOPCAT/Aladin (SAMP)", waits for
the client to receive the table, renders the received HTML in a second page and puts the two side by side.
No network: everything is on 127.0.0.1.

Writes benchmarks/results/explorer_samp.png and benchmarks/results/explorer_samp_received.html.

    python benchmarks/samp_screenshot.py [--n 200] [--seed 7]
"""
from __future__ import annotations

import argparse
import os
import queue
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "ui"))
RESULTS = ROOT / "benchmarks" / "results"
WAIT = 30  # seconds any one step may take
CSS = ("body{font-family:sans-serif;font-size:13px;margin:16px}"
       "table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:2px 6px;text-align:left}"
       "th{background:#eee}")


class TableClient:
    """A SAMP client like TOPCAT: each ``table.load.votable`` it is sent is read and written as HTML."""

    def __init__(self, lock: Path, html: Path):
        from astropy.samp import SAMPIntegratedClient

        from core.samp import hub_params

        self.html = html
        self.got: queue.Queue = queue.Queue()
        self.client = SAMPIntegratedClient(name="topcat (fake)", addr="127.0.0.1")
        self.client.connect(hub_params=hub_params(lock))
        self.client.bind_receive_message("table.load.votable", self._load)

    def _load(self, private_key, sender_id, msg_id, mtype, params, extra):
        from astropy.table import Table

        url = params["url"]
        where = url2pathname(urlsplit(url).path) if url.startswith("file:") else url
        try:
            table = Table.read(where, format="votable")
            table.meta.pop("description", None)
            for col in table.itercols():
                if col.dtype.kind == "f":
                    col.format = ".5f" if col.name in ("ra", "dec") else ".3f"
            table.write(self.html, format="html", overwrite=True,
                        htmldict={"css": CSS, "table_id": "received"})
            self.got.put((params, len(table)))
            status = {"samp.status": "samp.ok", "samp.result": {}}
        except Exception as exc:  # noqa: BLE001 - reported to the sender and to the main thread
            self.got.put((params, exc))
            status = {"samp.status": "samp.error", "samp.error": {"samp.errortxt": str(exc)}}
        if msg_id:
            self.client.reply(msg_id, status)

    def close(self) -> None:
        self.client.disconnect()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="objects in the fake workspace")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    from astropy.samp import SAMPHubServer
    from conftest import CHROMIUM, LAUNCH_ARGS, free_port, start_server, stop_server
    from PIL import Image, ImageDraw
    from playwright.sync_api import sync_playwright
    from test_explorer_ui import box_select, open_app, wait_selected

    from explorer.testing import make_fake_workspace

    RESULTS.mkdir(parents=True, exist_ok=True)
    html = RESULTS / "explorer_samp_received.html"
    out = RESULTS / "explorer_samp.png"
    with tempfile.TemporaryDirectory(prefix="astrom3-samp-shot-") as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(args.seed)
        sky, ws = make_fake_workspace(tmp, n=args.n, seed=args.seed, extra_objects={
            "ra": rng.uniform(0, 360, args.n).round(5), "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, args.n))).round(5)})
        lock = tmp / "hub.samp"
        env = {"SAMP_HUB": f"std-lockurl:{lock.as_uri()}", "HOME": str(tmp / "home")}
        (tmp / "home").mkdir()
        hub = SAMPHubServer(addr="127.0.0.1", lockfile=str(lock), web_profile=False, timeout=600, mode="single")
        hub.start(wait=False)
        client = server = None
        try:
            client = TableClient(lock, html)
            port = free_port()
            server = start_server(sky, ws, port, env=env)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                open_app(page, f"http://127.0.0.1:{port}/explorer")
                box_select(page, 0.35, 0.3, 0.7, 0.65)
                wait_selected(page)
                page.wait_for_timeout(500)
                page.get_by_role("button", name="Send selection to TOPCAT/Aladin (SAMP)").first.click()
                page.get_by_text("Sent ").first.wait_for(timeout=WAIT * 1000)
                # the click scrolled the main area down to the button: back to the map (the notice stays 3 s)
                page.evaluate("() => { window.scrollTo(0, 0); "
                              "document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; }); }")
                page.wait_for_timeout(300)
                left = tmp / "dashboard.png"
                page.screenshot(path=str(left))
                params, got = client.got.get(timeout=WAIT)
                if isinstance(got, Exception):
                    raise RuntimeError(f"the client could not read the table: {got}")
                table_page = browser.new_page(viewport={"width": 1300, "height": 1000})
                table_page.goto(html.as_uri())
                table_page.evaluate("""t => { const h = document.createElement('h3');
                    h.textContent = t; document.body.prepend(h); }""",
                                    f"SAMP client received table.load.votable: \u201c{params.get('name')}\u201d, {got} rows")
                right = tmp / "received.png"
                table_page.screenshot(path=str(right))
                browser.close()
            a, b = Image.open(left).convert("RGB"), Image.open(right).convert("RGB")
            gap = 12
            img = Image.new("RGB", (a.width + gap + b.width, max(a.height, b.height)), "white")
            img.paste(a, (0, 0))
            img.paste(b, (a.width + gap, 0))
            ImageDraw.Draw(img).rectangle([a.width, 0, a.width + gap - 1, img.height], fill=(90, 90, 90))
            img.save(out, optimize=True)
            print(f"{params.get('name')}: {got} rows received; wrote {out.relative_to(ROOT)} "
                  f"({img.width}x{img.height}) and {html.relative_to(ROOT)}")
        finally:
            if server is not None:
                stop_server(server)
            if client is not None:
                client.close()
            hub.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
