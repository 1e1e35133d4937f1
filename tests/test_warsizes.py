"""The war-size fit recovers known tails (the powerlaw package's estimator, seeded data)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("powerlaw")

from stability.analysis.warsizes import fit_war_sizes  # noqa: E402


def test_recovers_pareto_exponent():
    rng = np.random.default_rng(12)
    alpha, xmin = 1.45, 0.01
    x = xmin * (1.0 - rng.random(4000)) ** (-1.0 / (alpha - 1.0))
    fit = fit_war_sizes(x, xmin=xmin)
    # the MLE's standard error is (alpha - 1) / sqrt(n); allow four of them
    assert abs(fit["alpha"] - alpha) < 4 * fit["sigma"]
    assert fit["cumulative_slope"] == pytest.approx(1 - fit["alpha"])
    assert fit["n"] == 4000 and fit["n_fitted"] == fit["n_tail"] == 3000  # subsampled


def test_prefers_exponential_for_exponential_data():
    rng = np.random.default_rng(3)
    fit = fit_war_sizes(rng.exponential(0.02, size=3000), xmin=0.001)
    assert fit["R_exponential"] < 0 and fit["p_exponential"] < 0.01


def test_too_few_wars_rejected():
    with pytest.raises(ValueError, match="at least 50 positive war sizes"):
        fit_war_sizes(np.r_[np.zeros(100), np.ones(10)])
