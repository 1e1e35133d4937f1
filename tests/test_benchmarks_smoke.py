"""The benchmark suite's code paths at trivial sizes, so that it cannot rot. No timings are
checked: the targets are reported by `python benchmarks/run.py`, never asserted."""

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_benchmark_suite_runs(tmp_path):
    run = _load("run")
    out = tmp_path / "RESULTS.md"
    res = run.run_all(run.SMOKE, out, log=lambda *_: None)
    text = out.read_text()
    assert "## Targets" in text and "## 1. Kernel throughput" in text
    assert all(r["identical"] for r in res["reference"])
    assert {r["doctrine"] for r in res["yardstick"]} == {"defensive", "offensive"}
    assert len(res["throughput"]) == len(run.SMOKE.n_states) * 6
    if run.experiment_layer():
        assert res["end_to_end"]["systems"] == 6 * run.SMOKE.e2e_replicates
        assert [m["replicates"] for m in res["memory"]] == list(run.SMOKE.memory_replicates)


def test_yardstick_counts_draws():
    yardstick = _load("yardstick")
    c = yardstick.count_draws({"doctrine": "offensive", "polarity": "bipolar",
                               "horizon": 20}, 2)
    assert c["steps"] > 0 and c["uniform"] > 0 and c["normal"] > 0
    assert yardstick.yardstick(8, 2, 10, c["uniform"], c["normal"], 1) > 0
