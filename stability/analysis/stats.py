"""Interval estimates for proportions and their differences (vectorised numpy).

- Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
  inference. *JASA* 22: 209-212.
- Newcombe, R. G. (1998a). Interval estimation for the difference between independent
  proportions: comparison of eleven methods. *Statistics in Medicine* 17: 873-890.
- Newcombe, R. G. (1998b). Improved confidence intervals for the difference between binomial
  proportions based on paired data. *Statistics in Medicine* 17: 2635-2650.

Every function broadcasts its count arguments against each other and returns float64 arrays
(numpy scalars for scalar input); a cell with no observations gives nan.
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054  # the 0.975 standard normal quantile: two-sided 95%


def _counts(*counts):
    return [np.asarray(c, dtype=np.float64) for c in counts]


def _out(*arrays):
    out = tuple(a[()] for a in arrays)  # 0-d arrays become numpy scalars
    return out


def wilson_interval(k, n, z=Z95):
    """Wilson (1927) score interval ``(lo, hi)`` for a proportion of ``k`` successes in ``n``.

    Without continuity correction (Newcombe 1998a, method 3). ``n == 0`` gives nan.
    """
    k, n = _counts(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
        # The interval always contains p; at k = 0 (k = n) its lower (upper) limit is exactly
        # 0 (1), but rounding can leave it a few ulps inside, beyond p itself.
        lo, hi = np.minimum(lo, p), np.maximum(hi, p)
    return _out(lo, hi)


def newcombe_unpaired_difference(ka, na, kb, nb, z=Z95):
    """Difference ``ka/na - kb/nb`` of independent proportions, with its ``(lo, hi)`` interval.

    Newcombe (1998a) method 10: the hybrid score ("square-and-add") interval built from the
    two Wilson intervals. Returns ``(diff, lo, hi)``.
    """
    ka, na, kb, nb = _counts(ka, na, kb, nb)
    la, ua = wilson_interval(ka, na, z)
    lb, ub = wilson_interval(kb, nb, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = ka / na, kb / nb
    diff = pa - pb
    lo = diff - np.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    hi = diff + np.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    return _out(diff, np.clip(lo, -1.0, 1.0), np.clip(hi, -1.0, 1.0))


def newcombe_paired_difference(n11, n10, n01, n00, z=Z95):
    """Difference ``p_a - p_b`` of paired proportions, with its ``(lo, hi)`` interval.

    ``n11`` pairs with the event under both a and b, ``n10`` under a only, ``n01`` under b
    only, ``n00`` under neither; ``p_a = (n11 + n10) / n``, ``p_b = (n11 + n01) / n``.
    Newcombe (1998b) method 10: the Wilson intervals of both margins combined with the
    estimated correlation phi between them, whose numerator ``n11 n00 - n10 n01`` is first
    reduced by ``n / 2`` towards zero when positive (phi = 0 when a margin is empty).
    Returns ``(diff, lo, hi)``.
    """
    # float64 up front: products of four margins overflow int64 beyond ~55k pairs.
    n11, n10, n01, n00 = _counts(n11, n10, n01, n00)
    n = n11 + n10 + n01 + n00
    la, ua = wilson_interval(n11 + n10, n, z)
    lb, ub = wilson_interval(n11 + n01, n, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = (n11 + n10) / n, (n11 + n01) / n
        cross = n11 * n00 - n10 * n01
        num = np.where(cross > n / 2, cross - n / 2, np.minimum(cross, 0.0))
        margins = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
        phi = np.where(margins > 0, num / np.sqrt(margins), 0.0)
    diff = pa - pb
    da, ea = pa - la, ua - pa  # distances from p_a down to its lower, up to its upper limit
    db, eb = pb - lb, ub - pb
    lo = diff - np.sqrt(np.maximum(da * da - 2 * phi * da * eb + eb * eb, 0.0))
    hi = diff + np.sqrt(np.maximum(db * db - 2 * phi * db * ea + ea * ea, 0.0))
    return _out(diff, np.clip(lo, -1.0, 1.0), np.clip(hi, -1.0, 1.0))
