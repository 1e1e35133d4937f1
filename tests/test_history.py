"""Empirical patterns from the COW record, checked by hand against the data."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from stability import history
from stability.model.patterns import pattern_arrays, pooled_sd

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT.parent / "shared" / "data" / "cow"
SHIPPED = ROOT / "stability" / "data" / "cow_majors.csv"


def _shares() -> dict[tuple[str, int], float]:
    with open(SHIPPED, newline="") as f:
        return {(r["stateabb"], int(r["year"])): float(r["share"]) for r in csv.DictReader(f)}


def _hand_sd(a: int, b: int, k: int) -> tuple[float, int]:
    """sd of the k-year log-share change, written out directly from the table's rows."""
    s = _shares()
    changes = [math.log(s[(abb, y + k)]) - math.log(s[(abb, y)])
               for (abb, y) in s if a <= y and y + k <= b and (abb, y + k) in s]
    return statistics.stdev(changes), len(changes)


@pytest.mark.parametrize("period,lag", [((1816, 2016), 1), ((1816, 2016), 7),
                                        ((1816, 1913), 50), ((1950, 2016), 3),
                                        ((1930, 1960), 12)])
def test_log_share_sd_by_hand(period, lag):
    ds = history.patterns(period)
    want, pairs = _hand_sd(*period, lag)
    assert int(ds.pairs.sel(lag=lag)) == pairs
    assert float(ds.log_share_sd.sel(lag=lag)) == pytest.approx(want, rel=1e-12)


def test_france_counted_over_its_gap():
    # France is a major in 1940 and again in 1945: the 5-year change 1940 -> 1945 counts,
    # the changes from 1941-1944 do not exist
    s = _shares()
    assert ("FRN", 1940) in s and ("FRN", 1945) in s and ("FRN", 1942) not in s
    ds = history.patterns((1936, 1950))
    _, pairs = _hand_sd(1936, 1950, 5)
    assert int(ds.pairs.sel(lag=5)) == pairs


def test_concentration_against_provenance_check_values():
    # PROVENANCE.md: 1914 shares (3 decimals); the largest is the USA's .254
    ds = history.patterns((1900, 1920))
    assert float(ds.max_share.sel(year=1914)) == pytest.approx(0.254, abs=5e-4)
    s = _shares()
    row = [v for (abb, y), v in s.items() if y == 1914]
    assert float(ds.hhi.sel(year=1914)) == pytest.approx(sum(v * v for v in row), rel=1e-12)
    assert int(ds.majors.sel(year=1914)) == 8


# Spells of majors.csv (PROVENANCE.md): with the any-part-of-the-year rule a spell starting in
# year Y is an entry in Y, one ending in year Y an exit in Y + 1 (none ends in 2016 but those
# running to the end of the data).
SPELL_STARTS = [1860, 1895, 1898, 1922, 1925, 1945, 1950, 1991, 1991]
SPELL_EXITS = [1918, 1919, 1919, 1941, 1944, 1946, 1946]


def test_entries_and_exits_follow_the_spells():
    ds = history.patterns((1816, 2016))
    years = ds.year.values
    got_entries = np.repeat(years[1:], ds.entries.values[1:].astype(int)).tolist()
    got_exits = np.repeat(years[1:], ds.exits.values[1:].astype(int)).tolist()
    assert got_entries == SPELL_STARTS
    assert got_exits == SPELL_EXITS
    assert np.isnan(ds.entries.values[0]) and np.isnan(ds.exits.values[0])


@pytest.mark.skipif(not (RAW / "majors.csv").is_file(), reason="raw COW files not found")
def test_spell_table_matches_raw_majors_file():
    with open(RAW / "majors.csv", newline="") as f:
        spells = [(int(r["styear"]), int(r["endyear"])) for r in csv.DictReader(f)]
    assert sorted(st for st, _ in spells if st > 1816) == SPELL_STARTS
    assert sorted(end + 1 for _, end in spells if end < 2016) == SPELL_EXITS


@pytest.mark.parametrize("period,match", [
    ((1800, 1900), "outside"), ((1900, 2020), "outside"), ((1913, 1816), "before"),
    ((1900, 1900), "before"), ((1900,), "two years"), ("1816-1913", "two years"),
    ((1816.0, 1913), "integers"),
])
def test_bad_periods_rejected(period, match):
    with pytest.raises(ValueError, match=match) as err:
        history.patterns(period)
    assert "\n" not in str(err.value)


def test_lag_limited_by_period():
    ds = history.patterns((1990, 2000))
    assert ds.lag.values.tolist() == list(range(1, 11))


def test_entrant_not_chained_to_former_holder():
    # one slot, held by occupant 0 for years 0-1 and by occupant 1 from year 2: no 2-year
    # change crosses the change of holder; an entry and an exit are counted in year 2
    shares = np.array([[[0.5, 0.5], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]]])
    occ = np.array([[[0, 5], [0, 5], [1, 5], [1, 5]]])
    st = pattern_arrays(shares, occ, 3)
    assert st["n"][0].tolist() == [2 + 3, 0 + 2, 0 + 1]
    assert st["entries"][0, 2] == 1 and st["exits"][0, 2] == 1 and st["entries"][0, 1] == 0
    d1 = [math.log(0.4 / 0.5), math.log(0.2 / 0.3), math.log(0.6 / 0.5), math.log(0.7 / 0.6),
          math.log(0.8 / 0.7)]
    assert pooled_sd(st["n"], st["mean"], st["m2"], axis=0)[0] == pytest.approx(
        statistics.stdev(d1), rel=1e-12)


def test_pooled_sd_equals_sd_of_pooled_values():
    rng = np.random.default_rng(3)
    groups = [rng.normal(m, 1.0, size=n) for m, n in ((0.0, 5), (2.0, 9), (-1.0, 1))]
    n = np.array([len(g) for g in groups])
    mean = np.array([g.mean() for g in groups])
    m2 = np.array([((g - g.mean()) ** 2).sum() for g in groups])
    assert pooled_sd(n, mean, m2) == pytest.approx(np.concatenate(groups).std(ddof=1), rel=1e-12)
