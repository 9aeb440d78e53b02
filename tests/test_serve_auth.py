"""astrom3 serve: never leaves this machine without authentication; basic-auth users file checks."""
from __future__ import annotations

import argparse
import json

import pytest

from core.cli import main
from core.cli.serve import auth_arguments, command, environment


def _args(tmp_path, **kw):
    sky = tmp_path / "sky"
    sky.mkdir(exist_ok=True)
    base = dict(sky=str(sky), workspace=None, checkpoint=None, preset="cpu", port=5099, address="127.0.0.1",
                flags=None, show=False, auth="none", users=None, oauth_provider=None)
    return argparse.Namespace(**{**base, **kw})


def test_no_auth_serves_this_machine_only(tmp_path, capsys):
    assert auth_arguments(_args(tmp_path)) == []
    sky = tmp_path / "sky"
    sky.mkdir(exist_ok=True)
    assert main(["serve", str(sky), "--address", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "--address 0.0.0.0 without --auth" in err and len(err.strip().splitlines()) == 1


def test_basic_auth_passes_the_users_file_and_a_secret_out_of_sight(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"ana": "s3cret", "bo": "pw"}))
    args = _args(tmp_path, auth="basic", users=str(users), address="0.0.0.0")
    cmd = command(args)
    assert cmd[cmd.index("--basic-auth") + 1] == str(users.resolve())
    env = environment(args)
    assert len(env["PANEL_COOKIE_SECRET"]) == 64 and env["PANEL_COOKIE_SECRET"] not in " ".join(cmd)
    assert "s3cret" not in " ".join(cmd)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), ("not json", "not JSON"), ("[1, 2]", "non-empty JSON object"),
    ('{"ana": ""}', "non-empty JSON object"), ("{}", "non-empty JSON object"),
])
def test_bad_users_files_are_one_line_errors(tmp_path, capsys, content, message):
    sky = tmp_path / "sky"
    sky.mkdir(exist_ok=True)
    users = tmp_path / "users.json"
    if content is not None:
        users.write_text(content)
    assert main(["serve", str(sky), "--auth", "basic", "--users", str(users)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_auth_options_need_their_companions(tmp_path, capsys):
    sky = tmp_path / "sky"
    sky.mkdir(exist_ok=True)
    assert main(["serve", str(sky), "--auth", "basic"]) == 2
    assert "--auth basic needs --users FILE" in capsys.readouterr().err
    assert main(["serve", str(sky), "--auth", "oauth"]) == 2
    assert "--auth oauth needs --oauth-provider" in capsys.readouterr().err
    assert "--oauth-provider" in command(_args(tmp_path, auth="oauth", oauth_provider="github"))


@pytest.mark.parametrize("host, authenticated, warned", [
    ("127.0.0.1:5006", False, False), ("localhost:5006", False, False), ("[::1]:5006", False, False),
    ("192.0.2.7:5006", False, True), ("astro.example.org", False, True), ("192.0.2.7:5006", True, False),
    ("", False, False),
])
def test_a_bare_panel_serve_reached_from_elsewhere_without_login_warns(host, authenticated, warned):
    from core.resources.explorer import exposure_warning

    msg = exposure_warning(host, authenticated)
    assert (msg is not None) == warned
    if warned:
        assert "without a login" in msg and "--auth basic" in msg
