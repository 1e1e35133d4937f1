"""The benchmark suite's code paths at trivial sizes, so that it cannot rot. No timings are
checked: the targets are reported by `python benchmarks/run.py`, never asserted."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    if name not in sys.stdlib_module_names:
        # under its own name, as run.py imports it: Numba's compile cache records the module
        # that compiled a function, and an entry written under another name fails to load
        # there (ModuleNotFoundError) when the cache outlives the process
        return importlib.import_module(name)
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
    # the kernel / yardstick ratio is reported in section 3, not judged as a target
    assert "yardstick" not in text.split("## Targets")[1].split("## 1.")[0]
    # the optimisation log is linked, not copied in
    assert "(optimisations.md)" in text and "| # | change |" not in text
    assert all(r["identical"] for r in res["reference"])
    assert {r["doctrine"] for r in res["yardstick"]} == {"defensive", "offensive"}
    assert len(res["throughput"]) == len(run.SMOKE.n_states) * 6
    # kernel in processes, in threads, and the yardstick's control in the kernel's processes
    assert [r["mode"].split()[0] for r in res["scaling"]] == ["processes", "threads", "control:"]
    assert "The kernel's speed-up over the control's" in text
    # section 8 compiles from an empty cache: the step loop, most of the first compile's time,
    # is compiled once (a literal argument once made Numba compile a second, unused copy: the
    # first compile took 80-87 s instead of 44-53 s)
    assert res["jit"]["cold_run_system_compiles"] == 1
    # nor is any kernel compiled for a literal argument beside its int64 copy (set_decay was)
    assert res["jit"]["cold_literal_compiles"] == []
    assert "## 8. Compile time" in text
    if run.experiment_layer():
        assert res["end_to_end"]["systems"] == 6 * run.SMOKE.e2e_replicates
        assert [m["replicates"] for m in res["memory"]] == list(run.SMOKE.memory_replicates)


def test_yardstick_counts_draws():
    yardstick = _load("yardstick")
    c = yardstick.count_draws({"doctrine": "offensive", "polarity": "bipolar",
                               "horizon": 20}, 2)
    assert c["steps"] > 0 and c["uniform"] > 0 and c["normal"] > 0
    assert yardstick.yardstick(8, 2, 10, c["uniform"], c["normal"], 1) > 0


def test_yardstick_counts_only_the_orders_the_kernel_draws():
    """With no revisionists under the defensive preset nobody may start a war, so the kernel
    draws no war order; the count must leave out every word of that sub-stream (told apart
    here by the stream's counter, independently of how count_draws finds them). Alliances are
    off, so that no alignment order (skipped when at most one state is threatened) enters."""
    from stability import params as P
    from stability import reference

    yardstick = _load("yardstick")
    params = {"doctrine": "defensive", "polarity": "multipolar", "revisionist_share": 0.0,
              "alliances": False, "horizon": 30}
    counted = yardstick.count_draws(params, 3)
    words = {"all": 0, "normal": 0, "war order": 0}

    class Counting(reference.Stream):
        def word(self):
            words["all"] += 1
            words["war order"] += (self.counter >> 27) & 31 == reference.WAR_ORDER
            return super().word()

        def normal(self):
            words["normal"] += 1
            return super().normal()

    original, reference.Stream = reference.Stream, Counting
    try:
        q = P.resolve(params)
        steps = 0
        for rep in range(3):
            out = reference.run_one(q, 1, rep)
            steps += out["hegemony_time"] if out["hegemony_time"] > 0 else q["horizon"]
    finally:
        reference.Stream = original
    assert words["war order"] > 0  # the reference does draw them
    assert counted["steps"] == steps
    assert counted["uniform"] * steps == pytest.approx(
        words["all"] - words["normal"] - words["war order"], abs=1e-6)


def _yardstick_in_python(n, systems, steps, uniforms, normals, seed):
    """The yardstick's stated work, written plainly on the reference's stream: per step the
    draws (fractional counts met on average), then each state's largest threat
    T_ij = S_j g_j d_ij over j != i, its lowest slot on ties, and the threat test."""
    import math

    from stability.reference import Stream

    check = 0.0
    for sys_ in range(systems):
        rng = Stream(seed, sys_)
        rng.phase(0, 1)
        x, g = [], []
        for _ in range(n):
            x.append(rng.uniform())
            g.append(2.0 if rng.uniform() < 0.25 else 1.0)
        s = [1.0 / n] * n
        dec = [[math.exp(-min(abs(a - b), 1.0 - abs(a - b)) / 0.25) for b in x] for a in x]
        du = dn = 0.0
        for t in range(1, steps + 1):
            rng.phase(t, 2)
            du += uniforms
            while du >= 1.0:
                check += rng.uniform()
                du -= 1.0
            rng.phase(t, 3)
            dn += normals
            k = 0
            while dn >= 1.0:
                s[k] = s[k] * (1.0 + 0.01 * rng.normal())
                k = (k + 1) % n
                dn -= 1.0
            hit = 0
            for i in range(n):
                threats = [s[j] * g[j] * dec[j][i] for j in range(n)]
                best = max(threats[j] for j in range(n) if j != i)
                slot = min(j for j in range(n) if j != i and threats[j] == best)
                hit += (1 + slot) if best >= s[i] else 0
            check += hit
    return check


def test_yardstick_does_its_stated_work():
    """The compiled yardstick (vectorised threat pass, draws from a local counter) computes
    exactly what its plain statement does: same draws, same largest threats and slots."""
    yardstick = _load("yardstick")
    for args in ((8, 3, 40, 38.6, 23.1, 1), (5, 2, 30, 3.3, 7.7, 2), (16, 2, 20, 10.0, 5.0, 3)):
        assert yardstick.yardstick(*args) == _yardstick_in_python(*args)


def test_profile_maps_padded_lines_back(tmp_path):
    """The profiler's padded copy of the model names one file per line number, and maps each
    back to the original file's line."""
    profile = _load("profile")
    model = profile.padded_copy(tmp_path / "src") / "stability" / "model"
    original = Path(profile.ROOT) / "stability" / "model"
    for name, needle in (("phases.py", "def threat("), ("rng.py", "def mix64("),
                         ("start.py", "def draw_start("), ("bits.py", "def choose("),
                         ("simulate.py", "def run_system(")):
        orig_line = next(k for k, t in enumerate(original.joinpath(name).read_text()
                                                 .splitlines(), 1) if t.startswith(needle))
        padded_line = next(k for k, t in enumerate(model.joinpath(name).read_text()
                                                   .splitlines(), 1) if t.startswith(needle))
        file, line, text = profile.source_of(padded_line, model)
        assert (file, line) == (name, orig_line) and text.startswith(needle)
        if name != "simulate.py":
            assert padded_line > profile.PAD[name]  # the line number alone names the file
    assert profile.short_name("_ZN9stability5model6phases11resolve_warB4v12B3abcE5Array") \
        == "resolve_war"


def test_profile_phase_probes_leave_the_step_loop_intact(tmp_path):
    """The --phases copy cuts the step loop after each phase call and changes nothing else:
    without its probe lines, its simulate.py is the original, and each interval is labelled
    with the phase it times."""
    import ast

    profile = _load("profile")
    labels = profile.probed_copy(tmp_path / "src")
    assert labels == ["probe (one reading)", "start (set-up and starting system)", "growth",
                      "threat", "mobilise", "other", "align", "war",
                      "other", "entry", "other",  # record_shares' branches (pruned when off)
                      "hegemon"]
    probed = (tmp_path / "src" / "stability" / "model" / "simulate.py").read_text()
    ast.parse(probed)
    original = (Path(profile.ROOT) / "stability" / "model" / "simulate.py").read_text()
    marker = "from .start import classify, draw_start\n"
    assert marker + profile._TSC_SOURCE in probed  # the counter's source, as one block
    kept = [line for line in probed.replace(profile._TSC_SOURCE, "", 1).splitlines()
            if not re.match(r"\s*(_[st][01] = _tsc\(\)|_t0 = _t1|(sy|system\[0\])\.probe\[)",
                            line)
            and line != f'    ("probe", np.int64, ({profile.PROBES},)),']
    assert kept == original.splitlines()
    # every probe adds to its own interval: the start's before the loop, then the loop's in
    # the labels' order
    slots = [int(k) for k in re.findall(r"\.probe\[(\d+)\]", probed)]
    assert slots == [1, 0] + list(range(2, len(labels)))


def test_profile_reads_callgrind_positions(tmp_path):
    """Relative positions accumulate; the cost line after calls= (a callee's inclusive cost)
    is not the caller's own."""
    profile = _load("profile")
    out = tmp_path / "cg.out"
    out.write_text("positions: instr line\nevents: Ir Bc Bcm\nfn=(1) f\n"
                   "0x1000 10 5 1 1\n+4 * 3\ncalls=1 0x2000 20\n+2 * 999\n-6 11 2 0 0\n")
    hits, events = profile.callgrind_hits(out)
    assert events == ["Ir", "Bc", "Bcm"]
    assert hits == {0x1000: [7, 1, 1], 0x1004: [3, 0, 0]}


def test_compare_quartiles_interpolate_as_numpy():
    """compare.py's median and quartiles of the paired ratios are numpy.percentile's (an
    even number of rounds has no middle ratio: the median lies between the two)."""
    import numpy as np

    compare = _load("compare")
    for values in ([1.0], [1.0, 2.0], [3.0, 1.0, 2.0, 5.0],
                   list(np.random.default_rng(1).random(30))):
        assert np.allclose(compare.quartiles(values), np.percentile(values, [25, 50, 75]))


def test_sizes_benchmark_runs(tmp_path):
    sizes = _load("sizes")
    out = tmp_path / "sizes.md"
    assert sizes.main(["--n-states", "8", "40", "--doctrines", "offensive", "--seconds", "0.01",
                       "--out", str(out)]) == 0
    rows = [r for r in out.read_text().splitlines() if r.startswith("| 8 ") or
            r.startswith("| 40 ")]
    assert [r.split("|")[3].strip() for r in rows] == ["ring", "distances"] * 2
