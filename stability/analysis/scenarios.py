"""Historical starting systems from the Correlates of War (COW) capability data.

``scenario = "cow:YEAR"`` starts from that year's major powers (COW State System, v2016) with
their CINC shares (National Material Capabilities v6.0) normalised among the majors: a state
is a major power in a year if any part of that year lies in one of its spells (MODEL.md
section 9). The table is ``stability/data/cow_majors.csv``, derived from the raw COW files by
``stability/data/derive_cow.py``; ``stability/data/COW_CITATION.md`` says what to cite.

``scenario = "cow-all:YEAR"`` starts from every member of the system that year (each has a
CINC score), shares normalised among them (``cow_cinc.csv``), placed at their capitals of that
year (``cow_capitals.csv``; derive_cow.py states the rule), by default with the great-circle
distances between the capitals as the geography.
"""

from __future__ import annotations

import csv
import io
import math
import re
from functools import lru_cache
from importlib import resources

import numpy as np

FIRST_YEAR, LAST_YEAR = 1816, 2016
_PATTERN = re.compile(r"(cow|cow-all):([0-9]{4})")
EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def _parse(name: object) -> tuple[str, int]:
    match = _PATTERN.fullmatch(name) if isinstance(name, str) else None
    if match is None or not FIRST_YEAR <= int(match.group(2)) <= LAST_YEAR:
        raise ValueError(f"unknown scenario {name!r}: expected 'cow:YEAR' or 'cow-all:YEAR' "
                         f"with YEAR in {FIRST_YEAR}..{LAST_YEAR}")
    return match.group(1), int(match.group(2))


def _year(name: object) -> int:
    return _parse(name)[1]


def _text(name: str) -> str:
    return resources.files("stability").joinpath("data", name).read_text("utf-8")


@lru_cache(maxsize=1)
def _capitals() -> dict[int, list[tuple[int, int, str, str, str, float, float]]]:
    """{ccode: [(first, last, stateabb, statenme, capital, lat, lon), ...]}."""
    out: dict[int, list] = {}
    for r in csv.DictReader(io.StringIO(_text("cow_capitals.csv"))):
        out.setdefault(int(r["ccode"]), []).append(
            (int(r["first"]), int(r["last"]), r["stateabb"], r["statenme"], r["capital"],
             float(r["lat"]), float(r["lon"])))
    return out


def _capital(code: int, year: int) -> tuple[str, str, str, float, float]:
    for first, last, abb, name, city, lat, lon in _capitals()[code]:
        if first <= year <= last:
            return abb, name, city, lat, lon
    raise ValueError(f"no capital for ccode {code} in {year}")


@lru_cache(maxsize=1)
def _members() -> dict[int, tuple[tuple[int, float], ...]]:
    """{year: ((ccode, cinc), ...)} in descending CINC, ties by ccode."""
    rows: dict[int, list[tuple[int, float]]] = {}
    for r in csv.DictReader(io.StringIO(_text("cow_cinc.csv"))):
        rows.setdefault(int(r["year"]), []).append((int(r["ccode"]), float(r["cinc"])))
    return {y: tuple(sorted(v, key=lambda m: (-m[1], m[0]))) for y, v in rows.items()}


@lru_cache(maxsize=512)
def _states(name: str) -> tuple[tuple[str, float, str, float, float, str], ...]:
    """The scenario's states: ((stateabb, share, capital, lat, lon, statenme), ...), in
    descending share."""
    kind, year = _parse(name)
    if kind == "cow":
        codes = {abb: int(code) for abb, code in _majors_codes()[year]}
        rows = [(abb, share, code) for abb, share, _ in _table()[year]
                for code in [codes[abb]]]
    else:
        members = _members().get(year, ())
        if not members:
            raise ValueError(f"scenario {name!r}: no COW members with a CINC score in {year}")
        total = math.fsum(c for _, c in members)
        rows = [(_capital(code, year)[0], c / total, code) for code, c in members]
    out = []
    for abb, share, code in rows:
        _, statenme, city, lat, lon = _capital(code, year)
        out.append((abb, share, city, lat, lon, statenme))
    return tuple(out)


@lru_cache(maxsize=1)
def _table() -> dict[int, tuple[tuple[str, float, float], ...]]:
    """{year: ((stateabb, share, capital longitude), ...)} in file order (share descending)."""
    text = resources.files("stability").joinpath("data", "cow_majors.csv").read_text("utf-8")
    rows: dict[int, list[tuple[str, float, float]]] = {}
    for r in csv.DictReader(io.StringIO(text)):
        rows.setdefault(int(r["year"]), []).append(
            (r["stateabb"], float(r["share"]), float(r["capital_lon"])))
    return {year: tuple(states) for year, states in rows.items()}


@lru_cache(maxsize=1)
def _majors_codes() -> dict[int, tuple[tuple[str, str], ...]]:
    rows: dict[int, list[tuple[str, str]]] = {}
    for r in csv.DictReader(io.StringIO(_text("cow_majors.csv"))):
        rows.setdefault(int(r["year"]), []).append((r["stateabb"], r["ccode"]))
    return {year: tuple(v) for year, v in rows.items()}


def load_scenario(name: str, capitals: bool = False) -> dict:
    """Shares of a scenario's states, ``{stateabb: share}``: for ``"cow:YEAR"`` the COW major
    powers of that year, for ``"cow-all:YEAR"`` every COW system member with a CINC score.

    Shares are CINC normalised among the scenario's states (they sum to 1), ordered by
    descending share, ties by COW country code. With ``capitals``, each state's value is a
    dict of its ``share``, ``name``, ``capital`` (that year's) and the capital's ``lat`` and
    ``lon`` in degrees. Raises ValueError for any other name or a year outside 1816..2016.
    Data: Singer, Bremer and Stuckey (1972); COW NMC v6.0 (2021); COW State System v2016;
    capital coordinates from GeoNames.
    """
    if _parse(name)[0] == "cow" and not capitals:
        return {abb: share for abb, share, _ in _table()[_year(name)]}
    if not capitals:
        return {abb: share for abb, share, *_ in _states(name)}
    return {abb: {"share": share, "name": statenme, "capital": city, "lat": lat, "lon": lon}
            for abb, share, city, lat, lon, statenme in _states(name)}


def scenario_distances_km(name: str) -> np.ndarray:
    """Great-circle distances in km between the capitals of the scenario's states, in the
    order of :func:`load_scenario`: the haversine formula on a sphere of the Earth's mean
    radius (EARTH_RADIUS_KM), whose error against the ellipsoid is under 0.5%."""
    states = _states(name)
    lat = np.radians([s[3] for s in states])
    lon = np.radians([s[4] for s in states])
    h = (np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
         + np.cos(lat[:, None]) * np.cos(lat[None, :])
         * np.sin((lon[:, None] - lon[None, :]) / 2) ** 2)
    d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    d = np.minimum(d, d.T)  # exactly symmetric
    np.fill_diagonal(d, 0.0)
    return d


def scenario_positions(name: str) -> dict[str, float]:
    """Ring positions in [0, 1) of the states of :func:`load_scenario`, in the same order.

    A state sits at ``x = ((lon + 180) / 360) mod 1``, ``lon`` being its capital's longitude
    in degrees east (``capital_lon`` in ``cow_majors.csv``; Moscow for Russia from 1918,
    Rome for Italy from 1871). The ring is then the globe's circle of longitude, so the
    European powers sit close together and the USA, Japan and China far from them and from
    each other, and the loss-of-strength gradient (Boulding 1962) acts roughly as
    geography does. Latitude is ignored. For ``"cow-all:YEAR"``, the capitals are those of
    ``cow_capitals.csv``.
    """
    if _parse(name)[0] == "cow":
        return {abb: ((lon + 180.0) / 360.0) % 1.0 for abb, _, lon in _table()[_year(name)]}
    return {abb: ((lon + 180.0) / 360.0) % 1.0 for abb, _, _, _, lon, _ in _states(name)}
