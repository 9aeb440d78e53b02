"""The explorer's per-session state: projection, colouring, selection, filters, focus, flags.

One :class:`ExplorerState` per browser session. It holds a *reference* to the shared results
table (loaded once per process by :mod:`explorer.data`) and small per-session things: the
selected row indices, the focused id, the filters, the folding period, the review queue's score
and position, the note being typed. Views read it and write to it; they never own state themselves
(caches of derived data, like the inspector's periodograms, may live in views) and never touch the
flag store: they go through :meth:`ExplorerState.flag`, :meth:`~ExplorerState.current_flags`,
:meth:`~ExplorerState.export` and friends.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
import pandas as pd
import param

from core import scores as registry

__all__ = ["ExplorerState", "one_message", "frozen", "points_in_polygon", "headline_scores", "color_options", "PROJECTIONS",
           "CATEGORIES", "FLAG_KINDS", "FLAG_COLUMNS", "TABLE_MAX", "shared"]

PROJECTIONS = ("fused", "photometry", "spectra", "metadata")
#: The categorical colourings of the map (the headline scores of :mod:`core.scores` go between).
CATEGORIES = ("label", "cluster", "flag")
FLAG_KINDS = ("mislabel", "anomaly", "crossmatch", "subclass", "fine", "interesting")
NO_FLAG = "none"
#: Rows the selection table lists at most (the first ones of a larger selection; flagging, export and
#: SAMP act on the whole selection). Tabulator's server side walks every row it is given on each update:
#: ~1 s for 3 million rows, 30 ms for this many.
TABLE_MAX = 100_000
FLAG_COLUMNS = ("id", "kind", "proposed_label", "subclass", "note", "user")


#: Values derived from a results table once per process and shared by every session:
#: ``id(results) -> (weak reference to results, {key: value}, most recently used last)``; an entry goes
#: when its results table is collected (a reloaded workspace does not keep the old one alive).
_SHARED: dict = {}
#: Values kept per results table (map frames of the colourings and projections last used, the index...).
SHARED_MAX = 16


def shared(results: pd.DataFrame, key, make):
    """``make()`` computed once per results table and ``key``, then shared by every session.

    The shared results never change (:mod:`explorer.data`), so what is derived from them alone (the
    id index, a map's point frame) is not rebuilt, nor held, once per browser tab: at a million
    objects each such copy is tens of MB. Callers must not modify the value.
    """
    entry = _SHARED.get(id(results))
    if entry is None or entry[0]() is not results:
        entry = (weakref.ref(results), OrderedDict())
        _SHARED[id(results)] = entry
        weakref.finalize(results, _SHARED.pop, id(results), None)
    values = entry[1]
    if key in values:
        values.move_to_end(key)
        return values[key]
    value = values[key] = make()
    while len(values) > SHARED_MAX:
        values.popitem(last=False)
    return value


@contextmanager
def frozen(doc):
    """Bokeh's ``doc.models.freeze()``, ended (one walk of the models) even when the block raises.

    Bokeh's own context manager has no ``finally``: an exception inside leaves the document frozen
    for good, and models added later never reach the browser.

    Parameters
    ----------
    doc : bokeh.document.Document
    """
    freeze = doc.models.freeze()
    freeze.__enter__()
    try:
        yield
    finally:
        freeze.__exit__(None, None, None)


@contextmanager
def one_message():
    """Changes made inside go to the browser as one message, and Bokeh walks the page's models once.

    ``pn.io.hold()`` combines the events; :func:`frozen` (inside the hold, so the walk comes before
    the message is made) defers the walk of every model Bokeh does after each change of a model
    reference: new children, and the stylesheets Panel gives a pane on its first update (five such
    walks in a session's first focus). Outside a session only the hold applies.
    """
    import panel as pn
    from panel.io import hold

    doc = pn.state.curdoc
    with hold():
        if doc is None:
            yield
        else:
            with frozen(doc):
                yield


def headline_scores(results: pd.DataFrame) -> tuple[str, ...]:
    """The registry's headline scores (:func:`core.scores.headline`) that ``results`` has, in display order."""
    return tuple(name for name in registry.headline() if name in results)


def color_options(results: pd.DataFrame) -> list[str]:
    """What can colour the map of ``results``: label, cluster, each headline score it has, flag."""
    return ["label", "cluster", *headline_scores(results), "flag"]


def points_in_polygon(x: np.ndarray, y: np.ndarray, poly_x, poly_y) -> np.ndarray:
    """Boolean mask of the points strictly inside a polygon, vectorised over points (shapely).

    ``shapely.contains_xy`` on ``shapely.Polygon(vertices)``. Points exactly on the boundary (an edge
    or a vertex) are *not* inside; the hand-written even-odd test this replaced counted the left and
    bottom edges as inside and the right and top ones as outside. Away from the boundary the two are
    equal, for concave and self-intersecting lassos too (GEOS counts ray crossings, i.e. even-odd):
    tests/test_explorer_state.py compares them on random seeded points and polygons. NaN points are
    outside. Fewer than three vertices select nothing.

    Parameters
    ----------
    x, y : array
        Point coordinates.
    poly_x, poly_y : sequence
        Polygon vertices (closed or not).

    Examples
    --------
    >>> points_in_polygon(np.array([0.5, 2.0]), np.array([0.5, 0.5]), [0, 1, 1, 0], [0, 0, 1, 1])
    array([ True, False])
    """
    import shapely

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    px = np.asarray(poly_x, float)
    py = np.asarray(poly_y, float)
    if len(px) < 3:
        return np.zeros(x.shape, bool)
    return np.asarray(shapely.contains_xy(shapely.Polygon(np.column_stack([px, py])), x, y), bool)


class ExplorerState(param.Parameterized):
    """What one explorer session is looking at.

    Parameters
    ----------
    results : pandas.DataFrame
        The workspace's ``results.parquet`` (shared, never modified here).
    """

    projection = param.Selector(default="fused", objects=list(PROJECTIONS), doc="Which UMAP to show.")
    color_by = param.Selector(default="label", objects=list(CATEGORIES), doc="What colours the map.")
    selection = param.Array(default=np.array([], dtype=np.int64), doc="Selected row indices of results.")
    focus = param.String(default=None, allow_None=True, doc="The focused object id.")
    class_filter = param.ListSelector(default=[], objects=[], doc="Keep only these labels (empty: all).")
    cluster_filter = param.ListSelector(default=[], objects=[], doc="Keep only these clusters (empty: all).")
    score_ranges = param.Dict(default={}, doc="Headline score -> (low, high) the score filter keeps.")
    upcoming = param.List(default=[], doc="Ids likely focused next (the review queue's next suspects): prefetched.")
    flags = param.Dict(default={}, doc="Object id -> current flag kind (this workspace's store).")
    flags_version = param.Integer(default=0, doc="Bumped whenever a flag changes.")
    user = param.String(default="astronomer")
    note = param.String(default="", doc="The note for the next decision (every flag control shares this one text).")
    fold_period = param.Number(default=None, allow_None=True,
                               doc="Folding period of the focused object (days): the catalogue's, the "
                                   "periodogram's peak, or the user's override.")
    review_score = param.Selector(default=None, objects=[], allow_None=True,
                                  doc="Headline score the review queue ranks by (one of the state's scores).")
    review_ids = param.List(default=[], doc="The review queue: undecided ids, highest review_score first.")
    review_position = param.Integer(default=0, bounds=(0, None), doc="Index of the current suspect in review_ids.")

    def __init__(self, results: pd.DataFrame, flag_store=None, session_info: dict | None = None, **params):
        self.results = results
        self._index = shared(results, "id index", lambda: pd.Index(results["id"].astype(str)))
        self._store = flag_store
        self._session_info = session_info or {}
        self._session = None
        self._rows: dict = {}  # id -> results row (the shared results never change)
        #: The headline scores this results table has (older results lack some), in display order.
        self.scores = headline_scores(results)
        self._full_ranges = {n: tuple(float(v) for v in registry.get(n).range) for n in self.scores}
        color_by = params.pop("color_by", "label")
        ranges = params.pop("score_ranges", {})
        review_score = params.pop("review_score", None)
        super().__init__(**params)
        self.param.review_score.objects = list(self.scores)
        self.review_score = review_score or ("mislabel_score" if "mislabel_score" in self.scores
                                             else next(iter(self.scores), None))
        self.param.color_by.objects = ["label", "cluster", *self.scores, "flag"]
        self.color_by = color_by
        self.score_ranges = {name: tuple(ranges.get(name, self.full_range(name))) for name in self.scores}
        labels = sorted(results["label"].dropna().astype(str).unique())
        self.param.class_filter.objects = labels
        self.param.cluster_filter.objects = sorted(int(c) for c in pd.unique(results["cluster"]))
        self.projection = self.projection if self.available_projection(self.projection) else "fused"
        self.refresh_flags()

    # --- projection ---------------------------------------------------------------------------
    def available_projection(self, name: str) -> bool:
        """Whether ``results`` has coordinates for projection ``name``."""
        return all(c in self.results for c in self.xy_columns(name))

    @staticmethod
    def xy_columns(name: str) -> tuple[str, str]:
        """Column names of a projection's coordinates."""
        return ("umap_x", "umap_y") if name == "fused" else (f"umap_x_{name}", f"umap_y_{name}")

    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of every object in the current projection (NaN where missing)."""
        cx, cy = self.xy_columns(self.projection)
        return (self.results[cx].to_numpy(dtype=float), self.results[cy].to_numpy(dtype=float))

    # --- selection ----------------------------------------------------------------------------
    def select_bounds(self, bounds) -> np.ndarray:
        """Select the points inside ``(x0, y0, x1, y1)``; returns and stores the row indices."""
        if bounds is None:
            return self.set_selection(np.array([], dtype=np.int64))
        x0, y0, x1, y1 = bounds
        x, y = self.xy()
        mask = (x >= min(x0, x1)) & (x <= max(x0, x1)) & (y >= min(y0, y1)) & (y <= max(y0, y1))
        return self.set_selection(np.flatnonzero(mask & self.filter_mask()))

    def select_lasso(self, geometry) -> np.ndarray:
        """Select the points inside a lasso polygon given as an ``(n, 2)`` array of vertices."""
        if geometry is None or len(geometry) < 3:
            return self.set_selection(np.array([], dtype=np.int64))
        g = np.asarray(geometry, float)
        x, y = self.xy()
        mask = points_in_polygon(x, y, g[:, 0], g[:, 1])
        return self.set_selection(np.flatnonzero(mask & self.filter_mask()))

    def select_ids(self, ids) -> np.ndarray:
        """Select objects by id (unknown ids are ignored)."""
        rows = self._index.get_indexer([str(i) for i in ids])
        return self.set_selection(np.unique(rows[rows >= 0]))

    def select_cluster(self, cluster: int) -> np.ndarray:
        """Select every object of one cluster."""
        return self.set_selection(np.flatnonzero(self.results["cluster"].to_numpy() == int(cluster)))

    def set_selection(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        self.selection = rows
        return rows

    @property
    def selected_ids(self) -> list[str]:
        return self._index[self.selection].tolist()

    # --- filters --------------------------------------------------------------------------------
    def full_range(self, score: str) -> tuple[float, float]:
        """The registry's display range of a headline score (its filter's bounds)."""
        return self._full_ranges[score]

    def set_score_range(self, score: str, low_high) -> None:
        """Keep only the rows with ``score`` in ``(low, high)`` (its full range: no filter)."""
        if score not in self.score_ranges:
            raise KeyError(f"{score!r} is not a headline score of these results: {self.scores}")
        lo, hi = (float(v) for v in low_high)
        self.score_ranges = {**self.score_ranges, score: (lo, hi)}

    def filter_mask(self) -> np.ndarray:
        """Boolean mask of the rows passing the class, cluster and score-range filters."""
        r = self.results
        mask = np.ones(len(r), bool)
        if self.class_filter:
            mask &= r["label"].isin(self.class_filter).to_numpy()
        if self.cluster_filter:
            mask &= r["cluster"].isin(self.cluster_filter).to_numpy()
        for col, (lo, hi) in self.score_ranges.items():
            if (lo, hi) != self.full_range(col):
                v = r[col].to_numpy(dtype=float)
                mask &= (v >= lo) & (v <= hi)
        return mask

    def selected_frame(self, columns=None, limit: int | None = None) -> pd.DataFrame:
        """The selected rows that pass the filters (the first ``limit`` of them), with a ``flag`` column;
        the same dtypes for every selection."""
        rows = self.selection[self.filter_mask()[self.selection]] if len(self.selection) else self.selection
        rows = rows[:limit] if limit is not None else rows
        cols = columns or [c for c in ("id", "label", "suggested_label", "cluster", *self.scores) if c in self.results]
        df = self.results[cols].iloc[rows].reset_index(drop=True)   # the columns first: a copy of these only
        # str even when empty (an empty list makes float64): the table's column setup must not change
        # with the selection, or the browser rebuilds its Tabulator and drops the rows arriving meanwhile
        df["flag"] = pd.Series(self._flag_kinds(rows), index=df.index, dtype="str")
        return df

    def _flag_kinds(self, rows: np.ndarray) -> np.ndarray:
        """The current flag kind of each of ``rows`` ("" where none), without a loop over the rows."""
        out = np.full(len(rows), "", dtype=object)
        flags = self.flags
        if flags and len(rows):
            frows = self._index.get_indexer(list(flags))
            ok = frows >= 0
            kinds = pd.Series(np.array(list(flags.values()), dtype=object)[ok], index=frows[ok])
            hit = kinds.reindex(rows)
            known = hit.notna().to_numpy()
            out[known] = hit.to_numpy()[known]
        return out

    # --- focus ----------------------------------------------------------------------------------
    def focus_on(self, object_id: str | None) -> None:
        """Focus one object (``None`` clears); unknown ids raise ``KeyError``."""
        if object_id is not None and self.row_number(object_id) < 0:
            raise KeyError(f"object id {object_id!r} is not in the results")
        with one_message():  # every view's reaction (inspector, map star) goes to the browser as one message
            self.focus = None if object_id is None else str(object_id)

    def row_number(self, object_id: str | None) -> int:
        """The row of ``object_id`` in ``results`` (-1 when unknown or None)."""
        return -1 if object_id is None else int(self._index.get_indexer([str(object_id)])[0])

    def row(self, object_id: str | None = None) -> pd.Series | None:
        """The results row of ``object_id`` (default: the focused object)."""
        oid = self.focus if object_id is None else str(object_id)
        if oid is None:
            return None
        hit = self._rows.get(oid)
        if hit is None:  # a wide mixed-dtype row costs ~1 ms to build; a focus reads it from several views
            i = self.row_number(oid)
            if i < 0:
                return None
            if len(self._rows) >= 32:
                self._rows.pop(next(iter(self._rows)))
            hit = self._rows[oid] = self.results.iloc[i]
        return hit

    # --- review queue -------------------------------------------------------------------------
    @property
    def review_current(self) -> str | None:
        """The id at ``review_position`` of the review queue (None past its end)."""
        q, i = self.review_ids, self.review_position
        return q[i] if 0 <= i < len(q) else None

    def set_review_queue(self, ids) -> None:
        """A new review queue, starting at its first suspect."""
        with param.parameterized.batch_call_watchers(self):
            self.review_ids = [str(i) for i in ids]
            self.review_position = 0

    def continue_review(self, ids) -> None:
        """Past the current suspect the queue becomes ``ids`` (those up to the cursor stay); the cursor moves on one."""
        head = self.review_ids[:self.review_position + 1]
        seen = set(head)
        with param.parameterized.batch_call_watchers(self):
            self.review_ids = head + [str(i) for i in ids if str(i) not in seen]
            self.review_position = len(head)

    def review_step(self, step: int) -> None:
        """Move the review cursor by ``step`` (not before the first suspect, at most one past the last)."""
        self.review_position = int(min(max(0, self.review_position + step), len(self.review_ids)))

    def take_note(self) -> str | None:
        """The typed note (None when empty), clearing it for the next decision."""
        note, self.note = self.note or None, ""
        return note

    # --- flags ----------------------------------------------------------------------------------
    @property
    def has_store(self) -> bool:
        return self._store is not None

    def flag_status(self) -> np.ndarray:
        """Per row: the current flag kind, or ``"none"``."""
        out = np.full(len(self.results), NO_FLAG, dtype=object)
        if self.flags:
            rows = self._index.get_indexer(list(self.flags))
            kinds = np.array(list(self.flags.values()), dtype=object)
            ok = rows >= 0
            out[rows[ok]] = kinds[ok]
        return out

    def current_flags(self) -> pd.DataFrame:
        """The store's standing decisions, one row per object and user (empty without a store)."""
        cur = None if self._store is None else self._store.current()
        return pd.DataFrame(columns=list(FLAG_COLUMNS)) if cur is None else cur

    def export(self, path, format: str = "csv") -> None:  # noqa: A002 - the store's own keyword
        """Export the current flags to ``path`` (the store's formats: csv, ecsv, votable)."""
        if self._store is None:
            raise RuntimeError("no flag store: core.flags is not available")
        self._store.export(path, format=format)

    def refresh_flags(self) -> None:
        """Re-read the current flags from the store."""
        if self._store is None:
            return
        cur = self.current_flags()
        self.flags = {} if cur is None or len(cur) == 0 else dict(zip(cur["id"].astype(str), cur["kind"].astype(str)))
        self.flags_version += 1

    def decisions(self, object_id: str | None = None) -> pd.DataFrame:
        """The standing decisions on an object (default: the focused one), one per user, from the store."""
        oid = self.focus if object_id is None else str(object_id)
        if self._store is None or oid is None or oid not in self.flags:
            return pd.DataFrame(columns=list(FLAG_COLUMNS))
        cur = self.current_flags()
        return cur[cur["id"].astype(str) == oid].reset_index(drop=True)

    def session(self) -> int:
        if self._session is None:
            self._session = self._store.start_session(self.user or "astronomer", **self._session_info)
        return self._session

    def flag(self, kind: str, object_id: str | None = None, *, proposed_label: str | None = None,
             subclass: str | None = None, note: str | None = None) -> None:
        """Store a decision on ``object_id`` (default: the focused object) at once."""
        if self._store is None:
            raise RuntimeError("no flag store: core.flags is not available")
        oid = self.focus if object_id is None else str(object_id)
        if oid is None:
            raise ValueError("no object focused")
        if kind not in FLAG_KINDS:
            raise ValueError(f"flag kind {kind!r} is not one of {FLAG_KINDS}")
        self._store.add(self.session(), oid, kind, proposed_label=proposed_label, subclass=subclass,
                        note=note or None)
        self.flags = {**self.flags, oid: kind}
        self.flags_version += 1

    def flag_many(self, ids, kind: str, *, subclass: str | None = None, note: str | None = None) -> int:
        """Flag several objects with the same decision; returns how many."""
        if self._store is None:
            raise RuntimeError("no flag store: core.flags is not available")
        s = self.session()
        new = dict(self.flags)
        for oid in ids:
            self._store.add(s, str(oid), kind, subclass=subclass, note=note or None)
            new[str(oid)] = kind
        self.flags = new
        self.flags_version += 1
        return len(ids)

    def undo(self, object_id: str | None = None) -> None:
        """Undo this session's last decision on an object."""
        oid = self.focus if object_id is None else str(object_id)
        if self._store is None or oid is None:
            return
        self._store.undo(self.session(), oid)
        self.refresh_flags()

    @param.depends("user", watch=True)
    def _new_user(self):
        self._session = None
