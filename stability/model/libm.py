"""exp and log for the compiled kernels: the C library's own functions, without its error
wrapper.

Numba compiles ``math.exp`` to a call of the C library's ``exp``. In glibc that symbol is a
wrapper: it calls the computing function (chosen for the CPU when the library loads, the
FMA version here), then tests the result for overflow and underflow to set ``errno``, which
Numba never reads. The wrapper took about a quarter of the time spent in ``exp``; with
``log``'s, about 4% of a step (benchmarks/optimisations.md, row 17), and a third of
the time to draw a multipolar start, which then took two logarithms per try (row 21 of the
log took them out of the start's screen).

On glibc the computing functions are also exported, as ``__exp_finite`` and
``__log_finite`` (kept for binaries built against glibc 2.15 to 2.30; they are what
``exp`` and ``log`` call, so every value is the same bit for bit, and so is what the
pure-Python reference gets from ``math.exp``). They are looked up once per process
(``dlvsym``) and given to the JIT linker under names of our own; ``exp`` and ``log`` below
call them. One thing differs: the NaN that ``log`` returns for a negative number has the
other sign bit (the wrapper makes its own NaN). IEEE leaves a NaN's sign unspecified, no
comparison or arithmetic result depends on it, and no kernel takes the logarithm of a
negative number. Elsewhere (another C library, another OS, or a glibc without them) ``exp`` and
``log`` are Numba's ``math.exp`` and ``math.log``, as before. ``DIRECT`` says which; it is
part of the kernels' compile-cache key (rng.MODEL_SOURCES), because code compiled one way
cannot be loaded the other.
"""

from __future__ import annotations

import ctypes
import math
import platform

import llvmlite.binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# glibc's symbol version of the _finite functions on x86-64; on other architectures they
# carry other versions, and there the fallback is used (not measured elsewhere).
_GLIBC_FINITE = "GLIBC_2.15"
_SYMBOLS = {"stability_exp": "__exp_finite", "stability_log": "__log_finite"}


def _find_direct() -> dict | None:
    """Addresses of glibc's computing functions by our names, or None where not available."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return None
    try:
        libm = ctypes.CDLL("libm.so.6")  # glibc's name for it (find_library runs ldconfig)
        dlvsym = ctypes.CDLL(None).dlvsym
    except (OSError, AttributeError):
        return None
    dlvsym.restype = ctypes.c_void_p
    dlvsym.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    found = {ours: dlvsym(libm._handle, theirs.encode(), _GLIBC_FINITE.encode())
             for ours, theirs in _SYMBOLS.items()}
    return found if all(found.values()) else None


_ADDRESSES = _find_direct()
DIRECT = _ADDRESSES is not None
if DIRECT:
    for _name, _address in _ADDRESSES.items():
        llvm.add_symbol(_name, _address)


def _external(symbol: str):
    """A compiled call of the float64 -> float64 function ``symbol`` that neither reads nor
    writes memory (so the optimiser keeps values in registers across it)."""

    @intrinsic
    def call(typingctx, x):
        if x != types.float64:
            return None

        def codegen(context, builder, signature, args):
            fn = builder.module.globals.get(symbol)
            if fn is None:
                fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()])
                fn = ir.Function(builder.module, fnty, symbol)
                fn.attributes.add("nounwind")
                fn.attributes.add("readnone")
            return builder.call(fn, args)

        return types.float64(types.float64), codegen

    return call


if DIRECT:
    exp = _external("stability_exp")
    log = _external("stability_log")
else:
    @njit(inline="always")
    def exp(x):
        return math.exp(x)

    @njit(inline="always")
    def log(x):
        return math.log(x)
