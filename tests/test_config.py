"""Config schema, validation messages, overrides and [randomize] draws."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from stability import params as P
from stability.experiment.config import ConfigError, load_config, parse_config, tomllib
from stability.experiment.tasks import make_plan, parameter_rows
from stability.model.rng import randomize_uniforms

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_shipped_configs_are_valid():
    names = {p.name for p in CONFIGS.glob("*.toml")}
    assert {"quickstart.toml", "polarity_doctrine.toml", "wohlforth.toml"} <= names
    for path in CONFIGS.glob("*.toml"):
        text = path.read_text()
        if "[calibration]" in text:  # a calibration config (stability calibrate)
            from stability.experiment.calibrate import load_calibration

            load_calibration(path)
        elif 'posterior = "' in text and not Path(
                tomllib.loads(text)["randomize"]["posterior"]).exists():
            # runs on the posterior that `stability calibrate` writes: until then, the one
            # error is the missing store
            with pytest.raises(ConfigError, match="randomize.posterior: no posterior at"):
                load_config(path)
        else:
            load_config(path)
    q = load_config(CONFIGS / "quickstart.toml")
    assert q.dims == ("polarity", "doctrine") and q.shape == (3, 2)
    assert load_config(CONFIGS / "polarity_doctrine.toml").experiment.replicates >= 1_000_000
    w = load_config(CONFIGS / "wohlforth.toml")
    assert set(w.dims) == {"administration_efficiency", "entry_rate"}
    assert w.model["max_states"] > w.model["n_states"]


def test_cells_groups_and_tasks(small_config):
    cfg = small_config(experiment={"replicates": 60, "chunk": 25})
    assert cfg.n_cells == 4 and cfg.n_groups == 4 and cfg.n_tasks == 4 * 3
    assert list(cfg.cells())[1] == {"polarity": "bipolar", "doctrine": "offensive"}
    paired = small_config(experiment={"contrasts": ["doctrine"]})
    assert paired.n_groups == 2 and paired.n_tasks == 2 * 3
    plan = make_plan(paired)
    # a group holds the cells that differ only in doctrine
    assert plan.groups.tolist() == [[0, 1], [2, 3]]


def test_toml_round_trip_keeps_the_hash(small_config):
    cfg = small_config(randomize={"growth_sd": {"normal": [0.05, 0.02], "clip": [0.0, 0.1]},
                                  "initiators": {"choice": ["all", "revisionist"]}},
                       model={"unipolar_share": [0.3, 0.4], "projection_scale": math.inf})
    again = parse_config(tomllib.loads(cfg.to_toml(full=True)))
    assert again == cfg and again.sha256 == cfg.sha256
    # chunk, output and cluster do not change results, so not the identity either
    assert cfg.with_overrides(chunk=7, scheduler="threads", out="x.nc").sha256 == cfg.sha256
    assert cfg.with_overrides(seed=12).sha256 != cfg.sha256


def test_overrides_are_validated_and_name_the_flag(small_config):
    cfg = small_config()
    assert cfg.with_overrides(replicates=5, workers=3).experiment.replicates == 5
    for key, value, text in [("replicates", 0, "--replicates"), ("out", "x.csv", "--out"),
                             ("scheduler", "mpi", "--scheduler"), ("seed", -1, "--seed")]:
        with pytest.raises(ConfigError, match=text):
            cfg.with_overrides(label=lambda k: f"--{k}", **{key: value})


def test_default_name_and_output(tmp_path):
    path = tmp_path / "my exp.toml"
    path.write_text("[experiment]\nreplicates = 3\nseed = 1\n")
    cfg = load_config(path)
    assert cfg.experiment.name == "my-exp"
    assert cfg.output_path == Path("results/my-exp.zarr")
    assert cfg.cluster.scheduler == "local" and cfg.n_cells == 1


# (changes to SMALL, text the one-line message must contain)
BAD = [
    ({"experiment": {"replicate": 5}}, "experiment.replicate: unknown key"),
    ({"experiment": {"replicates": "many"}}, "experiment.replicates"),
    ({"experiment": {"replicates": 0}}, "experiment.replicates"),
    ({"experiment": {"seed": 2**63}}, "experiment.seed"),
    ({"experiment": {"contrasts": ["growth_sd"]}}, "experiment.contrasts[0]"),
    ({"model": {"n_states": 257}}, "model.n_states"),
    ({"model": {"not_a_parameter": 1}}, "model.not_a_parameter"),
    ({"model": {"doctrine": "pacifist"}}, "model.doctrine"),
    ({"sweep": {"growth_sd": [0.1, 0.2, 5.0]}}, "sweep.growth_sd[2]"),
    ({"sweep": {"growth_sd": []}}, "sweep.growth_sd: empty sweep"),
    ({"sweep": {"growth_sd": [0.1, 0.1]}}, "sweep.growth_sd[1]: duplicate"),
    ({"sweep": {"horizon": [10]}, "model": {"horizon": 10}}, "sweep.horizon"),
    ({"sweep": {"unipolar_share": [[0.3, 0.4]]}}, "sweep.unipolar_share"),
    ({"sweep": {"hegemony_threshold": [0.5, 0.2]}},
     "sweep cell polarity='bipolar', doctrine='defensive', hegemony_threshold=0.2"),
    ({"sweep": {"max_states": [6, 4]}}, "max_states=4: parameter 'max_states' (4) is below"),
    ({"randomize": {"growth_sd": {"uniform": [0.1, 0.01]}}}, "randomize.growth_sd.uniform"),
    ({"randomize": {"growth_sd": {"uniform": [0.0, 3.0]}}}, "randomize.growth_sd.uniform[1]"),
    ({"randomize": {"growth_sd": {"normal": [0.05, 0.01]}}}, "randomize.growth_sd: a normal"),
    ({"randomize": {"growth_sd": {"normal": [0.05, 0.01], "clip": [-1, 0.1]}}},
     "randomize.growth_sd.clip[0]"),
    ({"randomize": {"entry_rate": {"loguniform": [0.0, 0.1]}}}, "randomize.entry_rate"),
    ({"randomize": {"initiators": {"uniform": [0, 1]}}}, "randomize.initiators.uniform"),
    ({"randomize": {"initiators": {"choice": ["all", "some"]}}},
     "randomize.initiators.choice[1]"),
    ({"randomize": {"growth_sd": {"beta": [1, 2]}}}, "randomize.growth_sd.beta"),
    ({"randomize": {"doctrine": {"choice": ["offensive"]}}}, "randomize.doctrine: 'doctrine' "
     "is both randomized and swept"),
    ({"randomize": {"n_states": {"uniform": [3, 6]}}}, "randomize.n_states: 'n_states' is "
     "both randomized and fixed"),
    ({"randomize": {"memory": {"uniform": [5.5, 10]}}}, "randomize.memory.uniform"),
    ({"output": {"path": "results/x.csv"}}, "output.path"),
    ({"cluster": {"scheduler": "mpi"}}, "cluster.scheduler"),
    ({"cluster": {"workers": 0}}, "cluster.workers"),
    ({"clusters": {"workers": 2}}, "[clusters]: unknown section"),
]


@pytest.mark.parametrize("changes,text", BAD, ids=[t for _, t in BAD])
def test_malformed_configs_name_the_key(small_raw, changes, text):
    with pytest.raises(ConfigError) as info:
        parse_config(small_raw(**changes))
    message = str(info.value)
    assert text in message
    assert "\n" not in message


def test_every_randomized_corner_must_resolve(small_raw):
    raw = small_raw(randomize={"n_states": {"uniform": [3, 6]}})
    del raw["model"]["n_states"]
    parse_config(raw)  # bipolar and multipolar starts need 3 states
    raw["sweep"]["polarity"] = ["unipolar", "bipolar"]  # unipolar needs 4
    with pytest.raises(ConfigError, match="polarity='unipolar'.* with randomize n_states=3"):
        parse_config(raw)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\nreplicates = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_config(bad)


def test_randomized_rows_equal_resolving_each_replicate(small_raw):
    """Column overwrites reproduce resolve() + pack() of each replicate's drawn values."""
    randomize = {
        "doctrine": {"choice": ["defensive", "offensive"]},
        "n_states": {"uniform": [4, 7]},
        "growth_sd": {"normal": [0.05, 0.03], "clip": [0.0, 0.1]},
        "entry_rate": {"loguniform": [0.001, 0.1]},
        "memory": {"loguniform": [1, 20]},
        "alliances": {"choice": [True, False]},
        "initiators": {"choice": ["all", "revisionist"]},
        "war_cost": {"uniform": [0.01, 0.1]},
    }
    raw = small_raw(randomize=randomize)
    raw["sweep"] = {"polarity": ["bipolar", "multipolar"]}  # doctrine is randomized instead
    del raw["model"]["n_states"]
    cfg = parse_config(raw)
    plan = make_plan(cfg)
    names = sorted(randomize)
    reps = np.arange(100, 260, dtype=np.int64)
    for cell, values in enumerate(cfg.cells()):
        pmat = parameter_rows(plan, cell, reps)
        for row, rep in enumerate(reps):
            drawn = {n: _draw(cfg.randomize[n], randomize_uniforms(
                cfg.experiment.seed, reps[row:row + 1], k, 2)[0]) for k, n in enumerate(names)}
            expect = P.pack(P.resolve(cfg.model | values | drawn))
            assert np.array_equal(pmat[row], expect), (rep, drawn)
    assert plan.ranks == 7  # max_states follows the randomized n_states


def _draw(d, u):
    """An independent scalar implementation of the documented distributions."""
    if d.kind == "choice":
        return d.args[int(u[0] * len(d.args))]
    a, b = d.args
    integer = isinstance(a, int)
    if d.kind == "uniform":
        return a + int(u[0] * (b - a + 1)) if integer else a + u[0] * (b - a)
    if d.kind == "loguniform":
        top = math.log(b + 1) if integer else math.log(b)
        x = math.exp(math.log(a) + u[0] * (top - math.log(a)))
        return int(x) if integer else min(x, b)
    z = math.sqrt(-2.0 * math.log(1.0 - u[0])) * math.cos(2.0 * math.pi * u[1])
    return min(max(a + b * z, d.clip[0]), d.clip[1])


def test_draws_depend_only_on_seed_and_replicate(small_config):
    cfg = small_config(randomize={"growth_sd": {"uniform": [0.01, 0.09]},
                                  "war_cost": {"choice": [0.01, 0.2]}})
    plan = make_plan(cfg)
    whole = parameter_rows(plan, 0, np.arange(0, 50, dtype=np.int64))
    part = parameter_rows(plan, 3, np.arange(20, 30, dtype=np.int64))
    cols = [P.INDEX["growth_sd"], P.INDEX["war_cost"]]
    assert np.array_equal(whole[20:30][:, cols], part[:, cols])  # and the same in every cell
    assert len(np.unique(whole[:, cols[0]])) == 50
    assert set(whole[:, cols[1]]) == {0.01, 0.2}
