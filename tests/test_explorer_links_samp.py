"""The inspector's archive links and cross-match, PNG save tools, and the dashboard's SAMP buttons
against astropy's real SAMPHubServer on 127.0.0.1 (a second client plays TOPCAT)."""
from __future__ import annotations

import faulthandler
import queue
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from explorer.testing import make_fake_workspace

hv.extension("bokeh", logo=False)

N = 20
WAIT = 20


@pytest.fixture(autouse=True)
def _no_hang():
    faulthandler.dump_traceback_later(180, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A workspace whose sky has coordinates (but s00003 none) and a VSX cross-match for s00001."""
    from explorer.data import load_workspace

    ra, dec = np.linspace(10, 200, N), np.linspace(-40, 40, N)
    ra[3] = dec[3] = np.nan
    name = [None] * N
    name[1] = "V* <b>RR</b> Lyr"
    xname, xtype, xsep = [None] * N, [None] * N, [None] * N
    xname[1], xtype[1], xsep[1] = "RR Lyr", "RRAB<script>", "0.41"
    sky, ws = make_fake_workspace(tmp_path_factory.mktemp("links"), n=N, seed=5, extra_objects={
        "ra": ra, "dec": dec, "name": name, "vsx_name": xname, "vsx_type": xtype, "vsx_sep_arcsec": xsep})
    return load_workspace(sky, ws, reload=True)


@pytest.fixture
def views(data):
    """One session on the workspace's own store (WS/flags.sqlite, what SAMP tables read their flags from)."""
    from explorer.app import build_views

    v = build_views(data, user="tester")
    yield v
    v["samp"].close()


def test_links_html_escapes_and_needs_coordinates():
    from explorer.views.inspector import links_html

    out = links_html({"id": "a", "ra": 10.5, "dec": -5.25, "name": "x'><script>"})
    assert "<script>" not in out and "x&#x27;&gt;&lt;script&gt;" not in out  # the name is URL-encoded in hrefs
    assert out.count("target='_blank' rel='noopener'") == out.count("<a ")
    assert "&amp;" in out  # query separators escaped inside the attribute
    assert links_html({"id": "a"}) == "" and links_html(None) == ""
    assert "SIMBAD" not in links_html({"id": "a", "ra": np.nan, "dec": 3.0})


def test_focused_object_gets_links_with_its_coordinates(views, data):
    state, insp = views["state"], views["inspector"]
    state.focus_on("s00002")
    row = data.meta_row("s00002")
    html = insp._links.object
    assert "SIMBAD</a>" in html and "Gaia DR3</a>" in html
    simbad = html.split("href='", 1)[1].split("'", 1)[0]
    assert "sim-coo" in simbad
    coord = unquote(simbad.replace("&amp;", "&").replace("+", " ")).split("Coord=")[1].split("&")[0]
    assert coord == f"{row['ra']:.6f} {row['dec']:+.6f}"
    state.focus_on("s00003")  # no coordinates, no name: no links
    assert insp._links.object == ""


def test_crossmatch_and_name_shown_escaped(views):
    state, insp = views["state"], views["inspector"]
    state.focus_on("s00001")
    html = insp._links.object
    assert "vsx: <b>RR Lyr / RRAB&lt;script&gt;</b>" in html and "0.41" in html
    assert "<script>" not in html and "SIMBAD (name)</a>" in html and "<b>RR</b>" not in html


def test_inspector_figures_and_map_can_be_saved_as_png(views):
    from bokeh.models import SaveTool

    f = views["inspector"].figures
    for fig in (f.raw, f.folded, f.pg, f.spec):
        assert any(isinstance(t, SaveTool) for t in fig.toolbar.tools), fig.title.text
    plot = hv.renderer("bokeh").get_plot(views["map"].overlay)
    assert any(isinstance(t, SaveTool) for t in plot.state.toolbar.tools)


def test_samp_without_a_hub_notifies_instead_of_raising(views, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{(tmp_path / 'none.samp').as_uri()}")
    state, samp = views["state"], views["samp"]
    state.select_ids(["s00001", "s00002"])
    assert samp.send_selection() is False
    assert "no SAMP hub" in samp.message
    state.focus_on("s00002")
    assert samp.point_at() is False and "no SAMP hub" in samp.message


# --- against a real hub ------------------------------------------------------------------------
@pytest.fixture
def topcat(hub):
    """A second SAMP client: records the tables and pointAt messages it is sent."""
    from core.samp import _samp, hub_params

    client = _samp().SAMPIntegratedClient(name="topcat", addr="127.0.0.1")
    client.connect(hub_params=hub_params(hub))
    tables, points = queue.Queue(), queue.Queue()

    def load(private_key, sender_id, msg_id, mtype, params, extra):
        tables.put((params, Table.read(url2pathname(urlsplit(params["url"]).path), format="votable")))
        if msg_id:
            client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

    def point(private_key, sender_id, msg_id, mtype, params, extra):
        points.put(params)
        if msg_id:
            client.reply(msg_id, {"samp.status": "samp.ok", "samp.result": {}})

    client.bind_receive_message("table.load.votable", load)
    client.bind_receive_message("coord.pointAt.sky", point)
    client.tables, client.points = tables, points
    yield client
    client.disconnect()


def test_send_selection_flags_and_point_reach_another_client(views, topcat):
    state, samp = views["state"], views["samp"]
    ids = ["s00004", "s00001", "s00007"]
    state.select_ids(ids)
    assert samp.link is None  # lazily: nothing connects before the first click
    assert samp.send_selection(), samp.message
    params, table = topcat.tables.get(timeout=WAIT)
    assert sorted(str(i) for i in table["id"]) == sorted(ids)
    assert {"ra", "dec", "label", "mislabel_score"} <= set(table.colnames)
    assert "topcat" in samp.message
    state.flag("mislabel", "s00005")
    assert samp.send_flags(), samp.message
    _, flagged = topcat.tables.get(timeout=WAIT)
    assert [str(i) for i in flagged["id"]] == ["s00005"] and str(flagged["flags"][0]) == "mislabel"
    state.focus_on("s00002")
    assert samp.point_at(), samp.message
    got = topcat.points.get(timeout=WAIT)
    assert float(got["ra"]) == pytest.approx(float(views["inspector"].data.meta_row("s00002")["ra"]))


def test_a_row_selection_from_another_tool_selects_on_the_map(views, topcat):
    state, samp = views["state"], views["samp"]
    state.select_ids(["s00004", "s00001", "s00007"])
    assert samp.send_selection(), samp.message
    params, _ = topcat.tables.get(timeout=WAIT)
    me = next(c for c in topcat.get_registered_clients()
              if topcat.get_metadata(c).get("samp.name") == "AstroM3 Explorer")
    sent = samp.link.sent_ids(params["table-id"])
    reply = topcat.call_and_wait(me, {"samp.mtype": "table.select.rowList", "samp.params": {
        "table-id": params["table-id"], "url": params["url"], "row-list": ["0"]}}, str(WAIT))
    assert reply["samp.status"] == "samp.ok"
    for _ in range(100):
        if state.selected_ids == [sent[0]]:
            break
        import time
        time.sleep(0.05)
    assert state.selected_ids == [sent[0]]
    assert pd.Index(state.selected_ids).isin(state.results["id"]).all()
