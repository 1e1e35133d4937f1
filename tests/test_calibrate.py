"""ABC-SMC calibration: config errors, the serial path's reproducibility, resuming a killed
calibration, the posterior store and its info/plot."""

from __future__ import annotations

import copy

import numpy as np
import pytest

pytest.importorskip("pyabc")

import stability  # noqa: E402
from stability.cli import main  # noqa: E402
from stability.experiment import calibrate as C  # noqa: E402
from stability.experiment.config import ConfigError  # noqa: E402

TINY = {
    "experiment": {"name": "tiny", "seed": 5},
    "model": {"max_states": 7},
    "randomize": {"growth_sd": {"uniform": [0.01, 0.15]},
                  "entry_rate": {"uniform": [0.0, 0.1]},
                  "war_cost": {"loguniform": [0.01, 0.2]}},
    "calibration": {"period": [1816, 1880], "population": 8, "max_generations": 2, "runs": 2,
                    "predictive": 3, "lags": [1, 5, 20]},
    "cluster": {"scheduler": "sync"},
}


def _write(tmp_path, raw):
    lines = []
    for section, table in raw.items():
        lines.append(f"[{section}]")
        for k, v in table.items():
            lines.append(f"{k} = {_toml(v)}")
    path = tmp_path / "cal.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


def _with(changes):
    raw = copy.deepcopy(TINY)
    for section, table in changes.items():
        if table is None:
            raw.pop(section, None)
            continue
        raw.setdefault(section, {}).update(table)
    return raw


@pytest.mark.parametrize("changes,match", [
    ({"calibration": None}, r"\[calibration\]: missing"),
    ({"calibration": {"period": [1800, 1900]}}, "calibration.period: period 1800-1900 lies"),
    ({"calibration": {"period": [1900, 1850]}}, "calibration.period: .* first year"),
    ({"calibration": {"patterns": ["wars"]}}, r"calibration.patterns\[0\]: unknown pattern"),
    ({"calibration": {"lags": [70]}}, r"calibration.lags\[0\]: lag 70 outside"),
    ({"calibration": {"distance": "manhattan"}}, "calibration.distance"),
    ({"calibration": {"population": 0}}, "calibration.population"),
    ({"calibration": {"speed": 1}}, "calibration.speed: unknown key"),
    ({"randomize": {"growth_sd": {"normal": [0.05, 0.01], "clip": [0.0, 0.2]}}},
     "randomize.growth_sd: a prior must be uniform or loguniform"),
    ({"randomize": {"no_such": {"uniform": [0, 1]}}}, "randomize.no_such"),
    ({"model": {"scenario": "cow:1900"}}, "model.scenario: set by calibration.period"),
    ({"model": {"growth_sd": 0.05}}, "randomize.growth_sd: 'growth_sd' is both randomized"),
    ({"sweep": {"doctrine": ["defensive", "offensive"]}}, r"\[sweep\]: a calibration"),
])
def test_bad_configs_one_line(tmp_path, changes, match):
    path = _write(tmp_path, _with(changes))
    with pytest.raises(ConfigError, match=match) as err:
        C.load_calibration(path)
    assert "\n" not in str(err.value)


def test_cli_bad_input_exit_2_and_nothing_written(tmp_path, capsys):
    path = _write(tmp_path, _with({"calibration": {"period": [1700, 1800]}}))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "p.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "calibration.period" in err
    path = _write(tmp_path, TINY)
    assert main(["calibrate", str(path), "--out", str(tmp_path / "p.zarr"), "--resume"]) == 2
    assert "no calibration history" in capsys.readouterr().err
    assert not (tmp_path / "p.zarr").exists() and not (tmp_path / "p.db").exists()


def _run(tmp_path, name, raw=TINY, **kw):
    cfg, cal = C.parse_calibration(copy.deepcopy(raw))
    return C.calibrate(cfg, cal, out=tmp_path / f"{name}.zarr", **kw)


def _same(a, b):
    for name in [*a.attrs["parameters"].split(","), "weight", "distance", "epsilon",
                 "simulations"]:
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name


def test_serial_path_reproducible_and_store(tmp_path, capsys):
    a = _run(tmp_path, "a")
    b = _run(tmp_path, "b")
    _same(a, b)
    assert a.sizes["generation"] == 2 and a.sizes["sample"] == 8
    w = a.weight.values
    assert np.allclose(w.sum(axis=1), 1.0)
    lo, hi = TINY["randomize"]["war_cost"]["loguniform"]
    assert ((a.war_cost.values >= lo) & (a.war_cost.values <= hi)).all()
    assert (a.simulations.values >= 8).all()
    post = stability.open_posterior(tmp_path / "a.zarr")
    _same(a, post)
    # the existing output is refused without a flag, and replaced with --overwrite
    with pytest.raises(ConfigError, match="exists; use --resume"):
        _run(tmp_path, "a")
    assert main(["info", str(tmp_path / "a.zarr")]) == 0
    out = capsys.readouterr().out
    assert "growth_sd" in out and "simulations" in out and "generations" in out
    assert main(["plot", str(tmp_path / "a.zarr"), "--out", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").stat().st_size > 10_000


class _Killed(BaseException):
    pass


def test_killed_calibration_resumes_to_the_same_posterior(tmp_path, monkeypatch):
    whole = _run(tmp_path, "whole")
    n_first = int(whole.simulations.values[0])
    calls = {"n": 0}
    real = C.Simulator.__call__

    def dying(self, pars):
        calls["n"] += 1
        if calls["n"] > n_first + 3:  # part of the way into the second generation
            raise _Killed()
        return real(self, pars)

    monkeypatch.setattr(C.Simulator, "__call__", dying)
    with pytest.raises(_Killed):
        _run(tmp_path, "killed")
    monkeypatch.setattr(C.Simulator, "__call__", real)
    assert (tmp_path / "killed.db").exists() and not (tmp_path / "killed.zarr").exists()
    resumed = _run(tmp_path, "killed", resume=True)
    _same(whole, resumed)


def test_summary_statistics_of_the_record_are_the_history_patterns():
    from stability import history

    _, cal = C.parse_calibration(copy.deepcopy(TINY))
    x0 = C.observed(cal)
    ds = history.patterns((1816, 1880))
    for k in (1, 5, 20):
        assert x0[f"log_share_sd_{k}"] == pytest.approx(float(ds.log_share_sd.sel(lag=k)),
                                                        rel=1e-12)
    assert x0["max_share"] == pytest.approx(float(ds.max_share.mean()), rel=1e-12)
    assert x0["entries"] == pytest.approx(float(ds.entries.sum()) / 64, rel=1e-12)


def test_out_of_sample_bands_and_comparison(tmp_path):
    from stability.analysis.posterior import compare_patterns, format_comparison

    ds = _run(tmp_path, "oos")
    pred = C.out_of_sample(ds, (1922, 1960), draws=30)
    assert pred.sizes["draw"] == 30
    sd = pred["pred_log_share_sd_1922_1960"]
    assert sd.shape == (30, 38) and np.isfinite(sd.values[:, 0]).any()
    heg = pred["pred_hegemony_1922_1960"].values
    assert set(np.unique(heg)) <= {0.0, 1.0}
    # a history that ended in hegemony has no max_share after its end
    times = pred["pred_hegemony_time_1922_1960"].values
    top = pred["pred_max_share_1922_1960"].values
    for d in np.nonzero(heg)[0]:
        assert np.isnan(top[d, times[d] + 1:]).all()
    rows = compare_patterns(pred, (1922, 1960))
    names = [r[0] for r in rows]
    assert "log_share_sd lag 1" in names and names[-1] == "reached hegemony"
    # the record reached half of the majors' capability in 1945
    assert rows[-1][1] == 1.0
    assert format_comparison(rows).count("\n") == len(rows) + 2
    # cow:1920 already holds a hegemon (USA 0.525): refused, one line
    with pytest.raises(ConfigError, match="period: .*already reaches hegemony"):
        C.out_of_sample(ds, (1920, 1960))


def _posterior_config(tmp_path, store, extra_randomize=None, model=None, chunk=40):
    from stability.experiment.config import parse_config

    return parse_config({
        "experiment": {"name": "post", "replicates": 80, "seed": 3, "chunk": chunk},
        "model": {"horizon": 30, "n_states": 5, **(model or {})},
        "sweep": {"doctrine": ["defensive", "offensive"]},
        "randomize": {"posterior": str(store), **(extra_randomize or {})},
        "output": {"path": str(tmp_path / f"post-{chunk}.zarr")},
        "cluster": {"scheduler": "sync"},
    })


def test_randomize_posterior_joint_reproducible_draws(tmp_path):
    from stability.experiment import tasks

    post = _run(tmp_path, "p")
    cfg = _posterior_config(tmp_path, tmp_path / "p.zarr")
    names = post.attrs["parameters"].split(",")
    assert sorted(cfg.randomize) == sorted(names)
    plan = tasks.make_plan(cfg)
    reps = np.arange(80)
    values = tasks.draws(plan, reps)
    last = post.isel(generation=-1)
    rows = {tuple(float(last[k].values[j]) for k in names) for j in range(last.sizes["sample"])
            if last.weight.values[j] > 0}
    drawn = [tuple(float(values[k][i]) for k in names) for i in range(80)]
    assert all(d in rows for d in drawn)  # joint: every replicate gets one whole particle
    assert len(set(drawn)) > 1
    # replicate i's draw does not depend on the batch it is drawn in
    part = tasks.draws(plan, np.arange(40, 80))
    assert all(np.array_equal(values[k][40:], part[k]) for k in names)
    a = stability.run(cfg)
    b = stability.run(_posterior_config(tmp_path, tmp_path / "p.zarr", chunk=17))
    assert np.array_equal(a.n_hegemony.values, b.n_hegemony.values)


@pytest.mark.parametrize("how,match", [
    ("model", "the posterior's parameter 'growth_sd' is also fixed in \\[model\\]"),
    ("randomize", "the posterior's parameter 'war_cost' is also randomized"),
    ("missing", "randomize.posterior: no posterior at"),
    ("version", "randomize.posterior: .* model version 0"),
])
def test_randomize_posterior_errors(tmp_path, how, match):
    import zarr

    _run(tmp_path, "q")
    store = tmp_path / "q.zarr"
    kw = {}
    if how == "model":
        kw["model"] = {"growth_sd": 0.05}
    elif how == "randomize":
        kw["extra_randomize"] = {"war_cost": {"uniform": [0.01, 0.1]}}
    elif how == "missing":
        store = tmp_path / "none.zarr"
    else:
        zarr.open_group(str(store), mode="r+").attrs["model_version"] = "0"
    with pytest.raises(ConfigError, match=match) as err:
        _posterior_config(tmp_path, store, **kw)
    assert "\n" not in str(err.value)
