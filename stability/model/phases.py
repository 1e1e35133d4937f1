"""The phases of one step of the balance-of-power model, as compiled kernels.

Each function does array arithmetic on one system and nothing else. A system lives in these
arrays (the fields of one record, ``simulate.SYSTEM``, with slots = ``MAX_SLOTS``):

- ``f``   float64[NF, slots]: capability ``R``, mobilisation ``MU``, ring position ``X``, the
  step's military share ``S`` and capability share ``SS`` snapshots, ``THR`` (the step's
  ``threat_ratio * S``), ``BROUGHT`` (war strength a participant brings) and ``TOP`` (the
  threat phase's scratch: the largest threat each state perceives);
- ``iv``  int64[NI, slots]: flags, links, bitmasks and scratch rows named below;
- ``pact`` int64[slots, slots] (0 none, 1 ordinary, 2 chain-ganged; symmetric), ``last``
  int64[slots, slots] (step two states last fought on opposite sides; NEVER for pairs that
  never fought, for i == j and for empty slots) and ``dec`` float64 (the loss-of-strength
  factor exp(-d_ij / projection_scale), fixed while both live; symmetric, so the factors of
  every state against one k are a row).

Relation sets (partners, chain-ganged partners, recent enemies, each state's bandwagoning
followers) are also kept as bitmasks (slots <= 32 fit one int64): the partner masks are
updated wherever a pact changes (set_pact), the follower masks wherever a state starts or
stops following another (set_follow), so the loops below visit only the members of a set, in
ascending slot order. Every sum runs over slots in ascending order; the reference does the
same, which is what makes the two agree bit for bit.

Speed (benchmarks/RESULTS.md): the war phase evaluates O(n^2) (initiator, target) pairs per
step, so it skips work whose result cannot matter, and only such work: a pair whose target
cannot beat the best expected gain found so far, and a pair whose perceived odds provably
stay below ``attack_threshold`` (see ``choose_target``). Skipped draws are skipped by moving
the counter of the counter-based stream, so every later draw is the one it would have been.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint64
from numba.cpython.unsafe.numbers import trailing_zeros

from .. import params as P
from . import libm
from .bits import choose
from .rng import (
    NO_NRT,
    NORMAL_COUNTERS,
    PH_ALIGN,
    PH_ALIGN_ORDER,
    PH_ENTRY,
    PH_GROWTH,
    PH_GROWTH_ORDER,
    PH_WAR,
    PH_WAR_ORDER,
    below_word,
    counter,
    key_cache_on_sources,
    normal,
    normal_word,
    set_phase,
    uniform,
    word,
)

# rows of f (Z: the latitude in radians, on the sphere only)
R, MU, X, S, SS, BROUGHT, THR, TOP, Z = 0, 1, 2, 3, 4, 5, 6, 7, 8
NF = 9
# rows of iv
(ALIVE, REV, RANK, FOLLOW, BUCK, THREAT, ORDER, HOSTILE, PARTNERS, CHAIN, SYS, FOLLOWERS,
 OWN) = range(13)
NI = 13
# OWN: each state and its partners as a bitmask, as at the step's threat phase: the alignment
# phase recomputes T_jk from it (``perceived``) while the live PARTNERS masks change
# columns of the row SYS (the system's own values, not a state's)
SYS_LIVING = 0  # bitmask of the living states, kept in step with ALIVE
SYS_THREATENED = 1  # bitmask of the states the step's threat phase found threatened
# per-run counters
C_WARS, C_ELIMINATIONS, C_ENTRIES, C_BALANCING, C_BANDWAGONING, C_BUCK_PASSING, C_CHAIN = range(7)
NC = 7
NEVER = -(1 << 40)  # "last fought" for pairs that never fought
# Relative margin of the odds screen in choose_target: rounding moves a computed odds by a
# few units in the last place (about 1e-15), so a bound 1e-6 below the threshold is safe.
SCREEN_MARGIN = 1e-6


@njit(cache=True, inline="always")
def strength(f, i):
    """Military strength M_i = r_i (1 + mu_i)."""
    return f[R, i] * (1.0 + f[MU, i])


@njit(cache=True, inline="always")
def larger(a, b):
    """a if a > b else b, as one instruction: Numba compiles max() of two floats to a call."""
    return a if a > b else b


@njit(cache=True, inline="always")
def smaller(a, b):
    """a if a < b else b (see larger)."""
    return a if a < b else b


@njit(cache=True, inline="always")
def totals(ms, f):
    """Live totals (sum of M, sum of r) over the living states, summed in slot order.

    Summed over every slot without a jump: an empty slot has r = mu = 0, and adding its
    exact zeros leaves a sum of terms that are not negative unchanged."""
    tot_m = 0.0
    tot_r = 0.0
    for s in range(ms):
        tot_m += strength(f, s)
        tot_r += f[R, s]
    return tot_m, tot_r


@njit(cache=True, inline="always")
def odds(a, d, m):
    """P(side of strength a beats side of strength d), contest exponent m.

    Ratio-form contest success function; evaluated in log space so that very large
    decisiveness cannot overflow, and exactly a / (a + d) when m = 1.
    """
    if a <= 0.0:
        return 0.0 if d > 0.0 else 0.5
    if d <= 0.0:
        return 1.0
    if m == 1.0:
        return a / (a + d)
    z = m * (libm.log(a) - libm.log(d))
    if z >= 0.0:
        return 1.0 / (1.0 + libm.exp(-z))
    e = libm.exp(z)
    return e / (1.0 + e)


@njit(cache=True, inline="always")
def alive_mask(ms, iv):
    """The living states as a bitmask: kept up to date where a state dies (kill), enters
    (entry) or starts (simulate.run_system), rather than gathered from ALIVE by a loop over the
    slots at each use (three or more times a step)."""
    return iv[SYS, SYS_LIVING]


@njit(cache=True, inline="always")
def sphere_distance(f, i, j):
    """The great-circle distance between i and j in units of the circumference (the antipode
    is 1/2 away), by the haversine formula, from longitudes 2 pi x and latitudes z."""
    h_lat = math.sin(0.5 * (f[Z, i] - f[Z, j]))
    h_lon = math.sin(math.pi * (f[X, i] - f[X, j]))
    h = h_lat * h_lat + math.cos(f[Z, i]) * math.cos(f[Z, j]) * (h_lon * h_lon)
    return math.asin(math.sqrt(smaller(h, 1.0))) / math.pi


@njit(cache=True, inline="always")
def decay(p, f, dist, i, j):
    """The loss-of-strength factor exp(-d_ij / projection_scale) (Boulding's gradient), d_ij
    by the geography: on the ring, from the matrix ``dist`` (fixed places: slot i is the i-th
    starting state's), or on the sphere."""
    geo = p[P.P_GEOGRAPHY]
    if geo == P.GEO_DISTANCES:
        d = dist[i, j]
    elif geo == P.GEO_SPHERE:
        d = sphere_distance(f, i, j)
    else:
        dx = abs(f[X, i] - f[X, j])
        d = smaller(dx, 1.0 - dx)
    return libm.exp(-d / p[P.P_PROJECTION])


@njit(cache=True, **NO_NRT)
def set_decay(p, ms, f, dist, dec, i):
    """Row and column i of the loss-of-strength factors (an entrant's)."""
    for j in range(ms):
        dec[i, j] = decay(p, f, dist, i, j)
        dec[j, i] = dec[i, j]


@njit(cache=True, **NO_NRT)
def set_all_decays(p, ms, f, dist, dec):
    """Every loss-of-strength factor, once per pair (the matrix is symmetric)."""
    for i in range(ms):
        for j in range(i, ms):
            dec[i, j] = decay(p, f, dist, i, j)
            dec[j, i] = dec[i, j]


@njit(cache=True, inline="always")
def latitude(u):
    """A uniform point's latitude on the sphere from a uniform u in [0, 1): its sine is
    uniform on [-1, 1) (Archimedes)."""
    return math.asin(2.0 * u - 1.0)


@njit(cache=True, inline="always", **NO_NRT)
def shuffle_alive(rng, step, phase, ms, iv):
    """Random order of the living states (Fisher-Yates) into iv[ORDER]; returns their count."""
    key = rng[0]
    c = counter(step, phase)
    n = 0
    rest = alive_mask(ms, iv)  # the living states in ascending slot order, as the reference
    while rest != 0:
        iv[ORDER, n] = trailing_zeros(rest)
        rest &= rest - 1
        n += 1
    return shuffle_order(rng, key, c, iv, n)


@njit(cache=True, inline="always", **NO_NRT)
def shuffle_order(rng, key, c, iv, n):
    """Fisher-Yates on the first n entries of iv[ORDER], drawing from counter c of the
    stream ``key`` on; leaves the counter after the draws in rng[1] and returns n."""
    for k in range(n - 1, 0, -1):
        j = below_word(word(key, c), k + 1)
        c += uint64(1)
        t = iv[ORDER, k]
        iv[ORDER, k] = iv[ORDER, j]
        iv[ORDER, j] = t
    rng[1] = c
    return n


@njit(cache=True, inline="always")
def keep_in_order(iv, n, members):
    """Keep only the states of the bitmask ``members`` among the first n of iv[ORDER], in
    their drawn order, without jumps (who is a member is unpredictable along a random
    order); returns how many are kept."""
    m = 0
    for o in range(n):
        s = iv[ORDER, o]
        iv[ORDER, m] = s
        m += (members >> s) & 1
    return m


@njit(cache=True, inline="always", **NO_NRT)
def growth(p, rng, t, ms, f, iv):
    """Differential growth (power transition): r_i <- r_i exp(g + sd z - cost mu_i)."""
    n = shuffle_alive(rng, t, PH_GROWTH_ORDER, ms, iv)
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
def set_follow(iv, a, k):
    """a follows k (bandwagoning; -1: nobody), keeping the followers' bitmasks in step."""
    old = iv[FOLLOW, a]
    if old >= 0:
        iv[FOLLOWERS, old] &= ~(1 << a)
    if k >= 0:
        iv[FOLLOWERS, k] |= 1 << a
    iv[FOLLOW, a] = k


@njit(cache=True, inline="always")
def set_pact(iv, pact, a, b, kind):
    """Pact of ``kind`` (0 none) between a and b, keeping the partner bitmasks in step."""
    pact[a, b] = kind
    pact[b, a] = kind
    ba = 1 << a
    bb = 1 << b
    if kind > 0:
        iv[PARTNERS, a] |= bb
        iv[PARTNERS, b] |= ba
    else:
        iv[PARTNERS, a] &= ~bb
        iv[PARTNERS, b] &= ~ba
    if kind == 2:
        iv[CHAIN, a] |= bb
        iv[CHAIN, b] |= ba
    else:
        iv[CHAIN, a] &= ~bb
        iv[CHAIN, b] &= ~ba


@njit(cache=True, inline="always")
def intent_factors(p):
    """The intent factor 1 + w I_ij of the threat perceptions without and with perceived
    intent (I_ij = 0, 1), as the threat phase and the alignment phase both compute them."""
    w = p[P.P_INTENT_WEIGHT]
    return 1.0 + w * 0.0, 1.0 + w * 1.0


@njit(cache=True, inline="always")
def perceived(s_j, d_ij, hostile_j, rev_j, own_i, g0, g1):
    """T_ij, the threat j poses to i (Walt): S_j exp(-d_ij / scale) (1 + w I_ij), from j's
    share ``s_j``, the pair's loss-of-strength factor ``d_ij``, j's recent enemies and whether
    j is revisionist, and ``own_i`` (i and its partners as at the threat phase). I_ij is 1 if
    j is revisionist or fought i or one of i's partners within `memory` steps; ``g0``/``g1``
    are the intent factor without and with it. Hostility is symmetric (o is one of j's recent
    enemies iff j is one of o's), so one test of j's enemies against i's side suffices."""
    intent = rev_j | ((hostile_j & own_i) != 0)
    return s_j * d_ij * (g1 if intent else g0)


@njit(cache=True, inline="always", **NO_NRT)
def threat(p, t, ms, f, iv, last, dec):
    """Balance of threat (Walt): T_ij = S_j exp(-d_ij / scale) (1 + w I_ij).

    Sets the step's share snapshots, each state's recent enemies and side (itself and its
    partners, as the alignment phase will read them), its principal threat (the non-partner
    with the largest T_ij, lowest slot on ties) and whether it is threatened. The T_ij
    themselves are not stored: ``perceived`` recomputes any of them from these snapshots.

    Every loop here runs over all slots without a jump, and stores only to rows that LLVM
    can tell apart from what it loads (the slot count is bounded, see simulate.run_system),
    so that it vectorises (an AVX-512 register holds eight slots). An empty slot has r = mu
    = 0, so its shares are exact zeros, and it is masked out of every candidate set.
    """
    tot_m, tot_r = totals(ms, f)
    ratio, alarm = p[P.P_THREAT_RATIO], p[P.P_ALARM_SHARE]
    alive = alive_mask(ms, iv)
    for i in range(ms):
        f[S, i] = strength(f, i) / tot_m  # 0 for an empty slot (r = mu = 0)
        f[SS, i] = f[R, i] / tot_r
        f[THR, i] = ratio * f[S, i]
        iv[OWN, i] = iv[PARTNERS, i] | (1 << i)
    # recent enemies: last[i, j] is NEVER for an empty slot, for j == i and for pairs that
    # never fought (kill and entry keep it so), so the test needs no other condition
    memory = int(p[P.P_MEMORY])
    for i in range(ms):
        h = 0
        for j in range(ms):
            h |= np.int64(t - last[i, j] <= memory) << j
        iv[HOSTILE, i] = h
    g0, g1 = intent_factors(p)
    for i in range(ms):
        f[TOP, i] = -1.0
        iv[THREAT, i] = -1
    # By source j, for every perceiver i at once (dec is symmetric: row j): the largest
    # candidate T_ij so far and its slot; a later j replaces it only if strictly larger, so
    # ties go to the lowest slot, and a NaN never does.
    for j in range(ms):
        s_j, hostile_j, rev_j = f[S, j], iv[HOSTILE, j], iv[REV, j] != 0
        alive_j = ((alive >> j) & 1) != 0
        for i in range(ms):
            own = iv[OWN, i]
            tij = perceived(s_j, dec[j, i], hostile_j, rev_j, own, g0, g1)
            better = (alive_j & (((own >> j) & 1) == 0) & (((alive >> i) & 1) != 0)
                      & (tij > f[TOP, i]))
            f[TOP, i] = tij if better else f[TOP, i]
            iv[THREAT, i] = j if better else iv[THREAT, i]
    threatened = 0
    for i in range(ms):
        best = iv[THREAT, i]
        best_t = f[TOP, i]
        # selects, not jumps (the outcome is unpredictable); f[SS, -1] is a valid slot,
        # masked out when there is no threat
        hit = (best >= 0) & ((best_t >= f[THR, i]) | (f[SS, best] >= alarm))
        threatened |= np.int64(hit) << i
    iv[SYS, SYS_THREATENED] = threatened


@njit(cache=True, inline="always", **NO_NRT)
def mobilise(p, ms, f, iv):
    """Internal balancing: arm when threatened, stand down (to the doctrine's floor) if not."""
    top, step = p[P.P_MOB_MAX], p[P.P_MOB_STEP]
    floor = p[P.P_MOB_FLOOR] * top
    threatened = iv[SYS, SYS_THREATENED]
    for i in range(ms):
        # plain selects over every slot, which LLVM vectorises (who is threatened is
        # unpredictable: a jump per slot would be mispredicted); an empty slot keeps mu = 0
        mu = f[MU, i]
        armed = smaller(top, mu + step) if (threatened >> i) & 1 else larger(floor, mu - step)
        f[MU, i] = armed if iv[ALIVE, i] != 0 else mu


@njit(cache=True, inline="always", **NO_NRT)
def align(p, rng, t, ms, f, iv, pact, dec, counts, e_buck):
    """External balancing, bandwagoning, buck-passing and chain-ganging (Waltz; Walt;
    Christensen and Snyder; Mearsheimer), each threatened state choosing with probability
    proportional to exp(utility). ``e_buck`` is exp(buckpass_weight)."""
    set_phase(rng, t, PH_ALIGN)
    decay = p[P.P_DECAY]
    for i in range(ms):
        above = iv[PARTNERS, i] & ~((2 << i) - 1)
        while above != 0:
            j = trailing_zeros(above)
            above &= above - 1
            if uniform(rng) < decay:
                set_pact(iv, pact, i, j, 0)
    following = 0  # every state that follows another: the union of the followers' masks
    for k in range(ms):
        following |= iv[FOLLOWERS, k]
    while following != 0:
        i = trailing_zeros(following)
        following &= following - 1
        k = iv[FOLLOW, i]
        gone = uniform(rng) < decay
        if gone or iv[THREAT, i] != k:
            set_follow(iv, i, -1)
    threatened = iv[SYS, SYS_THREATENED]  # living states only (threat phase)
    if threatened == 0:
        return  # nobody decides: the order (its own sub-stream) would not be used
    if threatened & (threatened - 1) != 0:
        counter = rng[1]
        n = shuffle_alive(rng, t, PH_ALIGN_ORDER, ms, iv)
        rng[1] = counter  # back to where the decay draws left off
        n = keep_in_order(iv, n, threatened)
    else:
        # one decider: the order cannot matter, so its draws are skipped (counter-based)
        iv[ORDER, 0] = trailing_zeros(threatened)
        n = 1
    alive = alive_mask(ms, iv)
    sw, bw = p[P.P_STRENGTH_W], p[P.P_BALANCE_W]
    wagon, alone = p[P.P_BANDWAGON_W], p[P.P_ALONE_W]
    alarm = p[P.P_ALARM_SHARE]
    g0, g1 = intent_factors(p)
    for o in range(n):
        i = iv[ORDER, o]
        k = iv[THREAT, i]
        if pact[i, k] > 0:
            continue  # k became i's partner earlier in this phase
        rel = f[S, i] / (f[S, i] + f[S, k])
        k_alarms = f[SS, k] >= alarm
        fk = iv[FOLLOW, k]
        others = alive & ~(1 << i) & ~(1 << k)
        cand = others & ~iv[PARTNERS, k]
        if fk >= 0:
            cand &= ~(1 << fk)
        # T_jk for every j from the threat phase's snapshots (dec is symmetric: row k)
        s_k, hostile_k, rev_k = f[S, k], iv[HOSTILE, k], iv[REV, k] != 0
        tik = perceived(s_k, dec[k, i], hostile_k, rev_k, iv[OWN, i], g0, g1)
        si = f[S, i]
        catcher = False
        ok = 0
        # A partner is a living j other than i and k, not aligned with k, itself threatened
        # by k; a catcher any j other than i and k with T_jk >= T_ik and S_j >= S_i. One pass
        # over the slots with no branches (the conditions are unpredictable) and no stores,
        # which LLVM vectorises: each condition is one vector compare. A NaN share is never a
        # partner, as under a float comparison. Which partner (the strongest) matters only if
        # i balances, so it is looked for only then, below.
        for j in range(ms):
            sj = f[S, j]
            tjk = perceived(s_k, dec[k, j], hostile_k, rev_k, iv[OWN, j], g0, g1)
            okj = ((((cand >> j) & 1) != 0) & (iv[FOLLOW, j] != k)
                   & (k_alarms | (tjk >= f[THR, j])) & (sj == sj))
            ok |= np.int64(okj) << j
            catcher |= (((others >> j) & 1) != 0) & (tjk >= tik) & (sj >= si)
        w_bal = libm.exp(bw + sw * rel) if ok != 0 else 0.0
        w_wag = libm.exp(wagon - sw * rel + (alone if ok == 0 else 0.0))
        w_buck = choose(catcher, e_buck, 0.0)
        c1 = w_bal
        c2 = c1 + w_wag
        c3 = c2 + w_buck
        u = uniform(rng) * (c3 + 1.0)  # stay out: exp(0)
        if u < c1:
            # the strongest partner, lowest slot on ties: the first strictly largest share in
            # ascending slot order (no NaN among them)
            partner = -1
            best_s = -1.0
            while ok != 0:
                j = trailing_zeros(ok)
                ok &= ok - 1
                if f[S, j] > best_s:
                    partner = j
                    best_s = f[S, j]
            kind = 2 if uniform(rng) < p[P.P_CHAIN_GANG] else 1
            set_pact(iv, pact, i, partner, kind)
            counts[C_BALANCING] += 1
            if kind == 2:
                counts[C_CHAIN] += 1
            if iv[FOLLOW, i] == k:
                set_follow(iv, i, -1)
        elif u < c2:
            set_follow(iv, i, k)
            counts[C_BANDWAGONING] += 1
        elif u < c3:
            iv[BUCK, i] = k
            counts[C_BUCK_PASSING] += 1
            if iv[FOLLOW, i] == k:
                set_follow(iv, i, -1)


@njit(cache=True, inline="always")
def screened_out(shrink, oa, d, bound):
    """choose_target's odds screen for a defence ``d`` against the attack ``oa``: d shrink >
    bound oA, without a division, both sides far from under/overflow."""
    return 1e-280 < oa < 1e280 and 1e-280 < d < 1e280 and d * shrink > bound * oa


@njit(cache=True, inline="always")
def screen_shrink(x):
    """A lower bound of exp(-x), the factor misperception puts on D / (o A): 1 - x where
    x < 0.5 (no exp(); 1 - x <= exp(-x) for every x), exp(-x) itself above (a few percent of
    the pairs at misperception_sd 0.2, which a bound 1 - x <= 0.5 would leave unscreened)."""
    return 1.0 - x if x < 0.5 else libm.exp(-x)


@njit(cache=True, inline="always")
def pair_bound(bound, best_gain, r_j, threshold):
    """The odds screen's bound for target j once a best gain is known: j can only be chosen
    if p r_j > best_gain, so its odds must reach max(threshold, best_gain / r_j) (< 1, as
    r_j > best_gain); the bound for that level, with the same margin as for the threshold."""
    if best_gain > 0.0:
        level = best_gain / r_j
        if level > threshold:
            return 1.0 / (level * (1.0 - SCREEN_MARGIN)) - 1.0
    return bound


@njit(cache=True, inline="always")
def choose_target(p, rng, i, ms, f, iv, pact, dec, alive, fought, tot_m, tot_r):
    """Initiator i's target: the largest expected gain p * r_j among targets whose perceived
    odds reach attack_threshold, or -1. Draws two misperception normals per pair evaluated.

    ``alive``/``fought`` are the bitmasks of living states and of those that fought this
    step; ``tot_m``/``tot_r`` the living states' total strength and capability. Returns the
    target (or -1) and the bitmask of the states eligible for the attacking side.

    Two exact shortcuts skip a pair:
    - a target with r_j <= the best gain so far cannot win, since p <= 1 (the stream's
      counter moves past the pair's two normals);
    - with decisiveness 1 the computed odds a / (a + d) never rise when d grows and are
      below attack_threshold whenever d / a >= 1 / (threshold (1 - SCREEN_MARGIN)) - 1;
      the misperceived d / a is (D / (o A)) exp(-x) with x = sd (z_A - z_D), at least
      (D / (o A)) (1 - x), so a pair whose bound already passes that, before the anticipated
      balancers are even added to D, cannot be attacked and needs no exp() (where x >= 0.5
      the bound uses exp(-x) itself, screen_shrink; its rounding, a few units in the last
      place, is inside SCREEN_MARGIN). The bound is tried first with j's own strength for
      D, a lower bound of the defence, then with the sum over j's partners, and then after
      each anticipated balancer added to it (the rounded partial sums of non-negative
      terms never fall, so a partial sum that passes the bound is a lower bound of the
      whole defence that does). Under the defensive preset nearly every bystander of a
      large system would balance, so this turns the O(n) sum over the bystanders of most
      pairs into a few terms. Once a best gain is
      known, the screen asks for the odds j needs to beat it, best_gain / r_j, where that
      is above the threshold (pair_bound): a target that could pass the threshold but not
      beat the best is dropped as early, and only the few pairs that become the best so
      far sum their bystanders to the end.
    """
    rho, o, m = p[P.P_RELIABILITY], p[P.P_OFFENSE], p[P.P_DECISIVENESS]
    sd, threshold = p[P.P_MISPERCEPTION], p[P.P_ATTACK_THRESHOLD]
    anticipate = p[P.P_ANTICIPATE] != 0.0
    screen = m == 1.0 and sd > 0.0 and threshold > 0.0
    bound = 1.0 / (threshold * (1.0 - SCREEN_MARGIN)) - 1.0 if screen else 0.0
    followers = iv[FOLLOWERS, i]
    free = alive & ~fought
    elig = (1 << i) | (free & (followers | iv[CHAIN, i]))
    targets = free & ~(1 << i) & ~iv[PARTNERS, i] & ~followers
    if iv[FOLLOW, i] >= 0:
        targets &= ~(1 << iv[FOLLOW, i])
    best = -1
    best_gain = -1.0
    while targets != 0:
        j = trailing_zeros(targets)
        targets &= targets - 1
        if f[R, j] <= best_gain:
            if sd > 0.0:
                rng[1] += uint64(2 * NORMAL_COUNTERS)
            continue
        att = 0.0
        side = elig
        while side != 0:
            a = trailing_zeros(side)
            side &= side - 1
            att += strength(f, a) * dec[a, j]
        if sd > 0.0:
            za = normal(rng)
            zd = normal(rng)
            if screen:
                shrink = screen_shrink(sd * (za - zd))
                oa = o * att
                bj = pair_bound(bound, best_gain, f[R, j], threshold)
                # j alone first. j's own term of the defence is M_j exactly (weight 1,
                # dec[j, j] = 1) and the others are >= 0, so the rounded sum is at least M_j
                # (rounding is monotone): a pair that M_j alone screens out (84-93% of those
                # evaluated at n_states 8) is screened out by the whole defence, whose sum over
                # j's partners is not needed. (Where that sum reaches 1e280, outside the
                # second screen's guard, the odds computed in full still fall short: below
                # the threshold, or 0 or NaN where a product overflows.)
                if screened_out(shrink, oa, strength(f, j), bj):
                    continue
        defends = iv[PARTNERS, j] & free & ~elig
        dfn = 0.0
        side = defends | (1 << j)
        full = iv[CHAIN, j] | (1 << j)  # j itself and its chain-ganged partners count fully
        while side != 0:
            d = trailing_zeros(side)
            side &= side - 1
            dfn += choose((full >> d) & 1, 1.0, rho) * (strength(f, d) * dec[d, j])
        if sd > 0.0:
            if screen and screened_out(shrink, oa, dfn, bj):  # the whole defence
                continue
            if anticipate:
                dfn = anticipated_balancing(p, i, j, ms, f, iv, dec, tot_m, tot_r, dfn,
                                            alive & ~elig & ~defends & ~followers,
                                            screen, shrink, oa, bj)
                if dfn < 0.0:  # screened out part way through the bystanders
                    continue
            att = att * libm.exp(sd * za)
            dfn = dfn * libm.exp(sd * zd)
        elif anticipate:
            dfn = anticipated_balancing(p, i, j, ms, f, iv, dec, tot_m, tot_r, dfn,
                                        alive & ~elig & ~defends & ~followers,
                                        False, 0.0, 0.0, 0.0)
        pr = odds(o * att, dfn, m)
        if pr >= threshold:
            gain = pr * f[R, j]
            if gain > best_gain:
                best = j
                best_gain = gain
    return best, elig


@njit(cache=True, inline="always")
def enlarged(p, i, j, f, tot_m, tot_r):
    """Anticipated balancing's view of i after taking j's spoils (i alone gains
    administration_efficiency * conquest_share * r_j, j loses conquest_share * r_j): i's
    military share, the living states' total strength, and whether i's capability share
    would reach alarm_share."""
    ae, cs = p[P.P_ADMIN], p[P.P_CONQUEST]
    rj = f[R, j]
    gain = ae * cs * rj
    loss = cs * rj
    ri2 = f[R, i] + gain
    mi2 = ri2 * (1.0 + f[MU, i])
    mj2 = (rj - loss) * (1.0 + f[MU, j])
    tot_m2 = tot_m + (mi2 - strength(f, i)) + (mj2 - strength(f, j))
    tot_r2 = tot_r + gain - loss
    return mi2 / tot_m2, tot_m2, ri2 / tot_r2 >= p[P.P_ALARM_SHARE]


@njit(cache=True, inline="always")
def anticipated_balancing(p, i, j, ms, f, iv, dec, tot_m, tot_r, dfn, pool, screen, shrink, oa,
                          bound):
    """Add to the defence every bystander that would be threatened by i after taking j's
    spoils (defensive realism: aggressors expect balancing coalitions). ``pool``: the living
    states on neither side and not following i.

    With ``screen``, returns -1 as soon as the defence summed so far passes choose_target's
    odds screen for (shrink, oa, bound): the pair cannot be attacked, whatever the rest adds."""
    rho, w, ratio = p[P.P_RELIABILITY], p[P.P_INTENT_WEIGHT], p[P.P_THREAT_RATIO]
    si2, tot_m2, alarmed = enlarged(p, i, j, f, tot_m, tot_r)
    rev_i = iv[REV, i] != 0
    hostile_i = iv[HOSTILE, i]
    bystanders = pool & ~(1 << i) & ~(1 << j) & ~iv[PARTNERS, i]
    while bystanders != 0:
        s = trailing_zeros(bystanders)
        bystanders &= bystanders - 1
        ms_ = strength(f, s)
        hit = alarmed
        if not hit:
            intent = rev_i or (hostile_i & (iv[PARTNERS, s] | (1 << s))) != 0
            tsi = si2 * dec[s, i] * (1.0 + w * (1.0 if intent else 0.0))
            hit = tsi >= ratio * (ms_ / tot_m2)
        if hit:
            dfn += rho * (ms_ * dec[s, j])
            if screen and screened_out(shrink, oa, dfn, bound):
                return -1.0
    return dfn


@njit(cache=True, **NO_NRT)
def kill(ms, f, iv, pact, last, e):
    """Eliminate state e: its slot is freed, its pacts, links and memories vanish."""
    iv[ALIVE, e] = 0
    iv[SYS, SYS_LIVING] &= ~(1 << e)
    f[R, e] = 0.0
    f[MU, e] = 0.0
    set_follow(iv, e, -1)
    rest = iv[FOLLOWERS, e]  # e's followers follow nobody now
    while rest != 0:
        iv[FOLLOW, trailing_zeros(rest)] = -1
        rest &= rest - 1
    iv[FOLLOWERS, e] = 0
    iv[BUCK, e] = -1
    iv[PARTNERS, e] = 0
    iv[CHAIN, e] = 0
    iv[HOSTILE, e] = 0
    bit = 1 << e
    for s in range(ms):
        pact[e, s] = 0
        pact[s, e] = 0
        last[e, s] = NEVER
        last[s, e] = NEVER
        iv[PARTNERS, s] &= ~bit
        iv[CHAIN, s] &= ~bit
        iv[HOSTILE, s] &= ~bit


@njit(cache=True, inline="always")
def form_coalitions(p, rng, i, j, ms, iv, pact, alive, fought, elig):
    """The real sides as bitmasks (attackers, defenders): i's followers join with
    probability alliance_reliability, its chain-ganged partners always (Christensen and
    Snyder); j's partners likewise; buck-passers against the opposing principal never."""
    rho = p[P.P_RELIABILITY]
    att = 1 << i
    cand = elig & ~(1 << i)
    while cand != 0:
        a = trailing_zeros(cand)
        cand &= cand - 1
        if iv[BUCK, a] == j:
            continue
        if pact[i, a] == 2 or uniform(rng) < rho:
            att |= 1 << a
    dfn = 1 << j
    cand = iv[PARTNERS, j] & alive & ~fought & ~elig & ~(1 << i)
    while cand != 0:
        d = trailing_zeros(cand)
        cand &= cand - 1
        if iv[BUCK, d] == i:
            continue
        if pact[j, d] == 2 or uniform(rng) < rho:
            dfn |= 1 << d
    return att, dfn


@njit(cache=True, inline="always", **NO_NRT)
def war(p, rng, t, ms, f, iv, pact, last, dec, counts, sizes, runs, row, nwar):
    """The war phase (Mearsheimer's offensive, Waltz's defensive realism by the preset):
    initiators in random order pick targets and fight. Returns the updated war count of the
    batch (sizes/runs record each war while there is room)."""
    revisionists_only = p[P.P_INITIATORS] == 1.0
    alive = alive_mask(ms, iv)
    starters = alive  # the states that may start a war, as a bitmask
    if revisionists_only:
        revisionists = 0
        for s in range(ms):
            revisionists |= np.int64(iv[REV, s] != 0) << s
        starters &= revisionists
    if starters == 0:
        return nwar  # nobody may start a war: the order and the draws would go unused
    if starters & (starters - 1) != 0:
        n = shuffle_alive(rng, t, PH_WAR_ORDER, ms, iv)
        if revisionists_only:
            n = keep_in_order(iv, n, starters)
    else:
        # a single possible initiator: the order cannot matter, so its draws are skipped
        iv[ORDER, 0] = trailing_zeros(starters)
        n = 1
    set_phase(rng, t, PH_WAR)
    fought = 0
    tot_m = 0.0
    tot_r = 0.0
    if p[P.P_ANTICIPATE] != 0.0:  # only anticipated balancing reads the live totals
        tot_m, tot_r = totals(ms, f)
    for o in range(n):
        i = iv[ORDER, o]
        if iv[ALIVE, i] == 0 or (fought >> i) & 1:
            continue
        j, elig = choose_target(p, rng, i, ms, f, iv, pact, dec, alive, fought, tot_m, tot_r)
        if j < 0:
            continue
        att, dfn = form_coalitions(p, rng, i, j, ms, iv, pact, alive, fought, elig)
        size = resolve_war(p, rng, t, i, j, ms, f, iv, pact, last, dec, counts, att, dfn)
        fought |= att | dfn
        alive = alive_mask(ms, iv)
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
    """Each member's war strength against target j (its strength times the loss-of-strength
    factor), into f[BROUGHT]; returns the side's total, summed in ascending slot order."""
    total = 0.0
    rest = side
    while rest != 0:
        q = trailing_zeros(rest)
        rest &= rest - 1
        f[BROUGHT, q] = strength(f, q) * dec[q, j]
        total += f[BROUGHT, q]
    return total


@njit(cache=True, inline="always")
def share_spoils(f, winners, amount, total_b):
    """The winners share ``amount`` of capability in proportion to the strength they brought."""
    rest = winners
    while rest != 0:
        q = trailing_zeros(rest)
        rest &= rest - 1
        f[R, q] = f[R, q] + amount * f[BROUGHT, q] / total_b


@njit(cache=True, **NO_NRT)
def resolve_war(p, rng, t, i, j, ms, f, iv, pact, last, dec, counts, att_side, dfn_side):
    """The war is fought on true strengths (no misperception) by the sides given as
    bitmasks, then war costs, conquest and elimination follow. Returns the war's size:
    capability destroyed (war costs plus the unadministered part of the conquest)."""
    both = att_side | dfn_side
    # the loops visit the members of a side only, in ascending slot order (as the reference)
    att = bring(f, dec, att_side, j)
    dfn = bring(f, dec, dfn_side, j)
    pr = odds(p[P.P_OFFENSE] * att, dfn, p[P.P_DECISIVENESS])
    attacker_wins = uniform(rng) < pr
    winners = att_side if attacker_wins else dfn_side
    loser = j if attacker_wins else i
    wc, cs, ae = p[P.P_WAR_COST], p[P.P_CONQUEST], p[P.P_ADMIN]
    size = 0.0
    rest = both
    while rest != 0:
        q = trailing_zeros(rest)
        rest &= rest - 1
        c = wc * f[R, q]
        f[R, q] = f[R, q] - c
        size += c
    loss = cs * f[R, loser]
    f[R, loser] = f[R, loser] - loss
    total_b = 0.0
    rest = winners
    while rest != 0:
        q = trailing_zeros(rest)
        rest &= rest - 1
        total_b += f[BROUGHT, q]
    gain = ae * loss
    share_spoils(f, winners, gain, total_b)
    size += loss - gain
    rest_a = att_side
    while rest_a != 0:
        a = trailing_zeros(rest_a)
        rest_a &= rest_a - 1
        rest = dfn_side
        while rest != 0:
            d = trailing_zeros(rest)
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
        kill(ms, f, iv, pact, last, loser)
        counts[C_ELIMINATIONS] += 1
    return size


@njit(cache=True, inline="always", **NO_NRT)
def entry(p, rng, t, ms, f, iv, dist, dec, counts):
    """Entry of a new state from outside the system (Wohlforth et al.: hegemony needs stable
    boundaries)."""
    slot = place_entrant(p, rng, t, ms, f, iv, dist, dec, counts)
    if slot >= 0:
        iv[SYS, SYS_LIVING] |= 1 << slot
        set_follow(iv, slot, -1)  # as every change of FOLLOW after the start (a no-op here)


@njit(cache=True, inline="always", **NO_NRT)
def place_entrant(p, rng, t, ms, f, iv, dist, dec, counts):
    """The draws and the slot's fields of an entry, shared by both kernels: the slot of the
    new state, or -1 where none enters. The caller adds it to its own living set and clears
    its link (FOLLOW = -1) in its own representation of the relations."""
    rate = p[P.P_ENTRY_RATE]
    if rate <= 0.0:
        return np.int64(-1)
    set_phase(rng, t, PH_ENTRY)
    if uniform(rng) >= rate:
        return np.int64(-1)
    # np.int64, not the literal -1: Numba would also compile set_decay for Literal[int](-1)
    slot = np.int64(-1)
    tot_r = 0.0
    n = 0
    for s in range(ms):
        if iv[ALIVE, s] != 0:
            tot_r += f[R, s]
            n += 1
        elif slot < 0:
            slot = s
    if slot < 0:
        return slot
    f[R, slot] = p[P.P_ENTRY_SIZE] * (tot_r / n)
    f[MU, slot] = 0.0
    f[X, slot] = uniform(rng)
    if p[P.P_GEOGRAPHY] == P.GEO_SPHERE:
        f[Z, slot] = latitude(uniform(rng))
    iv[REV, slot] = 1 if uniform(rng) < p[P.P_REVISIONIST] else 0
    iv[RANK, slot] = -1
    iv[ALIVE, slot] = 1
    iv[BUCK, slot] = -1
    set_decay(p, ms, f, dist, dec, slot)
    counts[C_ENTRIES] += 1
    return slot


@njit(cache=True, inline="always", **NO_NRT)
def hegemon(p, ms, f, iv):
    """The hegemon if the largest share reaches hegemony_threshold (Rousseau's limit) or one
    state is left, else -1."""
    alive = alive_mask(ms, iv)
    if alive != 0 and alive & (alive - 1) == 0:
        return trailing_zeros(alive)  # one state left
    # the total and the largest r over every slot without a jump: an empty slot has r = 0,
    # so it adds an exact zero and cannot hold more than the largest living r (r is never
    # negative; a NaN r makes the total NaN, so no hegemon, as before)
    tot_r = 0.0
    top = 0.0
    for s in range(ms):
        tot_r += f[R, s]
        top = larger(f[R, s], top)
    if top / tot_r >= p[P.P_HEGEMONY_THRESHOLD]:
        # the hegemon: the lowest living slot holding the largest r
        rest = alive
        while rest != 0:
            s = trailing_zeros(rest)
            rest &= rest - 1
            if f[R, s] == top:
                return s
    return -1


key_cache_on_sources(globals())
