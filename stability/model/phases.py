"""The phases of one step of the balance-of-power model, as compiled kernels.

Each function does array arithmetic on one system and nothing else. A system lives in:

- ``f``   float64[NF, slots]: capability ``R``, mobilisation ``MU``, ring position ``X``, the
  step's military share ``S`` and capability share ``SS`` snapshots, and ``BROUGHT`` (war
  strength a participant brings);
- ``iv``  int64[NI, slots]: flags, links and scratch rows named below;
- ``pact`` int64[slots, slots] (0 none, 1 ordinary, 2 chain-ganged; symmetric), ``last``
  int64[slots, slots] (step two states last fought on opposite sides), ``dec`` float64
  (the loss-of-strength factor exp(-d_ij / projection_scale), fixed while both live) and
  ``T`` float64 (the step's threat perceptions T_ij).

Relation sets (partners, recent enemies) are also kept as bitmasks so that the intent term of
the threat (Walt: perceived intentions) costs O(1) per pair: slots <= 32 fit one int64.
Every sum runs over slots in ascending order; the reference does the same, which is what
makes the two agree bit for bit.
"""

from __future__ import annotations

import math

from numba import njit

from .. import params as P
from .rng import (
    PH_ALIGN,
    PH_ALIGN_ORDER,
    PH_ENTRY,
    PH_GROWTH,
    PH_GROWTH_ORDER,
    PH_WAR,
    PH_WAR_ORDER,
    below,
    normal,
    set_phase,
    uniform,
)

# rows of f
R, MU, X, S, SS, BROUGHT = 0, 1, 2, 3, 4, 5
NF = 6
# rows of iv
(ALIVE, REV, RANK, FOLLOW, BUCK, THREAT, THREATENED, FOUGHT, SIDE, ELIGIBLE, DEFENDS, ORDER,
 HOSTILE, PARTNERS) = range(14)
NI = 14
# per-run counters
C_WARS, C_ELIMINATIONS, C_ENTRIES, C_BALANCING, C_BANDWAGONING, C_BUCK_PASSING, C_CHAIN = range(7)
NC = 7
NEVER = -(1 << 40)  # "last fought" for pairs that never fought


@njit(cache=True, inline="always")
def strength(f, i):
    """Military strength M_i = r_i (1 + mu_i)."""
    return f[R, i] * (1.0 + f[MU, i])


@njit(cache=True)
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
    z = m * (math.log(a) - math.log(d))
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(cache=True)
def set_decay(p, ms, f, dec, i):
    """Row and column i of the loss-of-strength factors (Boulding's gradient on the ring)."""
    scale = p[P.P_PROJECTION]
    for j in range(ms):
        dx = abs(f[X, i] - f[X, j])
        d = min(dx, 1.0 - dx)
        dec[i, j] = math.exp(-d / scale)
        dec[j, i] = dec[i, j]


@njit(cache=True)
def shuffle_alive(rng, step, phase, ms, iv):
    """Random order of the living states (Fisher-Yates) into iv[ORDER]; returns their count."""
    set_phase(rng, step, phase)
    n = 0
    for i in range(ms):
        if iv[ALIVE, i] != 0:
            iv[ORDER, n] = i
            n += 1
    for k in range(n - 1, 0, -1):
        j = below(rng, k + 1)
        t = iv[ORDER, k]
        iv[ORDER, k] = iv[ORDER, j]
        iv[ORDER, j] = t
    return n


@njit(cache=True)
def growth(p, rng, t, ms, f, iv):
    """Differential growth (power transition): r_i <- r_i exp(g + sd z - cost mu_i)."""
    n = shuffle_alive(rng, t, PH_GROWTH_ORDER, ms, iv)
    set_phase(rng, t, PH_GROWTH)
    gm, gsd, cost = p[P.P_GROWTH_MEAN], p[P.P_GROWTH_SD], p[P.P_MOB_COST]
    for k in range(n):
        i = iv[ORDER, k]
        z = normal(rng)
        f[R, i] = f[R, i] * math.exp(gm + gsd * z - cost * f[MU, i])


@njit(cache=True)
def partner_masks(ms, iv, pact):
    for i in range(ms):
        m = 0
        for j in range(ms):
            if pact[i, j] > 0:
                m |= 1 << j
        iv[PARTNERS, i] = m


@njit(cache=True)
def threat(p, t, ms, f, iv, pact, last, dec, T):
    """Balance of threat (Walt): T_ij = S_j exp(-d_ij / scale) (1 + w I_ij).

    Sets the step's share snapshots, every T_ij, each state's principal threat (the
    non-partner with the largest T_ij, lowest slot on ties) and whether it is threatened.
    """
    tot_m = 0.0
    tot_r = 0.0
    for i in range(ms):
        if iv[ALIVE, i] != 0:
            tot_m += strength(f, i)
            tot_r += f[R, i]
    for i in range(ms):
        if iv[ALIVE, i] != 0:
            f[S, i] = strength(f, i) / tot_m
            f[SS, i] = f[R, i] / tot_r
    memory = int(p[P.P_MEMORY])
    for i in range(ms):
        h = 0
        if iv[ALIVE, i] != 0:
            for j in range(ms):
                if iv[ALIVE, j] != 0 and j != i and t - last[i, j] <= memory:
                    h |= 1 << j
        iv[HOSTILE, i] = h
    partner_masks(ms, iv, pact)
    w, ratio, alarm = p[P.P_INTENT_WEIGHT], p[P.P_THREAT_RATIO], p[P.P_ALARM_SHARE]
    for i in range(ms):
        if iv[ALIVE, i] == 0:
            continue
        own = iv[PARTNERS, i] | (1 << i)
        best = -1
        best_t = -1.0
        for j in range(ms):
            if iv[ALIVE, j] == 0 or j == i:
                continue
            intent = iv[REV, j] != 0 or (iv[HOSTILE, j] & own) != 0
            tij = f[S, j] * dec[i, j] * (1.0 + w * (1.0 if intent else 0.0))
            T[i, j] = tij
            if pact[i, j] == 0 and tij > best_t:
                best = j
                best_t = tij
        iv[THREAT, i] = best
        hit = best >= 0 and (best_t >= ratio * f[S, i] or f[SS, best] >= alarm)
        iv[THREATENED, i] = 1 if hit else 0


@njit(cache=True)
def mobilise(p, ms, f, iv):
    """Internal balancing: arm when threatened, stand down (to the doctrine's floor) if not."""
    top, step = p[P.P_MOB_MAX], p[P.P_MOB_STEP]
    floor = p[P.P_MOB_FLOOR] * top
    for i in range(ms):
        if iv[ALIVE, i] == 0:
            continue
        if iv[THREATENED, i] != 0:
            f[MU, i] = min(top, f[MU, i] + step)
        else:
            f[MU, i] = max(floor, f[MU, i] - step)


@njit(cache=True)
def threatened_by(p, f, T, j, k):
    """The threat test of state j against k on the step's perceptions."""
    return T[j, k] >= p[P.P_THREAT_RATIO] * f[S, j] or f[SS, k] >= p[P.P_ALARM_SHARE]


@njit(cache=True)
def align(p, rng, t, ms, f, iv, pact, T, counts):
    """External balancing, bandwagoning, buck-passing and chain-ganging (Waltz; Walt;
    Christensen and Snyder; Mearsheimer), each threatened state choosing with probability
    proportional to exp(utility)."""
    n = shuffle_alive(rng, t, PH_ALIGN_ORDER, ms, iv)
    set_phase(rng, t, PH_ALIGN)
    decay = p[P.P_DECAY]
    for i in range(ms):
        for j in range(i + 1, ms):
            if pact[i, j] > 0 and uniform(rng) < decay:
                pact[i, j] = 0
                pact[j, i] = 0
    for i in range(ms):
        k = iv[FOLLOW, i]
        if k >= 0:
            gone = uniform(rng) < decay
            if gone or iv[THREAT, i] != k:
                iv[FOLLOW, i] = -1
    sw, bw = p[P.P_STRENGTH_W], p[P.P_BALANCE_W]
    wagon, buck, alone = p[P.P_BANDWAGON_W], p[P.P_BUCKPASS_W], p[P.P_ALONE_W]
    for o in range(n):
        i = iv[ORDER, o]
        if iv[THREATENED, i] == 0:
            continue
        k = iv[THREAT, i]
        if pact[i, k] > 0:
            continue  # k became i's partner earlier in this phase
        rel = f[S, i] / (f[S, i] + f[S, k])
        partner = -1
        partner_s = -1.0
        catcher = False
        for j in range(ms):
            if iv[ALIVE, j] == 0 or j == i or j == k:
                continue
            if (pact[j, k] == 0 and iv[FOLLOW, j] != k and iv[FOLLOW, k] != j
                    and threatened_by(p, f, T, j, k) and f[S, j] > partner_s):
                partner = j
                partner_s = f[S, j]
            if T[j, k] >= T[i, k] and f[S, j] >= f[S, i]:
                catcher = True
        w_bal = math.exp(bw + sw * rel) if partner >= 0 else 0.0
        w_wag = math.exp(wagon - sw * rel + (alone if partner < 0 else 0.0))
        w_buck = math.exp(buck) if catcher else 0.0
        c1 = w_bal
        c2 = c1 + w_wag
        c3 = c2 + w_buck
        u = uniform(rng) * (c3 + 1.0)  # stay out: exp(0)
        if u < c1:
            kind = 2 if uniform(rng) < p[P.P_CHAIN_GANG] else 1
            pact[i, partner] = kind
            pact[partner, i] = kind
            counts[C_BALANCING] += 1
            if kind == 2:
                counts[C_CHAIN] += 1
            if iv[FOLLOW, i] == k:
                iv[FOLLOW, i] = -1
        elif u < c2:
            iv[FOLLOW, i] = k
            counts[C_BANDWAGONING] += 1
        elif u < c3:
            iv[BUCK, i] = k
            counts[C_BUCK_PASSING] += 1
            if iv[FOLLOW, i] == k:
                iv[FOLLOW, i] = -1


@njit(cache=True)
def choose_target(p, rng, i, ms, f, iv, pact, dec):
    """Initiator i's target: the largest expected gain p * r_j among targets whose perceived
    odds reach attack_threshold, or -1. Draws two misperception normals per pair evaluated."""
    tot_m = 0.0
    tot_r = 0.0
    for s in range(ms):
        if iv[ALIVE, s] != 0:
            tot_m += strength(f, s)
            tot_r += f[R, s]
    for a in range(ms):
        iv[ELIGIBLE, a] = 1 if a == i or (
            iv[ALIVE, a] != 0 and iv[FOUGHT, a] == 0
            and (iv[FOLLOW, a] == i or pact[i, a] == 2)) else 0
    rho, o, m = p[P.P_RELIABILITY], p[P.P_OFFENSE], p[P.P_DECISIVENESS]
    sd, threshold = p[P.P_MISPERCEPTION], p[P.P_ATTACK_THRESHOLD]
    anticipate = p[P.P_ANTICIPATE] != 0.0
    best = -1
    best_gain = -1.0
    for j in range(ms):
        if (iv[ALIVE, j] == 0 or j == i or iv[FOUGHT, j] != 0 or pact[i, j] > 0
                or iv[FOLLOW, j] == i or iv[FOLLOW, i] == j):
            continue
        att = 0.0
        for a in range(ms):
            if iv[ELIGIBLE, a] != 0:
                att += strength(f, a) * dec[a, j]
        dfn = 0.0
        for d in range(ms):
            iv[DEFENDS, d] = 0
            if d == j:
                dfn += 1.0 * (strength(f, d) * dec[d, j])
            elif (iv[ALIVE, d] != 0 and iv[FOUGHT, d] == 0 and pact[j, d] > 0
                  and iv[ELIGIBLE, d] == 0):
                weight = 1.0 if pact[j, d] == 2 else rho
                dfn += weight * (strength(f, d) * dec[d, j])
                iv[DEFENDS, d] = 1
        if anticipate:
            dfn = anticipated_balancing(p, i, j, ms, f, iv, pact, dec, tot_m, tot_r, dfn)
        if sd > 0.0:
            att = att * math.exp(sd * normal(rng))
            dfn = dfn * math.exp(sd * normal(rng))
        pr = odds(o * att, dfn, m)
        if pr >= threshold:
            gain = pr * f[R, j]
            if gain > best_gain:
                best = j
                best_gain = gain
    return best


@njit(cache=True)
def anticipated_balancing(p, i, j, ms, f, iv, pact, dec, tot_m, tot_r, dfn):
    """Add to the defence every bystander that would be threatened by i after taking j's
    spoils (defensive realism: aggressors expect balancing coalitions)."""
    ae, cs, rho = p[P.P_ADMIN], p[P.P_CONQUEST], p[P.P_RELIABILITY]
    w, ratio, alarm = p[P.P_INTENT_WEIGHT], p[P.P_THREAT_RATIO], p[P.P_ALARM_SHARE]
    rj = f[R, j]
    gain = ae * cs * rj
    loss = cs * rj
    ri2 = f[R, i] + gain
    mi2 = ri2 * (1.0 + f[MU, i])
    mj2 = (rj - loss) * (1.0 + f[MU, j])
    tot_m2 = tot_m + (mi2 - strength(f, i)) + (mj2 - strength(f, j))
    tot_r2 = tot_r + gain - loss
    si2 = mi2 / tot_m2
    alarmed = ri2 / tot_r2 >= alarm
    for s in range(ms):
        if (iv[ALIVE, s] == 0 or s == i or s == j or iv[ELIGIBLE, s] != 0
                or iv[DEFENDS, s] != 0 or pact[i, s] > 0 or iv[FOLLOW, s] == i):
            continue
        ms_ = strength(f, s)
        hit = alarmed
        if not hit:
            intent = iv[REV, i] != 0 or (iv[HOSTILE, i] & (iv[PARTNERS, s] | (1 << s))) != 0
            tsi = si2 * dec[s, i] * (1.0 + w * (1.0 if intent else 0.0))
            hit = tsi >= ratio * (ms_ / tot_m2)
        if hit:
            dfn += rho * (ms_ * dec[s, j])
    return dfn


@njit(cache=True)
def kill(ms, f, iv, pact, last, e):
    """Eliminate state e: its slot is freed, its pacts, links and memories vanish."""
    iv[ALIVE, e] = 0
    f[R, e] = 0.0
    f[MU, e] = 0.0
    iv[FOLLOW, e] = -1
    iv[BUCK, e] = -1
    iv[PARTNERS, e] = 0
    iv[HOSTILE, e] = 0
    bit = 1 << e
    for s in range(ms):
        pact[e, s] = 0
        pact[s, e] = 0
        last[e, s] = NEVER
        last[s, e] = NEVER
        if iv[FOLLOW, s] == e:
            iv[FOLLOW, s] = -1
        iv[PARTNERS, s] &= ~bit
        iv[HOSTILE, s] &= ~bit


@njit(cache=True)
def form_coalitions(p, rng, i, j, ms, iv, pact):
    """The real sides in iv[SIDE] (1 attacker, 2 defender): i's followers join with
    probability alliance_reliability, its chain-ganged partners always (Christensen and
    Snyder); j's partners likewise; buck-passers against the opposing principal never."""
    rho = p[P.P_RELIABILITY]
    for s in range(ms):
        iv[SIDE, s] = 0
    iv[SIDE, i] = 1
    for a in range(ms):
        if a == i or iv[ELIGIBLE, a] == 0 or iv[BUCK, a] == j:
            continue
        if pact[i, a] == 2 or uniform(rng) < rho:
            iv[SIDE, a] = 1
    for d in range(ms):
        if (d == i or d == j or iv[ALIVE, d] == 0 or iv[FOUGHT, d] != 0
                or iv[ELIGIBLE, d] != 0 or pact[j, d] == 0 or iv[BUCK, d] == i):
            continue
        if pact[j, d] == 2 or uniform(rng) < rho:
            iv[SIDE, d] = 2
    iv[SIDE, j] = 2


@njit(cache=True)
def war(p, rng, t, ms, f, iv, pact, last, dec, counts, sizes, runs, row, nwar):
    """The war phase (Mearsheimer's offensive, Waltz's defensive realism by the preset):
    initiators in random order pick targets and fight. Returns the updated war count of the
    batch (sizes/runs record each war while there is room)."""
    n = shuffle_alive(rng, t, PH_WAR_ORDER, ms, iv)
    set_phase(rng, t, PH_WAR)
    partner_masks(ms, iv, pact)
    for s in range(ms):
        iv[FOUGHT, s] = 0
    revisionists_only = p[P.P_INITIATORS] == 1.0
    for o in range(n):
        i = iv[ORDER, o]
        if iv[ALIVE, i] == 0 or iv[FOUGHT, i] != 0:
            continue
        if revisionists_only and iv[REV, i] == 0:
            continue
        j = choose_target(p, rng, i, ms, f, iv, pact, dec)
        if j < 0:
            continue
        size = resolve_war(p, rng, t, i, j, ms, f, iv, pact, last, dec, counts)
        counts[C_WARS] += 1
        if nwar < sizes.size:
            sizes[nwar] = size
            runs[nwar] = row
        nwar += 1
    return nwar


@njit(cache=True)
def resolve_war(p, rng, t, i, j, ms, f, iv, pact, last, dec, counts):
    """Coalitions form, the war is fought on true strengths (no misperception), then war
    costs, conquest and elimination follow. Returns the war's size: capability destroyed
    (war costs plus the unadministered part of the conquest)."""
    form_coalitions(p, rng, i, j, ms, iv, pact)
    att = 0.0
    dfn = 0.0
    for q in range(ms):
        if iv[SIDE, q] != 0:
            b = strength(f, q) * dec[q, j]
            f[BROUGHT, q] = b
            if iv[SIDE, q] == 1:
                att += b
            else:
                dfn += b
    pr = odds(p[P.P_OFFENSE] * att, dfn, p[P.P_DECISIVENESS])
    attacker_wins = uniform(rng) < pr
    winners = 1 if attacker_wins else 2
    loser = j if attacker_wins else i
    wc, cs, ae = p[P.P_WAR_COST], p[P.P_CONQUEST], p[P.P_ADMIN]
    size = 0.0
    for q in range(ms):
        if iv[SIDE, q] != 0:
            c = wc * f[R, q]
            f[R, q] = f[R, q] - c
            size += c
    loss = cs * f[R, loser]
    f[R, loser] = f[R, loser] - loss
    total_b = 0.0
    for q in range(ms):
        if iv[SIDE, q] == winners:
            total_b += f[BROUGHT, q]
    gain = ae * loss
    for q in range(ms):
        if iv[SIDE, q] == winners:
            f[R, q] = f[R, q] + gain * f[BROUGHT, q] / total_b
    size += loss - gain
    for a in range(ms):
        if iv[SIDE, a] == 1:
            for d in range(ms):
                if iv[SIDE, d] == 2:
                    last[a, d] = t
                    last[d, a] = t
    for q in range(ms):
        if iv[SIDE, q] != 0:
            iv[FOUGHT, q] = 1
    tot_r = 0.0
    for s in range(ms):
        if iv[ALIVE, s] != 0:
            tot_r += f[R, s]
    rest = f[R, loser]
    if rest < p[P.P_ELIMINATION] * tot_r or rest <= 0.0:
        kept = ae * rest
        for q in range(ms):
            if iv[SIDE, q] == winners:
                f[R, q] = f[R, q] + kept * f[BROUGHT, q] / total_b
        size += rest - kept
        kill(ms, f, iv, pact, last, loser)
        counts[C_ELIMINATIONS] += 1
    return size


@njit(cache=True)
def entry(p, rng, t, ms, f, iv, dec, counts):
    """Entry of a new state from outside the system (Wohlforth et al.: hegemony needs stable
    boundaries)."""
    rate = p[P.P_ENTRY_RATE]
    if rate <= 0.0:
        return
    set_phase(rng, t, PH_ENTRY)
    if uniform(rng) >= rate:
        return
    slot = -1
    tot_r = 0.0
    n = 0
    for s in range(ms):
        if iv[ALIVE, s] != 0:
            tot_r += f[R, s]
            n += 1
        elif slot < 0:
            slot = s
    if slot < 0:
        return
    f[R, slot] = p[P.P_ENTRY_SIZE] * (tot_r / n)
    f[MU, slot] = 0.0
    f[X, slot] = uniform(rng)
    iv[REV, slot] = 1 if uniform(rng) < p[P.P_REVISIONIST] else 0
    iv[RANK, slot] = -1
    iv[ALIVE, slot] = 1
    iv[FOLLOW, slot] = -1
    iv[BUCK, slot] = -1
    set_decay(p, ms, f, dec, slot)
    counts[C_ENTRIES] += 1


@njit(cache=True)
def hegemon(p, ms, f, iv):
    """The hegemon if the largest share reaches hegemony_threshold (Rousseau's limit) or one
    state is left, else -1."""
    tot_r = 0.0
    best = -1
    n = 0
    for s in range(ms):
        if iv[ALIVE, s] != 0:
            tot_r += f[R, s]
            n += 1
            if best < 0 or f[R, s] > f[R, best]:
                best = s
    if n == 1 or f[R, best] / tot_r >= p[P.P_HEGEMONY_THRESHOLD]:
        return best
    return -1
