"""Step checkpoints: an interrupted ``analyze`` resumes after its last finished step.

After each step, what it added to the shared :class:`~core.analysis.steps.Context` (new or replaced
results columns and intermediate products) is written to ``WS/analysis/steps/NN.joblib``, atomically,
with the size and modification time of the files the step wrote (fitted projectors, the clusterer,
the similarity index), under a key made of the analysis inputs and the analysis code. A rerun with
the same key loads the leading finished steps instead of running them (a projection of 1M objects is
tens of minutes on two cores); from the first step without a usable checkpoint (none, another key, a
file that cannot be read, a file it wrote that has changed since) every step runs again. Products
that are cheap to rebuild (the catalogue rows, the side-by-side vectors) are not written. A
checkpoint that cannot be written (a full disk) costs only the resume: the analysis goes on. The
folder is removed once ``results.parquet`` is written.
"""
from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

from core.workspace import atomic_path, fingerprint_of

__all__ = ["StepCheckpoints", "STEPS_DIR", "code_fingerprint", "clear_checkpoints"]

#: Folder of the step checkpoints, inside ``WS/analysis``.
STEPS_DIR = "steps"

#: Context products rebuilt on demand (never written).
_REBUILT = frozenset({"objects", "side"})


def clear_checkpoints(folder) -> None:
    """Remove every step checkpoint under ``folder`` (``WS/analysis``), of whatever inputs."""
    shutil.rmtree(Path(folder) / STEPS_DIR, ignore_errors=True)


def code_fingerprint() -> str:
    """Hash of the analysis code (``core/analysis/*.py``, ``core/scores.py``) and the package version.

    A checkpoint written by other code is never loaded, even with the same ``ANALYSIS_VERSION``.
    """
    import core

    root = Path(core.__file__).parent
    h = hashlib.sha256(str(getattr(core, "__version__", "")).encode())
    for path in sorted([*(root / "analysis").glob("*.py"), root / "scores.py"]):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _held(d: dict) -> dict:
    """What a dict holds (the objects themselves, and one level into dict values: ``knn`` grows in place)."""
    return {k: (v, tuple(v.items()) if isinstance(v, dict) else None) for k, v in d.items()}


def _same(a: tuple, b: tuple) -> bool:
    (va, ia), (vb, ib) = a, b
    if va is not vb or (ia is None) != (ib is None):
        return False
    return ia is None or (len(ia) == len(ib) and all(ka == kb and xa is xb for (ka, xa), (kb, xb) in zip(ia, ib)))


def _changed(then: dict, now: dict) -> list:
    """Keys of ``now`` that are new, or hold another object (or a dict with other content) than ``then``."""
    return [k for k in now if k not in then or not _same(then[k], now[k])]


class StepCheckpoints:
    """The finished steps of one analysis (one set of inputs, one version of the code).

    Parameters
    ----------
    folder : path
        ``WS/analysis``; checkpoints go to its ``steps/`` subfolder.
    inputs : dict
        The analysis inputs (sky, embeddings, parameters); a checkpoint of other inputs is never used.
    watch : list of paths, optional
        Folders whose files the steps write (besides ``folder``); a step's checkpoint is used only
        while the files it wrote there are as it left them.
    """

    def __init__(self, folder, inputs: dict, watch=()):
        self.folder = Path(folder) / STEPS_DIR
        self.key = fingerprint_of({"inputs": inputs, "code": code_fingerprint()})
        self.watch = [Path(folder), *map(Path, watch)]

    def _path(self, i: int) -> Path:
        return self.folder / f"{i:02d}.joblib"

    def _files(self) -> dict[str, tuple[int, int]]:
        """Size and mtime of every file in the watched folders (checkpoints and temporaries aside)."""
        out = {}
        for root in self.watch:
            for p in root.rglob("*") if root.is_dir() else ():
                if p.is_file() and not p.name.startswith(".") and self.folder not in p.parents:
                    st = p.stat()
                    out[str(p)] = (st.st_size, st.st_mtime_ns)
        return out

    def before(self, ctx) -> tuple[dict, dict, dict]:
        """What the context and the watched folders hold before a step runs (pass to :meth:`save`)."""
        return _held(ctx.cols), _held(ctx.data), self._files()

    def save(self, i: int, name: str, ctx, before: tuple[dict, dict, dict], seconds: float) -> Path | None:
        """Write what step ``i`` (``name``) added to ``ctx`` since ``before``; None if it could not be written."""
        import joblib

        cols_then, data_then, files_then = before
        files = {p: s for p, s in self._files().items() if files_then.get(p) != s}
        record = {"key": self.key, "step": name, "seconds": seconds, "files": files,
                  "cols": {k: ctx.cols[k] for k in _changed(cols_then, _held(ctx.cols))},
                  "data": {k: ctx.data[k] for k in _changed(data_then, _held(ctx.data)) if k not in _REBUILT}}
        try:
            with atomic_path(self._path(i)) as tmp:
                joblib.dump(record, tmp)
        except OSError as exc:
            warnings.warn(f"{self._path(i)}: checkpoint of step {name!r} not written ({exc}); the analysis goes "
                          "on, but cannot resume from this step if interrupted", stacklevel=2)
            return None
        return self._path(i)

    def load(self, i: int, name: str, ctx) -> float | None:
        """Put step ``i``'s saved products into ``ctx``; its seconds then, or None to run it."""
        import joblib

        path = self._path(i)
        if not path.exists():
            return None
        try:
            record = joblib.load(path)
        except Exception:            # a damaged or foreign file: run the step again
            return None
        if not isinstance(record, dict) or record.get("key") != self.key or record.get("step") != name:
            return None
        now = self._files()
        if any(now.get(p) != tuple(s) for p, s in record.get("files", {}).items()):
            return None              # a file the step wrote is gone or was rewritten since
        ctx.cols.update(record["cols"])
        ctx.data.update(record["data"])
        return float(record["seconds"])

    def clear(self) -> None:
        """Remove every checkpoint (after the results are written, or when a forced run starts)."""
        clear_checkpoints(self.folder.parent)
