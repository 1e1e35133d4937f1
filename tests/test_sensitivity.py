"""Sensitivity designs and indices (stability.analysis.sensitivity), checked against published
values, exact cases, and the common-random-numbers rule of the designs."""

import hashlib
import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.stats import norm

pytest.importorskip("SALib")

from stability.analysis.sensitivity import (  # noqa: E402
    METHODS,
    OUTPUTS,
    analyse,
    check_design,
    design,
    design_rows,
    plot_indices,
    ranked,
    sensitivity_dataset,
)

Z95 = norm.ppf(0.975)


def _se(result, key):
    """The bootstrap standard error behind SALib's 95% half-width."""
    return (result[f"{key}_hi"] - result[f"{key}_lo"]) / 2.0 / Z95


# ---------------------------------------------------------------------------- design checks


@pytest.mark.parametrize("samples, suggestion", [(1000, 1024), (768, 1024), (3, 4), (5, 4),
                                                 (6, 8), (1500, 1024), (1537, 2048)])
def test_sobol_samples_must_be_a_power_of_two(samples, suggestion):
    with pytest.raises(ValueError) as err:
        check_design("sobol", samples, 3)
    assert str(err.value) == (f"sensitivity.samples: Sobol needs a power of two, got {samples}; "
                              f"use {suggestion}")


def test_check_design_messages():
    with pytest.raises(ValueError, match=r"^sensitivity.method: unknown method 'foo'; use one "
                                         r"of sobol, morris, delta$"):
        check_design("foo", 8, 2)
    for method in METHODS:
        with pytest.raises(ValueError, match=r"^sensitivity.samples: at least 2, got 1$"):
            check_design(method, 1, 2)
        with pytest.raises(ValueError, match=r"^randomize: .*at least one randomized"):
            check_design(method, 8, 0)
        with pytest.raises(ValueError, match=r"^sensitivity.samples: must be an integer"):
            check_design(method, 8.0, 2)
    with pytest.raises(ValueError, match=r"^sensitivity.levels: .*even"):
        check_design("morris", 10, 2, levels=3)
    check_design("sobol", 1024, 35)
    check_design("morris", 10, 35, levels=6)
    check_design("delta", 1000, 35)


def test_design_rows():
    assert design_rows("sobol", 1024, 35) == 1024 * 37
    assert design_rows("morris", 10, 35) == 10 * 36
    assert design_rows("delta", 1000, 35) == 1000
    with pytest.raises(ValueError, match="power of two"):
        design_rows("sobol", 1000, 3)


def test_delta_has_no_design():
    with pytest.raises(ValueError, match=r"^sensitivity.method: delta has no design"):
        design("delta", 100, 3, seed=1)


def test_seed_reduction():
    u1, _ = design("sobol", 8, 2, seed=2**63 - 1)
    u2, _ = design("sobol", 8, 2, seed=2**63 - 2)
    assert u1.shape == (32, 2) and not np.array_equal(u1, u2)
    with pytest.raises(ValueError, match=r"^seed: must be a non-negative integer"):
        design("sobol", 8, 2, seed=-1)


# ------------------------------------------------------------------- design layout and CRN


def test_sobol_design_layout_and_streams():
    d, n = 3, 16
    u, stream = design("sobol", n, d, seed=11)
    assert u.dtype == np.float64 and stream.dtype == np.int64
    assert u.shape == (n * (d + 2), d) and stream.shape == (n * (d + 2),)
    assert np.all((u >= 0) & (u <= 1))
    blocks = u.reshape(n, d + 2, d)
    a, ab, b = blocks[:, 0], blocks[:, 1:d + 1], blocks[:, d + 1]
    for i in range(d):
        # AB^i is A with column i taken from B (Saltelli et al. 2010).
        expect = a.copy()
        expect[:, i] = b[:, i]
        np.testing.assert_array_equal(ab[:, i], expect)
    s = stream.reshape(n, d + 2)
    j = np.arange(n)
    np.testing.assert_array_equal(s[:, :d + 1], np.repeat(2 * j[:, None], d + 1, axis=1))
    np.testing.assert_array_equal(s[:, d + 1], 2 * j + 1)


def test_morris_design_layout_and_streams():
    d, n, levels = 4, 12, 4
    u, stream = design("morris", n, d, seed=5, levels=levels)
    assert u.shape == (n * (d + 1), d)
    grid = np.arange(levels) / (levels - 1)
    assert np.all(np.abs(u[..., None] - grid).min(axis=-1) < 1e-12)
    traj = u.reshape(n, d + 1, d)
    steps = np.diff(traj, axis=1)
    # Each step of a trajectory moves exactly one input, by Delta = p / (2 (p - 1)).
    assert np.all((np.abs(steps) > 1e-12).sum(axis=2) == 1)
    np.testing.assert_allclose(np.abs(steps).sum(axis=2), levels / (2 * (levels - 1)))
    np.testing.assert_array_equal(stream, np.repeat(np.arange(n), d + 1))


def _digest(u, stream):
    return hashlib.sha256(u.tobytes() + stream.tobytes()).hexdigest()


def test_design_is_deterministic_cached_and_read_only():
    from stability.analysis import sensitivity

    u, stream = design("sobol", 64, 5, seed=2024)
    again = design("sobol", 64, 5, seed=2024)
    assert again[0] is u  # cached
    assert not u.flags.writeable and not stream.flags.writeable
    sensitivity._design.cache_clear()
    fresh = design("sobol", 64, 5, seed=2024)
    assert fresh[0] is not u and _digest(*fresh) == _digest(u, stream)
    # A worker taking rows [start, stop) sees the same rows whichever way the design is cut.
    cuts = [0, 37, 100, 211, u.shape[0]]
    np.testing.assert_array_equal(
        np.concatenate([fresh[0][a:b] for a, b in zip(cuts, cuts[1:], strict=False)]), u)
    assert _digest(*design("sobol", 64, 5, seed=2025)) != _digest(u, stream)
    assert _digest(*design("morris", 8, 5, seed=2024)) == _digest(*design("morris", 8, 5,
                                                                          seed=2024))


def test_design_is_identical_in_a_fresh_process():
    code = ("import hashlib; from stability.analysis.sensitivity import design; "
            "[print(hashlib.sha256(u.tobytes() + s.tobytes()).hexdigest()) for u, s in "
            "(design('sobol', 128, 6, seed=987654321987), design('morris', 9, 6, seed=3))]")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [_digest(*design("sobol", 128, 6, seed=987654321987)),
                   _digest(*design("morris", 9, 6, seed=3))]


# -------------------------------------------------------------------------- Sobol' indices


def _ishigami(u, a=7.0, b=0.1):
    x = -np.pi + 2.0 * np.pi * u
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_recovers_the_ishigami_indices():
    # Ishigami and Homma (1990), a = 7, b = 0.1; values from Saltelli et al. (2008), table 4.2.
    s1 = np.array([0.3139, 0.4424, 0.0])
    st = np.array([0.5576, 0.4424, 0.2437])
    u, _ = design("sobol", 2**13, 3, seed=20080101)
    r = analyse("sobol", u, _ishigami(u), ["x1", "x2", "x3"], seed=1)
    assert set(r) == {"sobol_first", "sobol_first_lo", "sobol_first_hi",
                      "sobol_total", "sobol_total_lo", "sobol_total_hi"}
    assert all(v.shape == (3,) for v in r.values())
    # Four bootstrap standard errors: a correct estimator misses by chance with p < 1e-4.
    assert np.all(np.abs(r["sobol_first"] - s1) <= 4 * _se(r, "sobol_first"))
    assert np.all(np.abs(r["sobol_total"] - st) <= 4 * _se(r, "sobol_total"))
    # The intervals are half-widths around the index, and informative at this size.
    np.testing.assert_allclose(r["sobol_total_hi"] - r["sobol_total"],
                               r["sobol_total"] - r["sobol_total_lo"])
    assert np.all(_se(r, "sobol_total") < 0.05)


def test_analyse_is_deterministic_given_seed():
    u, _ = design("sobol", 256, 3, seed=4)
    y = _ishigami(u)
    r1 = analyse("sobol", u, y, ["a", "b", "c"], seed=9)
    r2 = analyse("sobol", u, y, ["a", "b", "c"], seed=9)
    r3 = analyse("sobol", u, y, ["a", "b", "c"], seed=10)
    for key in r1:
        np.testing.assert_array_equal(r1[key], r2[key])
    np.testing.assert_array_equal(r1["sobol_total"], r3["sobol_total"])  # no resampling
    assert not np.array_equal(r1["sobol_total_lo"], r3["sobol_total_lo"])


def _toy(u, stream, seed=0, crn=True):
    """y = 1[x1 + noise > 0.5]: x1 acts, x2 is a dummy, the noise comes from the run's stream."""
    rng = np.random.default_rng(seed)
    if crn:
        noise = rng.normal(0.0, 0.3, stream.max() + 1)[stream]
    else:
        noise = rng.normal(0.0, 0.3, stream.size)
    return (u[:, 0] + noise > 0.5).astype(np.float64)


def test_sobol_common_random_numbers_give_a_dummy_exactly_zero():
    u, stream = design("sobol", 1024, 2, seed=77)
    r = analyse("sobol", u, _toy(u, stream), ["x1", "dummy"], seed=3)
    for key in ("sobol_first", "sobol_first_lo", "sobol_first_hi",
                "sobol_total", "sobol_total_lo", "sobol_total_hi"):
        assert r[key][1] == 0.0, key
    assert r["sobol_total_lo"][0] > 0.1
    # Without common random numbers the dummy's total index absorbs the run-to-run noise.
    noisy = analyse("sobol", u, _toy(u, stream, crn=False), ["x1", "dummy"], seed=3)
    assert noisy["sobol_total_lo"][1] > 0.1


def test_morris_common_random_numbers_give_a_dummy_exactly_zero():
    u, stream = design("morris", 200, 2, seed=78)
    r = analyse("morris", u, _toy(u, stream), ["x1", "dummy"], seed=3)
    assert r["morris_mu_star"][1] == 0.0 and r["morris_sigma"][1] == 0.0
    assert r["morris_mu_star_lo"][0] > 0.1


# ------------------------------------------------------------------------------ Morris


def test_morris_on_a_linear_function_is_exact():
    # f = sum c_i x_i on the unit cube: every elementary effect of x_i is c_i (Morris 1991).
    c = np.array([1.5, -2.0, 0.25, 0.0])
    u, _ = design("morris", 30, 4, seed=12)
    r = analyse("morris", u, u @ c, ["a", "b", "c", "d"], seed=1)
    assert set(r) == {"morris_mu_star", "morris_mu_star_lo", "morris_mu_star_hi",
                      "morris_sigma"}
    np.testing.assert_allclose(r["morris_mu_star"], np.abs(c), rtol=0, atol=1e-12)
    np.testing.assert_allclose(r["morris_sigma"], 0.0, atol=1e-12)
    np.testing.assert_allclose(r["morris_mu_star_lo"], np.abs(c), atol=1e-12)
    np.testing.assert_allclose(r["morris_mu_star_hi"], np.abs(c), atol=1e-12)


def test_morris_on_ishigami_ranks_the_inputs():
    # Nonlinear: x1 and x2 matter, x3 acts only through its interaction with x1 (sigma > 0).
    u, _ = design("morris", 400, 3, seed=13, levels=6)
    r = analyse("morris", u, _ishigami(u), ["x1", "x2", "x3"], seed=2, levels=6)
    assert np.all(r["morris_mu_star_lo"] > 0)
    assert np.all(r["morris_sigma"] > 0)


# ------------------------------------------------------------------------------- delta


def test_delta_separates_influential_inputs_from_dummies():
    # y = x1 + 0.8 x2 + noise, two dummies. The given-data estimator (Plischke et al. 2013)
    # is biased upwards for an independent input by an amount its bootstrap does not
    # capture, so the check is not "dummy interval contains 0" but: both dummies estimate the
    # same null value (within four combined standard errors), the influential inputs' intervals
    # lie above both dummies', and the stronger input ranks first.
    rng = np.random.default_rng(2013)
    x = rng.random((600, 4))
    y = x[:, 0] + 0.8 * x[:, 1] + rng.normal(0.0, 0.1, 600)
    r = analyse("delta", x, y, ["x1", "x2", "dummy1", "dummy2"], seed=5, num_resamples=20)
    assert set(r) == {"delta", "delta_lo", "delta_hi"}
    d, se = r["delta"], _se(r, "delta")
    assert abs(d[2] - d[3]) <= 4 * np.hypot(se[2], se[3])
    assert min(r["delta_lo"][:2]) > max(r["delta_hi"][2:])
    assert d[0] > d[1]


def test_delta_leaves_global_state_alone():
    rng = np.random.default_rng(1)
    x = rng.random((200, 2))
    y = x[:, 0] + rng.normal(0, 0.1, 200)
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    filters, fmt = list(warnings.filters), warnings.formatwarning
    analyse("delta", x, y, ["a", "b"], seed=1, num_resamples=5)
    assert np.random.random() == expected
    assert warnings.filters == filters and warnings.formatwarning is fmt


# ---------------------------------------------------------------------- degenerate outputs


@pytest.mark.parametrize("method", METHODS)
def test_constant_output_gives_nan_without_warnings(method):
    if method == "delta":
        u = np.random.default_rng(0).random((100, 3))
    else:
        u, _ = design(method, 16, 3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = analyse(method, u, np.zeros(u.shape[0], dtype=bool), ["a", "b", "c"], seed=1)
    assert r and all(v.shape == (3,) and np.all(np.isnan(v)) for v in r.values())


def test_sobol_output_constant_on_a_and_b_gives_nan():
    # The estimators normalise by the variance over the A and B rows only.
    u, _ = design("sobol", 16, 2, seed=1)
    y = np.zeros(u.shape[0])
    y[1] = 1.0  # one AB row
    r = analyse("sobol", u, y, ["a", "b"], seed=1)
    assert all(np.all(np.isnan(v)) for v in r.values())


def test_analyse_rejects_bad_input():
    u, _ = design("sobol", 8, 2, seed=1)
    with pytest.raises(ValueError, match="multiple of 4 rows"):
        analyse("sobol", u[:-1], np.ones(u.shape[0] - 1), ["a", "b"], seed=1)
    with pytest.raises(ValueError, match=r"u must be \(rows, 3\)"):
        analyse("sobol", u, np.ones(u.shape[0]), ["a", "b", "c"], seed=1)
    with pytest.raises(ValueError, match="NaN"):
        analyse("sobol", u, np.full(u.shape[0], np.nan), ["a", "b"], seed=1)
    with pytest.raises(ValueError, match="unknown method"):
        analyse("fast", u, np.ones(u.shape[0]), ["a", "b"], seed=1)


def test_outputs_names():
    assert OUTPUTS[0] == "hegemony" and len(set(OUTPUTS)) == len(OUTPUTS) == 12


# -------------------------------------------------------------------- datasets and figures


def _indices(method, seed):
    rng = np.random.default_rng(seed)
    keys = {"sobol": ("sobol_first", "sobol_total"), "morris": ("morris_mu_star",),
            "delta": ("delta",)}[method]
    out = {}
    for key in keys:
        v = rng.random(4)
        out[key], out[f"{key}_lo"], out[f"{key}_hi"] = v, v - 0.05, v + 0.05
    if method == "morris":
        out["morris_sigma"] = rng.random(4)
    return out


@pytest.mark.parametrize("method", METHODS)
def test_sensitivity_dataset_and_plot_one_panel_per_cell(method):
    from matplotlib.figure import Figure

    names = ["a", "b", "c", "d"]
    per_cell = [{o: _indices(method, k * 10 + j) for j, o in enumerate(OUTPUTS[:2])}
                for k in range(4)]
    ds = sensitivity_dataset(per_cell, names, OUTPUTS[:2], method)
    assert dict(ds.sizes) == {"cell": 4, "output": 2, "parameter": 4}
    main = {"sobol": "sobol_total", "morris": "morris_mu_star", "delta": "delta"}[method]
    np.testing.assert_array_equal(ds[main].sel(cell=2, output=OUTPUTS[1]),
                                  per_cell[2][OUTPUTS[1]][main])
    assert ds.attrs["method"] == method and "long_name" in ds[main].attrs
    # Sweep dimensions instead of a flat cell index: a 2 x 2 sweep gives four panels.
    swept = (ds.assign_coords(alpha=("cell", [0.1, 0.1, 0.2, 0.2]),
                              doctrine=("cell", ["x", "y", "x", "y"]))
             .set_index(cell=["alpha", "doctrine"]).unstack("cell"))
    fig = plot_indices(swept, method, output="hegemony")
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    one = plot_indices(ds.isel(cell=0, drop=True))
    assert len(one.axes) == 1
    three = plot_indices(ds.isel(cell=[0, 1, 2]), output=OUTPUTS[1])
    assert len(three.axes) == 3
    fig.savefig(io.BytesIO(), format="png")
    # A sweep dimension without a coordinate still gives one panel per cell.
    bare = ds.drop_vars("cell").rename(cell="step")
    assert "step" not in bare.coords and len(plot_indices(bare, method).axes) == 4


def test_ranked_orders_by_the_main_index_nan_last():
    names = ["a", "b", "c"]
    res = {"sobol_total": np.array([0.2, np.nan, 0.7]), "sobol_first": np.array([0.1, 0, 0.5])}
    for key in ("sobol_total", "sobol_first"):
        res[f"{key}_lo"], res[f"{key}_hi"] = res[key] - 0.01, res[key] + 0.01
    ds = sensitivity_dataset([{"hegemony": res}], names, ["hegemony"], "sobol").isel(cell=0)
    rows = ranked(ds, "sobol")
    assert [r[0] for r in rows] == ["c", "a", "b"]
    assert rows[0][1:] == pytest.approx((0.7, 0.69, 0.71, 0.5))
    with pytest.raises(ValueError, match="select one cell"):
        ranked(sensitivity_dataset([{"hegemony": res}] * 2, names, ["hegemony"], "sobol"),
               "sobol")
