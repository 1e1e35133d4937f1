"""Sensitivity studies through the runner: designs, stored indices, recomputation, bad input."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import stability
from stability.cli import main

pytest.importorskip("SALib")

BASE = {
    "experiment": {"replicates": None, "chunk": 300},
    "model": {"horizon": 40, "n_states": 5, "entry_rate": 0.0},
    "sweep": {"polarity": None, "doctrine": ["defensive", "offensive"]},
    "randomize": {"growth_sd": {"uniform": [0.0, 0.12]},
                  "entry_size": {"uniform": [0.2, 2.0]},   # cannot matter: entry_rate = 0
                  "war_cost": {"loguniform": [0.01, 0.3]}},
}


def _run(small_config, tmp_path, name, **sensitivity):
    cfg = small_config(**BASE, sensitivity=sensitivity)
    return stability.run(cfg, out=tmp_path / f"{name}.zarr"), tmp_path / f"{name}.zarr"


def test_sobol_indices_per_cell_and_a_prior_that_cannot_matter(small_config, tmp_path):
    ds, path = _run(small_config, tmp_path, "sobol", method="sobol", samples=128, repeats=2)
    assert int(ds["n_runs"].sel(doctrine="defensive")) == 128 * 5 * 2
    for name in ("sobol_first", "sobol_first_lo", "sobol_first_hi", "sobol_total",
                 "sobol_total_lo", "sobol_total_hi"):
        assert ds[name].dims == ("doctrine", "output", "parameter"), name
    assert ds["parameter"].values.tolist() == ["entry_size", "growth_sd", "war_cost"]
    assert ds["output"].values.tolist() == ["hegemony"]
    dummy = ds.sel(parameter="entry_size", output="hegemony")
    # entry_size is never read without entrants, and the design's compared rows share their
    # streams, so their outcomes are identical: every index of it is exactly 0
    for name in ("sobol_first", "sobol_total", "sobol_total_lo", "sobol_total_hi"):
        assert (dummy[name].values == 0.0).all(), name
    growth = ds.sel(parameter="growth_sd", output="hegemony")
    assert (growth["sobol_total_lo"] > 0.05).all()
    assert (ds["sobol_total_lo"] <= ds["sobol_total"]).all()
    assert (ds["sobol_total"] <= ds["sobol_total_hi"]).all()
    # recomputed in Python from the records: the same numbers
    again = stability.sensitivity(path)
    for name in again.data_vars:
        np.testing.assert_array_equal(again[name].values, ds[name].values)


def test_morris_and_delta(small_config, tmp_path):
    ds, path = _run(small_config, tmp_path, "morris", method="morris", samples=24,
                    outputs=["hegemony", "wars"])
    assert ds["morris_mu_star"].dims == ("doctrine", "output", "parameter")
    assert ds["output"].values.tolist() == ["hegemony", "wars"]
    dummy = ds["morris_mu_star"].sel(parameter="entry_size")
    assert (dummy.values == 0.0).all()
    assert (ds["morris_mu_star"].sel(parameter="growth_sd", output="hegemony") > 0).all()
    # delta accepts any sample: the morris design's runs, or plain [randomize] draws
    d = stability.sensitivity(path, method="delta")
    assert d["delta"].dims == ("doctrine", "output", "parameter")
    ds2, path2 = _run(small_config, tmp_path, "delta", method="delta", samples=600)
    assert int(ds2["n_runs"].sel(doctrine="offensive")) == 600
    assert "delta" in ds2 and "delta_lo" in ds2 and "delta_hi" in ds2
    again = stability.sensitivity(path2)
    np.testing.assert_array_equal(again["delta"].values, ds2["delta"].values)
    with pytest.raises(ValueError, match="sobol design"):
        stability.sensitivity(path2, method="sobol")


def test_a_plain_randomize_run_can_be_analysed(small_config, tmp_path):
    cfg = small_config(randomize={"growth_sd": {"uniform": [0.0, 0.1]},
                                  "doctrine": {"choice": ["defensive", "offensive"]}},
                       sweep={"doctrine": None}, experiment={"replicates": 400})
    stability.run(cfg)
    d = stability.sensitivity(tmp_path / "out.zarr")
    assert d["parameter"].values.tolist() == ["doctrine", "growth_sd"]
    assert d["delta"].dims == ("polarity", "output", "parameter")


def test_info_ranks_the_parameters(small_config, tmp_path, capsys):
    _, path = _run(small_config, tmp_path, "info", method="sobol", samples=64)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "sobol sensitivity indices, ranked by sobol_total" in out
    block = out[out.index("doctrine=offensive: output hegemony"):].splitlines()
    ranked = [ln.split()[0] for ln in block[2:5]]
    assert ranked[-1] == "entry_size"  # the prior that cannot matter comes last


SENS_TOML = """
[experiment]
seed = 3
{replicates}

[model]
horizon = 20
n_states = 4

[randomize]
{randomize}

{sensitivity}
"""


@pytest.mark.parametrize("replicates,randomize,sensitivity,key", [
    ("", "", '[sensitivity]\nmethod = "sobol"\nsamples = 64', "sensitivity:"),
    ("", "growth_sd = { uniform = [0.0, 0.1] }", '[sensitivity]\nmethod = "fast"\nsamples = 8',
     "sensitivity.method: unknown method 'fast'"),
    ("", "growth_sd = { uniform = [0.0, 0.1] }", '[sensitivity]\nmethod = "sobol"\nsamples = 1000',
     "sensitivity.samples: Sobol's design needs a power of two, got 1000; use 1024"),
    ("", "growth_sd = { uniform = [0.0, 0.1] }", '[sensitivity]\nmethod = "sobol"\nsamples = 100',
     "use 128"),
    ("", 'doctrine = { choice = ["defensive", "offensive"] }',
     '[sensitivity]\nmethod = "sobol"\nsamples = 64', "randomize.doctrine: the sobol design"),
    ("", "growth_sd = { normal = [0.05, 0.01], clip = [0.0, 0.1] }",
     '[sensitivity]\nmethod = "morris"\nsamples = 8', "randomize.growth_sd: the morris design"),
    ("", "growth_sd = { uniform = [0.0, 0.1] }",
     '[sensitivity]\nmethod = "sobol"\nsamples = 64\noutputs = ["hegemony", "gdp"]',
     "sensitivity.outputs: unknown output 'gdp'"),
    ("replicates = 100", "growth_sd = { uniform = [0.0, 0.1] }",
     '[sensitivity]\nmethod = "sobol"\nsamples = 64', "experiment.replicates: the sobol design "
     "runs 192 replicates"),
    ("", "growth_sd = { uniform = [0.0, 0.1] }",
     '[sensitivity]\nmethod = "delta"\nsamples = 64\nrepeats = 4', "sensitivity.repeats"),
    ("", "growth_sd = { uniform = [0.0, 0.1] }",
     '[sensitivity]\nmethod = "sobol"\nsamples = 64\nlevel = 4', "sensitivity.level: unknown"),
])
def test_bad_sensitivity_input_is_one_line_exit_2(tmp_path, replicates, randomize, sensitivity,
                                                  key, error_line):
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(SENS_TOML.format(replicates=replicates, randomize=randomize,
                                                     sensitivity=sensitivity)))
    assert main(["validate", str(path)]) == 2
    assert key in error_line()
    assert main(["run", str(path), "--out", str(tmp_path / "o.zarr")]) == 2
    assert key in error_line()
    assert not list(tmp_path.glob("o.zarr*"))


def test_a_replicates_override_must_agree_with_the_design(tmp_path, error_line):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(SENS_TOML.format(
        replicates="", randomize="growth_sd = { uniform = [0.0, 0.1] }",
        sensitivity='[sensitivity]\nmethod = "sobol"\nsamples = 64')))
    assert main(["run", str(path), "--replicates", "50", "--out", str(tmp_path / "o.zarr")]) == 2
    assert error_line().startswith("stability: error: --replicates: the sobol design runs 192")


def test_delta_of_a_binary_outcome_against_its_analytic_value():
    """Borgonovo's delta of a binary Y is E|P(Y=1 | x) - P(Y=1)|: with P(Y=1 | x) = 0.2 + 0.6 x
    and x ~ U(0, 1), 0.6 E|x - 1/2| = 0.15 exactly; a parameter Y does not depend on has 0.
    SALib's kernel estimator is singular for such an output: the counting one is used."""
    from stability.analysis.sensitivity import _delta_classes, analyse

    rng = np.random.default_rng(20261208)
    u = rng.random((40_000, 2))
    y = rng.random(40_000) < 0.2 + 0.6 * u[:, 0]
    r = analyse("delta", u, y, ["x", "dummy"], seed=1, num_resamples=100)
    half = (r["delta_hi"] - r["delta_lo"]) / 2  # 1.96 bootstrap standard errors
    # the class discretisation and the no-dependence correction bias the estimate by at
    # most the no-dependence level, about sqrt(2 p (1 - p) / (pi n_class)) ~ 0.01 here
    bias = np.sqrt(2 * 0.25 / (np.pi * 40_000 / _delta_classes(40_000)))
    assert abs(r["delta"][0] - 0.15) < half[0] + bias
    assert r["delta_lo"][1] <= 0.0 <= r["delta_hi"][1]


def test_plot_draws_the_ranked_indices_or_the_results(small_config, tmp_path, capsys,
                                                      error_line):
    _, path = _run(small_config, tmp_path, "plot", method="sobol", samples=32)
    png = tmp_path / "indices.png"
    assert main(["plot", str(path), "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    results = tmp_path / "results.png"
    assert main(["plot", str(path), "--out", str(results), "--what", "results"]) == 0
    assert results.stat().st_size > 10_000
    plain = tmp_path / "plain.zarr"
    stability.run(small_config(), out=plain)
    assert main(["plot", str(plain), "--what", "sensitivity",
                 "--out", str(tmp_path / "no.png")]) == 2
    assert "--what sensitivity" in error_line()
    assert not (tmp_path / "no.png").exists()


def test_a_design_gives_the_same_store_whatever_the_chunks_and_scheduler(small_config, tmp_path,
                                                                       same_results):
    cfg = small_config(**BASE, sensitivity={"method": "morris", "samples": 8, "repeats": 3})
    a = stability.run(cfg, out=tmp_path / "a.zarr")
    b = stability.run(cfg, chunk=7, scheduler="threads", workers=2, out=tmp_path / "b.zarr")
    same_results(a, b)
    ra, rb = stability.open_runs(tmp_path / "a.zarr"), stability.open_runs(tmp_path / "b.zarr")
    for name in ra.variables:
        assert ra[name].values.tobytes() == rb[name].values.tobytes(), name
