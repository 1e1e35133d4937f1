"""The analysis experience end to end, on real runs of the compiled model.

Small experiments with fixed seeds go through ``stability run``; their stores go through
``stability plot`` and ``stability info``; a default experiment shows that the paired doctrine
contrast is narrower than the unpaired one; a cut-down ``configs/historical.toml`` runs from
Correlates of War years. Everything runs in this process on the ``sync`` or ``threads``
scheduler (15-20 s on two cores once the kernels are compiled; compiling adds about 20 s).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import stability
from stability.cli import main

ROOT = Path(__file__).resolve().parents[1]
HISTORICAL = ROOT / "configs" / "historical.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
YEARS = ("cow:1816", "cow:1870", "cow:1914", "cow:1938", "cow:1950", "cow:1992", "cow:2010")

# Small systems and short runs: each of these experiments takes well under a second.
SWEEPS = {
    1: {"polarity": ["unipolar", "bipolar", "multipolar"]},
    2: {"polarity": ["unipolar", "bipolar", "multipolar"],
        "doctrine": ["defensive", "offensive"]},
    3: {"growth_sd": [0.02, 0.08], "doctrine": ["defensive", "offensive"],
        "polarity": ["bipolar", "multipolar"]},
}


def _toml_list(values) -> str:
    return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else repr(v) for v in values) + "]"


def _write_config(path: Path, sweep: dict, *, model: str = "n_states = 5\nhorizon = 30",
                  replicates: int = 150, chunk: int = 50, contrasts: str = "") -> Path:
    lines = [f"{key} = {_toml_list(values)}" for key, values in sweep.items()]
    path.write_text(textwrap.dedent(f"""\
        [experiment]
        name = "{path.stem}"
        replicates = {replicates}
        seed = 20261125
        chunk = {chunk}
        {contrasts}

        [model]
        {{model}}

        [sweep]
        {{sweep}}

        [cluster]
        scheduler = "sync"
        """).format(model=model, sweep="\n".join(lines)))
    return path


def _run(config: Path, out: Path, *flags: str) -> Path:
    assert main(["run", str(config), "--out", str(out), "--quiet", *flags]) == 0
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[int, Path]:
    """Results stores of real 1-, 2- and 3-dimensional sweeps (Zarr, NetCDF, Zarr)."""
    base = tmp_path_factory.mktemp("sweeps")
    suffix = {1: ".zarr", 2: ".nc", 3: ".zarr"}
    out = {}
    for ndims, sweep in SWEEPS.items():
        contrasts = 'contrasts = ["doctrine"]' if "doctrine" in sweep else ""
        config = _write_config(base / f"sweep{ndims}d.toml", sweep, contrasts=contrasts)
        out[ndims] = _run(config, base / f"sweep{ndims}d{suffix[ndims]}")
    return out


def _png(path: Path) -> tuple[int, int, int]:
    """(width, height, bytes) of a PNG file, after checking its signature and header."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"), "truncated PNG"
    return width, height, len(data)


# ---- stability plot -------------------------------------------------------------------------

@pytest.mark.parametrize("ndims", [1, 2, 3])
def test_plot_writes_a_png(stores, ndims, tmp_path, capsys):
    png = tmp_path / f"sweep{ndims}d.png"
    assert main(["plot", str(stores[ndims]), "--out", str(png)]) == 0
    assert str(png) in capsys.readouterr().out
    width, height, size = _png(png)
    assert width >= 1000 and height >= 600, (width, height)  # a full figure, saved at 150 dpi
    # A blank canvas of this size compresses to a few kB; four panels of data do not.
    assert size > 40_000, size


def test_plot_console_script_is_headless(stores, tmp_path):
    """``python -m stability.cli plot`` in a fresh process with no display and no backend."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    png = tmp_path / "fresh.png"
    proc = subprocess.run([sys.executable, "-m", "stability.cli", "plot", str(stores[3]),
                           "--out", str(png)], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert _png(png)[2] > 40_000


def test_plot_of_cells_that_never_reach_hegemony(tmp_path):
    """A real run whose cells all have P(hegemony) = 0 exactly (docs/model.md section 7,
    "no initiators": defensive doctrine, no revisionists, no growth noise). The Wilson
    interval of 0 of n is [0, 3.84 / (n + 3.84)]; its lower limit must not round above the
    estimate, or the error bars would be negative and matplotlib refuses to draw them."""
    sweep = {"n_states": [4, 6]}
    config = _write_config(tmp_path / "never.toml", sweep, replicates=300, chunk=100,
                           model='doctrine = "defensive"\nrevisionist_share = 0.0\n'
                                 "growth_sd = 0.0\nhorizon = 20")
    ds = stability.open_results(_run(config, tmp_path / "never.zarr"))
    assert (ds["n_hegemony"] == 0).all()
    assert (ds["p_hegemony_lo"] == 0).all() and (ds["p_hegemony"] == 0).all()
    assert (ds["p_hegemony_hi"] > 0).all()
    png = tmp_path / "never.png"
    assert main(["plot", str(tmp_path / "never.zarr"), "--out", str(png)]) == 0
    assert _png(png)[2] > 20_000


# ---- stability info -------------------------------------------------------------------------

def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def assert_info_lists_every_cell(path: Path, capsys) -> str:
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    ds = stability.open_results(path).load()
    dims = [d for d in ds["n_runs"].dims]
    cells = [dict(zip(dims, combo, strict=True)) for combo in
             np.ndindex(*(ds.sizes[d] for d in dims))]
    for index in cells:
        c = ds.isel(index)
        tokens = [_show(c[d].values.item()) for d in dims]
        p, lo, hi = (float(c[v]) for v in ("p_hegemony", "p_hegemony_lo", "p_hegemony_hi"))
        want = f"{p:.4f} [{lo:.4f}, {hi:.4f}]"
        rows = [ln for ln in lines if ln.split()[:len(tokens)] == tokens and want in ln]
        assert len(rows) == 1, (tokens, want, text)
        row = rows[0].split()
        assert row[len(tokens)] == f"{int(c['n_runs']):,}"
        assert f"{float(c['mean_wars']):.2f}" in row and f"{float(c['mean_survivors']):.2f}" in row
    assert re.search(rf"\b{len(cells)} cells? \(", lines[0]), lines[0]
    assert ds.attrs["config_sha256"] in text and str(ds.attrs["seed"]) in text
    assert any(ln.split()[:2] == ["complete", "yes"] for ln in lines)
    return text


@pytest.mark.parametrize("ndims", [1, 2, 3])
def test_info_shows_every_cell(stores, ndims, capsys):
    assert_info_lists_every_cell(stores[ndims], capsys)


# ---- paired contrasts on a default experiment -------------------------------------------------

@pytest.fixture(scope="module")
def default_experiment(tmp_path_factory):
    """Default model parameters, 3 polarities x 2 doctrines, 4000 paired replicates per cell."""
    base = tmp_path_factory.mktemp("default")
    config = base / "default.toml"
    config.write_text(textwrap.dedent("""\
        [experiment]
        name = "default"
        replicates = 4_000
        seed = 20261125
        chunk = 1_000
        contrasts = ["doctrine"]

        [sweep]
        polarity = ["unipolar", "bipolar", "multipolar"]
        doctrine = ["defensive", "offensive"]

        [cluster]
        scheduler = "threads"
        workers = 2
        """))
    cfg = stability.load_config(config)
    assert cfg.model == {} and not cfg.randomize
    return stability.run(cfg, out=base / "default.zarr")


def test_paired_interval_is_narrower_on_a_default_experiment(default_experiment):
    """Common random numbers: replicate i starts from the same system and draws the same
    growth shocks under both doctrines, so its two outcomes are positively correlated (a
    system that starts lopsided tends to end in hegemony under either). Newcombe's paired
    interval subtracts 2 phi times the product of the margins' half-widths that the unpaired
    square-and-add interval keeps, so it is narrower exactly when the estimated correlation
    phi is positive; here phi is several standard errors above zero in every cell, so the
    narrowing is a property of the design, not of a lucky seed."""
    ds = default_experiment
    c = stability.contrast(ds, dim="doctrine", a="offensive", b="defensive")
    n = ds["n_runs"].sel(doctrine="offensive")
    assert (c["n_pairs"] == n).all() and (ds["n_runs"] == 4000).all()
    # Every replicate is in both cells: one point estimate, two intervals around it.
    np.testing.assert_allclose(c["difference"], c["unpaired_difference"], rtol=0, atol=1e-12)
    assert (c["paired_lo"] < c["difference"]).all() and (c["difference"] < c["paired_hi"]).all()

    paired = (c["paired_hi"] - c["paired_lo"]).values
    unpaired = (c["unpaired_hi"] - c["unpaired_lo"]).values
    assert (paired < unpaired).all(), (paired, unpaired)

    # The mechanism: fewer discordant replicates than independent samples would give, and a
    # correlation between the two doctrines' outcomes well clear of zero (sqrt(n) phi is
    # about standard normal if the outcomes were independent).
    joint = ds["joint_hegemony_doctrine"].sel(doctrine="offensive", doctrine_b="defensive")
    n11, n10, n01, n00 = (joint.sel(joint=j).values.astype(float)
                          for j in ("both", "a_only", "b_only", "neither"))
    pa, pb = c["p_a"].values, c["p_b"].values
    total = n11 + n10 + n01 + n00
    assert ((n10 + n01) < total * (pa * (1 - pb) + pb * (1 - pa))).all()
    phi = (n11 * n00 - n10 * n01) / np.sqrt((n11 + n10) * (n01 + n00) * (n11 + n01)
                                            * (n10 + n00))
    assert (np.sqrt(total) * phi > 3).all(), phi


# ---- historical scenarios -------------------------------------------------------------------

def test_historical_config_is_valid_and_sweeps_seven_years_by_doctrine(capsys):
    cfg = stability.load_config(HISTORICAL)
    assert cfg.sweep["scenario"] == YEARS
    assert cfg.sweep["doctrine"] == ("defensive", "offensive")
    assert cfg.experiment.contrasts == ["doctrine"]
    assert "n_states" not in cfg.model  # each year brings its own number of majors
    assert main(["validate", str(HISTORICAL)]) == 0
    out = capsys.readouterr().out
    assert "cells       14 = 7 scenario x 2 doctrine" in out
    for year in YEARS:
        assert f"{year}  offensive" in out


def test_years_that_start_at_hegemony_are_rejected(tmp_path, capsys):
    """In 1946 the USA holds over half of the majors' summed CINC (its share is 0.574)."""
    text = HISTORICAL.read_text().replace('"cow:1938", ', '"cow:1938", "cow:1946", ')
    config = tmp_path / "with1946.toml"
    config.write_text(text)
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    # One line naming the offending sweep value (the fifth year) and why.
    assert err.startswith("stability: error: sweep.scenario[4]: "), err
    assert "0.574" in err and "hegemony_threshold" in err and "\n" not in err


def test_historical_run_lists_the_years(tmp_path, capsys):
    """configs/historical.toml cut to two years, run through the command line."""
    years = ("cow:1914", "cow:1992")
    text, count = re.subn(r"(?m)^scenario = \[.*\]$", f"scenario = {_toml_list(years)}",
                          HISTORICAL.read_text())
    assert count == 1
    config = tmp_path / "historical2.toml"
    config.write_text(text)
    out = _run(config, tmp_path / "historical2.zarr", "--replicates", "100", "--chunk", "50",
               "--scheduler", "sync")
    ds = stability.open_results(out)
    assert ds["scenario"].values.tolist() == list(years)
    assert ds["doctrine"].values.tolist() == ["defensive", "offensive"]
    assert (ds["n_runs"] == 100).all()
    # 1914 has eight majors, 1992 seven: ranks run to the larger system, and nobody in 1992
    # holds rank 7.
    assert len(stability.load_scenario("cow:1914")) == 8
    assert len(stability.load_scenario("cow:1992")) == 7
    assert ds.sizes["rank"] == 8
    assert (ds["p_hegemon_rank"].sel(scenario="cow:1992", rank=7) == 0).all()
    # Every hegemon is one of the starting majors (no entry by default).
    total = ds["p_hegemon_rank"].sum("rank") + ds["p_hegemon_entrant"]
    np.testing.assert_allclose(total, ds["p_hegemony"], rtol=0, atol=1e-12)
    assert 'scenario = ["cow:1914", "cow:1992"]' in ds.attrs["config"]

    c = stability.contrast(ds, dim="doctrine", a="offensive", b="defensive")
    assert c["scenario"].values.tolist() == list(years) and (c["n_pairs"] == 100).all()

    text = assert_info_lists_every_cell(out, capsys)
    assert text.splitlines()[0].startswith("historical: 4 cells (2 scenario x 2 doctrine)")
    png = tmp_path / "historical2.png"
    assert main(["plot", str(out), "--out", str(png)]) == 0
    assert _png(png)[2] > 40_000
