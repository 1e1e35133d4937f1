"""Compiled pattern statistics of share histories: the same code for the data and the model.

A history is a ``(runs, years, units)`` float64 array of capability shares, NaN where a unit
holds no state, with an int64 array of the same shape naming each unit's occupant (-1 where
empty). For the COW record there is one run and a unit is a state (its occupant is always the
same); for the model a unit is a slot and the occupant tells an entrant from the state that
held the slot before it. Two observations at years t and t+k are one state's when the unit is
occupied at both and by the same occupant: a state that leaves and comes back (France
1941-1944) is counted over the gap, an entrant is never chained to its slot's former holder.

The statistics are those of docs/calibration.md: for each lag k the standard deviation of
``log s(t+k) - log s(t)`` (the capability process: growing like sqrt(k) for a random walk of
log shares, levelling off when shares revert), the largest share and the Herfindahl-Hirschman
index per year, and entries and exits per year. They are computed here, in compiled loops,
so that a calibration spends its time simulating rather than in Python (numbagg-style plain
loops over preallocated arrays).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _lag_moments(shares, occ, lags, n, mean, m2):
    """Per run and lag: count, mean and sum of squared deviations of the k-year log-share
    changes (two passes, so that the variance does not come from a difference of sums)."""
    runs, years, units = shares.shape
    logs = np.empty((years, units))
    for r in range(runs):
        for t in range(years):
            for u in range(units):
                logs[t, u] = math.log(shares[r, t, u]) if occ[r, t, u] >= 0 else 0.0
        for j in range(lags.size):
            k = lags[j]
            cnt = 0
            tot = 0.0
            for t in range(years - k):
                for u in range(units):
                    o = occ[r, t, u]
                    if o >= 0 and occ[r, t + k, u] == o:
                        tot += logs[t + k, u] - logs[t, u]
                        cnt += 1
            n[r, j] = cnt
            if cnt == 0:
                mean[r, j] = np.nan
                m2[r, j] = np.nan
                continue
            mu = tot / cnt
            acc = 0.0
            for t in range(years - k):
                for u in range(units):
                    o = occ[r, t, u]
                    if o >= 0 and occ[r, t + k, u] == o:
                        d = logs[t + k, u] - logs[t, u] - mu
                        acc += d * d
            mean[r, j] = mu
            m2[r, j] = acc


@njit(nogil=True, cache=True)
def _yearly(shares, occ, top, hhi, count, entries, exits):
    """Per run and year: largest share, HHI, states present, entries and exits since the
    year before (NaN for the first year and for years with no state, e.g. after a run ended)."""
    runs, years, units = shares.shape
    for r in range(runs):
        for t in range(years):
            best = 0.0
            h = 0.0
            c = 0
            for u in range(units):
                if occ[r, t, u] >= 0:
                    s = shares[r, t, u]
                    best = max(best, s)
                    h += s * s
                    c += 1
            count[r, t] = c
            if c == 0:
                top[r, t] = np.nan
                hhi[r, t] = np.nan
                entries[r, t] = np.nan
                exits[r, t] = np.nan
                continue
            top[r, t] = best
            hhi[r, t] = h
            if t == 0 or count[r, t - 1] == 0:
                entries[r, t] = np.nan
                exits[r, t] = np.nan
                continue
            ent = 0
            ext = 0
            for u in range(units):
                now, before = occ[r, t, u], occ[r, t - 1, u]
                if now >= 0 and now != before:
                    ent += 1
                if before >= 0 and now != before:
                    ext += 1
            entries[r, t] = ent
            exits[r, t] = ext


def pattern_arrays(shares, occupant, max_lag: int, lags=None) -> dict:
    """The statistics of a ``(runs, years, units)`` history, as numpy arrays.

    Returns ``n``, ``mean``, ``m2`` (runs, lag): the count, mean and summed squared
    deviation of the k-year log-share changes per run, for k = 1..max_lag or, if given, the
    lags ``lags`` only (a calibration needs a few); ``max_share``, ``hhi``, ``majors``,
    ``entries``, ``exits`` (runs, years). The caller pools the lag moments over runs
    (:func:`pooled_sd`) or takes them per run.
    """
    shares = np.ascontiguousarray(shares, dtype=np.float64)
    occupant = np.ascontiguousarray(occupant, dtype=np.int64)
    if shares.ndim != 3 or occupant.shape != shares.shape:
        raise ValueError(f"shares and occupant must be (runs, years, units) arrays of one "
                         f"shape, got {shares.shape} and {occupant.shape}")
    runs, years, _ = shares.shape
    lags = (np.arange(1, int(max_lag) + 1) if lags is None
            else np.asarray(lags, dtype=np.int64))
    if lags.size and (lags.min() < 1 or lags.max() >= years):
        raise ValueError(f"lags must lie in 1..{years - 1}, got {lags.tolist()}")
    n = np.zeros((runs, lags.size), dtype=np.int64)
    mean = np.zeros((runs, lags.size))
    m2 = np.zeros((runs, lags.size))
    _lag_moments(shares, occupant, lags, n, mean, m2)
    top = np.zeros((runs, years))
    hhi = np.zeros((runs, years))
    count = np.zeros((runs, years), dtype=np.int64)
    entries = np.zeros((runs, years))
    exits = np.zeros((runs, years))
    _yearly(shares, occupant, top, hhi, count, entries, exits)
    return {"n": n, "mean": mean, "m2": m2, "max_share": top, "hhi": hhi, "majors": count,
            "entries": entries, "exits": exits}


def pooled_sd(n, mean, m2, axis=0):
    """Sample standard deviation (ddof 1) of the pooled observations of several groups, from
    their counts, means and summed squared deviations (Chan, Golub and LeVeque 1979)."""
    n = np.asarray(n, dtype=np.float64)
    ok = n > 0
    mean = np.where(ok, mean, 0.0)
    m2 = np.where(ok, m2, 0.0)
    total = n.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        grand = (n * mean).sum(axis=axis) / total
        dev = mean - np.expand_dims(grand, axis)
        ss = m2.sum(axis=axis) + (n * dev * dev).sum(axis=axis)
        return np.where(total > 1, np.sqrt(ss / (total - 1)), np.nan)
