"""The ``stability`` command line: run, validate, info, plot.

Exit codes: 0 success; 2 bad input (config, flags, paths), reported as one line
``stability: error: ...`` naming the key or flag; 1 a failure while running; 130 interrupted.
Set STABILITY_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import os
import signal
import sys
import time
from pathlib import Path

PROG = "stability"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump: exit 2 is handled in main
        raise _UsageError(message)


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63), got {text!r}") \
            from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63), got {text!r}")
    return value


def _running_args(sub: argparse.ArgumentParser, resume: str) -> None:
    """The options `run` and `calibrate` share: where the work runs, and what to do with an
    existing output."""
    sub.add_argument("--scheduler", metavar="NAME",
                     help="sync | threads | local | tcp://HOST:PORT | slurm | pbs")
    sub.add_argument("--workers", type=_positive, metavar="N",
                     help="worker processes/threads")
    sub.add_argument("--resume", action="store_true", help=resume)
    sub.add_argument("--overwrite", action="store_true", help="replace an existing output")
    sub.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Monte Carlo estimates of the probability of hegemony "
                "in balance-of-power systems.")
    from stability import __version__

    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    r = sub.add_parser("run", help="run an experiment config and write its results")
    r.add_argument("config", metavar="CONFIG", help="experiment config (TOML)")
    r.add_argument("--out", metavar="PATH", help="results store (.zarr or .nc)")
    r.add_argument("--replicates", type=_positive, metavar="N", help="replicates per cell")
    r.add_argument("--seed", type=_seed, metavar="S", help="experiment seed")
    r.add_argument("--chunk", type=_positive, metavar="N", help="replicates per task")
    _running_args(r, resume="continue an existing output")

    v = sub.add_parser("validate", help="check a config and print the resolved experiment")
    v.add_argument("config", metavar="CONFIG")

    i = sub.add_parser("info", help="summarise a results store")
    i.add_argument("results", metavar="RESULTS")

    c = sub.add_parser("calibrate", help="fit priors to the COW record by ABC-SMC and write "
                       "a posterior store")
    c.add_argument("config", metavar="CONFIG", help="calibration config (TOML)")
    c.add_argument("--out", metavar="PATH", help="posterior store (.zarr)")
    _running_args(c, resume="continue a killed calibration")

    pl = sub.add_parser("plot", help="plot a results store")
    pl.add_argument("results", metavar="RESULTS")
    pl.add_argument("--out", metavar="FILE.png", help="image file (default: RESULTS.png)")
    pl.add_argument("--what", choices=("results", "sensitivity"), default=None,
                    help="P(hegemony) and its dynamics, or a sensitivity study's ranked "
                         "indices (the default where the store has them)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        return _fail(2, str(exc))
    from stability.experiment.config import ConfigError

    handler = {"run": _run, "validate": _validate, "info": _info, "plot": _plot,
               "calibrate": _calibrate}[args.command]
    previous = _on_sigterm()
    try:
        return handler(args)
    except KeyboardInterrupt:
        return _fail(130, "interrupted" + _resume_hint(args))
    except _Terminated:
        return _fail(143, "terminated (SIGTERM)" + _resume_hint(args))
    except ConfigError as exc:
        if os.environ.get("STABILITY_DEBUG"):
            raise
        return _fail(2, str(exc))
    except Exception as exc:
        if os.environ.get("STABILITY_DEBUG"):
            raise
        return _fail(1, f"{type(exc).__name__}: {exc}")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(BaseException):
    """SIGTERM (a batch job's walltime or pre-emption, scancel): stop like Ctrl-C does."""


def _on_sigterm():
    # Raising in the main thread unwinds the run: a jobqueue cluster cancels its worker jobs
    # and the output is left as checkpoints for --resume, not as a traceback.
    def handler(signum, frame):
        raise _Terminated()

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (main() called from a thread)
        return None


def _fail(code: int, message: str) -> int:
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"{PROG}: error: {line}", file=sys.stderr)
    return code


def _load(args):
    from stability.experiment.config import load_config

    cfg = load_config(args.config)
    overrides = {k: getattr(args, k, None) for k in
                 ("replicates", "seed", "chunk", "out", "scheduler", "workers")}
    return cfg.with_overrides(label=lambda k: f"--{k}", **overrides)


# ---- run ------------------------------------------------------------------------------------
def _run(args) -> int:
    from stability.experiment.runner import check_target, run

    cfg = _load(args)
    if args.resume and args.overwrite:
        raise _config_error("--resume and --overwrite exclude each other")
    finished = check_target(cfg, overwrite=args.overwrite, resume=args.resume)  # before output
    progress = None if args.quiet else _Progress(sys.stderr)
    if not args.quiet and finished is None:
        print(f"{PROG}: {cfg.experiment.name}: {cfg.n_cells} cell(s) x "
              f"{cfg.experiment.replicates:,} replicates in {cfg.n_tasks} task(s), scheduler "
              f"{cfg.cluster.scheduler} -> {cfg.output_path}", file=sys.stderr)
    if not args.quiet and finished is not None:
        print(f"{PROG}: {cfg.output_path} is already complete; nothing to resume",
              file=sys.stderr)
    args.partial = f"{cfg.output_path}.partial"
    ds = finished if finished is not None else run(
        cfg, overwrite=args.overwrite, resume=args.resume, progress=progress,
        log=None if args.quiet else _log)
    if not args.quiet:
        print(_probability_table(ds))
        print(f"\nwritten to {cfg.output_path}  (stability info {cfg.output_path})")
    return 0


def _resume_hint(args) -> str:
    partial = getattr(args, "partial", None)
    if partial is None or not Path(partial).exists():
        return ""
    return (f"; finished tasks are kept in {partial}: continue with `{PROG} run {args.config} "
            "--resume` (and the same flags)")


def _log(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _config_error(message: str):
    from stability.experiment.config import ConfigError

    return ConfigError(message)


class _Progress:
    """A bar on a terminal; a plain line every ``every`` seconds otherwise (batch logs)."""

    def __init__(self, stream, every: float = 30.0, width: int = 30):
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every
        self.width = width
        self.start = time.monotonic()
        self.last = -math.inf
        self.first: int | None = None  # tasks already done at the start (a resumed run)
        # The rate is measured from the first task completed here on: the time before it is
        # start-up (cluster, worker imports, a first compile of ~30 s), not a task's cost.
        self.warm: tuple[float, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        elapsed = now - self.start
        if self.first is None:
            self.first = done
        if self.warm is None and done > self.first:
            self.warm = (now, done)
        frac = done / total if total else 1.0
        rate = 0.0
        if self.warm is not None and done - self.warm[1] >= 2 and now > self.warm[0]:
            rate = (done - self.warm[1]) / (now - self.warm[0])
        eta = f", eta {_clock((total - done) / rate)}" if rate > 0 and done < total else ""
        text = f"{done}/{total} tasks ({frac:.0%}), {_clock(elapsed)} elapsed{eta}"
        if self.tty:
            if done < total and now - self.last < 0.1:  # redraw at most ten times a second
                return
            self.last = now
            fill = round(self.width * frac)
            bar = "#" * fill + "-" * (self.width - fill)
            self.stream.write(f"\r[{bar}] {text}\033[K")
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif done == total or now - self.last >= self.every:
            self.last = now
            self.stream.write(f"{PROG}: {text}\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _sweep_dims(ds) -> list[str]:
    return [d for d in ds["n_runs"].dims]


def _cells(ds):
    dims = _sweep_dims(ds)
    for values in itertools.product(*(ds[d].values.tolist() for d in dims)):
        yield dict(zip(dims, values, strict=True))


def _show(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _table(rows: list[list[str]], right: list[bool]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if ra else c.ljust(w)
                               for c, w, ra in zip(row, widths, right, strict=True)).rstrip()
                     for row in rows)


def _probability_table(ds) -> str:
    dims = _sweep_dims(ds)
    data = ds[["n_runs", "p_hegemony", "p_hegemony_lo", "p_hegemony_hi"]].load()
    rows = [dims + ["runs", "P(hegemony)", "95% interval"]]
    for cell in _cells(ds):
        c = data.sel(cell)
        rows.append([_show(v) for v in cell.values()] + [
            f"{int(c.n_runs):,}", f"{float(c.p_hegemony):.4f}",
            f"[{float(c.p_hegemony_lo):.4f}, {float(c.p_hegemony_hi):.4f}]"])
    return _table(rows, [False] * len(dims) + [True] * 3)


# ---- validate -------------------------------------------------------------------------------
def _validate(args) -> int:
    from stability.experiment.store import output_format

    cfg = _load(args)
    e = cfg.experiment
    per_cell = -(-e.replicates // e.chunk)
    lines = [
        f"config      {args.config}: valid",
        f"experiment  {e.name}  (config sha256 {cfg.sha256[:16]})",
        f"seed        {e.seed}",
        f"replicates  {e.replicates:,} per cell, {e.chunk:,} per task "
        f"({per_cell} task(s) per cell group)",
        f"cells       {cfg.n_cells}"
        + (" = " + " x ".join(f"{len(v)} {d}" for d, v in cfg.sweep.items()) if cfg.sweep
           else " (no sweep)"),
        f"tasks       {cfg.n_tasks}" + (f" (cells differing in {', '.join(e.contrasts)} run "
                                        "together)" if e.contrasts else ""),
        f"runs        {cfg.n_cells * e.replicates:,} in all",
    ]
    if cfg.randomize:
        lines.append("randomize   " + "; ".join(
            (f"{n} ~ posterior {d.source} ({len(d.args)} samples, joint)"
             if d.kind == "posterior" else
             f"{n} ~ {d.kind}{list(d.args)}" + (f" clipped to {list(d.clip)}" if d.clip else ""))
            for n, d in cfg.randomize.items()))
    sens = cfg.sensitivity
    if sens is not None:
        from stability.experiment.config import _design_text

        lines.append(f"sensitivity {sens.method} over {len(cfg.randomize)} parameter(s), "
                     f"outputs {', '.join(sens.outputs)}: {e.replicates:,} runs per cell "
                     f"({_design_text(sens, len(cfg.randomize))})")
    if cfg.records:
        lines.append("records     one per run (stability.open_runs)")
    lines.append(f"output      {cfg.output_path} ({output_format(cfg.output_path)})"
                 + ("  [exists]" if cfg.output_path.exists() else ""))
    workers = cfg.cluster.workers
    lines.append(f"scheduler   {cfg.cluster.scheduler}"
                 + (f", {workers} worker(s)" if workers else ""))
    script = _job_script(cfg)
    if cfg.sweep:
        lines += ["", "cells:"]
        rows = [["#"] + list(cfg.dims)]
        for k, cell in enumerate(cfg.cells()):
            if k == 50:
                rows.append(["...", f"and {cfg.n_cells - 50} more"] + [""] * (len(cfg.dims) - 1))
                break
            rows.append([str(k)] + [_show(v) for v in cell.values()])
        lines.append(_table(rows, [True] + [False] * len(cfg.dims)))
    lines += ["", "resolved config:", cfg.to_toml(full=True)]
    if script:
        lines += script
    print("\n".join(lines))
    return 0


def _job_script(cfg) -> list[str]:
    """For slurm/pbs: the worker job script dask-jobqueue would submit (ConfigError if the
    [cluster] options cannot work)."""
    from stability.experiment.cluster import JOBQUEUE, job_script, job_spec, machine_problems
    from stability.experiment.runner import job_name

    if cfg.cluster.scheduler not in JOBQUEUE:
        return []
    spec = job_spec(cfg.cluster)
    script = job_script(cfg.cluster, job_name(cfg))
    # Valid, but not runnable from here (a laptop, not the login node): say so, still exit 0.
    notes = [f"note: `stability run` here would stop: {p}" for p in machine_problems(cfg.cluster)]
    return [f"worker job script ({spec.jobs} job(s) of {spec.processes} worker process(es) x "
            f"{spec.threads} thread(s), submitted with {spec.submit_command}; workers retire "
            f"after {_clock(spec.lifetime)} +- {_clock(spec.stagger)} and are replaced):",
            script.rstrip(), ""] + notes


# ---- info and plot --------------------------------------------------------------------------
def _open(path: str):
    from stability.experiment.store import open_results

    try:
        return open_results(path, partial=True)
    except (FileNotFoundError, ValueError) as exc:
        raise _config_error(f"RESULTS: {exc}") from None


def _calibrate(args) -> int:
    from stability.experiment.calibrate import calibrate, load_calibration, log_line

    cfg, cal = load_calibration(args.config)
    cfg = cfg.with_overrides(label=lambda k: f"--{k}", scheduler=args.scheduler,
                             workers=args.workers, out=args.out)
    ds = calibrate(cfg, cal, resume=args.resume, overwrite=args.overwrite,
                   log=None if args.quiet else log_line)
    if not args.quiet:
        from stability.analysis.posterior import describe

        print(describe(ds), end="")
        print(f"\nwritten to {cfg.output_path}  (stability info {cfg.output_path})")
    return 0


def _posterior(path: str):
    from stability.analysis.posterior import is_posterior, open_posterior

    return open_posterior(path) if is_posterior(path) else None


def _info(args) -> int:
    post = _posterior(args.results)
    if post is not None:
        from stability.analysis.posterior import describe

        print(describe(post), end="")
        return 0
    ds = _open(args.results)
    if importlib.util.find_spec("stability.analysis.summary") is not None:
        from stability.analysis.summary import describe

        print(describe(ds), end="")
        return 0
    complete = str(ds.attrs.get("complete", 1)) in ("1", "True", "true")
    print(_probability_table(ds))
    print()
    for key in ("name", "config_sha256", "seed", "stability_version", "model_version",
                "numba_version", "created"):
        print(f"{key:18s}{ds.attrs.get(key, 'unknown')}")
    print(f"{'complete':18s}{'yes' if complete else 'NO'}")
    return 0


def _plot(args) -> int:
    post = _posterior(args.results)
    ds = post if post is not None else _open(args.results)
    out = Path(args.out) if args.out else Path(str(args.results).rstrip("/\\")).with_suffix(
        ".png")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    kinds = Figure().canvas.get_supported_filetypes()
    if out.suffix.lstrip(".").lower() not in kinds:
        raise _config_error(f"--out: {out} must end in one of "
                            + ", ".join(f".{k}" for k in sorted(kinds)))
    if not out.parent.is_dir():
        raise _config_error(f"--out: directory {out.parent} does not exist")
    from stability.experiment.indices import RANKED_BY

    has_indices = any(v in ds for v in RANKED_BY.values())
    what = args.what or ("sensitivity" if has_indices else "results")
    if post is not None:
        from stability.analysis.posterior import plot_posterior

        fig = plot_posterior(ds)
    elif what == "sensitivity":
        if not has_indices:
            raise _config_error(f"--what sensitivity: {args.results} holds no sensitivity "
                                "indices (a config with [sensitivity] writes them)")
        from stability.analysis.sensitivity import plot_indices

        fig = plot_indices(ds)
    else:
        from stability.analysis.plot import plot_results

        fig = plot_results(ds)
    fig.savefig(out, dpi=150)
    print(f"wrote {out}")
    return 0


def console() -> None:
    """The ``stability`` command: :func:`main`, then exit. The process is done, so Python's
    final garbage collections over everything the imports created (0.6 s after a run) are
    skipped (stability.experiment.cluster.exit_without_collecting)."""
    code = main()
    from stability.experiment.cluster import exit_without_collecting

    exit_without_collecting()
    sys.exit(code)


if __name__ == "__main__":
    console()
