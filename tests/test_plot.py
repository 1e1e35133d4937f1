"""Figures and the text summary of a results dataset, on synthetic results of 0-3 sweep dims."""

from __future__ import annotations

import itertools
import struct

import numpy as np
import pytest
import xarray as xr

from stability.analysis.plot import plot_cdf, plot_probability, plot_rank, plot_results
from stability.analysis.stats import wilson_interval
from stability.analysis.summary import describe, is_complete

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SWEEPS = {
    0: {},
    1: {"polarity": ["unipolar", "bipolar", "multipolar"]},
    2: {"polarity": ["unipolar", "bipolar", "multipolar"], "doctrine": ["defensive", "offensive"]},
    3: {"growth_sd": [0.02, 0.05, 0.08], "doctrine": ["defensive", "offensive"],
        "alliances": [True, False]},
}


def make_results(sweep: dict, horizon: int = 30, ranks: int = 5, seed: int = 0,
                 empty_cell: bool = False) -> xr.Dataset:
    """A results dataset with the schema of INTERFACES.md, filled with plausible numbers."""
    rng = np.random.default_rng(seed)
    dims = list(sweep)
    shape = tuple(len(v) for v in sweep.values())
    n = np.full(shape, 2000, dtype=np.int64)
    if empty_cell:
        n.flat[-1] = 0  # a cell no chunk has reached yet
    # Distinct probabilities, so that a summary line can only belong to its own cell.
    p_true = np.linspace(0.05, 0.6, max(1, int(np.prod(shape)))).reshape(shape)
    k = rng.binomial(n, p_true)
    with np.errstate(invalid="ignore"):
        p = k / n
    lo, hi = wilson_interval(k, n)
    t = np.arange(horizon + 1)
    cdf = p[..., None] * (1 - np.exp(-t / (horizon / 4)))
    w = rng.dirichlet(np.ones(ranks), size=shape) * p[..., None]
    cell = dims
    ds = xr.Dataset(
        {
            "n_runs": (cell, n, {"long_name": "replicates run", "units": "1"}),
            "n_hegemony": (cell, k, {"long_name": "replicates ending in hegemony",
                                     "units": "1"}),
            "p_hegemony": (cell, p, {"long_name": "probability of hegemony", "units": "1"}),
            "p_hegemony_lo": (cell, lo, {"long_name": "lower 95% Wilson limit", "units": "1"}),
            "p_hegemony_hi": (cell, hi, {"long_name": "upper 95% Wilson limit", "units": "1"}),
            "hegemony_cdf": (cell + ["time"], cdf,
                             {"long_name": "fraction of runs in hegemony", "units": "1"}),
            "mean_hegemony_time": (cell, np.where(k > 0, 40 + 100 * p, np.nan),
                                   {"long_name": "mean step of hegemony", "units": "steps"}),
            "p_hegemon_rank": (cell + ["rank"], w,
                               {"long_name": "fraction of runs won", "units": "1"}),
            "mean_survivors": (cell, 3 + 4 * p, {"long_name": "survivors", "units": "states"}),
            "mean_wars": (cell, 10 + 7 * p, {"long_name": "wars per run", "units": "1"}),
            "mean_balancing": (cell, 1 + p, {}),
            "mean_bandwagoning": (cell, 2 + p, {}),
            "mean_buck_passing": (cell, 3 + p, {}),
            "mean_chain_ganging": (cell, 4 + p, {}),
            "p_final_polarity": (cell + ["polarity_class"],
                                 np.broadcast_to([0.2, 0.3, 0.5], shape + (3,)), {}),
        },
        coords={**{d: v for d, v in sweep.items()},
                "time": ("time", t, {"long_name": "time", "units": "steps"}),
                "rank": ("rank", np.arange(1, ranks + 1), {"long_name": "initial rank"}),
                "polarity_class": ["unipolar", "bipolar", "multipolar"]},
        attrs={"config_sha256": "0f" * 32, "seed": 20261125, "stability_version": "0.1.0",
               "numba_version": "0.60.0", "created": "2026-01-02T03:04:05Z",
               "model_version": "1", "name": "synthetic"},
    )
    return ds


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("ndims", [0, 1, 2, 3])
def test_plot_results_writes_a_png(tmp_path, ndims):
    ds = make_results(SWEEPS[ndims])
    fig = plot_results(ds)
    out = tmp_path / "results.png"
    fig.savefig(out, dpi=50)
    data = out.read_bytes()
    width, height = _png_size(data)
    assert (width, height) == (round(fig.get_figwidth() * 50), round(fig.get_figheight() * 50))
    assert len(data) > 10_000  # a blank canvas of this size compresses to ~2 kB
    facets = len(SWEEPS[ndims][list(SWEEPS[ndims])[1]]) if ndims >= 2 else 1
    assert len(fig.axes) == facets + 2


def test_facets_titles_and_labels():
    ds = make_results(SWEEPS[3])
    fig = plot_results(ds)
    prob = fig.axes[:2]
    assert [ax.get_title() for ax in prob] == ["doctrine=defensive", "doctrine=offensive"]
    assert prob[0].get_ylabel() == "probability of hegemony"
    assert prob[0].get_xlabel() == "growth_sd"
    # Hue: one series per value of the third dimension, with its interval.
    labels = [t.get_text() for t in prob[0].get_legend().get_texts()]
    assert labels == ["alliances=True", "alliances=False"]
    cdf_ax, rank_ax = fig.axes[2:]
    assert cdf_ax.get_xlabel() == "time [steps]"
    assert cdf_ax.get_ylabel() == "fraction of runs in hegemony"
    assert len(cdf_ax.get_lines()) == 12 and len(rank_ax.get_lines()) == 12
    assert rank_ax.get_xlabel() == "initial rank"
    # One legend for the twelve cells of the lower panels.
    (legend,) = fig.subfigs[1].legends
    assert len(legend.get_texts()) == 12
    last_label = "growth_sd=0.08, doctrine=offensive, alliances=False"
    assert legend.get_texts()[-1].get_text() == last_label
    # The plotted CDF of the last cell is the dataset's.
    last = ds["hegemony_cdf"].sel(growth_sd=0.08, doctrine="offensive", alliances=False)
    np.testing.assert_allclose(cdf_ax.get_lines()[-1].get_ydata(), last.values)


def test_probability_error_bars_are_the_wilson_limits():
    ds = make_results(SWEEPS[1])
    ax = plot_probability(ds)
    container = ax.containers[0]
    (line, _, (bars,)) = container.lines[0], None, container.lines[2]
    np.testing.assert_allclose(line.get_ydata(), ds["p_hegemony"].values)
    segments = np.array(bars.get_segments())  # (cell, 2 ends, xy)
    np.testing.assert_allclose(segments[:, 0, 1], ds["p_hegemony_lo"].values)
    np.testing.assert_allclose(segments[:, 1, 1], ds["p_hegemony_hi"].values)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["unipolar", "bipolar", "multipolar"]


def test_small_functions_return_axes_on_a_new_figure_or_the_given_one():
    ds = make_results(SWEEPS[2])
    for fn in (plot_probability, plot_cdf, plot_rank):
        ax = fn(ds)
        assert ax.figure is not None and ax.has_data()
    fig = plot_results(ds)
    assert plot_rank(ds, ax=fig.axes[-1]) is fig.axes[-1]


def test_plot_tolerates_an_empty_cell(tmp_path):
    ds = make_results(SWEEPS[2], empty_cell=True)
    plot_results(ds).savefig(tmp_path / "x.png", dpi=40)
    assert (tmp_path / "x.png").read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("ndims", [0, 1, 2, 3])
def test_describe_lists_every_cell(ndims):
    sweep = SWEEPS[ndims]
    ds = make_results(sweep)
    text = describe(ds)
    lines = text.splitlines()
    combos = list(itertools.product(*sweep.values()))
    for combo in combos:
        cell = dict(zip(sweep, combo, strict=True))
        c = ds.sel(cell)
        p, lo, hi = (float(c[v]) for v in ("p_hegemony", "p_hegemony_lo", "p_hegemony_hi"))
        want = f"{p:.4f} [{lo:.4f}, {hi:.4f}]"
        tokens = [f"{v:g}" if isinstance(v, float) else str(v) for v in combo]
        matching = [ln for ln in lines if want in ln and ln.split()[:len(tokens)] == tokens]
        assert len(matching) == 1, (cell, want)
        row = matching[0]
        assert f"{float(c['mean_wars']):.2f}" in row
        assert f"{float(c['mean_chain_ganging']):.2f}" in row
    assert f"{len(combos)} cell" in lines[0]
    assert "0f" * 32 in text and "20261125" in text and "0.60.0" in text
    assert "2026-01-02T03:04:05Z" in text
    assert any(ln.split()[:2] == ["complete", "yes"] for ln in lines)


def test_describe_columns_are_aligned():
    lines = describe(make_results(SWEEPS[2])).splitlines()
    table = lines[2:2 + 1 + 6]
    starts = {ln.index("[") for ln in table[1:]}  # the interval column starts at one place
    assert len(starts) == 1


@pytest.mark.parametrize(("value", "complete"), [(True, True), (False, False), (0, False),
                                                 (1, True), ("false", False), ("True", True),
                                                 (np.bool_(False), False), (None, True)])
def test_completeness(value, complete):
    ds = make_results(SWEEPS[1])
    if value is not None:
        ds.attrs["complete"] = value
    assert is_complete(ds) is complete
    text = describe(ds)
    line = next(ln for ln in text.splitlines() if ln.startswith("complete"))
    assert ("yes" in line) is complete and ("NO" in line) is (not complete)


def test_describe_marks_empty_cells_and_missing_times():
    ds = make_results(SWEEPS[2], empty_cell=True)
    last = describe(ds).splitlines()[2 + 6]
    assert last.split()[:2] == ["multipolar", "offensive"]
    assert last.split()[2:4] == ["0", "-"]
