"""Bit-level helpers for the compiled kernels: a double's bit pattern, and a select that
compiles without a jump.

x86 has no conditional move for doubles, so LLVM compiles ``a if c else b`` of two doubles on
an integer condition to a jump. Where ``c`` is as good as random (a random bit, who is
threatened, whether a buck-catcher exists) the CPU mispredicts that jump about half the
time, and each misprediction discards the work in flight (on the order of 15 cycles). LLVM
recognises every arithmetic spelling of a masked select (``(a & m) | (b & ~m)`` with
``m = -c``, ``float(c)``, ``c * constant``) as a select and turns it back into the jump, so
``choose`` hides the select from the optimiser behind inline assembly:

- where the kernels are compiled for x86-64 with AVX (Numba's target: the host's features,
  or NUMBA_CPU_FEATURES), one ``vblendvpd`` picks between the two doubles where they are, in
  vector registers, by the sign bit of the mask ``-c`` (moved there with one ``vmovq``);
- elsewhere, an empty asm statement around the mask hides it, and the select is done in
  integer registers: the doubles' bit patterns, masked, then or-ed (a compare, a
  subtract-with-borrow, three logic instructions, and moves between the register files).

The blend made the step 1.03-1.05x faster on the six cells at n_states 8
(benchmarks/optimisations.md, row 18).
Both are exact: the result is one of the two doubles, bit for bit (tests/test_bits.py runs
both). Do not use ``choose`` in a loop that LLVM should vectorise: the asm stops it.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def float_bits(typingctx, x):
    """The bit pattern of a float64 as an int64 (a no-op in machine code): the normal's sign
    flip (rng.py) and the starting sampler's log2 bracket (start.py) work on its fields.

    For non-negative doubles the order of these integers is the order of the values."""
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


# The blend below is assembled by LLVM's integrated assembler, which needs its parser for
# the host's architecture (Numba initialises the target and its printer, not the parser).
llvm.initialize_native_asmparser()


def _avx_target(context) -> bool:
    """Whether the code being compiled targets x86-64 with AVX, by the features of Numba's
    codegen (the host's, or NUMBA_CPU_FEATURES; none for NUMBA_CPU_NAME=generic), which are
    part of its compile-cache key too. A private attribute: without it, the portable path."""
    return "+avx" in str(getattr(context.codegen(), "_tm_features", "")).split(",")


@intrinsic
def select_by_mask(typingctx, m, a, b):
    """``a`` where the int64 mask ``m`` is all ones, ``b`` where it is zero, without a jump
    (see the module doc)."""
    if m != types.int64 or a != types.float64 or b != types.float64:
        return None

    def codegen(context, builder, signature, args):
        mask, x, y = args
        d, i64 = ir.DoubleType(), ir.IntType(64)
        if _avx_target(context):
            # AT&T operand order: mask, second source (taken where the sign bit is set), first
            # source, destination; the destination is written before the sources are read, so
            # it must be a register of its own (the early clobber, "=&x")
            fnty = ir.FunctionType(d, [i64, d, d])
            return builder.asm(fnty, "vmovq $1, $0\n\tvblendvpd $0, $2, $3, $0", "=&x,r,x,x",
                               [mask, x, y], side_effect=False)
        hidden = builder.asm(ir.FunctionType(i64, [i64]), "", "=r,0", [mask],
                             side_effect=False)
        bits = builder.or_(builder.and_(builder.bitcast(x, i64), hidden),
                           builder.and_(builder.bitcast(y, i64), builder.not_(hidden)))
        return builder.bitcast(bits, d)

    return types.float64(types.int64, types.float64, types.float64), codegen


@njit(inline="always")
def choose(c, a, b):
    """``a if c else b`` for doubles a, b and a condition c (a bool or a 0/1 integer), exactly
    and without a jump (see the module doc)."""
    return select_by_mask(-np.int64(c), a, b)
