"""The phases of one step for systems of more than 32 slots: relations as multi-word masks.

The rules, the draws and the order of every sum are those of phases.py, which this module
follows function by function (its docstrings give the theory); only the representation of
the relation sets differs. phases.py keeps each set (partners, chain-ganged partners,
recent enemies, followers, the living and the threatened) in one int64, which holds at most
64 slots; here each set is ``W`` int64 words, slot s being bit ``s & 63`` of word ``s >> 6``,
with ``W`` fixed by the record's dtype (``simulate.system_dtype``), so that every loop over
the words has a compile-time bound. Members are still visited in ascending slot order (the
words in order, each from its lowest bit), which keeps every sum, hence every record, the
reference's bit for bit.

Why two modules and not one generic one: the small systems the experiments mostly run (8
states) are what the single-word code was optimised for, row by row
(benchmarks/optimisations.md); a word loop in each of its mask operations, even one of
bound 1, changes the code LLVM produces there, and its speed. The small path is left as it
was, and this one is chosen per batch for ``max_states`` above 32.

Besides ``f``, ``iv``, ``pact``, ``last`` and ``dec`` (as in phases.py; iv's mask rows are
unused here), a system has
- ``wm`` int64[NWM, slots, W]: each state's sets, rows named M_* below;
- ``tm`` int64[NT, W]: the system's own sets (living, threatened) and the phases' scratch
  sets, rows named T_* below (the kernels allocate nothing).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64
from numba.cpython.unsafe.numbers import trailing_zeros

from .. import params as P
from . import libm
from .bits import choose
from .phases import (
    ALIVE,
    BROUGHT,
    BUCK,
    C_BALANCING,
    C_BANDWAGONING,
    C_BUCK_PASSING,
    C_CHAIN,
    C_ELIMINATIONS,
    C_WARS,
    FOLLOW,
    MU,
    NEVER,
    ORDER,
    REV,
    SCREEN_MARGIN,
    SS,
    THR,
    THREAT,
    TOP,
    R,
    S,
    enlarged,
    intent_factors,
    larger,
    odds,
    pair_bound,
    place_entrant,
    screen_shrink,
    screened_out,
    shuffle_order,
    smaller,
    strength,
    totals,
)
from .rng import (
    NO_NRT,
    NORMAL_COUNTERS,
    PH_ALIGN,
    PH_ALIGN_ORDER,
    PH_GROWTH,
    PH_GROWTH_ORDER,
    PH_WAR,
    PH_WAR_ORDER,
    counter,
    key_cache_on_sources,
    normal,
    normal_word,
    set_phase,
    uniform,
    word,
)

# rows of wm (per state)
M_HOSTILE, M_PARTNERS, M_CHAIN, M_FOLLOWERS, M_OWN, M_BALANCERS = range(6)
NWM = 6
# rows of tm (the system's sets and the phases' scratch sets)
(T_LIVING, T_THREATENED, T_FOLLOWING, T_OTHERS, T_CAND, T_OK, T_STARTERS, T_FOUGHT, T_ELIG,
 T_TARGETS, T_DEFENDS, T_SIDE, T_POOL, T_ATT, T_DFN, T_BOTH, T_KNOWN) = range(17)
NT = 17


# ---- sets of W words -------------------------------------------------------------------------

@njit(cache=True, inline="always")
def has(m, s):
    """Whether slot s is in the set m (0 or 1)."""
    return (m[s >> 6] >> (s & 63)) & 1


@njit(cache=True, inline="always")
def add(m, s):
    m[s >> 6] |= np.int64(1) << (s & 63)


@njit(cache=True, inline="always")
def remove(m, s):
    m[s >> 6] &= ~(np.int64(1) << (s & 63))


@njit(cache=True, inline="always")
def clear(m):
    for w in range(m.size):
        m[w] = 0


@njit(cache=True, inline="always")
def copy(dst, src):
    for w in range(dst.size):
        dst[w] = src[w]


@njit(cache=True, inline="always")
def empty(m):
    z = np.int64(0)
    for w in range(m.size):
        z |= m[w]
    return z == 0


@njit(cache=True, inline="always")
def intersects(a, b):
    z = np.int64(0)
    for w in range(a.size):
        z |= a[w] & b[w]
    return z != 0


@njit(cache=True, inline="always")
def count(m):
    """The number of members, up to 2 (all the callers need: none, one or several)."""
    k = 0
    for w in range(m.size):
        x = m[w]
        if x != 0:
            k += 1 if x & (x - 1) == 0 else 2
    return k


@njit(cache=True, inline="always")
def lowest(m):
    """The lowest member, or -1 for an empty set."""
    for w in range(m.size):
        if m[w] != 0:
            return (w << 6) | trailing_zeros(m[w])
    return -1


# ---- the phases ------------------------------------------------------------------------------

@njit(cache=True, inline="always", **NO_NRT)
def shuffle_alive(rng, step, phase, iv, tm):
    """Random order of the living states into iv[ORDER] (phases.shuffle_alive)."""
    key = rng[0]
    c = counter(step, phase)
    n = 0
    living = tm[T_LIVING]
    for w in range(living.size):
        rest = living[w]
        while rest != 0:
            iv[ORDER, n] = (w << 6) | trailing_zeros(rest)
            rest &= rest - 1
            n += 1
    return shuffle_order(rng, key, c, iv, n)


@njit(cache=True, inline="always")
def keep_in_order(iv, n, members):
    m = 0
    for o in range(n):
        s = iv[ORDER, o]
        iv[ORDER, m] = s
        m += has(members, s)
    return m


@njit(cache=True, inline="always", **NO_NRT)
def growth(p, rng, t, ms, f, iv, tm):
    n = shuffle_alive(rng, t, PH_GROWTH_ORDER, iv, tm)
    key = rng[0]
    c = counter(t, PH_GROWTH)
    gm, gsd, cost = p[P.P_GROWTH_MEAN], p[P.P_GROWTH_SD], p[P.P_MOB_COST]
    for k in range(n):
        i = iv[ORDER, k]
        z = normal_word(word(key, c))
        c += uint64(1)
        f[R, i] = f[R, i] * libm.exp(gm + gsd * z - cost * f[MU, i])
    rng[1] = c


@njit(cache=True, inline="always")
def set_follow(iv, wm, a, k):
    old = iv[FOLLOW, a]
    if old >= 0:
        remove(wm[M_FOLLOWERS, old], a)
    if k >= 0:
        add(wm[M_FOLLOWERS, k], a)
    iv[FOLLOW, a] = k


@njit(cache=True, inline="always")
def set_pact(wm, pact, a, b, kind):
    pact[a, b] = kind
    pact[b, a] = kind
    if kind > 0:
        add(wm[M_PARTNERS, a], b)
        add(wm[M_PARTNERS, b], a)
    else:
        remove(wm[M_PARTNERS, a], b)
        remove(wm[M_PARTNERS, b], a)
    if kind == 2:
        add(wm[M_CHAIN, a], b)
        add(wm[M_CHAIN, b], a)
    else:
        remove(wm[M_CHAIN, a], b)
        remove(wm[M_CHAIN, b], a)


@njit(cache=True, inline="always")
def perceived(s_j, d_ij, intent, g0, g1):
    """T_ij (phases.perceived), the intent test done by the caller."""
    return s_j * d_ij * (g1 if intent else g0)


@njit(cache=True, inline="always", **NO_NRT)
def threat(p, t, ms, f, iv, wm, tm, last, dec):
    """Balance of threat (phases.threat)."""
    tot_m, tot_r = totals(ms, f)
    ratio, alarm = p[P.P_THREAT_RATIO], p[P.P_ALARM_SHARE]
    living = tm[T_LIVING]
    for i in range(ms):
        f[S, i] = strength(f, i) / tot_m
        f[SS, i] = f[R, i] / tot_r
        f[THR, i] = ratio * f[S, i]
        copy(wm[M_OWN, i], wm[M_PARTNERS, i])
        add(wm[M_OWN, i], i)
    memory = int(p[P.P_MEMORY])
    nw = living.size
    for i in range(ms):
        for w in range(nw):
            h = np.int64(0)
            base = w << 6
            top = min(64, ms - base)
            for b in range(top):
                h |= np.int64(t - last[i, base + b] <= memory) << b
            wm[M_HOSTILE, i, w] = h
    g0, g1 = intent_factors(p)
    for i in range(ms):
        f[TOP, i] = -1.0
        iv[THREAT, i] = -1
    for j in range(ms):
        s_j, rev_j = f[S, j], iv[REV, j] != 0
        hostile_j = wm[M_HOSTILE, j]
        alive_j = has(living, j) != 0
        for i in range(ms):
            own = wm[M_OWN, i]
            tij = perceived(s_j, dec[j, i], rev_j | intersects(hostile_j, own), g0, g1)
            better = (alive_j & (has(own, j) == 0) & (has(living, i) != 0)
                      & (tij > f[TOP, i]))
            f[TOP, i] = tij if better else f[TOP, i]
            iv[THREAT, i] = j if better else iv[THREAT, i]
    threatened = tm[T_THREATENED]
    clear(threatened)
    for i in range(ms):
        best = iv[THREAT, i]
        best_t = f[TOP, i]
        hit = (best >= 0) & ((best_t >= f[THR, i]) | (f[SS, best] >= alarm))
        threatened[i >> 6] |= np.int64(hit) << (i & 63)


@njit(cache=True, inline="always", **NO_NRT)
def mobilise(p, ms, f, iv, tm):
    top, step = p[P.P_MOB_MAX], p[P.P_MOB_STEP]
    floor = p[P.P_MOB_FLOOR] * top
    threatened = tm[T_THREATENED]
    for i in range(ms):
        mu = f[MU, i]
        armed = smaller(top, mu + step) if has(threatened, i) else larger(floor, mu - step)
        f[MU, i] = armed if iv[ALIVE, i] != 0 else mu


@njit(cache=True, inline="always", **NO_NRT)
def align(p, rng, t, ms, f, iv, wm, tm, pact, dec, counts, e_buck):
    """External balancing, bandwagoning, buck-passing and chain-ganging (phases.align)."""
    set_phase(rng, t, PH_ALIGN)
    decay = p[P.P_DECAY]
    nw = tm.shape[1]
    for i in range(ms):
        # the partners above i, word by word: set_pact(i, j, 0) clears only bit j of i's
        # partners, which the loop has already passed
        w0 = i >> 6
        for w in range(w0, nw):
            above = wm[M_PARTNERS, i, w]
            if w == w0:
                above &= ~((np.int64(2) << (i & 63)) - 1)
            while above != 0:
                j = (w << 6) | trailing_zeros(above)
                above &= above - 1
                if uniform(rng) < decay:
                    set_pact(wm, pact, i, j, 0)
    following = tm[T_FOLLOWING]
    clear(following)
    for k in range(ms):
        for w in range(nw):
            following[w] |= wm[M_FOLLOWERS, k, w]
    for w in range(nw):
        rest = following[w]
        while rest != 0:
            i = (w << 6) | trailing_zeros(rest)
            rest &= rest - 1
            k = iv[FOLLOW, i]
            gone = uniform(rng) < decay
            if gone or iv[THREAT, i] != k:
                set_follow(iv, wm, i, -1)
    threatened = tm[T_THREATENED]
    deciders = count(threatened)
    if deciders == 0:
        return
    if deciders > 1:
        cnt = rng[1]
        n = shuffle_alive(rng, t, PH_ALIGN_ORDER, iv, tm)
        rng[1] = cnt
        n = keep_in_order(iv, n, threatened)
    else:
        iv[ORDER, 0] = lowest(threatened)
        n = 1
    living = tm[T_LIVING]
    others = tm[T_OTHERS]
    cand = tm[T_CAND]
    ok = tm[T_OK]
    sw, bw = p[P.P_STRENGTH_W], p[P.P_BALANCE_W]
    wagon, alone = p[P.P_BANDWAGON_W], p[P.P_ALONE_W]
    alarm = p[P.P_ALARM_SHARE]
    g0, g1 = intent_factors(p)
    # The states that k threatens enough to balance it (T_jk >= threat_ratio S_j, or k
    # alarms), wm[M_BALANCERS, k], depend only on the step's threat perception, which the
    # phase does not change: computed once per threat k and step, for the first state it
    # threatens that decides, not once per decider (a pass over every j for each decider
    # cost up to n^2 perception products a step, a fifth of a 256-state defensive run).
    known = tm[T_KNOWN]
    clear(known)
    for o in range(n):
        i = iv[ORDER, o]
        k = iv[THREAT, i]
        if pact[i, k] > 0:
            continue
        rel = f[S, i] / (f[S, i] + f[S, k])
        k_alarms = f[SS, k] >= alarm
        fk = iv[FOLLOW, k]
        for w in range(nw):
            others[w] = living[w]
            cand[w] = 0
            ok[w] = 0
        remove(others, i)
        remove(others, k)
        for w in range(nw):
            cand[w] = others[w] & ~wm[M_PARTNERS, k, w]
        if fk >= 0:
            remove(cand, fk)
        s_k, rev_k = f[S, k], iv[REV, k] != 0
        hostile_k = wm[M_HOSTILE, k]
        quiet_k = rev_k or empty(hostile_k)  # then k's intent is the same towards every j
        tik = perceived(s_k, dec[k, i], rev_k | intersects(hostile_k, wm[M_OWN, i]), g0, g1)
        si = f[S, i]
        balancers = wm[M_BALANCERS, k]
        if has(known, k) == 0:
            add(known, k)
            clear(balancers)
            for j in range(ms):
                sj = f[S, j]
                intent = rev_k or (not quiet_k and intersects(hostile_k, wm[M_OWN, j]))
                tjk = perceived(s_k, dec[k, j], intent, g0, g1)
                okj = (k_alarms | (tjk >= f[THR, j])) & (sj == sj)
                balancers[j >> 6] |= np.int64(okj) << (j & 63)
        # partners: not i or k, not k's partner or leader, not following k
        for w in range(nw):
            ok[w] = cand[w] & balancers[w] & ~wm[M_FOLLOWERS, k, w]
        # a catcher: any other living j at least as threatened by k and as strong as i
        catcher = False
        for w in range(nw):
            rest = others[w]
            while rest != 0 and not catcher:
                j = (w << 6) | trailing_zeros(rest)
                rest &= rest - 1
                if f[S, j] >= si:
                    intent = rev_k or (not quiet_k and intersects(hostile_k, wm[M_OWN, j]))
                    catcher = perceived(s_k, dec[k, j], intent, g0, g1) >= tik
        any_ok = not empty(ok)
        w_bal = libm.exp(bw + sw * rel) if any_ok else 0.0
        w_wag = libm.exp(wagon - sw * rel + (alone if not any_ok else 0.0))
        w_buck = choose(catcher, e_buck, 0.0)
        c1 = w_bal
        c2 = c1 + w_wag
        c3 = c2 + w_buck
        u = uniform(rng) * (c3 + 1.0)
        if u < c1:
            partner = -1
            best_s = -1.0
            for w in range(nw):
                rest = ok[w]
                while rest != 0:
                    j = (w << 6) | trailing_zeros(rest)
                    rest &= rest - 1
                    if f[S, j] > best_s:
                        partner = j
                        best_s = f[S, j]
            kind = 2 if uniform(rng) < p[P.P_CHAIN_GANG] else 1
            set_pact(wm, pact, i, partner, kind)
            counts[C_BALANCING] += 1
            if kind == 2:
                counts[C_CHAIN] += 1
            if iv[FOLLOW, i] == k:
                set_follow(iv, wm, i, -1)
        elif u < c2:
            set_follow(iv, wm, i, k)
            counts[C_BANDWAGONING] += 1
        elif u < c3:
            iv[BUCK, i] = k
            counts[C_BUCK_PASSING] += 1
            if iv[FOLLOW, i] == k:
                set_follow(iv, wm, i, -1)


@njit(cache=True, inline="always")
def choose_target(p, rng, i, ms, f, iv, wm, tm, pact, dec, tot_m, tot_r):
    """Initiator i's target, or -1 (phases.choose_target, with its two exact shortcuts).
    Leaves the set of the states eligible for the attacking side in tm[T_ELIG]."""
    rho, o, m = p[P.P_RELIABILITY], p[P.P_OFFENSE], p[P.P_DECISIVENESS]
    sd, threshold = p[P.P_MISPERCEPTION], p[P.P_ATTACK_THRESHOLD]
    anticipate = p[P.P_ANTICIPATE] != 0.0
    screen = m == 1.0 and sd > 0.0 and threshold > 0.0
    bound = 1.0 / (threshold * (1.0 - SCREEN_MARGIN)) - 1.0 if screen else 0.0
    living, fought = tm[T_LIVING], tm[T_FOUGHT]
    elig, targets, defends, side = tm[T_ELIG], tm[T_TARGETS], tm[T_DEFENDS], tm[T_SIDE]
    pool = tm[T_POOL]
    followers = wm[M_FOLLOWERS, i]
    nw = tm.shape[1]
    for w in range(nw):
        free = living[w] & ~fought[w]
        elig[w] = free & (followers[w] | wm[M_CHAIN, i, w])
        targets[w] = free & ~wm[M_PARTNERS, i, w] & ~followers[w]
    add(elig, i)
    remove(targets, i)
    if iv[FOLLOW, i] >= 0:
        remove(targets, iv[FOLLOW, i])
    best = -1
    best_gain = -1.0
    for tw in range(nw):
        rest_t = targets[tw]
        while rest_t != 0:
            j = (tw << 6) | trailing_zeros(rest_t)
            rest_t &= rest_t - 1
            if f[R, j] <= best_gain:
                if sd > 0.0:
                    rng[1] += uint64(2 * NORMAL_COUNTERS)
                continue
            att = 0.0
            for w in range(nw):
                rest = elig[w]
                while rest != 0:
                    a = (w << 6) | trailing_zeros(rest)
                    rest &= rest - 1
                    att += strength(f, a) * dec[a, j]
            if sd > 0.0:
                za = normal(rng)
                zd = normal(rng)
                if screen:
                    shrink = screen_shrink(sd * (za - zd))
                    oa = o * att
                    bj = pair_bound(bound, best_gain, f[R, j], threshold)
                    if screened_out(shrink, oa, strength(f, j), bj):
                        continue
            for w in range(nw):
                defends[w] = wm[M_PARTNERS, j, w] & living[w] & ~fought[w] & ~elig[w]
                side[w] = defends[w]
            add(side, j)
            full = wm[M_CHAIN, j]
            dfn = 0.0
            for w in range(nw):
                rest = side[w]
                while rest != 0:
                    d = (w << 6) | trailing_zeros(rest)
                    rest &= rest - 1
                    dfn += choose((d == j) | (has(full, d) != 0), 1.0, rho) * (
                        strength(f, d) * dec[d, j])
            if anticipate:
                for w in range(nw):
                    pool[w] = living[w] & ~elig[w] & ~defends[w] & ~followers[w]
            if sd > 0.0:
                if screen and screened_out(shrink, oa, dfn, bj):
                    continue
                if anticipate:
                    dfn = anticipated_balancing(p, i, j, f, iv, wm, dec, tot_m, tot_r, dfn,
                                                pool, screen, shrink, oa, bj)
                    if dfn < 0.0:  # screened out part way through the bystanders
                        continue
                att = att * libm.exp(sd * za)
                dfn = dfn * libm.exp(sd * zd)
            elif anticipate:
                dfn = anticipated_balancing(p, i, j, f, iv, wm, dec, tot_m, tot_r, dfn, pool,
                                            False, 0.0, 0.0, 0.0)
            pr = odds(o * att, dfn, m)
            if pr >= threshold:
                gain = pr * f[R, j]
                if gain > best_gain:
                    best = j
                    best_gain = gain
    return best


@njit(cache=True, inline="always")
def anticipated_balancing(p, i, j, f, iv, wm, dec, tot_m, tot_r, dfn, pool, screen, shrink, oa,
                          bound):
    """phases.anticipated_balancing (-1 where the partial defence passes the odds screen);
    ``pool`` is changed (i, j and i's partners removed)."""
    rho, w, ratio = p[P.P_RELIABILITY], p[P.P_INTENT_WEIGHT], p[P.P_THREAT_RATIO]
    si2, tot_m2, alarmed = enlarged(p, i, j, f, tot_m, tot_r)
    rev_i = iv[REV, i] != 0
    hostile_i = wm[M_HOSTILE, i]
    remove(pool, i)
    remove(pool, j)
    for k in range(pool.size):
        pool[k] &= ~wm[M_PARTNERS, i, k]
    for k in range(pool.size):
        rest = pool[k]
        while rest != 0:
            s = (k << 6) | trailing_zeros(rest)
            rest &= rest - 1
            ms_ = strength(f, s)
            hit = alarmed
            if not hit:
                intent = rev_i or has(hostile_i, s) != 0 or intersects(hostile_i,
                                                                       wm[M_PARTNERS, s])
                tsi = si2 * dec[s, i] * (1.0 + w * (1.0 if intent else 0.0))
                hit = tsi >= ratio * (ms_ / tot_m2)
            if hit:
                dfn += rho * (ms_ * dec[s, j])
                if screen and screened_out(shrink, oa, dfn, bound):
                    return -1.0
    return dfn


@njit(cache=True, **NO_NRT)
def kill(ms, f, iv, wm, tm, pact, last, e):
    """Eliminate state e (phases.kill)."""
    iv[ALIVE, e] = 0
    remove(tm[T_LIVING], e)
    f[R, e] = 0.0
    f[MU, e] = 0.0
    set_follow(iv, wm, e, -1)
    followers = wm[M_FOLLOWERS, e]
    for w in range(followers.size):
        rest = followers[w]
        while rest != 0:
            iv[FOLLOW, (w << 6) | trailing_zeros(rest)] = -1
            rest &= rest - 1
    clear(followers)
    iv[BUCK, e] = -1
    clear(wm[M_PARTNERS, e])
    clear(wm[M_CHAIN, e])
    clear(wm[M_HOSTILE, e])
    for s in range(ms):
        pact[e, s] = 0
        pact[s, e] = 0
        last[e, s] = NEVER
        last[s, e] = NEVER
        remove(wm[M_PARTNERS, s], e)
        remove(wm[M_CHAIN, s], e)
        remove(wm[M_HOSTILE, s], e)


@njit(cache=True, inline="always")
def form_coalitions(p, rng, i, j, iv, wm, tm, pact):
    """The real sides, into tm[T_ATT] and tm[T_DFN] (phases.form_coalitions)."""
    rho = p[P.P_RELIABILITY]
    living, fought, elig = tm[T_LIVING], tm[T_FOUGHT], tm[T_ELIG]
    att, dfn, cand = tm[T_ATT], tm[T_DFN], tm[T_CAND]
    copy(cand, elig)
    remove(cand, i)
    join_side(rng, iv, pact, i, j, cand, rho, att)
    for w in range(tm.shape[1]):
        cand[w] = wm[M_PARTNERS, j, w] & living[w] & ~fought[w] & ~elig[w]
    remove(cand, i)
    join_side(rng, iv, pact, j, i, cand, rho, dfn)


@njit(cache=True, inline="always")
def join_side(rng, iv, pact, leader, enemy, cand, rho, side):
    """``side`` = the leader and those of ``cand`` that join it, in slot order: not a state
    buck-passing to the enemy; a chain-ganged partner always, any other with probability
    rho (one uniform each)."""
    clear(side)
    add(side, leader)
    for w in range(cand.size):
        rest = cand[w]
        while rest != 0:
            a = (w << 6) | trailing_zeros(rest)
            rest &= rest - 1
            if iv[BUCK, a] == enemy:
                continue
            if pact[leader, a] == 2 or uniform(rng) < rho:
                add(side, a)


@njit(cache=True, inline="always", **NO_NRT)
def war(p, rng, t, ms, f, iv, wm, tm, pact, last, dec, counts, sizes, runs, row, nwar):
    """The war phase (phases.war)."""
    revisionists_only = p[P.P_INITIATORS] == 1.0
    starters = tm[T_STARTERS]
    copy(starters, tm[T_LIVING])
    if revisionists_only:
        for s in range(ms):
            if iv[REV, s] == 0:
                remove(starters, s)
    k = count(starters)
    if k == 0:
        return nwar
    if k > 1:
        n = shuffle_alive(rng, t, PH_WAR_ORDER, iv, tm)
        if revisionists_only:
            n = keep_in_order(iv, n, starters)
    else:
        iv[ORDER, 0] = lowest(starters)
        n = 1
    set_phase(rng, t, PH_WAR)
    fought = tm[T_FOUGHT]
    clear(fought)
    nw = tm.shape[1]
    tot_m = 0.0
    tot_r = 0.0
    if p[P.P_ANTICIPATE] != 0.0:
        tot_m, tot_r = totals(ms, f)
    for o in range(n):
        i = iv[ORDER, o]
        if iv[ALIVE, i] == 0 or has(fought, i):
            continue
        j = choose_target(p, rng, i, ms, f, iv, wm, tm, pact, dec, tot_m, tot_r)
        if j < 0:
            continue
        form_coalitions(p, rng, i, j, iv, wm, tm, pact)
        size = resolve_war(p, rng, t, i, j, ms, f, iv, wm, tm, pact, last, dec, counts)
        for w in range(nw):
            fought[w] |= tm[T_ATT, w] | tm[T_DFN, w]
        if p[P.P_ANTICIPATE] != 0.0:
            tot_m, tot_r = totals(ms, f)
        counts[C_WARS] += 1
        if nwar < sizes.size:
            sizes[nwar] = size
            runs[nwar] = row
        nwar += 1
    return nwar


@njit(cache=True, inline="always")
def bring(f, dec, side, j):
    total = 0.0
    for w in range(side.size):
        rest = side[w]
        while rest != 0:
            q = (w << 6) | trailing_zeros(rest)
            rest &= rest - 1
            f[BROUGHT, q] = strength(f, q) * dec[q, j]
            total += f[BROUGHT, q]
    return total


@njit(cache=True, inline="always")
def share_spoils(f, winners, amount, total_b):
    for w in range(winners.size):
        rest = winners[w]
        while rest != 0:
            q = (w << 6) | trailing_zeros(rest)
            rest &= rest - 1
            f[R, q] = f[R, q] + amount * f[BROUGHT, q] / total_b


@njit(cache=True, **NO_NRT)
def resolve_war(p, rng, t, i, j, ms, f, iv, wm, tm, pact, last, dec, counts):
    """The war between the sides tm[T_ATT] and tm[T_DFN] (phases.resolve_war)."""
    att_side, dfn_side, both = tm[T_ATT], tm[T_DFN], tm[T_BOTH]
    nw = tm.shape[1]
    for w in range(nw):
        both[w] = att_side[w] | dfn_side[w]
    att = bring(f, dec, att_side, j)
    dfn = bring(f, dec, dfn_side, j)
    pr = odds(p[P.P_OFFENSE] * att, dfn, p[P.P_DECISIVENESS])
    attacker_wins = uniform(rng) < pr
    winners = att_side if attacker_wins else dfn_side
    loser = j if attacker_wins else i
    wc, cs, ae = p[P.P_WAR_COST], p[P.P_CONQUEST], p[P.P_ADMIN]
    size = 0.0
    for w in range(nw):
        rest = both[w]
        while rest != 0:
            q = (w << 6) | trailing_zeros(rest)
            rest &= rest - 1
            c = wc * f[R, q]
            f[R, q] = f[R, q] - c
            size += c
    loss = cs * f[R, loser]
    f[R, loser] = f[R, loser] - loss
    total_b = 0.0
    for w in range(nw):
        rest = winners[w]
        while rest != 0:
            q = (w << 6) | trailing_zeros(rest)
            rest &= rest - 1
            total_b += f[BROUGHT, q]
    gain = ae * loss
    share_spoils(f, winners, gain, total_b)
    size += loss - gain
    for wa in range(nw):
        rest_a = att_side[wa]
        while rest_a != 0:
            a = (wa << 6) | trailing_zeros(rest_a)
            rest_a &= rest_a - 1
            for w in range(nw):
                rest = dfn_side[w]
                while rest != 0:
                    d = (w << 6) | trailing_zeros(rest)
                    rest &= rest - 1
                    last[a, d] = t
                    last[d, a] = t
    tot_r = 0.0
    for s in range(ms):
        if iv[ALIVE, s] != 0:
            tot_r += f[R, s]
    left = f[R, loser]
    if left < p[P.P_ELIMINATION] * tot_r or left <= 0.0:
        kept = ae * left
        share_spoils(f, winners, kept, total_b)
        size += left - kept
        kill(ms, f, iv, wm, tm, pact, last, loser)
        counts[C_ELIMINATIONS] += 1
    return size


@njit(cache=True, inline="always", **NO_NRT)
def entry(p, rng, t, ms, f, iv, wm, tm, dist, dec, counts):
    """Entry of a new state from outside the system (phases.entry)."""
    slot = place_entrant(p, rng, t, ms, f, iv, dist, dec, counts)
    if slot >= 0:
        add(tm[T_LIVING], slot)
        set_follow(iv, wm, slot, -1)


@njit(cache=True, inline="always")
def hegemon(p, ms, f, iv, tm):
    """The hegemon, or -1 (phases.hegemon)."""
    living = tm[T_LIVING]
    if count(living) == 1:
        return lowest(living)
    tot_r = 0.0
    top = 0.0
    for s in range(ms):
        tot_r += f[R, s]
        top = larger(f[R, s], top)
    if top / tot_r >= p[P.P_HEGEMONY_THRESHOLD]:
        for w in range(living.size):
            rest = living[w]
            while rest != 0:
                s = (w << 6) | trailing_zeros(rest)
                rest &= rest - 1
                if f[R, s] == top:
                    return s
    return -1


key_cache_on_sources(globals())
