"""The model in plain Python: the test oracle for the compiled kernels.

Written for reading, not speed: states are objects, relations are sets and dicts keyed by
state identity, and hostility memory is the list of every fight. It follows docs/model.md
rule by rule, draws the same random numbers in the same order from an independent
implementation of the counter-based generator, and sums in ascending slot order, so that its
records equal the kernel's bit for bit (tests/test_reference.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import params as P

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
START, GROWTH_ORDER, GROWTH, ALIGN_ORDER, ALIGN, WAR_ORDER, WAR, ENTRY = 1, 2, 3, 4, 5, 6, 7, 8
MAX_POLE_TRIES = 10_000
MAX_MINOR_TRIES = 10_000


# The ziggurat's layers: edges x_k (x_0 = v / f(r) is the base strip's width, x_1 = r,
# x_256 = 0) and heights f(x_k) of the half-normal density f(x) = exp(-x^2 / 2).
ZIG_R = 3.6541528853610088
ZIG_V = 0.00492867323399
ZIG_X = [ZIG_V / math.exp(-0.5 * ZIG_R * ZIG_R), ZIG_R]
while len(ZIG_X) < 256:
    ZIG_X.append(math.sqrt(-2.0 * math.log(ZIG_V / ZIG_X[-1] + math.exp(-0.5 * ZIG_X[-1]
                                                                         * ZIG_X[-1]))))
ZIG_X.append(0.0)
ZIG_F = [0.0] + [math.exp(-0.5 * x * x) for x in ZIG_X[1:]]


def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class Stream:
    """Replicate ``rep``'s counter-based stream (see stability.model.rng)."""

    def __init__(self, seed: int, rep: int):
        self.key = _mix64((_mix64(seed ^ 0x5851F42D4C957F2D) + (rep + 1) * GOLDEN) & MASK)
        self.counter = 0

    def phase(self, step: int, phase: int) -> None:
        self.counter = (step << 32) | (phase << 27)

    def word(self) -> int:
        z = _mix64(self.key ^ ((self.counter * GOLDEN) & MASK))
        self.counter += 1
        return z

    def uniform(self) -> float:
        return (self.word() >> 11) * 2.0**-53

    def normal(self) -> float:
        """Ziggurat (Marsaglia and Tsang 2000, 256 layers): one counter value per variate;
        rejected words are replaced from a SplitMix64 sequence seeded with the first."""
        word = self.word()
        chain = word
        while True:
            layer = word & 255
            x = (word >> 11) * 2.0**-53 * ZIG_X[layer]
            if x < ZIG_X[layer + 1]:
                break  # inside the layer's rectangle
            if layer == 0:  # the tail beyond r (Marsaglia 1964)
                while True:
                    chain = (chain + GOLDEN) & MASK
                    a = -math.log(1.0 - (_mix64(chain) >> 11) * 2.0**-53) / ZIG_R
                    chain = (chain + GOLDEN) & MASK
                    b = -math.log(1.0 - (_mix64(chain) >> 11) * 2.0**-53)
                    if b + b > a * a:
                        break
                x = ZIG_R + a
                break
            chain = (chain + GOLDEN) & MASK
            y = ZIG_F[layer] + (_mix64(chain) >> 11) * 2.0**-53 * (ZIG_F[layer + 1]
                                                                   - ZIG_F[layer])
            if y < math.exp(-0.5 * x * x):
                break  # under the density in the layer's wedge
            chain = (chain + GOLDEN) & MASK
            word = _mix64(chain)
        return -x if (word >> 8) & 1 else x

    def below(self, n: int) -> int:
        """floor(n u) for the word's 53-bit u, in exact integer arithmetic."""
        return ((self.word() >> 11) * n) >> 53

    def shuffled(self, items: list) -> list:
        items = list(items)
        for k in range(len(items) - 1, 0, -1):
            j = self.below(k + 1)
            items[k], items[j] = items[j], items[k]
        return items


@dataclass(eq=False)
class State:
    slot: int
    r: float
    x: float
    revisionist: bool
    rank: int
    uid: int  # identity for relations; a slot is reused by entrants, an uid never
    lat: float = 0.0  # latitude in radians (geography 'sphere')
    mu: float = 0.0
    follows: State | None = None
    buck: State | None = None  # this step's buck-passing stance against this state
    fought: bool = False
    # the step's perceptions
    S: float = 0.0
    s: float = 0.0
    threat: State | None = None
    threatened: bool = False
    T: dict = field(default_factory=dict)

    @property
    def M(self) -> float:
        return self.r * (1.0 + self.mu)


def odds(a: float, d: float, m: float) -> float:
    """Contest success: a / (a + d) for m = 1, the logistic of m log(a/d) otherwise."""
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


def classify(shares: list[float], ratio: float, minimum: float) -> int:
    top = max(shares)
    poles = sum(1 for s in shares if s >= ratio * top and s >= minimum)
    return poles if poles in (1, 2) else 3


class System:
    """One run of the model under resolved parameters ``q`` (a dict of public names)."""

    def __init__(self, q: dict, seed: int, rep: int):
        self.q = q
        self.rng = Stream(seed, rep)
        self.slots: list[State | None] = [None] * q["max_states"]
        self.pacts: dict[frozenset, int] = {}  # {frozenset({a, b}): 1 ordinary | 2 chain}
        self.fights: dict[frozenset, list[int]] = {}  # every step two states fought
        self.counts = dict.fromkeys(("wars", "eliminations", "entries", "balancing",
                                     "bandwagoning", "buck_passing", "chain_ganging"), 0)
        self.war_sizes: list[float] = []
        self.uids = 0
        # geography 'distances': the places are the slots (an entrant takes its slot's)
        self.places = P.distance_matrix(q)
        self.failed = not self._start()

    def _uid(self) -> int:
        self.uids += 1
        return self.uids

    # ---- relations ----
    def living(self) -> list[State]:
        return [s for s in self.slots if s is not None]

    def pact(self, a: State, b: State) -> int:
        return self.pacts.get(frozenset((a.uid, b.uid)), 0)

    def partners(self, a: State) -> list[State]:
        return [b for b in self.living() if b is not a and self.pact(a, b) > 0]

    def hostile(self, a: State, b: State, t: int) -> bool:
        """a and b fought on opposite sides at some t0 with t0 < t <= t0 + memory."""
        steps = self.fights.get(frozenset((a.uid, b.uid)), [])
        return any(t0 < t <= t0 + self.q["memory"] for t0 in steps)

    def intent(self, i: State, j: State, t: int) -> bool:
        """I_ij: j is revisionist, or fought i or one of i's partners recently (Walt)."""
        return j.revisionist or any(self.hostile(j, k, t) for k in [i] + self.partners(i))

    def dist(self, a: State, b: State) -> float:
        """In units of the circumference (docs/model.md, Geography)."""
        geography = self.q["geography"]
        if geography == "distances":
            return float(self.places[a.slot, b.slot])
        if geography == "sphere":  # the haversine formula
            h_lat = math.sin(0.5 * (a.lat - b.lat))
            h_lon = math.sin(math.pi * (a.x - b.x))
            h = h_lat * h_lat + math.cos(a.lat) * math.cos(b.lat) * (h_lon * h_lon)
            return math.asin(math.sqrt(min(h, 1.0))) / math.pi
        dx = abs(a.x - b.x)
        return min(dx, 1.0 - dx)

    def decay(self, a: State, b: State) -> float:
        return math.exp(-self.dist(a, b) / self.q["projection_scale"])

    # ---- start ----
    def _start(self) -> bool:
        q, rng = self.q, self.rng
        rng.phase(0, START)
        n = q["n_states"]
        if q["shares"] is not None:
            total = 0.0
            for v in q["shares"]:
                total += v
            shares = [v / total for v in q["shares"]]
        else:
            drawn = self._sample_shares(n)
            if drawn is None:
                return False
            order = rng.shuffled(range(n))
            shares = [drawn[order[i]] for i in range(n)]
        xs = list(q["positions"]) if q["positions"] is not None else [rng.uniform()
                                                                      for _ in range(n)]
        lats = ([math.asin(2.0 * rng.uniform() - 1.0) for _ in range(n)]
                if q["geography"] == "sphere" else [0.0] * n)
        revs = [rng.uniform() < q["revisionist_share"] for _ in range(n)]
        for i in range(n):
            rank = sum(1 for j in range(n)
                       if shares[j] > shares[i] or (shares[j] == shares[i] and j < i))
            self.slots[i] = State(i, shares[i], xs[i], revs[i], rank, self._uid(), lats[i])
        return True

    def _sample_shares(self, n: int) -> list[float] | None:
        q, rng = self.q, self.rng
        ratio, pmin = q["pole_ratio"], q["pole_min_share"]
        unipolar = q["polarity"] == "unipolar"
        for _ in range(MAX_POLE_TRIES):
            if unipolar:
                lo, hi = q["unipolar_share"]
                poles = [lo + (hi - lo) * rng.uniform()]
            elif q["polarity"] == "bipolar":
                lo, hi = q["bipolar_share"]
                total = lo + (hi - lo) * rng.uniform()
                lo, hi = q["bipolar_split"]
                split = lo + (hi - lo) * rng.uniform()
                poles = [total * split, total * (1.0 - split)]
            else:
                klo, khi = q["multipolar_poles"][0], min(q["multipolar_poles"][1], n)
                k = klo + rng.below(khi - klo + 1)
                lo, hi = q["multipolar_share"]
                total = lo + (hi - lo) * rng.uniform()
                if k == n:
                    total = 1.0
                weights = [0.5 + 0.5 * rng.uniform() for _ in range(k)]
                wsum = 0.0
                for w in weights:
                    wsum += w
                poles = [total * w / wsum for w in weights]
            rest = 1.0 - poles[0] if unipolar else 1.0 - total
            largest, smallest = max(poles), min(poles)
            if largest >= q["hegemony_threshold"]:
                continue
            if any(v < ratio * largest or v < pmin for v in poles):
                continue
            m = n - len(poles)
            if m == 0:
                return poles
            bound = min(smallest, max(ratio * largest, pmin))
            if unipolar:
                bound = min(bound, 0.5 * largest)
            if m * bound <= rest:
                continue
            for _ in range(MAX_MINOR_TRIES):
                e = [-math.log(1.0 - rng.uniform()) for _ in range(m)]
                esum = 0.0
                for v in e:
                    esum += v
                minors = [rest * v / esum for v in e]
                if all(v < smallest and not (v >= ratio * largest and v >= pmin)
                       and not (unipolar and v > 0.5 * largest) for v in minors):
                    return poles + minors
        return None

    # ---- one step ----
    def step(self, t: int) -> State | None:
        self.grow(t)
        self.perceive(t)
        self.mobilise()
        for s in self.living():
            s.buck = None
        if self.q["alliances"]:
            self.align(t)
        self.war(t)
        self.enter(t)
        return self.hegemon()

    def grow(self, t: int) -> None:
        q = self.q
        order = self._order(t, GROWTH_ORDER)
        self.rng.phase(t, GROWTH)
        for s in order:
            z = self.rng.normal()
            s.r = s.r * math.exp(q["growth_mean"] + q["growth_sd"] * z
                                 - q["mobilization_cost"] * s.mu)

    def _order(self, t: int, phase: int) -> list[State]:
        self.rng.phase(t, phase)
        return self.rng.shuffled(self.living())

    def perceive(self, t: int) -> None:
        q = self.q
        living = self.living()
        tot_m = 0.0
        tot_r = 0.0
        for s in living:
            tot_m += s.M
            tot_r += s.r
        for s in living:
            s.S = s.M / tot_m
            s.s = s.r / tot_r
        for i in living:
            i.T = {}
            i.threat, best = None, -1.0
            for j in living:
                if j is i:
                    continue
                tij = j.S * self.decay(i, j) * (
                    1.0 + q["intent_weight"] * (1.0 if self.intent(i, j, t) else 0.0))
                i.T[j.slot] = tij
                if self.pact(i, j) == 0 and tij > best:
                    i.threat, best = j, tij
            i.threatened = i.threat is not None and self.threatened_by(i, i.threat)

    def threatened_by(self, j: State, k: State) -> bool:
        return (j.T[k.slot] >= self.q["threat_ratio"] * j.S
                or k.s >= self.q["alarm_share"])

    def mobilise(self) -> None:
        q = self.q
        for s in self.living():
            if s.threatened:
                s.mu = min(q["mobilization_max"], s.mu + q["mobilization_step"])
            else:
                s.mu = max(q["mobilization_floor"] * q["mobilization_max"],
                           s.mu - q["mobilization_step"])

    def align(self, t: int) -> None:
        q, rng = self.q, self.rng
        order = self._order(t, ALIGN_ORDER)
        rng.phase(t, ALIGN)
        living = self.living()
        for a in living:  # pacts decay (Waltz: alliances are flexible)
            for b in living:
                if b.slot > a.slot and self.pact(a, b) > 0 and rng.uniform() < q["alliance_decay"]:
                    del self.pacts[frozenset((a.uid, b.uid))]
        for a in living:
            if a.follows is not None:
                gone = rng.uniform() < q["alliance_decay"]
                if gone or a.threat is not a.follows:
                    a.follows = None
        for i in order:
            if not i.threatened:
                continue
            k = i.threat
            if self.pact(i, k) > 0:
                continue
            rel = i.S / (i.S + k.S)
            partner = None
            for j in living:
                if j is i or j is k:
                    continue
                if (self.pact(j, k) == 0 and j.follows is not k and k.follows is not j
                        and self.threatened_by(j, k)
                        and (partner is None or j.S > partner.S)):
                    partner = j
            catcher = any(j is not i and j is not k and j.T[k.slot] >= i.T[k.slot]
                          and j.S >= i.S for j in living)
            options = [
                ("balance", math.exp(q["balance_weight"] + q["strength_weight"] * rel)
                 if partner is not None else 0.0),
                ("bandwagon", math.exp(q["bandwagon_weight"] - q["strength_weight"] * rel
                                       + (q["alone_weight"] if partner is None else 0.0))),
                ("buckpass", math.exp(q["buckpass_weight"]) if catcher else 0.0),
                ("stay", 1.0),
            ]
            cumulative, total = [], 0.0
            for _, w in options:
                cumulative.append(total + w)
                total = total + w
            u = rng.uniform() * total
            choice = next(name for (name, _), c in zip(options, cumulative, strict=True) if u < c)
            if choice == "balance":
                kind = 2 if rng.uniform() < q["chain_gang_prob"] else 1
                self.pacts[frozenset((i.uid, partner.uid))] = kind
                self.counts["balancing"] += 1
                self.counts["chain_ganging"] += kind == 2
                if i.follows is k:
                    i.follows = None
            elif choice == "bandwagon":
                i.follows = k
                self.counts["bandwagoning"] += 1
            elif choice == "buckpass":
                i.buck = k
                self.counts["buck_passing"] += 1
                if i.follows is k:
                    i.follows = None

    def war(self, t: int) -> None:
        q = self.q
        order = self._order(t, WAR_ORDER)
        self.rng.phase(t, WAR)
        for s in self.living():
            s.fought = False
        for i in order:
            if self.slots[i.slot] is not i or i.fought:
                continue
            if q["initiators"] == "revisionist" and not i.revisionist:
                continue
            j = self.choose_target(i, t)
            if j is not None:
                self.war_sizes.append(self.fight(i, j, t))
                self.counts["wars"] += 1

    def attack_side(self, i: State) -> list[State]:
        """i, its followers and its chain-ganged partners that have not fought this step."""
        return [a for a in self.living()
                if a is i or (not a.fought and (a.follows is i or self.pact(i, a) == 2))]

    def choose_target(self, i: State, t: int) -> State | None:
        q, rng = self.q, self.rng
        living = self.living()
        attackers = self.attack_side(i)
        best, best_gain = None, -1.0
        for j in living:
            if (j is i or j.fought or self.pact(i, j) > 0 or j.follows is i
                    or i.follows is j):
                continue
            att = 0.0
            for a in attackers:
                att += a.M * self.decay(a, j)
            dfn = 0.0
            defenders = []
            for d in living:
                if d is j:
                    dfn += 1.0 * (d.M * self.decay(d, j))
                elif not d.fought and self.pact(j, d) > 0 and d not in attackers:
                    weight = 1.0 if self.pact(j, d) == 2 else q["alliance_reliability"]
                    dfn += weight * (d.M * self.decay(d, j))
                    defenders.append(d)
            if q["anticipate_balancing"]:
                dfn = self.anticipate(i, j, attackers, defenders, dfn, t)
            if q["misperception_sd"] > 0.0:
                att = att * math.exp(q["misperception_sd"] * rng.normal())
                dfn = dfn * math.exp(q["misperception_sd"] * rng.normal())
            pr = odds(q["offense_advantage"] * att, dfn, q["decisiveness"])
            if pr >= q["attack_threshold"] and pr * j.r > best_gain:
                best, best_gain = j, pr * j.r
        return best

    def anticipate(self, i, j, attackers, defenders, dfn, t):
        """Niou-Ordeshook's balancers: bystanders threatened by i enlarged by j's spoils."""
        q = self.q
        living = self.living()
        tot_m = 0.0
        tot_r = 0.0
        for s in living:
            tot_m += s.M
            tot_r += s.r
        gain = q["administration_efficiency"] * q["conquest_share"] * j.r
        loss = q["conquest_share"] * j.r
        ri2 = i.r + gain
        mi2 = ri2 * (1.0 + i.mu)
        mj2 = (j.r - loss) * (1.0 + j.mu)
        tot_m2 = tot_m + (mi2 - i.M) + (mj2 - j.M)
        tot_r2 = tot_r + gain - loss
        for s in living:
            if (s is i or s is j or s in attackers or s in defenders or self.pact(i, s) > 0
                    or s.follows is i):
                continue
            hit = ri2 / tot_r2 >= q["alarm_share"]
            if not hit:
                tsi = mi2 / tot_m2 * self.decay(s, i) * (
                    1.0 + q["intent_weight"] * (1.0 if self.intent(s, i, t) else 0.0))
                hit = tsi >= q["threat_ratio"] * (s.M / tot_m2)
            if hit:
                dfn += q["alliance_reliability"] * (s.M * self.decay(s, j))
        return dfn

    def fight(self, i: State, j: State, t: int) -> float:
        q, rng = self.q, self.rng
        rho = q["alliance_reliability"]
        eligible = self.attack_side(i)
        side = {i.uid: 1}
        for a in eligible:
            if a is i or a.buck is j:
                continue
            if self.pact(i, a) == 2 or rng.uniform() < rho:
                side[a.uid] = 1
        for d in self.living():
            if (d is i or d is j or d.fought or d in eligible or self.pact(j, d) == 0
                    or d.buck is i):
                continue
            if self.pact(j, d) == 2 or rng.uniform() < rho:
                side[d.uid] = 2
        side[j.uid] = 2
        members = [s for s in self.living() if s.uid in side]
        brought = {s.uid: s.M * self.decay(s, j) for s in members}
        att = 0.0
        dfn = 0.0
        for s in members:
            if side[s.uid] == 1:
                att += brought[s.uid]
            else:
                dfn += brought[s.uid]
        attacker_wins = rng.uniform() < odds(q["offense_advantage"] * att, dfn,
                                              q["decisiveness"])
        winners = [s for s in members if side[s.uid] == (1 if attacker_wins else 2)]
        loser = j if attacker_wins else i
        size = 0.0
        for s in members:
            c = q["war_cost"] * s.r
            s.r = s.r - c
            size += c
        loss = q["conquest_share"] * loser.r
        loser.r = loser.r - loss
        total_b = 0.0
        for s in winners:
            total_b += brought[s.uid]
        gain = q["administration_efficiency"] * loss
        for s in winners:
            s.r = s.r + gain * brought[s.uid] / total_b
        size += loss - gain
        for a in members:
            for d in members:
                if side[a.uid] == 1 and side[d.uid] == 2:
                    self.fights.setdefault(frozenset((a.uid, d.uid)), []).append(t)
        for s in members:
            s.fought = True
        tot_r = 0.0
        for s in self.living():
            tot_r += s.r
        rest = loser.r
        if rest < q["elimination_share"] * tot_r or rest <= 0.0:
            kept = q["administration_efficiency"] * rest
            for s in winners:
                s.r = s.r + kept * brought[s.uid] / total_b
            size += rest - kept
            self.eliminate(loser)
        return size

    def eliminate(self, e: State) -> None:
        self.slots[e.slot] = None
        self.pacts = {k: v for k, v in self.pacts.items() if e.uid not in k}
        for s in self.living():
            if s.follows is e:
                s.follows = None
        self.counts["eliminations"] += 1

    def enter(self, t: int) -> None:
        q = self.q
        if q["entry_rate"] <= 0.0:
            return
        self.rng.phase(t, ENTRY)
        if self.rng.uniform() >= q["entry_rate"]:
            return
        free = [k for k, s in enumerate(self.slots) if s is None]
        if not free:
            return
        living = self.living()
        tot_r = 0.0
        for s in living:
            tot_r += s.r
        r = q["entry_size"] * (tot_r / len(living))
        x = self.rng.uniform()
        lat = math.asin(2.0 * self.rng.uniform() - 1.0) if q["geography"] == "sphere" else 0.0
        rev = self.rng.uniform() < q["revisionist_share"]
        self.slots[free[0]] = State(free[0], r, x, rev, -1, self._uid(), lat)
        self.counts["entries"] += 1

    def hegemon(self) -> State | None:
        living = self.living()
        tot_r = 0.0
        best = None
        for s in living:
            tot_r += s.r
            if best is None or s.r > best.r:
                best = s
        if len(living) == 1 or best.r / tot_r >= self.q["hegemony_threshold"]:
            return best
        return None

    def shares(self) -> list[float]:
        living = self.living()
        tot_r = 0.0
        for s in living:
            tot_r += s.r
        return [s.r / tot_r for s in living]


def slot_shares(system: System) -> tuple[list[float], list[int]]:
    """Each slot's capability share (NaN if empty) and occupant (the state's creation order,
    0-based; -1 if empty): the ``record_shares`` fields of run_batch for one step."""
    tot_r = 0.0
    for s in system.living():
        tot_r += s.r
    shares = [s.r / tot_r if s is not None else math.nan for s in system.slots]
    return shares, [s.uid - 1 if s is not None else -1 for s in system.slots]


def run_one(q: dict, seed: int, rep: int, record_shares: bool = False) -> dict:
    """One replicate's records (the fields of stability.model.simulate.run_batch); with
    ``record_shares`` also ``shares`` and ``occupant``, one list per step from the start to
    the end of the run."""
    system = System(q, seed, rep)
    if system.failed:
        raise RuntimeError(f"no starting system could be drawn for replicate {rep}")
    history = [slot_shares(system)] if record_shares else []
    winner, t_end = None, -1
    for t in range(1, q["horizon"] + 1):
        winner = system.step(t)
        if record_shares:
            history.append(slot_shares(system))
        if winner is not None:
            t_end = t
            break
    shares = system.shares()
    c = system.counts
    return {
        "hegemony": winner is not None,
        "hegemony_time": t_end,
        "hegemon_rank": winner.rank if winner is not None else -1,
        "survivors": len(shares),
        "final_polarity": classify(shares, q["pole_ratio"], q["pole_min_share"]),
        "wars": c["wars"], "eliminations": c["eliminations"], "entries": c["entries"],
        "balancing": c["balancing"], "bandwagoning": c["bandwagoning"],
        "buck_passing": c["buck_passing"], "chain_ganging": c["chain_ganging"],
        "final_max_share": max(shares),
        "war_size": system.war_sizes,
        **({"shares": [h[0] for h in history], "occupant": [h[1] for h in history]}
           if record_shares else {}),
    }


def simulate_reference_records(params: dict, replicates: int, seed: int) -> list[dict]:
    """Records of replicates 0..replicates-1, computed in plain Python."""
    q = P.resolve(params)
    return [run_one(q, seed, rep) for rep in range(replicates)]
