#!/usr/bin/env python
"""The figure of docs/calibration.md, section 5: P(hegemony within t years) from the 2016
majors and from random uni-, bi- and multipolar systems, each doctrine with the parameters
fitted under its own rules, against the uncalibrated defaults.

    stability calibrate configs/calibration.toml --scheduler sync
    stability calibrate configs/calibration_offensive.toml --scheduler sync
    stability run configs/calibrated.toml
    stability run configs/calibrated_cow2016.toml
    stability run configs/calibrated_offensive.toml
    stability run configs/calibrated_offensive_cow2016.toml
    python docs/figures/calibrated_answers.py          # writes calibrated-answers.png here
                                                       # and prints the table of section 5

The defaults are the same experiments without ``[randomize]`` (same seeds), run here into a
temporary directory. Bands: 95% Wilson intervals of each year's fraction of runs in
hegemony (the Monte Carlo error of a posterior-predictive probability).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import stability  # noqa: E402
from stability.analysis.stats import wilson_interval  # noqa: E402
from stability.experiment.config import parse_config, tomllib  # noqa: E402

# (config, doctrine): the cells each config gives for that doctrine
RUNS = {
    "defensive": ("calibrated.toml", "calibrated_cow2016.toml"),
    "offensive": ("calibrated_offensive.toml", "calibrated_offensive_cow2016.toml"),
}
STARTS = ("cow:2016", "unipolar", "bipolar", "multipolar")
COLORS = {"defensive": "tab:blue", "offensive": "tab:red"}


def curves(ds, doctrine: str) -> dict:
    """{start: (years, k, n)} for one doctrine: runs in hegemony by each year, of n."""
    out = {}
    sel = {"doctrine": doctrine} if "doctrine" in ds["hegemony_cdf"].dims else {}
    ds = ds.sel(sel)
    years = ds["time"].values
    cells = ([{"polarity": p} for p in ds["polarity"].values] if "polarity" in ds.dims
             else [{}])
    for cell in cells:
        n = int(ds["n_runs"].sel(cell).values)
        k = np.rint(ds["hegemony_cdf"].sel(cell).values * n)
        out[str(cell.get("polarity", "cow:2016"))] = (years, k, n)
    return out


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calibrated, defaults = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for doctrine, names in RUNS.items():
            calibrated[doctrine], defaults[doctrine] = {}, {}
            for name in names:
                cfg = stability.load_config(ROOT / "configs" / name)
                ds = stability.open_results(cfg.output_path)
                calibrated[doctrine].update(curves(ds, doctrine))
                raw = tomllib.loads((ROOT / "configs" / name).read_text())
                del raw["randomize"]
                plain = parse_config(raw)
                dd = stability.run(plain, out=Path(tmp) / f"{name}.zarr", scheduler="sync")
                defaults[doctrine].update(curves(dd, doctrine))
    print("| start / doctrine | 25 years | 50 years | 100 years | defaults: 25 / 50 / 100 |")
    print("|---|---|---|---|---|")
    for start in STARTS:
        for doctrine in RUNS:
            cells = []
            for t in (25, 50, 100):
                years, k, n = calibrated[doctrine][start]
                i = int(np.searchsorted(years, t))
                lo, hi = wilson_interval(k[i], n)
                cells.append(f"{k[i] / n:.3f} [{lo:.3f}, {hi:.3f}]")
            years, k, n = defaults[doctrine][start]
            plain = " / ".join(f"{k[int(np.searchsorted(years, t))] / n:.3f}"
                               for t in (25, 50, 100))
            print(f"| {start} / {doctrine} | " + " | ".join(cells) + f" | {plain} |")
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), sharey=True)
    for ax, start in zip(axes, STARTS, strict=True):
        for doctrine in RUNS:
            years, k, n = calibrated[doctrine][start]
            lo, hi = wilson_interval(k, n)
            c = COLORS[doctrine]
            ax.fill_between(years, lo, hi, color=c, alpha=0.25, lw=0)
            ax.plot(years, k / n, color=c, lw=1.4, label=f"{doctrine}, calibrated")
            years, k, n = defaults[doctrine][start]
            ax.plot(years, k / n, color=c, lw=1.0, ls="--", label=f"{doctrine}, defaults")
        ax.set_title(start if start.startswith("cow") else f"random {start}")
        ax.set_xlabel("years")
        ax.set_xlim(0, 100)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("P(hegemony within t years)")
    axes[0].set_ylim(0, 1)
    axes[-1].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = Path(__file__).with_name("calibrated-answers.png")
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
