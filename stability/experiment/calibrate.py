"""Calibration of the model against the COW record by ABC-SMC (docs/calibration.md).

Approximate Bayesian computation with sequential Monte Carlo (Toni, Welch, Strelkowa, Ipsen and
Stumpf 2009, J. R. Soc. Interface 6: 187-202), as implemented by pyabc (Schaelte et al. 2022,
JOSS 7: 4304): particles are drawn from the priors (the config's ``[randomize]`` entries),
each is simulated ``runs`` times from ``cow:FIRST`` with a step read as a year, and accepted
when the distance between its patterns and the record's (stability.history, computed by the
same compiled function) is below a threshold that shrinks from generation to generation.

pyabc was chosen because it is the maintained ABC-SMC implementation of the field: adaptive
distances and thresholds, a SQLite history that makes runs resumable, and a Dask sampler that
spreads particles over the same clusters ``stability run`` uses.

A config is an experiment config with a ``[calibration]`` table and without ``[sweep]``::

    [calibration]
    period = [1816, 1913]
    patterns = ["log_share_sd", "max_share", "hhi", "entries", "exits"]
    lags = [1, 2, 5, 10, 20, 50]        # the lags of log_share_sd that enter the distance
    distance = "adaptive"               # adaptive (Prangle 2017) | euclidean
    population = 200
    max_generations = 8
    min_epsilon = 0.0
    max_simulations = 1_000_000
    runs = 10                           # simulations of a particle, pooled
    predictive = 100                    # posterior draws simulated for predictive bands
    batch = 10                          # particles per parallel task
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import params as P
from .config import Config, ConfigError, parse_config, tomllib

PATTERNS = ("log_share_sd", "max_share", "hhi", "entries", "exits")
DISTANCES = ("adaptive", "euclidean")
PRIORS = ("uniform", "loguniform")
# set by the period: a calibration always starts from the record's first year
PERIOD_KEYS = ("scenario", "horizon", "shares", "polarity", "n_states", "positions")
KEYS = ("period", "patterns", "lags", "distance", "population", "max_generations",
        "min_epsilon", "max_simulations", "runs", "predictive", "batch")


@dataclass(frozen=True)
class Calibration:
    """A validated ``[calibration]`` table."""

    period: tuple[int, int] = (1816, 1913)
    patterns: tuple[str, ...] = PATTERNS
    lags: tuple[int, ...] = (1, 2, 5, 10, 20, 50)
    distance: str = "adaptive"
    population: int = 200
    max_generations: int = 8
    min_epsilon: float = 0.0
    max_simulations: int = 10**9
    runs: int = 10
    predictive: int = 100
    batch: int = 10
    extra: dict = field(default_factory=dict)

    def to_toml(self) -> str:
        lines = ["[calibration]"]
        for key in KEYS:
            v = getattr(self, key)
            if isinstance(v, tuple):
                v = "[" + ", ".join(f'"{x}"' if isinstance(x, str) else str(x) for x in v) + "]"
            elif isinstance(v, str):
                v = f'"{v}"'
            lines.append(f"{key} = {v}")
        return "\n".join(lines) + "\n"


def load_calibration(path: str | os.PathLike) -> tuple[Config, Calibration]:
    """Read a calibration config: the experiment config and its ``[calibration]`` table.

    Raises :class:`ConfigError` (one line, naming the key) for anything that would stop the
    calibration later: no ``[calibration]``, a bad period, an unknown pattern, a lag beyond
    the period, a ``[sweep]``, priors that are not uniform/loguniform ``[randomize]`` entries,
    parameters the period sets.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_calibration(raw, name=path.stem)


def parse_calibration(raw: dict, name: str = "calibration") -> tuple[Config, Calibration]:
    """:func:`load_calibration` on an already parsed TOML dict."""
    raw = dict(raw)
    if "calibration" not in raw:
        raise ConfigError("[calibration]: missing; a calibration config needs this table")
    table = raw.pop("calibration")
    if raw.get("sweep"):
        raise ConfigError("[sweep]: a calibration fits one model; remove the sweep")
    experiment = dict(raw.get("experiment", {}))
    experiment.setdefault("name", name)
    experiment.setdefault("replicates", 1)  # unused: runs per particle are [calibration].runs
    raw["experiment"] = experiment
    cal = _check_table(table)
    model = raw.get("model", {})
    if isinstance(model, dict):
        for key in PERIOD_KEYS:
            if key in model:
                raise ConfigError(f"model.{key}: set by calibration.period (runs start from "
                                  f"cow:FIRST and last to LAST); remove it")
        # so that the experiment layer checks the model as the calibration will run it
        raw["model"] = {**model, "scenario": f"cow:{cal.period[0]}",
                        "horizon": cal.period[1] - cal.period[0]}
    cfg = parse_config(raw)
    if not cfg.randomize:
        raise ConfigError("[randomize]: no priors; give at least one uniform or loguniform "
                          "parameter to calibrate")
    for pname, dist in cfg.randomize.items():
        if pname in PERIOD_KEYS:
            raise ConfigError(f"randomize.{pname}: set by calibration.period; cannot be "
                              f"calibrated")
        if dist.kind not in PRIORS:
            raise ConfigError(f"randomize.{pname}: a prior must be uniform or loguniform, "
                              f"got {dist.kind}")
    # every corner of the priors must resolve from the period's start (open system etc.)
    base = base_params(cfg, cal)
    for pname, dist in cfg.randomize.items():
        for v in dist.args:
            try:
                P.resolve({**base, pname: v})
            except ValueError as exc:
                raise ConfigError(f"randomize.{pname}: {exc}") from None
    return cfg, cal


def _check_table(table) -> Calibration:
    if not isinstance(table, dict):
        raise ConfigError(f"[calibration]: expected a table, got {table!r}")
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"calibration.{key}: unknown key; valid keys: {', '.join(KEYS)}")
    out = {}
    if "period" in table:
        from ..history import check_period

        try:
            out["period"] = check_period(table["period"])
        except ValueError as exc:
            raise ConfigError(f"calibration.period: {exc}") from None
    a, b = out.get("period", Calibration.period)
    if "patterns" in table:
        pats = table["patterns"]
        if not isinstance(pats, list) or not pats:
            raise ConfigError(f"calibration.patterns: expected a non-empty list, got {pats!r}")
        for i, v in enumerate(pats):
            if v not in PATTERNS:
                raise ConfigError(f"calibration.patterns[{i}]: unknown pattern {v!r}; valid: "
                                  + ", ".join(PATTERNS))
        if len(set(pats)) != len(pats):
            raise ConfigError("calibration.patterns: a pattern is listed twice")
        out["patterns"] = tuple(pats)
    if "lags" in table:
        lags = table["lags"]
        if not isinstance(lags, list) or not lags or not all(
                isinstance(k, int) and not isinstance(k, bool) for k in lags):
            raise ConfigError(f"calibration.lags: expected a list of integers, got {lags!r}")
        out["lags"] = tuple(lags)
    for i, k in enumerate(out.get("lags", Calibration.lags)):
        if not 1 <= k <= min(50, b - a):
            raise ConfigError(f"calibration.lags[{i}]: lag {k} outside 1..{min(50, b - a)} "
                              f"for the period {a}-{b}")
    if "distance" in table:
        if table["distance"] not in DISTANCES:
            raise ConfigError(f"calibration.distance: expected one of {', '.join(DISTANCES)}, "
                              f"got {table['distance']!r}")
        out["distance"] = table["distance"]
    for key in ("population", "max_generations", "max_simulations", "runs", "predictive",
                "batch"):
        if key in table:
            v = table[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"calibration.{key}: expected a positive integer, got {v!r}")
            out[key] = v
    if "min_epsilon" in table:
        v = table["min_epsilon"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 \
                or not math.isfinite(v):
            raise ConfigError(f"calibration.min_epsilon: expected a number >= 0, got {v!r}")
        out["min_epsilon"] = float(v)
    return Calibration(**out)


def base_params(cfg: Config, cal: Calibration) -> dict:
    """The fixed model parameters of every particle: ``[model]`` plus the period's start."""
    a, b = cal.period
    return {**cfg.model, "scenario": f"cow:{a}", "horizon": b - a}


# ---- the simulator and its summary statistics -------------------------------------------
def summary(stats: dict, cal: Calibration) -> dict:
    """The statistics the distance compares, from :func:`pattern_arrays` output (one or more
    runs pooled): the same function for the record and for a particle's runs."""
    from ..model.patterns import pooled_sd

    out = {}
    if "log_share_sd" in cal.patterns:
        sd = pooled_sd(stats["n"], stats["mean"], stats["m2"], axis=0)
        for j, k in enumerate(cal.lags):
            # a particle whose runs all ended at once has no pairs: the largest sd seen in
            # the record's sense is 'infinitely far', which no threshold accepts
            v = sd[j]
            out[f"log_share_sd_{k}"] = float(v) if np.isfinite(v) else 1e3
    with np.errstate(invalid="ignore"):
        for name in ("max_share", "hhi"):
            if name in cal.patterns:
                out[name] = float(np.nanmean(stats[name]))
        for name in ("entries", "exits"):
            if name in cal.patterns:
                # events per observed year, pooled over runs
                years = np.isfinite(stats[name]).sum()
                out[name] = float(np.nansum(stats[name]) / years) if years else 1e3
    return out


def observed(cal: Calibration) -> dict:
    """The record's summary statistics over the calibration period."""
    from ..history import FIRST_YEAR, _record
    from ..model.patterns import pattern_arrays

    a, b = cal.period
    _, shares = _record()
    window = shares[a - FIRST_YEAR:b - FIRST_YEAR + 1]
    occ = np.where(np.isnan(window), -1, np.arange(window.shape[1])[None, :])
    return summary(pattern_arrays(window[None], occ[None], 0, lags=cal.lags), cal)


def particle_seed(seed: int, values: dict) -> int:
    """The stream seed of a particle: a hash of the experiment seed and its parameter values,
    so that a simulation is a function of the particle alone (whoever computes it)."""
    h = hashlib.sha256(str(int(seed)).encode())
    for name in sorted(values):
        h.update(name.encode())
        h.update(np.float64(values[name]).tobytes())
    return int.from_bytes(h.digest()[:8], "little") >> 1


class Simulator:
    """The pyabc model: a particle's parameters -> its summary statistics. Picklable, so that
    Dask workers can run it; ``seconds`` adds up the time spent inside (this process)."""

    def __init__(self, base: dict, cal: Calibration, seed: int):
        self.base, self.cal, self.seed = dict(base), cal, int(seed)
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, pars) -> dict:
        from ..model.patterns import pattern_arrays
        from ..model.simulate import run_batch

        t0 = time.perf_counter()
        values = {k: float(v) for k, v in dict(pars).items()}
        q = P.resolve(_typed({**self.base, **values}))
        out = run_batch(P.pack(q)[None, :], particle_seed(self.seed, values),
                        np.arange(self.cal.runs), record_shares=True)
        stats = pattern_arrays(out["shares"], out["occupant"], 0, lags=self.cal.lags)
        result = summary(stats, self.cal)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return result


def _typed(params: dict) -> dict:
    # pyabc proposes floats; integer parameters (memory) are rounded to the nearest integer
    return {k: (int(round(v)) if P.SPECS[k].kind == "int" and isinstance(v, float) else v)
            for k, v in params.items()}


def priors(cfg: Config):
    """pyabc prior of the ``[randomize]`` entries (uniform or loguniform, independent)."""
    import pyabc

    rvs = {}
    for name, dist in cfg.randomize.items():
        lo, hi = (float(x) for x in dist.args)
        if dist.kind == "uniform":
            rvs[name] = pyabc.RV("uniform", lo, hi - lo)
        else:
            rvs[name] = pyabc.RV("loguniform", lo, hi)
    return pyabc.Distribution(**rvs)


# ---- running ------------------------------------------------------------------------------
def history_path(out: Path) -> Path:
    """The pyabc SQLite history beside the posterior store."""
    return out.with_suffix(".db")


def output_path(cfg: Config) -> Path:
    return cfg.output_path


def check_target(out: Path, overwrite: bool, resume: bool) -> None:
    """ConfigError before anything runs if the targets do not fit the flags."""
    db = history_path(out)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    if out.suffix != ".zarr":
        raise ConfigError(f"--out: a posterior store ends in .zarr, got {out}")
    if resume:
        if not db.exists():
            raise ConfigError(f"--resume: no calibration history at {db} to continue")
        return
    if not overwrite:
        for p in (out, db):
            if p.exists():
                raise ConfigError(f"{p} exists; use --resume to continue it or --overwrite "
                                  f"to replace it")


def _sampler(executor, cal: Calibration):
    import pyabc

    name = executor.name
    if name == "sync":
        return pyabc.sampler.SingleCoreSampler(check_max_eval=False)
    if name == "threads":
        return pyabc.sampler.ConcurrentFutureSampler(
            cfuture_executor=executor.pool, client_max_jobs=executor.workers,
            batch_size=cal.batch)
    return pyabc.sampler.DaskDistributedSampler(
        dask_client=executor.client, client_max_jobs=max(2 * executor.workers, 2),
        batch_size=cal.batch)


def _generation_seed(seed: int, t: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{int(seed)}:{t}".encode()).digest()[:4], "little")


def calibrate(cfg: Config, cal: Calibration, out: Path | None = None, resume: bool = False,
              overwrite: bool = False, log=None):
    """Run the calibration and write the posterior store; returns it (xarray.Dataset).

    Each generation is run by a fresh ``pyabc.ABCSMC`` loaded from the SQLite history, the
    serial sampler's draws seeded from (seed, generation): a calibration killed at any moment
    and resumed redoes only the unfinished generation, and on the serial path reaches the
    same posterior as an uninterrupted one (docs/calibration.md says what holds in parallel).
    """
    import logging

    import pyabc

    from .cluster import make_client

    log = log or (lambda message: None)
    out = Path(out) if out is not None else output_path(cfg)
    check_target(out, overwrite=overwrite, resume=resume)
    db = history_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)  # as stability run does
    if overwrite:
        for p in (out, db):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    logging.getLogger("ABC").setLevel(logging.WARNING)
    logging.getLogger("pyabc").setLevel(logging.WARNING)
    seed = cfg.experiment.seed
    base = base_params(cfg, cal)
    sim = Simulator(base, cal, seed)
    x0 = observed(cal)
    prior = priors(cfg)
    started = time.perf_counter()
    with make_client(cfg.cluster, job_name=f"calibrate-{cfg.experiment.name}",
                     log=log) as executor:
        serial = executor.name == "sync"
        while True:
            sampler = _sampler(executor, cal)
            distance = (pyabc.AdaptivePNormDistance(p=2) if cal.distance == "adaptive"
                        else pyabc.PNormDistance(p=2))
            abc = pyabc.ABCSMC(sim, prior, distance, population_size=cal.population,
                               sampler=sampler)
            if db.exists():
                abc.load(f"sqlite:///{db}", 1)
                h = abc.history
                t = h.max_t + 1
                if t > 0 and _done(h, cal):
                    break
            else:
                abc.new(f"sqlite:///{db}", x0)
                t = 0
            if serial:
                np.random.seed(_generation_seed(seed, t))
            left = cal.max_simulations - abc.history.total_nr_simulations
            g0 = time.perf_counter()
            abc.run(minimum_epsilon=cal.min_epsilon, max_nr_populations=1,
                    max_total_nr_simulations=left)
            pops = abc.history.get_all_populations()
            last = pops[pops.t == pops.t.max()].iloc[0]
            log(f"generation {int(last.t)}: epsilon {float(last.epsilon):.4g}, "
                f"acceptance {int(last.particles)}/{int(last.samples)}, "
                f"{time.perf_counter() - g0:.1f} s")
        wall = time.perf_counter() - started
    ds = posterior_dataset(abc.history, cfg, cal, seed)
    ds.attrs["wall_seconds"] = wall
    ds.attrs["serial_sampler"] = int(serial)
    if serial:
        # only a serial run's simulator counts its own time
        ds.attrs["simulation_seconds"] = sim.seconds
    pred = predictive(ds, cfg, cal, period=cal.period, draws=cal.predictive, seed=seed)
    ds = ds.merge(pred)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return ds


def _done(h, cal: Calibration) -> bool:
    pops = h.get_all_populations()
    pops = pops[pops.t >= 0]
    if pops.empty:
        return False
    last = pops[pops.t == pops.t.max()].iloc[0]
    return (len(pops) >= cal.max_generations or float(last.epsilon) <= cal.min_epsilon
            or h.total_nr_simulations >= cal.max_simulations)


def posterior_dataset(h, cfg: Config, cal: Calibration, seed: int):
    """The pyabc history as an xarray Dataset, dims (generation, sample)."""
    import xarray as xr

    import stability

    pops = h.get_all_populations()
    pops = pops[pops.t >= 0].sort_values("t")
    gens = pops.t.to_numpy(dtype=np.int64)
    names = list(cfg.randomize)
    n = cal.population
    values = {k: np.full((len(gens), n), np.nan) for k in names}
    weight = np.full((len(gens), n), np.nan)
    dist = np.full((len(gens), n), np.nan)
    for g, t in enumerate(gens):
        particles = h.get_population(t=int(t)).particles
        for j, part in enumerate(particles[:n]):
            for k in names:
                values[k][g, j] = part.parameter[k]
            weight[g, j] = part.weight
            dist[g, j] = part.distance
    data = {k: (("generation", "sample"), v, {"long_name": f"posterior sample of {k}",
                                              "units": "1"}) for k, v in values.items()}
    data["weight"] = (("generation", "sample"), weight, {"long_name": "importance weight"})
    data["distance"] = (("generation", "sample"), dist,
                        {"long_name": "distance of the particle's patterns to the record"})
    data["epsilon"] = ("generation", pops.epsilon.to_numpy(float),
                       {"long_name": "acceptance threshold"})
    data["simulations"] = ("generation", pops.samples.to_numpy(np.int64),
                           {"long_name": "particles simulated"})
    data["acceptance_rate"] = ("generation",
                               pops.particles.to_numpy(float) / pops.samples.to_numpy(float),
                               {"long_name": "accepted / simulated"})
    x0 = h.observed_sum_stat()
    ds = xr.Dataset(data, coords={"generation": gens, "sample": np.arange(n),
                                  "statistic": np.arange(len(x0))})
    # names as an attribute: zarr v3 has no stable fixed-width string type for a coordinate
    ds["observed_statistic"] = ("statistic", np.array([float(x0[k]) for k in x0]),
                                {"long_name": "the record's summary statistics",
                                 "names": ",".join(x0)})
    priors_toml = "\n".join(f"{k} = {d.to_toml_value()}" for k, d in cfg.randomize.items())
    ds.attrs.update(kind="posterior", parameters=",".join(names), period=f"{cal.period[0]}-"
                    f"{cal.period[1]}", seed=int(seed), config=cfg.to_toml() + cal.to_toml(),
                    priors=priors_toml, model_version=stability.MODEL_VERSION,
                    stability_version=stability.__version__,
                    base_parameters=repr(base_params(cfg, cal)),
                    created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return ds


def posterior_draws(ds, draws: int, rng: np.random.Generator) -> dict:
    """``draws`` joint weighted draws from the last generation: {name: values}."""
    last = ds.isel(generation=-1)
    w = np.nan_to_num(last.weight.values)
    w = w / w.sum()
    idx = rng.choice(w.size, size=draws, p=w)
    return {k: last[k].values[idx] for k in ds.attrs["parameters"].split(",")}


def predictive(ds, cfg: Config, cal: Calibration, period, draws: int, seed: int):
    """Posterior-predictive histories: ``draws`` weighted draws from the last generation, each
    simulated once from ``cow:FIRST`` over ``period``, and the patterns of each history alone
    (dim ``draw``): the distribution against which the one real history is compared. A
    history that ends in hegemony contributes its years up to then."""
    import xarray as xr

    from ..model.patterns import pattern_arrays
    from ..model.simulate import run_batch

    a, b = period
    rng = np.random.default_rng([int(seed), a, b])
    picked = posterior_draws(ds, draws, rng)
    max_lag = min(50, b - a)
    base = {**cfg.model, "scenario": f"cow:{a}", "horizon": b - a}
    rows = [P.pack(P.resolve(_typed({**base, **{k: float(v[d]) for k, v in picked.items()}})))
            for d in range(draws)]
    out = run_batch(np.array(rows), _generation_seed(seed, 10**6 + a), np.arange(draws),
                    record_shares=True)
    st = pattern_arrays(out["shares"], out["occupant"], max_lag)
    n = st["n"].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        sd = np.where(n > 1, np.sqrt(st["m2"] / np.maximum(n - 1, 1)), np.nan)
        top, hhi = st["max_share"], st["hhi"]
    suffix = f"{a}_{b}"
    return xr.Dataset({
        f"pred_log_share_sd_{suffix}": (("draw", f"lag_{suffix}"), sd),
        f"pred_max_share_{suffix}": (("draw", f"year_{suffix}"), top),
        f"pred_hhi_{suffix}": (("draw", f"year_{suffix}"), hhi),
        f"pred_entries_{suffix}": ("draw", np.nansum(st["entries"], axis=1)),
        f"pred_exits_{suffix}": ("draw", np.nansum(st["exits"], axis=1)),
        f"pred_hegemony_{suffix}": ("draw", out["hegemony"].astype(np.float64)),
        f"pred_hegemony_time_{suffix}": ("draw", out["hegemony_time"]),
        **{f"pred_{k}_{suffix}": ("draw", v) for k, v in picked.items()},
    }, coords={f"lag_{suffix}": np.arange(1, max_lag + 1),
               f"year_{suffix}": np.arange(a, b + 1)})


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def log_line(message: str) -> None:
    print(f"stability: {message}", file=sys.stderr, flush=True)


def config_of(ds) -> tuple[Config, Calibration]:
    """The calibration config a posterior store was fitted with (from its attributes)."""
    raw = tomllib.loads(ds.attrs["config"])
    for key in PERIOD_KEYS:  # written resolved: the period sets them again
        raw.get("model", {}).pop(key, None)
    return parse_calibration(raw, name=raw.get("experiment", {}).get("name", "calibration"))


def out_of_sample(ds, period=(1922, 2016), draws: int | None = None, seed: int | None = None):
    """Posterior-predictive patterns over another ``period``, runs started from ``cow:FIRST``
    (the validation of docs/calibration.md): :func:`predictive` with the store's config."""
    from ..history import check_period

    cfg, cal = config_of(ds)
    try:
        period = check_period(period)
        P.resolve({**cfg.model, "scenario": f"cow:{period[0]}", "horizon": 1})
    except ValueError as exc:
        raise ConfigError(f"period: {exc}") from None
    return predictive(ds, cfg, cal, period, draws or cal.predictive,
                      cfg.experiment.seed if seed is None else seed)
