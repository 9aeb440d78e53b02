"""``astrom3 serve --flags STORE``: the explorer server opens that store (e.g. PostgreSQL) instead of WS/flags.sqlite."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pandas as pd

from core.cli import main
from core.flags import FlagStore
from core.flags.backends import redact
from flag_backends import flag_location, locations  # noqa: F401 - fixtures


def _args(tmp_path, flags):
    (tmp_path / "sky").mkdir(exist_ok=True)
    return Namespace(sky=str(tmp_path / "sky"), workspace=None, checkpoint=None, preset="cpu", port=5123,
                     address="127.0.0.1", show=False, flags=flags)


def test_serve_passes_the_store_in_the_environment_not_the_command_line(tmp_path, monkeypatch):
    from core.cli.serve import command, environment

    monkeypatch.delenv("ASTROM3_FLAGS", raising=False)
    url = "postgresql://ada:secret@db.example/flags"
    args = _args(tmp_path, url)
    assert environment(args)["ASTROM3_FLAGS"] == url
    assert not any("secret" in c or "postgresql" in c for c in command(args))
    assert "ASTROM3_FLAGS" not in environment(_args(tmp_path, None))


def test_serve_refuses_a_store_it_cannot_open_before_starting(tmp_path, capsys):
    (tmp_path / "sky").mkdir()
    assert main(["serve", str(tmp_path / "sky"), "--flags", "postgresql://ada:secret@nosuchhost.invalid/f"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and "secret" not in err and err.count("\n") == 1


def test_the_explorer_opens_the_store_the_server_was_given(tmp_path, monkeypatch, flag_location):
    from explorer.data import open_flag_store

    with FlagStore(flag_location) as s:
        s.add(s.start_session("ada"), "o1", "anomaly", note="from another server")
    results = pd.DataFrame({"id": ["o1", "o2"], "label": ["EW", "RRAB"]})
    (tmp_path / "ws").mkdir()
    monkeypatch.setenv("ASTROM3_FLAGS", str(flag_location))
    store, err = open_flag_store(tmp_path / "ws", results)
    assert err is None and store.path == (flag_location if isinstance(flag_location, Path) else redact(flag_location))
    assert list(store.current()["note"]) == ["from another server"]
    store.add(store.start_session("bob"), "o2", "fine")
    store.close()
    assert not (tmp_path / "ws" / "flags.sqlite").exists()  # the workspace's own store was not used
    with FlagStore(flag_location) as s:
        assert sorted(s.current()["user"]) == ["ada", "bob"]
    monkeypatch.delenv("ASTROM3_FLAGS")
    store, err = open_flag_store(tmp_path / "ws", results)
    assert err is None and store.path == tmp_path / "ws" / "flags.sqlite" and store.current().empty
    store.close()
