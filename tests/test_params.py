"""Parameter validation: bad input raises ValueError naming the parameter and what is allowed."""

import math

import numpy as np
import pytest

import stability
from stability import params as P


def test_defaults_and_presets():
    d = P.resolve({})
    assert d["doctrine"] == "defensive" and d["initiators"] == "revisionist"
    assert d["attack_threshold"] == 0.80 and d["anticipate_balancing"] is True
    assert d["max_states"] == d["n_states"] == 8
    o = P.resolve({"doctrine": "offensive"})
    assert o["initiators"] == "all" and o["buckpass_weight"] == 1.5
    assert o["mobilization_floor"] == 0.5 and o["anticipate_balancing"] is False


def test_explicit_value_overrides_preset():
    o = P.resolve({"doctrine": "offensive", "attack_threshold": 0.9, "initiators": "revisionist"})
    assert o["attack_threshold"] == 0.9 and o["initiators"] == "revisionist"
    assert o["buckpass_weight"] == 1.5


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown parameter 'growht_sd'.*growth_sd"):
        P.resolve({"growht_sd": 0.1})


@pytest.mark.parametrize("name, value, allowed", [
    ("growth_sd", "high", r"a number in \[0, 2\]"),
    ("growth_sd", -0.1, r"a number in \[0, 2\]"),
    ("n_states", 2.5, "an integer"),
    ("n_states", 257, r"\[2, 256\]"),
    ("max_states", 300, r"\[2, 256\]"),
    ("multipolar_poles", [3, 257], r"\[3, 256\]"),
    ("n_states", True, "an integer"),
    ("alliances", 1, "true or false"),
    ("doctrine", "liberal", "'defensive', 'offensive'"),
    ("initiators", "some", "'all', 'revisionist'"),
    ("war_cost", 1.0, r"\[0, 1\)"),
    ("decisiveness", 0.0, r"\(0, "),
    ("projection_scale", 0.0, r"\[0.01, inf\]"),
    ("hegemony_threshold", math.nan, "a number"),
    ("unipolar_share", [0.5, 0.3], "low 0.5 is above high 0.3"),
    ("bipolar_split", [0.4], r"a list \[low, high\]"),
    ("shares", [0.5, -0.1, 0.6], "positive numbers"),
    ("shares", [1.0], "2 to 256"),
    ("shares", [1.0] * 257, "2 to 256"),
    ("scenario", "cow:1700", "YEAR in 1816..2016"),
])
def test_bad_values_name_parameter_and_allowed(name, value, allowed):
    with pytest.raises(ValueError, match=rf"'{name}'.*{allowed}|{allowed}.*'{name}'"
                       if "above" in allowed else rf"parameter '{name}'.*{allowed}"):
        P.resolve({name: value})


def test_conflicts():
    with pytest.raises(ValueError, match="'polarity' and 'shares'"):
        P.resolve({"polarity": "bipolar", "shares": [1, 2, 3]})
    with pytest.raises(ValueError, match="max_states"):
        P.resolve({"n_states": 10, "max_states": 8})
    with pytest.raises(ValueError, match="hegemony_threshold"):
        P.resolve({"shares": [0.6, 0.4]})
    with pytest.raises(ValueError, match="positions"):
        P.resolve({"polarity": "bipolar", "positions": [0.1, 0.2]})


def test_infinite_projection_scale_is_allowed():
    assert P.resolve({"projection_scale": float("inf")})["projection_scale"] == math.inf


def test_pack_layout():
    q = P.resolve({"shares": [3, 1], "doctrine": "offensive", "hegemony_threshold": 0.9})
    v = P.pack(q)
    assert v.shape == (P.N_PACKED,) and np.isfinite(v).all()
    assert v[P.P_START] == P.START_SHARES and v[P.P_N_STATES] == 2
    assert v[P.P_SHARES:P.P_SHARES + 2].tolist() == [3.0, 1.0]
    assert v[P.P_INITIATORS] == 0.0 and v[P.P_ATTACK_THRESHOLD] == 0.55


def test_public_api_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown parameter"):
        stability.simulate({"polarty": "bipolar"}, 10, seed=1)
    with pytest.raises(ValueError, match="replicates"):
        stability.simulate({}, 0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        stability.simulate({}, 10, seed=-1)
