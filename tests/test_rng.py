"""The random-variate scheme: kernel and reference draw the same numbers, and they have the
distributions they claim (docs/model.md, stability.model.rng)."""

import math

import numpy as np
import pytest
from scipy import stats

from stability import reference
from stability.model import rng as R


def test_ziggurat_tables_agree():
    assert list(R.ZIG_X) == reference.ZIG_X and list(R.ZIG_F) == reference.ZIG_F
    assert len(R.ZIG_X) == R.ZIG_LAYERS + 1 and R.ZIG_X[1] == R.ZIG_R and R.ZIG_X[-1] == 0.0
    assert np.all(np.diff(R.ZIG_X) < 0)  # edges shrink towards the mode
    # every layer (base strip with the tail included) has the same area
    tail = math.sqrt(math.pi / 2) * math.erfc(R.ZIG_R / math.sqrt(2))
    base = R.ZIG_R * R.ZIG_F[1] + tail
    top = R.ZIG_X[-2] * (1.0 - R.ZIG_F[-2])
    assert abs(base / R.ZIG_V - 1) < 1e-8 and abs(top / R.ZIG_V - 1) < 1e-8


@pytest.mark.parametrize("seed, rep, step, phase", [(0, 0, 1, 3), (42, 7, 200, 7),
                                                    (2**63 - 1, 10**6, 5, 3)])
def test_kernel_and_reference_normals_agree(seed, rep, step, phase):
    count = 20_000  # about 300 draws take the wedge or tail path
    kernel = R.normals(seed, rep, step, phase, count)
    s = reference.Stream(seed, rep)
    s.phase(step, phase)
    assert [s.normal() for _ in range(count)] == list(kernel)
    assert s.counter == ((step << 32) | (phase << 27)) + count  # one counter value each


def test_normals_are_standard_normal():
    z = R.normals(1, 2, 0, 3, 2_000_000)
    n = z.size
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-4
    # the tail beyond the base layer's edge, which has its own sampler
    p = 2 * stats.norm.sf(R.ZIG_R)
    assert abs((np.abs(z) > R.ZIG_R).mean() - p) < 5 * math.sqrt(p / n)


def test_below_is_floor_of_n_u():
    words = np.random.default_rng(0).integers(0, 2**64, 20_000, dtype=np.uint64)
    words = np.concatenate([words, np.array([0, 2**64 - 1, 2**11 - 1, 2**11], np.uint64)])
    for n in (1, 2, 7, 32):
        got = [R.below_word(w, n) for w in words]
        want = [((int(w) >> 11) * n) >> 53 for w in words]
        assert got == want and min(got) >= 0 and max(got) <= n - 1
    counts = np.bincount([R.below_word(w, 7) for w in words[:20_000]], minlength=7)
    assert stats.chisquare(counts).pvalue > 1e-4
