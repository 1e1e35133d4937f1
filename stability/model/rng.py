"""Counter-based random numbers: one stream per (seed, replicate), sub-streams per phase.

A draw is a pure function of (key, counter): ``mix64(key ^ (counter * GOLDEN))``, where
``key = stream_key(seed, replicate)`` and ``mix64`` is the SplitMix64 finaliser (Steele,
Lea and Flood 2014). Nothing is carried from one replicate to another, so replicate i gives
the same numbers whatever else runs beside it, in any order, on any thread; this is the
remedy for the irreproducibility of ``np.random`` under ``prange``.

The 64-bit counter is laid out as ``(step << 32) | (phase << 27) | index``: each phase of each
step reads its own sub-stream. Cells of a sweep that share a replicate index therefore share
their starting system and, while their histories agree, their shocks (common random numbers).

Variates from a word w (one counter value each):

- uniform: ``(w >> 11) * 2**-53``, a double in [0, 1) with 53 random bits;
- below(n), an integer on 0..n-1: ``((w >> 11) * n) >> 53``, that is floor(n u) for the same
  u, computed exactly in integers (n < 2**11; cheaper than through a double);
- normal: a 256-layer ziggurat (Marsaglia and Tsang 2000): the layer from w's low 8 bits, the
  sign from bit 8, the abscissa from the top 53 bits. In the rare case (about 1.5%) that the
  point falls outside the layer's rectangle, further words come from a SplitMix64 sequence
  seeded with w (w plus 1, 2, ... times GOLDEN, each through ``mix64``), never from the
  stream's counter: a normal always costs exactly one counter value, so code that can prove a
  draw's result irrelevant may skip it by advancing the counter (``NORMAL_COUNTERS``).

Compiled functions here take the generator state as a 2-element uint64 array
``[key, counter]``; they are also used, unchanged, by code outside the kernels.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
from numba import njit, uint64
from numba.core.cpu import CPUTargetOptions
from numba.core.registry import CPUDispatcher

from . import libm
from .bits import bits_float, float_bits

# Kernels never allocate, so they are compiled without Numba's reference counting (NRT):
# with it, every array argument of a compiled call costs two atomic updates, which took about
# a tenth of a step's time (benchmarks/RESULTS.md). Functions that allocate (the batch drivers)
# keep it. The option is private to Numba, hence the guard: without it the kernels still run.
NO_NRT = {"_nrt": False} if hasattr(CPUTargetOptions, "_nrt") else {}

# Numba's compile cache (cache=True) keys a function on its own source file only, but the
# kernels compile code from the other model modules into themselves (every phase is inlined
# into the step loop), and the packed-parameter layout of params.py into constants. After an
# edit of rng.py alone, say, the cache would hand back stale kernels without a word. So every
# cached kernel's key also carries a hash of all these sources (key_cache_on_sources), and
# whether exp and log are called directly (libm.DIRECT: code compiled one way cannot be
# loaded the other).
_HERE = Path(__file__).resolve().parent
MODEL_SOURCES = hashlib.sha256(b"".join(
    (_HERE / name).read_bytes()
    for name in ("../params.py", "bits.py", "libm.py", "rng.py", "start.py", "phases.py",
                 "wide.py", "simulate.py"))
    + (b"libm.DIRECT" if libm.DIRECT else b"")).hexdigest()


def key_cache_on_sources(namespace: dict) -> None:
    """Add MODEL_SOURCES to the cache key of every cached kernel in a module's namespace.

    Uses the cache's ``_index_key`` (Numba internals, hence the guards): without it the
    kernels still work, with Numba's weaker invalidation.
    """
    for obj in list(namespace.values()):
        cache = getattr(obj, "_cache", None) if isinstance(obj, CPUDispatcher) else None
        base = getattr(cache, "_index_key", None)
        if base is None or getattr(base, "keyed_on_sources", False):
            continue

        def index_key(sig, codegen, base=base):
            return (*base(sig, codegen), MODEL_SOURCES)

        index_key.keyed_on_sources = True
        cache._index_key = index_key


GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SEED_SALT = np.uint64(0x5851F42D4C957F2D)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_S8, _LOW8, _ONE = np.uint64(8), np.uint64(255), np.uint64(1)
_S53 = np.uint64(53)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

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
NORMAL_COUNTERS = 1  # counter values one normal() consumes, always (skipping relies on it)

# Ziggurat for the half-normal density f(x) = exp(-x^2 / 2) with ZIG_LAYERS layers of equal
# area ZIG_V (Marsaglia and Tsang 2000, their 256-layer constants). ZIG_X[k] is the right edge
# of layer k (ZIG_X[0] = ZIG_V / f(ZIG_R), the base strip's width including the tail;
# ZIG_X[1] = ZIG_R; ZIG_X[256] = 0), ZIG_F[k] = f(ZIG_X[k]). Built with Python floats and libm,
# like the reference's copy (tests/test_reproducibility.py checks they are equal).
ZIG_LAYERS = 256
ZIG_R = 3.6541528853610088
ZIG_V = 0.00492867323399


def _ziggurat_tables():
    x = [0.0] * (ZIG_LAYERS + 1)
    x[0] = ZIG_V / math.exp(-0.5 * ZIG_R * ZIG_R)
    x[1] = ZIG_R
    for k in range(1, ZIG_LAYERS - 1):
        x[k + 1] = math.sqrt(-2.0 * math.log(ZIG_V / x[k] + math.exp(-0.5 * x[k] * x[k])))
    f = [0.0] + [math.exp(-0.5 * v * v) for v in x[1:]]
    return np.array(x), np.array(f)


ZIG_X, ZIG_F = _ziggurat_tables()


@njit(inline="always")
def with_sign_of_bit(x, w):
    """-x if bit 8 of the word w is set, else x, exactly (IEEE negation flips the sign bit
    and nothing else), by an integer XOR: written as a select, LLVM compiles it to a jump,
    which the CPU mispredicts half the time, since the bit is random."""
    return bits_float(float_bits(x) ^ np.int64((w >> _S8) & _ONE) << 63)


@njit(inline="always")
def mix64(z):
    """SplitMix64 finaliser: a bijection of uint64 with full avalanche."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, **NO_NRT)
def stream_key(seed, rep):
    """The key of replicate ``rep``'s stream under experiment ``seed`` (both non-negative)."""
    return mix64(mix64(uint64(seed) ^ _SEED_SALT) + uint64(rep + 1) * GOLDEN)


@njit(inline="always")
def counter(step, phase):
    """The first counter value of sub-stream (step, phase)."""
    return (uint64(step) << uint64(32)) | (uint64(phase) << uint64(27))


@njit(inline="always")
def set_phase(rng, step, phase):
    """Point the generator at the start of sub-stream (step, phase)."""
    rng[1] = counter(step, phase)


@njit(inline="always")
def word(key, c):
    """The stream's 64-bit word at counter value c (for loops that keep the key and the
    counter in local variables rather than in the state array)."""
    return mix64(key ^ (c * GOLDEN))


@njit(inline="always")
def next_u64(rng):
    c = rng[1]
    rng[1] = c + uint64(1)
    return word(rng[0], c)


@njit(inline="always")
def unit(w):
    """The double in [0, 1) made of a word's top 53 bits."""
    return float(w >> _S11) * _TO_UNIT


@njit(inline="always")
def uniform(rng):
    """A double in [0, 1) with 53 random bits."""
    return unit(next_u64(rng))


@njit(inline="always")
def below_word(w, n):
    """The integer uniform on 0..n-1 that a word gives: floor(n u) for the word's 53-bit u,
    exactly, in integers (n < 2**11), which is cheaper than through a double."""
    return int(((w >> _S11) * uint64(n)) >> _S53)


@njit(inline="always")
def normal(rng):
    """A standard normal from one counter value (256-layer ziggurat, see the module doc)."""
    return normal_word(next_u64(rng))


@njit(inline="always")
def normal_word(w):
    """The standard normal that a word gives (256-layer ziggurat, see the module doc)."""
    k = int(w & _LOW8)
    x = unit(w) * ZIG_X[k]
    if x < ZIG_X[k + 1]:  # inside layer k's rectangle: about 98.5% of draws end here
        return with_sign_of_bit(x, w)
    return _normal_slow(w)


@njit(cache=True, **NO_NRT)
def _normal_slow(w):
    """The ziggurat's wedges and tail, fed by the SplitMix64 sequence seeded with ``w``."""
    s = w
    while True:
        k = int(w & _LOW8)
        x = unit(w) * ZIG_X[k]
        if x < ZIG_X[k + 1]:
            break
        if k == 0:  # the tail beyond ZIG_R (Marsaglia 1964)
            while True:
                s += GOLDEN
                a = -libm.log(1.0 - unit(mix64(s))) / ZIG_R
                s += GOLDEN
                b = -libm.log(1.0 - unit(mix64(s)))
                if b + b > a * a:
                    break
            x = ZIG_R + a
            break
        s += GOLDEN
        y = ZIG_F[k] + unit(mix64(s)) * (ZIG_F[k + 1] - ZIG_F[k])
        if y < libm.exp(-0.5 * x * x):  # under the density: a wedge point
            break
        s += GOLDEN
        w = mix64(s)  # rejected: start over with the next word
    return with_sign_of_bit(x, w)


@njit(inline="always")
def below(rng, n):
    """An integer uniform on 0..n-1."""
    return below_word(next_u64(rng), n)


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


@njit(cache=True)
def normals(seed, rep, step, phase, count):
    """``count`` normals from replicate ``rep``'s sub-stream (step, phase), as the kernels draw
    them (for tests and benchmarks)."""
    out = np.empty(count)
    rng = np.empty(2, dtype=np.uint64)
    rng[0] = stream_key(seed, rep)
    set_phase(rng, step, phase)
    for c in range(count):
        out[c] = normal(rng)
    return out


key_cache_on_sources(globals())
