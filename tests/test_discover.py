"""PRIM scenario discovery (stability.analysis.discover) on data whose region is known."""

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("ema_workbench")

from stability.analysis.discover import Discovery, discover  # noqa: E402

N = 3000
ALPHA = 0.05


@pytest.fixture(scope="module")
def runs():
    """Cases of interest exactly where x1 > 0.7 and x2 < 0.3; x3 and an integer k do nothing."""
    rng = np.random.default_rng(1999)
    x = rng.random((N, 3))
    region = (x[:, 0] > 0.7) & (x[:, 1] < 0.3)
    return xr.Dataset({
        "x1": ("run", x[:, 0]), "x2": ("run", x[:, 1]), "x3": ("run", x[:, 2]),
        "k": ("run", rng.integers(0, 5, N)),
        "hegemony": ("run", region),
        "final_max_share": ("run", np.where(region, 0.9, 0.3) + rng.normal(0, 0.02, N)),
        "wars": ("run", rng.poisson(3.0, N)),
        "cell": ("run", np.zeros(N, dtype=np.int64)),
        "replicate": ("run", np.arange(N, dtype=np.int64)),
        "final_polarity": ("run", rng.integers(1, 4, N)),
    })


@pytest.fixture(scope="module")
def found(runs):
    return discover(runs, peel_alpha=ALPHA)


def _check_region(d: Discovery):
    b = d.boxes.isel(box=0)
    # One peel moves a limit by about peel_alpha times the box's width in that dimension
    # (uniform data); the box's width is 0.3 in both restricted ones when it reaches the
    # region, so the chosen limit lies within two such steps of the true one.
    tol = 2 * ALPHA * 0.3
    assert float(b["low"].sel(parameter="x1")) == pytest.approx(0.7, abs=tol)
    assert float(b["high"].sel(parameter="x2")) == pytest.approx(0.3, abs=tol)
    restricted = dict(zip(b["parameter"].values.tolist(), b["restricted"].values.tolist(),
                          strict=True))
    assert restricted == {"x1": True, "x2": True, "x3": False, "k": False}
    assert float(b["density"]) > 0.95 and float(b["coverage"]) > 0.85


def test_prim_recovers_the_region(found, runs):
    assert set(found.boxes["parameter"].values) == {"x1", "x2", "x3", "k"}  # not cell/replicate
    _check_region(found)
    b = found.boxes.isel(box=0)
    # Unrestricted parameters keep the data's whole range.
    for p in ("x3", "k"):
        assert float(b["low"].sel(parameter=p)) == runs[p].min()
        assert float(b["high"].sel(parameter=p)) == runs[p].max()
    assert found.n_runs == N and found.n_cases == int(runs["hegemony"].sum())


def test_boxes_and_trajectory_are_well_formed(found, runs):
    boxes = found.boxes
    assert dict(boxes.sizes) == {"box": 1, "parameter": 4}
    assert {"low", "high", "restricted", "coverage", "density", "mass", "n", "cases"} <= set(
        boxes.data_vars)
    assert np.all(boxes["low"] <= boxes["high"])
    b = boxes.isel(box=0)
    inside = np.ones(N, dtype=bool)
    for p in boxes["parameter"].values:
        inside &= (runs[p].values >= float(b["low"].sel(parameter=p))) & (
            runs[p].values <= float(b["high"].sel(parameter=p)))
    assert int(b["n"]) == inside.sum()
    assert int(b["cases"]) == (inside & runs["hegemony"].values).sum()
    assert float(b["mass"]) == pytest.approx(inside.mean())
    assert float(b["density"]) == pytest.approx(int(b["cases"]) / int(b["n"]))
    assert float(b["coverage"]) == pytest.approx(int(b["cases"]) / found.n_cases)

    t = found.trajectory
    assert list(t.columns) == ["coverage", "density", "mass", "n", "cases", "res_dim",
                               "restricted"]
    assert t["coverage"].iloc[0] == 1.0 and t["mass"].iloc[0] == 1.0 and t["res_dim"].iloc[0] == 0
    assert np.all(np.diff(t["mass"].to_numpy()) < 0)  # peeling only: every step removes runs
    # The rule: the densest box with coverage >= 0.5.
    eligible = t[t["coverage"] >= 0.5]
    assert t["density"].iloc[found.chosen] == eligible["density"].max()
    assert t["restricted"].iloc[found.chosen] == "x1, x2"
    assert found.boxes.attrs["trajectory_step"] == found.chosen


def test_table_and_plot(found):
    from matplotlib.figure import Figure

    text = str(found)
    assert text == found.table()
    assert "x1" in text and "x2" in text and "x3" not in text and "coverage" in text
    fig = found.plot()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # the trajectory and its colour bar


def test_numeric_outcome_with_threshold(runs):
    _check_region(discover(runs, "final_max_share", threshold=0.6, peel_alpha=ALPHA))
    below = discover(runs, "final_max_share", threshold=0.6, above=False, peel_alpha=ALPHA)
    assert below.rule == "final_max_share < 0.6"
    assert below.n_cases == N - int(runs["hegemony"].sum())


def test_bad_requests(runs):
    with pytest.raises(ValueError, match="numeric; give a threshold"):
        discover(runs, "wars")
    with pytest.raises(ValueError, match="no run has wars > 100"):
        discover(runs, "wars", threshold=100)
    with pytest.raises(ValueError, match="no parameter 'x9'"):
        discover(runs, parameters=["x1", "x9"])
    with pytest.raises(ValueError, match="no outcome 'peace'"):
        discover(runs, "peace")
