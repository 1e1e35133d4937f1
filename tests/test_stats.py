"""Wilson and Newcombe intervals, and the paired contrast built on them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from stability.analysis.contrast import contrast
from stability.analysis.stats import (
    newcombe_paired_difference,
    newcombe_unpaired_difference,
    wilson_interval,
)

Z = 1.959963984540054


def test_wilson_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    ks, ns = np.meshgrid(np.arange(0, 41), np.array([1, 2, 7, 40]))
    ok = ks <= ns
    lo, hi = wilson_interval(ks[ok], ns[ok])
    for k, n, a, b in zip(ks[ok], ns[ok], lo, hi, strict=True):
        ci = stats.binomtest(int(k), int(n)).proportion_ci(0.95, method="wilson")
        assert (a, b) == pytest.approx((ci.low, ci.high), abs=1e-12), (k, n)


def test_wilson_is_the_score_test_inversion():
    # The limits are the roots in p of (k/n - p)^2 = z^2 p (1 - p) / n (Wilson 1927).
    for k, n in [(0, 10), (3, 10), (10, 10), (1234, 200_000), (37, 50)]:
        ph = k / n
        a, b, c = 1 + Z * Z / n, -(2 * ph + Z * Z / n), ph * ph
        disc = math.sqrt(b * b - 4 * a * c)
        roots = ((-b - disc) / (2 * a), (-b + disc) / (2 * a))
        assert wilson_interval(k, n) == pytest.approx(roots, abs=1e-12)


def test_wilson_vectorised_and_empty():
    lo, hi = wilson_interval(np.array([[0, 5], [3, 0]]), np.array([[10, 10], [0, 0]]))
    assert lo.shape == hi.shape == (2, 2)
    assert np.isnan(lo[1]).all() and np.isnan(hi[1]).all()
    assert lo[0, 0] == 0.0 and 0 < lo[0, 1] < 0.5 < hi[0, 1] < 1
    assert np.all(np.isnan(wilson_interval(0, 0)))


# Newcombe (1998b), Table II: four paired examples (n11, n10, n01, n00) and method 10's
# 95% limits as published (4 decimals).
PAIRED = [
    ((36, 12, 2, 0), 0.0569, 0.3404),
    ((18, 12, 2, 18), 0.0562, 0.3290),
    ((53, 0, 0, 1), -0.0729, 0.0729),
    ((0, 30, 0, 0), 0.8395, 1.0000),
]


@pytest.mark.parametrize(("table", "lo", "hi"), PAIRED)
def test_paired_published_examples(table, lo, hi):
    n11, n10, n01, _ = table
    diff, got_lo, got_hi = newcombe_paired_difference(*table)
    assert diff == pytest.approx((n10 - n01) / sum(table))
    assert round(float(got_lo), 4) == lo and round(float(got_hi), 4) == hi


def test_paired_by_hand():
    # Newcombe's first example, step by step with the math module.
    n11, n10, n01, n00 = 36, 12, 2, 0
    n = 50

    def wilson(k):
        p = k / n
        centre = (2 * k + Z * Z) / (2 * (n + Z * Z))
        half = Z * math.sqrt(Z * Z + 4 * k * (1 - p)) / (2 * (n + Z * Z))
        return p, centre - half, centre + half

    pa, la, ua = wilson(n11 + n10)  # 48/50
    pb, lb, ub = wilson(n11 + n01)  # 38/50
    # n11 n00 - n10 n01 = -24 < 0: no reduction towards zero.
    phi = -24 / math.sqrt(48 * 2 * 38 * 12)
    lo = 0.2 - math.sqrt((pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2)
    hi = 0.2 + math.sqrt((pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2)
    assert newcombe_paired_difference(n11, n10, n01, n00) == pytest.approx((0.2, lo, hi),
                                                                          abs=1e-12)


def test_paired_positive_association_is_reduced_by_half_n():
    # n11 n00 - n10 n01 = 40*45 - 10*5 = 1750 > n/2 = 50: phi uses 1750 - 50.
    n11, n10, n01, n00 = 40, 10, 5, 45
    n = 100
    la, ua = wilson_interval(50, n)
    lb, ub = wilson_interval(45, n)
    phi = 1700 / math.sqrt(50 * 50 * 45 * 55)
    d1, e2 = 0.5 - la, ub - 0.45
    lo = 0.05 - math.sqrt(d1 * d1 - 2 * phi * d1 * e2 + e2 * e2)
    assert newcombe_paired_difference(n11, n10, n01, n00)[1] == pytest.approx(lo, abs=1e-12)


# Newcombe (1998a), Table II: independent examples (ka, na, kb, nb) and method 10's limits.
@pytest.mark.parametrize(("counts", "lo", "hi"), [((56, 70, 48, 80), 0.0524, 0.3339),
                                                   ((9, 10, 3, 10), 0.1705, 0.8090)])
def test_unpaired_published_examples(counts, lo, hi):
    diff, got_lo, got_hi = newcombe_unpaired_difference(*counts)
    assert diff == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    assert round(float(got_lo), 4) == lo and round(float(got_hi), 4) == hi


def test_vectorised_and_large_counts():
    tables = np.array([PAIRED[0][0], PAIRED[1][0], (0, 0, 0, 0)])
    diff, lo, hi = newcombe_paired_difference(*tables.T)
    assert diff.shape == (3,) and np.isnan(diff[2]) and np.isnan(lo[2])
    assert round(float(lo[1]), 4) == PAIRED[1][1]
    # Products of margins at 10^5-10^6 pairs overflow int64; the result must not.
    big = np.array([400_000, 100_000, 50_000, 450_000], dtype=np.int64)
    d, lo, hi = newcombe_paired_difference(*big)
    d2, lo2, hi2 = newcombe_paired_difference(*(big / 1000))
    assert lo < d < hi and (hi - lo) < (hi2 - lo2) / 20


# A paired design with known difference: joint probabilities of (both, a only, b only,
# neither); p_a = 0.40, p_b = 0.30, outcomes positively correlated.
JOINT_P = np.array([0.25, 0.15, 0.05, 0.55])
TRUE_DIFF = 0.10


def test_paired_coverage():
    rng = np.random.default_rng(20261125)
    trials, n = 20_000, 200
    counts = rng.multinomial(n, JOINT_P, size=trials)
    _, lo, hi = newcombe_paired_difference(*counts.T)
    coverage = np.mean((lo <= TRUE_DIFF) & (TRUE_DIFF <= hi))
    # Newcombe (1998b) finds method 10's coverage close to nominal; allow 4 standard errors
    # of the Monte Carlo estimate (0.0062 here). Ignoring the correlation (phi = 0) gives
    # about 0.997 on this design.
    se = math.sqrt(0.95 * 0.05 / trials)
    assert abs(coverage - 0.95) < 4 * se


def test_paired_narrower_than_unpaired_when_correlated():
    rng = np.random.default_rng(7)
    counts = rng.multinomial(500, JOINT_P, size=2000)
    _, lo, hi = newcombe_paired_difference(*counts.T)
    _, ulo, uhi = newcombe_unpaired_difference(counts[:, 0] + counts[:, 1], 500,
                                               counts[:, 0] + counts[:, 2], 500)
    assert np.all(hi - lo < uhi - ulo)
    assert np.mean(hi - lo) < 0.75 * np.mean(uhi - ulo)


# ---- contrast() on a results dataset --------------------------------------------------------

def _results(joint: np.ndarray, polarity=("bipolar", "multipolar"),
             doctrine=("defensive", "offensive")) -> xr.Dataset:
    """A results dataset with a paired record for doctrine; ``joint`` has dims
    (polarity, doctrine, doctrine_b, joint)."""
    n_runs = joint.sum(axis=(2, 3)) // len(doctrine)
    n_heg = (joint[..., 0] + joint[..., 1]).sum(axis=2) // len(doctrine)
    return xr.Dataset(
        {"n_runs": (("polarity", "doctrine"), n_runs),
         "n_hegemony": (("polarity", "doctrine"), n_heg),
         "joint_hegemony_doctrine": (("polarity", "doctrine", "doctrine_b", "joint"), joint)},
        coords={"polarity": list(polarity), "doctrine": list(doctrine),
                "doctrine_b": list(doctrine), "joint": ["both", "a_only", "b_only", "neither"]},
        attrs={"config_sha256": "abc", "seed": 1})


def _paired_joint(rng, n=400):
    """Simulated paired outcomes of two doctrines in two polarity cells."""
    joint = np.zeros((2, 2, 2, 4), dtype=np.int64)
    for i, p_b in enumerate((0.2, 0.5)):
        u = rng.random(n)
        # Common random numbers: one uniform per replicate drives both doctrines.
        heg = np.stack([u < p_b, u < p_b + 0.1])  # defensive, offensive
        for a in range(2):
            for b in range(2):
                x, y = heg[a], heg[b]
                joint[i, a, b] = [np.sum(x & y), np.sum(x & ~y), np.sum(~x & y),
                                  np.sum(~x & ~y)]
    return joint


def test_contrast_values():
    joint = _paired_joint(np.random.default_rng(3))
    ds = _results(joint)
    out = contrast(ds, dim="doctrine", a="offensive", b="defensive")
    assert out["difference"].dims == ("polarity",)
    for i, pol in enumerate(["bipolar", "multipolar"]):
        table = joint[i, 1, 0]
        want = newcombe_paired_difference(*table)
        got = out.sel(polarity=pol)
        assert (float(got["difference"]), float(got["paired_lo"]),
                float(got["paired_hi"])) == pytest.approx(want)
        n = table.sum()
        ka, kb = table[0] + table[1], table[0] + table[2]
        assert float(got["unpaired_difference"]) == pytest.approx(ka / n - kb / n)
        assert float(got["unpaired_lo"]) == pytest.approx(
            newcombe_unpaired_difference(ka, n, kb, n)[1])
        assert float(got["p_a"]) == pytest.approx(ka / n)
        assert int(got["n_pairs"]) == n
        # Common random numbers make the outcomes strongly correlated.
        assert got["paired_hi"] - got["paired_lo"] < 0.6 * (got["unpaired_hi"]
                                                            - got["unpaired_lo"])
    assert out.attrs["a"] == "offensive" and out.attrs["config_sha256"] == "abc"
    assert "long_name" in out["difference"].attrs
    # Reversing a and b flips the difference and mirrors the interval.
    rev = contrast(ds, dim="doctrine", a="defensive", b="offensive")
    np.testing.assert_allclose(rev["difference"], -out["difference"])
    np.testing.assert_allclose(rev["paired_lo"], -out["paired_hi"])


def test_contrast_reads_a_pair_stored_once():
    joint = _paired_joint(np.random.default_rng(4))
    full = contrast(_results(joint), a="offensive", b="defensive")
    half = joint.copy()
    half[:, 1, 0] = 0  # only (defensive, offensive) kept
    got = contrast(_results(half), a="offensive", b="defensive")
    np.testing.assert_allclose(got["paired_lo"], full["paired_lo"])
    np.testing.assert_allclose(got["difference"], full["difference"])


def test_contrast_errors():
    ds = _results(_paired_joint(np.random.default_rng(5)))
    with pytest.raises(ValueError, match=r"contrasts = \[\"doctrine\"\]"):
        contrast(ds.drop_vars("joint_hegemony_doctrine"))
    with pytest.raises(ValueError, match="a='realist' is not a value of 'doctrine'"):
        contrast(ds, a="realist")
    with pytest.raises(ValueError, match="b='x' is not a value of 'doctrine'"):
        contrast(ds, b="x")
    with pytest.raises(ValueError, match="not a sweep dimension"):
        contrast(ds, dim="growth_sd")
    with pytest.raises(ValueError, match="two different values"):
        contrast(ds, a="offensive", b="offensive")
