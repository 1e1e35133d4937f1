"""Derive ``cow_majors.csv`` (the great-power rows the package ships) from the raw COW files.

Usage::

    python -m stability.data.derive_cow [RAW_DIR] [--out FILE]

``RAW_DIR`` holds the Correlates of War releases ``nmc.csv`` (National Material Capabilities
v6.0), ``majors.csv`` (major-power spells v2016) and ``states.csv`` (State System membership
v2016); it defaults to ``../shared/data/cow`` beside the repository. ``FILE`` defaults to
``cow_majors.csv`` next to this script. See ``COW_CITATION.md`` for the citation.

The rule is MODEL.md section 9: a state is a major power in a year if any part of that year
lies in one of its spells (majors.csv), and its share is its CINC divided by the summed CINC
of that year's majors. Each row also carries the capital's longitude, from which
:func:`stability.analysis.scenarios.scenario_positions` places the state on the ring.

The output is deterministic: rows sorted by year, then descending share, then ccode; CINC
copied as the COW text; shares written as the shortest repr that round-trips the float.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_RAW = HERE.parents[1].parent / "shared" / "data" / "cow"
DEFAULT_OUT = HERE / "cow_majors.csv"
FIRST_YEAR, LAST_YEAR = 1816, 2016

# The releases PROVENANCE.md documents; a different file would silently change the shares.
SHA256 = {
    "nmc.csv": "989920cc06ccb652bf8b0c537f78220463ecfe14c41295a8876e9f263e78f323",
    "majors.csv": "6ba42de12f2f63401ff5a61e6d0037d17b5dd03ed9aca07d0bc16660e03694eb",
    "states.csv": "3d78d333ea75a7791bf5772b203d2ab96b27e70ed52825f5293c474195f47888",
}

# Capitals of the nine COW major powers while they were majors: (ccode, first year, last
# year, city, longitude in degrees east). Longitudes are the cities' conventional
# coordinates to 0.01 degree; a move counts from the year it happened.
CAPITALS = (
    (2, 1800, LAST_YEAR, "Washington", -77.04),
    (200, FIRST_YEAR, LAST_YEAR, "London", -0.13),
    (220, FIRST_YEAR, LAST_YEAR, "Paris", 2.35),
    (255, FIRST_YEAR, LAST_YEAR, "Berlin", 13.40),
    (300, FIRST_YEAR, 1918, "Vienna", 16.37),
    (325, FIRST_YEAR, 1864, "Turin", 7.69),
    (325, 1865, 1870, "Florence", 11.26),
    (325, 1871, LAST_YEAR, "Rome", 12.50),
    (365, FIRST_YEAR, 1917, "St Petersburg", 30.32),
    (365, 1918, LAST_YEAR, "Moscow", 37.62),
    (710, 1949, LAST_YEAR, "Beijing", 116.40),
    (740, 1868, LAST_YEAR, "Tokyo", 139.69),
)

COLUMNS = ("year", "stateabb", "ccode", "statenme", "cinc", "share", "capital", "capital_lon")


def _read(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[path.name]:
        raise ValueError(f"{path} has sha256 {digest}, expected the COW release "
                         f"{SHA256[path.name]} (see PROVENANCE.md)")
    # newline="" keeps csv in charge of the CRLF line ends of the COW originals.
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _capital(ccode: int, year: int) -> tuple[str, float]:
    for code, first, last, city, lon in CAPITALS:
        if code == ccode and first <= year <= last:
            return city, lon
    raise ValueError(f"no capital recorded for ccode {ccode} in {year}")


def derive(raw: Path) -> str:
    """The text of ``cow_majors.csv`` derived from the COW files in ``raw``."""
    raw = Path(raw)
    nmc = _read(raw / "nmc.csv")
    majors = _read(raw / "majors.csv")
    states = _read(raw / "states.csv")

    cinc = {(int(r["ccode"]), int(r["year"])): r for r in nmc}
    names = {int(r["ccode"]): r["statenme"] for r in states}
    spells = [(int(r["ccode"]), r["stateabb"], int(r["styear"]), int(r["endyear"]))
              for r in majors]

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        # A state with two spells touching one year (none in v2016) must still count once.
        members = sorted({(code, abb) for code, abb, st, end in spells if st <= year <= end})
        rows = []
        for code, abb in members:
            rec = cinc.get((code, year))
            if rec is None or rec["stateabb"] != abb or float(rec["cinc"]) < 0:
                raise ValueError(f"no usable CINC for major {abb} ({code}) in {year}")
            rows.append((code, abb, rec["cinc"], float(rec["cinc"])))
        total = math.fsum(value for *_, value in rows)
        shares = [(value / total, code, abb, text) for code, abb, text, value in rows]
        for share, code, abb, text in sorted(shares, key=lambda s: (-s[0], s[1])):
            city, lon = _capital(code, year)
            writer.writerow((year, abb, code, names[code], text, repr(share), city, f"{lon:.2f}"))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=DEFAULT_RAW,
                        help=f"folder with the COW files (default {DEFAULT_RAW})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output csv (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    for name in SHA256:
        if not (args.raw / name).is_file():
            print(f"derive_cow: {args.raw / name} not found", file=sys.stderr)
            return 2
    try:
        text = derive(args.raw)
    except ValueError as exc:
        print(f"derive_cow: {exc}", file=sys.stderr)
        return 2
    args.out.write_bytes(text.encode("utf-8"))
    print(f"derive_cow: wrote {text.count(chr(10)) - 1} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
