"""Checkpoints and --resume: kill -9 part-way, interrupted runs, other experiments, full disks.

The runs here are real ``stability run`` processes and in-process runs on the sync scheduler;
the kill is a SIGKILL to the runner's whole process group, the full disk a small tmpfs.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import stability
from stability.cli import main
from stability.experiment import store
from stability.experiment.config import ConfigError

CONFIG = """
[experiment]
name = "resume"
replicates = {replicates}
seed = 5
chunk = {chunk}

[model]
n_states = 5
horizon = {horizon}

[sweep]
polarity = ["bipolar", "multipolar"]
doctrine = ["defensive", "offensive"]

[cluster]
scheduler = "sync"
"""
RESUMED = re.compile(r"resumed: (\d+) of (\d+) tasks already done, (\d+) to compute")


def _config(tmp_path: Path, replicates=60, chunk=5, horizon=30) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(textwrap.dedent(CONFIG.format(replicates=replicates, chunk=chunk,
                                                  horizon=horizon)))
    return path


def _task_files(out: Path) -> list[Path]:
    tasks = store.checkpoint_path(out) / "tasks"
    return list(tasks.glob("task-*.npz")) if tasks.is_dir() else []


def _interrupt_after(n: int):
    """A progress callback that stops the run (like Ctrl-C) once ``n`` tasks are done."""
    def progress(done, total):
        if done >= n:
            raise KeyboardInterrupt

    return progress


@pytest.mark.timeout(180)
def test_kill_9_of_the_runner_then_resume_is_identical(tmp_path, capsys, same_results):
    cfg = _config(tmp_path, replicates=3000, chunk=75, horizon=60)
    out = tmp_path / "killed.zarr"
    reference = stability.run(cfg, out=tmp_path / "ref.zarr")  # uninterrupted, sync

    log = open(tmp_path / "runner.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stability.cli", "run", str(cfg), "--out", str(out)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_task_files(out)) < 8:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoints appeared"
            time.sleep(0.01)
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()
    assert not out.exists()
    with pytest.raises(store.IncompleteResultsError, match="incomplete"):
        stability.open_results(out)
    partial = stability.open_results(out, partial=True)
    assert partial.attrs["complete"] == 0
    assert 8 <= partial.attrs["tasks_done"] < partial.attrs["tasks_total"] == 160
    assert int(partial["n_runs"].sum()) == 75 * partial.attrs["tasks_done"]

    assert main(["run", str(cfg), "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    done, total, todo = map(int, RESUMED.search(err).groups())
    assert 8 <= done < total == 160 and todo == total - done  # fewer tasks than a full run
    same_results(stability.open_results(out), reference)
    assert not store.checkpoint_path(out).exists()


@pytest.mark.timeout(120)
def test_sigterm_stops_the_runner_with_a_hint_to_resume(tmp_path):
    """A batch system's SIGTERM (walltime, pre-emption): exit 143, one line, tasks kept."""
    cfg = _config(tmp_path, replicates=3000, chunk=75, horizon=60)
    out = tmp_path / "o.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stability.cli", "run", str(cfg), "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_task_files(out)) < 4:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("stability: error: terminated (SIGTERM)") and "--resume" in last
    assert "Traceback" not in err and not out.exists()
    assert stability.open_results(out, partial=True).attrs["tasks_done"] >= 4


@pytest.mark.timeout(120)
def test_interrupted_run_is_kept_guarded_and_resumed(tmp_path, capsys, same_results, error_line):
    cfg = _config(tmp_path)
    out = tmp_path / "o.zarr"
    reference = stability.run(cfg, out=tmp_path / "ref.zarr")
    with pytest.raises(KeyboardInterrupt):
        stability.run(cfg, out=out, progress=_interrupt_after(5))
    assert len(_task_files(out)) == 5 and not out.exists()

    # Neither a plain run nor another experiment may touch it.
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    line = error_line()
    assert "--resume" in line and "--overwrite" in line and ".partial" in line
    assert main(["run", str(cfg), "--out", str(out), "--seed", "6", "--resume"]) == 2
    assert "different experiment" in error_line()
    assert main(["run", str(cfg), "--out", str(out), "--chunk", "7", "--resume"]) == 2
    assert "--chunk" in error_line()
    with pytest.raises(ConfigError, match="different experiment"):
        stability.run(cfg, out=out, replicates=61, resume=True)
    assert len(_task_files(out)) == 5

    # What is there can be read, when asked for explicitly.
    with pytest.raises(store.IncompleteResultsError, match="partial=True"):
        stability.open_results(out)
    partial = stability.open_results(out, partial=True)
    assert partial.attrs["tasks_done"] == 5 and int(partial["n_runs"].sum()) == 25
    assert main(["info", str(out)]) == 0
    assert "NO" in capsys.readouterr().out

    assert main(["run", str(cfg), "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert RESUMED.search(err).groups() == ("5", "48", "43")
    # the tasks computed by this run only, and the kernel's CPU time within their wall time
    computed = re.search(r"(\d+) task\(s\) computed in ([0-9.]+) s on sync \(1 worker\): "
                         r"([0-9.]+) s of CPU time in the kernel", err)
    assert computed and computed.group(1) == "43"
    assert float(computed.group(3)) <= float(computed.group(2)) + 0.05  # wall to 0.1 s
    same_results(stability.open_results(out), reference)
    # A finished store: --resume returns it as it is.
    created = stability.open_results(out).attrs["created"]
    assert main(["run", str(cfg), "--out", str(out), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().err
    assert stability.open_results(out).attrs["created"] == created


@pytest.mark.timeout(60)
def test_overwrite_discards_checkpoints_and_resume_of_nothing_starts_fresh(
        tmp_path, capsys, same_results):
    cfg = _config(tmp_path)
    out = tmp_path / "o.nc"
    with pytest.raises(KeyboardInterrupt):
        stability.run(cfg, out=out, seed=9, progress=_interrupt_after(3))
    ds = stability.run(cfg, out=out, overwrite=True)
    assert not store.checkpoint_path(out).exists()
    same_results(ds, stability.run(cfg, out=tmp_path / "ref.nc"))

    fresh = tmp_path / "fresh.zarr"
    assert main(["run", str(cfg), "--out", str(fresh), "--resume"]) == 0
    assert "nothing to resume" in capsys.readouterr().err
    same_results(stability.open_results(fresh), ds)


@pytest.mark.timeout(60)
def test_killed_while_creating_its_checkpoint_blocks_nothing(tmp_path, same_results):
    """kill -9 between creating ``.partial`` and writing its manifest: nothing was saved."""
    cfg = _config(tmp_path)
    reference = stability.run(cfg, out=tmp_path / "ref.zarr")
    for resume in (True, False):
        out = tmp_path / f"o{resume}.zarr"
        (store.checkpoint_path(out) / "tasks").mkdir(parents=True)
        (store.checkpoint_path(out) / ".manifest.json.tmp-0123456789ab").write_text("{")
        same_results(stability.run(cfg, out=out, resume=resume), reference)
        assert not store.checkpoint_path(out).exists()


@pytest.mark.timeout(60)
def test_a_failed_run_without_finished_tasks_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr("stability.model.simulate.run_batch", broken)
    with pytest.raises(RuntimeError, match="kernel exploded"):
        stability.run(_config(tmp_path), out=tmp_path / "x.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


@pytest.mark.timeout(120)
def test_resume_survives_compaction_leftovers_and_damaged_files(tmp_path, capsys, monkeypatch,
                                                                same_results):
    """Bases from compaction, a half-written temporary, a damaged and a duplicate task file."""
    from stability.experiment.tasks import make_plan, run_task

    monkeypatch.setattr(store.Checkpoint, "COMPACT_EVERY", 4)
    cfg_path = _config(tmp_path)
    out = tmp_path / "o.zarr"
    reference = stability.run(cfg_path, out=tmp_path / "ref.zarr")
    with pytest.raises(KeyboardInterrupt):
        stability.run(cfg_path, out=out, progress=_interrupt_after(10))
    tasks_dir = store.checkpoint_path(out) / "tasks"
    bases = list(tasks_dir.glob("base-*.npz"))
    assert len(bases) == 1 and len(_task_files(out)) == 2  # 8 compacted, 2 loose

    ck = store.Checkpoint.open(out)
    cfg = ck.config()
    plan = make_plan(cfg)
    tasks = plan.tasks()
    ck.save(tasks[0], run_task(plan, tasks[0]))  # a duplicate of a compacted task
    (tasks_dir / "task-0000030.npz").write_bytes(b"PK\x03\x04 truncated")
    (tasks_dir / ".task-0000031.npz.tmp-0123456789ab").write_bytes(b"half")
    ck.close()

    assert main(["run", str(cfg_path), "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "ignoring unreadable checkpoint task-0000030.npz" in err
    assert RESUMED.search(err).groups() == ("10", "48", "38")
    same_results(stability.open_results(out), reference)


# ---- full and read-only disks -----------------------------------------------------------------
@contextlib.contextmanager
def _tmpfs(where: Path, size: str, read_only: bool = False):
    """A small tmpfs at ``where`` (root only); skips the test where mounting is not allowed."""
    where.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                         capture_output=True, text=True, timeout=30)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {got.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.timeout(120)
def test_disk_full_while_checkpointing_fails_cleanly(tmp_path, capsys, error_line):
    cfg = _config(tmp_path, replicates=200, chunk=2)  # 400 task files, far more than fit
    with _tmpfs(tmp_path / "disk", "96k") as disk:
        out = disk / "o.zarr"
        assert main(["run", str(cfg), "--out", str(out), "--quiet"]) == 1
        line = error_line()
        assert "No space left on device" in line and "--resume" in line
        assert not out.exists()  # nothing looks complete
        assert _leftovers(disk) == ["o.zarr.partial"]
        with pytest.raises(store.IncompleteResultsError):
            stability.open_results(out)
        assert not list((disk / "o.zarr.partial" / "tasks").glob(".*tmp*"))


@pytest.mark.timeout(120)
def test_disk_full_at_the_final_write_keeps_every_task(tmp_path, capsys, same_results, error_line):
    cfg = _config(tmp_path, chunk=30)  # 8 small task files fit; the Zarr store does not
    reference = stability.run(cfg, out=tmp_path / "ref.zarr")
    with _tmpfs(tmp_path / "disk", "96k") as disk:
        out = disk / "o.zarr"
        assert main(["run", str(cfg), "--out", str(out), "--quiet"]) == 1
        line = error_line()
        assert "cannot write results" in line and "No space left on device" in line
        assert _leftovers(disk) == ["o.zarr.partial"]  # no half-written store
        assert store.Checkpoint.open(out).n_done() == 8

        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True, timeout=30)
        assert main(["run", str(cfg), "--out", str(out), "--resume"]) == 0
        assert RESUMED.search(capsys.readouterr().err).groups() == ("8", "8", "0")
        same_results(stability.open_results(out), reference)
        assert _leftovers(disk) == ["o.zarr"]


@pytest.mark.timeout(60)
def test_unwritable_output_is_bad_input(tmp_path, capsys, error_line):
    cfg = _config(tmp_path)
    if os.geteuid() == 0:  # root writes through permissions; a read-only mount stops it
        ctx = _tmpfs(tmp_path / "ro", "1m", read_only=True)
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        ctx = contextlib.nullcontext(tmp_path / "ro")
    with ctx as ro:
        assert main(["run", str(cfg), "--out", str(ro / "sub" / "o.zarr")]) == 2
        assert "not writable" in error_line()
        assert _leftovers(ro) == []


def test_checkpoint_files_are_small_and_integer(tmp_path):
    """One task file per finished task: its integer statistics, a few kB, nothing per run."""
    cfg = _config(tmp_path, replicates=500, chunk=250)
    out = tmp_path / "o.zarr"
    with pytest.raises(KeyboardInterrupt):
        stability.run(cfg, out=out, progress=_interrupt_after(1))
    (f,) = _task_files(out)
    assert f.stat().st_size < 16_000
    with np.load(f) as data:
        assert all(data[k].dtype == np.int64 for k in data.files)
        assert int(data["c.n_runs"].sum()) == 250
