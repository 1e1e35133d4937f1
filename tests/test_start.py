"""Starting systems: every randomized start classifies as asked, none starts with a hegemon."""

import math

import numpy as np
import pytest

from stability import params as P
from stability.model.start import draw_starts
from stability.reference import System, classify


@pytest.mark.parametrize("n_states", [4, 5, 8, 16, 32, 64, 256])
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


def test_log2_bracket_holds_log2_within_the_table_step():
    from stability.model.start import LOG2_BITS, log2_bracket

    rng = np.random.default_rng(5)
    ys = np.concatenate([
        np.exp2(rng.uniform(-1000.0, 10.0, 20_000)),  # every binade the screen can meet
        rng.random(20_000),
        np.exp2(np.arange(-1000.0, 11.0)),  # powers of two: the table's first entry
        np.nextafter(np.exp2(np.arange(-60.0, 1.0)), 0.0),  # just below them: its last
        [1.0 - 2.0**-53, 2.0**-1022, 1e-300],
    ])
    step = 1.0 / (2**LOG2_BITS * math.log(2.0))
    for y in ys:
        lo, hi = log2_bracket(float(y))
        exact = math.log2(y)
        slack = 4e-16 * max(1.0, abs(exact))  # the table's and the sum's rounding
        assert lo - slack <= exact <= hi + slack, y
        assert 0.0 <= hi - lo <= step + slack, y


def _largest_minor(key, c, m, rest):
    """The largest of the m minors drawn from counter c, computed as sample_shares does."""
    from stability.model.rng import uniform

    state = np.array([key, c], dtype=np.uint64)
    e = [-math.log(1.0 - uniform(state)) for _ in range(m)]
    esum = 0.0
    for v in e:
        esum += v
    return max(rest * v / esum for v in e)


@pytest.mark.parametrize("m, rest", [(3, 0.15), (4, 0.3), (5, 0.4), (12, 0.5), (31, 0.2)])
def test_minor_screen_rejects_only_what_the_exact_test_rejects(m, rest):
    # The screen must never reject a try whose largest minor is below `bound`: put `bound`
    # just above or below each try's exact largest minor (relative distances 1e-12 to 0.1).
    from stability.model.rng import stream_key
    from stability.model.start import _minors_fail

    gen = np.random.default_rng(m)
    key = stream_key(11, m)
    clear = decided = 0
    for t in range(3000):
        c = np.uint64(t * 64)
        x = _largest_minor(key, c, m, rest)
        above = t % 2 == 0
        delta = 10.0 ** gen.uniform(-12.0, -1.0)
        bound = x * (1.0 + delta) if above else x * (1.0 - delta)
        state = np.array([key, c], dtype=np.uint64)
        if _minors_fail(state, m, rest, bound):
            assert not above, (t, x, bound)
            assert state[1] == c + np.uint64(m)
        else:
            assert state[1] == c
        if not above and delta >= 0.01:  # bounds 1% or more below the largest minor
            clear += 1
            decided += state[1] != c
    # and it does its job: the bounds are within 0.0015 of log2, so a try whose largest minor
    # clears `bound` by 1% or more is rejected by the screen itself, not by the exact test
    assert clear > 100 and decided == clear
