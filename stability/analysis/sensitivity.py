"""Global sensitivity analysis of per-run outcomes (Saltelli et al. 2008), computed with SALib.

Three estimators, each the published one as SALib implements it:

- ``sobol``: first-order and total Sobol' indices from the Saltelli design (Sobol' 2001;
  Saltelli et al. 2010, "Variance based sensitivity analysis of model output. Design and
  estimator for the total sensitivity index", Comput. Phys. Commun. 181:259-270).
- ``morris``: elementary-effects screening, mu* and sigma (Morris 1991, Technometrics
  33:161-174; Campolongo, Cariboni and Saltelli 2007, Environ. Model. Softw. 22:1509-1518).
- ``delta``: Borgonovo's moment-independent index from any sample (Borgonovo 2007, Reliab.
  Eng. Syst. Saf. 92:771-784; the given-data estimator with bias reduction of Plischke,
  Borgonovo and Smith 2013, Eur. J. Oper. Res. 226:536-550).

Parameters are analysed on the unit hypercube: a design row is u in [0, 1]^D and the caller maps
each u_i to a value through the parameter's (monotone) prior map. Sobol' and delta indices are
invariant under such maps; Morris mu* is in output units per unit of prior range.

The model is stochastic, so every design row also carries the random stream (replicate index)
it runs with. The designs share streams between the rows an estimator differences (common
random numbers): the stream is an extra input that is never swapped. Without that, f(AB^i) and
f(A) differ by run-to-run noise even for an input that does nothing, and every total index
absorbs the noise variance.

SALib is imported inside the functions that need it, so the rest of the package runs without it.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

METHODS = ("sobol", "morris", "delta")
OUTPUTS = ("hegemony", "hegemony_time", "hegemon_rank", "wars", "survivors", "final_max_share",
           "eliminations", "entries", "balancing", "bandwagoning", "buck_passing",
           "chain_ganging")

# Variables each method's analysis returns, in order; the first is the index a ranking uses.
_KEYS = {
    "sobol": ("sobol_total", "sobol_total_lo", "sobol_total_hi",
              "sobol_first", "sobol_first_lo", "sobol_first_hi"),
    "morris": ("morris_mu_star", "morris_mu_star_lo", "morris_mu_star_hi", "morris_sigma"),
    "delta": ("delta", "delta_lo", "delta_hi"),
}
_LONG_NAMES = {
    "sobol_first": "first-order Sobol' index",
    "sobol_total": "total Sobol' index",
    "morris_mu_star": "Morris mu* (mean absolute elementary effect)",
    "morris_sigma": "Morris sigma (standard deviation of the elementary effects)",
    "delta": "Borgonovo delta",
}
_AXIS_LABELS = {"sobol": "Sobol' index", "morris": "Morris mu* and sigma",
                "delta": "Borgonovo delta"}

# Seeds for SALib's samplers and bootstraps are drawn from the user's seed (up to 2**63 - 1)
# through a SeedSequence, one tag per purpose, so the design and the bootstrap never share a
# stream. SALib treats seed 0 as "unseeded" (``if seed:``), hence the range [1, 2**31 - 1].
_TAG_DESIGN, _TAG_BOOTSTRAP = 1, 2
_DESIGN_CACHE = 8


def _missing(what: str, module: str, extra: str) -> ImportError:
    return ImportError(f"{what} needs {module}: pip install 'stability[{extra}]'")


def _salib():
    try:
        import SALib  # noqa: F401
    except ImportError as err:
        raise _missing("sensitivity analysis", "SALib", "sensitivity") from err


def _salib_seed(seed: int, tag: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    state = np.random.SeedSequence([int(seed), tag]).generate_state(1, dtype=np.uint32)[0]
    return int(state) % (2**31 - 1) + 1


def _nearest_power_of_two(n: int) -> int:
    if n <= 1:
        return 2
    lower = 1 << (n.bit_length() - 1)
    upper = lower << 1
    return upper if upper - n <= n - lower else lower  # ties go up


def _check_levels(levels) -> None:
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 2 \
            or levels % 2:
        # SALib's Morris grid is biased for odd p (Morris 1991: Delta = p / (2 (p - 1))).
        raise ValueError(f"sensitivity.levels: Morris needs an even number of levels >= 2, "
                         f"got {levels!r}")


def check_design(method: str, samples: int, n_params: int, levels: int = 4) -> None:
    """Check a design's settings; ValueError with a one-line message naming the key.

    Sobol' samples must be a power of two: the Saltelli design is built on a scrambled Sobol'
    sequence, whose balance (and the estimator's convergence rate) holds only for 2**k points
    (Owen 2020, "On dropping the first Sobol' point").
    """
    if method not in METHODS:
        raise ValueError(f"sensitivity.method: unknown method {method!r}; "
                         f"use one of {', '.join(METHODS)}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)):
        raise ValueError(f"sensitivity.samples: must be an integer, got {samples!r}")
    if samples < 2:
        raise ValueError(f"sensitivity.samples: at least 2, got {samples}")
    if method == "sobol" and samples & (samples - 1):
        raise ValueError(f"sensitivity.samples: Sobol needs a power of two, got {samples}; "
                         f"use {_nearest_power_of_two(int(samples))}")
    if isinstance(n_params, bool) or not isinstance(n_params, (int, np.integer)) or n_params < 1:
        raise ValueError(f"randomize: {method} sensitivity analysis needs at least one "
                         f"randomized parameter, got {n_params!r}")
    if method == "morris":
        _check_levels(levels)


def design_rows(method: str, samples: int, n_params: int, levels: int = 4) -> int:
    """Runs the design needs: Sobol' samples (D + 2), Morris samples (D + 1), delta samples."""
    check_design(method, samples, n_params, levels)
    if method == "sobol":
        return int(samples) * (int(n_params) + 2)
    if method == "morris":
        return int(samples) * (int(n_params) + 1)
    return int(samples)


def _problem(n_params: int, names=None) -> dict:
    names = list(names) if names is not None else [f"x{i}" for i in range(n_params)]
    return {"num_vars": n_params, "names": names, "bounds": [[0.0, 1.0]] * n_params}


@functools.lru_cache(maxsize=_DESIGN_CACHE)
def _design(method: str, samples: int, n_params: int, seed: int, levels: int):
    # Cached per process: every worker regenerates the whole design and slices its rows.
    _salib()
    problem = _problem(n_params)
    salib_seed = _salib_seed(seed, _TAG_DESIGN)
    rows = np.arange(design_rows(method, samples, n_params, levels), dtype=np.int64)
    if method == "sobol":
        from SALib.sample import sobol

        u = sobol.sample(problem, samples, calc_second_order=False, scramble=True,
                         seed=salib_seed)
        # Block j of D + 2 rows is A_j, AB_j^1 .. AB_j^D, B_j: A_j and every AB_j^i share
        # stream 2j (so an input that cannot act leaves f(AB^i) == f(A) exactly); B_j gets
        # its own stream 2j + 1.
        block, k = np.divmod(rows, n_params + 2)
        stream = 2 * block + (k == n_params + 1)
    else:
        from SALib.sample import morris

        u = morris.sample(problem, samples, num_levels=levels, seed=salib_seed)
        # Each trajectory's D + 1 rows differ in one input at a time: one stream each.
        stream = rows // (n_params + 1)
    u = np.ascontiguousarray(u, dtype=np.float64)
    stream = np.ascontiguousarray(stream, dtype=np.int64)
    if u.shape != (rows.size, n_params):  # the CRN rule depends on SALib's row order
        raise RuntimeError(f"SALib returned a {method} design of shape {u.shape}, "
                           f"expected {(rows.size, n_params)}")
    u.flags.writeable = False
    stream.flags.writeable = False
    return u, stream


def design(method: str, samples: int, n_params: int, seed: int, levels: int = 4
           ) -> tuple[np.ndarray, np.ndarray]:
    """The runs of a Sobol' or Morris design on the unit hypercube, with their streams.

    Returns ``(u, stream)``: ``u`` float64 (rows, D) in [0, 1], ``stream`` int64 (rows,), the
    replicate index each row runs with. Sobol' (Saltelli et al. 2010, SALib ``sobol.sample``
    without second order): rows A_j and AB_j^i use stream 2j, B_j stream 2j + 1. Morris
    (Morris 1991; SALib ``morris.sample``, ``levels``-level grid): trajectory t uses stream t.

    Deterministic in (method, samples, D, seed, levels) in every process; the last few designs
    are cached and returned read-only. ``delta`` has no design (it takes any sample).
    """
    if method == "delta":
        raise ValueError("sensitivity.method: delta has no design of its own; "
                         "analyse plain [randomize] draws")
    check_design(method, samples, n_params, levels)
    _salib_seed(seed, _TAG_DESIGN)  # reject a bad seed before the cache sees it
    return _design(method, int(samples), int(n_params), int(seed),
                   int(levels) if method == "morris" else 4)


def _nan_result(method: str, n: int) -> dict[str, np.ndarray]:
    return {key: np.full(n, np.nan) for key in _KEYS[method]}


@functools.cache
def _const_message() -> str:
    from SALib.analyze.sobol import CONST_RESULT_MSG

    return CONST_RESULT_MSG


def analyse(method: str, u: np.ndarray, y: np.ndarray, names: list[str], *, seed: int,
            num_resamples: int = 200, conf_level: float = 0.95, levels: int = 4
            ) -> dict[str, np.ndarray]:
    """Sensitivity indices of one output, with bootstrap intervals, computed with SALib.

    ``u`` (rows, D) is the design in run order (for ``delta`` any sample, in unit or the
    parameters' own values), ``y`` (rows,) the output of each run (bool is analysed as 0/1).
    Returns arrays of shape (D,):

    - sobol: ``sobol_first``, ``sobol_total`` and their ``_lo``/``_hi`` (Saltelli et al. 2010)
    - morris: ``morris_mu_star`` with ``_lo``/``_hi``, and ``morris_sigma`` (Campolongo et al.
      2007)
    - delta: ``delta`` with ``_lo``/``_hi`` (Borgonovo 2007; Plischke et al. 2013)

    ``lo``/``hi`` are the index minus/plus SALib's bootstrap half-width at ``conf_level``
    (normal approximation: z times the bootstrap standard deviation); they are not clipped, so
    ``lo`` may fall below 0 when an index is indistinguishable from 0.

    When the output did not vary over the runs an estimator normalises by (every run for
    delta and Morris, the A and B rows for Sobol'), every value is NaN: Sobol' and delta
    indices are then 0/0, and a Morris mu* of 0 with a zero-width interval would claim that
    the output cannot respond, when a rare outcome (hegemony in few runs) may merely not have
    been seen. Deterministic given ``seed``.
    """
    if method not in METHODS:
        raise ValueError(f"sensitivity.method: unknown method {method!r}; "
                         f"use one of {', '.join(METHODS)}")
    u = np.asarray(u, dtype=np.float64)
    y = np.asarray(y).astype(np.float64).reshape(-1)
    names = [str(n) for n in names]
    if u.ndim != 2 or u.shape[1] != len(names) or u.shape[0] != y.size:
        raise ValueError(f"analyse: u must be (rows, {len(names)}) for {len(names)} names and "
                         f"y (rows,); got u {u.shape}, y {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("analyse: y holds NaN or infinite values; select the runs with a "
                         "defined outcome first")
    if not 0 < conf_level < 1:
        raise ValueError(f"analyse: conf_level must lie in (0, 1), got {conf_level!r}")
    if isinstance(num_resamples, bool) or int(num_resamples) < 2:
        raise ValueError(f"analyse: num_resamples must be at least 2, got {num_resamples!r}")
    _salib()
    rows, n = u.shape
    salib_seed = _salib_seed(seed, _TAG_BOOTSTRAP)
    problem = _problem(n)  # SALib's delta rejects some name suffixes: keep ours out of it
    if method == "sobol":
        return _sobol(problem, y, rows, n, salib_seed, int(num_resamples), conf_level)
    if method == "morris":
        return _morris(problem, u, y, rows, n, salib_seed, int(num_resamples), conf_level,
                       levels)
    return _delta(problem, u, y, n, salib_seed, int(num_resamples), conf_level)


def _sobol(problem, y, rows, n, salib_seed, num_resamples, conf_level):
    from SALib.analyze import sobol

    if rows % (n + 2) or rows < 2 * (n + 2):
        raise ValueError(f"analyse: a Sobol' design for {n} parameters has a multiple of "
                         f"{n + 2} rows (at least two blocks), got {rows}")
    step = n + 2
    ab = np.r_[y[0::step], y[step - 1::step]]
    if np.ptp(ab) == 0.0:
        return _nan_result("sobol", n)
    with warnings.catch_warnings():
        # A bootstrap resample of a rare outcome can hold one value only; SALib then scores
        # that resample 0 (no variance to explain) and warns. That is the resample's value.
        warnings.filterwarnings("ignore", message=_const_message(), category=UserWarning)
        s = sobol.analyze(problem, y, calc_second_order=False, num_resamples=num_resamples,
                          conf_level=conf_level, print_to_console=False, seed=salib_seed)
    first, total = np.asarray(s["S1"], float), np.asarray(s["ST"], float)
    first_conf, total_conf = np.asarray(s["S1_conf"], float), np.asarray(s["ST_conf"], float)
    return {"sobol_first": first, "sobol_first_lo": first - first_conf,
            "sobol_first_hi": first + first_conf,
            "sobol_total": total, "sobol_total_lo": total - total_conf,
            "sobol_total_hi": total + total_conf}


def _morris(problem, u, y, rows, n, salib_seed, num_resamples, conf_level, levels):
    from SALib.analyze import morris

    _check_levels(levels)
    if rows % (n + 1) or rows < 2 * (n + 1):
        raise ValueError(f"analyse: a Morris design for {n} parameters has a multiple of "
                         f"{n + 1} rows (at least two trajectories), got {rows}")
    if np.ptp(y) == 0.0:
        return _nan_result("morris", n)
    s = morris.analyze(problem, u, y, num_resamples=num_resamples, conf_level=conf_level,
                       print_to_console=False, num_levels=int(levels), seed=salib_seed)
    mu_star = np.asarray(s["mu_star"], float)
    conf = np.asarray(s["mu_star_conf"], float)
    return {"morris_mu_star": mu_star, "morris_mu_star_lo": mu_star - conf,
            "morris_mu_star_hi": mu_star + conf, "morris_sigma": np.asarray(s["sigma"], float)}


# An output with at most this many distinct values is discrete: its delta is a sum over them.
DISCRETE_VALUES = 16


def _delta(problem, u, y, n, salib_seed, num_resamples, conf_level):
    from SALib.analyze import delta

    if y.size < 20:
        raise ValueError(f"analyse: delta needs at least 20 runs, got {y.size}")
    if np.ptp(y) == 0.0:
        return _nan_result("delta", n)
    if np.unique(y).size <= DISCRETE_VALUES:
        return _delta_discrete(u, y, salib_seed, num_resamples, conf_level)
    # SALib's delta seeds and draws from numpy's global generator and changes the global
    # warning filters and formatter; keep all three as the caller had them.
    state = np.random.get_state()
    formatwarning = warnings.formatwarning
    try:
        # Its notices (bin merges, raw-vs-balanced differences) are recorded and dropped: it
        # resets the filters to "once" itself, so an "ignore" filter would not hold.
        with warnings.catch_warnings(record=True):
            s = delta.analyze(problem, u, y, num_resamples=num_resamples,
                              conf_level=conf_level, print_to_console=False, seed=salib_seed,
                              method="delta")
    finally:
        np.random.set_state(state)
        warnings.formatwarning = formatwarning
    # SALib >= 1.6 reports the estimator under three resampling schemes; "raw" bootstraps the
    # sample as it is, which is the Plischke et al. (2013) estimator earlier releases return.
    key = "delta_raw" if "delta_raw" in s else "delta"
    d = np.asarray(s[key], float)
    conf = np.asarray(s[f"{key}_conf"], float)
    return {"delta": d, "delta_lo": d - conf, "delta_hi": d + conf}


def _delta_classes(n_runs: int) -> int:
    """Conditioning classes per parameter: SALib's rule for its delta estimator (Plischke,
    Borgonovo and Smith 2013), so that both estimators condition alike."""
    exp = 2.0 / (7.0 + np.tanh((1500.0 - n_runs) / 500.0))
    return int(min(int(np.ceil(n_runs ** exp)), 48))


def _delta_discrete(u, y, salib_seed, num_resamples, conf_level):
    """Borgonovo's delta of a discrete output (a binary one: hegemony), from any sample.

    For a discrete Y the density's L1 distance is a sum over its values, so
    delta_i = 1/2 E[sum_v |P(Y = v) - P(Y = v | x_i)|] (Borgonovo 2007, eq. 5, with counting
    measure): for a binary outcome, the mean absolute change of P(hegemony) once x_i is
    known. SALib's estimator smooths Y with a Gaussian kernel, which is singular for a binary
    output (every run of a class holds the same value), so this one conditions on the same
    equal-count classes of x_i as SALib's and counts values instead. A finite class has
    sampling noise, which makes the raw estimate positive even for a parameter that does
    nothing; its expectation under no dependence, the mean over permutations of Y, is
    subtracted (so such a parameter's interval holds 0). The interval is the bootstrap's
    (rows resampled with their classes), z times its standard deviation, as SALib's.
    """
    from scipy.stats import norm

    rows, n = u.shape
    values, yi = np.unique(y, return_inverse=True)
    k = values.size
    m = _delta_classes(rows)
    rng = np.random.default_rng(salib_seed)
    perms = [rng.permutation(rows) for _ in range(20)]
    boots = [rng.integers(0, rows, rows) for _ in range(num_resamples)]
    z = norm.ppf(0.5 + conf_level / 2.0)

    def estimate(cls, take, labels):
        joint = np.bincount(cls[take] * k + labels[take], minlength=m * k).reshape(m, k)
        size = joint.sum(axis=1)
        total = joint.sum(axis=0) / take.size
        cond = joint / np.maximum(size, 1)[:, None]
        return 0.5 * float((size / take.size) @ np.abs(cond - total).sum(axis=1))

    out = {"delta": np.empty(n), "delta_lo": np.empty(n), "delta_hi": np.empty(n)}
    everything = np.arange(rows)
    for i in range(n):
        cls = np.empty(rows, dtype=np.int64)
        cls[np.argsort(u[:, i], kind="stable")] = (np.arange(rows) * m) // rows
        null = float(np.mean([estimate(cls, everything, yi[p]) for p in perms]))
        d = estimate(cls, everything, yi) - null
        spread = np.std([estimate(cls, b, yi) for b in boots], ddof=1)
        out["delta"][i] = d
        out["delta_lo"][i] = d - z * spread
        out["delta_hi"][i] = d + z * spread
    return out


def _infer_method(ds) -> str:
    for method in METHODS:
        if _KEYS[method][0] in ds.data_vars:
            return method
    raise ValueError("no sensitivity indices in the dataset (sobol_total, morris_mu_star or "
                     "delta)")


def sensitivity_dataset(per_cell: list[dict], names, outputs, method: str):
    """Indices of every cell as one xarray Dataset with dims (cell, output, parameter).

    ``per_cell[k][output]`` is :func:`analyse`'s dict for that output in cell k (an output
    missing from a cell is NaN there). Coordinates: ``cell`` 0..K-1, ``output``, ``parameter``;
    the caller may replace ``cell`` by the sweep dimensions.
    """
    import xarray as xr

    if method not in METHODS:
        raise ValueError(f"sensitivity.method: unknown method {method!r}; "
                         f"use one of {', '.join(METHODS)}")
    names, outputs = [str(n) for n in names], [str(o) for o in outputs]
    shape = (len(per_cell), len(outputs), len(names))
    data = {key: np.full(shape, np.nan) for key in _KEYS[method]}
    for k, cell in enumerate(per_cell):
        for j, out in enumerate(outputs):
            result = cell.get(out)
            if result is None:
                continue
            for key in _KEYS[method]:
                data[key][k, j] = np.asarray(result[key], float)
    ds = xr.Dataset(
        {key: (("cell", "output", "parameter"), value) for key, value in data.items()},
        coords={"cell": np.arange(len(per_cell)), "output": outputs, "parameter": names},
        attrs={"method": method},
    )
    for key in ds.data_vars:
        base = key.removesuffix("_lo").removesuffix("_hi")
        name = _LONG_NAMES.get(base, base)
        if key.endswith("_lo"):
            name = f"{name}, lower bound"
        elif key.endswith("_hi"):
            name = f"{name}, upper bound"
        ds[key].attrs["long_name"] = name
    return ds


def ranked(ds, method: str | None = None, output: str = "hegemony"
           ) -> list[tuple[str, float, float, float, float]]:
    """Parameters of one cell, most influential first, as (name, index, lo, hi, second).

    The index is the total Sobol' index, Morris mu* or delta; ``second`` is the first-order
    Sobol' index, Morris sigma, or NaN for delta. NaN indices (no variation) sort last.
    """
    method = method or ds.attrs.get("method") or _infer_method(ds)
    if method not in METHODS:
        raise ValueError(f"sensitivity.method: unknown method {method!r}; "
                         f"use one of {', '.join(METHODS)}")
    cell = ds.sel(output=output) if "output" in ds.dims else ds
    extra = [d for d in cell[_KEYS[method][0]].dims if d != "parameter"]
    if extra:
        raise ValueError(f"ranked: select one cell first (dimensions left: {', '.join(extra)})")
    main, lo, hi = (np.asarray(cell[k].values, float) for k in _KEYS[method][:3])
    second_key = {"sobol": "sobol_first", "morris": "morris_sigma"}.get(method)
    second = (np.asarray(cell[second_key].values, float) if second_key
              else np.full(main.shape, np.nan))
    names = [str(n) for n in cell["parameter"].values]
    order = sorted(range(len(names)),
                   key=lambda i: (math.isnan(main[i]), -main[i] if not math.isnan(main[i])
                                  else 0.0, i))
    return [(names[i], float(main[i]), float(lo[i]), float(hi[i]), float(second[i]))
            for i in order]


def _cell_title(cell: dict) -> str:
    from .summary import _fmt

    return ", ".join(f"{d}={_fmt(v)}" for d, v in cell.items()) or "all runs"


def plot_indices(ds, method: str | None = None, output: str = "hegemony"):
    """Ranked horizontal bars of the indices of one output, one panel per cell of the sweep.

    Sobol': the total index (bar, with its interval) and the first-order index beside it;
    Morris: mu* with its interval and sigma beside it; delta: delta with its interval. ``ds``
    holds the method's variables with dims (output, parameter) plus any sweep dimensions.
    Returns a :class:`matplotlib.figure.Figure` (no pyplot state).
    """
    import itertools

    from matplotlib.figure import Figure

    method = method or ds.attrs.get("method") or _infer_method(ds)
    if method not in METHODS:
        raise ValueError(f"sensitivity.method: unknown method {method!r}; "
                         f"use one of {', '.join(METHODS)}")
    if "output" in ds.dims:
        if output not in ds["output"].values.tolist():
            raise ValueError(f"plot_indices: no output {output!r} in the dataset; it has "
                             f"{', '.join(map(str, ds['output'].values.tolist()))}")
        ds = ds.sel(output=output)
    keys = [k for k in _KEYS[method] if k in ds.data_vars]
    ds = ds[keys].load()
    sweep = [d for d in ds[_KEYS[method][0]].dims if d != "parameter"]
    # Positions, not labels: a sweep dimension may come without a coordinate.
    positions = [dict(zip(sweep, combo, strict=True)) for combo in itertools.product(
        *(range(ds.sizes[d]) for d in sweep))]
    cells = [{d: ds[d].values[i] for d, i in pos.items()} for pos in positions]
    n_params = ds.sizes["parameter"]
    ncols = min(3, len(cells))
    nrows = math.ceil(len(cells) / ncols)
    fig = Figure(figsize=(4.2 * ncols, max(2.0, 0.28 * n_params + 1.2) * nrows),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(cells):]:
        fig.delaxes(ax)
    main_label = {"sobol": "total (ST)", "morris": "mu*", "delta": "delta"}[method]
    second_key = {"sobol": "sobol_first", "morris": "morris_sigma"}.get(method)
    second_label = {"sobol": "first order (S1)", "morris": "sigma"}.get(method)
    for ax, pos, cell in zip(axes, positions, cells, strict=False):
        panel = ds.isel(pos)
        rows = ranked(panel, method, output)
        rows = rows[::-1]  # most influential at the top
        pos = np.arange(len(rows), dtype=float)
        main = np.array([r[1] for r in rows])
        err = np.array([[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]])
        height = 0.4 if second_key else 0.7
        ax.barh(pos + (height / 2 if second_key else 0.0), np.nan_to_num(main), height,
                xerr=np.nan_to_num(err), color="C0", ecolor="0.2", capsize=2,
                label=main_label)
        if second_key:
            second = np.array([r[4] for r in rows])
            if method == "sobol":
                order = [str(p) for p in panel["parameter"].values]
                idx = [order.index(r[0]) for r in rows]
                lo = np.asarray(panel["sobol_first_lo"].values, float)[idx]
                hi = np.asarray(panel["sobol_first_hi"].values, float)[idx]
                serr = np.nan_to_num(np.array([second - lo, hi - second]))
            else:
                serr = None
            ax.barh(pos - height / 2, np.nan_to_num(second), height, xerr=serr, color="C1",
                    ecolor="0.4", capsize=2, label=second_label)
        ax.set_yticks(pos, [r[0] for r in rows])
        ax.axvline(0.0, color="0.5", lw=0.8)
        ax.set_title(_cell_title(cell), fontsize="medium")
        if np.all(np.isnan(main)):
            ax.text(0.5, 0.5, f"{output} did not vary", transform=ax.transAxes,
                    ha="center", va="center", color="0.4")
        ax.set_xlabel(f"{_AXIS_LABELS[method]} of {output}")
    axes[0].legend(loc="lower right", fontsize="small")
    return fig
