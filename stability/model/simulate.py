"""The batch kernel: replicates in, per-run record arrays out.

``run_batch`` is the one entry point the layers above use (docs/internals.md). The compiled
loop allocates its working arrays once per batch, never inside the step loop, and releases
the GIL so that a caller's threads or processes provide the parallelism.

A system's working arrays are the fields of one record (``SYSTEM``) rather than separate
arrays: a record's array fields have shapes fixed in its dtype, so the compiler knows every
row length and the step loop addresses each element as a constant offset from the record's
one base pointer. Separate arrays carry their shapes and data pointers at run time, which the
step loop (every phase is inlined into it) kept reloading from the stack: the record cut the
instructions per system-step by about 5% and made the step 1.02-1.05x faster
(benchmarks/optimisations.md, row 19).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import params as P
from . import libm
from . import phases as ph
from . import wide as wd
from .rng import NO_NRT, key_cache_on_sources, stream_key
from .start import classify, draw_start

# Integer record columns, in this order.
INT_RECORDS = (
    "hegemony", "hegemony_time", "hegemon_rank", "survivors", "final_polarity", "wars",
    "eliminations", "entries", "balancing", "bandwagoning", "buck_passing", "chain_ganging",
)
(K_HEGEMONY, K_TIME, K_RANK, K_SURVIVORS, K_POLARITY, K_WARS, K_ELIMINATIONS, K_ENTRIES,
 K_BALANCING, K_BANDWAGONING, K_BUCK_PASSING, K_CHAIN) = range(len(INT_RECORDS))
START_FAILED = -2  # hegemony_time of a replicate whose starting system could not be drawn


# One system's working arrays (phases.py names their rows) and its stream's key and counter,
# as the fields of one record (see the module doc), for systems of up to SMALL_SLOTS slots,
# whose relations are single-word masks (phases.py).
SMALL_SLOTS = 32


def _system(slots: int, masks: list) -> np.dtype:
    """A system's record of ``slots`` slots, with the mask fields ``masks`` after f and iv."""
    return np.dtype([
        ("f", np.float64, (ph.NF, slots)),
        ("iv", np.int64, (ph.NI, slots)),
        *masks,
        ("pact", np.int64, (slots, slots)),
        ("last", np.int64, (slots, slots)),
        ("dec", np.float64, (slots, slots)),
        ("rng", np.uint64, (2,)),
        ("counts", np.int64, (ph.NC,)),
    ], align=True)


SYSTEM = _system(SMALL_SLOTS, [])  # single-word masks live in rows of iv


def wide_system(words: int) -> np.dtype:
    """The record of a system of 64 * ``words`` slots whose relations are masks of ``words``
    int64 words (wide.py). The slot count and the word count are part of the dtype, so the
    kernel is compiled once per dtype with every row length a compile-time constant."""
    slots = 64 * words
    return _system(slots, [("wm", np.int64, (wd.NWM, slots, words)),
                           ("tm", np.int64, (wd.NT, words))])


def system_dtype(max_states: int) -> np.dtype:
    """The record for systems of ``max_states`` slots: the single-word one up to SMALL_SLOTS,
    else the narrowest wide one of 64, 128 or 256 slots that holds them."""
    if max_states <= SMALL_SLOTS:
        return SYSTEM
    words = 1
    while 64 * words < max_states:
        words *= 2
    return wide_system(words)


@njit(cache=True, inline="always", **NO_NRT)
def finish(p, ms, f, iv, counts, winner, t_end, scratch, top_at, out):
    """A run's records from its final state (MODEL.md section 7) into ``out``, and its
    largest capability share into ``scratch[top_at]``: the same for both kinds of record."""
    tot_r = 0.0
    survivors = 0
    for s in range(ms):
        if iv[ph.ALIVE, s] != 0:
            tot_r += f[ph.R, s]
            survivors += 1
    top = 0.0
    for s in range(ms):
        if iv[ph.ALIVE, s] != 0:
            scratch[s] = f[ph.R, s] / tot_r
            top = max(top, scratch[s])
        else:
            scratch[s] = 0.0
    out[K_HEGEMONY] = 1 if winner >= 0 else 0
    out[K_TIME] = t_end if winner >= 0 else -1
    out[K_RANK] = iv[ph.RANK, winner] if winner >= 0 else -1
    out[K_SURVIVORS] = survivors
    out[K_POLARITY] = classify(scratch, iv[ph.ALIVE], ms, p[P.P_POLE_RATIO], p[P.P_POLE_MIN])
    out[K_WARS] = counts[ph.C_WARS]
    out[K_ELIMINATIONS] = counts[ph.C_ELIMINATIONS]
    out[K_ENTRIES] = counts[ph.C_ENTRIES]
    out[K_BALANCING] = counts[ph.C_BALANCING]
    out[K_BANDWAGONING] = counts[ph.C_BANDWAGONING]
    out[K_BUCK_PASSING] = counts[ph.C_BUCK_PASSING]
    out[K_CHAIN] = counts[ph.C_CHAIN]
    scratch[top_at] = top


@njit(cache=True, inline="always", **NO_NRT)
def start_system(p, rng, ms, f, iv, pact, last, counts, scratch, perm, out):
    """Both kernels' fresh start: the first ``ms`` slots emptied (no relations, no memories,
    no counts) and the starting system drawn into slots 0..n-1, marked alive; returns n, or
    a negative n with ``out`` marked START_FAILED where no start could be drawn. The caller
    sets its own living-set mask."""
    for s in range(ms):
        for k in range(ph.NF):
            f[k, s] = 0.0
        for k in range(ph.NI):
            iv[k, s] = 0
        iv[ph.FOLLOW, s] = -1
        iv[ph.BUCK, s] = -1
        iv[ph.RANK, s] = -1
        for q in range(ms):
            pact[s, q] = 0
            last[s, q] = ph.NEVER
    for k in range(ph.NC):
        counts[k] = 0
    n = draw_start(p, rng, f[ph.R], f[ph.X], f[ph.Z], iv[ph.REV], iv[ph.RANK], scratch,
                   perm)
    if n < 0:
        out[:] = 0
        out[K_TIME] = START_FAILED
        return n
    for s in range(n):
        iv[ph.ALIVE, s] = 1
    return n


@njit(cache=True, **NO_NRT)
def run_system(p, key, system, dist, sizes, runs, row, nwar, scratch, perm, out, shr, occ):
    """Simulate one system, whose stream has key ``key``, from its start to hegemony or the
    horizon, in ``system`` (a SYSTEM array of one record); fill ``out``. ``dist``: the
    distance matrix under geography 'distances' (otherwise unread). With a non-empty ``shr``
    also fill row ``row`` of ``shr``/``occ`` (see _record_shares). Without, ``shr`` and
    ``occ`` are None, and the compiler prunes the recording branches from that
    specialisation: the step loop is then the one compiled before the option existed."""
    sy = system[0]
    f, iv, pact, last, dec = sy.f, sy.iv, sy.pact, sy.last, sy.dec
    rng, counts = sy.rng, sy.counts
    rng[0] = key
    # min() changes nothing (run_batch picks this record for max_states <= SMALL_SLOTS) but
    # tells LLVM the
    # bound: with it, LLVM can tell the record's rows apart in the threat phase's loops
    # and vectorises them for eight slots and more, not sixteen and more (row 25 of
    # benchmarks/optimisations.md)
    ms = min(int(p[P.P_MAX_STATES]), SMALL_SLOTS)
    n = start_system(p, rng, ms, f, iv, pact, last, counts, scratch, perm, out)
    if n < 0:
        return nwar
    iv[ph.SYS, ph.SYS_LIVING] = (1 << n) - 1
    ph.set_all_decays(p, ms, f, dist, dec)
    if shr is not None:
        for s in range(n):
            occ[row, 0, s] = s
        _record_shares(ms, f, iv, shr[row, 0], occ[row, 0])
    horizon = int(p[P.P_HORIZON])
    alliances = p[P.P_ALLIANCES] != 0.0
    e_buck = libm.exp(p[P.P_BUCKPASS_W])
    winner = -1
    t_end = horizon
    for t in range(1, horizon + 1):
        ph.growth(p, rng, t, ms, f, iv)
        ph.threat(p, t, ms, f, iv, last, dec)
        ph.mobilise(p, ms, f, iv)
        for s in range(ms):
            iv[ph.BUCK, s] = -1  # a buck-passing stance lasts one step
        if alliances:
            ph.align(p, rng, t, ms, f, iv, pact, dec, counts, e_buck)
        nwar = ph.war(p, rng, t, ms, f, iv, pact, last, dec, counts, sizes, runs, row, nwar)
        if shr is not None:
            # occupants after the war phase, so that a slot freed by an elimination and
            # refilled by this step's entrant is told apart from a state that lived on
            for s in range(ms):
                occ[row, t, s] = occ[row, t - 1, s] if iv[ph.ALIVE, s] != 0 else -1
        ph.entry(p, rng, t, ms, f, iv, dist, dec, counts)
        if shr is not None:
            for s in range(ms):
                if iv[ph.ALIVE, s] != 0 and occ[row, t, s] < 0:
                    occ[row, t, s] = n + counts[ph.C_ENTRIES] - 1
            _record_shares(ms, f, iv, shr[row, t], occ[row, t])
        winner = ph.hegemon(p, ms, f, iv)
        if winner >= 0:
            t_end = t
            break
    finish(p, ms, f, iv, counts, winner, t_end, scratch, SMALL_SLOTS, out)
    return nwar


@njit(cache=True, **NO_NRT)
def run_system_wide(p, key, system, dist, sizes, runs, row, nwar, scratch, perm, out):
    """run_system for a wide record (wide.py): the same start, steps and records."""
    sy = system[0]
    f, iv, wm, tm, pact, last, dec = sy.f, sy.iv, sy.wm, sy.tm, sy.pact, sy.last, sy.dec
    rng, counts = sy.rng, sy.counts
    rng[0] = key
    slots = f.shape[1]
    ms = min(int(p[P.P_MAX_STATES]), slots)
    for s in range(ms):
        for k in range(wd.NWM):
            wd.clear(wm[k, s])
    for k in range(wd.NT):
        wd.clear(tm[k])
    n = start_system(p, rng, ms, f, iv, pact, last, counts, scratch, perm, out)
    if n < 0:
        return nwar
    for s in range(n):
        wd.add(tm[wd.T_LIVING], s)
    ph.set_all_decays(p, ms, f, dist, dec)
    horizon = int(p[P.P_HORIZON])
    alliances = p[P.P_ALLIANCES] != 0.0
    e_buck = libm.exp(p[P.P_BUCKPASS_W])
    winner = -1
    t_end = horizon
    for t in range(1, horizon + 1):
        wd.growth(p, rng, t, ms, f, iv, tm)
        wd.threat(p, t, ms, f, iv, wm, tm, last, dec)
        wd.mobilise(p, ms, f, iv, tm)
        for s in range(ms):
            iv[ph.BUCK, s] = -1
        if alliances:
            wd.align(p, rng, t, ms, f, iv, wm, tm, pact, dec, counts, e_buck)
        nwar = wd.war(p, rng, t, ms, f, iv, wm, tm, pact, last, dec, counts, sizes, runs, row,
                      nwar)
        wd.entry(p, rng, t, ms, f, iv, wm, tm, dist, dec, counts)
        winner = wd.hegemon(p, ms, f, iv, tm)
        if winner >= 0:
            t_end = t
            break
    finish(p, ms, f, iv, counts, winner, t_end, scratch, slots, out)
    return nwar


@njit(cache=True, **NO_NRT)
def _record_shares(ms, f, iv, shr_t, occ_t):
    """Capability shares of the living states at the end of a step (NaN for empty slots),
    summed in slot order as the reference does."""
    tot = 0.0
    for s in range(ms):
        if iv[ph.ALIVE, s] != 0:
            tot += f[ph.R, s]
    for s in range(ms):
        shr_t[s] = f[ph.R, s] / tot if iv[ph.ALIVE, s] != 0 else np.nan
        if iv[ph.ALIVE, s] == 0:
            occ_t[s] = -1


@njit(nogil=True, cache=True)
def _run_batch(pmat, seed, reps, ints, top_share, sizes, runs, dist, shr, occ):
    slots = SMALL_SLOTS
    # the array, not a record taken from it, is what the loop passes on: a record holds no
    # reference to its array, which would be freed after its last use here while the step loop
    # still wrote into it
    system = np.zeros(1, dtype=SYSTEM)
    scratch = np.zeros(slots + 1)
    perm = np.zeros(slots, dtype=np.int64)
    # np.int64(0), not 0: typing the call with the literal 0 first compiled a second run_system
    # for Literal[int](0), as long as the one used (the first compile took 80-87 s, not 44-53 s)
    nwar = np.int64(0)
    shared = pmat.shape[0] == 1
    for row in range(reps.size):
        p = pmat[0] if shared else pmat[row]
        nwar = run_system(p, stream_key(seed, reps[row]), system, dist, sizes, runs, row, nwar,
                          scratch, perm, ints[row], shr, occ)
        top_share[row] = scratch[SMALL_SLOTS]
    return nwar


@njit(nogil=True, cache=True)
def _run_batch_wide(pmat, seed, reps, ints, top_share, sizes, runs, system, dist):
    """_run_batch for a wide record ``system`` (an array of one, allocated by the caller,
    whose dtype chooses the compiled specialisation)."""
    slots = system[0].f.shape[1]
    scratch = np.zeros(slots + 1)
    perm = np.zeros(slots, dtype=np.int64)
    nwar = np.int64(0)
    shared = pmat.shape[0] == 1
    for row in range(reps.size):
        p = pmat[0] if shared else pmat[row]
        nwar = run_system_wide(p, stream_key(seed, reps[row]), system, dist, sizes, runs, row,
                               nwar, scratch, perm, ints[row])
        top_share[row] = scratch[slots]
    return nwar


def run_batch(pmat, seed, reps, record_wars=False, distances=None,
              record_shares=False):
    """Run replicates ``reps`` of parameter rows ``pmat`` under experiment ``seed``.

    ``pmat``: float64 (1, N_PACKED) shared by all replicates, or (len(reps), N_PACKED).
    ``distances``: the matrix of params.distance_matrix, needed where a row's geography is
    'distances' (one matrix for the batch: it is a cell's, not a replicate's).
    Returns a dict of per-run arrays (docs/internals.md); with ``record_wars`` also
    ``war_size`` and ``war_run``; with ``record_shares`` also ``shares`` (float64, (runs,
    horizon + 1, max_states): each slot's capability share after step t, t = 0 the start, NaN
    for an empty slot and after the run ended) and ``occupant`` (int64, same shape: who holds
    the slot, the starting states 0..n-1 in slot order and entrants n, n+1, ... in order of
    entry; -1 where empty). Raises RuntimeError if a starting system could not be drawn.
    """
    pmat = np.ascontiguousarray(np.atleast_2d(pmat), dtype=np.float64)
    reps = np.ascontiguousarray(reps, dtype=np.int64)
    if pmat.shape[1] != P.N_PACKED or pmat.shape[0] not in (1, reps.size):
        raise ValueError(f"pmat must have shape (1 or {reps.size}, {P.N_PACKED}), "
                         f"got {pmat.shape}")
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed}")
    n = reps.size
    ints = np.zeros((n, len(INT_RECORDS)), dtype=np.int64)
    top = np.zeros(n)
    cap = 8 * n if record_wars else 0
    max_states = int(pmat[:, P.P_MAX_STATES].max())
    if not 2 <= max_states <= P.MAX_SLOTS:
        raise ValueError(f"max_states must be in 2..{P.MAX_SLOTS}, got {max_states}")
    dtype = system_dtype(max_states)
    if record_shares:
        if dtype is not SYSTEM:
            raise ValueError(f"record_shares is for systems of up to {SMALL_SLOTS} slots, "
                             f"got max_states {max_states}")
        steps = int(pmat[:, P.P_HORIZON].max()) + 1
        shr = np.full((n, steps, max_states), np.nan)
        occ = np.full((n, steps, max_states), -1, dtype=np.int64)
    else:
        shr = occ = None
    if (pmat[:, P.P_GEOGRAPHY] == P.GEO_DISTANCES).any():
        if distances is None:
            raise ValueError("geography 'distances' needs the distances matrix")
        dist = np.ascontiguousarray(distances, dtype=np.float64)
        if dist.ndim != 2 or min(dist.shape) < max_states:
            raise ValueError(f"distances must be a matrix of at least {max_states} x "
                             f"{max_states}, got shape {dist.shape}")
    else:
        dist = np.zeros((1, 1))
    while True:
        sizes = np.zeros(cap)
        runs = np.zeros(cap, dtype=np.int64)
        if dtype is SYSTEM:
            nwar = _run_batch(pmat, int(seed), reps, ints, top, sizes, runs, dist, shr, occ)
        else:
            nwar = _run_batch_wide(pmat, int(seed), reps, ints, top, sizes, runs,
                                   np.zeros(1, dtype=dtype), dist)
        if nwar <= cap or not record_wars:
            break
        cap = nwar  # deterministic: the rerun produces the same wars, now with room
    failed = ints[:, K_TIME] == START_FAILED
    if failed.any():
        raise RuntimeError(f"no starting system could be drawn for replicate "
                           f"{int(reps[np.argmax(failed)])}; widen the polarity ranges")
    out = {name: ints[:, k] for k, name in enumerate(INT_RECORDS)}
    out["hegemony"] = out["hegemony"].astype(bool)
    out["final_max_share"] = top
    if record_wars:
        out["war_size"] = sizes[:nwar]
        out["war_run"] = runs[:nwar]
    if record_shares:
        out["shares"] = shr
        out["occupant"] = occ
    return out


key_cache_on_sources(globals())
