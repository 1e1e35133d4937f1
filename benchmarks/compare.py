#!/usr/bin/env python
"""Before/after: the same kernel workload timed in two source trees, in one process.

    python benchmarks/compare.py OLD [NEW]       # trees: a directory holding a `stability`
                                                 # package, or a git revision; NEW defaults
                                                 # to this working tree
    python benchmarks/compare.py HEAD --rounds 60 --cells defensive/multipolar
    NUMBA_CPU_NAME=znver2 NUMBA_CPU_FEATURES=+avx2,... python benchmarks/compare.py HEAD
                                                 # both compiled for another target

Both trees' `stability` packages are copied under two other names and imported side by side
into one worker process (its own NUMBA_CACHE_DIR, pinned to one CPU, compiled before timing
starts). Each round runs the workload once with each tree, in the order OLD NEW, then NEW OLD,
and so on, and the result is the median over rounds of the paired ratio of their speeds, with
its quartiles. Two batches timed back to back on the same CPU see the same disturbances; an
earlier version of this script alternated two worker processes and kept each one's best time,
which on a virtual machine whose speed differs from one process to another, or from one CPU to
the other, read up to 25% apart for two copies of the same tree.

The workload is run_batch on the given cells (doctrine/polarity, n_states 8, the default horizon,
replicates 0..N-1), so records can change between trees (a changed random-variate scheme
changes them) while the comparison stays one of equal work: the table shows system-steps per
second (from each tree's best round) and says whether the records are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_WORKER = r"""
import importlib, json, os, sys, time
import numpy as np
if {cpu} >= 0:
    os.sched_setaffinity(0, {{{cpu}}})
sys.path.insert(0, {root!r})
cells, n, reps, rounds = {cells!r}, {n}, {reps}, {rounds}
trees = []
for name in ("stability_old", "stability_new"):
    P = importlib.import_module(name + ".params")
    S = importlib.import_module(name + ".model.simulate")
    assert S.__file__.startswith({root!r}), S.__file__
    trees.append((P, S))
rows = []
for d, pol in cells:
    resolved = [P.resolve({{"doctrine": d, "polarity": pol, "n_states": n}}) for P, _ in trees]
    work = [P.pack(q)[None, :] for q, (P, _) in zip(resolved, trees)]
    r = np.arange(reps)
    outs = [S.run_batch(v, 1, r, record_wars=True) for v, (_, S) in zip(work, trees)]
    same = all(np.array_equal(outs[0][k], outs[1][k]) for k in outs[0])
    # steps actually simulated: a run that reaches hegemony stops there, others at the horizon
    steps = [int(np.where(o["hegemony_time"] > 0, o["hegemony_time"], q["horizon"]).sum())
             for o, q in zip(outs, resolved)]
    times = [[], []]
    for k in range(rounds):
        for t in ((0, 1) if k % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            trees[t][1].run_batch(work[t], 1, r)
            times[t].append(time.perf_counter() - t0)
    rows.append({{"steps": steps, "times": times, "same": bool(same)}})
print(json.dumps(rows), flush=True)
"""


def checkout(rev: str, into: Path) -> Path:
    """The tree of git revision ``rev`` (its `stability` package) under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "stability"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def resolve_tree(spec: str, tmp: Path, name: str) -> Path:
    path = Path(spec)
    if (path / "stability" / "__init__.py").exists():
        return path.resolve()
    target = tmp / name
    target.mkdir()
    return checkout(spec, target)


def quartiles(values):
    """First quartile, median and third quartile, interpolated between order statistics (as
    numpy.percentile). Before 2026-12-02 this took the order statistics at n // 4, n // 2 and
    3n // 4: for an even number of rounds an upper median, by at most the gap between the two
    middle ratios (rows 13-16 of the optimisation log were measured so)."""
    v = sorted(values)
    if len(v) == 1:
        return v[0], v[0], v[0]
    q1, med, q3 = statistics.quantiles(v, n=4, method="inclusive")
    return q1, med, q3


def compare(old: str, new: str, cells, n=8, reps=100, rounds=30,
            cache: Path | None = None, cpu: int = 0) -> list[dict]:
    """Per cell: the median (and quartiles) over ``rounds`` of the paired speed ratio
    new / old, each tree's best system-steps per second, and whether the records are
    identical. ``cache``: a directory keeping the compiled kernels between calls (by the two
    trees' paths); ``cpu``: the CPU the worker is pinned to (negative: not pinned)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = {"old": resolve_tree(old, tmp, "old"), "new": resolve_tree(new, tmp, "new")}
        # the packages must have their own names to be imported side by side; the model's
        # modules import each other relatively, so a renamed copy is the same code
        pkgs = tmp / "pkgs"
        for k, tree in trees.items():
            shutil.copytree(tree / "stability", pkgs / f"stability_{k}",
                            ignore=shutil.ignore_patterns("__pycache__"))
        key = "_".join(str(t).replace("/", "_") for t in trees.values())
        env = {"NUMBA_CACHE_DIR": str(Path(cache) / key if cache else tmp / "cache"),
               "PATH": "/usr/bin:/bin"}
        # a compile target other than the host's (say, AVX2 on an AVX-512 machine) is passed on
        env.update({k: v for k, v in os.environ.items()
                    if k in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")})
        code = _WORKER.format(root=str(pkgs), cells=[tuple(c) for c in cells], n=n, reps=reps,
                              rounds=rounds, cpu=cpu)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, cwd=str(tmp))
        if done.returncode != 0:
            raise RuntimeError(f"compare worker failed:\n{done.stderr[-3000:]}")
        results = json.loads(done.stdout.strip().splitlines()[-1])
    rows = []
    for cell, res in zip(cells, results, strict=True):
        old_t, new_t = res["times"]
        q1, med, q3 = quartiles([o / w for o, w in zip(old_t, new_t, strict=True)])
        rows.append({"cell": "/".join(cell), "gain": med, "gain_q1": q1, "gain_q3": q3,
                     "old_steps_per_s": res["steps"][0] / min(old_t),
                     "new_steps_per_s": res["steps"][1] / min(new_t),
                     "identical": res["same"]})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(ROOT))
    ap.add_argument("--cells", nargs="*", default=["defensive/multipolar",
                                                   "offensive/multipolar"])
    ap.add_argument("--n-states", type=int, default=8)
    ap.add_argument("--replicates", type=int, default=100,
                    help="systems per timed batch (keep a batch short: tens of milliseconds)")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--cache", type=Path, help="keep compiled kernels here between runs")
    ap.add_argument("--cpu", type=int, default=0,
                    help="the CPU the worker is pinned to (-1: not pinned)")
    args = ap.parse_args(argv)
    cells = [tuple(c.split("/")) for c in args.cells]
    rows = compare(args.old, args.new, cells, args.n_states, args.replicates, args.rounds,
                   args.cache, args.cpu)
    print("| cell | old steps/s | new steps/s | gain (median of paired ratios) | quartiles "
          "| records |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r['cell']} | {r['old_steps_per_s'] / 1e6:.3f} M | "
              f"{r['new_steps_per_s'] / 1e6:.3f} M | {r['gain']:.3f}x | "
              f"{r['gain_q1']:.3f}-{r['gain_q3']:.3f} | "
              f"{'identical' if r['identical'] else 'differ'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
