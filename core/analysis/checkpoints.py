"""Step checkpoints: an interrupted ``analyze`` resumes after its last finished step.

After each step, what it added to the shared :class:`~core.analysis.steps.Context` (new or replaced
results columns and intermediate products) is written to ``WS/analysis/steps/NN.joblib``, atomically,
under the fingerprint of the analysis inputs. A rerun with the same inputs loads the leading finished
steps instead of running them (a projection of 1M objects is tens of minutes on two cores); from the
first step without a usable checkpoint (none, other inputs, a file that cannot be read) every step runs
again. The folder is removed once ``results.parquet`` is written.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from core.workspace import atomic_path, fingerprint_of

__all__ = ["StepCheckpoints", "STEPS_DIR"]

#: Folder of the step checkpoints, inside ``WS/analysis``.
STEPS_DIR = "steps"

#: Context products rebuilt on demand from the sky (never written).
_REBUILT = frozenset({"objects"})


def _identity(d: dict) -> dict:
    """What a dict holds, by object identity, one level into dict values (``knn`` grows in place)."""
    return {k: (id(v), tuple((kk, id(vv)) for kk, vv in v.items()) if isinstance(v, dict) else None)
            for k, v in d.items()}


class StepCheckpoints:
    """The finished steps of one analysis (one set of inputs) in ``folder``.

    Parameters
    ----------
    folder : path
        ``WS/analysis``; checkpoints go to its ``steps/`` subfolder.
    inputs : dict
        The analysis inputs (sky, embeddings, parameters); a checkpoint of other inputs is never used.
    """

    def __init__(self, folder, inputs: dict):
        self.folder = Path(folder) / STEPS_DIR
        self.key = fingerprint_of(inputs)

    def _path(self, i: int) -> Path:
        return self.folder / f"{i:02d}.joblib"

    def before(self, ctx) -> tuple[dict, dict]:
        """What the context holds before a step runs (pass to :meth:`save`)."""
        return _identity(ctx.cols), _identity(ctx.data)

    def save(self, i: int, name: str, ctx, before: tuple[dict, dict], seconds: float) -> Path:
        """Write what step ``i`` (``name``) added to ``ctx`` since ``before``."""
        import joblib

        cols_then, data_then = before
        cols_now, data_now = _identity(ctx.cols), _identity(ctx.data)
        record = {"key": self.key, "step": name, "seconds": seconds,
                  "cols": {k: ctx.cols[k] for k in cols_now if cols_then.get(k) != cols_now[k]},
                  "data": {k: ctx.data[k] for k in data_now if data_then.get(k) != data_now[k] and k not in _REBUILT}}
        with atomic_path(self._path(i)) as tmp:
            joblib.dump(record, tmp)
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
        ctx.cols.update(record["cols"])
        ctx.data.update(record["data"])
        return float(record["seconds"])

    def clear(self) -> None:
        """Remove every checkpoint (after the results are written, or when a forced run starts)."""
        shutil.rmtree(self.folder, ignore_errors=True)
