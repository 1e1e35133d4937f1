"""Bit-level helpers for the compiled kernels: a double's bit pattern, and a select that
compiles without a jump.

x86 has no conditional move for doubles, so LLVM compiles ``a if c else b`` of two doubles on
an integer condition to a jump. Where ``c`` is as good as random (a random bit, who is
threatened, whether a buck-catcher exists) the CPU mispredicts that jump about half the
time, and each misprediction discards the work in flight (on the order of 15 cycles). LLVM
recognises every arithmetic spelling of a masked select (``(a & m) | (b & ~m)`` with
``m = -c``, ``float(c)``, ``c * constant``) as a select and turns it back into the jump; an
empty inline-asm statement around the mask (``opaque``) hides that, and ``choose`` then
compiles to a compare, a subtract-with-borrow and three logic instructions. Exact: the
result is one of the two doubles, bit for bit.

Do not use ``choose`` in a loop that LLVM should vectorise: the asm statement stops it.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def float_bits(typingctx, x):
    """The bit pattern of a float64 as an int64 (a no-op in machine code).

    For non-negative doubles the order of these integers is the order of the values, and an
    integer maximum written as a select vectorises where a float one does not (LLVM needs
    fast-math flags to reorder a float max reduction)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def bits_float(typingctx, b):
    """The float64 whose bit pattern is the int64 ``b`` (the inverse of float_bits)."""
    if b != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def opaque(typingctx, x):
    """``x`` unchanged, through an empty inline-asm statement: the optimiser cannot see what
    the value is, so it cannot turn a mask built from a condition back into a jump."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        return builder.asm(fnty, "", "=r,0", [args[0]], side_effect=False)

    return types.int64(types.int64), codegen


@njit(inline="always")
def choose(c, a, b):
    """``a if c else b`` for doubles a, b and a condition c (a bool or a 0/1 integer), exactly
    and without a jump (see the module doc)."""
    m = opaque(-np.int64(c))
    return bits_float((float_bits(a) & m) | (float_bits(b) & ~m))
