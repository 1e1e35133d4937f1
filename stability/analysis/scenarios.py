"""Historical starting systems from the Correlates of War (COW) capability data.

``scenario = "cow:YEAR"`` starts from that year's major powers (COW State System, v2016) with
their CINC shares (National Material Capabilities v6.0) normalised among the majors: a state
is a major power in a year if any part of that year lies in one of its spells (MODEL.md
section 9). The table is ``stability/data/cow_majors.csv``, derived from the raw COW files by
``stability/data/derive_cow.py``; ``stability/data/COW_CITATION.md`` says what to cite.
"""

from __future__ import annotations

import csv
import io
import re
from functools import lru_cache
from importlib import resources

FIRST_YEAR, LAST_YEAR = 1816, 2016
_PATTERN = re.compile(r"cow:([0-9]{4})")


def _year(name: object) -> int:
    match = _PATTERN.fullmatch(name) if isinstance(name, str) else None
    if match is None or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise ValueError(f"unknown scenario {name!r}: expected 'cow:YEAR' with YEAR in "
                         f"{FIRST_YEAR}..{LAST_YEAR}")
    return int(match.group(1))


@lru_cache(maxsize=1)
def _table() -> dict[int, tuple[tuple[str, float, float], ...]]:
    """{year: ((stateabb, share, capital longitude), ...)} in file order (share descending)."""
    text = resources.files("stability").joinpath("data", "cow_majors.csv").read_text("utf-8")
    rows: dict[int, list[tuple[str, float, float]]] = {}
    for r in csv.DictReader(io.StringIO(text)):
        rows.setdefault(int(r["year"]), []).append(
            (r["stateabb"], float(r["share"]), float(r["capital_lon"])))
    return {year: tuple(states) for year, states in rows.items()}


def load_scenario(name: str) -> dict[str, float]:
    """Shares of the COW major powers in a year, ``{stateabb: share}``, for ``"cow:YEAR"``.

    Shares are CINC normalised among that year's majors (they sum to 1), ordered by
    descending share, ties by COW country code. Raises ValueError for any other name or a
    year outside 1816..2016. Data: Singer, Bremer and Stuckey (1972); COW NMC v6.0 (2021);
    COW State System v2016.
    """
    return {abb: share for abb, share, _ in _table()[_year(name)]}


def scenario_positions(name: str) -> dict[str, float]:
    """Ring positions in [0, 1) of the states of :func:`load_scenario`, in the same order.

    A state sits at ``x = ((lon + 180) / 360) mod 1``, ``lon`` being its capital's longitude
    in degrees east (``capital_lon`` in ``cow_majors.csv``; Moscow for Russia from 1918,
    Rome for Italy from 1871). The ring is then the globe's circle of longitude, so the
    European powers sit close together and the USA, Japan and China far from them and from
    each other, and the loss-of-strength gradient (Boulding 1962) acts roughly as
    geography does. Latitude is ignored.
    """
    return {abb: ((lon + 180.0) / 360.0) % 1.0 for abb, _, lon in _table()[_year(name)]}
