#!/usr/bin/env python
"""ABC-SMC calibration benchmark: wall time and the share of it spent simulating.

    python benchmarks/calibrate.py [--population 1000] [--generations 8] [--runs 10]
                                   [--scheduler sync] [--out DIR]

Runs configs/calibration.toml (seven priors, fit to COW 1816-1913) with the given population
and generations and reports the wall time, the simulations, and (serial sampler only, where
the simulator's own clock is in this process) the fraction of the wall time inside the
simulator: the kernel plus the compiled pattern statistics. The target is population 1,000,
at least eight generations and six priors in under 30 minutes on 2 cores, with at least 90%
of the time in simulation.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--population", type=int, default=1000)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--scheduler", default="sync")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from stability.experiment.calibrate import calibrate, load_calibration, log_line

    cfg, cal = load_calibration(ROOT / "configs" / "calibration.toml")
    cal = dataclasses.replace(cal, population=args.population,
                              max_generations=args.generations, runs=args.runs,
                              max_simulations=10**9, predictive=10)
    cfg = cfg.with_overrides(scheduler=args.scheduler)
    out = (args.out or Path(tempfile.mkdtemp())) / "bench.zarr"
    t0 = time.perf_counter()
    ds = calibrate(cfg, cal, out=out, overwrite=True, log=log_line)
    wall = time.perf_counter() - t0
    sims = int(ds.simulations.sum())
    print(f"population {args.population}, {ds.sizes['generation']} generations, "
          f"{len(cfg.randomize)} priors, {args.runs} runs per particle, scheduler "
          f"{args.scheduler}: {wall:.0f} s wall, {sims:,} simulations "
          f"({wall / sims * 1e3:.1f} ms each)")
    if "simulation_seconds" in ds.attrs:
        print(f"in simulation: {ds.attrs['simulation_seconds'] / wall:.0%} of the wall time")


if __name__ == "__main__":
    main()
