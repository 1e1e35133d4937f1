"""A calibration's posterior store: opening, summarising, plotting (docs/calibration.md).

The store (``stability calibrate``) has dims (generation, sample): one variable per calibrated
parameter, ``weight`` and ``distance`` per particle; ``epsilon``, ``simulations`` and
``acceptance_rate`` per generation; the record's summary statistics (``observed_statistic``)
and posterior-predictive patterns (``pred_*``, dim ``draw``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def open_posterior(path: str | os.PathLike) -> xr.Dataset:
    """Open a posterior store written by ``stability calibrate``; ValueError if it is not one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no posterior at {path}")
    try:
        ds = xr.open_zarr(path, consolidated=None)
    except Exception as exc:
        raise ValueError(f"{path} is not a stability posterior store: {exc}") from None
    if ds.attrs.get("kind") != "posterior":
        raise ValueError(f"{path} is not a stability posterior store (no kind = posterior)")
    return ds


def last_generation(path: str | os.PathLike) -> dict:
    """{parameter: (samples, cumulative normalised weights)} of the last generation of the
    posterior store at ``path``, as tuples of floats (what ``[randomize] posterior = PATH``
    draws from). ValueError for a store of another model version."""
    import stability

    ds = open_posterior(path)
    if str(ds.attrs.get("model_version")) != stability.MODEL_VERSION:
        raise ValueError(f"{path} was fitted with model version "
                         f"{ds.attrs.get('model_version')}, this is {stability.MODEL_VERSION}")
    last = ds.isel(generation=-1).load()
    w = np.nan_to_num(last.weight.values)
    keep = w > 0
    cdf = np.cumsum(w[keep]) / w[keep].sum()
    cdf[-1] = 1.0
    return {k: (tuple(float(v) for v in last[k].values[keep]), tuple(float(c) for c in cdf))
            for k in parameters(ds)}


def is_posterior(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a posterior store (cheap: reads the attributes only)."""
    try:
        return open_posterior(path).attrs.get("kind") == "posterior"
    except (FileNotFoundError, ValueError):
        return False


def parameters(ds: xr.Dataset) -> list[str]:
    return ds.attrs["parameters"].split(",")


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q) -> np.ndarray:
    """Quantiles of a weighted sample (the inverse of its weighted empirical CDF, with the
    mid-point rule, so that equal weights give the usual interpolated quantiles' limit)."""
    ok = np.isfinite(values) & np.isfinite(weights)
    v, w = values[ok], weights[ok]
    order = np.argsort(v)
    v, w = v[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cdf, v)


def summary_table(ds: xr.Dataset) -> list[tuple[str, float, float, float]]:
    """(parameter, weighted median, 5%, 95%) over the last generation."""
    last = ds.isel(generation=-1).load()
    w = last.weight.values
    return [(k, *weighted_quantile(last[k].values, w, [0.5, 0.05, 0.95]))
            for k in parameters(ds)]


def describe(ds: xr.Dataset) -> str:
    """The text ``stability info POSTERIOR`` prints."""
    lines = [f"posterior of {len(parameters(ds))} parameters, fitted to COW "
             f"{ds.attrs.get('period')}", "",
             f"{'parameter':28s}{'median':>12s}{'5%':>12s}{'95%':>12s}"]
    for name, med, lo, hi in summary_table(ds):
        lines.append(f"{name:28s}{med:12.4g}{lo:12.4g}{hi:12.4g}")
    lines.append("")
    lines.append(f"{'generation':>10s}{'epsilon':>12s}{'simulations':>13s}{'acceptance':>12s}")
    for g in range(ds.sizes["generation"]):
        lines.append(f"{int(ds.generation[g]):10d}{float(ds.epsilon[g]):12.4g}"
                     f"{int(ds.simulations[g]):13d}{float(ds.acceptance_rate[g]):12.3f}")
    lines.append("")
    total = int(ds.simulations.sum())
    lines.append(f"{'generations':18s}{ds.sizes['generation']}")
    lines.append(f"{'simulations':18s}{total:,}")
    for key in ("seed", "model_version", "stability_version", "created", "wall_seconds"):
        lines.append(f"{key:18s}{ds.attrs.get(key, 'unknown')}")
    if "simulation_seconds" in ds.attrs:
        share = float(ds.attrs["simulation_seconds"]) / float(ds.attrs["wall_seconds"])
        lines.append(f"{'in simulation':18s}{share:.0%} of the wall time (serial sampler)")
    return "\n".join(lines) + "\n"


def plot_posterior(ds: xr.Dataset, observed: xr.Dataset | None = None) -> Figure:
    """Marginals and pairs of the last generation, and posterior-predictive bands (5-95% and
    25-75% of the single predictive histories) of each pattern against the record
    (``observed``: history.patterns over the calibration period; computed if not given)."""
    from ..history import patterns

    names = parameters(ds)
    k = len(names)
    last = ds.isel(generation=-1).load()
    w = last.weight.values
    a, b = (int(x) for x in ds.attrs["period"].split("-"))
    if observed is None:
        observed = patterns((a, b))
    suffix = f"{a}_{b}"
    fig = Figure(figsize=(2.2 * max(k, 4), 2.2 * k + 3.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[k, 1.4])
    axes = top.subplots(k, k, squeeze=False)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if i == j:
                ax.hist(last[xj].values, bins=20, weights=w, color="C0")
            elif i > j:
                # at most 400 particles: more hide nothing and make the figure heavy
                ax.scatter(last[xj].values[:400], last[yi].values[:400], s=4, alpha=0.5,
                           c=w[:400], cmap="viridis", rasterized=True)
            else:
                ax.set_axis_off()
            if i == k - 1:
                ax.set_xlabel(xj, fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(yi, fontsize=8)
            ax.tick_params(labelsize=6)
    panels = bottom.subplots(1, 3)
    for ax, name, dim in ((panels[0], "log_share_sd", "lag"),
                          (panels[1], "max_share", "year"), (panels[2], "hhi", "year")):
        pred = ds.get(f"pred_{name}_{suffix}")
        if pred is not None:
            x = pred[f"{dim}_{suffix}"].values
            v = pred.values
            with np.errstate(invalid="ignore"):
                lo, q1, med, q3, hi = np.nanpercentile(v, [5, 25, 50, 75, 95], axis=0)
            ax.fill_between(x, lo, hi, color="C0", alpha=0.2, label="model 5-95%")
            ax.fill_between(x, q1, q3, color="C0", alpha=0.4, label="model 25-75%")
            ax.plot(x, med, color="C0", lw=1)
        ax.plot(observed[dim].values, observed[name].values, color="k", lw=1.2,
                label="COW record")
        ax.set_xlabel(dim)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    panels[0].legend(fontsize=7)
    fig.suptitle(f"posterior ({ds.attrs.get('period')}), generation "
                 f"{int(ds.generation[-1])}", fontsize=10)
    return fig


def compare_patterns(pred: xr.Dataset, period, threshold: float = 0.5) -> list[tuple]:
    """Rows (pattern, record, model median, model 5%, model 95%, record inside the 90% band)
    of posterior-predictive patterns ``pred`` (calibrate.predictive / out_of_sample) against
    the record over ``period``. ``hegemony``: whether any year's largest share reached
    ``threshold`` in the record, against the share of model runs that ended in hegemony."""
    from ..history import patterns

    a, b = period
    obs = patterns((a, b))
    sfx = f"{a}_{b}"
    rows = []

    def add(name, record, values):
        lo, med, hi = np.nanpercentile(values, [5, 50, 95])
        rows.append((name, float(record), float(med), float(lo), float(hi),
                     bool(lo <= record <= hi)))

    sd = pred[f"pred_log_share_sd_{sfx}"]
    for k in (1, 2, 5, 10, 20, 50):
        if k in sd[f"lag_{sfx}"].values:
            add(f"log_share_sd lag {k}", obs.log_share_sd.sel(lag=k),
                sd.sel({f"lag_{sfx}": k}).values)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            add("mean max_share", obs.max_share.mean(),
                np.nanmean(pred[f"pred_max_share_{sfx}"].values, axis=1))
            add("mean hhi", obs.hhi.mean(), np.nanmean(pred[f"pred_hhi_{sfx}"].values, axis=1))
    add("entries", obs.entries.sum(), pred[f"pred_entries_{sfx}"].values)
    add("exits", obs.exits.sum(), pred[f"pred_exits_{sfx}"].values)
    heg = pred[f"pred_hegemony_{sfx}"].values
    rows.append(("reached hegemony", float((obs.max_share >= threshold).any()),
                 float(heg.mean()), np.nan, np.nan, None))
    return rows


def format_comparison(rows) -> str:
    """A markdown table of :func:`compare_patterns` rows."""
    out = ["| pattern | record | model median | model 5-95% | record inside |",
           "|---|---:|---:|---|---|"]
    for name, rec, med, lo, hi, inside in rows:
        if inside is None:  # a yes/no of the record against the model's probability
            out.append(f"| {name} | {'yes' if rec else 'no'} | P = {med:.2f} | | |")
            continue
        out.append(f"| {name} | {rec:.3g} | {med:.3g} | {lo:.3g}-{hi:.3g} | "
                   f"{'yes' if inside else 'no'} |")
    return "\n".join(out) + "\n"
