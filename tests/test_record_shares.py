"""record_shares: the kernel's per-step shares and occupants against the reference, bit for bit,
and the model's patterns computed by the same function as the data's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stability import history, reference
from stability import params as P
from stability.model.simulate import run_batch

CASES = [
    {"polarity": "multipolar", "doctrine": "offensive"},
    # open system with many entries and eliminations, so that slots change hands
    {"polarity": "multipolar", "max_states": 10, "entry_rate": 0.4, "entry_size": 0.8,
     "doctrine": "offensive", "elimination_share": 0.12, "horizon": 60},
    {"scenario": "cow:1816", "horizon": 97, "entry_rate": 0.05, "max_states": 9,
     "growth_sd": 0.08},
    {"polarity": "bipolar", "n_states": 4, "horizon": 40, "growth_sd": 0.15},
]


def _reference(q, seed, reps, steps, width):
    shr = np.full((len(reps), steps, width), np.nan)
    occ = np.full((len(reps), steps, width), -1, dtype=np.int64)
    for k, rep in enumerate(reps):
        out = reference.run_one(q, seed, int(rep), record_shares=True)
        for t, (row, ids) in enumerate(zip(out["shares"], out["occupant"], strict=True)):
            shr[k, t, :len(row)] = row
            occ[k, t, :len(ids)] = ids
    return shr, occ


@pytest.mark.parametrize("params", CASES)
def test_shares_identical_to_reference(params):
    q = P.resolve(params)
    reps = np.arange(12)
    out = run_batch(P.pack(q)[None, :], 5, reps, record_shares=True)
    steps, width = q["horizon"] + 1, q["max_states"]
    assert out["shares"].shape == (12, steps, width)
    shr, occ = _reference(q, 5, reps, steps, width)
    assert out["shares"].tobytes() == shr.tobytes()
    assert np.array_equal(out["occupant"], occ)
    # empty exactly where no occupant; a run's last recorded step is its end
    assert np.array_equal(np.isnan(out["shares"]), out["occupant"] < 0)
    for k in range(12):
        end = out["hegemony_time"][k] if out["hegemony"][k] else q["horizon"]
        assert (out["occupant"][k, end] >= 0).any()
        assert (out["occupant"][k, end + 1:] < 0).all()


def test_occupants_distinguish_entrants():
    q = P.resolve(CASES[1])
    out = run_batch(P.pack(q)[None, :], 5, np.arange(12), record_shares=True)
    occ = out["occupant"]
    # entrants are numbered n, n+1, ... in order, one new number per entry
    n = q["n_states"]
    for k in range(12):
        ids = np.unique(occ[k][occ[k] >= 0])
        assert ids.tolist() == list(range(n + out["entries"][k]))
    assert out["entries"].sum() > 0 and out["eliminations"].sum() > 0
    # a state never changes slot
    for k in range(12):
        for i in np.unique(occ[k][occ[k] >= 0]):
            assert len(np.unique(np.nonzero(occ[k] == i)[1])) == 1


def test_other_records_unchanged_by_the_option():
    q = P.resolve(CASES[1])
    pm = P.pack(q)[None, :]
    a = run_batch(pm, 9, np.arange(30), record_wars=True)
    b = run_batch(pm, 9, np.arange(30), record_wars=True, record_shares=True)
    for key, value in a.items():
        assert np.array_equal(value, b[key]), key


def test_simulated_patterns_are_the_data_function_on_model_histories():
    params = {"entry_rate": 0.05, "max_states": 9, "growth_sd": 0.06}
    ds = history.simulated_patterns(params, period=(1816, 1913), replicates=20, seed=2)
    q = P.resolve({**params, "scenario": "cow:1816", "horizon": 97})
    out = run_batch(P.pack(q)[None, :], 2, np.arange(20), record_shares=True)
    # lag-1 sd written out from the histories
    sh, oc = out["shares"], out["occupant"]
    d = [math.log(sh[r, t + 1, u]) - math.log(sh[r, t, u])
         for r in range(20) for t in range(97) for u in range(9)
         if oc[r, t, u] >= 0 and oc[r, t + 1, u] == oc[r, t, u]]
    assert int(ds.pairs.sel(lag=1)) == len(d)
    assert float(ds.log_share_sd.sel(lag=1)) == pytest.approx(np.std(d, ddof=1), rel=1e-10)
    # years after a run's hegemony are missing
    for r in np.nonzero(out["hegemony"])[0]:
        t = out["hegemony_time"][r]
        assert np.isnan(ds.max_share.values[r, t + 1:]).all()
    assert ds.sizes["run"] == 20 and ds.year.values[0] == 1816 and ds.year.values[-1] == 1913


def test_simulated_patterns_rejects_period_keys():
    with pytest.raises(ValueError, match="'horizon' is set by the period"):
        history.simulated_patterns({"horizon": 10}, period=(1816, 1900))
