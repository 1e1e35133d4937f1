"""Cells x chunks -> sufficient statistics -> the results dataset.

A :class:`Plan` is the compiled experiment: packed parameter rows per cell, the randomized
draws, the task list. A :class:`Task` runs one replicate range ``[start, stop)`` in every cell
of one *group* (the cells that differ only in the ``contrasts`` dimensions; without contrasts
a group is one cell) and returns :class:`TaskStats`: integer counts, sums and histograms per
cell, never per-run records. Integer addition is associative, so the totals, and every float
derived from them in :func:`build_dataset`, are bit-identical whatever the chunk size, the
scheduler, the number of workers or the order in which tasks complete.

Outcome of a run (MODEL.md section 7) -> statistic:

- ``hegemony_time`` -> a histogram over steps 0..horizon (``hegemony_cdf``, the mean time);
- ``hegemon_rank`` -> a histogram over initial ranks 0..max_states-1; wins by entrants (rank
  -1) are counted apart, in ``p_hegemon_entrant``, so that
  ``p_hegemon_rank.sum("rank") + p_hegemon_entrant == p_hegemony``;
- ``final_polarity`` -> counts over (uni, bi, multipolar) among runs *without* hegemony;
- survivors, wars, eliminations, entries and the four alignment decisions -> sums;
- with contrasts, the joint hegemony outcomes of every pair of values of each contrast
  dimension, replicate by replicate (common random numbers make them paired).

With ``[randomize]``, ``[sensitivity]`` or ``[output] runs = true`` a task also returns its
per-run records (:data:`RECORD_OUTCOMES`, each run's stream and parameter values): those are
not summed but kept, task by task, and streamed into the store's ``runs`` group at the end.
Under a Sobol or Morris design the replicates of a cell are the rows of the design
(:func:`stability.analysis.sensitivity.design`), each with the stream the design assigns it:
rows an estimator compares share one (common random numbers).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import params as P

if TYPE_CHECKING:
    # Workers import this module for run_task. xarray (with pandas) is imported where used
    # (build_dataset): it would add ~0.3 s of CPU to each worker's first task. The config
    # (pydantic, ~0.1-0.2 s) is only read by make_plan, in the driver.
    import xarray as xr

    from .config import Config

__all__ = ["Plan", "Task", "TaskStats", "Totals", "make_plan", "run_task", "build_dataset"]

SUMS = ("survivors", "wars", "eliminations", "entries", "balancing", "bandwagoning",
        "buck_passing", "chain_ganging")
# What each per-run record holds besides the run's stream and parameters (MODEL.md section 7).
RECORD_OUTCOMES = ("hegemony", "hegemony_time", "hegemon_rank", "survivors", "final_max_share",
                   "final_polarity", "wars", "eliminations", "entries", "balancing",
                   "bandwagoning", "buck_passing", "chain_ganging")
POLARITY_CLASSES = ("unipolar", "bipolar", "multipolar")
JOINT = ("both", "a_only", "b_only", "neither")
# [randomize] sub-streams of posterior stores: past any column a parameter name can have
POSTERIOR_COLUMN = 1 << 20


@dataclass(frozen=True)
class RandomDraw:
    """One randomized parameter: how to turn its uniforms into packed-vector values."""

    name: str
    column: int  # sub-stream: position of the name among the sorted randomized names
    kind: str
    args: tuple
    clip: tuple | None
    integer: bool
    encoded: tuple = ()  # choice: the packed value of each choice (doctrine: variant index)
    cdf: tuple = ()  # posterior: cumulative weights of the samples in ``args``


@dataclass(frozen=True)
class Task:
    """Replicates ``start..stop-1`` of every cell in group ``group``."""

    task_id: int
    group: int
    start: int
    stop: int


@dataclass
class TaskStats:
    """A task's statistics: per-cell arrays with a leading axis over the group's cells.

    ``kernel_s`` is the CPU time the task's thread spent in the kernel (``run_batch``; a
    fresh worker's first call includes loading or compiling it): it tells how much of the
    workers' time the simulation got, and is not part of the results (nor of checkpoints).
    """

    task_id: int
    counts: dict[str, np.ndarray]
    joint: dict[str, np.ndarray] = field(default_factory=dict)
    kernel_s: float = 0.0
    # per-run records, when the plan keeps them: outcomes (group cells, runs), and the runs'
    # streams and parameter values (runs,), which are the same in every cell of the group
    records: dict[str, np.ndarray] | None = None


@dataclass(frozen=True)
class Design:
    """A sensitivity design (Sobol or Morris): what regenerates it on any worker."""

    method: str
    samples: int
    n_params: int
    seed: int
    levels: int
    repeats: int  # runs per design point: replicate q of a cell is point q // repeats

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(u, stream): the whole design on the unit hypercube and each point's stream
        group (points an estimator compares share one: common random numbers)."""
        from ..analysis.sensitivity import design

        return design(self.method, self.samples, self.n_params, self.seed, levels=self.levels)

    def point(self, reps: np.ndarray) -> np.ndarray:
        """The design point each replicate runs."""
        return reps // self.repeats

    def streams(self, reps: np.ndarray) -> np.ndarray:
        """Repeat k of point q runs stream group(q) * repeats + k: the k-th repeats of points
        that share a group share a stream, and no two repeats of a point do."""
        return self.rows()[1][reps // self.repeats] * self.repeats + reps % self.repeats


@dataclass(frozen=True)
class Plan:
    """What every task needs; small (no per-replicate data), sent to the workers."""

    seed: int
    replicates: int
    chunk: int
    dims: tuple[str, ...]
    coords: tuple[tuple, ...]
    contrasts: tuple[str, ...]
    rows: np.ndarray  # (n_cells, n_variants, N_PACKED); variants: randomized doctrine values
    draws: tuple[RandomDraw, ...]
    n_states_sets_max: bool  # max_states follows a randomized n_states (it was not given)
    horizon: int  # the largest horizon any replicate can have
    ranks: int  # the largest max_states any replicate can have
    groups: np.ndarray  # (n_groups, group size): cell indices, contrast dims in sweep order
    records: bool = False  # keep one record per run
    design: Design | None = None  # sobol/morris: the replicates are the design's rows
    # per cell, its distance matrix under geography 'distances' (else None); () if no cell has
    distances: tuple = ()
    # the states' abbreviations by initial rank where every cell starts from one scenario
    rank_labels: tuple = ()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.coords)

    @property
    def n_cells(self) -> int:
        return math.prod(self.shape)

    def tasks(self) -> list[Task]:
        """All tasks, chunk-major: the first chunk of every group, then the second, ..."""
        out = []
        for start in range(0, self.replicates, self.chunk):
            stop = min(start + self.chunk, self.replicates)
            for g in range(len(self.groups)):
                out.append(Task(len(out), g, start, stop))
        return out


# ---- planning -------------------------------------------------------------------------------
def make_plan(cfg: Config) -> Plan:
    """Resolve every cell and compile the randomized draws (the config is already valid)."""
    names = sorted(cfg.randomize)
    variants = (cfg.randomize["doctrine"].args if "doctrine" in cfg.randomize else (None,))
    # Other randomized parameters get their lowest valid value here; their columns are
    # overwritten per replicate, so the value only has to resolve.
    filler = {n: cfg.randomize[n].support[0] for n in names if n != "doctrine"}
    rows = []
    distances = []
    scenarios = set()
    horizon, ranks = 0, 0
    for cell in cfg.cells():
        cell_rows = []
        for doctrine in variants:
            extra = {} if doctrine is None else {"doctrine": doctrine}
            res = P.resolve(cfg.model | cell | filler | extra)
            cell_rows.append(P.pack(res))
            horizon, ranks = max(horizon, res["horizon"]), max(ranks, res["max_states"])
        rows.append(cell_rows)
        distances.append(P.distance_matrix(res))
        scenarios.add(res["scenario"])
    draws = []
    for column, name in enumerate(names):
        d = cfg.randomize[name]
        spec = P.SPECS[name]
        encoded = ()
        if d.kind == "choice":
            encoded = tuple(_encode(name, v, d.args) for v in d.args)
        cdf = ()
        if d.kind == "posterior":
            # one sub-stream per store, shared by its parameters: the same uniform picks the
            # same sample for all of them, so they are drawn jointly
            sources = sorted({e.source for e in cfg.randomize.values() if e.kind == "posterior"})
            column, cdf = POSTERIOR_COLUMN + sources.index(d.source), d.cdf
        draws.append(RandomDraw(name, column, d.kind, d.args, d.clip, spec.kind == "int",
                                encoded, cdf))
        top = max(d.support)
        if name == "horizon":
            horizon = max(horizon, top)
        if name in ("n_states", "max_states"):
            ranks = max(ranks, top)
    given = set(cfg.model) | set(cfg.sweep) | set(cfg.randomize)
    contrasts = tuple(cfg.experiment.contrasts)
    shape = cfg.shape
    cells = np.arange(math.prod(shape)).reshape(shape)
    free = [i for i, d in enumerate(cfg.dims) if d not in contrasts]
    paired = [i for i, d in enumerate(cfg.dims) if d in contrasts]
    size = math.prod(shape[i] for i in paired)
    groups = cells.transpose(free + paired).reshape(-1, size)
    return Plan(
        seed=cfg.experiment.seed, replicates=cfg.experiment.replicates,
        chunk=cfg.experiment.chunk, dims=cfg.dims, coords=tuple(cfg.sweep.values()),
        contrasts=contrasts, rows=np.array(rows, dtype=np.float64), draws=tuple(draws),
        n_states_sets_max="n_states" in cfg.randomize and "max_states" not in given,
        horizon=int(horizon), ranks=int(ranks), groups=np.ascontiguousarray(groups),
        records=cfg.records, design=_design(cfg, len(names)),
        distances=tuple(distances) if any(d is not None for d in distances) else (),
        rank_labels=_rank_labels(scenarios),
    )


def _rank_labels(scenarios: set) -> tuple:
    """The abbreviations of one scenario's states in rank order (its shares are in
    descending order, ties by COW code, as the kernel ranks them), else ()."""
    if len(scenarios) != 1 or None in scenarios:
        return ()
    from ..analysis.scenarios import load_scenario

    return tuple(load_scenario(next(iter(scenarios))))


def _design(cfg: Config, n_params: int) -> Design | None:
    sens = cfg.sensitivity
    if sens is None or sens.method == "delta":
        return None  # delta analyses the plain [randomize] draws
    return Design(sens.method, sens.samples, n_params, cfg.experiment.seed, sens.levels,
                  sens.repeats)


def _encode(name: str, value, choices: tuple) -> float:
    """A choice value as it appears in the packed vector (doctrine: its variant index)."""
    if name == "doctrine":
        return float(choices.index(value))
    if name == "polarity":
        return float(P.POLARITIES.index(value))
    if name == "initiators":
        return float(P.INITIATORS.index(value))
    if name == "geography":
        return float(P.GEOGRAPHIES.index(value))
    return float(value)


def streams(plan: Plan, reps: np.ndarray) -> np.ndarray:
    """The random stream (the kernel's replicate index) of each of a cell's replicates
    ``reps``: the replicate itself, or under a design the stream the design gives its row."""
    if plan.design is None:
        return reps
    return plan.design.streams(reps)


def draws(plan: Plan, reps: np.ndarray) -> dict[str, np.ndarray]:
    """Each randomized parameter's packed value for replicates ``reps`` (the same in every
    cell). Plain [randomize] draws read the replicate's own sub-stream (``randomize_uniforms``),
    a design's its rows of the unit hypercube (the parameter's column: its position among the
    sorted randomized names)."""
    if not plan.draws:
        return {}
    if plan.design is not None:
        u = plan.design.rows()[0][plan.design.point(reps)]
        return {d.name: _transform(d, u[:, d.column:d.column + 1]) for d in plan.draws}
    from ..model.rng import randomize_uniforms

    return {d.name: _transform(d, randomize_uniforms(plan.seed, reps, d.column,
                                                     2 if d.kind == "normal" else 1))
            for d in plan.draws}


def parameter_rows(plan: Plan, cell: int, reps: np.ndarray,
                   values: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The kernel's ``pmat`` for replicates ``reps`` of a cell: one row, or one per replicate
    (``values``: the randomized parameters' draws, :func:`draws`, if already made)."""
    if not plan.draws:
        return plan.rows[cell, :1]
    values = dict(draws(plan, reps) if values is None else values)
    variant = values.pop("doctrine", None)
    if variant is None:
        pmat = np.repeat(plan.rows[cell, :1], reps.size, axis=0)
    else:
        pmat = plan.rows[cell, variant.astype(np.int64)]
    for name, v in values.items():
        pmat[:, P.INDEX["start" if name == "polarity" else name]] = v
        if name == "n_states" and plan.n_states_sets_max:
            pmat[:, P.P_MAX_STATES] = v
    return pmat


def record_value(d: RandomDraw, packed: np.ndarray) -> np.ndarray:
    """A randomized parameter's packed draws as the values a record stores: integers as
    int64, choices as the chosen values themselves (text as fixed-width strings)."""
    if d.kind == "choice":
        index = {e: k for k, e in enumerate(d.encoded)}
        return np.asarray(d.args)[np.array([index[v] for v in packed.tolist()], dtype=np.int64)]
    return packed.astype(np.int64) if d.integer else packed


def _transform(d: RandomDraw, u: np.ndarray) -> np.ndarray:
    """Uniforms (n, 1 or 2) -> parameter values, always inside the validated support."""
    u0 = u[:, 0]
    if d.kind == "posterior":
        idx = np.minimum(np.searchsorted(np.asarray(d.cdf), u0, side="right"), len(d.cdf) - 1)
        x = np.asarray(d.args, dtype=np.float64)[idx]
        return np.rint(x) if d.integer else x
    if d.kind == "choice":
        k = len(d.encoded)
        idx = np.minimum((u0 * k).astype(np.int64), k - 1)
        return np.asarray(d.encoded, dtype=np.float64)[idx]
    a, b = d.args
    if d.kind == "uniform":
        if d.integer:
            return np.minimum(a + np.floor(u0 * (b - a + 1)), b)
        return np.clip(a + u0 * (b - a), a, b)
    if d.kind == "loguniform":
        top = math.log(b + 1) if d.integer else math.log(b)
        x = _libm(math.exp, math.log(a) + u0 * (top - math.log(a)))
        if d.integer:
            x = np.floor(x)
        return np.clip(x, a, b)  # exp(log(b)) may round just past b
    # normal: Box-Muller on the replicate's two [randomize] uniforms (libm, see _libm)
    z = np.sqrt(-2.0 * _libm(math.log, 1.0 - u0)) * _libm(math.cos, 2.0 * math.pi * u[:, 1])
    x = np.clip(a + b * z, *d.clip)
    return np.rint(x) if d.integer else x


def _libm(f, x: np.ndarray) -> np.ndarray:
    # numpy's SIMD exp/log/cos can differ in the last bit with the CPU's vector width; the C
    # library's (which the kernels use too) do not, so draws agree on every worker.
    return np.fromiter(map(f, x.tolist()), dtype=np.float64, count=x.size)


# ---- one task -------------------------------------------------------------------------------
def run_task(plan: Plan, task: Task) -> TaskStats:
    """Run ``task`` with the compiled kernel and reduce it to sufficient statistics (and, if
    the plan keeps them, per-run records)."""
    from ..model.simulate import run_batch

    reps = np.arange(task.start, task.stop, dtype=np.int64)
    stream = streams(plan, reps)
    values = draws(plan, reps)
    cells = plan.groups[task.group]
    per_cell = []
    outcomes = []
    won = np.empty((cells.size, reps.size), dtype=bool)
    kernel_s = 0.0
    for k, cell in enumerate(cells):
        pmat = parameter_rows(plan, int(cell), reps, values)
        # this thread's CPU time, not the wall clock: time the worker was preempted (by
        # Dask's own threads, or other processes) is not the kernel's
        t0 = time.thread_time()
        out = run_batch(pmat, plan.seed, stream,
                        distances=plan.distances[cell] if plan.distances else None)
        kernel_s += time.thread_time() - t0
        per_cell.append(reduce_runs(out, plan.horizon, plan.ranks))
        won[k] = out["hegemony"]
        if plan.records:
            outcomes.append(out)
    counts = {name: np.stack([c[name] for c in per_cell]) for name in per_cell[0]}
    records = None
    if plan.records:
        records = {name: np.stack([o[name] for o in outcomes]) for name in RECORD_OUTCOMES}
        records["replicate"] = stream
        for d in plan.draws:
            records[d.name] = record_value(d, values[d.name])
    return TaskStats(task.task_id, counts, _joint(plan, won), kernel_s, records)


def reduce_runs(out: dict, horizon: int, ranks: int) -> dict[str, np.ndarray]:
    """Per-run records (``run_batch``'s dict) -> integer sufficient statistics."""
    won = np.asarray(out["hegemony"], dtype=bool)
    rank = out["hegemon_rank"][won]
    stats = {
        "n_runs": np.int64(won.size),
        "n_hegemony": np.int64(won.sum()),
        "hegemony_time": np.bincount(out["hegemony_time"][won], minlength=horizon + 1),
        "hegemon_rank": np.bincount(rank[rank >= 0], minlength=ranks),
        "hegemon_entrant": np.int64((rank < 0).sum()),
        "final_polarity": np.bincount(out["final_polarity"][~won] - 1, minlength=3),
    }
    for name in SUMS:
        stats[name] = np.int64(out[name].sum())
    return {k: np.asarray(v, dtype=np.int64) for k, v in stats.items()}


def _joint(plan: Plan, won: np.ndarray) -> dict[str, np.ndarray]:
    """Joint outcomes per contrast dim: (other contrast dims..., a, b, joint)."""
    if not plan.contrasts:
        return {}
    sizes = [len(c) for d, c in zip(plan.dims, plan.coords, strict=True) if d in plan.contrasts]
    order = [d for d in plan.dims if d in plan.contrasts]
    h = won.reshape(*sizes, won.shape[-1])
    out = {}
    for dim in plan.contrasts:
        hd = np.moveaxis(h, order.index(dim), 0)  # (a, other contrast dims..., reps)
        n = hd.shape[-1]
        wins = hd.sum(axis=-1)
        table = np.empty(hd.shape[1:-1] + (hd.shape[0], hd.shape[0], 4), dtype=np.int64)
        for a in range(hd.shape[0]):
            for b in range(hd.shape[0]):
                both = (hd[a] & hd[b]).sum(axis=-1)
                table[..., a, b, 0] = both
                table[..., a, b, 1] = wins[a] - both
                table[..., a, b, 2] = wins[b] - both
                table[..., a, b, 3] = n - wins[a] - wins[b] + both
        out[dim] = table
    return out


# ---- reduction ------------------------------------------------------------------------------
class Totals:
    """Running integer totals over tasks; memory independent of the replicate count."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.counts: dict[str, np.ndarray] | None = None
        self.joint: dict[str, np.ndarray] = {}
        self.tasks_done = 0
        self.kernel_s = 0.0  # CPU time in the kernel of the tasks added (none from checkpoints)
        for dim in plan.contrasts:
            i = plan.dims.index(dim)
            others = [len(c) for d, c in zip(plan.dims, plan.coords, strict=True) if d != dim]
            n = len(plan.coords[i])
            self.joint[dim] = np.zeros(others + [n, n, 4], dtype=np.int64)

    def add(self, task: Task, stats: TaskStats) -> None:
        cells = self.plan.groups[task.group]
        if self.counts is None:
            self.counts = {k: np.zeros((self.plan.n_cells,) + v.shape[1:], dtype=np.int64)
                           for k, v in stats.counts.items()}
        for k, v in stats.counts.items():
            self.counts[k][cells] += v
        if self.plan.contrasts:
            free = [d for d in self.plan.dims if d not in self.plan.contrasts]
            free_shape = [len(self.plan.coords[self.plan.dims.index(d)]) for d in free]
            at = dict(zip(free, np.unravel_index(task.group, free_shape), strict=True))
            for dim, table in stats.joint.items():
                index = tuple(slice(None) if d in self.plan.contrasts else int(at[d])
                              for d in self.plan.dims if d != dim)
                self.joint[dim][index] += table
        self.tasks_done += 1
        self.kernel_s += stats.kernel_s


# ---- the dataset ----------------------------------------------------------------------------
_VARS = {
    "n_runs": ("replicates run", "1"),
    "n_hegemony": ("replicates that ended in hegemony", "1"),
    "p_hegemony": ("probability of hegemony", "1"),
    "p_hegemony_lo": ("probability of hegemony, lower 95% Wilson limit", "1"),
    "p_hegemony_hi": ("probability of hegemony, upper 95% Wilson limit", "1"),
    "hegemony_cdf": ("fraction of runs in hegemony by step", "1"),
    "mean_hegemony_time": ("mean step of hegemony, over runs that reached it", "steps"),
    "p_hegemon_rank": ("fraction of runs won by the state of this initial rank", "1"),
    "p_hegemon_entrant": ("fraction of runs won by a state that entered later", "1"),
    "mean_survivors": ("mean number of states alive at the end", "states"),
    "mean_wars": ("mean number of wars per run", "wars"),
    "mean_eliminations": ("mean number of states eliminated per run", "states"),
    "mean_entries": ("mean number of states entering per run", "states"),
    "mean_balancing": ("mean balancing decisions per run", "decisions"),
    "mean_bandwagoning": ("mean bandwagoning decisions per run", "decisions"),
    "mean_buck_passing": ("mean buck-passing decisions per run", "decisions"),
    "mean_chain_ganging": ("mean chain-ganged pacts formed per run", "decisions"),
    "p_final_polarity": ("polarity at the end, among runs without hegemony", "1"),
}


def build_dataset(plan: Plan, totals: Totals) -> xr.Dataset:
    """The results Dataset (INTERFACES.md) from the totals; provenance is added by the caller."""
    import xarray as xr

    from ..analysis.stats import wilson_interval

    shape, dims = plan.shape, plan.dims
    c = {k: v.reshape(shape + v.shape[1:]) for k, v in totals.counts.items()}
    n, k = c["n_runs"], c["n_hegemony"]
    with np.errstate(divide="ignore", invalid="ignore"):
        def frac(num, den):
            return np.where(den > 0, num / np.maximum(den, 1), np.nan)

        lo, hi = wilson_interval(k, n)
        steps = np.arange(plan.horizon + 1, dtype=np.int64)
        time_sum = (c["hegemony_time"] * steps).sum(axis=-1)
        no_heg = n - k
        data = {
            "n_runs": (dims, n),
            "n_hegemony": (dims, k),
            "p_hegemony": (dims, frac(k, n)),
            "p_hegemony_lo": (dims, np.asarray(lo, dtype=np.float64)),
            "p_hegemony_hi": (dims, np.asarray(hi, dtype=np.float64)),
            "hegemony_cdf": (dims + ("time",),
                             frac(np.cumsum(c["hegemony_time"], axis=-1), n[..., None])),
            "mean_hegemony_time": (dims, frac(time_sum, k)),
            "p_hegemon_rank": (dims + ("rank",), frac(c["hegemon_rank"], n[..., None])),
            "p_hegemon_entrant": (dims, frac(c["hegemon_entrant"], n)),
        }
        for name in SUMS:
            data[f"mean_{name}"] = (dims, frac(c[name], n))
        data["p_final_polarity"] = (dims + ("polarity_class",),
                                    frac(c["final_polarity"], no_heg[..., None]))
    ds = xr.Dataset({name: (d, np.asarray(v)) for name, (d, v) in data.items()})
    for name, (long_name, units) in _VARS.items():
        ds[name].attrs.update(long_name=long_name, units=units)
    for dim in plan.contrasts:
        name = f"joint_hegemony_{dim}"
        other = tuple(d for d in dims if d != dim)
        ds[name] = (other + (dim, f"{dim}_b", "joint"), totals.joint[dim])
        ds[name].attrs.update(
            long_name=f"replicates by joint hegemony outcome under {dim} = a ({dim}) and "
                      f"{dim} = b ({dim}_b)", units="1")
    coords = {}
    for dim, values in zip(dims, plan.coords, strict=True):
        coords[dim] = (dim, _coord(values), {"long_name": P.SPECS[dim].doc, "units": "1"})
    coords["time"] = ("time", np.arange(plan.horizon + 1, dtype=np.int64),
                      {"long_name": "step", "units": "steps"})
    coords["rank"] = ("rank", np.arange(plan.ranks, dtype=np.int64),
                      {"long_name": "initial capability rank (0: strongest)", "units": "1"})
    if plan.rank_labels:
        labels = list(plan.rank_labels) + [""] * (plan.ranks - len(plan.rank_labels))
        coords["rank_state"] = ("rank", np.array(labels, dtype=object),
                                {"long_name": "the scenario's state of this initial rank "
                                 "(COW abbreviation; empty: a slot for entrants)"})
    coords["polarity_class"] = ("polarity_class", np.array(POLARITY_CLASSES, dtype=object),
                                {"long_name": "polarity class"})
    for dim in plan.contrasts:
        i = dims.index(dim)
        coords[f"{dim}_b"] = (f"{dim}_b", _coord(plan.coords[i]),
                              {"long_name": f"{P.SPECS[dim].doc} (second of the pair)",
                               "units": "1"})
    if plan.contrasts:
        coords["joint"] = ("joint", np.array(JOINT, dtype=object),
                           {"long_name": "joint outcome of the pair (a, b)"})
    return ds.assign_coords(coords)


def _coord(values: tuple) -> np.ndarray:
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)
    if all(isinstance(v, tuple) for v in values):  # swept shares: label each start
        return np.array(["/".join(f"{x:g}" for x in v) for v in values], dtype=object)
    return np.array(values)
