#!/usr/bin/env python
"""Line-level profile of the compiled step loop (Linux, needs `perf` and `objdump`).

    python benchmarks/profile.py                       # defensive multipolar, n_states 8
    python benchmarks/profile.py --doctrine offensive --systems 100000 --top 50

How: the kernel is compiled afresh with NUMBA_DEBUGINFO=1 in a child process run under
`perf record`; the child saves the object code of ``run_system`` (every phase is inlined
into it) and its address; the samples that fall inside it are mapped to source lines with
`objdump -l`. Numba labels inlined code with the caller's file name but the callee's line
numbers, so each line number is shown with the source lines it may be (phases.py first,
then rng.py and start.py). This is how the hot spots in benchmarks/RESULTS.md were found.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "stability" / "model"


def child(args, out: Path) -> None:
    import numpy as np

    from stability import params as P
    from stability.model import simulate as S

    v = P.pack(P.resolve({"doctrine": args.doctrine, "polarity": args.polarity,
                          "n_states": args.n_states}))[None, :]
    S.run_batch(v, 1, np.arange(2))
    meta = []
    for k, cres in enumerate(S.run_system.overloads.values()):
        obj = out / f"run_system{k}.o"
        obj.write_bytes(cres.library._get_compiled_object())
        name = cres.fndesc.llvm_func_name
        meta.append({"object": str(obj), "name": name,
                     "address": cres.library.get_pointer_to_function(name)})
    (out / "meta.json").write_text(json.dumps(meta))
    time.sleep(0.2)
    S.run_batch(v, 1, np.arange(args.systems))


def lines_of(obj: str, name: str) -> tuple[dict, int]:
    """Offset -> source line for function ``name`` in the object file; and its size."""
    size = 0
    for line in subprocess.run(["objdump", "-t", obj], capture_output=True,
                               text=True).stdout.splitlines():
        if line.endswith(" " + name):
            size = int(line.split()[-2], 16)
    dis = subprocess.run(["objdump", "-d", "-l", "--no-show-raw-insn", obj],
                         capture_output=True, text=True).stdout
    table, inside, where = {}, False, None
    for line in dis.splitlines():
        if re.match(r"^[0-9a-f]+ <", line):
            inside = line.split("<", 1)[1].rstrip(">:") == name
            continue
        m = re.match(r"^(/\S+):(\d+)", line)
        if m:
            where = int(m.group(2))
        m = re.match(r"^\s+([0-9a-f]+):", line)
        if inside and m and where is not None:
            table[int(m.group(1), 16)] = where
    return table, size


def report(data: Path, meta: list, top: int) -> None:
    ips = [int(x, 16) for x in subprocess.run(["perf", "script", "-i", str(data), "-F", "ip"],
                                              capture_output=True, text=True).stdout.split()]
    sources = {f: (MODEL / f).read_text().splitlines()
               for f in ("phases.py", "rng.py", "start.py", "simulate.py")}
    total = len(ips)
    for m in meta:
        table, size = lines_of(m["object"], m["name"])
        offsets = sorted(table)
        counts = collections.Counter()
        for ip in ips:
            off = ip - m["address"]
            if 0 <= off < size:
                k = bisect.bisect_right(offsets, off) - 1
                counts[table[offsets[k]] if k >= 0 else 0] += 1
        inside = sum(counts.values())
        if not inside:
            continue
        print(f"run_system: {inside} of {total} samples ({inside / total:.0%}; the rest is "
              "Python, compilation and libm)\n")
        for line, c in counts.most_common(top):
            texts = [f"{f[:-3]}: {src[line - 1].strip()[:70]}" for f, src in sources.items()
                     if 0 < line <= len(src) and src[line - 1].strip()]
            print(f"{c:7d} {100 * c / inside:5.1f}%  line {line:4d}  " + " | ".join(texts[:2]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--doctrine", default="defensive")
    ap.add_argument("--polarity", default="multipolar")
    ap.add_argument("--n-states", type=int, default=8)
    ap.add_argument("--systems", type=int, default=60_000)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args, args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "NUMBA_DEBUGINFO": "1", "NUMBA_CACHE_DIR": str(tmp / "cache")}
        cmd = ["perf", "record", "-q", "-F", "4000", "-o", str(tmp / "perf.data"),
               sys.executable, __file__, "--child", str(tmp), "--doctrine", args.doctrine,
               "--polarity", args.polarity, "--n-states", str(args.n_states),
               "--systems", str(args.systems)]
        subprocess.run(cmd, env=env, check=True, cwd=str(ROOT))
        report(tmp / "perf.data", json.loads((tmp / "meta.json").read_text()), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
