"""The roofline yardstick: the least work any implementation of the model must do per step.

Per system-step it does exactly two things, compiled like the kernel and with the kernel's
own generator (stability.model.rng):

1. the random draws the kernel makes in a step, uniforms and normals in the numbers counted
   on the real model (:func:`count_draws`, n_states = 8);
2. one O(n^2) pass computing the distance-discounted threats
   T_ij = S_j exp(-d_ij / projection_scale) (1 + w I_j), each state's largest, and whether
   it passes the threat test.

Nothing else: no alliances, no wars, no bookkeeping. The shares move with the normals (as
growth moves them) so that the compiler cannot hoist the pass out of the step loop. The
kernel's time per system-step divided by this loop's is the "kernel / yardstick" ratio of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint64

from stability import params as P
from stability.model.rng import counter, normal_word, stream_key, unit, word


@njit(nogil=True, cache=True)
def yardstick(n, systems, steps, uniforms, normals, seed):
    """``systems`` x ``steps`` system-steps of ``n`` states with ``uniforms`` and ``normals``
    draws per step (fractional counts are met on average). Returns a checksum.

    A roofline must do its work the fastest way there is, so this loop takes the kernel's own
    fastest forms (benchmarks/optimisations.md, "The yardstick"): the draws from the stream's
    key and counter held in local variables (as the kernel's growth phase draws), and the threat
    pass by source j for every perceiver i at once, the largest threat so far and its slot kept
    per perceiver and replaced only by a strictly larger one (so ties go to the lowest slot),
    which LLVM vectorises (as the kernel's threat phase, row 25), with the source's factor S_j
    (1 + w I_j) formed once per source."""
    x = np.empty(n)
    s = np.empty(n)
    g = np.empty(n)
    top = np.empty(n)
    arg = np.empty(n, dtype=np.int64)
    dec = np.empty((n, n))
    check = 0.0
    for sys_ in range(systems):
        key = stream_key(seed, sys_)
        c = counter(0, 1)
        for i in range(n):
            x[i] = unit(word(key, c))
            s[i] = 1.0 / n
            g[i] = 2.0 if unit(word(key, c + uint64(1))) < 0.25 else 1.0
            c += uint64(2)
        for i in range(n):
            for j in range(n):
                dx = abs(x[i] - x[j])
                dec[i, j] = math.exp(-min(dx, 1.0 - dx) / 0.25)
        du = 0.0
        dn = 0.0
        for t in range(1, steps + 1):
            c = counter(t, 2)
            du += uniforms
            while du >= 1.0:
                check += unit(word(key, c))
                c += uint64(1)
                du -= 1.0
            c = counter(t, 3)
            dn += normals
            k = 0
            while dn >= 1.0:
                z = normal_word(word(key, c))
                c += uint64(1)
                s[k] = s[k] * (1.0 + 0.01 * z)
                k = k + 1 if k + 1 < n else 0
                dn -= 1.0
            for i in range(n):
                top[i] = -1.0
                arg[i] = 0
            for j in range(n):
                # S_j (1 + w I_j) once per source; dec is symmetric: row j holds every d_ij
                sg = s[j] * g[j]
                for i in range(n):
                    tij = sg * dec[j, i]
                    better = (i != j) & (tij > top[i])
                    top[i] = tij if better else top[i]
                    arg[i] = j if better else arg[i]
            hit = 0
            for i in range(n):
                hit += np.int64(top[i] >= s[i]) * (1 + arg[i])
            check += hit
    return check


def count_draws(params: dict, systems: int, seed: int = 1) -> dict:
    """Draws per system-step that the kernel makes for ``params`` (uniforms, including the
    shuffles' integer draws, and normals), counted by running the pure-Python reference
    with a counting stream.

    The reference draws every order its stream defines; the kernel skips the alignment's and
    the war's orders when at most one state can act in them (the order cannot matter, and a
    counter-based stream makes skipping free), so their words are not counted here either:
    a yardstick that drew them would be slower than the minimal work and flatter the kernel.
    (About 3.2 words a step under the defensive preset at n_states 8, 0.5 under the
    offensive.) The kernel also skips the two normals of a pair whose target cannot beat the
    best gain so far; those are still counted (about 0.2 of 28.6 normals a step under the
    offensive preset, fewer under the defensive), which leaves the yardstick slower than the
    minimal work by well under 1%."""
    from stability import reference

    counts = {"word": 0, "normal": 0, "skipped": 0}

    class Counting(reference.Stream):
        def word(self):  # every draw from the stream (uniform, below, normal) reads one word
            counts["word"] += 1
            return super().word()

        def normal(self):
            counts["normal"] += 1
            return super().normal()

    def order(system, t, phase):
        living = system.living()
        if phase == reference.ALIGN_ORDER:  # the deciders: the threatened states
            actors = sum(1 for s in living if s.threatened)
        elif phase == reference.WAR_ORDER:  # the possible initiators
            actors = sum(1 for s in living
                         if system.q["initiators"] != "revisionist" or s.revisionist)
        else:
            actors = len(living)
        if actors <= 1:  # the kernel does not draw this order (simulate/phases.py)
            counts["skipped"] += max(len(living) - 1, 0)
        return drawn(system, t, phase)

    q = P.resolve(params)
    steps = 0
    original, drawn = reference.Stream, reference.System._order
    reference.Stream, reference.System._order = Counting, order
    try:
        for rep in range(systems):
            out = reference.run_one(q, seed, rep)
            steps += out["hegemony_time"] if out["hegemony_time"] > 0 else q["horizon"]
    finally:
        reference.Stream, reference.System._order = original, drawn
    # uniforms here include the integer draws of the shuffles (one word each, like a uniform)
    return {"uniform": (counts["word"] - counts["normal"] - counts["skipped"]) / steps,
            "normal": counts["normal"] / steps, "steps": steps}
