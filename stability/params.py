"""Model parameters: public names, defaults, doctrine presets, validation, packing.

Names and defaults are those of the model specification (``docs/model.md``, MODEL.md
section 5). They are stated priors, not fitted values.

Everything the compiled kernels read arrives as one float64 vector per replicate built by
:func:`pack`; the ``P_*`` constants below are its layout. Validation happens here, before
packing, so no kernel ever sees an invalid value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_SLOTS = 256  # state slots per system (the kernel's relations: one mask word up to 32, else
# multi-word masks, see model/wide.py)

POLARITIES = ("unipolar", "bipolar", "multipolar")
DOCTRINES = ("defensive", "offensive")
INITIATORS = ("all", "revisionist")
GEOGRAPHIES = ("ring", "distances", "sphere")
GEO_RING, GEO_DISTANCES, GEO_SPHERE = range(3)  # their codes in the packed vector
# Distances are kept in units of the Earth's circumference (2 pi times the mean radius,
# 6371.0088 km): the antipode is then 1/2 away, as the farthest point of the ring, which is
# the equator of that sphere (docs/model.md, section "Geography").
EARTH_CIRCUMFERENCE_KM = 2.0 * math.pi * 6371.0088
# Start codes in the packed vector: the three samplers, then an explicit share vector.
START_UNIPOLAR, START_BIPOLAR, START_MULTIPOLAR, START_SHARES = 0, 1, 2, 3


@dataclass(frozen=True)
class Spec:
    """One public parameter: its kind, default, allowed range and meaning."""

    kind: str  # "float" | "int" | "bool" | "choice" | "range" | "irange" | "shares" | "scenario"
    #            | "positions" | "path"
    default: Any
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple = ()
    doc: str = ""

    def describe(self) -> str:
        """The allowed values, in words, for error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "shares":
            return f"a list of 2 to {MAX_SLOTS} positive numbers"
        if self.kind == "positions":
            return "a list of numbers in [0, 1), one per starting share"
        if self.kind == "scenario":
            return "a string 'cow:YEAR' or 'cow-all:YEAR' with YEAR in 1816..2016"
        if self.kind == "path":
            return "the path of a CSV file"
        lb = "(" if self.lo_open else "["
        rb = ")" if self.hi_open else "]"
        what = {"float": "a number", "int": "an integer",
                "range": "a list [low, high] of numbers",
                "irange": "a list [low, high] of integers"}
        return f"{what[self.kind]} in {lb}{_fmt(self.lo)}, {_fmt(self.hi)}{rb}"


def _fmt(v):
    if v is None:
        return "inf"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:g}"


INF = math.inf
_W = 100.0  # alignment utilities enter exp(); keep them far from overflow

# Parameters a doctrine preset sets (MODEL.md section 5, columns D and O).
PRESETS: dict[str, dict[str, Any]] = {
    "defensive": {
        "mobilization_floor": 0.0,
        "balance_weight": 2.0,
        "bandwagon_weight": -1.0,
        "buckpass_weight": -1.0,
        "initiators": "revisionist",
        "attack_threshold": 0.80,
        "anticipate_balancing": True,
    },
    "offensive": {
        "mobilization_floor": 0.5,
        "balance_weight": 0.5,
        "bandwagon_weight": -1.0,
        "buckpass_weight": 1.5,
        "initiators": "all",
        "attack_threshold": 0.55,
        "anticipate_balancing": False,
    },
}

SPECS: dict[str, Spec] = {
    # what system
    "doctrine": Spec("choice", "defensive", choices=DOCTRINES,
                     doc="defensive (Waltz) or offensive (Mearsheimer) realism preset"),
    "polarity": Spec("choice", "multipolar", choices=POLARITIES,
                     doc="random starting system of this polarity"),
    "shares": Spec("shares", None, doc="explicit starting capability shares (normalised)"),
    "scenario": Spec("scenario", None, doc="historical start, 'cow:YEAR' (COW major powers) or "
                     "'cow-all:YEAR' (every COW member with a CINC score)"),
    "geography": Spec("choice", None, choices=GEOGRAPHIES,
                      doc="where states sit: 'ring' (default; cow-all: 'distances'), "
                      "'distances' (a full matrix), 'sphere' (random places on a globe)"),
    "distances": Spec("path", None, doc="CSV of distances in km between the states, labelled "
                      "(implies geography 'distances')"),
    "positions": Spec("positions", None,
                      doc="ring positions in [0, 1) for explicit shares (default: uniform draws)"),
    "n_states": Spec("int", 8, 2, MAX_SLOTS, doc="states at the start"),
    "max_states": Spec("int", None, 2, MAX_SLOTS, doc="slots (defaults to n_states)"),
    "hegemony_threshold": Spec("float", 0.5, 0.0, 1.0, lo_open=True,
                               doc="capability share that makes a hegemon (Rousseau's limit)"),
    "horizon": Spec("int", 200, 1, 1_000_000, doc="steps per run"),
    # growth and mobilisation
    "growth_mean": Spec("float", 0.0, -1.0, 1.0, doc="mean log growth per step"),
    "growth_sd": Spec("float", 0.05, 0.0, 2.0, doc="sd of log growth per step"),
    "mobilization_max": Spec("float", 0.5, 0.0, 10.0, doc="largest mobilisation mu"),
    "mobilization_step": Spec("float", 0.1, 0.0, 10.0, doc="change of mu per step"),
    "mobilization_cost": Spec("float", 0.0, 0.0, 1.0, doc="log growth lost per unit mu"),
    "mobilization_floor": Spec("float", None, 0.0, 1.0,
                               doc="permanent mobilisation, fraction of mobilization_max"),
    # threat
    "projection_scale": Spec("float", 0.25, 0.01, INF,
                             doc="loss-of-strength gradient scale on the ring (inf: none)"),
    "intent_weight": Spec("float", 1.0, 0.0, 100.0, doc="threat multiplier for hostile intent"),
    "memory": Spec("int", 10, 0, 1_000_000, doc="steps a fight is remembered"),
    "threat_ratio": Spec("float", 1.0, 0.0, 100.0, doc="threatened when T_ik >= ratio * S_i"),
    "alarm_share": Spec("float", 0.35, 0.0, 1.0, doc="threatened by any state this large"),
    # alignment
    "alliances": Spec("bool", True, doc="external balancing and bandwagoning allowed"),
    "balance_weight": Spec("float", None, -_W, _W, doc="utility of balancing"),
    "bandwagon_weight": Spec("float", None, -_W, _W, doc="utility of bandwagoning"),
    "buckpass_weight": Spec("float", None, -_W, _W, doc="utility of buck-passing"),
    "strength_weight": Spec("float", 2.0, -_W, _W, doc="weight of relative strength"),
    "alone_weight": Spec("float", 1.0, -_W, _W, doc="bandwagon bonus with no partner available"),
    "chain_gang_prob": Spec("float", 0.2, 0.0, 1.0, doc="probability a new pact is chain-ganged"),
    "alliance_decay": Spec("float", 0.1, 0.0, 1.0, doc="per-step dissolution probability"),
    "alliance_reliability": Spec("float", 0.7, 0.0, 1.0, doc="probability an ally honours a pact"),
    # war
    "initiators": Spec("choice", None, choices=INITIATORS, doc="who may start wars"),
    "revisionist_share": Spec("float", 0.25, 0.0, 1.0, doc="probability a state is revisionist"),
    "attack_threshold": Spec("float", None, 0.0, 1.0, doc="least perceived odds to attack"),
    "anticipate_balancing": Spec("bool", None, doc="aggressors expect balancing coalitions"),
    "decisiveness": Spec("float", 1.0, 0.0, 1e9, lo_open=True, doc="contest exponent m"),
    "offense_advantage": Spec("float", 1.0, 0.0, 1e6, lo_open=True, doc="attacker multiplier o"),
    "misperception_sd": Spec("float", 0.2, 0.0, 10.0, doc="sd of log strength misperception"),
    "war_cost": Spec("float", 0.05, 0.0, 1.0, hi_open=True, doc="capability lost by fighters"),
    "conquest_share": Spec("float", 0.3, 0.0, 1.0, doc="share of the loser's capability taken"),
    "administration_efficiency": Spec("float", 0.7, 0.0, 1.0,
                                      doc="share of conquests the winners keep (Wohlforth et al.)"),
    "elimination_share": Spec("float", 0.02, 0.0, 1.0, hi_open=True,
                              doc="a loser below this share of all capability is eliminated"),
    # entry
    "entry_rate": Spec("float", 0.0, 0.0, 1.0, doc="per-step probability of a new state"),
    "entry_size": Spec("float", 0.5, 0.0, 100.0, lo_open=True, doc="entrant / mean capability"),
    # polarity classification and samplers
    "pole_ratio": Spec("float", 0.5, 0.0, 1.0, lo_open=True, doc="pole: share >= ratio * max"),
    "pole_min_share": Spec("float", 0.10, 0.0, 1.0, hi_open=True, doc="pole: share >= this"),
    "unipolar_share": Spec("range", (0.30, 0.45), 0.0, 1.0, lo_open=True, hi_open=True,
                           doc="range of the unipolar pole's share"),
    "bipolar_share": Spec("range", (0.55, 0.80), 0.0, 1.0, lo_open=True,
                          doc="range of the two poles' total"),
    "bipolar_split": Spec("range", (0.4, 0.6), 0.0, 1.0, lo_open=True, hi_open=True,
                          doc="range of the first pole's part of the bipolar total"),
    "multipolar_poles": Spec("irange", (3, 5), 3, MAX_SLOTS, doc="range of the pole count"),
    "multipolar_share": Spec("range", (0.60, 0.85), 0.0, 1.0, lo_open=True,
                             doc="range of the poles' total"),
}

NAMES = tuple(SPECS)
# Scalars: what a sweep or [randomize] may vary one value at a time.
SCALAR_NAMES = tuple(n for n, s in SPECS.items() if s.kind in ("float", "int", "bool", "choice"))

# ---- packed layout ---------------------------------------------------------------------------
_PACKED_SCALARS = (
    "n_states", "max_states", "hegemony_threshold", "horizon",
    "growth_mean", "growth_sd", "mobilization_max", "mobilization_step", "mobilization_cost",
    "mobilization_floor", "projection_scale", "intent_weight", "memory", "threat_ratio",
    "alarm_share", "alliances", "balance_weight", "bandwagon_weight", "buckpass_weight",
    "strength_weight", "alone_weight", "chain_gang_prob", "alliance_decay",
    "alliance_reliability", "initiators", "revisionist_share", "attack_threshold",
    "anticipate_balancing", "decisiveness", "offense_advantage", "misperception_sd", "war_cost",
    "conquest_share", "administration_efficiency", "elimination_share", "entry_rate",
    "entry_size", "pole_ratio", "pole_min_share", "geography",
)
INDEX: dict[str, int] = {name: i for i, name in enumerate(_PACKED_SCALARS)}
_n = len(_PACKED_SCALARS)
INDEX["start"] = _n
INDEX["unipolar_share"] = _n + 1
INDEX["bipolar_share"] = _n + 3
INDEX["bipolar_split"] = _n + 5
INDEX["multipolar_poles"] = _n + 7
INDEX["multipolar_share"] = _n + 9
INDEX["fixed_positions"] = _n + 11
INDEX["shares"] = _n + 12
INDEX["positions"] = _n + 12 + MAX_SLOTS
N_PACKED = _n + 12 + 2 * MAX_SLOTS

# Module-level integer constants are compile-time constants inside Numba kernels.
P_N_STATES = INDEX["n_states"]
P_MAX_STATES = INDEX["max_states"]
P_HEGEMONY_THRESHOLD = INDEX["hegemony_threshold"]
P_HORIZON = INDEX["horizon"]
P_GROWTH_MEAN = INDEX["growth_mean"]
P_GROWTH_SD = INDEX["growth_sd"]
P_MOB_MAX = INDEX["mobilization_max"]
P_MOB_STEP = INDEX["mobilization_step"]
P_MOB_COST = INDEX["mobilization_cost"]
P_MOB_FLOOR = INDEX["mobilization_floor"]
P_PROJECTION = INDEX["projection_scale"]
P_INTENT_WEIGHT = INDEX["intent_weight"]
P_MEMORY = INDEX["memory"]
P_THREAT_RATIO = INDEX["threat_ratio"]
P_ALARM_SHARE = INDEX["alarm_share"]
P_ALLIANCES = INDEX["alliances"]
P_BALANCE_W = INDEX["balance_weight"]
P_BANDWAGON_W = INDEX["bandwagon_weight"]
P_BUCKPASS_W = INDEX["buckpass_weight"]
P_STRENGTH_W = INDEX["strength_weight"]
P_ALONE_W = INDEX["alone_weight"]
P_CHAIN_GANG = INDEX["chain_gang_prob"]
P_DECAY = INDEX["alliance_decay"]
P_RELIABILITY = INDEX["alliance_reliability"]
P_INITIATORS = INDEX["initiators"]
P_REVISIONIST = INDEX["revisionist_share"]
P_ATTACK_THRESHOLD = INDEX["attack_threshold"]
P_ANTICIPATE = INDEX["anticipate_balancing"]
P_DECISIVENESS = INDEX["decisiveness"]
P_OFFENSE = INDEX["offense_advantage"]
P_MISPERCEPTION = INDEX["misperception_sd"]
P_WAR_COST = INDEX["war_cost"]
P_CONQUEST = INDEX["conquest_share"]
P_ADMIN = INDEX["administration_efficiency"]
P_ELIMINATION = INDEX["elimination_share"]
P_ENTRY_RATE = INDEX["entry_rate"]
P_ENTRY_SIZE = INDEX["entry_size"]
P_POLE_RATIO = INDEX["pole_ratio"]
P_POLE_MIN = INDEX["pole_min_share"]
P_GEOGRAPHY = INDEX["geography"]
P_START = INDEX["start"]
P_UNI_SHARE = INDEX["unipolar_share"]
P_BI_SHARE = INDEX["bipolar_share"]
P_BI_SPLIT = INDEX["bipolar_split"]
P_MULTI_POLES = INDEX["multipolar_poles"]
P_MULTI_SHARE = INDEX["multipolar_share"]
P_FIXED_POSITIONS = INDEX["fixed_positions"]
P_SHARES = INDEX["shares"]
P_POSITIONS = INDEX["positions"]


def _err(name: str, spec: Spec, value: Any) -> ValueError:
    return ValueError(f"parameter '{name}': got {value!r}, expected {spec.describe()}")


def check_value(name: str, value: Any) -> Any:
    """Validate one parameter value; return it in canonical form or raise ValueError."""
    if name not in SPECS:
        raise ValueError(f"unknown parameter '{name}'; valid names: {', '.join(NAMES)}")
    spec = SPECS[name]
    if spec.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise _err(name, spec, value)
    if spec.kind == "choice":
        if isinstance(value, str) and value in spec.choices:
            return value
        raise _err(name, spec, value)
    if spec.kind in ("float", "int"):
        return _check_number(name, spec, value)
    if spec.kind in ("range", "irange"):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise _err(name, spec, value)
        item = Spec("int" if spec.kind == "irange" else "float", None, spec.lo, spec.hi,
                    spec.lo_open, spec.hi_open)
        lo, hi = (_check_number(name, item, v, whole=spec) for v in value)
        if lo > hi:
            raise ValueError(f"parameter '{name}': low {lo:g} is above high {hi:g}")
        return (lo, hi)
    if spec.kind == "shares":
        if (not isinstance(value, (list, tuple)) or not 2 <= len(value) <= MAX_SLOTS
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
                or any(not math.isfinite(v) or v <= 0 for v in value)):
            raise _err(name, spec, value)
        return tuple(float(v) for v in value)
    if spec.kind == "positions":
        if (not isinstance(value, (list, tuple)) or not 2 <= len(value) <= MAX_SLOTS
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
                or any(not 0.0 <= v < 1.0 for v in value)):
            raise _err(name, spec, value)
        return tuple(float(v) for v in value)
    if spec.kind == "scenario":
        prefix = value.partition(":")[0] if isinstance(value, str) else None
        if prefix in ("cow", "cow-all") and value[len(prefix) + 1:].isdigit():
            year = int(value[len(prefix) + 1:])
            if 1816 <= year <= 2016:
                return value
        raise _err(name, spec, value)
    if spec.kind == "path":
        if isinstance(value, str) and value.strip():
            return value
        raise _err(name, spec, value)
    raise AssertionError(spec.kind)


def _check_number(name, spec, value, whole=None):
    shown = whole or spec
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise _err(name, shown, value)
    if spec.kind == "int":
        if isinstance(value, (float, np.floating)):
            if not float(value).is_integer():
                raise _err(name, shown, value)
        value = int(value)
    else:
        value = float(value)
        if math.isnan(value):
            raise _err(name, shown, value)
    lo, hi = spec.lo, spec.hi
    if lo is not None and (value < lo or (spec.lo_open and value == lo)):
        raise _err(name, shown, value)
    if hi is not None and (value > hi or (spec.hi_open and value == hi)):
        raise _err(name, shown, value)
    return value


def resolve(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate ``params`` and fill in doctrine presets and defaults.

    Returns a complete dict (every name in :data:`SPECS`), with ``shares`` set for explicit
    and historical starts and ``polarity`` set to None there. Raises ValueError naming the
    offending parameter.
    """
    params = dict(params or {})
    for name in params:
        if name not in SPECS:
            raise ValueError(f"unknown parameter '{name}'; valid names: {', '.join(NAMES)}")
    given = {name: check_value(name, v) for name, v in params.items() if v is not None}
    out = {name: spec.default for name, spec in SPECS.items()}
    doctrine = given.get("doctrine", "defensive")
    out.update(PRESETS[doctrine])
    out.update(given)

    starts = [k for k in ("polarity", "shares", "scenario") if k in given]
    if len(starts) > 1:
        raise ValueError(f"parameters {' and '.join(repr(s) for s in starts)} both choose the "
                         "starting system; give only one")
    if "scenario" in given:
        # The COW table lives with the analysis layer; it is plain data, no kernels.
        from .analysis.scenarios import load_scenario, scenario_positions

        if "positions" in given:
            raise ValueError("parameter 'positions' cannot be combined with 'scenario', which "
                             "places states by their capitals")
        out["shares"] = tuple(load_scenario(given["scenario"]).values())
        out["positions"] = tuple(scenario_positions(given["scenario"]).values())
    _resolve_geography(given, out)
    if out["shares"] is not None:
        out["polarity"] = None
        if "n_states" in given and given["n_states"] != len(out["shares"]):
            raise ValueError(f"parameter 'n_states' ({given['n_states']}) disagrees with the "
                             f"{len(out['shares'])} starting shares")
        out["n_states"] = len(out["shares"])
        total = sum(out["shares"])
        top = max(out["shares"]) / total
        if top >= out["hegemony_threshold"]:
            raise ValueError(f"parameter 'shares': the largest share {top:.3f} already reaches "
                             f"hegemony_threshold {out['hegemony_threshold']:g}")
    if out["positions"] is not None and (out["shares"] is None
                                         or len(out["positions"]) != len(out["shares"])):
        raise ValueError("parameter 'positions' needs explicit 'shares' of the same length")
    if out["max_states"] is None:
        out["max_states"] = out["n_states"]
    if out["max_states"] < out["n_states"]:
        raise ValueError(f"parameter 'max_states' ({out['max_states']}) is below n_states "
                         f"({out['n_states']})")
    if out["geography"] == "distances":
        if out["max_states"] != out["n_states"]:
            raise ValueError(f"parameter 'max_states' ({out['max_states']}) must equal n_states "
                             f"({out['n_states']}) under geography 'distances': every slot is "
                             "a place of the matrix (an entrant takes an eliminated state's)")
        distance_matrix(out)  # the file's errors now, before anything runs
    if out["polarity"] is not None:
        check_feasible(out)
    return out


def _resolve_geography(given: dict, out: dict) -> None:
    """Fill in ``geography`` and reject combinations that do not fit the start."""
    scenario = given.get("scenario")
    if "geography" not in given:
        out["geography"] = ("distances" if "distances" in given
                            or (scenario or "").startswith("cow-all:") else "ring")
    geo = out["geography"]
    if "distances" in given and geo != "distances":
        raise ValueError(f"parameter 'distances' needs geography 'distances', got {geo!r}")
    if geo == "ring":
        return
    if geo == "sphere" and scenario is not None:
        raise ValueError("parameter 'geography': 'sphere' places random states; a scenario "
                         "places its states by their capitals (use 'distances' or 'ring')")
    if "positions" in given:
        raise ValueError(f"parameter 'positions' places states on the ring; geography is {geo!r}")
    out["positions"] = None  # a scenario's ring positions; its distances are the capitals'
    if geo == "distances" and scenario is None and "distances" not in given:
        raise ValueError("parameter 'geography': 'distances' needs a 'distances' file or a "
                         "'cow:YEAR'/'cow-all:YEAR' scenario (distances between capitals)")


def distance_matrix(resolved: dict[str, Any]) -> np.ndarray | None:
    """The distances between the starting states' places, float64[n_states, n_states] in
    units of the Earth's circumference (EARTH_CIRCUMFERENCE_KM), under geography
    'distances'; None otherwise. From the ``distances`` file if one is given, else the
    great-circle distances between the scenario's capitals. Raises ValueError naming the
    parameter for a file that does not fit."""
    if resolved["geography"] != "distances":
        return None
    scenario = resolved.get("scenario")
    if resolved.get("distances") is not None:
        labels = None
        if scenario is not None:
            from .analysis.scenarios import load_scenario
            labels = tuple(load_scenario(scenario))
        km = _read_distances(resolved["distances"], labels, resolved["n_states"])
    else:
        from .analysis.scenarios import scenario_distances_km
        km = scenario_distances_km(scenario)
    return km / EARTH_CIRCUMFERENCE_KM


def _read_distances(path: str, labels: tuple | None, n: int) -> np.ndarray:
    """A labelled distance matrix in km from a CSV file (header: an empty cell or a name,
    then the column labels; each row: its label, then its distances), in the order of
    ``labels`` (the scenario's states), or in the file's order when there are none."""
    import csv

    def bad(why):
        return ValueError(f"parameter 'distances': {path}: {why}")

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except OSError as e:
        raise bad(f"cannot be read ({e.strerror})") from None
    if len(rows) < 3:
        raise bad("needs a header row of labels and one row per state")
    cols = [c.strip() for c in rows[0][1:]]
    names = [r[0].strip() for r in rows[1:]]
    for what, seq in (("column", cols), ("row", names)):
        dup = sorted({c for c in seq if seq.count(c) > 1})
        if dup:
            raise bad(f"duplicated {what} label(s) {', '.join(dup)}")
    if set(cols) != set(names):
        raise bad(f"row and column labels differ ({', '.join(sorted(set(cols) ^ set(names)))})")
    if labels is not None and set(labels) != set(names):
        missing = sorted(set(labels) - set(names))
        extra = sorted(set(names) - set(labels))
        raise bad(f"labels do not match the scenario's states (missing: "
                  f"{', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none'})")
    if labels is None and len(names) != n:
        raise bad(f"has {len(names)} states, n_states is {n}")
    try:
        values = np.array([[float(c) for c in r[1:]] for r in rows[1:]])
    except ValueError:
        raise bad("holds a value that is not a number") from None
    if values.shape != (len(names), len(cols)):
        raise bad("every row needs one value per column label")
    if not np.isfinite(values).all():
        raise bad("holds NaN or infinite values")
    if (values < 0).any():
        raise bad("holds negative distances")
    order = list(labels) if labels is not None else names
    r = [names.index(a) for a in order]
    c = [cols.index(a) for a in order]
    m = values[np.ix_(r, c)]
    if (np.diag(m) != 0).any():
        raise bad("the distance of a state to itself must be 0")
    if not np.allclose(m, m.T, rtol=1e-9, atol=1e-9):
        i, j = np.unravel_index(np.argmax(np.abs(m - m.T)), m.shape)
        raise bad(f"not symmetric ({order[i]}-{order[j]}: {m[i, j]:g} vs {m[j, i]:g})")
    return np.minimum(m, m.T)  # exactly symmetric, as the kernel's factors must be


def pack(resolved: dict[str, Any]) -> np.ndarray:
    """The float64 vector the kernels read (layout: the ``P_*`` constants)."""
    v = np.zeros(N_PACKED, dtype=np.float64)
    for name in _PACKED_SCALARS:
        value = resolved[name]
        if name == "initiators":
            value = INITIATORS.index(value)
        if name == "geography":
            value = GEOGRAPHIES.index(value)
        v[INDEX[name]] = float(value)
    if resolved["shares"] is not None:
        v[P_START] = START_SHARES
        s = np.asarray(resolved["shares"], dtype=np.float64)
        v[P_SHARES:P_SHARES + s.size] = s
        if resolved["positions"] is not None:
            v[P_FIXED_POSITIONS] = 1.0
            v[P_POSITIONS:P_POSITIONS + s.size] = resolved["positions"]
    else:
        v[P_START] = POLARITIES.index(resolved["polarity"])
    for name in ("unipolar_share", "bipolar_share", "bipolar_split", "multipolar_poles",
                 "multipolar_share"):
        v[INDEX[name]:INDEX[name] + 2] = resolved[name]
    return v


def check_feasible(res: dict) -> None:
    """Reject polarity requests no start can satisfy (ValueError naming the parameter).

    Plain Python, here rather than beside the samplers in model/start.py, so that validating
    a config does not import Numba: the process that runs no kernel (a run's driver, on a
    login node say) never needs it."""
    pol, n = res["polarity"], res["n_states"]
    need = {"unipolar": 4, "bipolar": 3, "multipolar": 3}[pol]
    if n < need:
        raise ValueError(f"parameter 'n_states': a {pol} start needs at least {need} states, "
                         f"got {n}")
    if pol == "multipolar" and res["multipolar_poles"][0] > n:
        raise ValueError(f"parameter 'multipolar_poles': at least {res['multipolar_poles'][0]} "
                         f"poles cannot fit in n_states = {n}")
    # Look for one feasible pole configuration on a grid over the ranges (equal pole
    # weights are the most favourable multipolar case): the sampler conditions on feasibility
    # and would otherwise search forever.
    grid = np.linspace(0.0, 1.0, 21)
    ratio, pmin, hthr = res["pole_ratio"], res["pole_min_share"], res["hegemony_threshold"]

    def feasible(poles, rest, m, unipolar):
        top, low = max(poles), min(poles)
        if top >= hthr or any(q < ratio * top or q < pmin for q in poles):
            return False
        if m == 0:
            return rest <= 1e-12
        bound = min(low, max(ratio * top, pmin))
        if unipolar:
            bound = min(bound, 0.5 * top)
        return m * bound > rest

    def span(name):
        lo, hi = res[name]
        return [lo + (hi - lo) * g for g in grid]

    if pol == "unipolar":
        ok = any(feasible([s], 1 - s, n - 1, True) for s in span("unipolar_share"))
        names = "unipolar_share"
    elif pol == "bipolar":
        ok = any(feasible([t * f, t * (1 - f)], 1 - t, n - 2, False)
                 for t in span("bipolar_share") for f in span("bipolar_split"))
        names = "bipolar_share/bipolar_split"
    else:
        klo, khi = res["multipolar_poles"][0], min(res["multipolar_poles"][1], n)
        ok = any(feasible([(1.0 if k == n else t) / k] * k, 0.0 if k == n else 1 - t, n - k,
                          False)
                 for k in range(klo, khi + 1) for t in span("multipolar_share"))
        names = "multipolar_share/multipolar_poles"
    if not ok:
        raise ValueError(f"parameter '{names}': no {pol} start with n_states = {n} fits these "
                         f"ranges (minor states must stay below the poles, pole_ratio = {ratio:g},"
                         f" pole_min_share = {pmin:g}, hegemony_threshold = {hthr:g})")
