#!/usr/bin/env python
"""Before/after: the same kernel workload timed in two source trees, side by side.

    python benchmarks/compare.py OLD [NEW]       # trees: a directory holding a `stability`
                                                 # package, or a git revision; NEW defaults
                                                 # to this working tree
    python benchmarks/compare.py HEAD --rounds 15 --cells defensive/multipolar

Each tree gets a long-lived worker process (its own NUMBA_CACHE_DIR, compiled before timing
starts). The driver then asks them in turn, OLD, NEW, OLD, NEW, ..., to run the workload once,
and keeps each one's best time: on a shared machine, alternating short runs sees both trees
under the same disturbances. The workload is run_batch on the given cells (doctrine/polarity,
n_states 8, horizon 200, replicates 0..N-1), so records can change between trees (a changed
random-variate scheme changes them) while the comparison stays one of equal work: the table
shows system-steps per second, which is what the optimisation log in RESULTS.md quotes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_WORKER = r"""
import json, sys, time
sys.path.insert(0, {tree!r})
import numpy as np
import stability
assert stability.__file__.startswith({tree!r}), stability.__file__
from stability import params as P
from stability.model.simulate import run_batch
cells = {cells!r}
vs = [P.pack(P.resolve({{"doctrine": d, "polarity": p, "n_states": {n}}}))[None, :]
      for d, p in cells]
reps = np.arange({reps})
for v in vs:
    run_batch(v, 1, reps[:5])
print("ready", flush=True)
for line in sys.stdin:
    out = []
    for v in vs:
        t0 = time.perf_counter()
        o = run_batch(v, 1, reps)
        dt = time.perf_counter() - t0
        t = o["hegemony_time"]
        out.append([dt, int(np.where(t > 0, t, 200).sum())])
    print(json.dumps(out), flush=True)
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


def start(tree: Path, cells, n, reps, cache: Path):
    code = _WORKER.format(tree=str(tree), cells=cells, n=n, reps=reps)
    env = {"NUMBA_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env, cwd=str(tree))


def ready(proc, tree):
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"worker for {tree} failed")


def ask(proc):
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def compare(old: str, new: str, cells, n=8, reps=1000, rounds=10,
            cache: Path | None = None) -> list[dict]:
    """Best-of-``rounds`` system-steps per second of each tree on each cell. ``cache``: a
    directory keeping each tree's compiled kernels between calls (by the tree's path)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trees = {"old": resolve_tree(old, tmp, "old"), "new": resolve_tree(new, tmp, "new")}
        root = Path(cache) if cache else tmp

        def cache_dir(tree):
            return root / ("cache" + str(tree).replace("/", "_"))

        procs = {k: start(t, cells, n, reps, cache_dir(t)) for k, t in trees.items()}
        for k, proc in procs.items():
            ready(proc, trees[k])
        best = {k: [float("inf")] * len(cells) for k in procs}
        steps = {}
        try:
            for _ in range(rounds):
                for k, proc in procs.items():
                    for c, (dt, s) in enumerate(ask(proc)):
                        best[k][c] = min(best[k][c], dt)
                        steps[k, c] = s
        finally:
            for proc in procs.values():
                proc.stdin.close()
                proc.wait()
    rows = []
    for c, cell in enumerate(cells):
        old_rate = steps["old", c] / best["old"][c]
        new_rate = steps["new", c] / best["new"][c]
        rows.append({"cell": "/".join(cell), "old_steps_per_s": old_rate,
                     "new_steps_per_s": new_rate, "gain": new_rate / old_rate,
                     "old_us_per_system": best["old"][c] / reps * 1e6,
                     "new_us_per_system": best["new"][c] / reps * 1e6})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(ROOT))
    ap.add_argument("--cells", nargs="*", default=["defensive/multipolar",
                                                   "offensive/multipolar"])
    ap.add_argument("--n-states", type=int, default=8)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--cache", type=Path, help="keep compiled kernels here between runs")
    args = ap.parse_args(argv)
    cells = [tuple(c.split("/")) for c in args.cells]
    rows = compare(args.old, args.new, cells, args.n_states, args.replicates, args.rounds,
                   args.cache)
    print("| cell | old steps/s | new steps/s | old µs/system | new µs/system | gain |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['cell']} | {r['old_steps_per_s'] / 1e6:.3f} M | "
              f"{r['new_steps_per_s'] / 1e6:.3f} M | {r['old_us_per_system']:.1f} | "
              f"{r['new_us_per_system']:.1f} | {r['gain']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
