"""The kernels' exp and log (stability/model/libm.py) give exactly the values of the math.exp and
math.log they replace: those of Numba's compiled code and of the pure-Python reference."""

import math
import platform

import numpy as np
import pytest
from numba import njit

from stability.model import libm

EXP_SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 1e-300, 1.0, -1.0, 0.5, 709.782712893384,
               709.7827128933841, 710.0, -708.3964185322641, -708.4, -744.4400719213812,
               -745.1332191019411, -745.2, 1e300, -1e300, np.inf, -np.inf, np.nan]
LOG_SPECIAL = [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1e-300, 0.5, 1.0,
               1.0000000000000002, 0.9999999999999999, 2.0, 1e300, 1.7976931348623157e308,
               np.inf, -1.0, -np.inf, np.nan]


def _inputs(seed):
    rng = np.random.default_rng(seed)
    exp_in = np.concatenate([EXP_SPECIAL, rng.uniform(-750.0, 712.0, 100_000),
                             rng.normal(0.0, 1.0, 100_000), rng.normal(0.0, 1e-8, 1_000)])
    # positive doubles of every exponent (subnormals included), then values near 1
    log_in = np.concatenate([LOG_SPECIAL,
                             np.exp(rng.uniform(-744.0, 709.0, 100_000)),
                             (rng.integers(1, 2**52, 1_000, dtype=np.int64)).view(np.float64),
                             1.0 + rng.normal(0.0, 1e-6, 10_000)])
    return exp_in, log_in


@njit
def _ours(xs, out_exp, out_log):
    for k in range(xs.size):
        out_exp[k] = libm.exp(xs[k])
        out_log[k] = libm.log(xs[k])


@njit
def _numba_math(xs, out_exp, out_log):
    for k in range(xs.size):
        out_exp[k] = math.exp(xs[k])
        out_log[k] = math.log(xs[k])


def _both(fn, xs):
    e, lg = np.empty(xs.size), np.empty(xs.size)
    fn(xs, e, lg)
    return e, lg


@pytest.mark.skipif(platform.system() != "Linux" or platform.machine() != "x86_64"
                    or platform.libc_ver()[0] != "glibc",
                    reason="the direct calls are made on x86-64 glibc only")
def test_direct_calls_are_used_on_glibc():
    """Where they can be (x86-64 glibc), the kernels call glibc's computing functions directly;
    otherwise the tests below would only compare math.exp with itself."""
    assert libm.DIRECT


def test_same_bits_as_numba_math():
    """Bit for bit the values the kernels computed before (Numba's math.exp and math.log),
    infinities, zeros, subnormal results and both overflow thresholds included. A NaN need only
    be a NaN: log of a negative number gives one of the other sign (libm's doc)."""
    exp_in, log_in = _inputs(11)
    for xs in (exp_in, log_in):
        ours, theirs = _both(_ours, xs), _both(_numba_math, xs)
        for a, b in zip(ours, theirs, strict=True):
            nan = np.isnan(b)
            assert np.array_equal(np.isnan(a), nan)
            assert np.array_equal(a[~nan].view(np.int64), b[~nan].view(np.int64))
            assert nan.any()  # NaN inputs are among those checked


def _against_python(xs, got, fn, error, allowed):
    """Compare compiled results ``got`` with Python's ``fn`` on ``xs``, bit for bit where
    ``fn`` returns a number; where it raises ``error``, ``allowed(x, got)`` must hold. Returns
    the number of values compared bit for bit."""
    checked = 0
    for x, g in zip(xs.tolist(), got.tolist(), strict=True):
        try:
            want = fn(x)
        except error:
            assert allowed(x, g), x
            continue
        if math.isnan(want):
            assert math.isnan(g), x
        else:
            assert np.float64(g).view(np.int64) == np.float64(want).view(np.int64), x
            checked += 1
    return checked


def test_same_values_as_the_reference():
    """Bit for bit the values the pure-Python reference gets from math.exp and math.log,
    wherever those return a value (Python raises instead of returning inf, 0 or NaN)."""
    exp_in, log_in = _inputs(12)
    ours_exp, _ = _both(_ours, exp_in)
    _, ours_log = _both(_ours, log_in)
    checked = _against_python(exp_in, ours_exp, math.exp, OverflowError,
                              lambda x, g: g == math.inf)
    checked += _against_python(log_in, ours_log, math.log, ValueError,
                               lambda x, g: math.isnan(g) or (x == 0.0 and g == -math.inf))
    assert checked > 300_000
