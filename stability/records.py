"""Per-run records as xarray Datasets: ``simulate`` (compiled) and ``simulate_reference``."""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import params as P

_ATTRS = {
    "hegemony": ("run ended in hegemony", "1"),
    "hegemony_time": ("step at which hegemony was reached (-1: none)", "step"),
    "hegemon_rank": ("initial capability rank of the hegemon (-1: entrant or none)", "1"),
    "survivors": ("living states at the end of the run", "states"),
    "final_max_share": ("largest capability share at the end of the run", "1"),
    "final_polarity": ("polarity class at the end (1 uni, 2 bi, 3 multipolar)", "1"),
    "wars": ("wars fought", "wars"),
    "eliminations": ("states eliminated", "states"),
    "entries": ("states that entered", "states"),
    "balancing": ("balancing decisions", "decisions"),
    "bandwagoning": ("bandwagoning decisions", "decisions"),
    "buck_passing": ("buck-passing decisions", "decisions"),
    "chain_ganging": ("chain-ganged pacts formed", "decisions"),
    "war_size": ("capability destroyed by the war", "initial total capability"),
    "war_run": ("run the war belongs to", "1"),
}


def _dataset(fields: dict, resolved: dict, seed: int) -> xr.Dataset:
    n = len(fields["hegemony"])
    data = {}
    for name, values in fields.items():
        dim = "war" if name in ("war_size", "war_run") else "run"
        long_name, units = _ATTRS[name]
        data[name] = xr.Variable(dim, values, {"long_name": long_name, "units": units})
    ds = xr.Dataset(data, coords={"run": np.arange(n)})
    ds.attrs.update(seed=int(seed), model_version="1",
                    parameters=repr({k: v for k, v in resolved.items()}))
    return ds


def simulate(params: dict | None = None, replicates: int = 1000, seed: int = 0,
             record_wars: bool = True) -> xr.Dataset:
    """Run ``replicates`` systems with the compiled kernel; per-run records on dim ``run``.

    Replicate i depends only on (params, seed, i): it is the same for every replicates > i.
    """
    from .model.simulate import run_batch

    resolved = P.resolve(params)
    replicates = _check_count(replicates)
    fields = run_batch(P.pack(resolved)[None, :], seed, np.arange(replicates),
                       record_wars=record_wars, distances=P.distance_matrix(resolved))
    return _dataset(fields, resolved, seed)


def simulate_reference(params: dict | None = None, replicates: int = 50,
                       seed: int = 0) -> xr.Dataset:
    """The same records from the pure-Python reference (slow; the test oracle)."""
    from .reference import run_one

    resolved = P.resolve(params)
    replicates = _check_count(replicates)
    runs = [run_one(resolved, seed, rep) for rep in range(replicates)]
    fields = {}
    for name in ("hegemony", "hegemony_time", "hegemon_rank", "survivors", "final_polarity",
                 "wars", "eliminations", "entries", "balancing", "bandwagoning",
                 "buck_passing", "chain_ganging"):
        dtype = bool if name == "hegemony" else np.int64
        fields[name] = np.array([r[name] for r in runs], dtype=dtype)
    fields["final_max_share"] = np.array([r["final_max_share"] for r in runs])
    fields["war_size"] = np.array([w for r in runs for w in r["war_size"]], dtype=np.float64)
    fields["war_run"] = np.array([k for k, r in enumerate(runs) for _ in r["war_size"]],
                                 dtype=np.int64)
    return _dataset(fields, resolved, seed)


def _check_count(replicates) -> int:
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) \
            or replicates < 1:
        raise ValueError(f"replicates must be a positive integer, got {replicates!r}")
    return int(replicates)
