"""Paired contrasts: the difference in P(hegemony) between two values of one sweep dimension.

Replicate i starts from the same system and draws the same shocks in every cell (common
random numbers), so the outcomes of a and b are paired and their difference is estimated more
precisely than two independent samples would allow. A results dataset run with
``[experiment] contrasts = ["<dim>"]`` holds the joint outcomes in ``joint_hegemony_<dim>``:
dims (other sweep dims..., ``<dim>``, ``<dim>_b``, ``joint``), ``joint`` in
("both", "a_only", "b_only", "neither"), counts of replicates, where "a" is the ``<dim>``
value and "b" the ``<dim>_b`` value.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .stats import Z95, newcombe_paired_difference, newcombe_unpaired_difference

JOINT = ("both", "a_only", "b_only", "neither")


def _check_value(ds: xr.Dataset, dim: str, label: str, value) -> None:
    index = ds.indexes[dim]
    if value not in index:
        shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in index)
        raise ValueError(f"{label}={value!r} is not a value of '{dim}' (values: {shown})")


def _joint(ds: xr.Dataset, name: str, dim: str, a, b) -> tuple[xr.DataArray, ...]:
    """The four joint counts (both, a only, b only, neither) of the pair (a, b), as floats."""
    var = ds[name]
    missing = {dim, f"{dim}_b", "joint"} - set(var.dims)
    if missing or any(j not in var.indexes["joint"] for j in JOINT):
        raise ValueError(f"variable '{name}' must have dims (..., '{dim}', '{dim}_b', 'joint') "
                         f"with joint in {list(JOINT)}; got dims {var.dims}")
    table = var.sel({dim: a, f"{dim}_b": b}).astype(np.float64).load()
    if not (table.sum("joint") > 0).any():
        # A store may keep each unordered pair once; then (a, b) is (b, a) with roles swapped.
        swapped = var.sel({dim: b, f"{dim}_b": a}).astype(np.float64).load()
        if (swapped.sum("joint") > 0).any():
            table = swapped.sel(joint=["both", "b_only", "a_only", "neither"])
            table = table.assign_coords(joint=list(JOINT))
    table = table.drop_vars([dim, f"{dim}_b"], errors="ignore")
    return tuple(table.sel(joint=j, drop=True) for j in JOINT)


def contrast(ds: xr.Dataset, dim: str = "doctrine", a="offensive", b="defensive",
             z: float = Z95) -> xr.Dataset:
    """P(hegemony | a) - P(hegemony | b) for every cell of the other sweep dimensions.

    Returns a Dataset with ``difference`` and its paired interval ``paired_lo``,
    ``paired_hi`` (Newcombe 1998b method 10, from the joint outcomes), the unpaired estimate
    ``unpaired_difference`` with ``unpaired_lo``, ``unpaired_hi`` (Newcombe 1998a method 10,
    from ``n_hegemony`` and ``n_runs``, as if the samples were independent), ``p_a``, ``p_b``,
    ``n_pairs`` and the discordant counts ``n_a_only``, ``n_b_only``. Raises ValueError if
    the results were run without ``contrasts = [dim]`` or if a or b is not a value of dim.
    """
    if dim not in ds.dims:
        sweep = [d for d in ds["n_runs"].dims] if "n_runs" in ds else list(ds.dims)
        raise ValueError(f"'{dim}' is not a sweep dimension of the results (sweep: {sweep})")
    name = f"joint_hegemony_{dim}"
    if name not in ds:
        raise ValueError(f"the results hold no paired outcomes for '{dim}' (no variable "
                         f"'{name}'); run the experiment with [experiment] contrasts = "
                         f"[\"{dim}\"]")
    _check_value(ds, dim, "a", a)
    _check_value(ds, dim, "b", b)
    if a == b:
        raise ValueError(f"a and b are both {a!r}; contrast two different values of '{dim}'")

    n11, n10, n01, n00 = _joint(ds, name, dim, a, b)
    diff, lo, hi = xr.apply_ufunc(newcombe_paired_difference, n11, n10, n01, n00,
                                  kwargs={"z": z}, output_core_dims=[[], [], []])
    n_pairs = n11 + n10 + n01 + n00
    ka = ds["n_hegemony"].sel({dim: a}, drop=True).astype(np.float64).load()
    na = ds["n_runs"].sel({dim: a}, drop=True).astype(np.float64).load()
    kb = ds["n_hegemony"].sel({dim: b}, drop=True).astype(np.float64).load()
    nb = ds["n_runs"].sel({dim: b}, drop=True).astype(np.float64).load()
    udiff, ulo, uhi = xr.apply_ufunc(newcombe_unpaired_difference, ka, na, kb, nb,
                                     kwargs={"z": z}, output_core_dims=[[], [], []])

    level = f"{100 * (1 - 2 * _norm_sf(z)):.0f}%"
    what = f"P(hegemony | {dim}={a}) - P(hegemony | {dim}={b})"

    def var(data, long_name, units="1"):
        return data.assign_attrs(long_name=long_name, units=units)

    with np.errstate(divide="ignore", invalid="ignore"):
        p_a, p_b = (n11 + n10) / n_pairs, (n11 + n01) / n_pairs
    out = xr.Dataset({
        "difference": var(diff, what),
        "paired_lo": var(lo, f"lower {level} limit, paired (Newcombe 1998b)"),
        "paired_hi": var(hi, f"upper {level} limit, paired (Newcombe 1998b)"),
        "unpaired_difference": var(udiff, f"{what}, from the marginal counts"),
        "unpaired_lo": var(ulo, f"lower {level} limit, unpaired (Newcombe 1998a)"),
        "unpaired_hi": var(uhi, f"upper {level} limit, unpaired (Newcombe 1998a)"),
        "p_a": var(p_a, f"P(hegemony | {dim}={a})"),
        "p_b": var(p_b, f"P(hegemony | {dim}={b})"),
        "n_pairs": var(_count(n_pairs), "replicates run under both a and b", "1"),
        "n_a_only": var(_count(n10), f"replicates in hegemony under {dim}={a} only", "1"),
        "n_b_only": var(_count(n01), f"replicates in hegemony under {dim}={b} only", "1"),
    })
    out.attrs.update(dim=dim, a=_attr(a), b=_attr(b), confidence=level, z=z)
    for key in ("config_sha256", "seed", "stability_version", "model_version"):
        if key in ds.attrs:
            out.attrs[key] = ds.attrs[key]
    return out


def _count(da: xr.DataArray) -> xr.DataArray:
    # Counts were read as floats for the interval arithmetic; give them back as integers
    # unless a cell is missing (nan).
    return da.astype(np.int64) if bool(np.isfinite(da).all()) else da


def _attr(value):
    # Attributes must stay serialisable (NetCDF has no numpy scalars of object dtype).
    return value.item() if hasattr(value, "item") else value


def _norm_sf(z: float) -> float:
    from math import erfc, sqrt

    return 0.5 * erfc(z / sqrt(2.0))
