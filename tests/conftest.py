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


def race_free_hub_class():
    """astropy's ``SAMPHubServer`` with its call-and-wait race closed (astropy issue 7985).

    The hub registers a synchronous call's message id only after it has started the thread that
    delivers the call; a recipient that answers at once (a refusal needs no I/O) can reply before
    that, and the hub drops the reply: the caller waits out its timeout ("Timeout expired!", a CI
    failure here). This hub registers the id when it is made and never lets the late registration
    overwrite a reply that came first. Everything else is astropy's own hub.
    """
    from core.samp import _samp

    class _Replies(dict):
        def __setitem__(self, msg_id, response):
            if response is None and self.get(msg_id) is not None:
                return  # the reply came before the hub's own registration: keep it
            super().__setitem__(msg_id, response)

    class RaceFreeHub(_samp().SAMPHubServer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._sync_msg_ids_heap = _Replies()

        def _get_new_hub_msg_id(self, sender_public_id, sender_msg_id):
            msg_id = super()._get_new_hub_msg_id(sender_public_id, sender_msg_id)
            if sender_msg_id == "samp::sync::call":
                self._sync_msg_ids_heap[msg_id] = None
            return msg_id

    return RaceFreeHub


@pytest.fixture
def hub_server(tmp_path, monkeypatch):
    """A running hub on 127.0.0.1 (no web profile, a temp lockfile and HOME); yields the server."""
    lock = tmp_path / "hub.samp"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAMP_HUB", f"std-lockurl:{lock.as_uri()}")
    server = race_free_hub_class()(addr="127.0.0.1", lockfile=str(lock), web_profile=False, timeout=300,
                                   mode="single")
    server.start(wait=False)
    yield server
    server.stop()
    assert not lock.exists()


@pytest.fixture
def hub(hub_server, tmp_path):
    """The running hub's lockfile (see :func:`hub_server`)."""
    return tmp_path / "hub.samp"
