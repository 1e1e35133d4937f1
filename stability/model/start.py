"""Starting systems: the polarity samplers, explicit shares, and the polarity classifier.

A *pole* is a state whose share is at least ``pole_ratio`` times the largest and at least
``pole_min_share``; polarity is the number of poles (1, 2, 3 or more; none counts as
multipolar), after Waltz's count of great powers. Samplers draw the poles as the
specification states, then redraw the minor states (a flat Dirichlet over what is left) until
every minor is below the smallest pole and is not itself a pole (unipolar: at most half the
pole). Where a pole draw leaves no room for such minors, or the poles themselves would not
classify as asked (or would already be hegemons), the poles are redrawn: the specification's
literal recipe is infeasible for part of its default ranges (five poles holding 60% beside
three minors, say), so the effective distribution is the stated one conditioned on
feasibility. docs/model.md states this.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import params as P
from . import libm
from .bits import float_bits
from .phases import latitude
from .rng import (
    NO_NRT,
    PH_START,
    below,
    key_cache_on_sources,
    set_phase,
    stream_key,
    uniform,
)

MAX_POLE_TRIES = 10_000
MAX_MINOR_TRIES = 10_000

# log2(1 + k / 2**LOG2_BITS) for k = 0 .. 2**LOG2_BITS: a positive normal double's exponent
# and the top LOG2_BITS bits of its mantissa bracket its log2 between two neighbours here
# (log2_bracket). 8 KiB, read by the multipolar start's minor screen.
LOG2_BITS = 10
LOG2_TABLE = np.array([math.log2(1.0 + k / 2**LOG2_BITS) for k in range(2**LOG2_BITS + 1)])
_MANTISSA_SHIFT = 52 - LOG2_BITS
_INDEX_MASK = 2**LOG2_BITS - 1


@njit(cache=True, **NO_NRT)
def classify(share, alive, n_slots, pole_ratio, pole_min):
    """Polarity class of the living states' shares: 1, 2 or 3 (3+ poles, or none)."""
    top = 0.0
    for i in range(n_slots):
        if alive[i] and share[i] > top:
            top = share[i]
    poles = 0
    for i in range(n_slots):
        if alive[i] and share[i] >= pole_ratio * top and share[i] >= pole_min:
            poles += 1
    if poles == 1:
        return 1
    if poles == 2:
        return 2
    return 3


@njit(cache=True, **NO_NRT)
def _poles(p, rng, n, out):
    """Draw the poles into out[0:k]; return (k, share left for the minors)."""
    code = int(p[P.P_START])
    if code == P.START_UNIPOLAR:
        lo, hi = p[P.P_UNI_SHARE], p[P.P_UNI_SHARE + 1]
        out[0] = lo + (hi - lo) * uniform(rng)
        return 1, 1.0 - out[0]
    if code == P.START_BIPOLAR:
        lo, hi = p[P.P_BI_SHARE], p[P.P_BI_SHARE + 1]
        total = lo + (hi - lo) * uniform(rng)
        lo, hi = p[P.P_BI_SPLIT], p[P.P_BI_SPLIT + 1]
        split = lo + (hi - lo) * uniform(rng)
        out[0] = total * split
        out[1] = total * (1.0 - split)
        return 2, 1.0 - total
    # multipolar: k ~ U{lo..min(hi, n)} poles of comparable size (weights ~ U(0.5, 1))
    klo = int(p[P.P_MULTI_POLES])
    khi = min(int(p[P.P_MULTI_POLES + 1]), n)
    k = klo + below(rng, khi - klo + 1)
    lo, hi = p[P.P_MULTI_SHARE], p[P.P_MULTI_SHARE + 1]
    total = lo + (hi - lo) * uniform(rng)
    if k == n:
        total = 1.0  # no minor states to hold the rest
    wsum = 0.0
    for i in range(k):
        out[i] = 0.5 + 0.5 * uniform(rng)
        wsum += out[i]
    for i in range(k):
        out[i] = total * out[i] / wsum
    return k, 1.0 - total


@njit(cache=True, inline="always")
def _minor_ok(s, smallest, largest, unipolar, ratio, pmin):
    # scalars only: an array argument would cost two atomic reference-count updates per call
    if s >= smallest:
        return False
    if s >= ratio * largest and s >= pmin:
        return False  # would itself be a pole
    if unipolar and s > 0.5 * largest:
        return False
    return True


@njit(cache=True, inline="always")
def log2_bracket(y):
    """(lo, hi) with lo <= log2(y) <= hi for a positive normal double y, from its bits and a
    table read (no libm call): y = 2**e (1 + k / 2**LOG2_BITS + less), so log2(y) lies between
    e + LOG2_TABLE[k] and e + LOG2_TABLE[k + 1], at most 1 / (2**LOG2_BITS ln 2) apart. The
    table entries and the sums are rounded (a few 1e-16 absolute), which callers allow for."""
    b = float_bits(y)
    e = float((b >> 52) - 1023)
    k = (b >> _MANTISSA_SHIFT) & _INDEX_MASK
    return e + LOG2_TABLE[k], e + LOG2_TABLE[k + 1]


@njit(cache=True, inline="always")
def _minors_fail(rng, m, rest, bound):
    """True if the next m minor draws certainly fail, the counter then moved past them;
    otherwise False, the counter unmoved (the caller draws them exactly).

    The minors are rest * e_i / sum(e) with e_i = -log(1 - u_i); the largest is the one of
    the smallest 1 - u_i, and a try fails when any minor reaches ``bound`` (every test of
    _minor_ok fails above a threshold, and ``bound`` is the least of them). Here the sum of
    the m logarithms is taken as the logarithm of the product, and neither logarithm is
    computed: log2_bracket bounds -log2 of the smallest 1 - u_i from below and -log2 of the
    product from above (each within 0.0015 of the truth, from a table; the ratio is the same in
    any base), and a try fails here only when even these bounds put the largest minor at or
    above ``bound`` with a relative margin of 1e-9. The sum is then at least -log2(0.999), so
    the product's rounding (m units in the last place) and the bounds' (a few 1e-16 absolute)
    move the ratio by under 1e-11, and the exact test's own rounding by less: a try rejected
    here is rejected by the exact test too, and the stream, hence every start, is unchanged.

    Most tries are rejected, almost all of them here: in the default multipolar start about one
    rejected try in 2000 falls within the bounds' uncertainty and goes to the exact test.
    Computed with two log() of the product instead, the screen spent about half a multipolar
    start's time in libm (benchmarks/optimisations.md, rows 4 and 21).
    """
    start = rng[1]
    prod = 1.0
    ymin = 1.0
    for _ in range(m):
        y = 1.0 - uniform(rng)
        prod *= y
        ymin = y if y < ymin else ymin  # not min(): Numba compiles that to a call
    if 1e-300 < prod < 0.999:
        a_lo = -log2_bracket(ymin)[1]
        s_hi = -log2_bracket(prod)[0]
        if rest * a_lo >= bound * s_hi * (1.0 + 1e-9):
            return True
    rng[1] = start
    return False


@njit(cache=True, **NO_NRT)
def sample_shares(p, rng, n, out):
    """Fill out[0:n] with a random start of the requested polarity; False if none found."""
    unipolar = int(p[P.P_START]) == P.START_UNIPOLAR
    ratio, pmin = p[P.P_POLE_RATIO], p[P.P_POLE_MIN]
    for _ in range(MAX_POLE_TRIES):
        k, rest = _poles(p, rng, n, out)
        largest = 0.0
        smallest = 2.0
        for i in range(k):
            largest = out[i] if out[i] > largest else largest  # not max(): a call
            smallest = out[i] if out[i] < smallest else smallest
        if largest >= p[P.P_HEGEMONY_THRESHOLD]:
            continue
        poles_ok = True
        for i in range(k):
            if out[i] < p[P.P_POLE_RATIO] * largest or out[i] < p[P.P_POLE_MIN]:
                poles_ok = False
        if not poles_ok:
            continue
        m = n - k
        if m == 0:
            return True
        # Every minor must lie strictly below `bound`; if m of them cannot hold `rest`, no
        # redraw of the minors can succeed, so redraw the poles.
        bound = min(smallest, max(p[P.P_POLE_RATIO] * largest, p[P.P_POLE_MIN]))
        if unipolar:
            bound = min(bound, 0.5 * largest)
        if m * bound <= rest:
            continue
        for _ in range(MAX_MINOR_TRIES):
            if _minors_fail(rng, m, rest, bound):
                continue
            esum = 0.0
            for i in range(k, n):
                out[i] = -libm.log(1.0 - uniform(rng))
                esum += out[i]
            ok = True
            for i in range(k, n):
                out[i] = rest * out[i] / esum
                if not _minor_ok(out[i], smallest, largest, unipolar, ratio, pmin):
                    ok = False
            if ok:
                return True
    return False


@njit(cache=True, **NO_NRT)
def draw_start(p, rng, r, x, z, rev, rank, scratch, perm):
    """Set up replicate's starting system in slots 0..n-1; return n, or -1 if none found.

    Draw order (sub-stream START): the shares, a shuffle of them over the slots (randomized
    starts only, so that tie-breaks by slot favour no pole), positions (on the sphere: every
    longitude, then every latitude), revisionist flags.
    """
    n = int(p[P.P_N_STATES])
    set_phase(rng, 0, PH_START)
    if int(p[P.P_START]) == P.START_SHARES:
        total = 0.0
        for i in range(n):
            total += p[P.P_SHARES + i]
        for i in range(n):
            r[i] = p[P.P_SHARES + i] / total
    else:
        if not sample_shares(p, rng, n, scratch):
            return -1
        for i in range(n):
            perm[i] = i
        for i in range(n - 1, 0, -1):
            j = below(rng, i + 1)
            t = perm[i]
            perm[i] = perm[j]
            perm[j] = t
        for i in range(n):
            r[i] = scratch[perm[i]]
    for i in range(n):
        if p[P.P_FIXED_POSITIONS] != 0.0:
            x[i] = p[P.P_POSITIONS + i]
        else:
            x[i] = uniform(rng)
    if p[P.P_GEOGRAPHY] == P.GEO_SPHERE:
        for i in range(n):
            z[i] = latitude(uniform(rng))
    for i in range(n):
        rev[i] = 1 if uniform(rng) < p[P.P_REVISIONIST] else 0
    for i in range(n):
        k = 0
        for j in range(n):
            if r[j] > r[i] or (r[j] == r[i] and j < i):
                k += 1
        rank[i] = k
    return n


# ---- the starting shares alone (for analysis; the polarity checks are in params.py) -----------

@njit(cache=True, nogil=True)
def _draw_starts(pmat, seed, reps, shares):
    r = np.zeros(P.MAX_SLOTS)
    x = np.zeros(P.MAX_SLOTS)
    z = np.zeros(P.MAX_SLOTS)
    rev = np.zeros(P.MAX_SLOTS, dtype=np.int64)
    rank = np.zeros(P.MAX_SLOTS, dtype=np.int64)
    scratch = np.zeros(P.MAX_SLOTS + 1)
    perm = np.zeros(P.MAX_SLOTS, dtype=np.int64)
    rng = np.zeros(2, dtype=np.uint64)
    for row in range(reps.size):
        p = pmat[0] if pmat.shape[0] == 1 else pmat[row]
        rng[0] = stream_key(seed, reps[row])
        n = draw_start(p, rng, r, x, z, rev, rank, scratch, perm)
        for i in range(P.MAX_SLOTS):
            shares[row, i] = r[i] if i < n else 0.0
        if n < 0:
            shares[row, 0] = -1.0


def draw_starts(resolved: dict, seed: int, reps) -> np.ndarray:
    """The starting capability shares of replicates ``reps``: float64[len(reps), MAX_SLOTS]
    (slot order, zero beyond n_states), exactly as the simulation starts them."""
    reps = np.ascontiguousarray(reps, dtype=np.int64)
    out = np.zeros((reps.size, P.MAX_SLOTS))
    _draw_starts(P.pack(resolved)[None, :], int(seed), reps, out)
    return out


key_cache_on_sources(globals())
