#!/usr/bin/env python
"""Line-level profile of the compiled step loop (x86-64 Linux; needs `objdump`, and `perf` or
`valgrind`).

    python benchmarks/profile.py                       # perf samples, defensive multipolar
    python benchmarks/profile.py --doctrine offensive --systems 100000 --top 50
    python benchmarks/profile.py --callgrind           # exact counts per line (slow: ~50x)
    python benchmarks/profile.py --phases              # time per phase of the step (any x86-64)

Two ways to look at the same code:

- perf (default): where the *time* goes. A child process run under `perf record`; samples
  are counted per source line.
- ``--phases``: where the time goes *per phase* of the step (growth, threat, alignment, war...),
  read from the CPU's time-stamp counter between the step loop's statements in a copy of the
  package, less the cost of a reading itself (measured by an empty interval in every step).
  Coarser than a line profile but free of its skid: a sample lands on the instruction that
  waited, often lines after the one that caused the wait, so lines of one phase can be
  charged with another's cost. The probes cost some overlap between phases, so their sum
  exceeds the unprobed step's time (both are shown). Needs no perf or valgrind.
- ``--callgrind``: exact *instruction* counts per system-step and per source line, with the
  conditional branches and the mispredictions of valgrind's simulated predictor (a simple
  model, not this CPU's). The kernel is compiled for AVX2 (valgrind does not decode
  AVX-512) in a first, native run that fills a private compile cache; the run under valgrind
  loads it, so nothing is compiled under the simulator. Useful where, as on virtual machines,
  perf has no hardware counters: the two views together tell whether a change that saves
  instructions or branches can save time (benchmarks/optimisations.md, "Where the time goes").

How: the kernels are compiled afresh with NUMBA_DEBUGINFO=1 from a copy of the package whose
model files are padded with comment lines (rng.py from line 1001, start.py from 2001,
bits.py from 3001, libm.py from 4001, phases.py from 5001). Numba labels code inlined into
``run_system`` with the caller's file name but the callee's line numbers; the padding makes
each line number name one file. The child saves the object code and load address of
``run_system``'s library and of the batch kernel's (which links in its own copy of
``run_system`` and everything it calls: that copy runs when the kernels come from the compile
cache); the hits inside them are mapped to source lines with `objdump -l`. This is how the
hot spots in benchmarks/RESULTS.md were found.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# In the padded copy, each model file's code starts after this line number (simulate.py is
# not padded: everything is inlined into it, and its own lines come first).
PAD = {"rng.py": 1000, "start.py": 2000, "bits.py": 3000, "libm.py": 4000, "phases.py": 5000}
# valgrind cannot run AVX-512 code: the callgrind mode compiles for this AVX2 machine model.
VALGRIND_CPU = {
    "NUMBA_CPU_NAME": "znver2",
    "NUMBA_CPU_FEATURES": "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+lzcnt,"
                          "+movbe,+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+sahf,+fxsr,"
                          "+mmx,+xsave",
}


def padded_copy(dest: Path) -> Path:
    """A copy of the package with the model files padded (see the module doc)."""
    shutil.copytree(ROOT / "stability", dest / "stability",
                    ignore=shutil.ignore_patterns("__pycache__"))
    marker = "from __future__ import annotations\n"
    for name, pad in PAD.items():
        path = dest / "stability" / "model" / name
        text = path.read_text()
        cut = text.index(marker) + len(marker)
        lines_before = text[:cut].count("\n")
        path.write_text(text[:cut] + "#\n" * (pad - lines_before) + text[cut:])
    return dest


# The time-stamp counter, for the --phases copy of simulate.py (LLVM's readcyclecounter: rdtsc
# on x86-64, which counts at a fixed rate, not the core's clock).
_TSC_SOURCE = """
from llvmlite import ir as _ir
from numba import types as _types
from numba.extending import intrinsic as _intrinsic


@_intrinsic
def _tsc(typingctx):
    def codegen(context, builder, signature, args):
        fnty = _ir.FunctionType(_ir.IntType(64), [])
        return builder.call(builder.module.declare_intrinsic("llvm.readcyclecounter",
                                                             fnty=fnty), [])
    return _types.int64(), codegen


@njit
def tsc_now():
    return _tsc()
"""
PROBES = 16  # intervals a step loop may be cut into (the probe field's length)


def cell(args) -> dict:
    """The profiled cell's resolved parameters (stability must be importable)."""
    from stability import params as P

    return P.resolve({"doctrine": args.doctrine, "polarity": args.polarity,
                      "n_states": args.n_states})


def probed_copy(dest: Path) -> list[str]:
    """A copy of the package whose ``run_system`` reads the time-stamp counter on entry, before
    the step loop, and in the loop before its first statement and after each one, adding each
    interval to a ``probe`` field of the system's record, plus one empty interval per step (the
    cost of a reading). Returns the intervals' labels: the start, then the phase a statement of
    the loop calls, "other" for the rest."""
    shutil.copytree(ROOT / "stability", dest / "stability",
                    ignore=shutil.ignore_patterns("__pycache__"))
    path = dest / "stability" / "model" / "simulate.py"
    lines = path.read_text().split("\n")
    entry = lines.index("    sy = system[0]")  # run_system's first statement
    head = lines.index("    for t in range(1, horizon + 1):")
    end = head + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" " * 8)):
        end += 1
    statements, depth = [], 0  # the loop body's statements, as lists of lines
    for line in lines[head + 1:end]:
        if depth == 0 and line.startswith(" " * 8) and not line.startswith(" " * 9):
            statements.append([])
        statements[-1].append(line)
        depth += line.count("(") + line.count("[") - line.count(")") - line.count("]")
    labels = ["probe (one reading)", "start (set-up and starting system)"]
    body = ["        _t0 = _tsc()", "        _t1 = _tsc()", "        sy.probe[0] += _t1 - _t0",
            "        _t0 = _t1"]
    for st in statements:
        if any(re.search(r"\b(break|return|continue)\b", line) for line in st):
            body += st  # leaves the loop: its own cost (one compare) goes untimed
            continue
        m = re.search(r"\bph\.(\w+)\(", "\n".join(st))
        labels.append(m.group(1) if m else "other")
        body += st + ["        _t1 = _tsc()", f"        sy.probe[{len(labels) - 1}] += _t1 - _t0",
                      "        _t0 = _t1"]
    if len(labels) > PROBES:
        raise RuntimeError(f"the step loop has {len(labels)} intervals, more than {PROBES}")
    text = "\n".join(lines[:entry] + ["    _s0 = _tsc()"] + lines[entry:head]
                     + ["    system[0].probe[1] += _tsc() - _s0"] + lines[head:head + 1] + body
                     + lines[end:])
    field = '    ("counts", np.int64, (ph.NC,)),\n'
    if field not in text:
        raise RuntimeError("simulate.SYSTEM has no counts field to put the probe field after")
    text = text.replace(field, field + f'    ("probe", np.int64, ({PROBES},)),\n')
    marker = "from .start import classify, draw_start\n"
    path.write_text(text.replace(marker, marker + _TSC_SOURCE))
    return labels


def phases_child(args, out: Path) -> None:
    """Run the probed step loop (run_system, one replicate per call from Python: the probes
    time the compiled code only) and save the probes' sums, the steps, the time-stamp
    counter's rate and the records."""
    import numpy as np
    from run import system_steps  # benchmarks/run.py (this script's folder is on sys.path)

    from stability import params as P
    from stability.model import simulate as S
    from stability.model.rng import stream_key

    q = cell(args)
    p = P.pack(q)
    system = np.zeros(1, dtype=S.SYSTEM)
    scratch = np.zeros(S.SMALL_SLOTS + 1)
    perm = np.zeros(S.SMALL_SLOTS, dtype=np.int64)
    dist = np.zeros((1, 1))  # the ring: the matrix is not read
    sizes, runs = np.zeros(0), np.zeros(0, dtype=np.int64)
    ints = np.zeros((args.systems, len(S.INT_RECORDS)), dtype=np.int64)
    S.run_system(p, np.uint64(stream_key(1, 0)), system, dist, sizes, runs, 0, np.int64(0),
                 scratch, perm, ints[0], None, None)  # compiles (None: no shares recorded)
    system["probe"] = 0
    t0, c0 = time.perf_counter(), S.tsc_now()
    for rep in range(args.systems):
        S.run_system(p, np.uint64(stream_key(1, rep)), system, dist, sizes, runs, rep,
                     np.int64(0), scratch, perm, ints[rep], None, None)
    wall, ticks = time.perf_counter() - t0, S.tsc_now() - c0
    recs = {"hegemony_time": ints[:, S.K_TIME]}
    np.save(out / "records.npy", ints)
    (out / "phases.json").write_text(json.dumps({
        "probe": system[0]["probe"].tolist(), "steps": int(system_steps(recs, q["horizon"])),
        "ticks_per_s": ticks / wall}))


def unprobed(args) -> tuple:
    """The same systems through this tree's own batch kernel (its usual compile cache): ns per
    system-step without probes, start included (best of 3), and the integer records."""
    import numpy as np
    from run import system_steps

    sys.path.insert(0, str(ROOT))
    from stability import params as P
    from stability.model.simulate import INT_RECORDS, run_batch

    q = cell(args)
    v = P.pack(q)[None, :]
    run_batch(v, 1, np.arange(1))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        recs = run_batch(v, 1, np.arange(args.systems))
        best = min(best, time.perf_counter() - t0)
    ints = np.stack([recs[name] for name in INT_RECORDS], axis=1).astype(np.int64)
    return 1e9 * best / system_steps(recs, q["horizon"]), ints


def phases_report(labels: list[str], child_out: dict, plain_ns: float, same: bool) -> None:
    probe, steps = child_out["probe"], child_out["steps"]
    ns = 1e9 / child_out["ticks_per_s"]  # one time-stamp tick in ns
    reading = probe[0] / steps  # ticks of one empty interval per step
    rows: dict[str, float] = {}
    for k, name in enumerate(labels[1:], start=1):
        once = k == 1  # the start: one reading per system, not per step; left in (small)
        rows[name] = rows.get(name, 0.0) + max(probe[k] / steps - (0 if once else reading), 0)
    total = sum(rows.values())
    print(f"{steps:,} system-steps; time-stamp counter at {child_out['ticks_per_s'] / 1e9:.2f} "
          f"GHz; one reading {reading * ns:.0f} ns, subtracted from every interval\n")
    print("  ns/step  share  phase")
    for name, v in sorted(rows.items(), key=lambda kv: -kv[1]):
        print(f"{v * ns:9.0f} {100 * v / total:5.1f}%  {name}")
    print(f"{total * ns:9.0f}         sum of the phases (probed)")
    print(f"{plain_ns:9.0f}         the same systems unprobed (batch kernel), whose records "
          f"{'are identical' if same else 'DIFFER: the probed copy is broken'}")


def source_of(line: int, model: Path) -> tuple[str, int, str]:
    """(file, line in the original file, its text) for a line number of the padded copy."""
    name = "simulate.py"
    for n, first in sorted(PAD.items(), key=lambda kv: kv[1]):
        if line > first:
            name = n
    padded = (model / name).read_text().splitlines()
    text = padded[line - 1].strip() if 0 < line <= len(padded) else ""
    original = (ROOT / "stability" / "model" / name).read_text().splitlines()
    return name, line - (len(padded) - len(original)), text  # less the padding's length


def short_name(symbol: str) -> str:
    """The function's own name from a mangled Numba symbol (_ZN9stability5model...)."""
    m = re.match(r"_ZN((?:\d+)\D.*)", symbol)
    if not m:
        return symbol
    rest, names = m.group(1), []
    while rest[:1].isdigit():
        n = int(re.match(r"\d+", rest).group())
        digits = len(str(n))
        names.append(rest[digits:digits + n])
        rest = rest[digits + n:]
    if len(names) >= 3 and names[-1] == "impl":  # an @overload's implementation
        return f"{names[-3]} (an overload)"
    return names[-1] if names else symbol


def child(args, out: Path) -> None:
    import numpy as np
    from run import system_steps  # benchmarks/run.py (this script's folder is on sys.path)

    from stability import params as P
    from stability.model import simulate as S

    q = cell(args)
    v = P.pack(q)[None, :]
    warm = S.run_batch(v, 1, np.arange(1))
    meta = []
    # The step loop runs from run_system's own library when it was compiled in this process,
    # and from the copy linked into _run_batch's when that was loaded from the cache.
    compiled = [(f"run_system{k}", c) for k, c in enumerate(S.run_system.overloads.values())]
    compiled += [(f"run_batch{k}", c) for k, c in enumerate(S._run_batch.overloads.values())]
    for what, cres in compiled:
        obj = out / f"{what}.o"
        try:
            obj.write_bytes(cres.library._get_compiled_object())
        except RuntimeError:
            pass  # loaded from the compile cache: the preparing run saved the same object
        name = cres.fndesc.llvm_func_name
        meta.append({"object": str(obj), "name": name,
                     "address": cres.library.get_pointer_to_function(name)})
    (out / "meta.json").write_text(json.dumps(meta))
    time.sleep(0.2)
    o = S.run_batch(v, 1, np.arange(1, 1 + args.systems))
    steps = sum(system_steps(rec, q["horizon"]) for rec in (warm, o))
    (out / "steps.txt").write_text(str(steps))


def object_map(obj: str, entry: str, address: int):
    """Load address -> (function, source line) for the object's code, given the address the
    entry symbol was loaded at. Returns (sorted addresses, their labels, end address)."""
    symbols = []
    for line in subprocess.run(["objdump", "-t", obj], capture_output=True,
                               text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 5 and "F" in parts and any(p.endswith("text") for p in parts):
            symbols.append((int(parts[0], 16), int(parts[-2], 16), parts[-1]))
    offset = {name: off for off, _, name in symbols}
    base = address - offset[entry]
    symbols.sort()
    starts = [off for off, _, _ in symbols]
    dis = subprocess.run(["objdump", "-d", "-l", "--no-show-raw-insn", obj],
                         capture_output=True, text=True).stdout
    table, where = {}, None
    for line in dis.splitlines():
        m = re.match(r"^(/\S+):(\d+)", line)
        if m:
            where = int(m.group(2))
        m = re.match(r"^\s+([0-9a-f]+):", line)
        if m:
            off = int(m.group(1), 16)
            k = bisect.bisect_right(starts, off) - 1
            fn = short_name(symbols[k][2]) if k >= 0 else "?"
            table[base + off] = (fn, where if fn == "run_system" else None)
    addrs = sorted(table)
    end = base + max(o + s for o, s, _ in symbols)
    return addrs, [table[a] for a in addrs], end


def attribute(hits, maps):
    """Sum the cost vectors of ``hits`` (address -> list of counts) per (function, line);
    also the first count's total inside the kernels."""
    out: dict = {}
    inside = 0
    for addrs, labels, end in maps:
        for ip, cost in hits.items():
            if addrs[0] <= ip < end:
                acc = out.setdefault(labels[bisect.bisect_right(addrs, ip) - 1], [0] * len(cost))
                for n, c in enumerate(cost):
                    acc[n] += c
                inside += cost[0]
    return out, inside


def label(key, model: Path) -> str:
    fn, line = key
    if line is None:
        return f"{fn} (called from the step loop)"
    name, real, text = source_of(line, model)
    return f"{name}:{real}  {text[:70]}"


def perf_hits(data: Path) -> dict:
    ips = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip"], capture_output=True,
                         text=True).stdout.split()
    hits = collections.Counter(int(x, 16) for x in ips)
    return {ip: [c] for ip, c in hits.items()}


def callgrind_hits(path: Path) -> tuple[dict, list]:
    """Self cost per instruction address from a callgrind file written with --dump-instr=yes
    (positions may be relative to the previous line; a cost line after calls= is the callee's
    inclusive cost and is skipped)."""
    hits = collections.defaultdict(lambda: [0, 0, 0])
    events, addr, skip = [], 0, False
    for line in path.open():
        c = line[:1]
        if c in "0123456789+-*":
            parts = line.split()
            tok = parts[0]
            addr = addr if tok == "*" else addr + int(tok, 0) if tok[0] in "+-" else int(tok, 0)
            if skip:
                skip = False
                continue
            cost = hits[addr]
            for k, name in enumerate(("Ir", "Bc", "Bcm")):
                if name in events and events.index(name) + 2 < len(parts):
                    cost[k] += int(parts[events.index(name) + 2])
        elif line.startswith("calls="):
            skip = True
        elif line.startswith("events:"):
            events = line.split()[1:]
    return dict(hits), events


def report(hits: dict, work: Path, top: int, callgrind: bool) -> None:
    meta = json.loads((work / "meta.json").read_text())
    maps = [object_map(m["object"], m["name"], m["address"]) for m in meta]
    model = work / "src" / "stability" / "model"
    per_line, inside = attribute(hits, maps)
    total = sum(c[0] for c in hits.values())
    if not callgrind:
        print(f"batch kernel: {inside} of {total} samples ({inside / max(total, 1):.0%}; the "
              "rest is Python, compilation and libm)\n")
        for key, c in sorted(per_line.items(), key=lambda kv: -kv[1][0])[:top]:
            print(f"{c[0]:7d} {100 * c[0] / inside:5.1f}%  {label(key, model)}")
        return
    steps = int((work / "steps.txt").read_text())
    sums = [sum(c[k] for c in per_line.values()) for k in range(3)]
    print(f"batch kernel, per system-step ({steps} steps; compiled code only, libm excluded): "
          f"{sums[0] / steps:.0f} instructions, {sums[1] / steps:.0f} conditional branches, "
          f"{sums[2] / steps:.1f} mispredicted by valgrind's simulated predictor\n")
    print("  instr  %instr  branches  mispred  line")
    for key, c in sorted(per_line.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"{c[0] / steps:7.1f} {100 * c[0] / sums[0]:6.1f}% {c[1] / steps:9.1f} "
              f"{c[2] / steps:8.2f}  {label(key, model)}")


def phases(args) -> int:
    """The --phases mode: a probed copy, run in a child process with its own compile cache."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        labels = probed_copy(work / "src")
        env = {**os.environ, "NUMBA_CACHE_DIR": str(work / "cache"),
               "PYTHONPATH": str(work / "src")}
        subprocess.run([sys.executable, __file__, "--child", str(work), "--phases",
                        "--doctrine", args.doctrine, "--polarity", args.polarity,
                        "--n-states", str(args.n_states), "--systems", str(args.systems)],
                       env=env, check=True, cwd=tmp)
        out = json.loads((work / "phases.json").read_text())
        probed_records = np.load(work / "records.npy")
    plain_ns, records = unprobed(args)
    same = bool(np.array_equal(probed_records, records))
    phases_report(labels, out, plain_ns, same)
    return 0 if same else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--doctrine", default="defensive")
    ap.add_argument("--polarity", default="multipolar")
    ap.add_argument("--n-states", type=int, default=8)
    ap.add_argument("--systems", type=int, default=None,
                    help="systems to profile (default 60,000 for perf, 300 for callgrind)")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--callgrind", action="store_true",
                    help="exact instruction and branch counts under valgrind instead of perf")
    ap.add_argument("--phases", action="store_true",
                    help="time per phase of the step from the time-stamp counter (x86-64)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.systems is None:
        args.systems = 300 if args.callgrind else 20_000 if args.phases else 60_000
    if args.child:
        (phases_child if args.phases else child)(args, args.child)
        return 0
    if args.phases:
        return phases(args)
    tool = "valgrind" if args.callgrind else "perf"
    if shutil.which(tool) is None or shutil.which("objdump") is None:
        print(f"profile.py: needs `{tool}` and `objdump` on PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = padded_copy(work / "src")
        env = {**os.environ, "NUMBA_DEBUGINFO": "1", "NUMBA_CACHE_DIR": str(work / "cache"),
               "PYTHONPATH": str(src)}
        run = [sys.executable, __file__, "--child", str(work), "--doctrine", args.doctrine,
               "--polarity", args.polarity, "--n-states", str(args.n_states)]
        if args.callgrind:
            env.update(VALGRIND_CPU)
            # compile natively first (minutes under valgrind), then profile from the cache
            subprocess.run(run + ["--systems", "1"], env=env, check=True, cwd=tmp)
            out = work / "callgrind.out"
            subprocess.run(["valgrind", "--tool=callgrind", "--dump-instr=yes",
                            "--branch-sim=yes", f"--callgrind-out-file={out}", "-q",
                            *run, "--systems", str(args.systems)],
                           env=env, check=True, cwd=tmp)
            hits, _ = callgrind_hits(out)
        else:
            data = work / "perf.data"
            subprocess.run(["perf", "record", "-q", "-F", "4000", "-o", str(data), *run,
                            "--systems", str(args.systems)], env=env, check=True, cwd=tmp)
            hits = perf_hits(data)
        report(hits, work, args.top, args.callgrind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
