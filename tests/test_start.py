"""Starting systems: every randomized start classifies as asked, none starts with a hegemon."""

import numpy as np
import pytest

from stability import params as P
from stability.model.start import draw_starts
from stability.reference import System, classify


@pytest.mark.parametrize("n_states", [4, 5, 8, 16, 32])
@pytest.mark.parametrize("polarity", ["unipolar", "bipolar", "multipolar"])
def test_samplers_classify_as_asked(polarity, n_states):
    q = P.resolve({"polarity": polarity, "n_states": n_states})
    shares = draw_starts(q, seed=n_states, reps=np.arange(2000))
    want = {"unipolar": 1, "bipolar": 2, "multipolar": 3}[polarity]
    for row in shares:
        s = row[:n_states]
        assert s.min() > 0 and abs(s.sum() - 1) < 1e-12
        assert s.max() < q["hegemony_threshold"]
        assert classify(list(s), q["pole_ratio"], q["pole_min_share"]) == want


@pytest.mark.parametrize("polarity", ["unipolar", "bipolar", "multipolar"])
def test_sampler_ranges(polarity):
    q = P.resolve({"polarity": polarity})
    s = np.sort(draw_starts(q, 1, np.arange(3000))[:, :8], axis=1)[:, ::-1]
    if polarity == "unipolar":
        lo, hi = q["unipolar_share"]
        assert s[:, 0].min() >= lo and s[:, 0].max() <= hi
        assert (s[:, 1] <= 0.5 * s[:, 0]).all()
    if polarity == "bipolar":
        lo, hi = q["bipolar_share"]
        total = s[:, 0] + s[:, 1]
        assert total.min() >= lo - 1e-12 and total.max() <= hi + 1e-12
        assert (s[:, 2] < s[:, 1]).all()


def test_kernel_and_reference_starts_agree():
    for polarity in ("unipolar", "bipolar", "multipolar"):
        q = P.resolve({"polarity": polarity, "n_states": 6})
        kernel = draw_starts(q, 17, np.arange(30))
        for rep in range(30):
            ref = [s.r for s in System(q, 17, rep).slots if s is not None]
            assert kernel[rep, :6].tolist() == ref


@pytest.mark.parametrize("params, key", [
    ({"polarity": "unipolar", "n_states": 3}, "n_states"),
    ({"polarity": "bipolar", "n_states": 2}, "n_states"),
    ({"polarity": "multipolar", "n_states": 2}, "n_states"),
    ({"polarity": "unipolar", "n_states": 4, "unipolar_share": [0.2, 0.25]}, "unipolar_share"),
    ({"polarity": "multipolar", "n_states": 4, "multipolar_poles": [5, 6]}, "multipolar_poles"),
])
def test_infeasible_requests_are_errors(params, key):
    with pytest.raises(ValueError, match=key):
        P.resolve(params)


def test_explicit_shares_keep_list_order_for_ranks():
    q = P.resolve({"shares": [1, 3, 3, 1]})
    shares = draw_starts(q, 0, np.arange(1))[0, :4]
    assert shares.tolist() == [0.125, 0.375, 0.375, 0.125]
    ranks = [s.rank for s in System(q, 0, 0).slots if s is not None]
    assert ranks == [2, 0, 1, 3]
