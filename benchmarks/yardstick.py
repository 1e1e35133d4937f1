"""The roofline yardstick: the least work any implementation of the model must do per step.

Per system-step it does exactly two things, compiled like the kernel and with the kernel's
own generator (stability.model.rng):

1. the random draws the model's stream defines for a step, uniforms and normals in the
   numbers counted on the real model (:func:`count_draws`, n_states = 8);
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
from numba import njit

from stability import params as P
from stability.model.phases import larger
from stability.model.rng import normal, set_phase, stream_key, uniform


@njit(nogil=True, cache=True)
def yardstick(n, systems, steps, uniforms, normals, seed):
    """``systems`` x ``steps`` system-steps of ``n`` states with ``uniforms`` and ``normals``
    draws per step (fractional counts are met on average). Returns a checksum."""
    rng = np.zeros(2, dtype=np.uint64)
    x = np.empty(n)
    s = np.empty(n)
    g = np.empty(n)
    row = np.empty(n)
    dec = np.empty((n, n))
    check = 0.0
    for sys_ in range(systems):
        rng[0] = stream_key(seed, sys_)
        set_phase(rng, 0, 1)
        for i in range(n):
            x[i] = uniform(rng)
            s[i] = 1.0 / n
            g[i] = 2.0 if uniform(rng) < 0.25 else 1.0
        for i in range(n):
            for j in range(n):
                dx = abs(x[i] - x[j])
                dec[i, j] = math.exp(-min(dx, 1.0 - dx) / 0.25)
        du = 0.0
        dn = 0.0
        for t in range(1, steps + 1):
            set_phase(rng, t, 2)
            du += uniforms
            while du >= 1.0:
                check += uniform(rng)
                du -= 1.0
            set_phase(rng, t, 3)
            dn += normals
            k = 0
            while dn >= 1.0:
                z = normal(rng)
                s[k] = s[k] * (1.0 + 0.01 * z)
                k = k + 1 if k + 1 < n else 0
                dn -= 1.0
            hit = 0
            for i in range(n):
                # the largest by larger() and its lowest slot afterwards, as the kernel does
                best_t = -1.0
                for j in range(n):
                    tij = s[j] * dec[i, j] * g[j]
                    row[j] = tij
                    best_t = larger(tij if j != i else -1.0, best_t)
                best = 0
                while row[best] != best_t or best == i:
                    best += 1
                if best_t >= s[i]:
                    hit += 1 + best
            check += hit
    return check


def count_draws(params: dict, systems: int, seed: int = 1) -> dict:
    """Draws per system-step the model's stream defines for ``params`` (uniforms, including
    the shuffles' integer draws, and normals), counted by running the pure-Python reference
    with a counting stream."""
    from stability import reference

    counts = {"word": 0, "normal": 0}

    class Counting(reference.Stream):
        def word(self):  # every draw from the stream (uniform, below, normal) reads one word
            counts["word"] += 1
            return super().word()

        def normal(self):
            counts["normal"] += 1
            return super().normal()

    q = P.resolve(params)
    steps = 0
    original = reference.Stream
    reference.Stream = Counting
    try:
        for rep in range(systems):
            out = reference.run_one(q, seed, rep)
            steps += out["hegemony_time"] if out["hegemony_time"] > 0 else q["horizon"]
    finally:
        reference.Stream = original
    # uniforms here include the integer draws of the shuffles (one word each, like a uniform)
    return {"uniform": (counts["word"] - counts["normal"]) / steps,
            "normal": counts["normal"] / steps, "steps": steps}
