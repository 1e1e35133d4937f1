"""Where tasks run: one small executor interface over in-process and Dask schedulers.

``make_client(cluster_cfg)`` is a context manager yielding an :class:`Executor` with
``submit(fn, *args) -> future``, ``as_completed(futures)`` (an iterator that also takes
``add(future)``), ``share(obj)`` (send an argument common to all tasks once) and ``workers``
(how many tasks run at once now). Schedulers:

- ``sync``: every task runs in the calling thread when submitted (debugging, tests);
- ``threads``: a thread pool in this process; the kernel releases the GIL, so threads run
  replicates in parallel;
- ``local`` (default): a Dask ``LocalCluster`` of worker *processes*, one per core, one
  thread each, on 127.0.0.1 with no dashboard;
- ``tcp://HOST:PORT``: an existing Dask scheduler and whatever workers it has;
- ``slurm`` / ``pbs``: a Dask scheduler in this process and workers started as batch jobs by
  dask-jobqueue (:func:`job_spec` turns the ``[cluster]`` table into its options).

One level of parallelism per process: the kernel is single-threaded, so every worker runs
one task per thread and Numba is told to start no threads of its own (NUMBA_NUM_THREADS=1
in the workers this module starts; workers started by hand should set it too).

Worker loss is Dask's business: a task whose worker dies is run again elsewhere, up to
``distributed.scheduler.allowed-failures`` times (:data:`SCHEDULER_CONFIG` raises it for the
schedulers started here). The runner only waits on futures, which stay valid throughout.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import gc
import logging
import math
import os
import pickle
import queue
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

from .config import ClusterSection, ConfigError

__all__ = ["Executor", "make_client", "default_workers", "ClusterError", "JobSpec", "job_spec",
           "job_script", "check_options", "machine_problems"]

WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1"}
# Dask config for the schedulers this process starts (local, slurm, pbs). A task is run again
# when its worker dies; walltime kills and pre-emption take out several workers in a row, so
# allow more than Dask's default of 3 before the task (and the run) is declared failed.
SCHEDULER_CONFIG = {"distributed.scheduler.allowed-failures": 10}
# Dask config for a LocalCluster (its nannies, scheduler and client run in this process, its
# workers inherit the config). Dask's defaults wake every process's event loop a few hundred
# times a second for the dashboard and diagnostics: a 20 ms tick (it only warns about a
# blocked loop), a 10 ms statistical profiler of the worker threads, a 500 ms system monitor
# and a 100 ms memory monitor. Measured on 2 cores with 2 idle workers, that is ~2% of a core
# per worker and ~3% in this process, CPU taken straight from the kernel when the workers
# fill every core; with these settings, ~0.3% and ~0.7%. The memory limit is still enforced,
# checked once a second (a task holds a few MB).
LOCAL_CONFIG = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.worker.profile.enabled": False,
}
JOBQUEUE = ("slurm", "pbs")
_SUBMIT = {"slurm": "sbatch", "pbs": "qsub"}
_JOB_ID = {"slurm": "SLURM_JOB_ID", "pbs": "PBS_JOBID"}
_MIN_LIFETIME = 60.0  # s: a worker's first task may spend ~30 s compiling the kernels
_MIN_MEMORY = 256 * 2**20  # bytes per worker process
SHARE_BY_VALUE = 1 << 20  # bytes: smaller shared arguments travel with each task
# A slurm/pbs run with no worker connected and none of its jobs queued or running for this
# long has lost its workers for good (longer than Dask's lost-worker-timeout plus a
# resubmission by adapt, which is how jobs that retire at their lifetime are replaced).
JOBS_GONE_GRACE = 90.0
CHECK_EVERY = 5.0  # s between such health checks while no task finishes
Log = Callable[[str], None]


class ClusterError(RuntimeError):
    """The scheduler could not be started or reached, or lost all its workers."""


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


class _Polled:
    """Dask's ``as_completed``, polled, so that a health check runs while nothing finishes
    (blocking when there is no check)."""

    def __init__(self, ac, check: Callable[[], None] | None):
        self.ac = ac
        self.check = check

    def add(self, future) -> None:
        self.ac.add(future)

    def __iter__(self):
        if self.check is None:
            # Nothing to check: block until a future finishes. Polling every 20 ms costs
            # this process ~1% of a core, taken from the workers when they fill every core.
            yield from self.ac
            return
        last = time.monotonic()
        while not self.ac.is_empty():
            batch = self.ac.next_batch(block=False)
            if batch:
                yield from batch
                continue
            if self.check is not None and time.monotonic() - last >= CHECK_EVERY:
                self.check()
                last = time.monotonic()
            time.sleep(0.02)


class _Dask(Executor):
    def __init__(self, client, name: str, expected: int = 0,
                 check: Callable[[], None] | None = None):
        self.client = client
        self.name = name
        self.expected = expected  # threads the cluster is meant to have (jobqueue)
        self.check = check
        self._threads = 0
        self._asked = -math.inf

    @property
    def workers(self) -> int:
        # Workers come and go (jobs start late, retire, die): ask the scheduler, at most
        # once a second, so that the runner's submission window follows the cluster's size.
        now = time.monotonic()
        if now - self._asked >= 1.0:
            self._asked = now
            with contextlib.suppress(Exception):
                self._threads = sum(self.client.nthreads().values())
        return max(1, self.expected, self._threads)

    def submit(self, fn, *args):
        # pure=False: a task's key must not depend on hashing its arguments.
        return self.client.submit(fn, *args, pure=False)

    def share(self, obj):
        # Small arguments go with every task: scattered data is lost when every worker
        # holding it dies (one SLURM job reaching its walltime), and the tasks needing it
        # would fail. Large ones are sent to every worker once.
        if len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)) < SHARE_BY_VALUE:
            return obj
        return self.client.scatter(obj, broadcast=True, hash=False)

    def as_completed(self, futures=()):
        from distributed import as_completed

        return _Polled(as_completed(list(futures), loop=self.client.loop), self.check)


# ---- dask-jobqueue (slurm, pbs) ---------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class JobSpec:
    """What the ``[cluster]`` table asks of dask-jobqueue: options and the number of jobs."""

    kind: str  # slurm | pbs
    jobs: int
    processes: int  # worker processes per job
    threads: int  # threads per worker process
    lifetime: float  # seconds a worker lives before it retires
    stagger: float  # +- seconds, so that workers do not all retire at once
    kwargs: dict  # for SLURMCluster / PBSCluster

    @property
    def submit_command(self) -> str:
        return _SUBMIT[self.kind]


def _walltime(kind: str, text: str) -> float:
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d\d):(\d\d)", text.strip())
    if not m or int(m[3]) >= 60 or int(m[4]) >= 60 or (m[1] and kind == "pbs"):
        form = "HH:MM:SS" if kind == "pbs" else "HH:MM:SS or D-HH:MM:SS"
        raise ConfigError(f"cluster.walltime: expected {form}, got {text!r}")
    seconds = int(m[1] or 0) * 86400 + int(m[2]) * 3600 + int(m[3]) * 60 + int(m[4])
    if seconds <= 0:
        raise ConfigError(f"cluster.walltime: must be positive, got {text!r}")
    return float(seconds)


_UNITS = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1}


def _duration(text: str) -> float:
    """Seconds in "1h50m", "110m", "6600s", "1:50:00" or anything Dask's parse_timedelta
    reads ("110 minutes"); ConfigError naming cluster.lifetime otherwise."""
    from dask.utils import parse_timedelta

    t = text.strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(min|d|h|m|s)", t)
    if parts and re.fullmatch(r"(?:\d+(?:\.\d+)?\s*(?:min|d|h|m|s)\s*)+", t):
        return sum(float(n) * _UNITS[u] for n, u in parts)
    if re.fullmatch(r"\d+:\d\d:\d\d", t):
        h, m, sec = map(int, t.split(":"))
        return float(h * 3600 + m * 60 + sec)
    try:
        return float(parse_timedelta(t, default="s"))
    except (ValueError, TypeError, KeyError):
        raise ConfigError(f"cluster.lifetime: expected a duration such as \"1h50m\", got "
                          f"{text!r}") from None


def _interfaces() -> set[str]:
    import psutil

    return set(psutil.net_if_addrs())


def job_spec(cluster: ClusterSection, job_name: str = "stability") -> JobSpec:
    """dask-jobqueue options for a slurm/pbs ``[cluster]`` table; ConfigError naming the key.

    Defaults: ``cores`` 1, ``processes`` = ``cores`` (one thread per worker process),
    ``memory`` 2 GB per process, ``walltime`` 01:00:00, ``jobs`` enough for ``workers``
    processes (else 1), ``lifetime`` a margin below the walltime (a tenth of it, between one
    and ten minutes) with a stagger of half the margin. Options left unset otherwise (queue,
    account, python, interface, ...) fall back to dask-jobqueue's own configuration.
    """
    from dask.utils import format_bytes, parse_bytes

    kind = cluster.scheduler
    if kind not in JOBQUEUE:
        raise ValueError(f"not a dask-jobqueue scheduler: {kind!r}")
    cores = cluster.cores or 1
    processes = cluster.processes or cores
    if processes > cores or cores % processes:
        raise ConfigError(f"cluster.processes: {processes} must divide cluster.cores ({cores}): "
                          "each worker process gets cores / processes threads")
    threads = cores // processes
    memory_text = cluster.memory or f"{2 * processes}GB"
    try:
        memory = parse_bytes(memory_text)
    except (ValueError, TypeError):
        raise ConfigError(f"cluster.memory: expected a size such as \"16GB\", got "
                          f"{memory_text!r}") from None
    if memory / processes < _MIN_MEMORY:
        raise ConfigError(f"cluster.memory: {memory_text} per job is "
                          f"{format_bytes(memory / processes)} per worker process; give each "
                          f"at least {format_bytes(_MIN_MEMORY)}")
    walltime_text = cluster.walltime or "01:00:00"
    walltime = _walltime(kind, walltime_text)
    if cluster.lifetime is not None:
        lifetime = _duration(cluster.lifetime)
        if not _MIN_LIFETIME <= lifetime < walltime:
            raise ConfigError(
                f"cluster.lifetime: {cluster.lifetime} must be at least 1 minute and below "
                f"cluster.walltime ({walltime_text}), so that workers retire between tasks "
                "before the batch system kills them")
        margin = walltime - lifetime
    else:
        margin = min(max(walltime / 10, 60.0), 600.0, walltime / 2)
        lifetime = walltime - margin
    # Worker lifetimes spread over lifetime +- stagger; the top must stay below walltime.
    stagger = min(margin / 2, lifetime / 10)
    if cluster.workers and not cluster.jobs:
        jobs = -(-cluster.workers // processes)
    else:
        jobs = cluster.jobs or 1
    for i, line in enumerate(cluster.job_extra_directives):
        if "\n" in line or line.lstrip().startswith("#"):
            raise ConfigError(f"cluster.job_extra_directives[{i}]: give the option alone, "
                              f"such as \"--constraint=cpu\", not {line!r}")
    job_id = _JOB_ID[kind]
    prologue = [
        # One level of parallelism: Dask worker processes; no Numba or BLAS threads.
        "export " + " ".join(f"{k}={v}" for k, v in WORKER_ENV.items()),
        f"export NUMBA_DISABLE_INTEL_SVML={os.environ.get('NUMBA_DISABLE_INTEL_SVML', '1')}",
        # A compile cache per job on the node's local disk, never one shared over NFS
        # (docs/cluster.md, "Numba on clusters"); a later prologue line may override it.
        f'export NUMBA_CACHE_DIR="${{TMPDIR:-/tmp}}/stability-numba-${{{job_id}:-$$}}"',
        *cluster.job_script_prologue,
    ]
    kwargs = {
        "cores": cores, "processes": processes, "memory": memory_text,
        "walltime": walltime_text, "job_name": job_name,
        "job_script_prologue": prologue,
        "job_extra_directives": list(cluster.job_extra_directives),
        "worker_extra_args": ["--lifetime", f"{int(lifetime)}s",
                              "--lifetime-stagger", f"{int(stagger)}s"],
        # The dashboard would need bokeh and a free port on a shared login node.
        "scheduler_options": {"dashboard": False},
    }
    for key in ("queue", "account", "interface", "python", "local_directory", "log_directory"):
        if getattr(cluster, key) is not None:
            kwargs[key] = getattr(cluster, key)
    if cluster.scheduler_interface is not None:
        kwargs["scheduler_options"]["interface"] = cluster.scheduler_interface
    return JobSpec(kind, jobs, processes, threads, lifetime, stagger, kwargs)


def job_script(cluster: ClusterSection, job_name: str = "stability") -> str:
    """The batch script dask-jobqueue would submit for each worker job (nothing is started)."""
    spec = job_spec(cluster, job_name)
    if spec.kind == "slurm":
        from dask_jobqueue.slurm import SLURMJob as Job
    else:
        from dask_jobqueue.pbs import PBSJob as Job
    import tempfile

    kwargs = {k: v for k, v in spec.kwargs.items() if k != "scheduler_options"}
    log_directory = kwargs.pop("log_directory", None)
    if log_directory is None:
        return Job("tcp://SCHEDULER-ADDRESS:PORT", name="stability-worker", **kwargs).job_script()
    # dask-jobqueue creates log_directory when a Job is made; printing a script must not.
    with tempfile.TemporaryDirectory() as stand_in:
        job = Job("tcp://SCHEDULER-ADDRESS:PORT", name="stability-worker",
                  log_directory=stand_in, **kwargs)
        return job.job_script().replace(stand_in, log_directory)


def machine_problems(cluster: ClusterSection) -> list[str]:
    """Why a slurm/pbs run could not start on *this* machine (no ``sbatch``/``qsub``, no
    such network interface for the scheduler), one line each naming the key."""
    if cluster.scheduler not in JOBQUEUE:
        return []
    problems = []
    command = _SUBMIT[cluster.scheduler]
    if shutil.which(command) is None:
        problems.append(f"cluster.scheduler: {cluster.scheduler!r} needs `{command}` on PATH "
                        "(run on a login node of the cluster)")
    # The scheduler runs here; the workers' interface is on the compute nodes.
    key = "scheduler_interface" if cluster.scheduler_interface else "interface"
    name = getattr(cluster, key)
    if name is not None:
        here = _interfaces()
        if name not in here:
            problems.append(f"cluster.{key}: no network interface {name!r} on this machine "
                            f"(it has {', '.join(sorted(here))})")
    return problems


def check_options(cluster: ClusterSection) -> None:
    """ConfigError naming the key if the ``[cluster]`` options cannot work here (before
    running): bad slurm/pbs options, or a :func:`machine_problems`."""
    if cluster.scheduler in JOBQUEUE:
        job_spec(cluster)
        problems = machine_problems(cluster)
        if problems:
            raise ConfigError(problems[0])


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no message"])[0]


def _test_submit(spec: JobSpec, cluster: ClusterSection, job_name: str) -> None:
    """Let the batch system judge the job script before anything starts (SLURM: --test-only).

    A refused job (unknown partition or account, too much memory, ...) is bad input, and
    dask-jobqueue would only log it while the run waited for workers that never come.
    """
    check_options(cluster)
    command = spec.submit_command
    if spec.kind != "slurm":
        return
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="stability-job-") as f:
        f.write(job_script(cluster, job_name))
        f.flush()
        try:
            out = subprocess.run([command, "--test-only", f.name], capture_output=True,
                                 text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return  # a slow controller is not a bad config; submission will tell
    if out.returncode != 0:
        raise ConfigError(f"cluster: {command} refuses the worker job: "
                          f"{_first_line(out.stderr + out.stdout)}")


def _live_jobs(kind: str, job_ids: list[str]) -> set[str] | None:
    """Which of ``job_ids`` the batch system still lists; None if it cannot tell."""
    if not job_ids:
        return set()
    try:
        if kind == "slurm":
            out = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(job_ids)],
                                 capture_output=True, text=True, timeout=30)
            if out.returncode != 0:
                return set() if "Invalid job id" in out.stderr else None
            return {line.strip() for line in out.stdout.splitlines()} & set(job_ids)
        live = set()
        for job_id in job_ids:
            out = subprocess.run(["qstat", job_id], capture_output=True, text=True,
                                 timeout=30)
            if out.returncode == 0:
                live.add(job_id)
            elif "Unknown Job" not in out.stderr and "has finished" not in out.stderr:
                return None
        return live
    except (OSError, subprocess.TimeoutExpired):
        return None


class _JobWatch:
    """Notices a slurm/pbs cluster whose jobs all ended without a worker (bad ``python``,
    a crash at start-up): an error, instead of waiting forever for workers."""

    def __init__(self, jc, client, spec: JobSpec, log: Log):
        self.jc, self.client, self.spec, self.log = jc, client, spec, log
        self.gone_since: float | None = None
        self.last_note = time.monotonic()

    def __call__(self) -> None:
        try:
            if self.client.nthreads():
                self.gone_since = None
                return
        except Exception:
            return
        jobs = list(self.jc.workers.values())
        ids = [j.job_id for j in jobs if getattr(j, "job_id", None)]
        live = _live_jobs(self.spec.kind, ids)
        now = time.monotonic()
        if live is None or live:
            self.gone_since = None
            if now - self.last_note >= 60:
                self.last_note = now
                self.log(f"no Dask worker connected yet; {len(live or ids)} {self.spec.kind} "
                         f"job(s) queued or running: {', '.join(sorted(live or ids))}")
            return
        if self.gone_since is None:
            self.gone_since = now
        elif now - self.gone_since >= JOBS_GONE_GRACE:
            where = self.spec.kwargs.get("log_directory") or os.getcwd()
            raise ClusterError(
                f"no Dask worker is connected and none of the {self.spec.kind} worker jobs "
                f"({', '.join(ids) or 'none submitted'}) is queued or running any more: "
                f"their output in {where} says why (a wrong cluster.python?)")


def _cluster_class(kind: str):
    """dask-jobqueue's cluster class whose jobs say they are closed once cancelled.

    Its ``Job.close`` cancels the job but leaves the status "running", and distributed's
    ``SpecCluster`` asserts on that when it closes with jobs whose worker never connected
    (a wrong ``python``): an AssertionError instead of our error message.
    """
    from distributed.deploy.spec import ProcessInterface

    if kind == "slurm":
        from dask_jobqueue.slurm import SLURMCluster as Base
        from dask_jobqueue.slurm import SLURMJob as BaseJob
    else:
        from dask_jobqueue.pbs import PBSCluster as Base
        from dask_jobqueue.pbs import PBSJob as BaseJob

    class Job(BaseJob):
        async def close(self):
            await super().close()
            await ProcessInterface.close(self)

    return type(Base.__name__, (Base,), {"job_cls": Job})


@contextlib.contextmanager
def _jobqueue(cluster: ClusterSection, job_name: str, log: Log) -> Iterator[Executor]:
    import dask
    from distributed import Client

    spec = job_spec(cluster, job_name)
    _test_submit(spec, cluster, job_name)
    Cluster = _cluster_class(spec.kind)
    with dask.config.set(SCHEDULER_CONFIG):
        try:
            jc = Cluster(**spec.kwargs)
        except Exception as exc:
            raise ClusterError(f"could not start the Dask scheduler for {spec.kind} jobs: "
                               f"{exc}") from None
    with jc:
        # adapt, not scale: a fixed-size cluster does not replace jobs that end (walltime,
        # lifetime); an adaptive one with minimum = maximum resubmits them.
        jc.adapt(minimum_jobs=spec.jobs, maximum_jobs=spec.jobs)
        log(f"{spec.kind}: {spec.jobs} job(s) of {spec.processes} worker process(es), "
            f"scheduler at {jc.scheduler_address}")
        with Client(jc, set_as_default=False) as client:  # see the local cluster below
            watch = _JobWatch(jc, client, spec, log)
            yield _Dask(client, spec.kind, expected=spec.jobs * spec.processes * spec.threads,
                        check=watch)


@contextlib.contextmanager
def make_client(cluster: ClusterSection, *, job_name: str = "stability",
                log: Log | None = None) -> Iterator[Executor]:
    """An executor for ``cluster.scheduler``, shut down on exit.

    ``job_name`` names slurm/pbs worker jobs; ``log`` gets one-line status messages.
    """
    log = log or (lambda message: None)
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
        import dask
        from distributed import Client, LocalCluster

        try:
            with dask.config.set({**SCHEDULER_CONFIG, **LOCAL_CONFIG}):
                lc = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.ERROR, env=_worker_env())
        except Exception as exc:
            raise ClusterError(f"could not start a local Dask cluster: {exc}") from exc
        # Not the default client: a run inside a notebook must not replace the user's own.
        with lc, Client(lc, set_as_default=False) as client:
            client.register_plugin(_exit_plugin(), name="stability-exit")
            yield _Dask(client, "local", expected=workers)
    elif scheduler.startswith("tcp://"):
        with _connect(scheduler, log) as executor:
            yield executor
    elif scheduler in JOBQUEUE:
        with _jobqueue(cluster, job_name, log) as executor:
            yield executor
    else:  # validated in config; kept for callers that build a ClusterSection by hand
        raise ConfigError(f"cluster.scheduler: unknown scheduler {scheduler!r}")


def exit_without_collecting() -> None:
    """Spare a process that is about to exit Python's final garbage collections.

    At exit Python collects garbage over every object the process ever created; with Numba's
    kernels loaded (or xarray, Dask and pandas imported) that takes 0.5-0.6 s, on every run,
    in the driver and in each local worker (the cluster's shutdown waits for them). Objects
    moved to the permanent generation (gc.freeze) are skipped. They are still freed by
    reference counting, atexit handlers still run and open files are still flushed; only
    finalisers of objects caught in reference cycles are skipped. Call it only in a process
    that is done with its work and will exit now (never in a user's interpreter).
    """
    gc.freeze()


def _exit_plugin():
    """A worker plugin whose teardown, just before the worker process exits (after its last
    task), does what exit_without_collecting does. Defined here so that distributed is
    imported only where a Dask cluster is used; cloudpickle sends the class, by value, to the
    workers."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class ExitWithoutCollecting(WorkerPlugin):
        def teardown(self, worker) -> None:
            # exit_without_collecting, written out: a reference to this module's function
            # would make every worker import this module, and with it the config's pydantic
            import gc

            gc.freeze()

    return ExitWithoutCollecting()


def connect_timeout() -> float:
    """Seconds to wait for an existing scheduler: Dask's ``distributed.comm.timeouts.connect``
    (30 s unless configured, e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s)."""
    import dask
    from dask.utils import parse_timedelta

    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s"))


@contextlib.contextmanager
def _connect(address: str, log: Log) -> Iterator[Executor]:
    from distributed import Client

    timeout = connect_timeout()
    start = time.monotonic()
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within "
                           f"{timeout:g} s ({time.monotonic() - start:.0f} s tried): "
                           f"{why[:300]}") from None
    with client:
        nthreads = sum(client.nthreads().values())
        if not nthreads:
            log(f"the scheduler at {address} has no workers yet; waiting for some to connect")
        yield _Dask(client, address)


def _worker_env() -> dict[str, str]:
    env = dict(WORKER_ENV)
    for key in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_INTEL_SVML"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


