"""``astrom3 serve`` becomes its Panel server (same process), so stopping it stops the server: no orphan left
on the port when a process manager or a batch job sends SIGTERM to the pid it started."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; exec is POSIX")

ROOT = Path(__file__).resolve().parents[1]

#: Starts a long-lived "server" the way ``astrom3 serve`` starts Panel; the server writes its pid.
PARENT = ("import os, sys; from core.cli.serve import exec_server; "
          "exec_server([sys.executable, '-c', "
          "'import os, sys, time; open(sys.argv[1], \"w\").write(str(os.getpid())); time.sleep(120)', sys.argv[1]], "
          "dict(os.environ))")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:           # a zombie is gone for our purpose
        return fh.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_the_started_process_ends_the_server(tmp_path, sig):
    pid_file = tmp_path / "server.pid"
    started = subprocess.Popen([sys.executable, "-c", PARENT, str(pid_file)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pid_file.exists(), "the server never started"
        server = int(pid_file.read_text())
        assert server == started.pid                        # the server is the process that was started
        started.send_signal(sig)
        code = started.wait(timeout=30)
        assert code in (-sig, 128 + sig, 1)                 # ended by it (SIGINT: KeyboardInterrupt, status 1)
        assert not alive(server)
    finally:
        if started.poll() is None:
            started.kill()
