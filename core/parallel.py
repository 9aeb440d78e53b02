"""Running a step's partitions here or as dask.distributed tasks: partition bounds and schedulers.

A step that works partition by partition (:func:`core.embed.embed`, the light-curve features of
:func:`core.analysis.baselines.cached_lightcurve_features`) cuts the sky's rows with
:func:`partition_bounds` and, given a ``scheduler``, runs its partitions on the ``dask.distributed``
client of :func:`dask_client`: ``"local"`` starts a 2-worker ``LocalCluster`` on this machine, a
``tcp://HOST:PORT`` address connects to a running Dask scheduler. Dask is imported only then.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import numpy as np

from core.errors import AstroM3Error

__all__ = ["DEFAULT_PARTITION_SIZE", "SCHEDULERS", "CONNECT_TIMEOUT", "check_partition_size", "check_scheduler",
           "dask_client", "partition_bounds", "run_partitions"]

#: Objects per partition by default.
DEFAULT_PARTITION_SIZE = 50_000

#: What a ``scheduler`` may be, for error messages.
SCHEDULERS = ('"local" (a 2-worker dask.distributed LocalCluster on this machine) or the address of a '
              'running Dask scheduler, "tcp://HOST:PORT" (or none, to run in this process)')

#: Seconds to wait for a Dask scheduler given by address.
CONNECT_TIMEOUT = 30

_ADDRESS = re.compile(r"^tcp://[^\s:/]+:\d{1,5}$")


def check_partition_size(partition_size) -> int:
    """Return ``partition_size`` if it is a positive whole number of objects, else raise :class:`AstroM3Error`.

    Examples
    --------
    >>> check_partition_size(50_000)
    50000
    """
    if isinstance(partition_size, bool) or not isinstance(partition_size, (int, np.integer)) or partition_size < 1:
        raise AstroM3Error(f"partition_size must be a positive number of objects, not {partition_size!r}")
    return int(partition_size)


def partition_bounds(n: int, partition_size: int, cuts=None) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` row ranges covering ``range(n)``, ``partition_size`` rows each.

    Parameters
    ----------
    n : int
        Rows (objects) to cover.
    partition_size : int
        Rows per partition (the last one takes the rest).
    cuts : array of int, optional
        Preferred boundaries (rows where the light-curve file's row groups start): a boundary
        within a quarter partition of one moves onto it.

    Returns
    -------
    list of (int, int)
        ``[(0, 0)]`` when ``n == 0``.

    Examples
    --------
    >>> partition_bounds(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    >>> partition_bounds(100, 40, cuts=[0, 38, 50, 90])
    [(0, 38), (38, 90), (90, 100)]
    """
    check_partition_size(partition_size)
    edges = np.arange(partition_size, n, partition_size, dtype=np.int64)
    c = np.unique(np.asarray([] if cuts is None else cuts, dtype=np.int64))
    c = c[(c > 0) & (c < n)]
    if len(c) and len(edges):
        i = np.searchsorted(c, edges)
        left, right = c[np.maximum(i - 1, 0)], c[np.minimum(i, len(c) - 1)]
        nearest = np.where(np.abs(right - edges) < np.abs(edges - left), right, left)
        edges = np.unique(np.where(np.abs(nearest - edges) <= partition_size // 4, nearest, edges))
    bounds = [0, *(int(e) for e in edges), int(n)]
    return list(zip(bounds[:-1], bounds[1:])) if n > 0 else [(0, 0)]


def check_scheduler(scheduler: str | None) -> str | None:
    """Return ``scheduler`` if it is one of :data:`SCHEDULERS`; else raise :class:`AstroM3Error` naming them.

    Examples
    --------
    >>> check_scheduler("local"), check_scheduler("tcp://10.0.0.5:8786"), check_scheduler(None)
    ('local', 'tcp://10.0.0.5:8786', None)
    """
    if scheduler is None or scheduler == "local" or (isinstance(scheduler, str) and _ADDRESS.match(scheduler)):
        return scheduler
    raise AstroM3Error(f"scheduler {scheduler!r} not understood; expected {SCHEDULERS}")


@contextlib.contextmanager
def dask_client(scheduler: str) -> Iterator:
    """A ``dask.distributed.Client``, closed on exit.

    Parameters
    ----------
    scheduler : str
        ``"local"``: on a new ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``,
        closed with the client. ``"tcp://HOST:PORT"``: connected to that scheduler.

    Raises
    ------
    AstroM3Error
        A bad ``scheduler``, or one that does not answer within :data:`CONNECT_TIMEOUT` seconds.
    """
    from dask.distributed import Client, LocalCluster

    if check_scheduler(scheduler) is None:
        raise AstroM3Error(f"no scheduler given; expected {SCHEDULERS}")
    if scheduler == "local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise AstroM3Error(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    with client:
        yield client


def run_partitions(func, calls: list[tuple], scheduler: str | None, *, desc: str, key: str, done: int = 0,
                   **kwargs) -> None:
    """``func(*call, **kwargs)`` for each of ``calls``: one after another here, or as dask.distributed tasks.

    ``func`` must be a top-level function that writes its own output; with a scheduler its calls must
    be plain values (paths, numbers), which a Dask worker in another process can take (here they may be
    opened objects). A task's error is raised here. One progress bar counts the calls.

    Parameters
    ----------
    func : callable
    calls : list of tuple
        Positional arguments of each call.
    scheduler : None, "local" or "tcp://HOST:PORT"
    desc : str
        The progress bar's label.
    key : str
        Prefix of the Dask task keys (with a run id, so reruns are new tasks).
    done : int
        Partitions finished before (an interrupted run's), counted on the bar from the start.
    """
    import uuid

    from core.progress import progress

    with progress(total=done + len(calls), initial=done, desc=desc, unit="part") as bar:
        if scheduler is None:
            for call in calls:
                func(*call, **kwargs)
                bar.update(1)
            return
        from dask.distributed import as_completed

        run = uuid.uuid4().hex[:8]
        with dask_client(scheduler) as client:
            futures = [client.submit(func, *call, key=f"{key}-{i}-{run}", pure=False, **kwargs)
                       for i, call in enumerate(calls)]
            for future in as_completed(futures):
                future.result()
                bar.update(1)
