"""Empirical patterns of the great-power system from the Correlates of War record, and the
same patterns from the model, computed by one compiled function (docs/calibration.md).

The data are the shares of the majors' summed CINC per year (``stability/data/cow_majors.csv``,
COW NMC v6.0 and State System v2016; a state is a major in a year if any part of that year
lies in one of its spells, MODEL.md section 9). Entries and exits follow from consecutive
years' membership: a state is an entrant in year t when it is a major in t and was not in
t - 1, and exits in year t when it was a major in t - 1 and is not in t. With the any-part-of-
the-year rule a spell that ends in year Y shows as an exit in Y + 1 (France's spell ends on
22 June 1940: it is a major in 1940, exits in 1941 and re-enters in 1945).

``patterns(period=(a, b))`` gives the data's patterns; ``simulated_patterns`` the model's for
runs started from ``cow:a`` with a step read as one year.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

import numpy as np
import xarray as xr

from .model.patterns import pattern_arrays, pooled_sd

FIRST_YEAR, LAST_YEAR = 1816, 2016
MAX_LAG = 50

_ATTRS = {
    "log_share_sd": ("standard deviation of the k-year change of log share, over "
                     "major-power-years (a state counted when major in both years)", "1"),
    "pairs": ("major-power-years pooled for the lag", "state-years"),
    "max_share": ("largest share of the majors' summed capability", "1"),
    "hhi": ("Herfindahl-Hirschman index of the majors' shares", "1"),
    "majors": ("major powers in the year", "states"),
    "entries": ("states that became majors since the year before", "states"),
    "exits": ("states that stopped being majors since the year before", "states"),
}


def check_period(period) -> tuple[int, int]:
    """``(a, b)`` as two ints with FIRST_YEAR <= a < b <= LAST_YEAR, else a one-line ValueError."""
    try:
        a, b = period
    except (TypeError, ValueError):
        raise ValueError(f"period must be two years (first, last), got {period!r}") from None
    for y in (a, b):
        if isinstance(y, bool) or not isinstance(y, (int, np.integer)):
            raise ValueError(f"period years must be integers, got {period!r}")
    a, b = int(a), int(b)
    if not FIRST_YEAR <= a <= LAST_YEAR or not FIRST_YEAR <= b <= LAST_YEAR:
        raise ValueError(f"period {a}-{b} lies outside the COW data ({FIRST_YEAR}-{LAST_YEAR})")
    if a >= b:
        raise ValueError(f"period {a}-{b}: the first year must come before the last")
    return a, b


@lru_cache(maxsize=1)
def _record() -> tuple[tuple[str, ...], np.ndarray]:
    """(state abbreviations, shares (years, states) with NaN where not a major)."""
    text = resources.files("stability").joinpath("data", "cow_majors.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    # units in order of first appearance as a major, ties by ccode
    first: dict[str, tuple[int, int]] = {}
    for r in rows:
        first.setdefault(r["stateabb"], (int(r["year"]), int(r["ccode"])))
    states = tuple(sorted(first, key=first.get))
    col = {abb: k for k, abb in enumerate(states)}
    shares = np.full((LAST_YEAR - FIRST_YEAR + 1, len(states)), np.nan)
    for r in rows:
        shares[int(r["year"]) - FIRST_YEAR, col[r["stateabb"]]] = float(r["share"])
    shares.setflags(write=False)
    return states, shares


def cow_shares(period=(FIRST_YEAR, LAST_YEAR)) -> xr.DataArray:
    """The majors' shares per year, dims (year, state), NaN where a state is not a major."""
    a, b = check_period(period)
    states, shares = _record()
    return xr.DataArray(shares[a - FIRST_YEAR:b - FIRST_YEAR + 1], dims=("year", "state"),
                        coords={"year": np.arange(a, b + 1), "state": list(states)},
                        name="share", attrs={"long_name": "share of the majors' summed CINC",
                                             "units": "1"})


def _dataset(stats: dict, years: np.ndarray, max_lag: int, per_run: bool) -> xr.Dataset:
    lag = np.arange(1, max_lag + 1)
    data = {}
    pooled = pooled_sd(stats["n"], stats["mean"], stats["m2"], axis=0)
    data["log_share_sd"] = ("lag", pooled)
    data["pairs"] = ("lag", stats["n"].sum(axis=0))
    yearly = ("max_share", "hhi", "majors", "entries", "exits")
    for name in yearly:
        values = stats[name]
        data[name] = (("run", "year"), values) if per_run else ("year", values[0])
    if per_run:
        with np.errstate(invalid="ignore", divide="ignore"):
            n = stats["n"].astype(np.float64)
            run_sd = np.where(n > 1, np.sqrt(stats["m2"] / np.maximum(n - 1, 1)), np.nan)
        data["run_log_share_sd"] = (("run", "lag"), run_sd)
    ds = xr.Dataset(data, coords={"lag": lag, "year": years})
    for name, (long_name, units) in _ATTRS.items():
        ds[name].attrs.update(long_name=long_name, units=units)
    if per_run:
        ds["run_log_share_sd"].attrs.update(long_name="log_share_sd of each run alone",
                                            units="1")
    return ds


def patterns(period=(FIRST_YEAR, LAST_YEAR), max_lag: int = MAX_LAG) -> xr.Dataset:
    """The COW record's patterns over ``period`` (first and last year, inclusive).

    Variables: ``log_share_sd`` and ``pairs`` (lag k = 1..min(max_lag, b - a)), ``max_share``,
    ``hhi``, ``majors``, ``entries``, ``exits`` (year); entries and exits are NaN in the first
    year (its predecessor lies outside the period). Raises ValueError for a period outside
    1816-2016 or reversed.
    """
    a, b = check_period(period)
    max_lag = _check_lag(max_lag, a, b)
    _, shares = _record()
    window = shares[a - FIRST_YEAR:b - FIRST_YEAR + 1]
    occ = np.where(np.isnan(window), -1, np.arange(window.shape[1])[None, :])
    stats = pattern_arrays(window[None], occ[None], max_lag)
    ds = _dataset(stats, np.arange(a, b + 1), max_lag, per_run=False)
    ds.attrs.update(source="Correlates of War: NMC v6.0, State System v2016",
                    period=f"{a}-{b}")
    return ds


def simulated_patterns(params: dict | None = None, period=(FIRST_YEAR, LAST_YEAR),
                       replicates: int = 100, seed: int = 0, max_lag: int = MAX_LAG,
                       pmat=None) -> xr.Dataset:
    """The model's patterns for runs started from ``cow:a``, one step per year to ``b``.

    ``params`` are model parameters (``scenario`` and ``horizon`` are set from the period;
    giving either is an error). ``pmat`` may instead give packed parameter rows directly
    (one row, or one per replicate). A run that ends in hegemony before ``b`` has no shares
    after it: those years are missing, as if the system had left the data, and take no part
    in any statistic. Besides the pooled ``log_share_sd`` the dataset carries the yearly
    patterns per run (dim ``run``) and ``run_log_share_sd``, for predictive bands.
    """
    from . import params as P
    from .model.simulate import run_batch

    a, b = check_period(period)
    max_lag = _check_lag(max_lag, a, b)
    if pmat is None:
        given = dict(params or {})
        for key in ("scenario", "horizon", "shares", "polarity", "n_states"):
            if key in given:
                raise ValueError(f"parameter '{key}' is set by the period in "
                                 f"simulated_patterns; leave it out")
        given.update(scenario=f"cow:{a}", horizon=b - a)
        pmat = P.pack(P.resolve(given))[None, :]
    out = run_batch(pmat, seed, np.arange(int(replicates)), record_shares=True)
    stats = pattern_arrays(out["shares"], out["occupant"], max_lag)
    ds = _dataset(stats, np.arange(a, b + 1), max_lag, per_run=True)
    ds["hegemony"] = ("run", out["hegemony"])
    ds["hegemony_time"] = ("run", out["hegemony_time"])
    ds.attrs.update(source="model", period=f"{a}-{b}", seed=int(seed))
    return ds


def _check_lag(max_lag, a: int, b: int) -> int:
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 1:
        raise ValueError(f"max_lag must be a positive integer, got {max_lag!r}")
    return int(min(max_lag, b - a))
