"""Labeling sessions that never lose a flag: see :mod:`core.flags.store`."""
from core.flags.store import *  # noqa: F401,F403
from core.flags.store import __all__  # noqa: F401
from core.flags.store import os  # noqa: F401  (tests patch core.flags.os.access)
