"""Run an experiment: plan the tasks, execute them on a scheduler, reduce, write.

Tasks are submitted through a bounded window (a few per worker) and collected as they
complete, so neither the scheduler nor this process holds more than a window of results;
each result is folded into integer totals at once (:class:`~.tasks.Totals`), which makes the
reduction independent of completion order.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import xarray as xr

from . import store
from .cluster import Executor, make_client
from .config import Config, ConfigError, load_config
from .tasks import Plan, Task, TaskStats, Totals, build_dataset, make_plan, run_task

__all__ = ["run", "execute", "check_target"]

Progress = Callable[[int, int], None]  # (tasks done, tasks in all)


def run(cfg: Config | str | os.PathLike, *, out: str | os.PathLike | None = None,
        replicates: int | None = None, seed: int | None = None, chunk: int | None = None,
        scheduler: str | None = None, workers: int | None = None, overwrite: bool = False,
        resume: bool = False, progress: Progress | None = None) -> xr.Dataset:
    """Run the experiment ``cfg`` (a Config or a path to its TOML) and return its results.

    The keyword arguments override the config like the command-line flags do. The dataset is
    also written to the output path (``out`` or ``[output] path``), which must not exist
    unless ``overwrite``; with ``resume``, a complete store of the same experiment is
    returned as it is. Raises ConfigError for bad input, store.OutputExistsError for an
    existing output.

    The ``local`` scheduler starts worker processes, which import the calling script: in a
    script (not a notebook), call ``run`` under ``if __name__ == "__main__":``.
    """
    if not isinstance(cfg, Config):
        cfg = load_config(cfg)
    cfg = cfg.with_overrides(replicates=replicates, seed=seed, chunk=chunk, out=out,
                             scheduler=scheduler, workers=workers)
    finished = check_target(cfg, overwrite=overwrite, resume=resume)
    if finished is not None:
        return finished
    path = cfg.output_path
    plan = make_plan(cfg)
    with make_client(cfg.cluster) as executor:
        totals = execute(plan, executor, progress=progress)
    ds = build_dataset(plan, totals)
    ds.attrs.update(store.provenance(cfg))
    store.write_results(ds, path, overwrite=overwrite or resume)
    return ds


def check_target(cfg: Config, overwrite: bool = False,
                 resume: bool = False) -> xr.Dataset | None:
    """Check the output path before running; with ``resume``, return a finished store.

    Raises OutputExistsError (an existing output without overwrite or resume) or ConfigError
    (resuming a store of another experiment).
    """
    path = cfg.output_path
    if not (resume and path.exists()):
        store.check_output(path, overwrite=overwrite or resume)
        return None
    try:
        ds = store.open_results(path, partial=True)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"--resume: cannot continue {path}: {exc}") from None
    if ds.attrs.get("config_sha256") != cfg.sha256:
        raise ConfigError(f"--resume: {path} holds a different experiment (config sha256 "
                          f"{ds.attrs.get('config_sha256')}, this config {cfg.sha256}); "
                          "use another --out or --overwrite")
    if str(ds.attrs.get("complete", 1)) in ("1", "True", "true"):
        return ds.load()
    return None


def execute(plan: Plan, executor: Executor, progress: Progress | None = None,
            on_result: Callable[[Task, TaskStats], None] | None = None,
            skip: frozenset[int] = frozenset()) -> Totals:
    """Run every task of ``plan`` not in ``skip`` (task ids); return the summed totals.

    ``on_result(task, stats)`` sees each result as it arrives (a checkpoint writer can
    persist it there).
    """
    tasks = [t for t in plan.tasks() if t.task_id not in skip]
    total = len(tasks)
    totals = Totals(plan)
    window = max(2, 3 * executor.workers)
    queued = iter(tasks)
    running: dict = {}
    shared = executor.share(plan) if tasks else plan

    def submit_next(completions=None) -> None:
        task = next(queued, None)
        if task is None:
            return
        future = executor.submit(run_task, shared, task)
        running[future] = task
        if completions is not None:
            completions.add(future)

    if progress:
        progress(0, total)
    for _ in range(window):
        submit_next()
    completions = executor.as_completed(list(running))
    done = 0
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
        submit_next(completions)
    if done != total:  # every submitted future is yielded once; anything else is a bug
        raise RuntimeError(f"{done} of {total} tasks completed")
    return totals
