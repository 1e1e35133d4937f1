"""The command line: exit codes, one-line errors, progress, and the four subcommands."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest

import stability
from stability.cli import _Progress, main

GOOD = """
[experiment]
name = "cli"
replicates = 40
seed = 3
chunk = 15

[model]
n_states = 5
horizon = 20

[sweep]
polarity = ["bipolar", "multipolar"]
doctrine = ["defensive", "offensive"]

[cluster]
scheduler = "sync"
"""


def _config(tmp_path, text=GOOD, name="c.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("stability: error: ") and "Traceback" not in err
    return lines[0]


# (replace this line of GOOD, with this, or append it; what the message must name)
MALFORMED = [
    ("replicates = 40", "replicates = -5", "experiment.replicates"),
    ("replicates = 40", "replicates = 4.5", "experiment.replicates"),
    ("replicates = 40", 'replicates = "forty"', "experiment.replicates"),
    ("seed = 3", "", "experiment.seed: required"),
    ("chunk = 15", "chunks = 15", "experiment.chunks: unknown key"),
    ("n_states = 5", "n_states = 1", "model.n_states"),
    ("horizon = 20", "horizon = 0", "model.horizon"),
    ("horizon = 20", "horizonn = 20", "model.horizonn"),
    ("horizon = 20", 'doctrine = "liberal"', "model.doctrine"),
    ('doctrine = ["defensive", "offensive"]', 'doctrine = ["defensive", "liberal"]',
     "sweep.doctrine[1]"),
    ('doctrine = ["defensive", "offensive"]', "doctrine = []", "sweep.doctrine: empty sweep"),
    ('doctrine = ["defensive", "offensive"]', "n_states = [4, 6]",
     "sweep.n_states: 'n_states' is both swept and fixed"),
    ('doctrine = ["defensive", "offensive"]', 'doctrine = "offensive"', "sweep.doctrine"),
    ('doctrine = ["defensive", "offensive"]', "growth_sd = [0.05, -0.1]", "sweep.growth_sd[1]"),
    ('scheduler = "sync"', 'scheduler = "mpi"', "cluster.scheduler"),
    ('scheduler = "sync"', "workers = 0", "cluster.workers"),
    (None, "[randomize]\ngrowth_sd = { uniform = [0.08, 0.02] }", "randomize.growth_sd.uniform"),
    (None, "[randomize]\ngrowth_sd = { normal = [0.05, 0.01] }", "randomize.growth_sd"),
    (None, "[randomize]\nwar_cost = { choice = [0.1, 1.0] }", "randomize.war_cost.choice[1]"),
    (None, "[randomize]\npolarity = { choice = [\"bipolar\"] }", "randomize.polarity"),
    (None, '[output]\npath = "results/x.csv"', "output.path"),
    (None, "[outputs]\npath = 1", "[outputs]: unknown section"),
    (None, "[model.extra]\nx = 1", "model.extra"),
    ("[sweep]", "[sweep", "invalid TOML"),
    ("n_states = 5", "n_states = 2", "sweep cell polarity='bipolar'"),
]


@pytest.mark.parametrize("old,new,text", MALFORMED, ids=[m[2] for m in MALFORMED])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_malformed_config_exits_2_naming_the_key(tmp_path, capsys, command, old, new, text):
    body = GOOD.replace(old, new) if old else GOOD + "\n" + new + "\n"
    path = _config(tmp_path, body)
    out = ["--out", str(tmp_path / "o.zarr")] if command == "run" else []
    assert main([command, str(path), *out]) == 2
    assert text in _error_line(capsys)
    assert not (tmp_path / "o.zarr").exists()


def test_missing_config_and_results(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: no such config file" in _error_line(capsys)
    assert main(["validate", str(tmp_path)]) == 2
    assert "is a directory" in _error_line(capsys)
    assert main(["info", str(tmp_path / "nope.zarr")]) == 2
    assert "RESULTS" in _error_line(capsys)
    assert main(["plot", str(tmp_path / "nope.zarr")]) == 2
    _error_line(capsys)


@pytest.mark.parametrize("argv,text", [
    (["run", "C", "--replicates", "0"], "--replicates"),
    (["run", "C", "--replicates", "ten"], "--replicates"),
    (["run", "C", "--seed", "-1"], "--seed"),
    (["run", "C", "--chunk", "1.5"], "--chunk"),
    (["run", "C", "--workers", "0"], "--workers"),
    (["run", "C", "--scheduler", "mpi"], "--scheduler"),
    (["run", "C", "--out", "x.csv"], "--out"),
    (["run", "C", "--resume", "--overwrite"], "--resume and --overwrite"),
    (["run", "C", "--bogus"], "--bogus"),
    (["run"], "CONFIG"),
    (["frobnicate"], "frobnicate"),
    ([], "COMMAND"),
])
def test_bad_flags_exit_2_naming_the_flag(tmp_path, capsys, argv, text):
    path = _config(tmp_path)
    argv = [str(path) if a == "C" else a for a in argv]
    assert main(argv) == 2
    assert text in _error_line(capsys)


def test_run_prints_the_table_and_refuses_to_overwrite(tmp_path, capsys):
    path, out = _config(tmp_path), tmp_path / "o.zarr"
    assert main(["run", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "P(hegemony)" in captured.out and "95% interval" in captured.out
    assert captured.out.count("[0.") + captured.out.count("[1.") >= 4  # one interval per cell
    assert "4/4" not in captured.out  # progress goes to stderr
    assert "tasks (100%)" in captured.err  # plain log lines: stderr is not a terminal here
    created = stability.open_results(out).attrs["created"]

    assert main(["run", str(path), "--out", str(out), "--seed", "4"]) == 2
    assert "--overwrite" in _error_line(capsys)
    assert stability.open_results(out).attrs["created"] == created  # the old one, intact

    assert main(["run", str(path), "--out", str(out), "--seed", "4", "--overwrite",
                 "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    assert int(stability.open_results(out).attrs["seed"]) == 4

    assert main(["run", str(path), "--out", str(out), "--seed", "4", "--resume",
                 "--quiet"]) == 0
    assert main(["run", str(path), "--out", str(out), "--resume"]) == 2
    assert "different experiment" in _error_line(capsys)


def test_failure_while_running_exits_1(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr("stability.model.simulate.run_batch", broken)
    argv = ["run", str(_config(tmp_path)), "--out", str(tmp_path / "o.zarr")]
    assert main([*argv, "--quiet"]) == 1
    assert "kernel exploded" in _error_line(capsys)
    assert main(argv) == 1  # after the progress lines, the error is the last line
    assert capsys.readouterr().err.splitlines()[-1].startswith("stability: error: RuntimeError")
    assert not (tmp_path / "o.zarr").exists()


def test_validate_prints_the_resolved_experiment(tmp_path, capsys):
    assert main(["validate", str(_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "cells       4 = 2 polarity x 2 doctrine" in out
    assert "tasks       12" in out and "40 per cell" in out
    assert "multipolar  offensive" in out and "[experiment]" in out


def test_info_and_plot(tmp_path, capsys):
    out = tmp_path / "o.nc"
    assert main(["run", str(_config(tmp_path)), "--out", str(out), "--quiet"]) == 0
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    for cell in ("bipolar", "multipolar"):
        assert cell in text
    assert stability.open_results(out).attrs["config_sha256"] in text
    png = tmp_path / "fig.png"
    assert main(["plot", str(out), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", str(out), "--out", str(tmp_path / "fig.docx")]) == 2
    assert "--out" in _error_line(capsys)


def test_console_script_has_no_traceback(tmp_path):
    bad = _config(tmp_path, GOOD.replace("seed = 3", "seed = -3"))
    proc = subprocess.run([sys.executable, "-m", "stability.cli", "run", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("stability: error: experiment.seed")
    assert "Traceback" not in proc.stderr and proc.stdout == ""


@pytest.mark.timeout(120)
def test_the_driver_of_a_local_run_never_imports_numba(tmp_path):
    """Only the workers run kernels. Importing Numba would cost the driver ~0.5 s before the
    cluster starts and ~0.2 s at exit, on every run."""
    cfg = _config(tmp_path, GOOD.replace('"sync"', '"local"\nworkers = 1'))
    code = ("import sys; from stability.cli import main; "
            f"rc = main(['run', {str(cfg)!r}, '--quiet', '--out', {str(tmp_path / 'o.zarr')!r}]); "
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] == 'numba')[:3])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=110)
    assert proc.stdout.split("\n")[-2] == "0 []", proc.stderr[-2000:]
    assert stability.open_results(tmp_path / "o.zarr")["n_runs"].sum() == 4 * 40


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    tty, log = _Terminal(), io.StringIO()
    for stream in (tty, log):
        show = _Progress(stream, every=3600)
        for done in range(5):
            show(done, 4)
    assert tty.getvalue().startswith("\r[") and tty.getvalue().endswith("4/4 tasks (100%), "
                                                                        "0:00 elapsed\x1b[K\n")
    lines = log.getvalue().splitlines()  # the first line and the last; none between
    assert lines == ["stability: 0/4 tasks (0%), 0:00 elapsed",
                     "stability: 4/4 tasks (100%), 0:00 elapsed"]


def test_progress_eta_leaves_out_the_start_up(monkeypatch):
    # 30 s of start-up (cluster, first compile), then a task a second: after 3 of 40 tasks,
    # about 37 s remain, not 37 x 11 s.
    import stability.cli as cli

    clock = iter([0.0, 0.0, 30.0, 31.0, 32.0])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    log = io.StringIO()
    show = _Progress(log, every=0)
    for done in range(4):
        show(done, 40)
    assert log.getvalue().splitlines()[-1] == "stability: 3/40 tasks (8%), 0:32 elapsed, eta 0:37"

