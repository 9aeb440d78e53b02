"""Stopping ``astrom3 serve`` with SIGTERM stops its Panel server too (no orphan left on the port)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: A parent that runs a long-lived child the way ``astrom3 serve`` runs Panel, and exits with its status.
PARENT = ("import sys; from core.cli.serve import run_child; "
          "sys.exit(run_child([sys.executable, '-c', "
          "'import os, sys, time; open(sys.argv[1], \"w\").write(str(os.getpid())); time.sleep(120)', sys.argv[1]]))")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:           # a zombie is gone for our purpose
        return fh.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_the_parent_ends_the_server_it_started(tmp_path, sig):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(pid_file)], cwd=ROOT)
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int(pid_file.read_text())
    assert alive(child)
    parent.send_signal(sig)
    assert parent.wait(timeout=30) == 128 + sig            # the server's status, as a shell reports it
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(child)


def test_the_child_exit_status_is_returned_and_the_handlers_restored():
    from core.cli.serve import run_child

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    assert run_child([sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert {s: signal.getsignal(s) for s in before} == before
