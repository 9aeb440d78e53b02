"""The review queue: walk the top suspects one at a time, decide with the keyboard.

Keys (ignored while typing in a text field): ``a`` accept the suggested label, ``l`` choose the
label in the drop-down, ``n`` anomaly, ``x`` cross-match problem, ``f`` fine, ``s`` / ``→`` skip,
``←`` back, ``u`` undo.

For the scores with a review target (:data:`TARGET_OF_SCORE`) the queue is a
:class:`core.review.ReviewSession` of the user: each decision is stored through it, and the
suspects after the cursor are re-ordered by its new ranking; a decision stored elsewhere (the flag
bar, a bulk flag, an undo there) is replayed into the session and re-orders them too. The line
under the position names the next suspects. Where no session can be opened (no
workspace, no store, a score without a target) the queue stays in static score order and says so.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param
from panel.custom import JSComponent

from core import scores as registry
from explorer.state import ExplorerState, one_message

__all__ = ["review_queue", "next_html", "KeyListener", "ReviewView", "SHORTCUTS", "TARGET_OF_SCORE"]

#: How many of the next suspects the inspector reads ahead.
PREFETCH = 3
SHORTCUTS = {"a": "accept", "l": "label", "n": "anomaly", "x": "crossmatch", "f": "fine", "s": "skip",
             "ArrowRight": "skip", "ArrowLeft": "back", "u": "undo"}
#: The review target (:data:`core.review.TARGETS`) each headline score's queue learns for.
TARGET_OF_SCORE = {"mislabel_score": "mislabel", "outlier_score": "anomaly", "crossmodal_score": "crossmodal"}
#: How many suspects a queue holds.
QUEUE_LIMIT = 500


def review_queue(results: pd.DataFrame, score: str, decided, *, limit: int = 500) -> list[str]:
    """Ids ordered by ``score`` (highest first), leaving out decided ids and NaN scores.

    Only the top ``limit`` + the decided ones are sorted and turned into strings (a million-row
    results table is not); the order is the same as a stable sort of the whole column.
    """
    v = results[score].to_numpy(dtype=float)
    decided = set(decided)
    finite = np.flatnonzero(np.isfinite(v))
    k = min(len(finite), limit + len(decided))
    if k == 0:
        return []
    key = -v[finite]
    if k < len(finite):
        cut = np.partition(key, k - 1)[k - 1]
        finite = finite[key <= cut]      # the top k and every tie of the k-th: the stable order stays exact
        key = -v[finite]
    order = finite[np.argsort(key, kind="stable")][:k]
    ids = results["id"].iloc[order].astype(str).tolist()
    return [i for i in ids if i not in decided][:limit]


def next_html(ids) -> str:
    """The line naming the queue's next suspects (so a reordering after a decision can be seen).

    Parameters
    ----------
    ids : sequence of str
        The upcoming ids, in queue order.

    Returns
    -------
    str
        HTML: each id (escaped) in a ``review-next-id`` element.
    """
    if not ids:
        return "<i>Next: none, this is the last suspect.</i>"
    return "Next: " + " \u00b7 ".join(f'<code class="review-next-id">{html.escape(str(i))}</code>' for i in ids)


class KeyListener(JSComponent):
    """Sends document key presses (outside text inputs) to Python as ``key`` + a counter."""

    key = param.String(default="")
    count = param.Integer(default=0)
    active = param.Boolean(default=True)

    _esm = """
    export function render({ model }) {
      const handler = (e) => {
        if (!model.active) return;
        const t = e.target;
        const tag = (t && t.tagName) || "";
        if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || (t && t.isContentEditable)) return;
        if (e.ctrlKey || e.metaKey || e.altKey) return;
        const allowed = %s;
        if (!allowed.includes(e.key)) return;
        model.key = e.key;
        model.count = model.count + 1;
      };
      document.addEventListener("keydown", handler);
      model.on("remove", () => document.removeEventListener("keydown", handler));
      const el = document.createElement("span");
      el.style.display = "none";
      return el;
    }
    """ % repr(list(SHORTCUTS))


class ReviewView(pn.viewable.Viewer):
    """Queue of suspects with decision buttons; decisions go to the flag store at once.

    The queue, its score and the cursor are the state's (``review_ids``, ``review_score``,
    ``review_position``); the note is the state's one ``note``.
    """

    state = param.ClassSelector(class_=ExplorerState)
    data = param.Parameter(default=None, doc="The WorkspaceData (workspace, sky, store) the learning session opens.")

    def __init__(self, **params):
        score = params.pop("score", None)
        super().__init__(**params)
        s = self.state
        if score is not None:
            s.review_score = score
        self.keys = KeyListener(width=0, height=0, margin=0)
        self.keys.param.watch(self._key, "count")
        labels = list(s.param.class_filter.objects)
        self.other = pn.widgets.Select(name="Other label", options=labels, width=140)
        self.note = pn.widgets.TextInput.from_param(s.param.note, name="Note", placeholder="optional note",
                                                    sizing_mode="stretch_width", css_classes=["review-note"])
        self.info = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["review-info"])
        self.next_up = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["review-next"])
        self.learning = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["review-learning"])
        self._sessions: dict = {}  # (user, target) -> ReviewSession, or the reason it could not be opened
        btns = []
        for action, title in (("accept", "Accept suggested (a)"), ("label", "Other label (l)"),
                              ("anomaly", "Anomaly (n)"), ("crossmatch", "Cross-match (x)"),
                              ("fine", "Fine (f)"), ("skip", "Skip (s)"), ("back", "Back (\u2190)"),
                              ("undo", "Undo (u)")):
            b = pn.widgets.Button(name=title, button_type="primary" if action == "accept" else "default",
                                  css_classes=[f"review-{action}"])
            b.on_click(lambda e, a=action: self.act(a))
            btns.append(b)
        self.buttons = pn.FlexBox(*btns)
        s.param.watch(lambda e: self.rebuild(), ["review_score"])
        self._acting = False  # True while the queue itself stores a decision
        s.param.watch(self._flags_changed, ["flags_version"])
        self.rebuild(focus=False)
        # the page shows "1 / N": focus that suspect once the page is loaded (at once outside a server)
        pn.state.onload(self._start)

    def _start(self):
        if self.state.focus is None and self.current is not None:
            with one_message():  # the page's first focus: one message, one walk of its models
                self._show(focus=True)

    @property
    def score(self) -> str | None:
        return self.state.review_score

    @property
    def queue(self) -> list[str]:
        return self.state.review_ids

    @property
    def position(self) -> int:
        return self.state.review_position

    @property
    def current(self) -> str | None:
        return self.state.review_current

    # --- the learning session ------------------------------------------------------------------
    def _key_of(self):
        target = TARGET_OF_SCORE.get(self.state.review_score)
        return None if target is None else (self.state.user, target)

    def _open(self, target: str):
        """A ReviewSession on the state's store and flag session, or the reason it cannot be opened."""
        s, data = self.state, self.data
        if data is None or not s.has_store:
            return "no workspace or flag store"
        from contextlib import nullcontext

        from core.review import ReviewSession

        try:
            with getattr(data, "_read_lock", None) or nullcontext():
                sess = ReviewSession(data.workspace_path, sky=data.sky, target=target, user=s.user,
                                     store=s._store)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the static queue, and says why
            return f"{type(exc).__name__}: {exc}"
        sess._flag_session = s.session()  # one flag session: the dashboard's fingerprints, its undo
        return sess

    def review_session(self, build: bool = False):
        """The learning session of this queue (built when ``build``); None if none is (or can be) open."""
        key = self._key_of()
        if key is None:
            return None
        if key not in self._sessions and build:
            self._sessions[key] = self._open(key[1])
        got = self._sessions.get(key)
        return None if got is None or isinstance(got, str) else got

    def _ranked(self, sess) -> list[str]:
        """The session's ranking, leaving out objects anyone has decided (as the static queue does)."""
        flagged = self.state.flags
        return [i for i in sess.ranking().index[:QUEUE_LIMIT + len(flagged)] if i not in flagged][:QUEUE_LIMIT]

    def _learning_text(self) -> str:
        key = self._key_of()
        got = self._sessions.get(key) if key else None
        if key is None:
            return "<i>Static order: this score has no learning review target.</i>"
        if isinstance(got, str):
            return f"<i>Static order (the learning queue could not be opened: {html.escape(got)})</i>"
        if got is None:
            return "<i>Static order until the first decision; then the queue learns from each one.</i>"
        found = got.found()
        return (f"Learning queue ({html.escape(key[1])}): found {found[-1] if found else 0} "
                f"per {len(found)} inspected")

    def rebuild(self, focus: bool = True):
        """Recompute the queue (decided objects left out) and focus its first object."""
        s = self.state
        sess = self.review_session()
        if sess is not None:
            sess.refresh()
            s.set_review_queue(self._ranked(sess))
        else:
            s.set_review_queue(review_queue(s.results, s.review_score, s.flags, limit=QUEUE_LIMIT)
                               if s.review_score else [])
        self._show(focus)

    def _show(self, focus: bool = True):
        self.learning.object = self._learning_text()
        cur = self.current
        if cur is None:
            self.info.object = "Queue empty: every suspect by this score is decided."
            self.next_up.object = ""
            return
        from explorer.views.flags import decisions_html

        row = self.state.row(cur)
        shown = registry.get(self.score).display if self.score in registry.REGISTRY else self.score
        self.info.object = (f"<b>{self.position + 1} / {len(self.queue)}</b> by {html.escape(shown)} "
                            f"= {float(row[self.score]):.2f}{decisions_html(self.state.decisions(cur))}")
        if "suggested_label" in row and row["suggested_label"] in self.other.options:
            self.other.value = row["suggested_label"]
        if focus:
            self.state.focus_on(cur)
        self.state.upcoming = self.queue[self.position + 1:self.position + 1 + PREFETCH]
        self.next_up.object = next_html(self.state.upcoming)

    def act(self, action: str):
        """Apply one decision (or move) to the current object; the browser gets one message for it all."""
        self._acting = True
        try:
            with pn.io.hold():
                self._act(action)
        finally:
            self._acting = False

    def _flags_changed(self, *_):
        """A decision stored outside the queue (flag bar, bulk flag, an undo there): re-rank after the cursor.

        The session replays the store, so it learns from the decision as from its own; the suspect at
        the cursor stays (also when it is the one just flagged), decided ones leave the rest.
        """
        if self._acting:
            return
        s = self.state
        sess = self.review_session()
        with pn.io.hold():
            if sess is not None:
                sess.refresh()
                rest = self._ranked(sess)
            else:
                rest = review_queue(s.results, s.review_score, s.flags, limit=QUEUE_LIMIT) if s.review_score else []
            head = s.review_ids[:s.review_position + 1]
            seen = set(head)
            s.review_ids = head + [i for i in rest if i not in seen]
            self._show(focus=False)

    def _act(self, action: str):
        cur = self.current
        s = self.state
        if action == "back":
            s.review_step(-1)
            return self._show()
        if cur is None:
            return
        if action == "undo":
            s.undo(cur)
            sess = self.review_session()
            if sess is not None:
                sess.refresh()
            return self._show()
        note = s.take_note()  # a skip clears it too
        if action == "skip":
            s.review_step(1)
            return self._show()
        kind, label = {"accept": ("mislabel", str(s.row(cur)["suggested_label"])),
                       "label": ("mislabel", self.other.value)}.get(action, (action, None))
        sess = self.review_session(build=True)
        if sess is None:
            s.flag(kind, cur, proposed_label=label, note=note)
            s.review_step(1)
        else:  # stored once, by the session (the store first), then the rest of the queue is its ranking
            sess.decide(cur, kind, label=label, note=note)
            s.refresh_flags()
            s.continue_review(self._ranked(sess))
        self._show()

    def _key(self, *_):
        a = SHORTCUTS.get(self.keys.key)
        if a == "label":
            self.act("label")
        elif a:
            self.act(a)

    def __panel__(self):
        return pn.Column(
            pn.Row(pn.widgets.RadioButtonGroup.from_param(self.state.param.review_score, button_type="light", options={
                (registry.get(n).display if n in registry.REGISTRY else n): n
                for n in self.state.param.review_score.objects}),
                   sizing_mode="stretch_width"),
            self.info, self.next_up, self.learning, pn.Row(self.other, self.note, sizing_mode="stretch_width"),
            self.buttons,
            pn.pane.Markdown("Keys: **a** accept suggested · **l** other label · **n** anomaly · "
                             "**x** cross-match · **f** fine · **s**/→ skip · ← back · **u** undo"),
            self.keys, sizing_mode="stretch_width")
