"""Per-run records: what they hold, that they reproduce, and that each one re-simulates alone."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import stability
from stability import params as P
from stability.experiment import store
from stability.experiment.runs import RUN_CHUNK
from stability.experiment.tasks import RECORD_OUTCOMES, make_plan
from stability.model.simulate import run_batch

RANDOM = {
    "model": {"horizon": 30, "n_states": 5},
    "sweep": {"polarity": ["bipolar", "multipolar"], "doctrine": ["defensive", "offensive"]},
    "randomize": {"growth_sd": {"uniform": [0.02, 0.08]},
                  "memory": {"uniform": [1, 12]},
                  "alliances": {"choice": [True, False]}},
}


def _same_runs(a: xr.Dataset, b: xr.Dataset) -> None:
    a, b = a.load(), b.load()
    assert sorted(a.variables) == sorted(b.variables)
    for name in a.variables:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].values.tobytes() == b[name].values.tobytes(), name


@pytest.fixture
def random_run(small_config, tmp_path):
    return stability.run(small_config(**RANDOM), chunk=1000, out=tmp_path / "ref.zarr"), \
        tmp_path / "ref.zarr"


def test_records_hold_cell_replicate_parameters_and_outcomes(random_run, small_config):
    ds, path = random_run
    runs = stability.open_runs(path)
    cfg = small_config(**RANDOM)
    assert runs.sizes["run"] == 4 * 60
    for name in ("cell", "replicate", "polarity", "doctrine", "growth_sd", "memory",
                 "alliances") + RECORD_OUTCOMES:
        assert name in runs, name
    assert runs["run"].values.tolist() == list(range(240))
    # cell-major, then replicate; the sweep values and the cell index agree
    assert runs["cell"].values.tolist() == np.repeat(np.arange(4), 60).tolist()
    assert runs["replicate"].values.tolist() == list(range(60)) * 4
    cells = list(cfg.cells())
    for c in range(4):
        block = runs.isel(run=slice(60 * c, 60 * c + 60))
        assert set(block["doctrine"].values.tolist()) == {cells[c]["doctrine"]}
        assert set(block["polarity"].values.tolist()) == {cells[c]["polarity"]}
    # draws are the replicate's, the same in every cell, and inside their ranges
    g = runs["growth_sd"].values.reshape(4, 60)
    assert (g == g[0]).all() and (0.02 <= g).all() and (g <= 0.08).all()
    assert runs["memory"].dtype == np.int64 and set(runs["memory"].values) <= set(range(1, 13))
    assert runs["alliances"].dtype == bool
    # the records sum to the cells' statistics
    won = runs["hegemony"].values.reshape(2, 2, 60)
    assert np.array_equal(won.sum(axis=-1), ds["n_hegemony"].values)
    wars = runs["wars"].values.reshape(2, 2, 60).mean(axis=-1)
    assert np.allclose(wars, ds["mean_wars"].values, rtol=0, atol=1e-12)
    # lazy, and the store's provenance comes along
    assert runs["hegemony"].chunks is not None
    assert runs.attrs["config_sha256"] == ds.attrs["config_sha256"]


def test_a_record_re_simulated_alone_gives_the_same_outcome(random_run, small_config):
    _, path = random_run
    runs = stability.open_runs(path).load()
    cfg = small_config(**RANDOM)
    cells = list(cfg.cells())
    for run in (0, 17, 101, 239):
        r = runs.isel(run=run)
        params = dict(cfg.model) | cells[int(r["cell"])]
        params |= {n: r[n].values.item() for n in cfg.randomize}
        out = run_batch(P.pack(P.resolve(params))[None, :], cfg.experiment.seed,
                        np.array([int(r["replicate"])]))
        for name in RECORD_OUTCOMES:
            assert out[name][0] == r[name].values, (run, name)


@pytest.mark.parametrize("chunk,scheduler", [(7, "sync"), (25, "threads"), (13, "local")])
def test_records_are_identical_whatever_the_chunks_and_scheduler(random_run, small_config,
                                                                 tmp_path, chunk, scheduler):
    _, path = random_run
    out = tmp_path / f"{chunk}.zarr"
    stability.run(small_config(**RANDOM), chunk=chunk, scheduler=scheduler, workers=2, out=out)
    _same_runs(stability.open_runs(out), stability.open_runs(path))


def test_records_survive_an_interrupted_run_and_resume(random_run, small_config, tmp_path):
    _, path = random_run
    out = tmp_path / "resumed.zarr"
    cfg = small_config(**RANDOM)

    def stop_after_three(done, total):
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stability.run(cfg, chunk=9, out=out, progress=stop_after_three)
    assert len(list((store.checkpoint_path(out) / "records").glob("task-*.npz"))) == 3
    stability.run(cfg, chunk=9, out=out, resume=True)
    _same_runs(stability.open_runs(out), stability.open_runs(path))
    assert not store.checkpoint_path(out).exists()


def test_records_on_request_and_only_then(small_config, tmp_path):
    plain = tmp_path / "plain.zarr"
    stability.run(small_config(), out=plain)
    with pytest.raises(ValueError, match="no per-run records"):
        stability.open_runs(plain)
    asked = tmp_path / "asked.nc"
    stability.run(small_config(output={"path": str(asked), "runs": True}))
    runs = stability.open_runs(asked)
    assert runs.sizes["run"] == 240 and "growth_sd" not in runs
    assert runs["replicate"].values.tolist() == list(range(60)) * 4
    # NetCDF and Zarr hold the same records
    zarr = tmp_path / "asked.zarr"
    stability.run(small_config(output={"path": str(zarr), "runs": True}))
    _same_runs(stability.open_runs(asked), stability.open_runs(zarr))


def test_records_stream_in_fixed_chunks(small_config, tmp_path):
    out = tmp_path / "big.zarr"
    cfg = small_config(model={"horizon": 2, "n_states": 4}, sweep={"polarity": None,
                       "doctrine": None}, output={"path": str(out), "runs": True})
    stability.run(cfg, replicates=RUN_CHUNK + 1000, chunk=40_000)
    runs = stability.open_runs(out)
    assert runs["hegemony"].chunks == ((RUN_CHUNK, 1000),)
    assert runs.sizes["run"] == RUN_CHUNK + 1000


def test_the_design_plan_is_regenerated_identically(small_config):
    """Workers regenerate a design from the plan; two plans give the same rows and streams."""
    cfg = small_config(model={"horizon": 10, "n_states": 4, "entry_rate": 0.0},
                       sweep={"polarity": None},
                       randomize={"growth_sd": {"uniform": [0.0, 0.1]},
                                  "entry_size": {"uniform": [0.2, 2.0]}},
                       experiment={"replicates": None},
                       sensitivity={"method": "sobol", "samples": 16, "repeats": 2})
    a, b = make_plan(cfg), make_plan(cfg)
    assert a.replicates == 16 * 4 * 2
    ua, sa = a.design.rows()
    ub, sb = b.design.rows()
    assert np.array_equal(ua, ub) and np.array_equal(sa, sb)
    reps = np.arange(a.replicates)
    streams = a.design.streams(reps)
    # the two repeats of a point never share a stream; A and AB_i rows share theirs
    assert len(set(streams.reshape(-1, 2)[:, 0]) & set(streams.reshape(-1, 2)[:, 1])) == 0
    block = streams.reshape(16, 4, 2)
    assert (block[:, 1] == block[:, 0]).all() and (block[:, 2] == block[:, 0]).all()
    assert (block[:, 3] != block[:, 0]).all()
