"""A browser logs in with basic auth and its decisions are attributed to its login (real server, real store)."""
from __future__ import annotations

import json
import re

import pytest

from conftest import free_port, start_server, stop_server

pytestmark = pytest.mark.ui


def test_basic_auth_login_attributes_decisions_to_the_login(playwright_browser, tmp_path):
    from core.flags import FlagStore
    from explorer.testing import make_fake_workspace

    sky, ws = make_fake_workspace(tmp_path / "auth", n=120, seed=3)
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"vera": "rubin-1928"}))
    port = free_port()
    proc = start_server(sky, ws, port, serve_args=("--basic-auth", str(users)),
                        env={"PANEL_COOKIE_SECRET": "x" * 64})
    ctx = playwright_browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{port}/explorer")
        page.wait_for_selector("input[name='username']", timeout=60000)    # not in without a login
        page.fill("input[name='username']", "vera")
        page.fill("input[name='password']", "wrong")
        page.click("button[type='submit']")
        page.wait_for_selector("input[name='username']", timeout=60000)    # refused: the form again
        page.fill("input[name='username']", "vera")
        page.fill("input[name='password']", "rubin-1928")
        page.click("button[type='submit']", no_wait_after=True)
        page.wait_for_url(re.compile(rf"http://127\.0\.0\.1:{port}/(?!login)"), timeout=60000)
        page.goto(f"http://127.0.0.1:{port}/explorer", timeout=90000)    # logged in: the cookie lets it through
        page.locator(".review-info").get_by_text(re.compile(r"^1 /")).first.wait_for(timeout=90000)
        page.locator(".review-anomaly button").first.click()
        page.locator(".review-info").get_by_text(re.compile(r"^2 /")).first.wait_for(timeout=30000)
    finally:
        ctx.close()
        stop_server(proc)
    with FlagStore(ws / "flags.sqlite") as store:
        cur = store.current()
    assert len(cur) == 1 and cur["kind"].tolist() == ["anomaly"]
    assert cur["user"].tolist() == ["vera"]
