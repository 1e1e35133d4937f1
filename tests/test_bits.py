"""The kernels' bit-level tricks give exactly the values of the code they replace."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
from numba import njit
from numba.core import config
from numba.core.codegen import get_host_cpu_features

from stability.model.bits import choose, float_bits
from stability.model.rng import with_sign_of_bit

# every kind of double a kernel could hold: zeros of both signs, subnormals, infinities, NaN
SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1.0, -1.0,
           3.6541528853610088, 1e300, np.inf, -np.inf, np.nan]


def test_float_bits_orders_non_negative_doubles():
    """float_bits is the double's bit pattern, and the patterns of non-negative doubles sort
    as the values do (zero, subnormals and infinity included), as bits.py says."""
    @njit
    def bits(xs):
        out = np.empty(xs.size, dtype=np.int64)
        for k in range(xs.size):
            out[k] = float_bits(xs[k])
        return out

    rng = np.random.default_rng(5)
    xs = np.concatenate([[0.0, 5e-324, 2.2250738585072014e-308, 1e-300, 1.0, np.inf],
                         rng.random(200), rng.random(200) ** 40, np.exp(rng.normal(0, 50, 200))])
    b = bits(xs)
    assert np.array_equal(b, xs.view(np.int64))
    assert np.array_equal(np.argsort(b, kind="stable"), np.argsort(xs, kind="stable"))
    assert (b >= 0).all()


def test_with_sign_of_bit_is_the_negation_it_replaces():
    """The ziggurat gives its normal the sign of the word's bit 8 by an integer XOR instead of
    a select (which compiles to a jump the CPU mispredicts half the time): the result must be
    the float negation, bit for bit, for every kind of double the draw could hold."""
    @njit
    def signed(xs, ws):
        out = np.empty(xs.size)
        for k in range(xs.size):
            out[k] = with_sign_of_bit(xs[k], ws[k])
        return out

    rng = np.random.default_rng(9)
    xs = np.concatenate([[0.0, -0.0, 5e-324, 1e-300, 1.0, 3.6541528853610088, np.inf, -np.inf],
                         rng.random(500) * 4.0, -rng.random(100)])
    ws = rng.integers(0, 2**63, xs.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    ws[:8] = np.uint64(0)                      # bit 8 clear: unchanged
    ws[8:16] = np.uint64(256)                  # only bit 8 set: negated
    want = np.where((ws >> np.uint64(8)) & np.uint64(1) == 1, -xs, xs)
    assert np.array_equal(signed(xs, ws).view(np.int64), want.view(np.int64))


def check_choose() -> bool:
    """choose(c, a, b) is a if c else b, bit for bit, for a bool or a 0/1 integer condition
    (the kernels use both) and any two doubles. Returns whether it compiled to the blend."""
    @njit
    def chosen(cs, a, b):
        out_int = np.empty(a.size)
        out_bool = np.empty(a.size)
        for k in range(a.size):
            out_int[k] = choose(cs[k], a[k], b[k])
            out_bool[k] = choose(cs[k] != 0, a[k], b[k])
        return out_int, out_bool

    rng = np.random.default_rng(11)
    pairs = np.array([(x, y) for x in SPECIAL for y in SPECIAL])
    a = np.concatenate([pairs[:, 0], rng.normal(0, 1e3, 300)])
    b = np.concatenate([pairs[:, 1], rng.normal(0, 1e-3, 300)])
    for cs in (np.zeros(a.size, dtype=np.int64), np.ones(a.size, dtype=np.int64),
               rng.integers(0, 2, a.size)):
        want = np.where(cs == 1, a, b).view(np.int64)
        for got in chosen(cs, a, b):
            assert np.array_equal(got.view(np.int64), want)
    return "vblendvpd" in next(iter(chosen.inspect_asm().values()))


def test_choose_is_the_select_it_replaces():
    """The path this process compiles: the AVX blend wherever Numba's target has AVX (the
    host's features, unless NUMBA_CPU_FEATURES or NUMBA_CPU_NAME=generic say otherwise)."""
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None \
        else get_host_cpu_features()
    avx = "+avx" in features.split(",")
    assert check_choose() == (avx and platform.machine() in ("x86_64", "AMD64"))


def test_choose_without_avx_is_the_same_select(tmp_path):
    """The portable path (masked integers), compiled for a generic CPU in a fresh process."""
    here = str(Path(__file__).parent)
    code = (f"import sys; sys.path.insert(0, {here!r}); import test_bits; "
            "print(test_bits.check_choose())")
    env = {**os.environ, "NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"  # checked exact, and not the blend
