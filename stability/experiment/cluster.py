"""Where tasks run: one small executor interface over in-process and Dask schedulers.

``make_client(cluster_cfg)`` is a context manager yielding an :class:`Executor` with
``submit(fn, *args) -> future``, ``as_completed(futures)`` (an iterator that also takes
``add(future)``), ``share(obj)`` (send an argument common to all tasks once) and ``workers``
(how many tasks run at once). Schedulers:

- ``sync``: every task runs in the calling thread when submitted (debugging, tests);
- ``threads``: a thread pool in this process; the kernel releases the GIL, so threads run
  replicates in parallel;
- ``local`` (default): a Dask ``LocalCluster`` of worker *processes*, one per core, one
  thread each, on 127.0.0.1 with no dashboard;
- ``tcp://HOST:PORT``: an existing Dask scheduler and whatever workers it has.

One level of parallelism per process: the kernel is single-threaded, so every worker runs
one task per thread and Numba is told to start no threads of its own (NUMBA_NUM_THREADS=1
in the workers this module starts; workers started by hand should set it too).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import os
import queue
from collections.abc import Iterator

from .config import ClusterSection, ConfigError

__all__ = ["Executor", "make_client", "default_workers", "ClusterError"]

WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}
CONNECT_TIMEOUT = "20s"


class ClusterError(RuntimeError):
    """The scheduler could not be started or reached."""


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _AsCompleted:
    """``as_completed`` for concurrent.futures that also accepts futures while iterating."""

    def __init__(self, futures=()):
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        for f in futures:
            self.add(f)

    def add(self, future) -> None:
        self._pending += 1
        future.add_done_callback(self._done.put)

    def __iter__(self):
        while self._pending:
            future = self._done.get()
            self._pending -= 1
            yield future


class Executor:
    """Submit callables; collect them as they complete."""

    name = "executor"

    def __init__(self, workers: int):
        self.workers = workers

    def submit(self, fn, *args):
        raise NotImplementedError

    def share(self, obj):
        """``obj`` as an argument for many tasks (in-process executors pass it as it is)."""
        return obj

    def as_completed(self, futures=()):
        return _AsCompleted(futures)

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"


class _Sync(Executor):
    name = "sync"

    def submit(self, fn, *args):
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # delivered through the future, like the other executors
            future.set_exception(exc)
        return future


class _Threads(Executor):
    name = "threads"

    def __init__(self, workers: int, pool: cf.ThreadPoolExecutor):
        super().__init__(workers)
        self.pool = pool

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)


class _Dask(Executor):
    def __init__(self, client, name: str):
        self.client = client
        self.name = name
        super().__init__(max(1, sum(w.get("nthreads", 1) for w in
                                    client.scheduler_info()["workers"].values())))

    def submit(self, fn, *args):
        # pure=False: a task's key must not depend on hashing its arguments.
        return self.client.submit(fn, *args, pure=False)

    def share(self, obj):
        # Sent to every worker once, instead of pickled into every task.
        return self.client.scatter(obj, broadcast=True, hash=False)

    def as_completed(self, futures=()):
        from distributed import as_completed

        return as_completed(list(futures))


@contextlib.contextmanager
def make_client(cluster: ClusterSection) -> Iterator[Executor]:
    """An executor for ``cluster.scheduler``, shut down on exit."""
    scheduler = cluster.scheduler
    workers = cluster.workers or default_workers()
    if scheduler == "sync":
        yield _Sync(1)
    elif scheduler == "threads":
        with cf.ThreadPoolExecutor(max_workers=workers,
                                   thread_name_prefix="stability") as pool:
            try:
                yield _Threads(workers, pool)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    elif scheduler == "local":
        from distributed import Client, LocalCluster

        try:
            lc = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address=None,
                              silence_logs=logging.ERROR, env=_worker_env())
        except Exception as exc:
            raise ClusterError(f"could not start a local Dask cluster: {exc}") from exc
        with lc, Client(lc) as client:
            yield _Dask(client, "local")
    elif scheduler.startswith("tcp://"):
        from distributed import Client

        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except Exception as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} "
                               f"(within {CONNECT_TIMEOUT}): {exc}") from None
        with client:
            yield _Dask(client, scheduler)
    elif scheduler in ("slurm", "pbs"):
        # dask-jobqueue backends arrive with the cluster work (issue 4).
        raise ConfigError(f"cluster.scheduler: {scheduler!r} is not available in this version; "
                          "use sync, threads, local or tcp://HOST:PORT")
    else:  # validated in config; kept for callers that build a ClusterSection by hand
        raise ConfigError(f"cluster.scheduler: unknown scheduler {scheduler!r}")


def _worker_env() -> dict[str, str]:
    env = dict(WORKER_ENV)
    for key in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_INTEL_SVML"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env
