"""Scenario discovery: which parameter region makes an outcome likely (PRIM).

The Patient Rule Induction Method (Friedman and Fisher 1999, "Bump hunting in
high-dimensional data", Stat. Comput. 9:123-143) peels a box, one small slice of one
dimension at a time, towards the region where the cases of interest concentrate; scenario
discovery (Bryant and Lempert 2010, "Thinking inside the box", Technol. Forecast. Soc. Change
77:34-49) reads the box as a scenario and judges it by coverage (share of all cases of interest
inside it), density (share of the runs inside it that are cases) and the number of restricted
parameters. The PRIM used is the EMA Workbench's (Kwakkel 2017, Environ. Model. Softw.
96:239-250), imported only when :func:`discover` runs.

Box choice: PRIM's peeling trajectory runs from the whole space (coverage 1) to a small dense
box. The box reported is the densest box on the trajectory whose coverage is at least
``coverage_min`` (0.5 by default), the larger coverage among equally dense ones: a scenario
that accounts for at least half of the cases of interest, as dense as PRIM could make it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from .sensitivity import OUTPUTS

_NOT_PARAMETERS = frozenset(OUTPUTS) | {"cell", "replicate", "run", "final_polarity"}


def _prim_module():
    try:
        with warnings.catch_warnings():
            # The workbench warns at import about optional parallel back ends it does not need
            # here (ipyparallel).
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim
    except ImportError as err:
        raise ImportError("scenario discovery needs ema-workbench: "
                          "pip install 'stability[discovery]'") from err
    return prim


@dataclass(frozen=True)
class Discovery:
    """The result of :func:`discover`.

    ``boxes``: xarray Dataset with dims (box, parameter): ``low``, ``high`` (the box's limits;
    the data's range where a parameter is not restricted), ``restricted`` (bool), and per box
    ``coverage``, ``density``, ``mass``, ``n`` (runs inside) and ``cases`` (cases of interest
    inside). ``trajectory``: pandas DataFrame of PRIM's peeling and pasting steps, with
    coverage, density, mass, n, cases, res_dim and ``restricted`` (the restricted parameters,
    comma-separated); ``chosen`` is the row of the box reported.
    """

    boxes: object
    trajectory: object
    chosen: int
    outcome: str
    rule: str
    n_runs: int
    n_cases: int

    def table(self) -> str:
        """The chosen box as text: its statistics and each restricted parameter's limits."""
        b = self.boxes.isel(box=0)
        lines = [f"PRIM box for {self.rule}: {self.n_cases:,} of {self.n_runs:,} runs are "
                 f"cases of interest",
                 f"  coverage {float(b['coverage']):.3f}  density {float(b['density']):.3f}  "
                 f"mass {float(b['mass']):.3f}  runs {int(b['n']):,}  cases {int(b['cases']):,}"
                 f"  (trajectory step {self.chosen})"]
        restricted = [str(p) for p, r in zip(b["parameter"].values, b["restricted"].values,
                                              strict=True) if r]
        if not restricted:
            lines.append("  no parameter restricted: PRIM found no denser region")
        width = max((len(p) for p in restricted), default=0)
        for p in restricted:
            lines.append(f"  {p:<{width}}  {float(b['low'].sel(parameter=p)):.6g} .. "
                         f"{float(b['high'].sel(parameter=p)):.6g}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def plot(self):
        """The peeling trajectory: density against coverage, coloured by restricted dims."""
        from matplotlib.figure import Figure

        t = self.trajectory
        fig = Figure(figsize=(6.0, 4.5), layout="constrained")
        ax = fig.subplots()
        points = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis",
                            s=18, zorder=2)
        ax.plot(t["coverage"], t["density"], color="0.7", lw=0.8, zorder=1)
        ax.scatter([t["coverage"].iloc[self.chosen]], [t["density"].iloc[self.chosen]],
                   s=120, facecolors="none", edgecolors="C3", lw=1.5, zorder=3,
                   label="chosen box")
        fig.colorbar(points, ax=ax, label="restricted parameters")
        ax.set_xlabel("coverage")
        ax.set_ylabel("density")
        ax.set_xlim(0.0, 1.02)
        ax.set_ylim(0.0, 1.02)
        ax.set_title(f"PRIM peeling trajectory: {self.rule}", fontsize="medium")
        ax.legend(loc="lower left", fontsize="small")
        return fig


def _cases(values: np.ndarray, outcome: str, threshold, above: bool) -> tuple[np.ndarray, str]:
    if values.dtype == bool:
        if threshold is None:
            return (values if above else ~values), (f"{outcome}" if above else f"not {outcome}")
        values = values.astype(np.float64)
    elif threshold is None:
        raise ValueError(f"discover: outcome {outcome!r} is numeric; give a threshold")
    if not np.all(np.isfinite(values.astype(np.float64))):
        raise ValueError(f"discover: outcome {outcome!r} holds NaN or infinite values")
    if above:
        return values > threshold, f"{outcome} > {threshold:g}"
    return values < threshold, f"{outcome} < {threshold:g}"


def _column(values: np.ndarray) -> np.ndarray:
    # Every parameter goes in as float64, which the workbench peels continuously: it would
    # treat other dtypes (float32, bool) as categories, and its pasting step writes a float
    # limit (319.5) into an int64 column, which pandas 2 refuses (TypeError). An integer
    # parameter's box limits then fall between its values.
    return values.astype(np.float64)


def discover(runs, outcome: str = "hegemony", threshold: float | None = None,
             parameters: list[str] | None = None, *, peel_alpha: float = 0.05,
             mass_min: float = 0.05, above: bool = True, coverage_min: float = 0.5,
             **kw) -> Discovery:
    """PRIM scenario discovery over per-run records (Friedman and Fisher 1999; Bryant and
    Lempert 2010), with the EMA Workbench's ``Prim``.

    ``runs``: xarray Dataset with dim ``run``, one variable per randomized parameter, plus
    ``cell``, ``replicate`` and outcome variables (``OUTPUTS``). ``parameters`` defaults to
    every variable that is none of those. Cases of interest: ``outcome > threshold`` if
    ``above`` (else ``<``); a bool outcome needs no threshold (``outcome`` itself, or its
    negation if not ``above``). ``peel_alpha`` and ``mass_min`` go to PRIM, as do further
    keywords (``paste_alpha``, ``obj_function``). The box reported is the densest box on the
    peeling trajectory with coverage >= ``coverage_min``, the larger coverage among ties.
    """
    if outcome not in runs.data_vars:
        raise ValueError(f"discover: no outcome {outcome!r} in the runs")
    if parameters is None:
        # text variables are the sweep's keys (doctrine, polarity): a cell, not a prior
        # and only per-run variables (not, say, war sizes on their own dimension)
        parameters = [str(v) for v in runs.data_vars
                      if v not in _NOT_PARAMETERS and runs[v].dtype.kind in "biuf"
                      and runs[v].dims == ("run",)]
    else:
        parameters = [str(p) for p in parameters]
        missing = [p for p in parameters if p not in runs.data_vars]
        if missing:
            raise ValueError(f"discover: no parameter {', '.join(map(repr, missing))} in the "
                             "runs")
    if not parameters:
        raise ValueError("discover: no parameters to peel (no randomized parameter in the runs)")
    if not 0 < coverage_min <= 1:
        raise ValueError(f"discover: coverage_min must lie in (0, 1], got {coverage_min!r}")
    for p in parameters:
        if runs[p].dims != ("run",):
            raise ValueError(f"discover: parameter {p!r} must have the single dim 'run', "
                             f"has {runs[p].dims}")
    cases, rule = _cases(np.asarray(runs[outcome].values).reshape(-1), outcome, threshold, above)
    n_runs, n_cases = int(cases.size), int(cases.sum())
    if n_cases == 0 or n_cases == n_runs:
        raise ValueError(f"discover: {'no' if n_cases == 0 else 'every'} run has {rule}; PRIM "
                         "needs both cases of interest and others")

    import pandas as pd
    import xarray as xr

    prim = _prim_module()
    x = pd.DataFrame({p: _column(np.asarray(runs[p].values)) for p in parameters})
    y = cases.astype(np.int64)
    # The workbench's threshold is both the density a final box must reach and the cut that
    # marks cases (y >= threshold) in binary mode. The base rate does both: any 0/1 cut in
    # (0, 1] marks y == 1, and a box only fails it if it is no denser than all the runs.
    base_rate = n_cases / n_runs
    options = {"peel_alpha": peel_alpha, "mass_min": mass_min, **kw}
    logger = logging.getLogger("EMA")
    level = logger.level
    try:
        logger.setLevel(logging.WARNING)  # its per-box INFO lines are the trajectory below
        with warnings.catch_warnings():
            # Deprecations inside the workbench's own pandas calls are its maintainers' to fix.
            warnings.filterwarnings("ignore", module=r"ema_workbench(\.|$)")
            algorithm = prim.Prim(x, y, threshold=base_rate, **options)
            box = algorithm.find_box()
    finally:
        logger.setLevel(level)
    traj = box.peeling_trajectory.reset_index(drop=True)
    init = algorithm.box_init
    restricted_steps = []
    for lims in box.box_lims:
        restricted_steps.append([p for p in parameters
                                 if not np.array_equal(lims[p].values, init[p].values)])
    trajectory = pd.DataFrame({
        "coverage": traj["coverage"].astype(float), "density": traj["density"].astype(float),
        "mass": traj["mass"].astype(float), "n": traj["n"].astype(int),
        "cases": traj["k"].astype(int), "res_dim": traj["res_dim"].astype(int),
        "restricted": [", ".join(r) for r in restricted_steps],
    })
    eligible = np.flatnonzero(trajectory["coverage"].to_numpy() >= coverage_min - 1e-12)
    chosen = int(min(eligible, key=lambda i: (-trajectory["density"].iloc[i],
                                              -trajectory["coverage"].iloc[i], i)))
    lims = box.box_lims[chosen]
    low = np.array([float(lims[p].iloc[0]) for p in parameters])
    high = np.array([float(lims[p].iloc[1]) for p in parameters])
    restricted = np.array([p in restricted_steps[chosen] for p in parameters])
    row = trajectory.iloc[chosen]
    boxes = xr.Dataset(
        {"low": (("box", "parameter"), low[None]), "high": (("box", "parameter"), high[None]),
         "restricted": (("box", "parameter"), restricted[None]),
         "coverage": ("box", [float(row["coverage"])]),
         "density": ("box", [float(row["density"])]), "mass": ("box", [float(row["mass"])]),
         "n": ("box", [int(row["n"])]), "cases": ("box", [int(row["cases"])])},
        coords={"box": [0], "parameter": parameters},
        attrs={"outcome": outcome, "rule": rule, "coverage_min": coverage_min,
               "trajectory_step": chosen},
    )
    return Discovery(boxes=boxes, trajectory=trajectory, chosen=chosen, outcome=outcome,
                     rule=rule, n_runs=n_runs, n_cases=n_cases)
