#!/usr/bin/env python
"""Line-level profile of the compiled step loop (x86-64 Linux; needs `objdump`, and `perf` or
`valgrind`).

    python benchmarks/profile.py                       # perf samples, defensive multipolar
    python benchmarks/profile.py --doctrine offensive --systems 100000 --top 50
    python benchmarks/profile.py --callgrind           # exact counts per line (slow: ~50x)

Two ways to look at the same code:

- perf (default): where the *time* goes. A child process run under `perf record`; samples
  are counted per source line.
- ``--callgrind``: exact *instruction* counts per system-step and per source line, with the
  conditional branches and the mispredictions of valgrind's simulated predictor (a simple
  model, not this CPU's). The kernel is compiled for AVX2 (valgrind does not decode
  AVX-512) in a first, native run that fills a private compile cache; the run under valgrind
  loads it, so nothing is compiled under the simulator. Useful where, as on virtual machines,
  perf has no hardware counters: the two views together tell whether a change that saves
  instructions or branches can save time (benchmarks/optimisations.md, fifth session).

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

    q = P.resolve({"doctrine": args.doctrine, "polarity": args.polarity,
                   "n_states": args.n_states})
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
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.systems is None:
        args.systems = 300 if args.callgrind else 60_000
    if args.child:
        child(args, args.child)
        return 0
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
