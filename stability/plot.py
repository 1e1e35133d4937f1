"""Plots of results datasets (``stability.plot.plot_results(ds)`` etc.); see analysis/plot.py."""

from .analysis.plot import plot_cdf, plot_probability, plot_rank, plot_results

__all__ = ["plot_results", "plot_probability", "plot_cdf", "plot_rank"]
