"""Counter-based random numbers: one stream per (seed, replicate), sub-streams per phase.

A draw is a pure function of (key, counter): ``mix64(key ^ (counter * GOLDEN))``, where
``key = stream_key(seed, replicate)`` and ``mix64`` is the SplitMix64 finaliser (Steele,
Lea and Flood 2014). Nothing is carried from one replicate to another, so replicate i gives
the same numbers whatever else runs beside it, in any order, on any thread; this is the
remedy for the irreproducibility of ``np.random`` under ``prange``.

The 64-bit counter is laid out as ``(step << 32) | (phase << 27) | index``: each phase of each
step reads its own sub-stream. Cells of a sweep that share a replicate index therefore share
their starting system and, while their histories agree, their shocks (common random numbers).

Compiled functions here take the generator state as a 2-element uint64 array
``[key, counter]``; they are also used, unchanged, by code outside the kernels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint64

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SEED_SALT = np.uint64(0x5851F42D4C957F2D)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
TWO_PI = 6.283185307179586

# Phases: each (step, phase) pair is a separate sub-stream.
PH_START = 1
PH_GROWTH_ORDER = 2
PH_GROWTH = 3
PH_ALIGN_ORDER = 4
PH_ALIGN = 5
PH_WAR_ORDER = 6
PH_WAR = 7
PH_ENTRY = 8
PH_RANDOMIZE = 15  # [randomize] parameter draws, outside the simulation proper


@njit(inline="always")
def mix64(z):
    """SplitMix64 finaliser: a bijection of uint64 with full avalanche."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit
def stream_key(seed, rep):
    """The key of replicate ``rep``'s stream under experiment ``seed`` (both non-negative)."""
    return mix64(mix64(uint64(seed) ^ _SEED_SALT) + uint64(rep + 1) * GOLDEN)


@njit(inline="always")
def set_phase(rng, step, phase):
    """Point the generator at the start of sub-stream (step, phase)."""
    rng[1] = (uint64(step) << uint64(32)) | (uint64(phase) << uint64(27))


@njit(inline="always")
def next_u64(rng):
    c = rng[1]
    rng[1] = c + uint64(1)
    return mix64(rng[0] ^ (c * GOLDEN))


@njit(inline="always")
def uniform(rng):
    """A double in [0, 1) with 53 random bits."""
    return float(next_u64(rng) >> _S11) * _TO_UNIT


@njit(inline="always")
def normal(rng):
    """Standard normal by Box-Muller (cosine branch); consumes two uniforms."""
    u1 = uniform(rng)
    u2 = uniform(rng)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(TWO_PI * u2)


@njit(inline="always")
def below(rng, n):
    """An integer uniform on 0..n-1."""
    k = int(uniform(rng) * n)
    return k if k < n else n - 1


@njit
def randomize_uniforms(seed, reps, column, count):
    """``count`` uniforms for each replicate, from its own [randomize] sub-stream ``column``.

    Used outside the kernels to draw per-replicate parameters: independent of the
    simulation's draws, and, like them, a function of (seed, replicate) only.
    """
    out = np.empty((reps.size, count))
    rng = np.empty(2, dtype=np.uint64)
    for n in range(reps.size):
        rng[0] = stream_key(seed, reps[n])
        set_phase(rng, column, PH_RANDOMIZE)
        for c in range(count):
            out[n, c] = uniform(rng)
    return out
