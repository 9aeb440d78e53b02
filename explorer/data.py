"""Workspace data loaded once per server process and shared by every browser session.

:func:`load_workspace` reads ``results.parquet`` and opens the sky once per
``(sky, workspace, results mtime)``; sessions get the same :class:`WorkspaceData` object, so
memory does not grow per tab. Per-class typical ranges (5th-95th percentile) of metadata and
scores are computed once here too.
"""
from __future__ import annotations

import getpass
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import AstroM3Error

__all__ = ["WorkspaceData", "ObjectData", "load_workspace", "class_ranges", "open_flag_store", "default_user",
           "results_ready", "session_info", "score_columns", "object_data", "lightcurve_period", "range_lookup"]

_LOCK = threading.Lock()
_CACHE: dict = {}


@dataclass
class WorkspaceData:
    """What every session shares: the sky, the results table, typical ranges per class."""

    sky_path: Path
    workspace_path: Path
    sky: object
    results: pd.DataFrame
    ranges: pd.DataFrame  # index (label, column) -> q05, median, q95
    flag_store: object = None
    flag_error: str | None = None
    session_info: dict = field(default_factory=dict)
    range_lookup: dict = field(init=False, repr=False)      # (label, column) -> (q05, median, q95)

    def __post_init__(self):
        self.range_lookup = range_lookup(self.ranges)
        self._objects: OrderedDict = OrderedDict()  # id -> ObjectData, the most recent first out last
        self._read_lock = threading.Lock()           # the sky's lazy readers are not thread-safe

    def meta_row(self, object_id: str) -> pd.Series | None:
        """The catalogue row (``sky.objects``) of one object (:meth:`core.sky.Sky.object`); None if unknown."""
        try:
            return self.sky.object(object_id)
        except KeyError:
            return None


@dataclass(frozen=True)
class ObjectData:
    """What the inspector shows of one object, read once: light curve, spectrum, catalogue row and period."""

    id: str
    lightcurve: object | None
    spectrum: object | None
    meta: pd.Series | None
    period: float | None  # the catalogue's (``period`` column), None when absent or not positive


#: How many objects' data :func:`object_data` keeps per workspace (focus history + prefetched suspects).
OBJECT_CACHE = 64


def object_data(data: WorkspaceData, object_id: str) -> ObjectData:
    """One object's :class:`ObjectData`, cached per workspace (shared by sessions, safe across threads)."""
    oid = str(object_id)
    with data._read_lock:
        hit = data._objects.get(oid)
        if hit is not None:
            data._objects.move_to_end(oid)
            return hit
        sky = data.sky
        lc = sky.lightcurve(oid) if sky.has_lightcurves else None
        spec = sky.spectrum(oid) if sky.has_spectra else None
        meta = data.meta_row(oid)
        p = meta.get("period") if meta is not None else None
        try:
            p = float(p) if p is not None and np.isfinite(float(p)) and float(p) > 0 else None
        except (TypeError, ValueError):
            p = None
        out = data._objects[oid] = ObjectData(oid, lc, spec, meta, p)
        while len(data._objects) > OBJECT_CACHE:
            data._objects.popitem(last=False)
        return out


def default_user() -> str:
    """Who the decisions of this session are by: the logged-in user (``astrom3 serve --auth``), else the OS user."""
    import panel as pn

    if pn.state.user:               # set by Panel's basic or OAuth login for this browser session
        return str(pn.state.user)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "astronomer"


def results_ready(workspace_path) -> bool:
    """Whether the workspace already has ``results.parquet``."""
    from core.workspace import Workspace
    return Workspace(workspace_path, create=False).results_path.exists() if Path(workspace_path).exists() else False


def class_ranges(table: pd.DataFrame, columns, label_col: str = "label") -> pd.DataFrame:
    """5th percentile, median and 95th percentile of each numeric column per class.

    Returns a frame indexed by ``(label, column)`` with columns ``q05``, ``median``, ``q95``.
    """
    cols = [c for c in columns if c in table and pd.api.types.is_numeric_dtype(table[c])]
    if not cols or label_col not in table:
        return pd.DataFrame(columns=["q05", "median", "q95"])
    g = table[[label_col, *cols]].dropna(subset=[label_col]).groupby(label_col)
    q = g.quantile([0.05, 0.5, 0.95])
    q.index.names = [label_col, "q"]
    out = q.stack().unstack("q")
    out.columns = ["q05", "median", "q95"]
    out.index.names = ["label", "column"]
    return out


def range_lookup(ranges: pd.DataFrame) -> dict:
    """:func:`class_ranges` as a dict ``(label, column) -> (q05, median, q95)`` (a focus reads dozens)."""
    if len(ranges) == 0:
        return {}
    vals = ranges[["q05", "median", "q95"]].to_numpy(float)
    return {key: tuple(v) for key, v in zip(ranges.index, vals)}


def open_flag_store(workspace_path, results: pd.DataFrame):
    """Open the flag store for the ids and labels of ``results``; returns ``(store, error message)``.

    The store is ``WS/flags.sqlite``, or the one ``ASTROM3_FLAGS`` names (a ``postgresql://`` URL
    several servers share, or a SQLite file; set by ``astrom3 serve --flags``). A store that cannot
    be opened (damaged, newer schema, server down) leaves the explorer usable without flags and says why.
    """
    from core.flags import FlagStore, FlagStoreError
    from core.flags.common import STORE_ENV
    from core.workspace import Workspace

    ws = Workspace(workspace_path, create=False)
    labels = sorted(results["label"].dropna().astype(str).unique())
    location = os.environ.get(STORE_ENV) or ws.flags_path
    try:
        return FlagStore(location, valid_ids=results["id"].astype(str).tolist(), labels=labels), None
    except FlagStoreError as exc:
        return None, f"flags are not available: {exc}"


def session_info(sky, ws) -> dict:
    """What every flag session records: the sky's fingerprint and the results' (model) fingerprint."""
    from core import schema

    return {"sky_fingerprint": sky.fingerprint, "model_fingerprint": ws.fingerprint(schema.RESULTS_FILE)}


def score_columns() -> list[str]:
    """Every registered score column (:mod:`core.scores`), each headline score followed by its parts."""
    from core import scores

    out = []
    for name in scores.headline():
        out += [name, *scores.parts_of(name)]
    return out + [n for n in scores.REGISTRY if n not in out]


def _load(sky_path: Path, ws_path: Path) -> WorkspaceData:
    from core.sky import open_sky
    from core.workspace import Workspace

    ws = Workspace(ws_path, create=False)
    if not ws.results_path.exists():
        raise AstroM3Error(f"{ws.results_path} does not exist: run `astrom3 run {sky_path} --workspace {ws_path}`")
    results = pd.read_parquet(ws.results_path).reset_index(drop=True)
    results["id"] = results["id"].astype(str)
    results["cluster"] = results["cluster"].fillna(-1).astype(int)
    sky = open_sky(sky_path)
    meta = sky.objects
    cols = [c for c in sky.metadata_columns if c in meta]
    merged = results[["id", "label"]].merge(meta[["id", *[c for c in cols if c != "label"]]], on="id", how="left")
    scores = [c for c in score_columns() if c in results]
    ranges = pd.concat([class_ranges(merged, cols), class_ranges(results, scores)])
    store, err = open_flag_store(ws_path, results)
    return WorkspaceData(sky_path, ws_path, sky, results, ranges, store, err, session_info(sky, ws))


def load_workspace(sky_path, workspace_path, *, reload: bool = False) -> WorkspaceData:
    """The shared :class:`WorkspaceData` of a sky and workspace, loaded once per process.

    Parameters
    ----------
    sky_path, workspace_path : path
    reload : bool
        Drop the cached copy first.

    Raises
    ------
    AstroM3Error
        When the workspace has no ``results.parquet`` yet.
    """
    sky_path, ws_path = Path(sky_path).resolve(), Path(workspace_path).resolve()
    from core import schema

    res = ws_path / schema.RESULTS_FILE
    key = (str(sky_path), str(ws_path), os.path.getmtime(res) if res.exists() else None)
    with _LOCK:
        if reload:
            _CACHE.pop(key, None)
        if key not in _CACHE:
            _CACHE[key] = _load(sky_path, ws_path)
        return _CACHE[key]


def lightcurve_period(data: WorkspaceData, object_id: str) -> float | None:
    """The catalogue period of an object (``period`` column of the sky), if any."""
    return object_data(data, object_id).period
