"""Figures of a results dataset (matplotlib, headless).

Figures are built on :class:`matplotlib.figure.Figure` without pyplot, so nothing depends on
a display or on the global backend: ``fig.savefig("out.png")`` works on a batch node, and a
notebook shows the returned figure as it would any other. Labels and units come from the
variables' ``long_name`` and ``units`` attributes (CF conventions).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .summary import _cells, _fmt, sweep_dims

_MAX_LEGEND = 24  # beyond this many cells a legend is longer than the figure is tall


def _label(da: xr.DataArray, fallback: str | None = None) -> str:
    name = da.attrs.get("long_name") or fallback or da.name
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units not in (None, "", "1") else str(name)


def _cell_label(cell: dict) -> str:
    return ", ".join(f"{d}={_fmt(v)}" for d, v in cell.items()) or "all runs"


def _cell_colors(n: int):
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    from matplotlib import colormaps

    return [colormaps["viridis"](x) for x in np.linspace(0.0, 0.9, n)]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=(6.0, 4.0), layout="constrained").subplots()


def _x_positions(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """x coordinates for sweep values: the values if numeric, else 0, 1, 2, ..."""
    numeric = values.dtype.kind in "iuf"
    return (values.astype(np.float64) if numeric else np.arange(values.size, dtype=float),
            numeric)


def _load(ds: xr.Dataset, names) -> xr.Dataset:
    # Results opened lazily (dask) are small per cell; load what a panel reads once.
    return ds[[n for n in names if n in ds]].load()


def plot_probability(ds: xr.Dataset, ax: Axes | None = None) -> Axes:
    """P(hegemony) with its Wilson interval over the first sweep dimension.

    Further sweep dimensions become one series each (hue); for a faceted view use
    :func:`plot_results`. Returns the axes.
    """
    ax = _axes(ax)
    data = _load(ds, ["p_hegemony", "p_hegemony_lo", "p_hegemony_hi", "n_runs"])
    dims = sweep_dims(ds)
    p = data["p_hegemony"]
    if not dims:
        x, numeric, xdim = np.zeros(1), False, None
    else:
        xdim = dims[0]
        x, numeric = _x_positions(ds[xdim].values)
    hue_dims = dims[1:]
    hues = _cells(ds, hue_dims)
    colors = _cell_colors(len(hues))
    # Offset series sideways so that intervals at the same x do not hide each other.
    step = np.min(np.diff(np.unique(x))) if np.unique(x).size > 1 else 1.0
    offsets = (np.arange(len(hues)) - (len(hues) - 1) / 2) * min(0.12, 0.6 / len(hues)) * step
    for hue, color, off in zip(hues, colors, offsets, strict=True):
        est = np.atleast_1d(p.sel(hue).values)
        lo = np.atleast_1d(data["p_hegemony_lo"].sel(hue).values)
        hi = np.atleast_1d(data["p_hegemony_hi"].sel(hue).values)
        # Lines join numeric sweep values only; categories have no order to draw.
        ax.errorbar(x + off, est, yerr=np.vstack([est - lo, hi - est]),
                    fmt="o-" if numeric else "o", color=color, capsize=3, ms=4, lw=1,
                    label=_cell_label(hue))
    if xdim is None:
        ax.set_xticks([0.0], ["all runs"])
    else:
        if not numeric:
            ax.set_xticks(x, [_fmt(v) for v in ds[xdim].values])
            ax.set_xlim(-0.5, x.size - 0.5)
        # The sweep key the user wrote names the axis better than the parameter's long doc.
        units = ds[xdim].attrs.get("units")
        ax.set_xlabel(f"{xdim} [{units}]" if units not in (None, "", "1") else xdim)
    ax.set_ylabel(_label(p, "P(hegemony)"))
    _ylim_from_zero(ax, data["p_hegemony_hi"].values)
    if hue_dims and len(hues) <= _MAX_LEGEND:
        ax.legend(fontsize="small")
    return ax


def _ylim_from_zero(ax: Axes, values: np.ndarray) -> None:
    # Fixed limits, so that an interval's top is never cut off by a facet drawn earlier.
    top = np.nanmax(values, initial=0.0) if np.isfinite(values).any() else 0.0
    ax.set_ylim(0.0, max(top * 1.08, ax.get_ylim()[1] if ax.has_data() else 0.0, 1e-3))


def plot_cdf(ds: xr.Dataset, ax: Axes | None = None, *, legend: bool = True) -> Axes:
    """The hegemony CDF over time, one line per cell. Returns the axes."""
    ax = _axes(ax)
    cdf = _load(ds, ["hegemony_cdf"])["hegemony_cdf"]
    cells = _cells(ds, sweep_dims(ds))
    for cell, color in zip(cells, _cell_colors(len(cells)), strict=True):
        ax.plot(ds["time"].values, cdf.sel(cell).values, color=color, lw=1.2,
                label=_cell_label(cell))
    ax.set_xlabel(_label(ds["time"], "time"))
    ax.set_ylabel(_label(cdf, "fraction of runs in hegemony"))
    ax.set_ylim(bottom=0.0)
    if legend and 1 < len(cells) <= _MAX_LEGEND:
        ax.legend(fontsize="small")
    return ax


def plot_rank(ds: xr.Dataset, ax: Axes | None = None, *, legend: bool = True) -> Axes:
    """Who becomes hegemon: the fraction of runs won by each initial rank, per cell."""
    ax = _axes(ax)
    pr = _load(ds, ["p_hegemon_rank"])["p_hegemon_rank"]
    cells = _cells(ds, sweep_dims(ds))
    ranks = ds["rank"].values
    for cell, color in zip(cells, _cell_colors(len(cells)), strict=True):
        ax.plot(ranks, pr.sel(cell).values, "o-", color=color, ms=4, lw=1,
                label=_cell_label(cell))
    if ranks.dtype.kind in "iu" and ranks.size <= 32:
        ax.set_xticks(ranks)
    ax.set_xlabel(_label(ds["rank"], "initial rank"))
    ax.set_ylabel(_label(pr, "fraction of runs won"))
    ax.set_ylim(bottom=0.0)
    if legend and 1 < len(cells) <= _MAX_LEGEND:
        ax.legend(fontsize="small")
    return ax


def plot_results(ds: xr.Dataset) -> Figure:
    """P(hegemony) per cell (one facet per value of the second sweep dimension, if any),
    the hegemony CDF over time and the winners' initial ranks, in one figure."""
    dims = sweep_dims(ds)
    facets = [{}] if len(dims) < 2 else [{dims[1]: v} for v in ds[dims[1]].values.tolist()]
    width = max(10.0, 3.6 * len(facets))
    fig = Figure(figsize=(width, 8.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.0])
    prob_axes = np.atleast_1d(top.subplots(1, len(facets), sharey=True, squeeze=False)[0])
    for ax, facet in zip(prob_axes, facets, strict=True):
        # Selecting one facet value drops that dimension; the rest of the sweep stays x and hue.
        plot_probability(ds.sel(facet) if facet else ds, ax=ax)
        if facet:
            ax.set_title(_cell_label(facet), fontsize="medium")
        if ax is not prob_axes[0]:
            ax.set_ylabel("")
    _ylim_from_zero(prob_axes[0], _load(ds, ["p_hegemony_hi"])["p_hegemony_hi"].values)
    cdf_ax, rank_ax = bottom.subplots(1, 2)
    plot_cdf(ds, ax=cdf_ax, legend=False)
    plot_rank(ds, ax=rank_ax, legend=False)
    # One legend for both panels (same colour per cell), outside them so it hides no data.
    handles, labels = cdf_ax.get_legend_handles_labels()
    if 1 < len(labels) <= _MAX_LEGEND:
        bottom.legend(handles, labels, loc="outside right upper",
                      fontsize="small" if len(labels) <= 12 else "x-small")
    title = ds.attrs.get("name") or ds.attrs.get("title")
    if title:
        fig.suptitle(str(title))
    return fig
