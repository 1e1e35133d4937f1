"""Results stores: provenance, atomic writes to Zarr or NetCDF, lazy reading.

A store is written whole, to a temporary sibling that is renamed into place, so a reader
never sees a half-written store under the final name and an existing store is replaced only
when the caller asks (``overwrite``). The attribute ``complete`` (1 or 0) says whether every
task is in; :func:`open_results` refuses an incomplete store unless ``partial=True``.

Checkpointing (issue 4) fits beside this: per-task statistics
(:class:`stability.experiment.tasks.TaskStats`) are addressable by ``task_id``, so a writer
can persist each as it arrives, a resumed run can skip the ids already stored, and the final
dataset is still :func:`stability.experiment.tasks.build_dataset` over the summed totals.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import uuid
import warnings
from pathlib import Path

import xarray as xr

from .config import ConfigError

__all__ = ["OutputExistsError", "IncompleteResultsError", "provenance", "check_output",
           "write_results", "open_results", "output_format"]


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


def provenance(cfg) -> dict:
    """Attributes that say where a results dataset came from."""
    import numba

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
        "numba_version": numba.__version__,
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


def write_results(ds: xr.Dataset, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``ds`` to ``path`` (.zarr or .nc) atomically; returns the path."""
    path = Path(path)
    check_output(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        if output_format(path) == "netcdf":
            ds.to_netcdf(tmp, engine=_netcdf_engine())
        else:
            with warnings.catch_warnings():
                # zarr-python 3 warns that v2 string dtypes are not in the v3 spec: v2 is
                # written on purpose (readable by every Zarr client).
                warnings.simplefilter("ignore", UserWarning)
                ds.to_zarr(tmp, mode="w-", zarr_format=2, consolidated=True)
        _replace(tmp, path, overwrite)
    finally:
        _remove(tmp)
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
    """Open a results store lazily (dask-backed); refuse an incomplete one unless ``partial``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no results at {path}")
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
