"""The test daemons themselves: real Dask processes on loopback, real SLURM jobs.

These check the helpers in ``daemons.py`` that the cluster tests stand on: daemons start,
run tasks, notice a killed worker, and leave no process behind. The SLURM tests skip with
the reason where no SLURM runs (``.ci/slurm.sh start`` starts one, as root).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

import pytest
from daemons import (
    dask_processes,
    pid_alive,
    sbatch_wait,
    slurm_available,
    slurm_job_states,
)

distributed = pytest.importorskip("distributed")

SLURM_OK, SLURM_WHY = slurm_available()
needs_slurm = pytest.mark.skipif(not SLURM_OK, reason=SLURM_WHY)


def _worker_address(client, name: str) -> str:
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        if info["name"] == name:
            return address
    raise KeyError(name)


@pytest.mark.timeout(120)
def test_scheduler_and_workers_run_tasks_and_stop():
    with dask_processes(n_workers=2) as dp:
        pids = dp.pids
        assert all(pid_alive(p) for p in pids)
        assert dp.address.startswith("tcp://127.0.0.1:")
        with distributed.Client(dp.address, timeout=20) as client:
            assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2
            ran_on = client.submit(os.getpid, pure=False).result(timeout=30)
            assert ran_on in [w.pid for w in dp.workers]
            env = client.run(os.getenv, "NUMBA_NUM_THREADS")
            assert set(env.values()) == {"1"}
            caches = set(client.run(os.getenv, "NUMBA_CACHE_DIR").values())
            assert len(caches) == 1 and caches.pop().startswith(str(dp.workdir))
        workdir = dp.workdir
    assert not any(pid_alive(p) for p in pids), "a daemon outlived its with-block"
    assert not workdir.exists()


@pytest.mark.timeout(120)
def test_killed_worker_is_noticed_and_its_task_rerun_elsewhere():
    def slow_pid(seconds):
        import os
        import time

        time.sleep(seconds)
        return os.getpid()

    with dask_processes(n_workers=2) as dp:
        with distributed.Client(dp.address, timeout=20) as client:
            victim = _worker_address(client, "worker-0")
            fut = client.submit(slow_pid, 3, workers=[victim], allow_other_workers=True,
                                pure=False)
            deadline = time.monotonic() + 30
            while not client.processing().get(victim):
                assert time.monotonic() < deadline, "task never reached worker-0"
                time.sleep(0.05)
            killed = dp.kill_worker(0)
            assert fut.result(timeout=60) == dp.workers[1].pid
            dp.wait_for_workers(1, timeout=30)
            assert victim not in client.scheduler_info(n_workers=-1)["workers"]
        assert dp.workers[0].wait(timeout=10) == -signal.SIGKILL
        assert not pid_alive(killed)
        pids = dp.pids
    assert not any(pid_alive(p) for p in pids)


@pytest.mark.timeout(60)
def test_teardown_stops_everything_when_the_test_fails():
    with pytest.raises(RuntimeError, match="test body failed"):
        with dask_processes(n_workers=1) as dp:
            pids = dp.pids
            raise RuntimeError("test body failed")
    assert not any(pid_alive(p) for p in pids)


@pytest.mark.slurm
@needs_slurm
@pytest.mark.timeout(120)
def test_sbatch_wrap_hostname_completes(tmp_path):
    job = sbatch_wait(wrap="hostname", cwd=tmp_path, timeout=60)
    assert (job.state, job.exit_code) == ("COMPLETED", 0), job.info
    assert job.output().strip() == socket.gethostname()

    failed = sbatch_wait(wrap="exit 3", cwd=tmp_path, timeout=60)
    assert (failed.state, failed.exit_code) == ("FAILED", 3)


@pytest.mark.slurm
@needs_slurm
@pytest.mark.timeout(180)
def test_slurmcluster_starts_workers_as_jobs(tmp_path):
    jobqueue = pytest.importorskip("dask_jobqueue")
    with jobqueue.SLURMCluster(
        cores=1, processes=1, memory="1GB", walltime="00:10:00",
        interface="lo", scheduler_options={"interface": "lo", "dashboard_address": ":0"},
        python=sys.executable, log_directory=str(tmp_path / "logs"),
        local_directory=str(tmp_path / "work"),
        job_script_prologue=["export NUMBA_NUM_THREADS=1",
                             f"export NUMBA_CACHE_DIR={tmp_path}/numba-$SLURM_JOB_ID"],
    ) as cluster:
        script = cluster.job_script()
        assert "#SBATCH" in script and sys.executable in script
        cluster.scale(jobs=2)
        with distributed.Client(cluster, timeout=30) as client:
            client.wait_for_workers(2, timeout=90)
            job_ids = [job.job_id for job in cluster.workers.values()]
            assert len(job_ids) == 2 and all(job_ids)
            pids = client.gather([client.submit(os.getpid, pure=False) for _ in range(4)])
            assert os.getpid() not in pids
            caches = client.run(os.getenv, "NUMBA_CACHE_DIR").values()
            assert len(set(caches)) == 2  # one private Numba cache per job
    deadline = time.monotonic() + 30
    while True:
        states = slurm_job_states(job_ids)
        if all(s not in ("PENDING", "RUNNING", "CONFIGURING") for s in states.values()):
            break
        assert time.monotonic() < deadline, f"SLURM jobs left behind: {states}"
        time.sleep(0.5)
