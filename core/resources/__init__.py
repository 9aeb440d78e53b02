"""Files shipped inside the package: the default model checkpoint and the explorer's Panel app.

They are located with :mod:`importlib.resources`, so a checkout, an editable install and an
installed wheel all find them the same way (nothing is looked up through the source tree).

Examples
--------
>>> resource_path("checkpoints/demo-cpu-seed0.pt").name
'demo-cpu-seed0.pt'
"""
from __future__ import annotations

import atexit
import contextlib
from importlib.resources import as_file, files
from pathlib import Path

__all__ = ["resource_path", "DEMO_CHECKPOINT", "EXPLORER_APP"]

#: The shipped checkpoint and the Panel app script, relative to this package.
DEMO_CHECKPOINT = "checkpoints/demo-cpu-seed0.pt"
EXPLORER_APP = "explorer.py"

_EXTRACTED = contextlib.ExitStack()  # resources that had to be copied out of an archive
atexit.register(_EXTRACTED.close)


def resource_path(name: str) -> Path:
    """A real file path for the shipped resource ``name`` (``/``-separated, relative to this package).

    Installed packages are plain directories, so this is the file itself; from an archive (a
    zipped install) it is a temporary copy kept until the interpreter exits.
    """
    res = files(__name__).joinpath(*name.split("/"))
    if isinstance(res, Path):
        return res
    return _EXTRACTED.enter_context(as_file(res))
