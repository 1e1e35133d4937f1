"""Per-run records: one record per run, kept task by task and streamed into the store.

A run's record (``[randomize]``, ``[sensitivity]`` or ``[output] runs = true``) holds its cell
(index and sweep values), its replicate (the random stream it ran with: the replicate index
itself, or the stream a sensitivity design gives its row), the value of every randomized
parameter and its outcomes (:data:`~.tasks.RECORD_OUTCOMES`). Records are not summed like the
statistics: each task's go to a file of their own in the run's checkpoint
(``<output>.partial/records/``), and at the end :func:`runs_dataset` reads them back lazily, in
run order (cell-major, then replicate), into the store's group ``runs``, fixed-size chunk by
chunk: memory does not grow with the number of runs, and the stored records are the same
bytes whatever the chunk size, the scheduler, the worker count or a resume, because every
value is a pure function of (config, seed, cell, replicate).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .. import params as P
from .tasks import RECORD_OUTCOMES, Plan

__all__ = ["RUN_CHUNK", "runs_dataset", "open_runs"]

RUN_CHUNK = 1 << 18  # records per stored chunk (2 MiB of float64): fixed, whatever the tasks

# (long name, units) of every record variable: the outcomes' as stability.simulate's records
# (records.py); parameters take their docs from params.SPECS
_ATTRS = {
    "cell": ("cell of the sweep (row-major index)", "1"),
    "replicate": ("random stream the run used (its replicate index)", "1"),
}


def _gather(name: str, dtype, pieces: tuple) -> np.ndarray:
    """One stored chunk of variable ``name``: the pieces (a task file's path and the cell's
    position within the task's group, or None and a constant of the cell, then the first and
    last run) of the blocks it spans, in run order."""
    parts = []
    for path, k, lo, hi in pieces:
        if path is not None:
            with np.load(path, allow_pickle=False) as f:
                a = f[name]
            parts.append((a[k] if k is not None else a)[lo:hi])
        else:  # a constant of the cell (k): its index, or a sweep key's value
            parts.append(np.full(hi - lo, k, dtype=dtype))
    return np.concatenate(parts).astype(dtype, copy=False)


def runs_dataset(plan: Plan, records_path, sample: dict[str, np.ndarray]) -> xr.Dataset:
    """Every run's record, lazily (dask), in run order: run = cell * replicates + replicate.

    ``records_path(task_id)`` is the file of a finished task's records; ``sample`` one task's
    records (for the dtypes). Each variable is a dask array of :data:`RUN_CHUNK` records a
    chunk, each chunk one task that reads the parts of the task files it spans: every chunk
    is read and written on its own, so memory stays at a few chunks whatever the runs.
    """
    import dask
    import dask.array as da

    tasks = {(t.group, t.start): t for t in plan.tasks()}
    where = {int(c): (g, k) for g, cells in enumerate(plan.groups) for k, c in enumerate(cells)}
    # each sweep key's value, run by run (text as fixed-width strings), and the cell index
    labels = [np.asarray([_label(v) for v in values]) for values in plan.coords]
    constant = {"cell": np.dtype(np.int64)} | {dim: labels[i].dtype
                                               for i, dim in enumerate(plan.dims)}
    dtypes = {name: a.dtype for name, a in sample.items()} | constant
    # the blocks in run order: (first run, last run, task file, cell position, cell, at)
    blocks = []
    for c, at in enumerate(np.ndindex(*plan.shape)):
        g, k = where[c]
        for start in range(0, plan.replicates, plan.chunk):
            task = tasks[(g, start)]
            first = c * plan.replicates + task.start
            blocks.append((first, first + task.stop - task.start,
                           os.fspath(records_path(task.task_id)), k, c, at))
    total = plan.n_cells * plan.replicates
    size = min(RUN_CHUNK, total)
    bounds = [(a, min(a + size, total)) for a in range(0, total, size)]
    data = {}
    for name, dtype in dtypes.items():
        chunks = []
        j = 0
        for a, b in bounds:
            while blocks[j][1] <= a:
                j += 1
            pieces = []
            i = j
            while i < len(blocks) and blocks[i][0] < b:
                first, last, path, k, c, at = blocks[i]
                lo, hi = max(a, first) - first, min(b, last) - first
                if name == "cell":
                    source, pos = None, c
                elif name in constant:
                    d = plan.dims.index(name)
                    source, pos = None, labels[d][at[d]]
                else:
                    source, pos = path, (k if name in RECORD_OUTCOMES else None)
                pieces.append((source, pos, lo, hi))
                i += 1
            load = dask.delayed(_gather, pure=True)(name, dtype, tuple(pieces))
            chunks.append(da.from_delayed(load, shape=(b - a,), dtype=dtype))
        data[name] = ("run", da.concatenate(chunks))
    # no "run" coordinate: an index is held in memory whole (80 MB at 10^7 runs); a run's
    # position along the dimension is its number
    ds = xr.Dataset(data)
    from ..records import _ATTRS as OUTCOME_ATTRS

    for name in ds.variables:
        long_name, units = (_ATTRS.get(name) or OUTCOME_ATTRS.get(name)
                            or (P.SPECS[name].doc if name in P.SPECS else name, "1"))
        ds[name].attrs.update(long_name=long_name, units=units)
    ds.attrs["replicates_per_cell"] = plan.replicates
    return ds


def _label(value):
    if isinstance(value, tuple):  # swept shares: the label the results' coordinate uses
        return "/".join(f"{x:g}" for x in value)
    return value


def open_runs(path: str | os.PathLike) -> xr.Dataset:
    """The per-run records of a results store, lazily (dask-backed, chunked by
    :data:`RUN_CHUNK`), as an ``xarray.Dataset`` with dimension ``run``: one variable per
    column (``cell``, the sweep keys, ``replicate``, every randomized parameter, the
    outcomes). The store's attributes (config, seed, provenance) come with it.

    Records are kept whenever the config has ``[randomize]`` or ``[sensitivity]``, or
    ``[output] runs = true``; ValueError names the path otherwise."""
    from .store import RUNS_GROUP, _netcdf_engine, open_results, output_format

    path = Path(path)
    results = open_results(path)
    try:
        if output_format(path) == "netcdf" and path.is_file():
            ds = xr.open_dataset(path, group=RUNS_GROUP, engine=_netcdf_engine(),
                                 chunks={"run": RUN_CHUNK})
        else:
            ds = xr.open_zarr(path, group=RUNS_GROUP, consolidated=None)
    except (OSError, KeyError, ValueError, FileNotFoundError) as exc:
        raise ValueError(f"{path} holds no per-run records (they are kept with [randomize], "
                         f"[sensitivity] or [output] runs = true): {exc}") from None
    ds.attrs = {**results.attrs, **ds.attrs}
    return ds
