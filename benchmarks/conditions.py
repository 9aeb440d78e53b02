"""The conditions a benchmark's figures were measured under: date, cores, load, versions.

Every benchmark writes these beside its figures (results/*.json and .md); the load average at the
start says whether the 2 cores were shared with other work.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import time


def run_conditions(packages=(), **extra) -> dict:
    """Date (UTC), cores, platform, Python, the 1/5/15-minute load average now, ``packages``' versions.

    Parameters
    ----------
    packages : iterable of str
        Distribution names whose installed versions to record.
    **extra
        More entries (e.g. ``chromium="156.0"``), added to ``versions``.
    """
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
            "machine": platform.platform(), "python": platform.python_version(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
            "versions": {p: importlib.metadata.version(p) for p in packages} | extra}
