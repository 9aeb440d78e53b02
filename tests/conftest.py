"""Shared fixtures: tiny seeded skies, paths to optional shared data."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("ASTROM3_PROGRESS", "0")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the project; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not present")
    return SHARED_DATA


def make_handmade_sky_tables(n: int = 6, seed: int = 0):
    """Tiny hand-made sky tables (objects, light curves, spectra) for format tests."""
    rng = np.random.default_rng(seed)
    ids = [f"obj{i}" for i in range(n)]
    objects = pd.DataFrame({"id": ids, "label": ["EW", "RRAB", None, "EW", "M", "SR"][:n],
                            "period": rng.uniform(0.3, 1.0, n), "parallax": rng.uniform(0.1, 2, n)})
    lcs = pd.DataFrame({
        "id": ids,
        "time": [np.sort(rng.uniform(0, 500, 50)) for _ in ids],
        "mag": [rng.normal(12, 0.1, 50) for _ in ids],
        "mag_err": [np.full(50, 0.02) for _ in ids],
    })
    wl = np.linspace(3700, 9100, 300)
    spectra = pd.DataFrame({
        "id": ids[:4], "wavelength": [wl] * 4,
        "flux": [rng.normal(1, 0.05, 300) for _ in range(4)],
        "flux_err": [np.full(300, 0.05)] * 4,
    })
    return objects, lcs, spectra


@pytest.fixture
def handmade_sky(tmp_path):
    """A 6-object sky written through :func:`core.sky.write_sky` (4 spectra, 1 unlabelled)."""
    from core.sky import write_sky

    objects, lcs, spectra = make_handmade_sky_tables()
    return write_sky(tmp_path / "sky", objects, lcs, spectra)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """astropy's SAMPHubServer on 127.0.0.1 (no web profile, a temp lockfile and HOME); yields the lockfile."""
    from core.samp import _samp

    lock = tmp_path / "hub.samp"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lock.as_uri()}")
    server = _samp().SAMPHubServer(addr="127.0.0.1", lockfile=str(lock), web_profile=False, timeout=300,
                                   mode="single")
    server.start(wait=False)
    yield lock
    server.stop()
    assert not lock.exists()
