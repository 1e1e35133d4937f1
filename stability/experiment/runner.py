"""Run an experiment: plan the tasks, execute them on a scheduler, checkpoint, reduce, write.

Tasks are submitted through a bounded window (a few per worker, following the cluster's size
as workers come and go) and collected as they complete, so neither the scheduler nor this
process holds more than a window of results; each result is folded into integer totals at
once (:class:`~.tasks.Totals`), which makes the reduction independent of completion order,
and persisted to the run's :class:`~.store.Checkpoint`, which makes it resumable.

The output path is written once, whole, at the end. Until then the run's finished tasks are
in ``<output>.partial/``; ``resume=True`` continues from there and computes only the missing
tasks, and the result is bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
from collections.abc import Callable

import xarray as xr

from . import store
from .cluster import Executor, check_options, make_client
from .config import Config, ConfigError, load_config
from .tasks import Plan, Task, TaskStats, Totals, build_dataset, make_plan, run_task

__all__ = ["run", "execute", "check_target"]

Progress = Callable[[int, int], None]  # (tasks done, tasks in all)
Log = Callable[[str], None]


def run(cfg: Config | str | os.PathLike, *, out: str | os.PathLike | None = None,
        replicates: int | None = None, seed: int | None = None, chunk: int | None = None,
        scheduler: str | None = None, workers: int | None = None, overwrite: bool = False,
        resume: bool = False, progress: Progress | None = None,
        log: Log | None = None) -> xr.Dataset:
    """Run the experiment ``cfg`` (a Config or a path to its TOML) and return its results.

    The keyword arguments override the config like the command-line flags do. The dataset is
    written to the output path (``out`` or ``[output] path``), which must not exist (nor an
    unfinished run's ``<path>.partial``) unless ``overwrite`` or ``resume``. With ``resume``,
    a finished store of the same experiment is returned as it is, an unfinished run is
    continued, and with nothing there a fresh run starts. ``log`` receives one-line status
    messages (e.g. ``"resumed: 40 of 120 tasks already done ..."``). Raises ConfigError for
    bad input (store.OutputExistsError for an existing output).

    The ``local`` scheduler starts worker processes, which import the calling script: in a
    script (not a notebook), call ``run`` under ``if __name__ == "__main__":``.
    """
    log = log or (lambda message: None)
    if not isinstance(cfg, Config):
        cfg = load_config(cfg)
    cfg = cfg.with_overrides(replicates=replicates, seed=seed, chunk=chunk, out=out,
                             scheduler=scheduler, workers=workers)
    finished = check_target(cfg, overwrite=overwrite, resume=resume)
    if finished is not None:
        return finished
    path = cfg.output_path
    plan = make_plan(cfg)
    # Connect first: an unreachable scheduler must not leave an empty checkpoint behind.
    with make_client(cfg.cluster, job_name=job_name(cfg), log=log) as executor:
        ck, resumed = _open_checkpoint(cfg, plan, resume=resume, log=log)
        try:
            totals, done = ck.load(plan)
            total = len(plan.tasks())
            if resumed:
                log(f"resumed: {len(done)} of {total} tasks already done, "
                    f"{total - len(done)} to compute ({ck.root})")
            started = time.monotonic()
            computed = totals.tasks_done
            totals = execute(plan, executor, progress=progress, on_result=ck.save,
                             skip=frozenset(done), totals=totals)
            # how much of the workers' time the simulation got (the rest: start-up, Dask)
            log(f"{totals.tasks_done - computed} task(s) computed in "
                f"{time.monotonic() - started:.1f} s on {executor.describe()}: "
                f"{totals.kernel_s:.2f} s of CPU time in the kernel")
            ds = build_dataset(plan, totals)
            runs = _records(cfg, plan, ck) if plan.records else None
            if cfg.sensitivity is not None:
                ds = ds.merge(_indices(cfg, plan, runs, log))
            ds.attrs.update(store.provenance(cfg))
            try:
                store.write_results(ds, path, overwrite=overwrite or resume, runs=runs)
            except OSError as exc:
                raise _os_error(exc, f"cannot write results to {path}: {exc.strerror or exc}; "
                                f"every task is kept in {ck.root}: continue with `stability "
                                "run CONFIG --resume`") from exc
            ck.remove()
        except BaseException:
            # Checkpoints without a finished task save nothing and would only block a rerun.
            with contextlib.suppress(Exception):
                if ck.n_done() == 0:
                    ck.remove()
            raise
        finally:
            ck.close()
    return ds


def _records(cfg: Config, plan: Plan, ck: store.Checkpoint) -> xr.Dataset:
    """The runs' records, lazily, from the checkpoint's record files (streamed into the
    store by write_results)."""
    import numpy as np

    from .runs import runs_dataset

    with np.load(ck.records_path(0), allow_pickle=False) as f:
        sample = {name: f[name][:1] for name in f.files}
    return runs_dataset(plan, ck.records_path, sample)


def _indices(cfg: Config, plan: Plan, runs: xr.Dataset, log: Log) -> xr.Dataset:
    from .indices import cell_indices

    sens = cfg.sensitivity
    started = time.monotonic()
    ds = cell_indices(plan, runs, sens.method, sens.outputs, sorted(cfg.randomize),
                      seed=cfg.experiment.seed, resamples=sens.resamples, levels=sens.levels)
    log(f"{sens.method} indices of {len(cfg.randomize)} parameter(s) for "
        f"{len(sens.outputs)} output(s) in {plan.n_cells} cell(s) computed in "
        f"{time.monotonic() - started:.1f} s")
    return ds


def _os_error(exc: OSError, message: str) -> OSError:
    return OSError(exc.errno, message) if exc.errno is not None else OSError(message)


def job_name(cfg: Config) -> str:
    """The batch job name of a slurm/pbs run's workers: ``stability-<experiment name>``."""
    return "stability-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", cfg.experiment.name)[:40]


def _open_checkpoint(cfg: Config, plan: Plan, resume: bool,
                     log: Log) -> tuple[store.Checkpoint, bool]:
    """(the checkpoint to continue, True) or (a new one, False); locked by this process."""
    path = cfg.output_path
    ck = store.Checkpoint.open(path, log=log) if resume else None
    resumed = ck is not None
    if ck is None:
        if resume:
            log(f"nothing to resume at {path}; starting a fresh run")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            ck = store.Checkpoint.create(path, cfg, plan, log=log)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise ConfigError(f"output {path}: cannot write there ({exc.strerror})") from None
    else:
        ck.check(cfg)
        ck.lock()
    store.remove_stale_temporaries(path)
    return ck, resumed


def check_target(cfg: Config, overwrite: bool = False,
                 resume: bool = False) -> xr.Dataset | None:
    """Check the output path and the cluster options before running; with ``resume``,
    return a finished store of the same experiment.

    Raises OutputExistsError (an existing output, or an unfinished run's checkpoints, without
    overwrite or resume) or ConfigError (resuming another experiment, bad cluster options, an
    unwritable output).
    """
    check_options(cfg.cluster)
    path = cfg.output_path
    partial = store.checkpoint_path(path)
    try:
        has_checkpoint = store.Checkpoint.open(path) is not None
    except ValueError:
        has_checkpoint = True  # there, but unreadable: refused below
    if resume and path.exists():
        try:
            ds = store.open_results(path, partial=True)
        except (ValueError, OSError) as exc:
            raise ConfigError(f"--resume: cannot continue {path}: {exc}") from None
        if ds.attrs.get("config_sha256") != cfg.sha256:
            raise ConfigError(f"--resume: {path} holds a different experiment (config sha256 "
                              f"{ds.attrs.get('config_sha256')}, this config {cfg.sha256}); "
                              "use another --out or --overwrite")
        if str(ds.attrs.get("complete", 1)) in ("1", "True", "true"):
            _drop_stale_checkpoint(cfg)
            return ds.load()
    if resume and has_checkpoint:
        try:
            ck = store.Checkpoint.open(path)
        except ValueError as exc:
            raise ConfigError(f"--resume: {exc}") from None
        ck.check(cfg)
    if not (overwrite or resume) and has_checkpoint:
        raise store.OutputExistsError(
            f"output {path}: an unfinished run's checkpoints are in {partial}; pass --resume "
            "to continue it or --overwrite to start again")
    store.check_output(path, overwrite=overwrite or resume)
    return None


def _drop_stale_checkpoint(cfg: Config) -> None:
    # A run killed between writing its store and deleting its checkpoints leaves both.
    try:
        ck = store.Checkpoint.open(cfg.output_path)
    except ValueError:
        return
    if ck is not None and ck.manifest.get("config_sha256") == cfg.sha256:
        try:
            ck.lock()
        except ConfigError:
            return  # a live run holds it: not stale
        ck.remove()


def execute(plan: Plan, executor: Executor, progress: Progress | None = None,
            on_result: Callable[[Task, TaskStats], None] | None = None,
            skip: frozenset[int] = frozenset(), totals: Totals | None = None) -> Totals:
    """Run every task of ``plan`` not in ``skip`` (task ids); return the summed totals.

    ``totals`` (e.g. a checkpoint's) is added to in place. ``on_result(task, stats)`` sees
    each result as it arrives (the checkpoint persists it there). ``progress(done, total)``
    counts the skipped tasks as done.
    """
    tasks = [t for t in plan.tasks() if t.task_id not in skip]
    total = len(plan.tasks())
    done = total - len(tasks)
    totals = totals if totals is not None else Totals(plan)
    queued = iter(tasks)
    running: dict = {}
    shared = executor.share(plan) if tasks else plan

    def fill(completions=None) -> None:
        # A few tasks per worker in flight; the window follows the cluster's current size.
        window = max(2, 3 * executor.workers)
        while len(running) < window:
            task = next(queued, None)
            if task is None:
                return
            future = executor.submit(run_task, shared, task)
            running[future] = task
            if completions is not None:
                completions.add(future)

    if progress:
        progress(done, total)
    fill()
    completions = executor.as_completed(list(running))
    for future in completions:
        task = running.pop(future)
        stats = future.result()
        del future  # let the scheduler forget the result
        totals.add(task, stats)
        if on_result is not None:
            on_result(task, stats)
        done += 1
        if progress:
            progress(done, total)
        fill(completions)
    if done != total:  # every submitted future is yielded once; anything else is a bug
        raise RuntimeError(f"{done} of {total} tasks completed")
    return totals
