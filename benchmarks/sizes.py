#!/usr/bin/env python
"""Kernel speed against system size: system-steps per second on one core at n_states 8 to
256, on the ring and with a full distance matrix, and the cost per state-pair-step.

    python benchmarks/sizes.py                       # n_states 8 32 64 128 256, 2 s a cell
    python benchmarks/sizes.py --n-states 8 256 --seconds 1 --out sizes.md

Each cell runs run_batch (one thread, so one core) on the default multipolar start of
n_states states under a doctrine preset, after a warm-up batch that compiles the kernel for
the cell's record (systems of more than 32 slots run the multi-word kernel, model/wide.py).
A system-step is one step of one system: a run that ends in hegemony at step t counts t. The
cost per state-pair-step is the time per system-step divided by n_states squared: the threat
and alignment passes and the target search are pairwise, so it should stay about flat as n
grows; a rise means a part that grows faster than n^2 (the defensive preset's anticipated
balancing looks at every bystander of every pair it evaluates, so it can reach n^3).
"ms / 200 steps" is the time of a run of 200 steps (the default horizon) at that size.

The distance matrix is that of n places drawn uniformly on the sphere (great-circle
distances), so the loss-of-strength gradient acts as it does on the ring but in two
dimensions; the timings measure the kernel, whatever the matrix.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stability import params as P  # noqa: E402
from stability.model.simulate import run_batch  # noqa: E402


def sphere_matrix(n: int, seed: int = 1) -> np.ndarray:
    """Great-circle distances (in circumferences) between n uniform points on the sphere."""
    v = np.random.default_rng(seed).standard_normal((n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    d = np.arccos(np.clip(v @ v.T, -1.0, 1.0)) / (2.0 * np.pi)
    d = np.minimum(d, d.T)
    np.fill_diagonal(d, 0.0)
    return d


def time_cell(n: int, doctrine: str, geography: str, seconds: float, seed: int = 1) -> dict:
    km = sphere_matrix(n) * P.EARTH_CIRCUMFERENCE_KM
    params = {"n_states": n, "doctrine": doctrine, "polarity": "multipolar"}
    dist = None
    v = P.pack(P.resolve(params))
    if geography == "distances":
        # the matrix goes straight to run_batch, as the experiment layer passes it (a
        # resolved 'distances' start would need it in a file)
        v[P.P_GEOGRAPHY] = P.GEO_DISTANCES
        dist = km / P.EARTH_CIRCUMFERENCE_KM
    v = v[None, :]
    run_batch(v, seed, np.arange(2), distances=dist)  # compile / warm
    reps, total_s, steps, start = 4, 0.0, 0, 0
    while total_s < seconds:
        r = np.arange(start, start + reps)
        t0 = time.thread_time()
        out = run_batch(v, seed, r, distances=dist)
        total_s += time.thread_time() - t0
        t_end = np.where(out["hegemony"], out["hegemony_time"], P.SPECS["horizon"].default)
        steps += int(t_end.sum())
        start += reps
        reps = min(reps * 2, 4096)
    per_step = total_s / steps
    return {"n": n, "doctrine": doctrine, "geography": geography, "systems": start,
            "steps_per_s": 1.0 / per_step, "ns_pair_step": per_step / (n * n) * 1e9,
            "ms_200": per_step * 200 * 1e3}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-states", type=int, nargs="*", default=[8, 32, 64, 128, 256])
    ap.add_argument("--doctrines", nargs="*", default=["defensive", "offensive"])
    ap.add_argument("--seconds", type=float, default=2.0, help="CPU time per cell")
    ap.add_argument("--out", type=Path, help="also write the table here")
    args = ap.parse_args(argv)
    lines = ["| n_states | doctrine | geography | systems | system-steps/s | ns / pair-step | "
             "ms / 200 steps |", "|---:|---|---|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for n in args.n_states:
        for doctrine in args.doctrines:
            for geography in ("ring", "distances"):
                c = time_cell(n, doctrine, geography, args.seconds)
                line = (f"| {n} | {doctrine} | {geography} | {c['systems']} | "
                        f"{c['steps_per_s']:,.0f} | {c['ns_pair_step']:.1f} | "
                        f"{c['ms_200']:.2f} |")
                lines.append(line)
                print(line, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
