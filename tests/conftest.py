"""Shared fixtures: small, fast experiments and a results comparison."""

from __future__ import annotations

import copy

import pytest
import xarray as xr

# Short runs of small systems: a whole experiment takes well under a second with sync.
SMALL = {
    "experiment": {"name": "small", "replicates": 60, "seed": 11, "chunk": 25},
    "model": {"horizon": 30, "n_states": 5},
    "sweep": {"polarity": ["bipolar", "multipolar"], "doctrine": ["defensive", "offensive"]},
    "cluster": {"scheduler": "sync"},
}


def _merge(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for section, table in changes.items():
        if table is None:
            out.pop(section, None)
        else:
            target = out.setdefault(section, {})
            for key, value in table.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
    return out


@pytest.fixture
def small_raw():
    """``small_raw(**sections)``: SMALL with tables updated; None drops a table or a key."""
    return lambda **changes: _merge(SMALL, changes)


@pytest.fixture
def small_config(small_raw, tmp_path):
    """``small_config(**sections)``: a validated Config writing under ``tmp_path``."""
    from stability.experiment.config import parse_config

    def make(**changes):
        changes.setdefault("output", {"path": str(tmp_path / "out.zarr")})
        return parse_config(small_raw(**changes))

    return make


def assert_same_results(a: xr.Dataset, b: xr.Dataset) -> None:
    """Bit-identical data, coordinates and attributes, except the creation time."""
    a, b = a.load(), b.load()
    for ds in (a, b):
        ds.attrs = {k: v for k, v in ds.attrs.items() if k != "created"}
    xr.testing.assert_identical(a, b)
    for name in a.variables:  # assert_identical allows nan == nan; also compare the bits
        if a[name].dtype.kind in "biuf":
            assert a[name].values.tobytes() == b[name].values.tobytes(), name


@pytest.fixture
def same_results():
    return assert_same_results


@pytest.fixture
def error_line(capsys):
    """The CLI's closing error line from stderr; no traceback may precede it."""

    def read() -> str:
        err = capsys.readouterr().err
        line = err.strip().splitlines()[-1]
        assert line.startswith("stability: error: ") and "Traceback" not in err, err
        return line

    return read
