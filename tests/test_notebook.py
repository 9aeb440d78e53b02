"""explorer.show (the dashboard as a Panel object for Jupyter) and the docs/tour.ipynb notebook, run with nbclient."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import AstroM3Error

TOUR = Path(__file__).resolve().parents[1] / "docs" / "tour.ipynb"


def test_show_returns_a_renderable_dashboard(tmp_path):
    import panel as pn
    from bokeh.models import Tabs

    import explorer
    from explorer.testing import make_fake_workspace

    sky, ws = make_fake_workspace(tmp_path, n=40)
    layout = explorer.show(ws, sky)
    assert isinstance(layout, pn.Row)
    assert {"state", "map", "table", "inspector", "flags"} <= set(layout.explorer_views)
    root = layout.get_root()  # the Bokeh document a notebook cell displays
    try:
        titles = [[p.title for p in m.tabs] for m in root.select({"type": Tabs})]
        assert ["Explore", "Clusters", "Subclasses", "Flags & export"] in titles
        assert len(layout.explorer_views["state"].results) == 40
    finally:
        layout._cleanup(root)


def test_show_without_results(tmp_path):
    import explorer

    (tmp_path / "ws").mkdir()
    with pytest.raises(AstroM3Error, match="no results yet; run `astrom3 run"):
        explorer.show(tmp_path / "ws", tmp_path / "sky")


@pytest.mark.slow
def test_tour_notebook_runs(tmp_path, monkeypatch):
    """The tour executes top to bottom in a fresh kernel (its data under tmp_path) and shows its plots."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ASTROM3_TOUR_DIR", str(tmp_path / "tour"))
    monkeypatch.setenv("ASTROM3_PROGRESS", "0")
    nb = nbformat.read(TOUR, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the map and the folded light curve
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    for text in ("mislabel_score", "outlier_why", "similarity", "simbad.cds.unistra.fr"):
        assert text in html, text
    shown = [o["data"] for o in nb.cells[-1]["outputs"] if o.get("data", {}).get("text/plain", "").startswith("Row(")]
    assert shown and "application/vnd.holoviews_exec.v0+json" in shown[0]  # explorer.show rendered as a Panel
    assert (tmp_path / "tour" / "ws" / "results.parquet").exists()
