"""Sensitivity indices per cell, from per-run records (Saltelli et al. 2008; docs/sensitivity.md).

The runner calls :func:`cell_indices` at the end of a ``[sensitivity]`` run and stores the
result beside P(hegemony); :func:`sensitivity` recomputes indices from a store's records in
Python, with another method or for other outputs (delta accepts any sample, so a plain
``[randomize]`` run can be analysed too). The estimators themselves are SALib's
(:mod:`stability.analysis.sensitivity`).
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from .. import params as P
from .tasks import Plan, _coord

__all__ = ["cell_indices", "sensitivity", "INDEX_VARIABLES"]

# What each method stores, with (long name, ranked by): docs/sensitivity.md explains them.
INDEX_VARIABLES = {
    "sobol": ("sobol_first", "sobol_first_lo", "sobol_first_hi", "sobol_total",
              "sobol_total_lo", "sobol_total_hi"),
    "morris": ("morris_mu_star", "morris_mu_star_lo", "morris_mu_star_hi", "morris_sigma"),
    "delta": ("delta", "delta_lo", "delta_hi"),
}
RANKED_BY = {"sobol": "sobol_total", "morris": "morris_mu_star", "delta": "delta"}
_LONG = {
    "sobol_first": "first-order Sobol index",
    "sobol_total": "total-order Sobol index",
    "morris_mu_star": "Morris mean absolute elementary effect (per unit of the prior range)",
    "morris_sigma": "Morris standard deviation of the elementary effects",
    "delta": "Borgonovo's moment-independent delta",
}


def _numeric(values: np.ndarray) -> np.ndarray:
    """A parameter's stored values as numbers (choices by their position among the values
    drawn, which the delta estimator, working on ranks, treats as ordered classes)."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    return np.unique(values, return_inverse=True)[1].astype(np.float64)


def cell_indices(plan: Plan, runs: xr.Dataset, method: str, outputs, names, *, seed: int,
                 resamples: int = 200, levels: int = 4) -> xr.Dataset:
    """Indices of every parameter in ``names`` for every output and cell.

    Sobol and Morris need ``plan``'s design (the design's unit-hypercube rows, in run order
    within each cell); delta takes the records' own parameter values."""
    from ..analysis.sensitivity import analyse

    names = list(names)
    if method in ("sobol", "morris"):
        if plan.design is None or plan.design.method != method:
            have = plan.design.method if plan.design is not None else "plain [randomize] draws"
            raise ValueError(f"method {method!r} needs the runs of a {method} design; these "
                             f"records come from {have} (delta accepts any sample)")
        u = np.asarray(plan.design.rows()[0])
    per = plan.replicates
    found: dict[str, np.ndarray] = {}
    shape = plan.shape + (len(outputs), len(names))
    for c, at in enumerate(np.ndindex(*plan.shape)):
        cell = runs.isel(run=slice(c * per, (c + 1) * per))
        cols = list(outputs) + ([] if method != "delta" else names)
        data = cell[cols].compute(scheduler="threads")
        x = u if method != "delta" else np.column_stack([_numeric(data[n].values)
                                                         for n in names])
        for o, name in enumerate(outputs):
            y = data[name].values.astype(np.float64)
            if method != "delta" and plan.design.repeats > 1:
                y = y.reshape(-1, plan.design.repeats).mean(axis=1)  # per design point
            # SALib's bootstrap takes a 32-bit seed: one per (cell, output), from the seed
            boot = int(np.random.SeedSequence([seed % 2**63, c, o]).generate_state(1)[0])
            res = analyse(method, x, y, names, seed=boot, num_resamples=resamples,
                          levels=levels)
            for key, value in res.items():
                if key not in found:
                    found[key] = np.full(shape, np.nan)
                found[key][at + (o,)] = value
    dims = plan.dims + ("output", "parameter")
    ds = xr.Dataset({k: (dims, v) for k, v in found.items()})
    for key in ds.data_vars:
        base = key.removesuffix("_lo").removesuffix("_hi")
        long_name = _LONG.get(base, key)
        if key.endswith("_lo"):
            long_name += ", lower bootstrap 95% limit"
        elif key.endswith("_hi"):
            long_name += ", upper bootstrap 95% limit"
        ds[key].attrs.update(long_name=long_name, units="1", method=method)
    coords = {"output": ("output", np.array(list(outputs), dtype=object)),
              "parameter": ("parameter", np.array(names, dtype=object),
                            {"long_name": "randomized parameter"})}
    for dim, values in zip(plan.dims, plan.coords, strict=True):
        coords[dim] = (dim, _coord(values), {"long_name": P.SPECS[dim].doc, "units": "1"})
    return ds.assign_coords(coords)


def sensitivity(ds_or_path: xr.Dataset | str | os.PathLike, method: str | None = None,
                outputs=None, parameters=None, resamples: int = 200) -> xr.Dataset:
    """Sensitivity indices recomputed from a store's per-run records.

    ``ds_or_path``: a results store's path, or its per-run records (``open_runs``).
    ``method``: "sobol", "morris" (both need the store's own design) or "delta" (any sample,
    plain [randomize] draws included); default: the store's [sensitivity] method, else delta.
    ``outputs``: per-run outcomes (default: the config's, else ["hegemony"]); ``parameters``:
    a subset of the randomized parameters for delta (default: all).
    Returns the indices with dims (sweep..., output, parameter), as the runner stores them.
    """
    from .config import RUN_OUTPUTS, SENSITIVITY_METHODS, parse_config, tomllib
    from .runs import open_runs
    from .tasks import make_plan

    runs = ds_or_path if isinstance(ds_or_path, xr.Dataset) else open_runs(ds_or_path)
    if "config" not in runs.attrs:
        raise ValueError("these records carry no config attribute: open them with "
                         "stability.open_runs(path)")
    cfg = parse_config(tomllib.loads(runs.attrs["config"]))
    if not cfg.randomize:
        raise ValueError("this experiment randomized no parameter: there is nothing to "
                         "analyse (add [randomize] entries)")
    sens = cfg.sensitivity
    method = method or (sens.method if sens is not None else "delta")
    if method not in SENSITIVITY_METHODS:
        raise ValueError(f"method: unknown method {method!r}; use one of "
                         + ", ".join(SENSITIVITY_METHODS))
    outputs = list(outputs or (sens.outputs if sens is not None else ["hegemony"]))
    for name in outputs:
        if name not in RUN_OUTPUTS:
            raise ValueError(f"outputs: unknown output {name!r}; per-run outputs are "
                             + ", ".join(RUN_OUTPUTS))
    names = sorted(cfg.randomize)
    if parameters is not None:
        if method != "delta":
            raise ValueError("parameters: a subset of parameters needs method = 'delta' (a "
                             "design's indices are over all of its parameters)")
        for name in parameters:
            if name not in names:
                raise ValueError(f"parameters: {name!r} was not randomized; randomized: "
                                 + ", ".join(names))
        names = list(parameters)
    plan = make_plan(cfg)
    levels = sens.levels if sens is not None else 4
    return cell_indices(plan, runs, method, outputs, names, seed=cfg.experiment.seed,
                        resamples=resamples, levels=levels)
