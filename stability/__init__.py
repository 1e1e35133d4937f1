"""stability: Monte Carlo estimates of how likely hegemony is in balance-of-power systems."""

import os as _os

# SVML's vectorised exp/log differ from libm in the last bit; the kernels must agree bit for
# bit with the pure-Python reference (which uses libm through the math module).
_os.environ.setdefault("NUMBA_DISABLE_INTEL_SVML", "1")

__version__ = "0.1.0"
MODEL_VERSION = "1"

__all__ = [
    "simulate",
    "simulate_reference",
    "load_config",
    "run",
    "open_results",
    "open_runs",
    "sensitivity",
    "load_scenario",
    "contrast",
    "resolve_params",
    "open_posterior",
    "discover",
    "__version__",
    "MODEL_VERSION",
]

_LAZY = {
    "simulate": ("stability.records", "simulate"),
    "simulate_reference": ("stability.records", "simulate_reference"),
    "resolve_params": ("stability.params", "resolve"),
    "load_config": ("stability.experiment.config", "load_config"),
    "run": ("stability.experiment.runner", "run"),
    "open_results": ("stability.experiment.store", "open_results"),
    "open_runs": ("stability.experiment.runs", "open_runs"),
    "sensitivity": ("stability.experiment.indices", "sensitivity"),
    "load_scenario": ("stability.analysis.scenarios", "load_scenario"),
    "contrast": ("stability.analysis.contrast", "contrast"),
    "open_posterior": ("stability.analysis.posterior", "open_posterior"),
    "discover": ("stability.analysis.discover", "discover"),
}


def __getattr__(name):
    # Lazy so that `stability --help` and config validation do not pay for Numba start-up.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'stability' has no attribute {name!r}")
