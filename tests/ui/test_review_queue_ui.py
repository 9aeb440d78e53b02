"""The review queue in the browser reorders after a decision (issue 12), in a real browser on a real server.

The page's "Next:" line and the inspected suspect are compared with what a
:class:`core.review.ReviewSession` on the same workspace, for the same user, ranks after the same
stored decisions (the ranking is a pure function of them, so a new session replays it exactly).
"""
from __future__ import annotations

import re

import pandas as pd
import pytest

pytestmark = pytest.mark.ui

WAIT = 30000  # ms: Playwright's waits on content


def shown_queue(page, position: int) -> tuple[str, list[str]]:
    """``(inspected id, next ids)`` once the queue's cursor is at 1-based ``position``."""
    page.locator(".review-info").get_by_text(re.compile(rf"^{position} /")).first.wait_for(timeout=WAIT)
    return (page.locator(".inspector-title h3").first.inner_text(timeout=WAIT).strip(),
            [t.strip() for t in page.locator(".review-next .review-next-id").all_inner_texts()])


def expect_queue(page, current: str, upcoming: list[str]) -> None:
    """Wait until the page inspects ``current`` and names ``upcoming`` as the next suspects, in order."""
    from playwright.sync_api import expect

    expect(page.locator(".inspector-title h3").first).to_have_text(current, timeout=WAIT)
    expect(page.locator(".review-next .review-next-id")).to_have_text(upcoming, timeout=WAIT)


def stored(ws) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real store's full history and standing decisions (every user)."""
    from core.flags import FlagStore

    with FlagStore(ws / "flags.sqlite") as store:
        return store.history(), store.current()


def session_order(served, user: str, n: int) -> list[str]:
    """The first ``n`` suspects a fresh ReviewSession ranks, leaving out anyone's decisions as the queue does."""
    from core.flags import FlagStore
    from core.review import ReviewSession

    with FlagStore(served["ws"] / "flags.sqlite") as store:
        decided = set(store.current()["id"].astype(str))
        sess = ReviewSession(served["ws"], sky=served["sky"], target="anomaly", user=user, store=store)
        return [i for i in sess.ranking().index if i not in decided][:n]


def reordering_decision(served, first: str, upcoming: list[str], user: str):
    """A decision key whose stored decision on ``first`` re-ranks the ``upcoming`` suspects, found on a
    copy of the store (the same user's decisions replayed); ``(key, kind)`` or None if none does."""
    import sqlite3
    import tempfile
    from pathlib import Path

    from core.flags import FlagStore
    from core.review import ReviewSession

    with tempfile.TemporaryDirectory() as d:
        src, dst = sqlite3.connect(served["ws"] / "flags.sqlite"), sqlite3.connect(Path(d) / "flags.sqlite")
        src.backup(dst)                      # a consistent copy, the write-ahead log's pages included
        src.close()
        dst.close()
        with FlagStore(Path(d) / "flags.sqlite") as store:
            decided = set(store.current()["id"].astype(str)) | {first}
            for key, kind in (("f", "fine"), ("n", "anomaly")):
                sess = ReviewSession(served["ws"], sky=served["sky"], target="anomaly", user=user, store=store)
                sess.decide(first, kind)
                order = [i for i in sess.ranking().index if i not in decided][:len(upcoming)]
                sess.undo(first)
                if order != upcoming:
                    return key, kind
    return None


def decide(page, key: str, position: int) -> None:
    """Press a decision key as a user would (nothing typed in a field) and wait for the cursor to move on."""
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press(key)
    page.locator(".review-info").get_by_text(re.compile(rf"^{position} /")).first.wait_for(timeout=WAIT)


def test_the_review_queue_in_the_browser_reorders_after_a_decision(served, page):
    from explorer.views.review import PREFETCH, review_queue

    page.goto(served["url"])
    page.locator(".review-info").get_by_text(re.compile(r"^1 /")).first.wait_for(timeout=60000)
    page.locator(".review-card").get_by_role("button", name="outlier", exact=True).first.click()
    _, before = stored(served["ws"])
    static = review_queue(pd.read_parquet(served["ws"] / "results.parquet"), "outlier_score",
                          set(before["id"].astype(str)))
    expect_queue(page, static[0], static[1:1 + PREFETCH])  # static order until the first decision
    page.locator(".review-learning").get_by_text("Static order until the first decision").first.wait_for(timeout=WAIT)
    from explorer.data import default_user

    user, found = default_user(), 0   # who the served page decides as (no login), until the store says
    for position in range(1, 9):
        # a decision that re-ranks the next suspects (on a copy of the store), else "fine" and try the next one
        first, upcoming = shown_queue(page, position)
        choice = reordering_decision(served, first, upcoming, user)
        key, kind = choice or ("f", "fine")
        decide(page, key, position + 1)
        history, current = stored(served["ws"])
        mine = history[history["id"].astype(str) == first]
        assert len(mine) == 1 and mine.iloc[-1]["kind"] == kind      # stored once, in the real store
        user, found = str(mine.iloc[-1]["user"]), found + (kind == "anomaly")
        learned = session_order(served, user, 1 + PREFETCH)
        expect_queue(page, learned[0], learned[1:])                  # the page follows the session's ranking
        page.locator(".review-learning").get_by_text(f"found {found} per {position} inspected").first.wait_for(
            timeout=WAIT)
        if choice:
            shown = shown_queue(page, position + 1)
            assert [shown[0], *shown[1]][:len(upcoming)] != upcoming   # not the queue moved on by one
            break
    else:
        pytest.fail("no decision in the first 8 suspects re-ranked the queue's next suspects")
