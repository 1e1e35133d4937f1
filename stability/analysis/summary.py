"""A plain-text summary of a results dataset: what ``stability info`` prints."""

from __future__ import annotations

import itertools
import math

import numpy as np
import xarray as xr

NON_SWEEP = ("time", "rank", "polarity_class", "joint")


def sweep_dims(ds: xr.Dataset) -> list[str]:
    """The sweep dimensions of a results dataset, in their stored order."""
    return [d for d in ds["n_runs"].dims if d not in NON_SWEEP]


def _fmt(value) -> str:
    value = value.item() if hasattr(value, "item") else value
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cells(ds: xr.Dataset, dims: list[str]) -> list[dict]:
    """Every combination of sweep values, first dimension slowest."""
    return [dict(zip(dims, combo, strict=True))
            for combo in itertools.product(*(ds[d].values.tolist() for d in dims))]

# (header, variable, format): the per-cell columns after the sweep values.
_COLUMNS = (
    ("runs", "n_runs", "{:,.0f}"),
    ("P(hegemony) [95% CI]", None, None),
    ("mean t", "mean_hegemony_time", "{:.1f}"),
    ("survivors", "mean_survivors", "{:.2f}"),
    ("wars", "mean_wars", "{:.2f}"),
    ("balance", "mean_balancing", "{:.2f}"),
    ("bandwagon", "mean_bandwagoning", "{:.2f}"),
    ("buck-pass", "mean_buck_passing", "{:.2f}"),
    ("chain-gang", "mean_chain_ganging", "{:.2f}"),
)
_PROVENANCE = (
    ("config sha256", "config_sha256"),
    ("seed", "seed"),
    ("stability", "stability_version"),
    ("model spec", "model_version"),
    ("numba", "numba_version"),
    ("created", "created"),
)


def is_complete(ds: xr.Dataset) -> bool:
    """The store's ``complete`` attribute as a bool (True when absent).

    NetCDF has no boolean attributes, so it may arrive as 0/1 or as text.
    """
    value = ds.attrs.get("complete", True)
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        return text.strip().lower() in ("true", "1", "yes")
    return bool(np.asarray(value).all())


def _number(value, fmt: str) -> str:
    value = float(value)
    return "-" if math.isnan(value) else fmt.format(value)


def _table(rows: list[list[str]], right: list[bool]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.rjust(w) if r else c.ljust(w)
                 for c, w, r in zip(row, widths, right, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def describe(ds: xr.Dataset) -> str:
    """A readable table of every cell (P(hegemony) with its Wilson interval, mean time to
    hegemony, survivors, wars, alignment decisions per run), then the provenance and
    whether the store is complete."""
    dims = sweep_dims(ds)
    names = [v for _, v, _ in _COLUMNS if v] + ["p_hegemony", "p_hegemony_lo", "p_hegemony_hi"]
    data = ds[[n for n in names if n in ds]].load()
    header = list(dims) + [h for h, _, _ in _COLUMNS]
    rows = [header]
    for cell in _cells(ds, dims):
        c = data.sel(cell)
        row = [_fmt(v) for v in cell.values()]
        for _, var, fmt in _COLUMNS:
            if var is None:
                p, lo, hi = (float(c[k]) for k in ("p_hegemony", "p_hegemony_lo",
                                                   "p_hegemony_hi"))
                row.append("-" if math.isnan(p) else f"{p:.4f} [{lo:.4f}, {hi:.4f}]")
            elif var in c:
                row.append(_number(c[var], fmt))
            else:
                row.append("?")
        rows.append(row)
    right = [False] * len(dims) + [True] * len(_COLUMNS)

    complete = is_complete(ds)
    shape = " x ".join(f"{ds.sizes[d]} {d}" for d in dims) or "no sweep"
    title = ds.attrs.get("name") or ds.attrs.get("title") or "results"
    cells = f"{len(rows) - 1} cell{'s' if len(rows) > 2 else ''}"
    lines = [f"{title}: {cells} ({shape}), horizon {ds.sizes.get('time', 1) - 1}", ""]
    lines += _table(rows, right)
    lines += [
        "",
        "P(hegemony): estimate [95% Wilson interval]. mean t: mean step of hegemony, over the",
        "runs that reached it. survivors, wars and the alignment decisions (balance, bandwagon,",
        "buck-pass, chain-gang): means per run.",
        "",
    ]
    lines += sensitivity_lines(ds)
    prov = [[label, str(ds.attrs.get(key, "unknown"))] for label, key in _PROVENANCE]
    prov.append(["complete", "yes" if complete else "NO: the run stopped early; continue it "
                 "with `stability run CONFIG --resume`"])
    lines += _table(prov, [False, False])
    return "\n".join(lines) + "\n"


# A sensitivity study's indices, ranked: (variable ranked by, columns shown)
_RANKED = (
    ("sobol", "sobol_total",
     (("total [95% CI]", "sobol_total"), ("first [95% CI]", "sobol_first"))),
    ("morris", "morris_mu_star", (("mu* [95% CI]", "morris_mu_star"), ("sigma", "morris_sigma"))),
    ("delta", "delta", (("delta [95% CI]", "delta"),)),
)


def _interval(c, var: str) -> str:
    v = float(c[var])
    if math.isnan(v):
        return "-"
    if f"{var}_lo" not in c:
        return f"{v:.3f}"
    return f"{v:.3f} [{float(c[var + '_lo']):.3f}, {float(c[var + '_hi']):.3f}]"


def sensitivity_lines(ds: xr.Dataset) -> list[str]:
    """Per cell and output, the parameters ranked by their total Sobol index (or Morris mu*,
    or delta), with bootstrap 95% intervals (docs/sensitivity.md)."""
    lines: list[str] = []
    for method, key, columns in _RANKED:
        if key not in ds:
            continue
        data = ds[[v for v in ds.data_vars if str(v).startswith(key.split("_")[0])]].load()
        dims = [d for d in data[key].dims if d not in ("output", "parameter")]
        lines += [f"{method} sensitivity indices, ranked by {key} (bootstrap 95% intervals):",
                  ""]
        for cell in _cells(data, dims):
            for output in data["output"].values.tolist():
                c = data.sel(cell | {"output": output})
                order = np.argsort(-np.nan_to_num(c[key].values, nan=-np.inf), kind="stable")
                label = ", ".join(f"{k}={_fmt(v)}" for k, v in cell.items())
                lines.append(f"{label + ': ' if label else ''}output {output}")
                rows = [["parameter"] + [h for h, _ in columns]]
                for i in order:
                    ci = c.isel(parameter=int(i))
                    rows.append([str(ci["parameter"].values)]
                                + [_interval(ci, var) for _, var in columns])
                lines += ["  " + ln for ln in _table(rows, [False] + [True] * len(columns))]
                lines.append("")
    return lines
