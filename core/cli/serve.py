"""``astrom3 serve SKY``: open the explorer on a sky in the browser (Panel server)."""
from __future__ import annotations

from pathlib import Path

from core.errors import AstroM3Error
from core.resources import EXPLORER_APP, resource_path

#: The Panel app script, shipped inside the package.
APP = resource_path(EXPLORER_APP)


def register(sub) -> None:
    p = sub.add_parser("serve", help="open the explorer on a sky",
                       description="Start the explorer (panel serve on the app shipped in the package) on SKY "
                                   "and its workspace. When the workspace has no results yet, the page computes "
                                   "them first (train if needed, embed, analyze) with a progress bar. Listens on "
                                   "127.0.0.1 unless --address says otherwise.")
    p.add_argument("sky", help="sky directory")
    p.add_argument("--workspace", default=None, help="workspace directory (default: SKY-workspace beside the sky)")
    p.add_argument("--checkpoint", default=None,
                   help="when the workspace has no results yet: embed with this model instead of training one")
    p.add_argument("--preset", default="cpu", help="when a model has to be trained: its preset (default cpu)")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--flags", default=None, metavar="STORE",
                   help="flag store the explorer reads and writes: postgresql://user@host/db (one store several "
                        "servers share) or a .sqlite file (default: WORKSPACE/flags.sqlite); checked before the "
                        "server starts")
    p.add_argument("--auth", choices=("none", "basic", "oauth"), default="none",
                   help="who may open the explorer: none (default; then it listens on 127.0.0.1 only), basic "
                        "(logins and passwords from --users) or oauth (Panel's OAuth providers, --oauth-provider; "
                        "key and secret from PANEL_OAUTH_KEY / PANEL_OAUTH_SECRET). Each decision is attributed "
                        "to the logged-in user")
    p.add_argument("--users", default=None, metavar="FILE",
                   help="with --auth basic: a JSON file {\"login\": \"password\", ...}")
    p.add_argument("--oauth-provider", default=None, help="with --auth oauth: github, google, azure, gitlab, ...")
    p.add_argument("--show", action="store_true", help="open a browser tab")
    p.set_defaults(func=run)


def command(args) -> list[str]:
    """The ``panel serve`` command line for ``args``."""
    import sys

    sky = Path(args.sky)
    if not sky.is_dir():
        raise AstroM3Error(f"sky directory {sky} does not exist")
    ws = Path(args.workspace) if args.workspace else sky.parent / f"{sky.name}-workspace"
    cmd = [sys.executable, "-m", "panel", "serve", str(APP), "--address", args.address, "--port", str(args.port),
           "--allow-websocket-origin", f"{args.address}:{args.port}", "--allow-websocket-origin",
           f"localhost:{args.port}", "--warm"]  # --warm: the workspace is loaded before the first page asks
    cmd += auth_arguments(args)
    if args.show:
        cmd.append("--show")
    extra = ["--preset", args.preset] + (["--checkpoint", str(args.checkpoint)] if args.checkpoint else [])
    return cmd + ["--args", "--sky", str(sky), "--workspace", str(ws), *extra]


#: Addresses that only this machine can reach.
LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")


def read_users(path) -> dict[str, str]:
    """The ``--users`` file: a JSON object of login -> password (one-line errors otherwise)."""
    import json

    p = Path(path)
    if not p.is_file():
        raise AstroM3Error(f"--users {p}: no such file; write a JSON object {{\"login\": \"password\"}}")
    try:
        users = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise AstroM3Error(f"--users {p}: not JSON ({exc})") from None
    if not isinstance(users, dict) or not users or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in users.items()):
        raise AstroM3Error(f"--users {p}: expected a non-empty JSON object of login -> password strings")
    return users


def auth_arguments(args) -> list[str]:
    """``panel serve`` options for ``--auth``; refuses to leave this machine without authentication."""
    auth = getattr(args, "auth", "none") or "none"
    if auth == "none":
        if args.address not in LOCAL_ADDRESSES:
            raise AstroM3Error(f"--address {args.address} without --auth would let anyone who can reach this "
                               f"machine flag objects in your name; add --auth basic --users FILE (or --auth oauth)")
        return []
    if auth == "basic":
        if not getattr(args, "users", None):
            raise AstroM3Error("--auth basic needs --users FILE (a JSON object of login -> password)")
        read_users(args.users)
        return ["--basic-auth", str(Path(args.users).resolve())]
    if not getattr(args, "oauth_provider", None):
        raise AstroM3Error("--auth oauth needs --oauth-provider (github, google, azure, gitlab, ...)")
    return ["--oauth-provider", args.oauth_provider]


def environment(args) -> dict:
    """The server's environment: this one, plus the ``--flags`` store (``ASTROM3_FLAGS``) when given.

    The store travels in the environment rather than on the command line, so a password in its URL
    is not shown by ``ps``.
    """
    import os

    from core.flags.common import STORE_ENV

    env = dict(os.environ)
    if getattr(args, "flags", None):
        env[STORE_ENV] = str(args.flags)
    if getattr(args, "auth", "none") != "none" and not env.get("PANEL_COOKIE_SECRET"):
        import secrets

        env["PANEL_COOKIE_SECRET"] = secrets.token_hex(32)   # signs the login cookies; never on the command line
    return env


def exec_server(cmd: list[str], env: dict) -> int:
    """Become the Panel server: this process is replaced by ``cmd`` (same pid), so a SIGTERM, SIGHUP or
    Ctrl-C sent to ``astrom3 serve`` reaches the server itself, and its exit status is the command's.

    A child process would be left running, orphaned on its port, when only its parent is killed (a
    process manager stopping the service, a batch job's end). On Windows, which has no exec, the server
    runs as a child and this waits for it.
    """
    import os
    import subprocess
    import sys

    if os.name == "nt":
        return subprocess.call(cmd, env=env)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(cmd[0], cmd, env)


def run(args) -> int:
    import sys

    cmd = command(args)
    if getattr(args, "flags", None):
        from core.flags import FlagStore
        FlagStore(args.flags).close()  # a bad URL or an unreachable server: a one-line error, no server started
    if getattr(args, "auth", "none") == "none":
        print(f"astrom3: serving on http://{args.address}:{args.port}/explorer for this machine only "
              f"(no --auth); see README 'Serving the explorer for a team'", file=sys.stderr)
    return exec_server(cmd, environment(args))
