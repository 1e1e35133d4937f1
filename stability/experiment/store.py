"""Results stores: provenance, checkpoints, atomic writes to Zarr or NetCDF, lazy reading.

A store is written whole, to a temporary sibling that is renamed into place, so a reader
never sees a half-written store under the final name and an existing store is replaced only
when the caller asks (``overwrite``). The attribute ``complete`` (1 or 0) says whether every
task is in; :func:`open_results` refuses an incomplete store unless ``partial=True``.

While a run is going, its finished tasks live in a :class:`Checkpoint`: the directory
``<output>.partial/`` beside the output, one small file of integer statistics per finished
task, each written to a temporary name and renamed into place. Whenever the runner dies
(``kill -9`` included) the directory holds whole task files and nothing else that counts, so
``--resume`` recomputes exactly the missing tasks; the final store is built from the summed
totals, which makes it bit-identical to an uninterrupted run. Region writes into the Zarr
store itself would not do: every task adds into the same cells (the store has no per-task
axis, so its size does not grow with the replicates), and misaligned region writes lose data
silently.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

from .config import ConfigError

__all__ = ["OutputExistsError", "IncompleteResultsError", "Checkpoint", "checkpoint_path",
           "provenance", "check_output", "write_results", "open_results", "output_format"]

CHECKPOINT_SUFFIX = ".partial"
_FORMAT = "stability-checkpoint"
_FORMAT_VERSION = 1


class OutputExistsError(ConfigError):
    """The output exists and neither overwrite nor resume was asked for."""


class IncompleteResultsError(ValueError):
    """The store does not hold every task of its experiment."""


def output_format(path: str | os.PathLike) -> str:
    """``"netcdf"`` for ``.nc``, else ``"zarr"``."""
    return "netcdf" if Path(path).suffix == ".nc" else "zarr"


def _netcdf_engine() -> str:
    """h5netcdf (needs h5py); netCDF4 where only that is installed."""
    import importlib.util

    if importlib.util.find_spec("h5py") is not None:
        return "h5netcdf"
    if importlib.util.find_spec("netCDF4") is not None:
        return "netcdf4"
    # Said before a run starts (check_output), not after hours of work.
    raise ConfigError("NetCDF (.nc) output needs the h5py package (pip install h5py); "
                      "or write a .zarr store")


def numba_version() -> str:
    """The installed Numba's version, from its package metadata: importing Numba would cost
    the driver, which runs no kernel, about 0.5 s, and 0.2 s more at exit."""
    from importlib.metadata import version

    return version("numba")


def provenance(cfg) -> dict:
    """Attributes that say where a results dataset came from."""
    import stability

    return {
        "title": cfg.experiment.name,
        "name": cfg.experiment.name,
        "Conventions": "CF-1.10",
        "source": f"stability {stability.__version__} (balance-of-power Monte Carlo)",
        "config": cfg.to_toml(),
        "config_sha256": cfg.sha256,
        "seed": cfg.experiment.seed,
        "replicates": cfg.experiment.replicates,
        "stability_version": stability.__version__,
        "numba_version": numba_version(),
        "model_version": stability.MODEL_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "complete": 1,
    }


def check_output(path: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse (OutputExistsError) to replace an existing output unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"output {path} already exists; pass --overwrite to replace "
                                "it")
    if output_format(path) == "netcdf":
        _netcdf_engine()
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"output {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"output {path}: {parent} is not writable")


RUNS_GROUP = "runs"  # the store's group of per-run records


def write_results(ds: xr.Dataset, path: str | os.PathLike, overwrite: bool = False,
                  runs: xr.Dataset | None = None) -> Path:
    """Write ``ds`` to ``path`` (.zarr or .nc) atomically; returns the path.

    ``runs`` (per-run records, dim ``run``, usually dask-backed) goes into the store's group
    ``runs``, streamed chunk by chunk by Dask's local threads (never a cluster's workers,
    which may not see the files it reads), so memory does not grow with the runs."""
    path = Path(path)
    check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        if output_format(path) == "netcdf":
            ds.to_netcdf(tmp, engine=_netcdf_engine())
            if runs is not None:
                runs.to_netcdf(tmp, mode="a", group=RUNS_GROUP, engine=_netcdf_engine(),
                               compute=False).compute(scheduler="synchronous")
        else:
            with warnings.catch_warnings():
                # zarr-python 3 warns that v2 string dtypes are not in the v3 spec: v2 is
                # written on purpose (readable by every Zarr client).
                warnings.simplefilter("ignore", UserWarning)
                ds.to_zarr(tmp, mode="w-", zarr_format=2, consolidated=True)
                if runs is not None:
                    runs.to_zarr(tmp, mode="a", group=RUNS_GROUP, zarr_format=2,
                                 consolidated=True, compute=False).compute(scheduler="synchronous")
        _replace(tmp, path, overwrite)
        _remove(tmp)  # a file is hard-linked into place (see _replace), not renamed
    except BaseException:
        # zarr-python 3 writes chunks concurrently on its own event loop: when one write fails
        # (a full disk) the others may still land after a first removal. Remove until the
        # temporary stays gone, so no half-written store is left behind.
        _remove(tmp)
        gone, deadline = time.monotonic(), time.monotonic() + 3.0
        while time.monotonic() - gone < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)
            if tmp.exists():
                _remove(tmp)
                gone = time.monotonic()
        raise
    return path


def _replace(tmp: Path, path: Path, overwrite: bool) -> None:
    if not overwrite:
        if tmp.is_dir():
            # A directory renamed onto an existing empty directory would replace it; the
            # check above makes that a race with another writer, not a normal case.
            if path.exists():
                raise OutputExistsError(f"output {path} appeared while writing; not replaced")
            os.rename(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists: no window where it is clobbered
        return
    if not path.exists():
        os.rename(tmp, path)
        return
    if tmp.is_file() and path.is_file():
        os.replace(tmp, path)
        return
    old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:12]}")
    os.rename(path, old)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(old, path)
        raise
    _remove(old)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        p.unlink(missing_ok=True)


def open_results(path: str | os.PathLike, partial: bool = False) -> xr.Dataset:
    """Open a results store lazily (dask-backed); refuse an incomplete one unless ``partial``.

    While a run is unfinished, its output does not exist yet but its checkpoints do
    (``<path>.partial``); ``partial=True`` then sums the tasks finished so far (attributes
    ``complete = 0``, ``tasks_done``, ``tasks_total``).
    """
    path = Path(path)
    if path.name.endswith(CHECKPOINT_SUFFIX) and (path / "manifest.json").exists():
        path = path.with_name(path.name[:-len(CHECKPOINT_SUFFIX)])
    if not path.exists():
        ck = Checkpoint.open(path)
        if ck is None:
            raise FileNotFoundError(f"no results at {path}")
        if not partial:
            raise IncompleteResultsError(
                f"{path} is incomplete: the run stopped after {ck.n_done()} of "
                f"{ck.manifest['n_tasks']} tasks (checkpoints in {ck.root}); continue it with "
                "`stability run CONFIG --resume`, or open it with "
                "open_results(path, partial=True)")
        return ck.dataset().chunk()
    try:
        if output_format(path) == "netcdf" and path.is_file():
            ds = xr.open_dataset(path, engine=_netcdf_engine(), chunks={})
        else:
            ds = xr.open_zarr(path, consolidated=None)
    except Exception as exc:  # whatever the engine raises, say what it is
        raise ValueError(f"{path} is not a stability results store: {exc}") from None
    if "n_runs" not in ds or "config_sha256" not in ds.attrs:
        raise ValueError(f"{path} is not a stability results store (no n_runs / provenance)")
    if not partial and str(ds.attrs.get("complete", 1)) not in ("1", "True", "true"):
        raise IncompleteResultsError(
            f"{path} is incomplete (the run stopped early); continue it with `stability run "
            "CONFIG --resume`, or open it with open_results(path, partial=True)")
    return ds


# ---- checkpoints ----------------------------------------------------------------------------
def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where the checkpoints of a run writing ``output`` live: ``<output>.partial``."""
    output = Path(output)
    return output.with_name(output.name + CHECKPOINT_SUFFIX)


def remove_stale_temporaries(output: str | os.PathLike) -> None:
    """Remove what a killed writer of ``output`` left: ``.<name>.tmp-*`` and ``.old-*``.

    Call only while holding the output's checkpoint lock (no other writer is active).
    """
    output = Path(output)
    if not output.parent.is_dir():
        return
    for p in output.parent.iterdir():
        if p.name.startswith((f".{output.name}.tmp-", f".{output.name}.old-")):
            _remove(p)


class Checkpoint:
    """The finished tasks of one run, persisted as they arrive, in ``<output>.partial/``.

    ``manifest.json`` says which experiment and plan they belong to; ``tasks/task-<id>.npz``
    holds one task's integer statistics; ``tasks/base-*.npz`` holds many tasks summed (written
    by :meth:`compact`, so a long run keeps few files); ``lock`` is held (``flock``) by the
    run writing it. Every file appears by an atomic rename, so a file that is there is whole.
    """

    COMPACT_EVERY = 256  # loose task files that trigger a compaction

    def __init__(self, root: Path, manifest: dict, log: Callable[[str], None] | None = None):
        self.root = root
        self.manifest = manifest
        self.tasks_dir = root / "tasks"
        self.log = log or (lambda message: None)
        self._lock_fd: int | None = None
        self._loose: list[Path] = []
        self._base: Path | None = None
        self._plan = None

    # ---- creating and opening ----------------------------------------------------------------
    @classmethod
    def create(cls, output: str | os.PathLike, cfg, plan,
               log: Callable[[str], None] | None = None) -> Checkpoint:
        """A new, empty checkpoint for ``cfg`` (replacing an old one), locked by this process."""
        import stability

        root = checkpoint_path(output)
        if root.exists():
            old = cls(root, {})
            old.lock()  # refuses if another run is writing it
            old.remove()
        manifest = {
            "format": _FORMAT, "version": _FORMAT_VERSION,
            "output": Path(output).name,
            "config": cfg.to_toml(full=True),
            "config_sha256": cfg.sha256,
            "chunk": cfg.experiment.chunk,
            "replicates": cfg.experiment.replicates,
            "n_tasks": len(plan.tasks()),
            "stability_version": stability.__version__,
            "model_version": stability.MODEL_VERSION,
            "numba_version": numba_version(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        (root / "tasks").mkdir(parents=True)
        ck = cls(root, manifest, log)
        try:
            ck.lock()
            _write_atomic(root / "manifest.json",
                          lambda f: f.write(json.dumps(manifest, indent=1).encode()),
                          durable=True)
        except BaseException:
            ck.remove()  # an empty folder without a manifest would block the next run
            raise
        return ck

    @classmethod
    def open(cls, output: str | os.PathLike,
             log: Callable[[str], None] | None = None) -> Checkpoint | None:
        """The checkpoint of ``output``, or None if there is none; ValueError if unreadable."""
        root = checkpoint_path(output)
        if not root.exists():
            return None
        if root.is_dir() and not (root / "manifest.json").exists() and not any(
                (root / "tasks").glob("*.npz")):
            return None  # killed while creating it: nothing was saved (create replaces it)
        try:
            manifest = json.loads((root / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{root} is not a readable stability checkpoint ({exc}); "
                             "remove it, or pass --overwrite") from None
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise ValueError(f"{root} is not a stability checkpoint (no manifest)")
        if manifest.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{root}: checkpoint format {manifest.get('version')} is not "
                             f"supported (this version writes {_FORMAT_VERSION})")
        return cls(root, manifest, log)

    def check(self, cfg) -> None:
        """ConfigError unless ``cfg`` continues exactly the run that wrote this checkpoint."""
        import stability

        m = self.manifest
        if m["config_sha256"] != cfg.sha256:
            raise ConfigError(
                f"--resume: {self.root} holds checkpoints of a different experiment (config "
                f"sha256 {m['config_sha256']}, this config {cfg.sha256}); use another --out, "
                "or --overwrite to discard them")
        if m["chunk"] != cfg.experiment.chunk:
            raise ConfigError(
                f"--chunk: {self.root} was written with chunk = {m['chunk']}, not "
                f"{cfg.experiment.chunk}; resume with --chunk {m['chunk']} (the results do not "
                "depend on it)")
        for key, mine in (("model_version", stability.MODEL_VERSION),
                          ("stability_version", stability.__version__)):
            if m.get(key) != mine:
                raise ConfigError(
                    f"--resume: {self.root} was written by stability {m.get('stability_version')}"
                    f" (model {m.get('model_version')}), this is {stability.__version__} (model "
                    f"{stability.MODEL_VERSION}); the results would not be identical: "
                    "--overwrite to start again")

    def lock(self) -> None:
        """Hold the checkpoint's lock; ConfigError if another live run holds it."""
        import fcntl

        if self._lock_fd is not None:
            return
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"output {self.root.with_suffix('')}: another stability run is "
                              f"writing it ({self.root} is locked)") from None
        except OSError as exc:  # a filesystem without flock: run unlocked
            if exc.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                os.close(fd)
                raise
        self._lock_fd = fd

    def close(self) -> None:
        """Release the lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove(self) -> None:
        """Delete the checkpoint (after the final store is in place) and release the lock."""
        _remove(self.root)
        self.close()

    # ---- task files ---------------------------------------------------------------------------
    def save(self, task, stats) -> None:
        """Persist one finished task (the runner's ``on_result``).

        Its per-run records, if any, are written first, to ``records/task-<id>.npz``: a task
        whose statistics are there (and so count as done) always has its records too. They
        are never compacted (records are kept, not summed)."""
        if stats.records is not None:
            records = self.root / "records"
            records.mkdir(exist_ok=True)
            self._write(records / f"task-{task.task_id:07d}.npz", stats.records)
        arrays = {"meta": np.array([task.task_id, task.group, task.start, task.stop],
                                   dtype=np.int64)}
        arrays.update({f"c.{k}": v for k, v in stats.counts.items()})
        arrays.update({f"j.{k}": v for k, v in stats.joint.items()})
        path = self.tasks_dir / f"task-{task.task_id:07d}.npz"
        self._write(path, arrays)
        self._loose.append(path)
        if len(self._loose) >= self.COMPACT_EVERY:
            self.compact()

    def _write(self, path: Path, arrays: dict, durable: bool = False) -> None:
        try:
            _write_atomic(path, lambda f: np.savez(f, **arrays), durable)
        except OSError as exc:
            message = (f"cannot write checkpoint {path}: {exc.strerror or exc}; finished "
                       f"tasks are kept in {self.root}: continue with `stability run CONFIG "
                       "--resume`")
            raise (OSError(exc.errno, message) if exc.errno is not None
                   else OSError(message)) from exc

    def records_path(self, task_id: int) -> Path:
        """The file holding a finished task's per-run records."""
        return self.root / "records" / f"task-{task_id:07d}.npz"

    def n_done(self) -> int:
        """Tasks finished so far, counted from the file names and bases (no plan needed)."""
        ids: set[int] = set()
        sizes = []
        for p in self._files("base-"):
            with contextlib.suppress(Exception), np.load(p) as f:
                sizes.append((f["ids"].size, f["ids"].tolist()))
        if sizes:
            ids.update(max(sizes)[1])
        for p in self._files("task-"):
            with contextlib.suppress(ValueError, IndexError):
                ids.add(int(p.stem.split("-")[1]))
        return len(ids)

    def _files(self, prefix: str) -> list[Path]:
        if not self.tasks_dir.is_dir():
            return []
        return sorted(p for p in self.tasks_dir.iterdir()
                      if p.name.startswith(prefix) and p.suffix == ".npz")

    def load(self, plan, tidy: bool = True):
        """(totals, done task ids) of everything persisted; unreadable files are skipped.

        ``tidy`` (the run that holds the lock) also deletes files that are superseded,
        unreadable or left half-written; a reader beside a live run passes False.
        """
        from .tasks import TaskStats, Totals

        rm = _remove if tidy else (lambda p: None)
        self._plan = plan
        tasks = plan.tasks()
        totals = Totals(plan)
        done: set[int] = set()
        bases = []
        for p in self._files("base-"):
            try:
                bases.append((p, _read_base(p, plan, len(tasks))))
            except Exception as exc:
                self.log(f"ignoring unreadable checkpoint {p.name} ({exc}); its tasks run again")
        bases.sort(key=lambda b: b[1][0].size)
        if bases:
            # Compaction writes a new base (old base + loose files) before deleting the
            # old files; after a crash in between, the largest base holds all of them.
            self._base, (ids, counts, joint) = bases[-1][0], bases[-1][1]
            totals.counts, totals.joint = counts, joint
            totals.tasks_done = ids.size
            done.update(ids.tolist())
            for p, _ in bases[:-1]:
                rm(p)
        for p in self._files("task-"):
            try:
                task_id, counts, joint = _read_task(p, tasks)
            except Exception as exc:
                self.log(f"ignoring unreadable checkpoint {p.name} ({exc}); it runs again")
                rm(p)
                continue
            if task_id in done:  # already in the base
                rm(p)
                continue
            totals.add(tasks[task_id], TaskStats(task_id, counts, joint))
            done.add(task_id)
            self._loose.append(p)
        for p in self.tasks_dir.glob(".*.tmp-*"):  # writes that never finished
            rm(p)
        return totals, done

    def compact(self) -> None:
        """Sum the loose task files into one base file, then delete them."""
        from .tasks import TaskStats, Totals

        if not self._loose:
            return
        plan = self._plan
        if plan is None:
            from .tasks import make_plan

            plan = self._plan = make_plan(self.config())
        tasks = plan.tasks()
        totals = Totals(plan)
        ids: list[int] = []
        if self._base is not None:
            base_ids, totals.counts, totals.joint = _read_base(self._base, plan, len(tasks))
            ids = base_ids.tolist()
        for p in self._loose:
            task_id, counts, joint = _read_task(p, tasks)
            totals.add(tasks[task_id], TaskStats(task_id, counts, joint))
            ids.append(task_id)
        arrays = {"ids": np.array(sorted(ids), dtype=np.int64)}
        arrays.update({f"c.{k}": v for k, v in totals.counts.items()})
        arrays.update({f"j.{k}": v for k, v in totals.joint.items()})
        base = self.tasks_dir / f"base-{len(ids):09d}-{uuid.uuid4().hex[:8]}.npz"
        self._write(base, arrays, durable=True)  # it replaces many files
        for p in self._loose + ([self._base] if self._base is not None else []):
            _remove(p)
        self._base, self._loose = base, []

    # ---- reading a partial run -----------------------------------------------------------------
    def config(self):
        """The run's config, from the manifest."""
        from .config import parse_config, tomllib

        return parse_config(tomllib.loads(self.manifest["config"]))

    def dataset(self) -> xr.Dataset:
        """The results of the tasks finished so far (``complete = 0``)."""
        from .tasks import build_dataset, make_plan

        cfg = self.config()
        plan = make_plan(cfg)
        totals, done = self.load(plan, tidy=False)
        if not done:
            raise IncompleteResultsError(f"{self.root}: no task has finished yet")
        ds = build_dataset(plan, totals)
        ds.attrs.update(provenance(cfg))
        ds.attrs.update(complete=0, tasks_done=len(done), tasks_total=len(plan.tasks()))
        return ds


def _read_task(path: Path, tasks) -> tuple[int, dict, dict]:
    with np.load(path, allow_pickle=False) as f:
        meta = f["meta"]
        counts = {k[2:]: f[k] for k in f.files if k.startswith("c.")}
        joint = {k[2:]: f[k] for k in f.files if k.startswith("j.")}
    task_id = int(meta[0])
    if not 0 <= task_id < len(tasks):
        raise ValueError(f"task {task_id} is not in this plan")
    t = tasks[task_id]
    if meta.tolist() != [t.task_id, t.group, t.start, t.stop]:
        raise ValueError(f"task {task_id} does not match this plan")
    return task_id, counts, joint


def _read_base(path: Path, plan, n_tasks: int):
    with np.load(path, allow_pickle=False) as f:
        ids = f["ids"]
        counts = {k[2:]: f[k] for k in f.files if k.startswith("c.")}
        joint = {k[2:]: f[k] for k in f.files if k.startswith("j.")}
    if ids.size and (ids.min() < 0 or ids.max() >= n_tasks):
        raise ValueError("task ids outside this plan")
    if any(v.shape[0] != plan.n_cells for v in counts.values()):
        raise ValueError("cells do not match this plan")
    return ids, counts, joint


def _write_atomic(path: Path, write: Callable, durable: bool = False) -> None:
    """Write ``path`` through a temporary sibling and rename it into place.

    ``durable`` also fsyncs it first. Task files skip that (it costs more than a small task):
    a process killed at any moment leaves them whole, and after a machine crash a file that
    did not reach the disk fails its zip checksum on reading and is computed again.
    """
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
