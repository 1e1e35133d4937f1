"""Runs on real clusters: Dask processes on loopback, SLURM jobs, and their failure modes.

Everything here is real: ``dask scheduler``/``dask worker`` processes (tests/daemons.py),
dask-jobqueue submitting SLURM jobs, ``sbatch`` running the whole runner. The SLURM tests skip
with the reason where no SLURM runs (``.ci/slurm.sh start`` starts one, as root).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from daemons import dask_processes, pid_alive, sbatch_wait, slurm_available, slurm_job_states

import stability
from stability.cli import main
from stability.experiment import cluster as C
from stability.experiment import store

distributed = pytest.importorskip("distributed")

SLURM_OK, SLURM_WHY = slurm_available()
needs_slurm = pytest.mark.skipif(not SLURM_OK, reason=SLURM_WHY)
ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[experiment]
name = "{name}"
replicates = {replicates}
seed = 7
chunk = {chunk}
contrasts = ["doctrine"]

[model]
n_states = 5
horizon = 40

[sweep]
polarity = ["bipolar", "multipolar"]
doctrine = ["defensive", "offensive"]

[cluster]
{cluster}
"""


def _config(tmp_path: Path, name="cluster", replicates=200, chunk=20,
            cluster='scheduler = "sync"') -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(textwrap.dedent(CONFIG.format(name=name, replicates=replicates,
                                                  chunk=chunk, cluster=cluster)))
    return path


_WARM = """
from stability.experiment.config import parse_config
from stability.experiment.tasks import make_plan, run_task
plan = make_plan(parse_config({"experiment": {"replicates": 2, "seed": 1},
                               "model": {"n_states": 4, "horizon": 5}}))
run_task(plan, plan.tasks()[0])
"""


@pytest.fixture(scope="module")
def numba_cache(tmp_path_factory) -> Path:
    """A Numba cache with the kernels compiled, for the worker processes and jobs.

    The suite's own cache when NUMBA_CACHE_DIR is set (CI), else a fresh one; a worker with a
    cold cache compiles for ~20 s at its first task, which only slows the tests down.
    """
    given = os.environ.get("NUMBA_CACHE_DIR")
    cache = Path(given) if given else tmp_path_factory.mktemp("numba-cache")
    subprocess.run([sys.executable, "-c", _WARM], check=True, timeout=300,
                   env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    return cache


# ---- the local cluster ------------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_local_workers_run_quiet_and_are_gone_when_run_returns(tmp_path, numba_cache,
                                                               monkeypatch, same_results):
    import contextlib

    import dask

    from stability.experiment import runner

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(numba_cache))
    seen = {}
    make_client = C.make_client

    @contextlib.contextmanager
    def spy(*args, **kwargs):
        with make_client(*args, **kwargs) as executor:
            keys = list(C.LOCAL_CONFIG)  # not C itself: the workers would import its module
            seen["config"] = executor.client.run(
                lambda: {key: dask.config.get(key) for key in keys})
            seen["pids"] = executor.client.run(os.getpid)
            yield executor
            seen["modules"] = executor.client.run(
                lambda: sorted({m.split(".")[0] for m in sys.modules} & {"pydantic", "xarray"}))

    cfg = _config(tmp_path, replicates=100, chunk=25)
    reference = stability.run(cfg, out=tmp_path / "sync.zarr")
    monkeypatch.setattr(runner, "make_client", spy)
    ds = stability.run(cfg, scheduler="local", workers=2, out=tmp_path / "local.zarr")
    same_results(ds, reference)
    # Dask's diagnostics (tick, profiler, monitors) are turned down in every worker ...
    assert list(seen["config"].values()) == [C.LOCAL_CONFIG] * 2
    # Having run their tasks, the workers have imported neither the config's validation
    # (pydantic) nor xarray: only the driver uses them, and each costs a worker 0.1-0.3 s.
    assert list(seen["modules"].values()) == [[]] * 2
    # ... and the worker processes are gone when run returns.
    assert len(seen["pids"]) == 2
    assert not any(pid_alive(pid) for pid in seen["pids"].values())


# ---- an existing Dask scheduler (tcp://) ------------------------------------------------------
@pytest.mark.timeout(180)
def test_tcp_scheduler_equals_sync_even_when_a_worker_is_killed(tmp_path, numba_cache,
                                                                same_results):
    cfg = _config(tmp_path, replicates=1000, chunk=25)  # 80 tasks
    reference = stability.run(cfg, out=tmp_path / "sync.zarr")
    with dask_processes(n_workers=2, numba_cache_dir=numba_cache) as dp:
        ds = stability.run(cfg, scheduler=dp.address, out=tmp_path / "tcp.zarr")
        same_results(ds, reference)

        killed = []

        def kill_after_the_first_task(done, total):
            if done >= 1 and not killed:
                killed.append(dp.kill_worker(0))  # SIGKILL, mid-run, with tasks in flight

        ds = stability.run(cfg, scheduler=dp.address, out=tmp_path / "killed.zarr",
                           progress=kill_after_the_first_task)
        assert killed and not pid_alive(killed[0])
        assert dp.n_registered() == 1
        same_results(ds, reference)
        same_results(stability.open_results(tmp_path / "killed.zarr"), reference)


@pytest.mark.timeout(60)
def test_unreachable_scheduler_is_an_error_within_bounded_time(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _config(tmp_path)
    out = tmp_path / "o.zarr"
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "stability.cli", "run", str(cfg), "--out", str(out),
         "--scheduler", f"tcp://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=50,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    assert time.monotonic() - start < 40
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("stability: error: ClusterError: cannot reach the Dask scheduler")
    assert "within 3 s" in last and "Traceback" not in proc.stderr
    assert not out.exists() and not store.checkpoint_path(out).exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "tcp://host:port", "udp://h:1"])
def test_malformed_scheduler_address_is_bad_input(tmp_path, capsys, address, error_line):
    assert main(["run", str(_config(tmp_path)), "--scheduler", address]) == 2
    assert "--scheduler" in error_line()


# ---- dask-jobqueue options ---------------------------------------------------------------------
SLURM = {"scheduler": '"slurm"', "cores": "2", "memory": '"4GB"', "walltime": '"02:00:00"'}


def _cluster(**changes) -> str:
    table = {**SLURM, **changes}
    return "\n".join(f"{k} = {v}" for k, v in table.items() if v is not None)


# (a change to the [cluster] table, what the one-line message must name)
BAD_OPTIONS = [
    ({"memory": '"lots"'}, "cluster.memory"),
    ({"memory": '"100MB"'}, "cluster.memory"),
    ({"walltime": '"2 hours"'}, "cluster.walltime"),
    ({"walltime": '"01:75:00"'}, "cluster.walltime"),
    ({"lifetime": '"3h"'}, "cluster.lifetime"),
    ({"lifetime": '"10s"'}, "cluster.lifetime"),
    ({"lifetime": '"soon"'}, "cluster.lifetime"),
    ({"processes": "3"}, "cluster.processes"),
    ({"cores": "0"}, "cluster.cores"),
    ({"jobs": "0"}, "cluster.jobs"),
    ({"job_extra_directives": '["#SBATCH --exclusive"]'}, "cluster.job_extra_directives[0]"),
    ({"nodes": "2"}, "cluster.nodes: unknown key"),
    ({"scheduler": '"pbs"', "walltime": '"1-00:00:00"'}, "cluster.walltime"),
]


@pytest.mark.parametrize("changes,text", BAD_OPTIONS, ids=[b[1] for b in BAD_OPTIONS])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_invalid_cluster_options_exit_2_naming_the_key(tmp_path, capsys, command, changes,
                                                       text, error_line):
    cfg = _config(tmp_path, cluster=_cluster(**changes))
    out = tmp_path / "o.zarr"
    argv = [command, str(cfg)] + (["--out", str(out)] if command == "run" else [])
    assert main(argv) == 2
    assert text in error_line()
    assert not out.exists() and not store.checkpoint_path(out).exists()


def _path_with(monkeypatch, tmp_path: Path, commands: tuple[str, ...],
               keep_path: bool = True) -> None:
    """PATH with stand-ins for ``commands`` first (each exits 1 if ever run), and the real
    PATH after them unless ``keep_path`` is False: the outcome of a test of the
    machine checks then depends on the test, not on which batch tools this machine has."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    for name in commands:
        stand_in = bin_dir / name
        stand_in.write_text("#!/bin/sh\necho 'a stand-in: never submits' >&2\nexit 1\n")
        stand_in.chmod(0o755)
    rest = [os.environ.get("PATH", "")] if keep_path else []
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir)] + rest))


@pytest.mark.parametrize("changes,text", [
    ({"interface": '"no-such-nic0"'}, "cluster.interface: no network interface"),
    ({"scheduler_interface": '"no-such-nic0"', "interface": '"ib0"'},
     "cluster.scheduler_interface: no network interface"),
    ({"scheduler": '"pbs"'}, "cluster.scheduler: 'pbs' needs `qsub`"),
])
def test_options_this_machine_cannot_run_are_noted_by_validate_and_refused_by_run(
        tmp_path, capsys, monkeypatch, changes, text, error_line):
    if "pbs" in str(changes):
        # qsub must be missing: PATH holds only a stand-in sbatch
        _path_with(monkeypatch, tmp_path, ("sbatch",), keep_path=False)
    else:
        # the interface is checked with the submit command present, installed or not
        _path_with(monkeypatch, tmp_path, ("sbatch",))
    cfg = _config(tmp_path, cluster=_cluster(**changes))
    assert main(["validate", str(cfg)]) == 0
    assert f"note: `stability run` here would stop: {text}" in capsys.readouterr().out
    assert main(["run", str(cfg), "--out", str(tmp_path / "o.zarr")]) == 2
    assert text in error_line()
    assert not list(tmp_path.glob("o.zarr*"))


def test_a_missing_submit_command_is_reported_before_a_missing_interface(
        tmp_path, capsys, monkeypatch, error_line):
    """On a laptop (no sbatch) with a bad interface too: validate notes both, in order, and
    run stops on the first, the missing sbatch, whatever this machine has installed."""
    _path_with(monkeypatch, tmp_path, (), keep_path=False)
    cfg = _config(tmp_path, cluster=_cluster(interface='"no-such-nic0"'))
    assert main(["validate", str(cfg)]) == 0
    notes = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("note:")]
    assert [n.split(": ", 2)[1] for n in notes] == ["`stability run` here would stop"] * 2
    assert "cluster.scheduler: 'slurm' needs `sbatch`" in notes[0]
    assert "cluster.interface: no network interface" in notes[1]
    assert main(["run", str(cfg), "--out", str(tmp_path / "o.zarr")]) == 2
    assert "cluster.scheduler: 'slurm' needs `sbatch`" in error_line()
    assert not list(tmp_path.glob("o.zarr*"))


def test_validate_prints_the_job_scripts(tmp_path, capsys):
    prologue = '["module load python", "export NUMBA_CACHE_DIR=/scratch/$USER/numba"]'
    cfg = _config(tmp_path, cluster=_cluster(
        processes="2", jobs="3", queue='"compute"', account='"proj"', lifetime='"1h50m"',
        job_extra_directives='["--constraint=cpu"]', job_script_prologue=prologue,
        python='"/opt/venv/bin/python"', local_directory='"$TMPDIR"',
        log_directory=f'"{tmp_path / "logs"}"'))
    assert main(["validate", str(cfg)]) == 0
    assert not (tmp_path / "logs").exists()  # validate runs and creates nothing
    out = capsys.readouterr().out
    script = out[out.index("worker job script"):]
    assert "3 job(s) of 2 worker process(es) x 1 thread(s), submitted with sbatch" in script
    for line in ("#SBATCH -J stability-cluster", "#SBATCH -p compute", "#SBATCH -A proj",
                 f"#SBATCH -o {tmp_path}/logs/stability-cluster-%J.out",
                 "#SBATCH --cpus-per-task=2", "#SBATCH -t 02:00:00",
                 "#SBATCH --constraint=cpu", "export NUMBA_NUM_THREADS=1"):
        assert line in script, line
    default_cache = 'export NUMBA_CACHE_DIR="${TMPDIR:-/tmp}/stability-numba-${SLURM_JOB_ID'
    # stability's per-job cache first, then the user's lines, which may override it
    assert script.index(default_cache) < script.index("module load python") \
        < script.index("export NUMBA_CACHE_DIR=/scratch")
    worker = next(ln for ln in script.splitlines() if "distributed.cli.dask_worker" in ln)
    assert worker.startswith("/opt/venv/bin/python ")
    assert "--nworkers 2" in worker and "--nthreads 1" in worker
    assert "--lifetime 6600s" in worker and "--local-directory $TMPDIR" in worker
    stagger = int(re.search(r"--lifetime-stagger (\d+)s", worker)[1])
    assert 0 < stagger and 6600 + stagger < 7200  # every worker retires before the walltime

    cfg = _config(tmp_path, cluster=_cluster(scheduler='"pbs"', walltime='"00:30:00"'))
    assert main(["validate", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "#PBS -l select=1:ncpus=2:mem=" in out and "#PBS -l walltime=00:30:00" in out
    assert "stability-numba-${PBS_JOBID" in out and "submitted with qsub" in out


def test_default_lifetime_and_jobs():
    from stability.experiment.config import ClusterSection

    spec = C.job_spec(ClusterSection(scheduler="slurm", walltime="12:00:00", workers=20,
                                     cores=8))
    assert spec.jobs == 3 and spec.processes == 8 and spec.threads == 1
    assert spec.lifetime == 12 * 3600 - 600 and spec.lifetime + spec.stagger < 12 * 3600
    short = C.job_spec(ClusterSection(scheduler="slurm", walltime="00:05:00"))
    assert short.lifetime == 240 and short.lifetime + short.stagger < 300
    assert short.kwargs["memory"] == "2GB" and short.jobs == 1


def test_kernels_are_never_parallel_so_their_cache_is_safe():
    """cache=True only on non-parallel kernels (docs/cluster.md, "Numba on clusters")."""
    import importlib

    from numba.core.registry import CPUDispatcher

    kernels = []
    for path in sorted((ROOT / "stability" / "model").glob("*.py")):
        module = importlib.import_module(f"stability.model.{path.stem}")
        kernels += [f for f in vars(module).values() if isinstance(f, CPUDispatcher)]
        source = path.read_text()
        assert not re.search(r"\bprange\s*\(|@\w*vectorize|parallel\s*=\s*True", source), path
    assert kernels and all(not k.targetoptions.get("parallel") for k in kernels)


# ---- a real SLURM ------------------------------------------------------------------------------
def _slurm_cluster(numba_cache: Path, tmp_path: Path, **changes) -> str:
    table = {
        "scheduler": '"slurm"', "jobs": "2", "cores": "1", "memory": '"1GB"',
        "walltime": '"00:10:00"', "interface": '"lo"', "python": f'"{sys.executable}"',
        "log_directory": f'"{tmp_path / "jobs"}"',
        # the warm cache instead of a cold one per job: seconds instead of a ~20 s compile
        "job_script_prologue": f'["export NUMBA_CACHE_DIR={numba_cache}"]',
        **changes,
    }
    return "\n".join(f"{k} = {v}" for k, v in table.items())


def _jobs_named(name: str, states: str = "PD,CF,R,S,CG") -> list[str]:
    out = subprocess.run(["squeue", "-h", "-n", name, "-t", states, "-o", "%i"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def _no_jobs_left(name: str, timeout: float = 30) -> list[str]:
    """Wait until no job of this name is queued, running or completing; cancel (by job id)
    and return what is still queued or running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while _jobs_named(name) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _jobs_named(name, "PD,CF,R,S")
    if left:
        subprocess.run(["scancel", *left], capture_output=True, timeout=30)
    return left


@pytest.mark.slurm
@needs_slurm
@pytest.mark.timeout(240)
def test_slurm_scheduler_equals_sync(tmp_path, numba_cache, capsys, same_results):
    name = f"slurm-{os.getpid()}"
    cfg = _config(tmp_path, name=name, replicates=200, chunk=25,
                  cluster=_slurm_cluster(numba_cache, tmp_path))
    reference = stability.run(cfg, scheduler="sync", out=tmp_path / "sync.zarr")
    out = tmp_path / "slurm.zarr"
    try:
        assert main(["run", str(cfg), "--out", str(out)]) == 0
        err = capsys.readouterr().err
        assert "slurm: 2 job(s) of 1 worker process(es)" in err
        same_results(stability.open_results(out), reference)
        logs = list((tmp_path / "jobs").glob(f"stability-{name}-*.err"))
        assert len(logs) == 2, "the workers were not SLURM jobs"
        job_ids = [p.stem.rsplit("-", 1)[1] for p in logs]
    finally:
        assert not _no_jobs_left(f"stability-{name}"), "the worker jobs outlived the run"
    assert set(slurm_job_states(job_ids).values()) <= {"CANCELLED", "COMPLETED", "gone"}


@pytest.mark.slurm
@needs_slurm
@pytest.mark.timeout(120)
def test_slurm_refused_or_broken_jobs_are_errors_not_hangs(tmp_path, numba_cache, capsys,
                                                           monkeypatch, error_line):
    name = f"broken-{os.getpid()}"
    out = tmp_path / "o.zarr"
    try:
        # A job script sbatch refuses: bad input, before anything starts.
        cfg = _config(tmp_path, name=name,
                      cluster=_slurm_cluster(numba_cache, tmp_path, queue='"no-such-queue"'))
        assert main(["run", str(cfg), "--out", str(out)]) == 2
        assert "sbatch refuses the worker job" in error_line()

        # Jobs that start but never bring up a worker (a wrong python): exit 1, not a wait
        # for ever. The waits are cut (90 s, every 5 s) to keep the test short.
        monkeypatch.setattr(C, "JOBS_GONE_GRACE", 3.0)
        monkeypatch.setattr(C, "CHECK_EVERY", 1.0)
        cfg = _config(tmp_path, name=name,
                      cluster=_slurm_cluster(numba_cache, tmp_path,
                                             python='"/nonexistent/bin/python"'))
        start = time.monotonic()
        assert main(["run", str(cfg), "--out", str(out)]) == 1
        assert time.monotonic() - start < 60
        assert "none of the slurm worker jobs" in error_line()
        assert not out.exists() and not store.checkpoint_path(out).exists()
    finally:
        assert not _no_jobs_left(f"stability-{name}")


@pytest.mark.slurm
@needs_slurm
@pytest.mark.timeout(240)
def test_sbatch_runs_the_whole_runner(tmp_path, numba_cache, same_results):
    cfg = _config(tmp_path, name="sbatch", replicates=200, chunk=25,
                  cluster='scheduler = "local"')
    reference = stability.run(cfg, scheduler="sync", out=tmp_path / "sync.zarr")
    out = tmp_path / "results" / "sbatch.zarr"
    env = {"CONFIG": str(cfg), "OUT": str(out), "STABILITY_VENV": sys.prefix,
           "STABILITY_NUMBA_CACHE_DIR": str(numba_cache)}
    # The node has 2 CPUs: ask for one, not the script's 32 (command-line options win).
    args = ["--cpus-per-task=1", "--mem=2G", "--time=00:10:00",
            f"--output={tmp_path}/stability-%j.out"]
    script = ROOT / "configs" / "sbatch_stability.sh"
    job = sbatch_wait(script, sbatch_args=args, cwd=tmp_path, env=env, timeout=180)
    assert (job.state, job.exit_code) == ("COMPLETED", 0), job.output()
    log = job.output()
    assert "nothing to resume" in log and "scheduler local" in log
    same_results(stability.open_results(out), reference)

    # Submitted again (as after a walltime kill): --resume finds the finished store.
    created = stability.open_results(out).attrs["created"]
    again = sbatch_wait(script, sbatch_args=args, cwd=tmp_path, env=env, timeout=120)
    assert (again.state, again.exit_code) == ("COMPLETED", 0), again.output()
    assert "already complete" in again.output()
    assert stability.open_results(out).attrs["created"] == created
