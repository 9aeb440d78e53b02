"""Real-browser fixtures: a tiny sky/workspace served by ``panel serve`` on 127.0.0.1, and Chromium.

Skipped cleanly when Debian's Chromium (/usr/bin/chromium) or Playwright is missing, unless
``ASTROM3_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
               "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.ui)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(sky, ws, port: int, env=None, extra=(), warm: bool = False, serve_args=()) -> subprocess.Popen:
    """``panel serve apps/explorer.py`` on 127.0.0.1:port; returns once the page answers.

    ``warm`` runs the app once at start-up (``--warm``), as the README and ``astrom3 serve`` do.
    """
    cmd = [sys.executable, "-m", "panel", "serve", str(ROOT / "apps" / "explorer.py"), "--address", "127.0.0.1",
           "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}", "--num-procs", "1", "--liveness",
           *(["--warm"] if warm else []), *serve_args, "--args", "--sky", str(sky), "--workspace", str(ws), *extra]
    log = open(Path(ws).parent / f"panel-serve-{port}.log", "w")  # a pipe nobody reads would fill and block
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"panel serve exited: {Path(log.name).read_text(errors='replace')[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("panel serve did not start in 300 s")


def stop_server(proc: subprocess.Popen) -> None:
    """Terminate a server from :func:`start_server`, killing it if it does not exit in 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _missing(reason: str):
    """Skip, or fail where the browser tests must run (CI sets ASTROM3_REQUIRE_BROWSER=1)."""
    if os.environ.get("ASTROM3_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def playwright_browser():
    if not CHROMIUM.exists():
        _missing("/usr/bin/chromium is not installed (apt-get install chromium)")
    try:
        from playwright import sync_api
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory, playwright_browser):
    """A tiny fake workspace served by panel; yields the base URL and the paths."""
    from explorer.testing import make_fake_workspace

    sky, ws = make_fake_workspace(tmp_path_factory.mktemp("ui"), n=200, seed=7)
    port = free_port()
    proc = start_server(sky, ws, port)
    try:
        yield {"url": f"http://127.0.0.1:{port}/explorer", "sky": sky, "ws": ws}
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """Where the tests' screenshots go (benchmarks/bench_explorer.py makes the published ones)."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(playwright_browser):
    ctx = playwright_browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()
