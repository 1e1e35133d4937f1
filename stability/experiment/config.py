"""Experiment configs: the TOML schema, its validation, and the resolved experiment.

A config has the tables ``[experiment]``, ``[model]``, ``[sweep]``, ``[randomize]``,
``[sensitivity]``, ``[output]`` and ``[cluster]`` (``docs/internals.md``, INTERFACES.md).
Everything is checked here, before anything runs: every sweep value, every cell of the sweep
and every corner of the randomized ranges goes through :func:`stability.params.resolve`, so no
kernel ever sees an invalid parameter. Errors are :class:`ConfigError`, one line naming the key.

``[randomize]`` distributions (one per parameter, drawn per replicate from the replicate's
own stream, so draws depend only on the seed and the replicate index):

- ``{uniform = [a, b]}``: floats uniform on [a, b]; integers uniform on a..b (both included).
- ``{loguniform = [a, b]}`` with 0 < a: log-uniform on [a, b]; integers take
  ``floor(exp(U(log a, log(b + 1))))``, so a..b with weights proportional to log((k+1)/k).
- ``{normal = [mean, sd], clip = [lo, hi]}``: a normal's support leaves every valid range, so
  ``clip`` is required; draws are clipped to [lo, hi] (mass beyond piles up at the bounds).
  Integers are rounded to the nearest integer (ties to even) after clipping.
- ``{choice = [v1, v2, ...]}``: one value with equal probabilities; the only distribution for
  boolean and named-choice parameters (``doctrine``, ``polarity``, ``initiators``, ...).

The support's end points (``clip`` for normal, every value for choice) must be valid values
of the parameter, and every combination of end points must resolve in every cell.

``[sensitivity]`` (global sensitivity analysis; docs/sensitivity.md) replaces the plain
per-replicate draws of ``[randomize]`` by a design: ``method = "sobol"`` (Saltelli's design,
first- and total-order indices) or ``"morris"`` (elementary effects) over the unit hypercube of
the ``[randomize]`` ranges (uniform and log-uniform only), or ``"delta"`` (Borgonovo's index,
on the plain draws). The design sets the runs per cell, so ``replicates`` may be left out.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .. import params as P

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Config", "ConfigError", "Distribution", "load_config", "parse_config"]

SCHEDULERS = ("sync", "threads", "local", "slurm", "pbs")
_TCP = re.compile(r"^tcp://[^\s:/]+:\d{1,5}$")
SWEEPABLE = P.SCALAR_NAMES + ("shares", "scenario")
RANDOMIZABLE = P.SCALAR_NAMES
# Parameters that interact inside resolve(): every combination of their randomized end
# points is resolved. The others only need their own end points checked.
_COUPLED = ("doctrine", "polarity", "n_states", "max_states", "hegemony_threshold",
            "pole_ratio", "pole_min_share", "geography")
_MAX_SEED = 2**63


class ConfigError(ValueError):
    """Bad input: a config, an override or an output path. The message is one line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ExperimentSection(_Section):
    name: str = Field(default="experiment", min_length=1)
    replicates: int = Field(ge=1)  # with [sensitivity]: set from the design when not given
    seed: int = Field(ge=0, lt=_MAX_SEED)
    chunk: int = Field(default=10_000, ge=1)
    contrasts: list[str] = Field(default_factory=list)


class OutputSection(_Section):
    path: str | None = None  # None: results/<experiment name>.zarr
    runs: bool = False  # keep one record per run (always, with [randomize] or [sensitivity])

    @field_validator("path")
    @classmethod
    def _suffix(cls, v):
        if v is not None and Path(v).suffix not in (".zarr", ".nc"):
            raise ValueError(f"must end in .zarr or .nc, got {v!r}")
        return v


class ClusterSection(_Section):
    scheduler: str = "local"
    workers: int | None = Field(default=None, ge=1)  # None: one per core
    # dask-jobqueue options for slurm/pbs (per job); ignored by the other schedulers.
    cores: int | None = Field(default=None, ge=1)
    processes: int | None = Field(default=None, ge=1)
    memory: str | None = None
    walltime: str | None = None
    queue: str | None = None
    account: str | None = None
    jobs: int | None = Field(default=None, ge=1)
    interface: str | None = None
    scheduler_interface: str | None = None  # the scheduler's, if not ``interface``
    job_extra_directives: list[str] = Field(default_factory=list)
    job_script_prologue: list[str] = Field(default_factory=list)  # after stability's lines
    lifetime: str | None = None
    python: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, v):
        if v not in SCHEDULERS and not _TCP.match(v):
            raise ValueError(f"must be one of {', '.join(SCHEDULERS)} or tcp://HOST:PORT, "
                             f"got {v!r}")
        return v


SENSITIVITY_METHODS = ("sobol", "morris", "delta")
# Per-run outcomes a sensitivity analysis may take (MODEL.md section 7).
RUN_OUTPUTS = ("hegemony", "hegemony_time", "hegemon_rank", "wars", "survivors",
               "final_max_share", "eliminations", "entries", "balancing", "bandwagoning",
               "buck_passing", "chain_ganging")


class SensitivitySection(_Section):
    method: str
    samples: int = Field(ge=2)  # the base sample (sobol, morris: trajectories; delta: runs)
    outputs: list[str] = Field(default_factory=lambda: ["hegemony"])
    levels: int = Field(default=4, ge=2, le=100)  # morris: grid levels
    resamples: int = Field(default=200, ge=10, le=100_000)  # bootstrap resamples
    # runs per design point (sobol, morris), each on its own stream; the outputs analysed are
    # their means, so the indices approach those of the expected outcome (P(hegemony) for
    # hegemony) as repeats grow (docs/sensitivity.md)
    repeats: int = Field(default=1, ge=1, le=1_000_000)

    @field_validator("method")
    @classmethod
    def _method(cls, v):
        if v not in SENSITIVITY_METHODS:
            raise ValueError(f"unknown method {v!r}; use one of "
                             + ", ".join(SENSITIVITY_METHODS))
        return v

    @field_validator("outputs")
    @classmethod
    def _outputs(cls, v):
        if not v:
            raise ValueError("give at least one output")
        for name in v:
            if name not in RUN_OUTPUTS:
                raise ValueError(f"unknown output {name!r}; per-run outputs are "
                                 + ", ".join(RUN_OUTPUTS))
        if len(set(v)) != len(v):
            raise ValueError(f"an output is listed twice: {v!r}")
        return v

    def design_runs(self, n_params: int) -> int:
        """Runs per cell: Sobol N (D + 2) (first and total order), Morris N (D + 1), delta N."""
        if self.method == "sobol":
            return self.samples * (n_params + 2) * self.repeats
        if self.method == "morris":
            return self.samples * (n_params + 1) * self.repeats
        return self.samples


class Distribution(_Section):
    """One ``[randomize]`` entry, in canonical form."""

    kind: Literal["uniform", "loguniform", "normal", "choice", "posterior"]
    args: tuple
    clip: tuple | None = None
    # posterior: the store's path, and the cumulative weights of the samples in ``args``
    source: str | None = None
    cdf: tuple | None = None

    @property
    def support(self) -> tuple:
        """The values a draw can take at the extremes (every value for choice)."""
        if self.kind == "choice":
            return self.args
        if self.kind == "normal":
            return self.clip
        if self.kind == "posterior":
            return (min(self.args), max(self.args))
        return self.args

    def to_toml_value(self) -> dict:
        if self.kind == "posterior":
            return {"posterior": self.source}
        d = {self.kind: list(self.args)}
        if self.clip is not None:
            d["clip"] = list(self.clip)
        return d


class Config(_Section):
    """A validated experiment. Build it with :func:`load_config` or :func:`parse_config`."""

    experiment: ExperimentSection
    model: dict[str, Any] = Field(default_factory=dict)
    sweep: dict[str, tuple] = Field(default_factory=dict)
    randomize: dict[str, Distribution] = Field(default_factory=dict)
    sensitivity: SensitivitySection | None = None
    output: OutputSection = OutputSection()
    cluster: ClusterSection = ClusterSection()

    # ---- the sweep --------------------------------------------------------------------------
    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.sweep)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.sweep.values())

    @property
    def n_cells(self) -> int:
        return math.prod(self.shape)

    def cells(self):
        """Each cell's swept values, as dicts, in row-major order of the sweep."""
        for values in itertools.product(*self.sweep.values()):
            yield dict(zip(self.dims, values, strict=True))

    @property
    def n_groups(self) -> int:
        """Task groups: cells that differ only in contrast dimensions run together."""
        return self.n_cells // math.prod(len(self.sweep[d]) for d in self.experiment.contrasts)

    @property
    def n_tasks(self) -> int:
        e = self.experiment
        return self.n_groups * -(-e.replicates // e.chunk)

    @property
    def records(self) -> bool:
        """Whether the store keeps one record per run (``open_runs``)."""
        return bool(self.randomize) or self.sensitivity is not None or self.output.runs

    @property
    def output_path(self) -> Path:
        if self.output.path is not None:
            return Path(self.output.path)
        return Path("results") / f"{_safe_name(self.experiment.name)}.zarr"

    # ---- text and identity ------------------------------------------------------------------
    def to_toml(self, full: bool = False) -> str:
        """The resolved config as TOML.

        By default only what determines the results: chunk size, output and cluster settings
        are left out, so the same experiment has the same text (and hash) wherever it runs.
        """
        e = self.experiment
        exp = {"name": e.name, "replicates": e.replicates, "seed": e.seed}
        if full:
            exp["chunk"] = e.chunk
        if e.contrasts:
            exp["contrasts"] = list(e.contrasts)
        tables = [("experiment", exp), ("model", self.model), ("sweep", self.sweep),
                  ("randomize", {k: d.to_toml_value() for k, d in self.randomize.items()})]
        if self.sensitivity is not None:
            tables.append(("sensitivity", self.sensitivity.model_dump()))
        if full:
            tables.append(("output", {"path": str(self.output_path)}
                           | ({"runs": True} if self.output.runs else {})))
            tables.append(("cluster", self.cluster.model_dump(exclude_defaults=True)
                           | {"scheduler": self.cluster.scheduler}))
        elif self.output.runs:  # the records are part of the results
            tables.append(("output", {"runs": True}))
        return _dump_toml([(name, t) for name, t in tables if t or name == "experiment"])

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_toml().encode()).hexdigest()

    def with_overrides(self, label=str, **overrides) -> Config:
        """A new, validated Config with command-line style overrides applied.

        Keys: ``replicates``, ``seed``, ``chunk`` (experiment), ``out`` (output path),
        ``scheduler``, ``workers`` (cluster); None means "keep". ``label(key)`` names the key
        in error messages (the CLI passes ``lambda k: "--" + k``).
        """
        where = {"replicates": "experiment", "seed": "experiment", "chunk": "experiment",
                 "out": "output", "scheduler": "cluster", "workers": "cluster"}
        raw = self.model_dump()
        for key, value in overrides.items():
            if key not in where:
                raise TypeError(f"unknown override {key!r}; valid: {', '.join(where)}")
            if value is None:
                continue
            field = "path" if key == "out" else key
            raw[where[key]][field] = str(value) if key == "out" else value
            try:
                _SECTIONS[where[key]].model_validate(raw[where[key]])
            except ValidationError as exc:
                err = exc.errors()[0]
                raise ConfigError(f"{label(key)}: {_describe(err)}") from None
        return _build(raw, label=label)


_SECTIONS = {"experiment": ExperimentSection, "output": OutputSection, "cluster": ClusterSection}


# ---- loading --------------------------------------------------------------------------------
def load_config(path: str | os.PathLike) -> Config:
    """Read and validate a TOML experiment config; raises :class:`ConfigError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    raw.setdefault("experiment", {})
    if isinstance(raw["experiment"], dict):
        raw["experiment"].setdefault("name", _safe_name(path.stem))
    return parse_config(raw)


def parse_config(raw: dict) -> Config:
    """Validate a config given as a dict (the parsed TOML); raises :class:`ConfigError`."""
    if not isinstance(raw, dict):
        raise ConfigError("config: expected a table")
    for section in raw:
        if section not in Config.model_fields:
            raise ConfigError(f"[{section}]: unknown section; valid sections: "
                              + ", ".join(Config.model_fields))
    raw = dict(raw)
    for section in ("model", "sweep", "randomize"):
        value = raw.get(section, {})
        if not isinstance(value, dict):
            raise ConfigError(f"[{section}]: expected a table, got {value!r}")
    raw["model"] = _check_model(raw.get("model", {}))
    raw["sweep"] = _check_sweep(raw.get("sweep", {}), raw["model"])
    raw["randomize"] = _check_randomize(raw.get("randomize", {}), raw["model"], raw["sweep"])
    return _build(raw)


def _build(raw: dict, label=None) -> Config:
    raw = _design_replicates(raw, label)
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{_loc(err['loc'])}: {_describe(err)}") from None
    _check_contrasts(cfg)
    _check_sensitivity(cfg)
    _check_cells(cfg)
    return cfg


def _design_replicates(raw: dict, label=None) -> dict:
    """With ``[sensitivity]``, the design sets the runs per cell: fill in ``replicates``, or
    check that a given one agrees."""
    table = raw.get("sensitivity")
    if not isinstance(table, dict):
        return raw
    try:
        sens = SensitivitySection.model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{_loc(('sensitivity',) + tuple(err['loc']))}: "
                          f"{_describe(err)}") from None
    randomize = raw.get("randomize") or {}
    if not randomize:
        raise ConfigError("sensitivity: a sensitivity analysis needs the uncertain parameters "
                          "and their ranges as [randomize] entries")
    if sens.method == "delta" and sens.repeats != 1:
        raise ConfigError("sensitivity.repeats: delta analyses single runs (any sample); "
                          "repeats is for the sobol and morris designs")
    if sens.method == "sobol" and sens.samples & (sens.samples - 1):
        lower = 1 << (sens.samples.bit_length() - 1)
        nearest = lower if sens.samples - lower < 2 * lower - sens.samples else 2 * lower
        raise ConfigError(f"sensitivity.samples: Sobol's design needs a power of two, got "
                          f"{sens.samples}; use {nearest}")
    runs = sens.design_runs(len(randomize))
    experiment = raw.get("experiment")
    if isinstance(experiment, dict):
        given = experiment.get("replicates")
        if given is None:
            raw = dict(raw, experiment=dict(experiment, replicates=runs))
        elif given != runs:
            where = label("replicates") if label else "experiment.replicates"
            raise ConfigError(f"{where}: the {sens.method} design runs {runs:,} replicates per "
                              f"cell ({_design_text(sens, len(randomize))}), not {given!r}; "
                              "leave replicates out, or change sensitivity.samples")
    return raw


def _design_text(sens: SensitivitySection, d: int) -> str:
    times = f" x repeats {sens.repeats}" if sens.repeats > 1 else ""
    if sens.method == "sobol":
        return f"samples x (parameters + 2){times} = {sens.samples} x {d + 2}{times}"
    if sens.method == "morris":
        return f"trajectories x (parameters + 1){times} = {sens.samples} x {d + 1}{times}"
    return "one run per sample"


def _check_sensitivity(cfg: Config) -> None:
    sens = cfg.sensitivity
    if sens is None or sens.method == "delta":
        return  # delta takes any sample, choices and normals included
    for name, d in cfg.randomize.items():
        if d.kind not in ("uniform", "loguniform"):
            raise ConfigError(
                f"randomize.{name}: the {sens.method} design needs a uniform or loguniform "
                f"range, not {d.kind}" + (" (sweep a choice instead, or use method = "
                                           "\"delta\")" if d.kind == "choice" else ""))


def _loc(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def _describe(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = err.get("msg", "invalid value")
    msg = msg[0].lower() + msg[1:] if msg else msg
    msg = msg.removeprefix("value error, ")
    if "input" in err and kind not in ("value_error",):
        return f"{msg}, got {err['input']!r}"
    return msg


# ---- [model], [sweep], [randomize] ----------------------------------------------------------
def _check_model(model: dict) -> dict:
    out = {}
    for name, value in model.items():
        out[name] = _check_param(f"model.{name}", name, value)
    return out


def _check_param(where: str, name: str, value):
    try:
        value = P.check_value(name, value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if name == "scenario":
        try:
            P.resolve({"scenario": value})
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return value


def _check_sweep(sweep: dict, model: dict) -> dict:
    out = {}
    for name, values in sweep.items():
        where = f"sweep.{name}"
        if name not in P.SPECS:
            raise ConfigError(f"{where}: unknown parameter; valid names: {', '.join(P.NAMES)}")
        if name not in SWEEPABLE:
            raise ConfigError(f"{where}: only scalar parameters, shares and scenario can be "
                              "swept")
        if name in model:
            raise ConfigError(f"{where}: '{name}' is both swept and fixed in [model]")
        if not isinstance(values, list):
            raise ConfigError(f"{where}: expected a list of values, got {values!r}")
        if not values:
            raise ConfigError(f"{where}: empty sweep; give at least one value")
        checked = tuple(_check_param(f"{where}[{i}]", name, v) for i, v in enumerate(values))
        for i, v in enumerate(checked):
            if v in checked[:i]:
                raise ConfigError(f"{where}[{i}]: duplicate value {values[i]!r}")
        out[name] = checked
    return out


def _check_randomize(randomize: dict, model: dict, sweep: dict) -> dict:
    out = {}
    if "posterior" in randomize:
        # every calibrated parameter of the store, drawn jointly (docs/calibration.md)
        randomize = dict(randomize)
        source = randomize.pop("posterior")
        for name in _posterior_table("randomize.posterior", source):
            for where, other in (("randomized", randomize), ("fixed in [model]", model),
                                 ("swept", sweep)):
                if name in other:
                    raise ConfigError(f"randomize.posterior: the posterior's parameter "
                                      f"'{name}' is also {where}")
            randomize[name] = {"posterior": source}
    for name, table in randomize.items():
        where = f"randomize.{name}"
        if name not in P.SPECS:
            raise ConfigError(f"{where}: unknown parameter; valid names: {', '.join(P.NAMES)}")
        if name not in RANDOMIZABLE:
            raise ConfigError(f"{where}: only scalar parameters can be randomized")
        if name in model:
            raise ConfigError(f"{where}: '{name}' is both randomized and fixed in [model]")
        if name in sweep:
            raise ConfigError(f"{where}: '{name}' is both randomized and swept")
        out[name] = _check_distribution(where, name, table)
    return out


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_distribution(where: str, name: str, table) -> Distribution:
    kinds = ("uniform", "loguniform", "normal", "choice", "posterior")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table such as {{uniform = [a, b]}}, "
                          f"got {table!r}")
    if "posterior" in table and len(table) == 1:
        samples = _posterior_table(f"{where}.posterior", table["posterior"])
        if name not in samples:
            raise ConfigError(f"{where}.posterior: the posterior does not calibrate '{name}'")
        values, cdf = samples[name]
        return Distribution(kind="posterior", args=values, source=table["posterior"], cdf=cdf)
    given = [k for k in table if k in kinds]
    for key in table:
        if key not in kinds and key != "clip":
            raise ConfigError(f"{where}.{key}: unknown key; use one of {', '.join(kinds)}"
                              " (and clip with normal)")
    if len(given) != 1:
        raise ConfigError(f"{where}: give exactly one distribution of {', '.join(kinds)}")
    kind = given[0]
    args = table[kind]
    spec = P.SPECS[name]
    at = f"{where}.{kind}"
    if not isinstance(args, list):
        raise ConfigError(f"{at}: expected a list, got {args!r}")
    if "clip" in table and kind != "normal":
        raise ConfigError(f"{where}.clip: only a normal distribution takes clip")
    if kind == "choice":
        if not args:
            raise ConfigError(f"{at}: empty choice; give at least one value")
        values = tuple(_check_param(f"{at}[{i}]", name, v) for i, v in enumerate(args))
        for i, v in enumerate(values):
            if v in values[:i]:
                raise ConfigError(f"{at}[{i}]: duplicate value {args[i]!r}")
        return Distribution(kind=kind, args=values)
    if spec.kind not in ("float", "int"):
        raise ConfigError(f"{at}: '{name}' takes {spec.describe()}; use choice = [...]")
    if len(args) != 2 or not all(_number(a) for a in args):
        raise ConfigError(f"{at}: expected two finite numbers, got {args!r}")
    a, b = args
    clip = None
    if kind == "normal":
        if b <= 0:
            raise ConfigError(f"{at}: the standard deviation must be positive, got {b!r}")
        if "clip" not in table:
            raise ConfigError(f"{where}: a normal distribution needs clip = [lo, hi] inside "
                              f"the valid range ({spec.describe()})")
        c = table["clip"]
        if not isinstance(c, list) or len(c) != 2 or not all(_number(x) for x in c):
            raise ConfigError(f"{where}.clip: expected two finite numbers, got {c!r}")
        clip = _check_bounds(f"{where}.clip", name, c)
        args = (float(a), float(b))
    else:
        if kind == "loguniform" and a <= 0:
            raise ConfigError(f"{at}: the lower bound must be positive, got {a!r}")
        args = _check_bounds(at, name, args)
    return Distribution(kind=kind, args=args, clip=clip)


def _posterior_table(where: str, source) -> dict:
    """{parameter: (samples, cumulative weights)} of a posterior store's last generation."""
    if not isinstance(source, str):
        raise ConfigError(f"{where}: expected the path of a posterior store, got {source!r}")
    from ..analysis.posterior import last_generation

    try:
        return last_generation(source)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_bounds(where: str, name: str, pair) -> tuple:
    if P.SPECS[name].kind == "int" and not all(float(x).is_integer() for x in pair):
        raise ConfigError(f"{where}: '{name}' is an integer; bounds must be integers, "
                          f"got {pair!r}")
    lo, hi = (_check_param(f"{where}[{i}]", name, x) for i, x in enumerate(pair))
    if not lo < hi:
        raise ConfigError(f"{where}: the lower bound {pair[0]!r} must be below the upper "
                          f"bound {pair[1]!r}")
    return (lo, hi)


def _check_contrasts(cfg: Config) -> None:
    seen = set()
    for i, dim in enumerate(cfg.experiment.contrasts):
        where = f"experiment.contrasts[{i}]"
        if dim not in cfg.sweep:
            raise ConfigError(f"{where}: {dim!r} is not a [sweep] key")
        if len(cfg.sweep[dim]) < 2:
            raise ConfigError(f"{where}: sweep.{dim} needs at least two values to contrast")
        if dim in seen:
            raise ConfigError(f"{where}: {dim!r} is listed twice")
        seen.add(dim)


def randomized_corners(cfg: Config):
    """Combinations of randomized end points to resolve in every cell."""
    coupled = [n for n in cfg.randomize if n in _COUPLED]
    free = [n for n in cfg.randomize if n not in _COUPLED]
    base = {n: cfg.randomize[n].support[0] for n in free}
    for values in itertools.product(*(cfg.randomize[n].support for n in coupled)):
        yield base | dict(zip(coupled, values, strict=True))
    # The uncoupled ones only need each end point once; check_value covered them already.


def _check_cells(cfg: Config) -> None:
    corners = list(randomized_corners(cfg))
    for cell in cfg.cells():
        for corner in corners:
            try:
                P.resolve(cfg.model | cell | corner)
            except ValueError as exc:
                where = "model"
                if cell:
                    where = "sweep cell " + ", ".join(f"{k}={_show(v)}" for k, v in cell.items())
                if len(corners) > 1 or corner:
                    where += " with randomize " + ", ".join(
                        f"{k}={_show(v)}" for k, v in corner.items())
                raise ConfigError(f"{where}: {exc}") from None


def _show(v) -> str:
    return json.dumps(list(v)) if isinstance(v, tuple) else (
        repr(v) if isinstance(v, str) else _toml_value(v))


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "experiment"


# ---- a small TOML writer (tomllib only reads) ------------------------------------------------
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}"
                                for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _dump_toml(tables) -> str:
    out = []
    for name, table in tables:
        out.append(f"[{name}]")
        out.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items())
        out.append("")
    return "\n".join(out)
