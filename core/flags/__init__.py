"""Labeling sessions that never lose a flag: a durable, append-only store of expert decisions.

A :class:`FlagStore` keeps every decision an astronomer makes about an object (``mislabel``,
``anomaly``, ``crossmatch``, ``subclass``, ``fine``, ``interesting``). History is append-only:
changing one's mind adds a row, undo adds an ``undo`` row, and the *current* state is the latest
standing decision per (object, user). Every :meth:`FlagStore.add` is committed before it returns,
and several processes (or servers) may write at once.

Where to look:

- :mod:`core.flags.store` -- :class:`FlagStore` (validation, sessions, undo, current state) and
  :func:`migrate` (copy a store into another without loss);
- :mod:`core.flags.backends` -- the :class:`~core.flags.backends.Backend` protocol and its two
  implementations: :mod:`~core.flags.backends.sqlite` (``WORKSPACE/flags.sqlite``, WAL,
  ``synchronous=FULL``) and :mod:`~core.flags.backends.postgres` (``postgresql://user@host/db``,
  shared by several explorer servers); a new database is a new module there;
- :mod:`core.flags.formats` -- CSV, ECSV, VOTable and JSON exports, written atomically and read
  back losslessly by :meth:`FlagStore.import_`;
- :mod:`core.flags.agreement` -- :func:`merge_stores` (several people's stores or exports) with
  Cohen's or Fleiss' kappa per kind, and the conflicts.

Examples
--------
>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> store = FlagStore(os.path.join(d, "flags.sqlite"), valid_ids=["a", "b"], labels=["EW", "RRAB"])
>>> s = store.start_session("ada")
>>> store.add(s, "a", "mislabel", proposed_label="RRAB")["kind"]
'mislabel'
>>> list(store.current()["id"])
['a']
>>> store.close()
"""
from __future__ import annotations

from core.flags.agreement import MergeReport, cohen_kappa, fleiss_kappa, merge_stores
from core.flags.common import (CURRENT_COLUMNS, MAX_NOTE_LENGTH, MAX_TAG_LENGTH, SCHEMA_VERSION,
                               FlagStoreError)
from core.flags.formats import EXPORT_FORMATS, read_flags_file, write_flags_file
from core.flags.store import FlagStore, migrate

__all__ = ["FlagStore", "FlagStoreError", "merge_stores", "MergeReport", "cohen_kappa", "fleiss_kappa",
           "EXPORT_FORMATS", "SCHEMA_VERSION", "MAX_NOTE_LENGTH", "read_flags_file", "migrate",
           "write_flags_file", "CURRENT_COLUMNS", "MAX_TAG_LENGTH"]
