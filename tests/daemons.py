"""Real daemons for tests: a Dask scheduler and workers on loopback, and SLURM batch jobs.

Everything started here runs as separate processes, each in its own session (process group),
and is stopped by process id -- never by name -- when the ``with`` block ends, even when the
test fails. Every wait is bounded.

    from daemons import dask_processes, sbatch_wait, slurm_available

    with dask_processes(n_workers=2) as dp:
        with distributed.Client(dp.address) as client:
            ...
            dp.kill_worker(0)            # SIGKILL to that worker's whole process group

    ok, reason = slurm_available()      # for pytest.mark.skipif / pytest.skip(reason)
    job = sbatch_wait(wrap="hostname", timeout=60)
    assert job.state == "COMPLETED" and job.exit_code == 0

SLURM itself is started by ``.ci/slurm.sh start`` (root; CI runs it), not by the tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = [
    "DaskProcesses",
    "SlurmJob",
    "dask_processes",
    "dask_command",
    "pid_alive",
    "slurm_available",
    "sbatch_wait",
    "slurm_job_states",
    "stop_process",
]

# One level of parallelism per process (docs/cluster.md): one Dask thread, no Numba threads.
WORKER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
}
SLURM_READY_STATES = ("idle", "mixed", "allocated", "completing")
SLURM_FINAL_STATES = (
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
    "BOOT_FAIL", "DEADLINE",
)


# --------------------------------------------------------------------------- processes


def dask_command(sub: str) -> list[str]:
    """``dask <sub>`` for the interpreter running the tests (the venv's, not one on PATH)."""
    return [sys.executable, "-m", "dask", sub]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) also succeeds while only zombies are left; look for a live member.
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid and pid_alive(int(entry.name)):
                    return True
            except (ProcessLookupError, PermissionError):
                continue
    return False


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the process group led by ``proc`` (started with a new session), then SIGKILL.

    Only that group is signalled: its id is the PID of a process this module started.
    """
    pgid = proc.pid
    if proc.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(pgid):
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@dataclasses.dataclass
class DaskProcesses:
    """A scheduler and workers started by :func:`dask_processes`."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    scheduler_file: Path
    workdir: Path
    env: dict[str, str]
    worker_args: tuple[str, ...] = ()
    _n_started: int = 0

    @property
    def pids(self) -> list[int]:
        """PIDs of every process started (scheduler first), dead ones included."""
        return [self.scheduler.pid] + [w.pid for w in self.workers]

    def log(self, name: str) -> Path:
        """The log file of ``scheduler`` or ``worker-<i>``."""
        return self.workdir / f"{name}.log"

    def start_worker(self) -> subprocess.Popen:
        """Start one more worker (not waiting for it to register)."""
        i = self._n_started
        self._n_started += 1
        cmd = dask_command("worker") + [
            "--scheduler-file", str(self.scheduler_file),
            "--host", "127.0.0.1",
            "--nthreads", "1",
            "--nworkers", "1",
            "--no-dashboard",
            "--name", f"worker-{i}",
            "--local-directory", str(self.workdir / f"worker-{i}"),
            *self.worker_args,
        ]
        proc = _spawn(cmd, self.log(f"worker-{i}"), self.env, self.workdir)
        self.workers.append(proc)
        return proc

    def kill_worker(self, i: int, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` (default SIGKILL) to worker ``i``'s process group; return its PID."""
        proc = self.workers[i]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        return proc.pid

    def n_registered(self, timeout: float = 10.0) -> int:
        """How many workers the scheduler knows of now."""
        return len(_scheduler_workers(self.address, timeout))

    def wait_for_workers(self, n: int, timeout: float = 60.0) -> None:
        """Block until exactly ``n`` workers are registered; raise TimeoutError otherwise."""
        _wait_for_workers(self, n, timeout, exact=True)

    def stop(self) -> None:
        """Stop workers then scheduler, each by its process group."""
        for proc in self.workers:
            stop_process(proc)
        stop_process(self.scheduler)


def _spawn(cmd: Sequence[str], log: Path, env: Mapping[str, str], cwd: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env), cwd=cwd, start_new_session=True,
        )


def _scheduler_workers(address: str, timeout: float) -> dict:
    from distributed import Client

    with Client(address, timeout=timeout, set_as_default=False) as client:
        return client.scheduler_info(n_workers=-1)["workers"]


def _wait_for_workers(dp: DaskProcesses, n: int, timeout: float, exact: bool = False) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    seen = 0
    with Client(dp.address, timeout=timeout, set_as_default=False) as client:
        while True:
            seen = len(client.scheduler_info(n_workers=-1)["workers"])
            if seen == n or (not exact and seen > n):
                return
            if dp.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited ({dp.scheduler.returncode}):\n"
                                   f"{_tail(dp.log('scheduler'))}")
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- worker-{i}.log\n{_tail(dp.log(f'worker-{i}'), 8)}"
                                 for i in range(len(dp.workers)))
                raise TimeoutError(
                    f"{seen} Dask workers registered, not {n}, after {timeout:.0f}s\n{logs}")
            time.sleep(0.1)


@contextlib.contextmanager
def dask_processes(
    n_workers: int = 2,
    *,
    timeout: float = 60.0,
    numba_cache_dir: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    worker_args: Sequence[str] = ("--no-nanny",),
    workdir: str | os.PathLike | None = None,
) -> Iterator[DaskProcesses]:
    """``dask scheduler`` and ``n_workers`` ``dask worker`` processes on 127.0.0.1.

    Each runs in its own process group (``kill_worker`` takes out the whole worker), with one
    thread, no dashboard, ``NUMBA_NUM_THREADS=1`` and ``NUMBA_CACHE_DIR`` set to
    ``numba_cache_dir`` (default: a fresh folder shared by this cluster's processes, like a
    per-node cache). The scheduler picks a free port and writes a scheduler file. Workers run
    without a nanny by default, so a worker's PID is the process that runs the tasks and a
    killed worker stays dead; pass ``worker_args=()`` for nannies. ``env`` entries are added
    to (and override) the environment. Yields once all workers are registered (at most
    ``timeout`` seconds, else TimeoutError with the log's tail); always stops everything.
    """
    own_dir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="stability-dask-")) if own_dir else Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    cache = Path(numba_cache_dir) if numba_cache_dir is not None else root / "numba-cache"
    cache.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **WORKER_ENV, "NUMBA_CACHE_DIR": str(cache), **(env or {})}
    scheduler_file = root / "scheduler.json"
    cmd = dask_command("scheduler") + [
        "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--no-jupyter",
        "--scheduler-file", str(scheduler_file),
    ]
    scheduler = _spawn(cmd, root / "scheduler.log", full_env, root)
    dp = DaskProcesses(
        address="", scheduler=scheduler, workers=[], scheduler_file=scheduler_file,
        workdir=root, env=full_env, worker_args=tuple(worker_args),
    )
    try:
        deadline = time.monotonic() + timeout
        while not dp.address:
            if scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited ({scheduler.returncode}):\n"
                                   f"{_tail(root / 'scheduler.log')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dask scheduler not up after {timeout:.0f}s:\n"
                                   f"{_tail(root / 'scheduler.log')}")
            with contextlib.suppress(OSError, ValueError, KeyError):
                dp.address = json.loads(scheduler_file.read_text())["address"]
            time.sleep(0.1)
        for _ in range(n_workers):
            dp.start_worker()
        _wait_for_workers(dp, n_workers, max(deadline - time.monotonic(), 1.0))
        yield dp
    finally:
        dp.stop()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- SLURM


def slurm_available(timeout: float = 10.0) -> tuple[bool, str]:
    """(True, "") when sinfo/sbatch exist and a node is idle or mixed; else (False, why)."""
    missing = [c for c in ("sinfo", "sbatch", "scontrol", "squeue") if shutil.which(c) is None]
    if missing:
        return False, (f"SLURM not installed ({', '.join(missing)} not on PATH); "
                       "`.ci/slurm.sh start` installs and starts a single-node SLURM as root")
    try:
        # `scontrol ping` answers at once; sinfo retries for ~9 s when no controller runs.
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True,
                              timeout=timeout)
        if "UP" not in ping.stdout:
            why = (ping.stdout + ping.stderr).strip().splitlines() or ["no answer"]
            return False, (f"SLURM not running (scontrol ping: {why[0]}); "
                           "run `.ci/slurm.sh start` as root")
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %T"], capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"SLURM did not answer within {timeout:.0f}s"
    if out.returncode != 0:
        why = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"SLURM not running (sinfo: {why}); run `.ci/slurm.sh start` as root"
    states = [line.split() for line in out.stdout.splitlines() if line.strip()]
    if any(len(s) == 2 and s[1] in ("idle", "mixed") for s in states):
        return True, ""
    shown = ", ".join(" ".join(s) for s in states) or "no nodes"
    return False, f"no SLURM node is idle or mixed ({shown})"


@dataclasses.dataclass(frozen=True)
class SlurmJob:
    """A finished batch job as ``scontrol show job`` reported it."""

    job_id: str
    state: str  # COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    exit_code: int  # the batch script's exit status
    signal: int  # the signal that ended it, 0 if none
    stdout: Path | None  # the job's output file
    info: dict[str, str]  # every field of `scontrol show job -o`

    def output(self) -> str:
        """The job's standard output ('' if there is none)."""
        try:
            return self.stdout.read_text(errors="replace") if self.stdout else ""
        except OSError:
            return ""


def _scontrol_job(job_id: str) -> dict[str, str] | None:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True,
                         text=True, timeout=10)
    if out.returncode != 0:
        return None  # purged (older than MinJobAge) or unknown
    info = {}
    for field in out.stdout.split():
        key, sep, value = field.partition("=")
        if sep:
            info[key] = value
    return info


def sbatch_wait(
    script: str | os.PathLike | None = None,
    *,
    wrap: str | None = None,
    sbatch_args: Sequence[str] = (),
    timeout: float = 120.0,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
) -> SlurmJob:
    """Submit a batch script (a file, or ``wrap`` as in ``sbatch --wrap``) and wait for it.

    Output goes to ``slurm-<id>.out`` in ``cwd`` (default: a fresh temporary folder) unless
    ``sbatch_args`` sets ``--output``. ``env`` is added to the submitting environment, which
    the job inherits. Returns the job's final state; on timeout the job is cancelled and
    TimeoutError raised, so nothing is left queued.
    """
    if (script is None) == (wrap is None):
        raise ValueError("give exactly one of script and wrap")
    workdir = Path(cwd) if cwd is not None else Path(tempfile.mkdtemp(prefix="stability-sbatch-"))
    cmd = ["sbatch", "--parsable", f"--chdir={workdir}", *sbatch_args]
    if not any(a.startswith(("-o", "--output")) for a in sbatch_args):
        cmd.append(f"--output={workdir}/slurm-%j.out")
    cmd += ["--wrap", wrap] if wrap is not None else [str(Path(script).resolve())]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(f"sbatch failed ({out.returncode}): {out.stderr.strip()}")
    job_id = out.stdout.strip().split(";")[0]
    deadline = time.monotonic() + timeout
    info: dict[str, str] | None = None
    while time.monotonic() < deadline:
        info = _scontrol_job(job_id)
        if info is not None and info.get("JobState") in SLURM_FINAL_STATES:
            break
        time.sleep(0.25)
    else:
        subprocess.run(["scancel", job_id], capture_output=True, timeout=10)
        state = info.get("JobState") if info else "unknown"
        raise TimeoutError(f"SLURM job {job_id} not finished after {timeout:.0f}s "
                           f"(state {state}, reason {info.get('Reason') if info else '?'}); "
                           "cancelled")
    code, _, sig = info.get("ExitCode", "0:0").partition(":")
    stdout = info.get("StdOut")
    return SlurmJob(job_id=job_id, state=info["JobState"], exit_code=int(code or 0),
                    signal=int(sig or 0), stdout=Path(stdout) if stdout else None, info=info)


def slurm_job_states(job_ids: Sequence[str]) -> dict[str, str]:
    """Each job's state now (``"gone"`` once SLURM has forgotten it)."""
    states = {}
    for job_id in job_ids:
        info = _scontrol_job(str(job_id))
        states[str(job_id)] = info.get("JobState", "unknown") if info else "gone"
    return states
