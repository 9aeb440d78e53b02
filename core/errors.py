"""User-facing errors.

Every error a user can cause by giving the tool bad input derives from :class:`AstroM3Error`.
The CLI turns them into one line on stderr and exit code 2; library callers catch them like any
``ValueError``.
"""
from __future__ import annotations

from collections.abc import Iterable


class AstroM3Error(ValueError):
    """Base class of errors caused by bad input (files, options, ids), not by bugs."""


def _preview(items: Iterable, limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(repr(str(i)) for i in items[:limit])
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return shown + more


class SkyValidationError(AstroM3Error):
    """A sky file is malformed.

    The message names the file, the column, the offending ids or rows, and what is expected.

    Parameters
    ----------
    file : str
        The file (path or name) that is wrong.
    problem : str
        What is wrong, in a few words.
    column : str, optional
        The column concerned.
    ids : iterable of str, optional
        The offending object ids (at most five are named, then a count).
    rows : iterable of int, optional
        The offending row numbers (0-based, in file order) where ids are not known.
    expected : str, optional
        What the file should contain instead.
    """

    def __init__(self, file, problem, *, column=None, ids=None, rows=None, expected=None):
        self.file = str(file)
        self.problem = problem
        self.column = column
        self.ids = [str(i) for i in ids] if ids is not None else []
        self.rows = [int(r) for r in rows] if rows is not None else []
        self.expected = expected
        parts = [f"{self.file}"]
        if column is not None:
            parts.append(f"column '{column}'")
        msg = ", ".join(parts) + f": {problem}"
        if self.ids:
            msg += f" for id {_preview(self.ids)}"
        elif self.rows:
            msg += f" at row {_preview(self.rows)}"
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg)


class WorkspaceError(AstroM3Error):
    """A workspace artifact is missing, stale or does not match its inputs."""


class CheckpointMismatchError(AstroM3Error):
    """A model checkpoint does not match the sky, config or library it is used with."""
