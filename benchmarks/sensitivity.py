"""What per-run records and a sensitivity study cost: writes benchmarks/SENSITIVITY.md.

    python benchmarks/sensitivity.py            # about 10 minutes on 2 cores
    python benchmarks/sensitivity.py --quick    # every section at small sizes, about 2 minutes

Targets (ratios and shares measured in one run, not timed tests):

1. per-run records cost at most 15% of throughput: the same `stability run` with and without
   `[output] runs = true`, in alternating rounds; the median of the paired ratios;
2. peak memory with records stays flat from 10^5 to 10^7 runs (records stream to the store);
3. configs/sensitivity.toml (a full Sobol study of every numeric prior, all cells, index
   computation included) runs in under 5 minutes on 2 cores, and the index computation takes
   under 10% of it.

Each run is a fresh `stability run` process on the local scheduler (2 workers), timed from
outside; peak memory is `getrusage(RUSAGE_CHILDREN).ru_maxrss`, the largest process of the
run's tree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

_CONFIG = """\
[experiment]
name = "records-benchmark"
replicates = {replicates}
seed = 20261208
chunk = {chunk}

[model]
n_states = 8
horizon = {horizon}

[sweep]
{sweep}

[output]
path = "{out}"
runs = {runs}

[cluster]
scheduler = "local"
"""

_MEASURE = """
import json, resource, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.run([sys.executable, "-c", "from stability.cli import console; console()",
                    "run", {config!r}, "--overwrite"] + {extra!r}, capture_output=True,
                   text=True)
wall = time.monotonic() - t0
if p.returncode:
    sys.stderr.write(p.stdout + p.stderr)
    sys.exit(1)
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"wall": wall, "maxrss_kib": use.ru_maxrss, "log": p.stderr}}))
"""


def stability_run(config: Path, extra: list[str] | None = None) -> dict:
    """One `stability run` in a fresh process tree: wall time, peak RSS, its log."""
    code = _MEASURE.format(config=str(config), extra=list(extra or []))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def write_config(tmp: Path, name: str, replicates: int, chunk: int, horizon: int, runs: bool,
                 sweep: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(_CONFIG.format(replicates=replicates, chunk=chunk, horizon=horizon,
                                   runs="true" if runs else "false", sweep=sweep,
                                   out=tmp / f"{name}.zarr"))
    return path


def overhead(tmp: Path, replicates: int, rounds: int) -> dict:
    """Wall time of the same runs without and with records, alternating, paired."""
    sweep = 'polarity = ["unipolar", "bipolar", "multipolar"]\ndoctrine = ["defensive", ' \
            '"offensive"]'
    chunk = max(1000, replicates // 20)
    plain = write_config(tmp, "plain", replicates, chunk, 200, False, sweep)
    kept = write_config(tmp, "kept", replicates, chunk, 200, True, sweep)
    stability_run(plain)  # warm the compile cache and the page cache
    times = {"plain": [], "kept": []}
    for k in range(rounds):
        order = (("plain", plain), ("kept", kept)) if k % 2 == 0 else \
            (("kept", kept), ("plain", plain))
        for name, cfg in order:
            times[name].append(stability_run(cfg)["wall"])
    ratio = np.asarray(times["kept"]) / np.asarray(times["plain"])
    q = np.percentile(ratio, [25, 50, 75])
    return {"runs": 6 * replicates, "rounds": rounds, "plain_s": times["plain"],
            "kept_s": times["kept"], "median": float(q[1]), "q1": float(q[0]),
            "q3": float(q[2])}


def memory(tmp: Path, sizes: list[int]) -> list[dict]:
    """Peak RSS of a run keeping records, against the number of runs (one cell, 10 steps:
    the records are as large as at any horizon, the kernel's time is not). The chunk is the
    same at every size: a task's records are held until written, so memory follows the
    chunk, and the question is whether it follows the number of runs."""
    rows = []
    for n in sizes:
        cfg = write_config(tmp, f"mem{n}", n, 50_000, 10, True, 'polarity = ["bipolar"]')
        r = stability_run(cfg)
        store = tmp / f"mem{n}.zarr"
        size = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
        rows.append({"runs": n, "wall_s": r["wall"], "maxrss_mib": r["maxrss_kib"] / 1024,
                     "store_mib": size / 2**20})
    return rows


def study(tmp: Path, quick: bool) -> dict:
    """configs/sensitivity.toml end to end, with the runner's own account of its stages."""
    cfg = ROOT / "configs" / "sensitivity.toml"
    extra = ["--out", str(tmp / "sensitivity.zarr")]
    if quick:  # the same study with a smaller design
        text = cfg.read_text().replace("samples = 512", "samples = 32").replace(
            "repeats = 8", "repeats = 2")
        cfg = tmp / "sensitivity-quick.toml"
        cfg.write_text(text)
    r = stability_run(cfg, extra)
    log = r["log"]
    computed = re.search(r"(\d+) task\(s\) computed in ([0-9.]+) s", log)
    indices = re.search(r"indices of .* computed in ([0-9.]+) s", log)
    runs = re.search(r"(\d+) cell\(s\) x ([0-9,]+) replicates", log)
    return {"wall_s": r["wall"], "tasks_s": float(computed.group(2)) if computed else None,
            "indices_s": float(indices.group(1)) if indices else None,
            "runs": int(runs.group(1)) * int(runs.group(2).replace(",", "")) if runs else None,
            "quick": quick}


def report(res: dict) -> str:
    o, mem, s = res["overhead"], res["memory"], res["study"]
    mem_ratio = mem[-1]["maxrss_mib"] / mem[0]["maxrss_mib"]
    lines = [
        "# Per-run records and sensitivity studies: what they cost", "",
        f"Written by `python benchmarks/sensitivity.py{' --quick' if res['quick'] else ''}` "
        f"on {res['machine']}, {res['cores']} cores, {res['date']}.", "",
        "| target | measured | verdict |", "|---|---|---|",
        f"| records cost at most 15% of throughput | {o['median'] - 1:+.1%} (median of "
        f"{o['rounds']} paired rounds; quartiles {o['q1'] - 1:+.1%} to {o['q3'] - 1:+.1%}) | "
        f"{'PASS' if o['median'] <= 1.15 else 'MISS'} |",
        f"| peak memory flat from {mem[0]['runs']:.0e} to {mem[-1]['runs']:.0e} runs | "
        f"{mem_ratio:.2f}x | {'PASS' if mem_ratio <= 1.2 else 'MISS'} |",
        f"| configs/sensitivity.toml in under 5 minutes on 2 cores | {s['wall_s']:.0f} s "
        f"({s['runs']:,} runs{', quick design' if s['quick'] else ''}) | "
        f"{'n/a' if s['quick'] else ('PASS' if s['wall_s'] < 300 else 'MISS')} |",
        f"| index computation under 10% of the study | {s['indices_s'] / s['wall_s']:.1%} "
        f"({s['indices_s']:.1f} s) | {'PASS' if s['indices_s'] < 0.1 * s['wall_s'] else 'MISS'}"
        " |", "",
        "## Records against no records", "",
        f"{o['runs']:,} runs (6 cells, n_states 8, horizon 200) per `stability run`, with and "
        "without `[output] runs = true`, alternating:", "",
        "| round | without s | with s | ratio |", "|---:|---:|---:|---:|"]
    for k, (a, b) in enumerate(zip(o["plain_s"], o["kept_s"], strict=True)):
        lines.append(f"| {k + 1} | {a:.1f} | {b:.1f} | {b / a:.3f} |")
    lines += ["", "## Peak memory with records", "",
              "| runs | wall s | peak RSS MiB | store MiB |", "|---:|---:|---:|---:|"]
    for m in mem:
        lines.append(f"| {m['runs']:,} | {m['wall_s']:.1f} | {m['maxrss_mib']:.0f} | "
                     f"{m['store_mib']:.1f} |")
    lines += ["", "## The shipped study", "",
              f"`stability run configs/sensitivity.toml`: {s['wall_s']:.1f} s in all, of which "
              f"{s['tasks_s']:.1f} s running the tasks and {s['indices_s']:.1f} s computing the "
              "Sobol indices (SALib, bootstrap); the rest is start-up (workers, the compile "
              "cache) and writing the store with its records.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, about 2 minutes")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("SENSITIVITY.md"))
    args = ap.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    res = {"quick": args.quick, "machine": platform.processor() or platform.machine(),
           "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    with tempfile.TemporaryDirectory(prefix="stability-records-") as d:
        tmp = Path(d)
        res["overhead"] = overhead(tmp, 5_000 if args.quick else 50_000,
                                   2 if args.quick else 5)
        res["memory"] = memory(tmp, [100_000, 300_000] if args.quick
                               else [100_000, 1_000_000, 10_000_000])
        res["study"] = study(tmp, args.quick)
    text = report(res)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
