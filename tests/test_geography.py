"""Geography: the ring, a full distance matrix, the sphere (docs/model.md, Geography)."""

import math

import numpy as np
import pytest
from test_reference import assert_identical

from stability import params as P
from stability.model import phases as ph
from stability.reference import System

Z = 4.0


def write_matrix(path, labels, m):
    with open(path, "w") as fh:
        fh.write("," + ",".join(labels) + "\n")
        for a, row in zip(labels, m, strict=True):
            fh.write(a + "," + ",".join(repr(float(v)) for v in row) + "\n")
    return str(path)


def plane_matrix(n, seed=1):
    """Distances in km between random points of a 20,000 km square (a metric)."""
    pts = np.random.default_rng(seed).uniform(0, 20_000, size=(n, 2))
    return np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))


@pytest.mark.parametrize("n, extra", [(8, {}), (40, {"doctrine": "defensive"})])
def test_kernel_equals_reference_with_distances(tmp_path, n, extra):
    path = write_matrix(tmp_path / "d.csv", [f"s{i}" for i in range(n)], plane_matrix(n))
    assert_identical({"polarity": "multipolar", "n_states": n, "distances": path,
                      "doctrine": "offensive", "entry_rate": 0.3, "horizon": 60, **extra},
                     3, seed=5)


@pytest.mark.parametrize("params", [
    {"polarity": "multipolar", "n_states": 8, "doctrine": "defensive"},
    {"polarity": "bipolar", "n_states": 8, "max_states": 12, "entry_rate": 0.3,
     "doctrine": "offensive", "horizon": 60},
    {"polarity": "multipolar", "n_states": 40, "max_states": 44, "entry_rate": 0.3,
     "doctrine": "offensive", "horizon": 40},
])
def test_kernel_equals_reference_on_the_sphere(params):
    ds = assert_identical({**params, "geography": "sphere"}, 3, seed=5)
    assert ds.balancing.sum() > 0 and (ds.wars.sum() > 0 or params["doctrine"] == "defensive")


def test_distances_are_in_circumferences():
    """A quarter of the Earth's circumference (10,007.5 km) is 0.25 in the model's unit, so
    projection_scale = 0.25 makes the loss-of-strength factor exp(-1) there, and the antipode
    is 1/2 away, as the ring's farthest point."""
    assert P.EARTH_CIRCUMFERENCE_KM == pytest.approx(40_030.2, abs=0.1)
    f = np.zeros((ph.NF, 4))
    # x is longitude / 360 degrees, Z the latitude in radians
    f[ph.X, :] = [0.0, 0.25, 0.5, 0.0]
    f[ph.Z, :] = [0.0, 0.0, 0.0, math.pi / 2]
    assert ph.sphere_distance(f, 0, 1) == pytest.approx(0.25, abs=1e-15)
    assert ph.sphere_distance(f, 0, 2) == pytest.approx(0.5, abs=1e-15)
    assert ph.sphere_distance(f, 1, 3) == pytest.approx(0.25, abs=1e-15)
    p = P.pack(P.resolve({"projection_scale": 0.25, "geography": "sphere"}))
    assert ph.decay(p, f, np.zeros((1, 1)), 0, 1) == pytest.approx(math.exp(-1.0), rel=1e-14)


def test_sphere_on_the_equator_is_the_ring():
    rng = np.random.default_rng(3)
    f = np.zeros((ph.NF, 2))
    for _ in range(500):
        f[ph.X, :] = rng.uniform(size=2)
        dx = abs(f[ph.X, 0] - f[ph.X, 1])
        assert ph.sphere_distance(f, 0, 1) == pytest.approx(min(dx, 1 - dx), abs=1e-12)


def test_sphere_places_states_uniformly():
    """sin(latitude) of a uniform point on the sphere is uniform on [-1, 1]: mean 0 and mean
    square 1/3, within Z standard errors; longitudes are the ring's uniform positions."""
    q = P.resolve({"polarity": "multipolar", "n_states": 32, "geography": "sphere"})
    z = np.array([math.sin(s.lat) for rep in range(150) for s in System(q, 9, rep).living()])
    n = z.size
    assert abs(z.mean()) <= Z * math.sqrt(1 / 3 / n)
    assert abs((z * z).mean() - 1 / 3) <= Z * math.sqrt(4 / 45 / n)


def test_distance_file_reordered_by_scenario_labels(tmp_path):
    labels = ["UKG", "FRN", "GMY", "AUH", "RUS"]
    m = plane_matrix(5)
    path = write_matrix(tmp_path / "d.csv", labels[::-1], m[::-1, ::-1])
    q = P.resolve({"scenario": "cow:1816", "distances": path})
    order = list(__import__("stability").load_scenario("cow:1816"))
    got = P.distance_matrix(q) * P.EARTH_CIRCUMFERENCE_KM
    idx = [labels.index(a) for a in order]
    assert np.allclose(got, m[np.ix_(idx, idx)])


@pytest.mark.parametrize("edit, message", [
    (lambda m, lab: (m, lab[:-1] + ["s0"]), "duplicated"),
    (lambda m, lab: (m + np.triu(np.ones_like(m), 1), lab), "not symmetric"),
    (lambda m, lab: (np.where(np.eye(len(m)) == 1, 0, -m), lab), "negative"),
    (lambda m, lab: (np.where(np.eye(len(m)) == 1, np.nan, m), lab), "NaN"),
    (lambda m, lab: (m + np.eye(len(m)), lab), "itself must be 0"),
    (lambda m, lab: (m[:-1, :-1], lab[:-1]), "has 4 states, n_states is 5"),
])
def test_bad_distance_files(tmp_path, edit, message):
    m, labels = edit(plane_matrix(5), [f"s{i}" for i in range(5)])
    path = write_matrix(tmp_path / "d.csv", labels, m)
    with pytest.raises(ValueError, match=rf"parameter 'distances'.*{message}"):
        P.resolve({"shares": [5, 4, 3, 2, 1], "distances": path})


def test_distance_file_labels_must_match_the_scenario(tmp_path):
    path = write_matrix(tmp_path / "d.csv", ["UKG", "FRN", "GMY", "AUH", "XXX"],
                        plane_matrix(5))
    with pytest.raises(ValueError, match="parameter 'distances'.*missing: RUS; extra: XXX"):
        P.resolve({"scenario": "cow:1816", "distances": path})


@pytest.mark.parametrize("params, message", [
    ({"geography": "distances"}, "parameter 'geography'"),
    ({"geography": "sphere", "scenario": "cow:1914"}, "parameter 'geography'"),
    ({"geography": "sphere", "shares": [3, 2, 2], "positions": [0.1, 0.2, 0.3]},
     "parameter 'positions'"),
    ({"geography": "ring", "distances": "x.csv"}, "parameter 'distances'"),
    ({"distances": "/nonexistent/d.csv", "shares": [3, 2, 2]},
     "parameter 'distances'.*cannot be read"),
    ({"geography": "globe"}, "parameter 'geography'"),
])
def test_geography_that_does_not_fit_the_start(params, message):
    with pytest.raises(ValueError, match=message):
        P.resolve(params)


def test_distances_need_every_slot_placed(tmp_path):
    path = write_matrix(tmp_path / "d.csv", [f"s{i}" for i in range(5)], plane_matrix(5))
    with pytest.raises(ValueError, match="parameter 'max_states'"):
        P.resolve({"shares": [5, 4, 3, 2, 1], "distances": path, "max_states": 6})


def test_a_randomized_geography_that_cannot_fit_is_refused_before_running():
    """Every randomized geography is resolved in every cell at validation, so a draw of
    'distances' for a random start (no distances to draw on) is bad input, not a failure in
    the middle of a run."""
    from stability.experiment.config import ConfigError, parse_config

    raw = {"experiment": {"replicates": 10, "seed": 1},
           "randomize": {"geography": {"choice": ["ring", "distances"]}}}
    with pytest.raises(ConfigError, match="randomize geography='distances'"):
        parse_config(raw)
    raw["randomize"]["geography"]["choice"] = ["ring", "sphere"]
    assert parse_config(raw).randomize["geography"].args == ("ring", "sphere")
