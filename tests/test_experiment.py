"""Experiments end to end: reproducibility, schema, exact aggregation, the store."""

from __future__ import annotations

import hashlib
import time

import dask.array as da
import numpy as np
import pytest
from scipy import stats as sps

import stability
from stability.analysis.stats import wilson_interval
from stability.experiment import runner, store
from stability.experiment.config import ConfigError, tomllib

CHANGES = {  # contrasts and randomized draws exercise the grouped and per-replicate paths
    "experiment": {"contrasts": ["doctrine"]},
    "randomize": {"growth_sd": {"uniform": [0.02, 0.08]},
                  "alliance_reliability": {"choice": [0.5, 0.9]}},
}


@pytest.fixture
def reference(small_config, tmp_path):
    """The SMALL experiment, sync, one task per cell group."""
    return stability.run(small_config(**CHANGES), chunk=1000, out=tmp_path / "ref.zarr")


@pytest.mark.parametrize("chunk", [1, 7, 25, 60])
def test_identical_across_chunk_sizes(small_config, reference, same_results, chunk, tmp_path):
    cfg = small_config(**CHANGES)
    ds = stability.run(cfg, chunk=chunk, out=tmp_path / f"c{chunk}.zarr")
    same_results(ds, reference)


@pytest.mark.parametrize("scheduler", ["threads", "local"])
def test_identical_across_schedulers(small_config, reference, same_results, scheduler, tmp_path):
    cfg = small_config(**CHANGES)
    ds = stability.run(cfg, chunk=9, scheduler=scheduler, workers=2, out=tmp_path / "s.zarr")
    same_results(ds, reference)
    same_results(stability.open_results(tmp_path / "s.zarr"), reference)


def test_reduction_ignores_completion_order(small_config, reference, same_results):
    from stability.experiment.tasks import Totals, build_dataset, make_plan, run_task

    plan = make_plan(small_config(**CHANGES))
    totals = Totals(plan)
    tasks = plan.tasks()
    kernel = []
    for task in reversed(tasks):
        t0 = time.thread_time()
        stats = run_task(plan, task)
        # the kernel's CPU time is reported, and is part of the task's own
        assert 0.0 < stats.kernel_s <= time.thread_time() - t0
        kernel.append(stats.kernel_s)
        totals.add(task, stats)
    assert totals.kernel_s == pytest.approx(sum(kernel))
    ds = build_dataset(plan, totals)
    ds.attrs = reference.attrs
    same_results(ds, reference)


def test_randomized_structure_is_reproducible(small_config, same_results, tmp_path):
    """Per-replicate horizons, system sizes and doctrines; chunking changes nothing."""
    changes = {"model": {"n_states": None, "horizon": None},
               "sweep": {"doctrine": None, "polarity": ["bipolar", "multipolar"]},
               "randomize": {"horizon": {"uniform": [5, 30]}, "n_states": {"uniform": [4, 6]},
                             "doctrine": {"choice": ["defensive", "offensive"]}}}
    a = stability.run(small_config(**changes), chunk=60, out=tmp_path / "a.zarr")
    b = stability.run(small_config(**changes), chunk=8, scheduler="threads", workers=2,
                      out=tmp_path / "b.zarr")
    same_results(a, b)
    assert a.sizes["time"] == 31 and a.sizes["rank"] == 6
    assert np.array_equal(a["hegemony_cdf"].isel(time=-1), a["p_hegemony"])


def test_sweeps_of_starting_systems(small_config, tmp_path):
    cfg = small_config(model={"n_states": None},
                       sweep={"polarity": None, "doctrine": None,
                              "shares": [[0.3, 0.3, 0.2, 0.2], [0.4, 0.3, 0.1, 0.1, 0.1]]})
    ds = stability.run(cfg, out=tmp_path / "s.zarr")
    assert ds["shares"].values.tolist() == ["0.3/0.3/0.2/0.2", "0.4/0.3/0.1/0.1/0.1"]
    assert ds.sizes["rank"] == 5
    assert (ds["p_hegemon_rank"].sel(shares="0.3/0.3/0.2/0.2", rank=4) == 0).all()


SCHEMA = {
    "n_runs": (), "n_hegemony": (), "p_hegemony": (), "p_hegemony_lo": (),
    "p_hegemony_hi": (), "hegemony_cdf": ("time",), "mean_hegemony_time": (),
    "p_hegemon_rank": ("rank",), "p_hegemon_entrant": (), "mean_survivors": (),
    "mean_wars": (), "mean_balancing": (), "mean_bandwagoning": (), "mean_buck_passing": (),
    "mean_chain_ganging": (), "p_final_polarity": ("polarity_class",),
}


def test_schema_and_provenance(reference):
    ds = reference
    sweep = ("polarity", "doctrine")
    for name, extra in SCHEMA.items():
        assert ds[name].dims == sweep + extra, name
    assert ds["joint_hegemony_doctrine"].dims == ("polarity", "doctrine", "doctrine_b", "joint")
    assert ds["polarity"].values.tolist() == ["bipolar", "multipolar"]
    assert ds["time"].values.tolist() == list(range(31))
    assert ds["rank"].values.tolist() == list(range(5))
    assert ds["polarity_class"].values.tolist() == ["unipolar", "bipolar", "multipolar"]
    assert ds["joint"].values.tolist() == ["both", "a_only", "b_only", "neither"]
    for name in ds.variables:
        assert ds[name].attrs.get("long_name"), name
        if name in ds.data_vars:
            assert "units" in ds[name].attrs, name
    a = ds.attrs
    assert hashlib.sha256(a["config"].encode()).hexdigest() == a["config_sha256"]
    assert tomllib.loads(a["config"])["experiment"]["seed"] == a["seed"] == 11
    assert a["stability_version"] == stability.__version__
    assert a["model_version"] == stability.MODEL_VERSION
    assert a["numba_version"] and a["created"].endswith("+00:00") and a["complete"] == 1


def test_wilson_interval_matches_scipy(reference):
    k = reference["n_hegemony"].values.ravel()
    n = reference["n_runs"].values.ravel()
    for ki, ni, lo, hi in zip(k, n, reference["p_hegemony_lo"].values.ravel(),
                              reference["p_hegemony_hi"].values.ravel(), strict=True):
        ci = sps.binomtest(int(ki), int(ni)).proportion_ci(0.95, method="wilson")
        assert lo == pytest.approx(ci.low, rel=1e-12, abs=1e-15)
        assert hi == pytest.approx(ci.high, rel=1e-12, abs=1e-15)
    lo, hi = wilson_interval(np.array([0, 7, 20]), np.array([20, 20, 20]))
    assert lo[0] == 0.0 and hi[2] == 1.0


def test_cdf_at_the_horizon_is_p_hegemony(small_config, tmp_path):
    cfg = small_config(model={"horizon": None}, sweep={"horizon": [10, 30]})
    ds = stability.run(cfg, out=tmp_path / "h.zarr")
    assert ds.sizes["time"] == 31
    assert np.array_equal(ds["hegemony_cdf"].isel(time=-1).values, ds["p_hegemony"].values)
    short = ds["hegemony_cdf"].sel(horizon=10)
    assert (short.sel(time=slice(10, None)) == short.sel(time=10)).all()
    assert (ds["hegemony_cdf"].diff("time") >= 0).all()


def test_aggregation_equals_per_run_records(small_config, tmp_path):
    """Every statistic, recomputed directly from stability.simulate's records."""
    cfg = small_config(experiment={"replicates": 80, "chunk": 13, "contrasts": ["doctrine"]},
                       model={"entry_rate": 0.05, "max_states": 7})
    ds = stability.run(cfg, out=tmp_path / "agg.nc")
    hegemony = {}
    for cell in cfg.cells():
        runs = stability.simulate(cfg.model | cell, replicates=80, seed=11, record_wars=False)
        c = ds.sel(cell)
        h = runs["hegemony"].values
        t = runs["hegemony_time"].values
        r = runs["hegemon_rank"].values
        hegemony[cell["polarity"], cell["doctrine"]] = h
        assert int(c.n_runs) == 80 and int(c.n_hegemony) == h.sum()
        assert float(c.p_hegemony) == h.sum() / 80
        if h.any():
            assert float(c.mean_hegemony_time) == t[h].sum() / h.sum()
        else:
            assert np.isnan(c.mean_hegemony_time)
        cdf = [(h & (t <= s)).sum() / 80 for s in range(31)]
        assert c.hegemony_cdf.values.tolist() == cdf
        assert c.p_hegemon_rank.values.tolist() == [(h & (r == k)).sum() / 80 for k in range(7)]
        assert float(c.p_hegemon_entrant) == (h & (r == -1)).sum() / 80
        for name in ("survivors", "wars", "eliminations", "entries", "balancing",
                     "bandwagoning", "buck_passing", "chain_ganging"):
            assert float(c[f"mean_{name}"]) == runs[name].values.sum() / 80, name
        pol = runs["final_polarity"].values[~h]
        assert c.p_final_polarity.values.tolist() == [(pol == k).sum() / pol.size
                                                       for k in (1, 2, 3)]
    assert ds["mean_entries"].max() > 0  # entry happened, so the rank -1 path is exercised
    for pol in ("bipolar", "multipolar"):
        joint = ds["joint_hegemony_doctrine"].sel(polarity=pol)
        for a in ("defensive", "offensive"):
            for b in ("defensive", "offensive"):
                ha, hb = hegemony[pol, a], hegemony[pol, b]
                expect = [(ha & hb).sum(), (ha & ~hb).sum(), (~ha & hb).sum(), (~ha & ~hb).sum()]
                assert joint.sel(doctrine=a, doctrine_b=b).values.tolist() == expect


def test_contrast_reads_the_joint_variable(reference):
    diff = stability.contrast(reference, dim="doctrine", a="offensive", b="defensive")
    p = reference["p_hegemony"]
    expect = p.sel(doctrine="offensive") - p.sel(doctrine="defensive")
    assert np.allclose(diff["difference"].values, expect.values)


def test_size_does_not_grow_with_replicates(small_config, tmp_path):
    small = stability.run(small_config(), replicates=10, out=tmp_path / "a.zarr")
    large = stability.run(small_config(), replicates=200, out=tmp_path / "b.zarr")
    assert small.nbytes == large.nbytes


def test_progress_reports_every_task(small_config, tmp_path):
    seen = []
    stability.run(small_config(), out=tmp_path / "p.zarr",
                  progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 12) for k in range(13)]


# ---- the store ------------------------------------------------------------------------------
def test_open_results_is_lazy_and_equal(small_config, reference, same_results, tmp_path):
    for suffix in ("zarr", "nc"):
        path = tmp_path / f"r.{suffix}"
        ds = stability.run(small_config(**CHANGES), out=path)
        opened = stability.open_results(path)
        assert isinstance(opened["p_hegemony"].data, da.Array)
        same_results(opened, ds)
        same_results(opened, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc", "r.zarr", "ref.zarr"]


@pytest.mark.parametrize("suffix", ["zarr", "nc"])
def test_existing_output_is_never_replaced_without_overwrite(small_config, tmp_path, suffix):
    path = tmp_path / f"x.{suffix}"
    first = stability.run(small_config(), out=path)
    with pytest.raises(store.OutputExistsError, match="already exists"):
        stability.run(small_config(), out=path, seed=99)
    assert stability.open_results(path).attrs["created"] == first.attrs["created"]
    again = stability.run(small_config(), out=path, seed=99, overwrite=True)
    assert int(stability.open_results(path).attrs["seed"]) == 99 == again.attrs["seed"]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_failed_write_leaves_the_old_output(small_config, tmp_path, monkeypatch):
    path = tmp_path / "x.zarr"
    first = stability.run(small_config(), out=path)

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("xarray.Dataset.to_zarr", broken)
    with pytest.raises(OSError, match="disk full"):
        stability.run(small_config(), out=path, seed=5, overwrite=True)
    assert stability.open_results(path).attrs["created"] == first.attrs["created"]
    # The finished tasks stay in the checkpoint, so that --resume only writes the store.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr", "x.zarr.partial"]


def test_failed_task_fails_the_run_and_writes_nothing(small_config, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr("stability.model.simulate.run_batch", broken)
    with pytest.raises(RuntimeError, match="kernel exploded"):
        stability.run(small_config(), out=tmp_path / "x.zarr")
    assert not list(tmp_path.iterdir())


def test_incomplete_store_is_refused(reference, tmp_path):
    ds = reference.copy()
    ds.attrs["complete"] = 0
    store.write_results(ds, tmp_path / "part.zarr")
    with pytest.raises(store.IncompleteResultsError, match="incomplete"):
        stability.open_results(tmp_path / "part.zarr")
    assert stability.open_results(tmp_path / "part.zarr", partial=True).attrs["complete"] == 0
    with pytest.raises(FileNotFoundError):
        stability.open_results(tmp_path / "missing.zarr")


def test_resume_returns_a_finished_store_and_checks_the_config(small_config, tmp_path):
    path = tmp_path / "r.zarr"
    first = stability.run(small_config(), out=path)
    again = stability.run(small_config(), out=path, resume=True)
    assert again.attrs["created"] == first.attrs["created"]
    with pytest.raises(ConfigError, match="different experiment"):
        stability.run(small_config(), out=path, resume=True, seed=3)
    fresh = stability.run(small_config(), out=tmp_path / "new.zarr", resume=True)
    assert int(fresh["n_runs"].sum()) == 4 * 60


def test_run_accepts_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e.toml").write_text(
        '[experiment]\nreplicates = 5\nseed = 2\n[model]\nhorizon = 5\nn_states = 4\n'
        '[cluster]\nscheduler = "sync"\n')
    ds = stability.run("e.toml")
    assert ds["n_runs"].item() == 5 and (tmp_path / "results" / "e.zarr").is_dir()
    assert runner.run is stability.run
