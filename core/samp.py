"""SAMP, the Virtual Observatory's way between tools: tables to and from TOPCAT, Aladin and DS9.

:class:`SampLink` connects a workspace to a running SAMP hub (TOPCAT and Aladin start one;
astropy's ``samp_hub`` script is another) with :mod:`astropy.samp`:

- :meth:`SampLink.send_table` / :meth:`SampLink.send_flags` send objects as a VOTable
  (``table.load.votable``: a ``file://`` URL of a temporary file) with id, name, ra/dec, labels,
  the headline scores and the current flags;
- :meth:`SampLink.point_at` sends ``coord.pointAt.sky`` so Aladin centres on one object;
- :meth:`SampLink.on_selection` registers a callback that receives a :class:`Received`: the ids of
  a row selection made in another tool on a table we sent (``table.select.rowList``), or of a
  table another tool sent us (``table.load.votable``; only ``file://`` and ``http://127.0.0.1``
  URLs are read). :meth:`SampLink.flag` records such ids as flags.

Callbacks run in the SAMP client's receiving thread; a GUI must hand them to its own event loop.
No Panel import here.

Examples
--------
>>> with SampLink("ws", sky=open_sky("sky")).connect() as link:      # doctest: +SKIP
...     link.on_selection(lambda got: print(got.kind, got.ids))
...     link.send_table(["SIM000001", "SIM000002"])
...     link.point_at("SIM000001")
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import numpy as np
import pandas as pd

from core import schema
from core.errors import AstroM3Error

__all__ = ["SampLink", "Received", "SampError", "NoHubError", "hub_params", "object_table", "write_votable",
           "workspace_ids", "fetch_table",
           "MTYPE_LOAD", "MTYPE_ROWS", "MTYPE_POINT"]

log = logging.getLogger(__name__)

MTYPE_LOAD = "table.load.votable"
MTYPE_ROWS = "table.select.rowList"
MTYPE_POINT = "coord.pointAt.sky"
#: Largest table read from a SAMP message (bytes).
MAX_TABLE_BYTES = 512 * 1024**2
_START_HUB = "start TOPCAT or Aladin (each runs a hub), or run astropy's `samp_hub`"


class SampError(AstroM3Error):
    """A SAMP message could not be sent, or a received one is refused."""


class NoHubError(SampError):
    """No SAMP hub is running (or its lockfile names one that does not answer)."""


def _samp():
    """:mod:`astropy.samp`, imported without its deprecation warning (astropy 8 points to pyvo.samp)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import astropy.samp as samp
    return samp


@dataclass(frozen=True)
class Received:
    """Ids another SAMP client sent us.

    Attributes
    ----------
    kind : str
        ``"rows"`` (a row selection on a table we sent) or ``"table"`` (a table sent to us).
    ids : list of str
        Object ids of this workspace, in the sender's order.
    sender : str
        The sender's SAMP name (or client id).
    table_id : str or None
        The table's SAMP id.
    unknown : list of str
        Ids of a received table that this workspace does not have.
    name : str or None
        The table's name, as the sender gave it.
    """

    kind: str
    ids: list[str]
    sender: str
    table_id: str | None = None
    unknown: list[str] = field(default_factory=list)
    name: str | None = None


def hub_params(hub=None) -> dict:
    """The lockfile of a running hub, as a dict.

    Parameters
    ----------
    hub : str or path-like, optional
        A lockfile path, ``file://`` URL or ``std-lockurl:file://...`` value; default ``$SAMP_HUB``,
        else ``~/.samp``. Only local lockfiles are read.

    Raises
    ------
    NoHubError
        When there is no lockfile.
    SampError
        When ``hub`` is not a local lockfile, or the lockfile lacks the hub's URL or secret.
    """
    where = os.environ.get("SAMP_HUB") if hub is None else os.fspath(hub)
    if where is None:
        path = Path.home() / ".samp"
    else:
        s = where[len("std-lockurl:"):] if where.startswith("std-lockurl:") else where
        if s.startswith("file:"):
            parts = urlsplit(s)
            if parts.netloc not in ("", "localhost"):
                raise SampError(f"{where}: the hub's lockfile must be a local file")
            path = Path(url2pathname(unquote(parts.path)))
        elif "://" in s:
            raise SampError(f"{where}: the hub's lockfile must be a local file (a path or a file:// URL)")
        else:
            path = Path(s).expanduser()
    if not path.is_file():
        raise NoHubError(f"no SAMP hub is running (no lockfile {path}); {_START_HUB}")
    params = {}
    for line in path.read_text(errors="replace").splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            params[k.strip()] = v.strip()
    missing = [k for k in ("samp.secret", "samp.hub.xmlrpc.url") if k not in params]
    if missing:
        raise SampError(f"{path}: not a SAMP lockfile (no {', '.join(missing)})")
    return params


def _results(workspace: Path) -> pd.DataFrame:
    path = workspace / schema.RESULTS_FILE
    if not path.exists():
        raise SampError(f"{workspace}: no {schema.RESULTS_FILE}; run `astrom3 run SKY --workspace {workspace}` first")
    from core import scores

    cols = ["id", "label", "suggested_label", "suggested_label_prob", *scores.headline(), "outlier_why"]
    import pyarrow.parquet as pq

    have = set(pq.read_schema(path).names)
    df = pd.read_parquet(path, columns=[c for c in cols if c in have])
    df["id"] = df["id"].astype(str)
    return df


def workspace_ids(workspace) -> list[str]:
    """The object ids of a workspace's ``results.parquet`` (:class:`SampError` when it has none)."""
    return _results(Path(getattr(workspace, "path", workspace)))["id"].tolist()


def _flag_summary(workspace: Path, **filters) -> pd.DataFrame:
    """One row per flagged object: ``flags`` (kinds), ``flag_users``, ``proposed_label``; empty without a store."""
    path = workspace / schema.FLAGS_FILE
    empty = pd.DataFrame(columns=["id", "flags", "flag_users", "proposed_label"])
    if not path.exists():
        return empty
    from core.flags import FlagStore

    with FlagStore(path, readonly=True) as store:
        cur = store.current(**filters)
    if not len(cur):
        return empty
    cur = cur.assign(id=cur["id"].astype(str))
    g = cur.groupby("id", sort=False)
    return pd.DataFrame({
        "flags": g["kind"].agg(lambda s: ";".join(sorted(set(s)))),
        "flag_users": g["user"].agg(lambda s: ";".join(sorted(set(s)))),
        "proposed_label": g["proposed_label"].agg(lambda s: next((v for v in s if isinstance(v, str)), None)),
    }).reset_index()


def object_table(workspace, ids: Iterable[str], sky=None) -> pd.DataFrame:
    """The rows sent over SAMP: id, name, ra, dec, labels, headline scores and flags, in ``ids`` order.

    Raises
    ------
    SampError
        When an id is not in the workspace's results, or no ids are given.
    """
    ws = Path(getattr(workspace, "path", workspace))
    ids = list(dict.fromkeys(str(i) for i in ids))
    if not ids:
        raise SampError("no objects to send")
    results = _results(ws).set_index("id")
    unknown = [i for i in ids if i not in results.index]
    if unknown:
        raise SampError(f"{len(unknown)} ids are not in {ws / schema.RESULTS_FILE}: {', '.join(unknown[:10])}")
    df = results.loc[ids].reset_index()
    if sky is not None:
        objects = sky.objects.set_index(sky.objects["id"].astype(str))
        for i, col in enumerate(c for c in ("name", "ra", "dec") if c in objects.columns):
            df.insert(1 + i, col, objects[col].reindex(df["id"]).to_numpy())
    flags = _flag_summary(ws).set_index("id")
    for col in flags.columns:
        df[col] = flags[col].reindex(df["id"]).to_numpy()
    return df


_UCD = {"id": "meta.id;meta.main", "name": "meta.id", "ra": "pos.eq.ra;meta.main", "dec": "pos.eq.dec;meta.main",
        "label": "src.class", "suggested_label": "src.class"}


def write_votable(df: pd.DataFrame, path, *, name: str = "AstroM3 objects") -> Path:
    """Write ``df`` as a VOTable (ra/dec in deg with their UCDs; text columns masked where missing)."""
    from astropy.table import MaskedColumn, Table

    t = Table(meta={"name": name})
    for c in df.columns:
        values = df[c]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            col = MaskedColumn(values.to_numpy(dtype=float if values.dtype.kind == "f" else values.dtype), name=c)
        else:
            mask = values.isna().to_numpy()
            text = np.array(["" if m else str(v) for v, m in zip(values, mask)] or [""], dtype=str)[:len(mask)]
            col = MaskedColumn(text, mask=mask, name=c)
        if c in ("ra", "dec"):
            col.unit = "deg"
        if c in _UCD:
            col.meta["ucd"] = _UCD[c]
        t[c] = col
    from core.workspace import atomic_path

    from astropy.io.votable import from_table

    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W03: the table's ID is made from its name
        vot = from_table(t)
        for f in vot.get_first_table().fields:
            if f.datatype in ("char", "unicodeChar"):
                f.arraysize = "*"  # variable-length text, whatever the longest value here
        vot.to_xml(str(tmp))
    return Path(path)


def _within(seconds: float, fn: Callable, what: str):
    """``fn()`` in a daemon thread; :class:`NoHubError` if it has not returned after ``seconds``."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True, name="astrom3-samp-connect")
    t.start()
    t.join(seconds)
    if t.is_alive():
        raise NoHubError(f"{what}: no answer in {seconds:g} s; {_START_HUB}")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - a redirect could leave loopback
        raise SampError(f"{req.full_url}: redirected to {newurl}; table URLs are not followed off 127.0.0.1")


def fetch_table(url: str, into: Path, *, timeout: float = 30.0) -> Path:
    """A local copy of a table a SAMP message points to (only ``file://`` and ``http://127.0.0.1`` URLs).

    Parameters
    ----------
    url : str
        From the message's ``url`` parameter.
    into : Path
        Directory for the copy of an http table.
    timeout : float
        Seconds an http read may take.

    Returns
    -------
    Path
        The file itself for a ``file://`` URL, else the downloaded copy.

    Raises
    ------
    SampError
        For any other scheme or host, a missing file, a redirect, or a table over :data:`MAX_TABLE_BYTES`.
    """
    parts = urlsplit(str(url))
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        path = Path(url2pathname(unquote(parts.path)))
        if not path.is_absolute() or not path.is_file():
            raise SampError(f"{url}: not a readable file")
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise SampError(f"{url}: larger than {MAX_TABLE_BYTES >> 20} MiB")
        return path
    if parts.scheme != "http" or parts.hostname != "127.0.0.1":
        raise SampError(f"refusing table URL {str(url)[:200]!r}: only file:// and http://127.0.0.1 URLs are read")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    out = into / f"received-{uuid.uuid4().hex[:12]}.xml"
    with opener.open(url, timeout=timeout) as resp, open(out, "wb") as f:
        n = 0
        while chunk := resp.read(1 << 20):
            n += len(chunk)
            if n > MAX_TABLE_BYTES:
                raise SampError(f"{url}: larger than {MAX_TABLE_BYTES >> 20} MiB")
            f.write(chunk)
    return out


class SampLink:
    """One workspace's connection to a SAMP hub: send objects and flags, point at one, receive ids.

    Parameters
    ----------
    workspace : path-like or core.workspace.Workspace
        Holds ``results.parquet`` (labels, scores) and ``flags.sqlite``.
    sky : core.sky.Sky, optional
        Gives ``name``, ``ra`` and ``dec``; without it tables carry no coordinates and
        :meth:`point_at` refuses.
    name : str
        How other tools list us.
    hub : str or path-like, optional
        The hub's lockfile (see :func:`hub_params`); default ``$SAMP_HUB`` or ``~/.samp``.
    timeout : float
        Seconds to wait for the hub and for replies of the clients a table is sent to.
    """

    def __init__(self, workspace, sky=None, name: str = "AstroM3 Explorer", *, hub=None, timeout: float = 30.0):
        self.workspace = Path(getattr(workspace, "path", workspace))
        self.sky = sky
        self.name = name
        self.hub = hub
        self.timeout = float(timeout)
        self._client = None
        self._callbacks: list[Callable[[Received], None]] = []
        self._sent: dict[str, list[str]] = {}   # table-id -> ids in row order
        self._urls: dict[str, str] = {}         # url -> table-id
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._known: set[str] | None = None
        self.last_replies: dict[str, str] = {}  # client id -> reply status of the latest send_table

    # --- connection ---------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def connect(self) -> SampLink:
        """Register with the hub and subscribe to ``table.select.rowList`` and ``table.load.votable``.

        Raises
        ------
        NoHubError
            One line saying to start TOPCAT, Aladin or ``samp_hub``.
        """
        if self.connected:
            return self
        params = hub_params(self.hub)
        samp = _samp()
        client = samp.SAMPIntegratedClient(name=self.name, addr="127.0.0.1", metadata={
            "samp.description.text": "AstroM3 Explorer: mislabelled and anomalous variable stars"})
        try:
            _within(self.timeout, lambda: client.connect(hub_params=params), f"SAMP hub {params['samp.hub.xmlrpc.url']}")
        except (samp.SAMPHubError, samp.SAMPProxyError, OSError) as exc:
            raise NoHubError(f"no SAMP hub answers at {params['samp.hub.xmlrpc.url']} ({exc}); {_START_HUB}") from None
        client.bind_receive_message(MTYPE_ROWS, self._receive_rows)
        client.bind_receive_message(MTYPE_LOAD, self._receive_table)
        self._client = client
        self._dir = Path(tempfile.mkdtemp(prefix="astrom3-samp-"))
        return self

    def close(self) -> None:
        """Unregister from the hub and delete the temporary tables (idempotent)."""
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                client.disconnect()
            except Exception as exc:  # noqa: BLE001 - the hub may be gone already
                log.debug("SAMP disconnect: %s", exc)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> SampLink:
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

    def _need(self):
        if not self.connected:
            raise SampError("not connected to a SAMP hub; call connect() first")
        return self._client

    def listeners(self, mtype: str = MTYPE_LOAD) -> dict[str, str]:
        """Other clients subscribed to ``mtype``: ``{client id: name}``."""
        client = self._need()
        me = client.get_public_id()
        out = {}
        for cid in client.get_subscribed_clients(mtype):
            if cid != me:
                out[cid] = str(client.get_metadata(cid).get("samp.name", cid))
        return out

    # --- sending ------------------------------------------------------------------------------
    def _deliver(self, mtype: str, params: dict, recipient: str | None, wait: bool) -> dict[str, str]:
        """Send to ``recipient`` or every listener; with ``wait``, each one's reply status."""
        client = self._need()
        targets = [recipient] if recipient else list(self.listeners(mtype))
        if not targets:
            raise SampError(f"no SAMP client listens for {mtype}; start TOPCAT or Aladin and connect it to the hub")
        message = {"samp.mtype": mtype, "samp.params": params}
        if not wait:
            for cid in targets:
                client.notify(cid, message)
            return {cid: "sent" for cid in targets}
        replies = {}
        for cid in targets:
            try:
                r = client.call_and_wait(cid, message, str(int(max(1, self.timeout))))
                status = r.get("samp.status", "samp.error")
                replies[cid] = status if status != "samp.error" else \
                    f"error: {r.get('samp.error', {}).get('samp.errortxt', 'no reason given')}"
            except Exception as exc:  # noqa: BLE001 - a client that fails or times out is reported
                replies[cid] = f"error: {exc}"
        if all(v.startswith("error") for v in replies.values()):
            raise SampError(f"{mtype} failed for every client: {'; '.join(replies.values())}")
        return replies

    def send_table(self, ids: Iterable[str], *, name: str | None = None, recipient: str | None = None,
                   wait: bool = True, frame: pd.DataFrame | None = None) -> str:
        """Send objects as a VOTable (``table.load.votable``); returns its SAMP table id.

        Parameters
        ----------
        ids : iterable of str
            Objects of the workspace, in the order the table lists them.
        name : str, optional
            The table's name in the receiving tool.
        recipient : str, optional
            One client id (:meth:`listeners`); default every listener.
        wait : bool
            Wait for each recipient to reply (``timeout``); else notify and return at once.
        frame : pandas.DataFrame, optional
            The rows to send (default :func:`object_table`); must have an ``id`` column.

        Raises
        ------
        SampError
            When no client listens, every recipient fails, or an id is unknown.
        """
        self._need()
        df = object_table(self.workspace, ids, self.sky) if frame is None else frame
        tid = f"astrom3-{uuid.uuid4().hex[:12]}"
        path = write_votable(df, self._dir / f"{tid}.xml", name=name or f"AstroM3 {len(df)} objects")
        url = path.as_uri()
        with self._lock:
            self._sent[tid] = [str(i) for i in df["id"]]
            self._urls[url] = tid
        self.last_replies = self._deliver(MTYPE_LOAD, {"url": url, "table-id": tid,
                                                       "name": name or f"AstroM3 {len(df)} objects"}, recipient, wait)
        return tid

    def send_flags(self, *, name: str | None = None, recipient: str | None = None, wait: bool = True,
                   **filters) -> str:
        """Send every currently flagged object (``filters``: ``kind``, ``user``... of :meth:`FlagStore.current`)."""
        ids = _flag_summary(self.workspace, **filters)["id"].tolist()
        if not ids:
            raise SampError(f"{self.workspace}: no flags to send" + (f" ({filters})" if filters else ""))
        return self.send_table(ids, name=name or f"AstroM3 flags ({len(ids)})", recipient=recipient, wait=wait)

    def point_at(self, object_id: str, *, recipient: str | None = None, wait: bool = False) -> tuple[float, float]:
        """Send ``coord.pointAt.sky`` for one object (Aladin centres on it); returns its (ra, dec)."""
        self._need()
        objects = None if self.sky is None else self.sky.objects
        if objects is None or not {"ra", "dec"} <= set(objects.columns):
            raise SampError("this sky has no ra/dec columns to point at" if objects is not None
                            else "no sky given, so no coordinates to point at")
        row = objects.loc[objects["id"].astype(str) == str(object_id)]
        if not len(row):
            raise SampError(f"object id {object_id!r} is not in this sky")
        ra, dec = float(row["ra"].iloc[0]), float(row["dec"].iloc[0])
        if not (np.isfinite(ra) and np.isfinite(dec)):
            raise SampError(f"object {object_id!r} has no coordinates")
        self._deliver(MTYPE_POINT, {"ra": f"{ra:.8f}", "dec": f"{dec:.8f}"}, recipient, wait)
        return ra, dec

    def sent_ids(self, table_id: str) -> list[str]:
        """The ids of a table we sent, in row order (what a ``table.select.rowList`` indexes)."""
        with self._lock:
            return list(self._sent[table_id])

    # --- receiving ----------------------------------------------------------------------------
    def on_selection(self, callback: Callable[[Received], None]) -> Callable[[Received], None]:
        """Call ``callback(Received)`` for every row selection and table sent to us; returns it (a decorator)."""
        self._callbacks.append(callback)
        return callback

    def _known_ids(self) -> set[str]:
        if self._known is None:
            self._known = set(_results(self.workspace)["id"])
        return self._known

    def _reply(self, msg_id, error: str | None = None) -> None:
        if msg_id is None or self._client is None:
            return
        body = {"samp.status": "samp.ok", "samp.result": {}} if error is None else \
            {"samp.status": "samp.error", "samp.error": {"samp.errortxt": error}}
        try:
            self._client.reply(msg_id, body)
        except Exception as exc:  # noqa: BLE001 - the sender may have gone
            log.debug("SAMP reply: %s", exc)

    def _sender(self, sender_id: str) -> str:
        try:
            return str(self._client.get_metadata(sender_id).get("samp.name", sender_id))
        except Exception:  # noqa: BLE001 - only a display name
            return str(sender_id)

    def _dispatch(self, msg_id, make: Callable[[], Received]) -> None:
        """Build the :class:`Received`, run the callbacks, reply; an error becomes the reply, never a crash."""
        try:
            got = make()
            for cb in list(self._callbacks):
                cb(got)
        except Exception as exc:  # noqa: BLE001 - told to the sender, logged here
            log.warning("SAMP message refused: %s", exc)
            self._reply(msg_id, str(exc)[:500])
            return
        self._reply(msg_id)

    def _receive_rows(self, private_key, sender_id, msg_id, mtype, params, extra) -> None:
        def make():
            tid = params.get("table-id")
            with self._lock:
                tid = tid if tid in self._sent else self._urls.get(params.get("url"))
                ids = self._sent.get(tid)
            if ids is None:
                raise SampError(f"table {params.get('table-id')!r} was not sent by {self.name}")
            try:
                rows = [int(r) for r in params.get("row-list", [])]
            except (TypeError, ValueError):
                raise SampError("row-list holds something that is not a row number") from None
            bad = [r for r in rows if not 0 <= r < len(ids)]
            if bad:
                raise SampError(f"rows {bad[:5]} are outside the table's {len(ids)} rows")
            return Received("rows", [ids[r] for r in rows], self._sender(sender_id), tid)
        self._dispatch(msg_id, make)

    def _receive_table(self, private_key, sender_id, msg_id, mtype, params, extra) -> None:
        def make():
            from core.idlist import read_table, table_ids

            url = str(params.get("url", ""))
            path = fetch_table(url, self._dir, timeout=self.timeout)
            table = read_table(path, what="SAMP table", format="votable")
            known = self._known_ids()
            ids = table_ids(table, source=url[:200], known_ids=known)
            return Received("table", [i for i in ids if i in known], self._sender(sender_id), params.get("table-id"),
                            unknown=[i for i in ids if i not in known], name=params.get("name"))
        self._dispatch(msg_id, make)

    def flag(self, ids: Iterable[str], kind: str, *, user: str, note: str | None = None,
             skip_unknown: bool = True) -> dict:
        """Record ``ids`` (e.g. a :class:`Received`'s) as flags of ``kind`` by ``user``; see :func:`core.idlist.flag_ids`."""
        from core.flags import FlagStore
        from core.idlist import flag_ids

        with FlagStore(self.workspace / schema.FLAGS_FILE, valid_ids=self._known_ids()) as store:
            return flag_ids(store, ids, kind, user=user, note=note, skip_unknown=skip_unknown, source="SAMP")
