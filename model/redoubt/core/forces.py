"""The fighters of one side, held column-wise so a day costs a few numpy passes, not one Python call per
fighter. Each row is one Fighter agent (one fighter or a group of `fighters_per_agent`); the agent object
(agents.Fighter) is a view on its row. Decisions are taken per stack (a side's fighters at one location),
the way a local commander would, so results do not depend on how many fighters one agent stands for.
"""

from __future__ import annotations

import math
from collections import deque
from enum import IntEnum

import numpy as np
from mesa import Agent
from mesa.discrete_space import FixedAgent

from . import kernels
from .combat import local_odds
from .kernels import commander_nerve, ration
from .params import Side
from .space import Control


class State(IntEnum):
    """What a group of fighters is doing (the values of `Force.state`)."""

    HOLDING = 0
    ADVANCING = 1
    RETREATING = 2
    OUT = 3  # out of action: the group is empty and has left the model

    @property
    def label(self) -> str:
        return "out of action" if self is State.OUT else self.name.lower()


HOLDING, ADVANCING, RETREATING, OUT = State

# A side's fighters, one row per group: column -> (dtype, value of an unused row).
COLUMNS = {
    "size": (np.int64, 0),  # fighters in the group
    "loc": (np.int64, 0),  # location index where it is (or that it left, in transit)
    "dest": (np.int64, -1),  # location index it is moving to (-1: none)
    "eta": (np.int64, 0),  # day it arrives
    "state": (np.int8, State.OUT),
    "morale": (np.float64, 0.0),
    "food": (np.float64, 0.0),  # kg carried
    "ammo": (np.float64, 0.0),  # kg carried
    "hungry": (np.bool_, False),  # ate less than its ration today
}

# Ways fighters leave the fight, each a tally of the side (fighters are never unaccounted: model.fighter_balance).
TALLIES = ("killed", "deserted", "surrendered", "stood_down", "turned", "withdrawn", "dispersed")
LEFT = ("deserted", "surrendered", "stood_down", "turned")  # what the rest of the side hears of as defections

# A ration eaten to within rounding error of the need is not hunger (a numerical tolerance, not a parameter).
HUNGRY_BELOW = 0.999


class Fighter(Agent):
    """One fighter, or a group of `fighters_per_agent` of them (a super-individual).

    Its state lives in its side's Force columns (row `row`) so a whole side is updated in a few numpy
    passes; these properties read that row.
    """

    def __init__(self, model, force, row):
        super().__init__(model)
        self.force, self.row = force, int(row)

    side = property(lambda self: self.force.side)
    side_name = property(lambda self: self.force.name)
    size = property(lambda self: int(self.force.size[self.row]))
    morale = property(lambda self: float(self.force.morale[self.row]))
    food = property(lambda self: float(self.force.food[self.row]))
    ammo = property(lambda self: float(self.force.ammo[self.row]))
    state = property(lambda self: State(self.force.state[self.row]).label)

    @property
    def location(self):
        """The Location (Mesa cell) where the group is, or that it left if in transit."""
        return self.model.valley.cell(int(self.force.loc[self.row]))

    @property
    def destination(self):
        d = int(self.force.dest[self.row])
        return self.model.valley.cell(d) if d >= 0 else None


class Contingent(FixedAgent):
    """All of one side's fighters at one location, as one agent in that location's cell: what a Mesa user
    reads from `model.grid` (`cell.agents`) is true, while the fighters themselves stay in their side's
    columns (a group moving does not touch any cell). Fighters in transit are in no contingent."""

    def __init__(self, model, force, cell):
        super().__init__(model)
        self.force = force
        self.cell = cell

    side = property(lambda self: self.force.side)
    side_name = property(lambda self: self.force.name)

    @property
    def fighters(self) -> int:
        """Fighters of this side holding this location now."""
        return int(self.force.counts()[self.cell.idx])

    @property
    def groups(self) -> list:
        """The Fighter agents (groups) that make it up."""
        return [self.force.agents[r] for r in self.force.rows_at(self.cell.idx)]

    def __repr__(self):
        return f"Contingent({self.side_name}, {self.cell.name}, {self.fighters} fighters)"


class Force:
    """One side's fighters and its tallies (initial, arrived, killed, deserted, surrendered)."""

    def __init__(self, model, side: str, params: Side):
        self.model, self.side, self.p = model, side, params
        self.name = params.name
        for name, (dtype, fill) in COLUMNS.items():
            setattr(self, name, np.full(64, fill, dtype))
        self.agents: list = []
        self.rows = 0
        self._counts = self._present = None
        self.initial = self.arrived = 0
        for how in TALLIES:
            setattr(self, how, 0)
        self.surrendered_encircled = 0  # of the surrendered: encircled when they gave up
        self.regrouped = 0  # of those dispersed, how many came back
        self.enemy_peak = 0  # the most enemy fighters there have been in the valley (dispersal)
        self.left_today = 0  # deserted, surrendered or in pacts since morale was last updated (the news)
        self.pending_shock = 0.0  # morale the whole side loses at its next update (key places, depots lost)
        self.break_point = None  # each place's breaking point (switches.cohesion), drawn by draw_thresholds
        n_loc = model.valley.n
        self.losses_today = np.zeros(n_loc, np.int64)
        self.loss_window = deque([np.zeros(n_loc, np.int64)] * params.pause_window_days,
                                 maxlen=params.pause_window_days)
        self.lethality = float(params.lethality)
        self.area_fire = params.fire == "area"

    # ------------------------------------------------------------ bookkeeping ---------------------------
    @property
    def ledger(self):
        return self.model.ledgers[self.side]

    @property
    def active(self) -> np.ndarray:
        return self.size[: self.rows] > 0

    @property
    def present(self) -> np.ndarray:
        """Active and at a location (not in transit). Kept, as counts(), until fighters next move or are
        lost (`_moved`); read it, do not change it."""
        if self._present is None:
            r = self.rows
            self._present = (self.size[:r] > 0) & (self.state[:r] == HOLDING)
        return self._present

    def strength(self) -> int:
        return int(self.size[: self.rows].sum())

    def counts(self) -> np.ndarray:
        """Fighters present per location (a fresh array: callers may change it). Kept until a group's size,
        place or state next changes (`_moved`): the model asks for it a dozen times a day."""
        if self._counts is None:
            m = self.present
            self._counts = np.bincount(self.loc[: self.rows][m], weights=self.size[: self.rows][m],
                                       minlength=self.model.valley.n).astype(np.int64)
        return self._counts.copy()

    def _moved(self) -> None:
        """Sizes, places or states changed: counts() and present must be computed again."""
        self._counts = self._present = None

    def ammo_at(self) -> np.ndarray:
        m = self.present
        return np.bincount(self.loc[: self.rows][m], weights=self.ammo[: self.rows][m],
                           minlength=self.model.valley.n)

    def _grow(self, k: int) -> np.ndarray:
        need = self.rows + k
        if need > len(self.size):
            cap = max(need, 2 * len(self.size))
            for name, (dtype, fill) in COLUMNS.items():
                old = getattr(self, name)
                new = np.full(cap, fill, dtype=dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        rows = np.arange(self.rows, need)
        self.rows = need
        return rows

    def _new_agents(self, rows: np.ndarray) -> None:
        if len(rows) == 1:  # a split or a small arrival: one agent, without create_agents' set-up per call
            self.agents.append(Fighter(self.model, self, int(rows[0])))
            return
        created = Fighter.create_agents(self.model, len(rows), force=self, row=list(rows))
        self.agents.extend(created)

    def full_food(self, sizes) -> np.ndarray:
        if not self.model.switches.logistics:
            return np.zeros(len(sizes))
        return sizes * self.p.carry_food_days * self.p.food_kg_per_day

    def full_ammo(self, sizes) -> np.ndarray:
        if not self.model.switches.logistics:
            return np.zeros(len(sizes))
        return sizes * self.p.carry_ammo_kg

    def _place(self, fighters: int, loc: int, morale: float) -> np.ndarray:
        """New groups of fighters_per_agent (holding at `loc`, carrying nothing yet) and their agents; the
        groups' rows."""
        fpa = self.model.fighters_per_agent
        q, r = divmod(int(fighters), fpa)
        sizes = np.array([fpa] * q + ([r] if r else []), dtype=np.int64)
        rows = self._grow(len(sizes))
        self.size[rows], self.loc[rows], self.state[rows] = sizes, loc, HOLDING
        self._moved()
        self.dest[rows], self.morale[rows] = -1, morale
        self._new_agents(rows)
        return rows

    def add(self, fighters: int, loc: int, initial: bool) -> None:
        """Bring `fighters` into the valley at location index `loc`, in groups of fighters_per_agent,
        each carrying a full load (counted as initial stock, or as delivered for later arrivals)."""
        if fighters <= 0:
            return
        rows = self._place(fighters, loc, self.p.morale)
        sizes = self.size[rows]
        self.food[rows], self.ammo[rows] = self.full_food(sizes), self.full_ammo(sizes)
        food, ammo = float(self.food[rows].sum()), float(self.ammo[rows].sum())
        if initial:
            self.initial += int(fighters)
            self.ledger.add_initial(food, ammo)
        else:
            self.arrived += int(fighters)
            self.ledger.deliver(food, ammo)

    def join(self, fighters: int, loc: int, food: float, ammo: float) -> None:
        """Fighters who came over from the other side (a pact) join at `loc` with what they carried."""
        if fighters <= 0:
            return
        rows = self._place(fighters, loc, self.p.morale)
        share = self.size[rows] / fighters
        self.food[rows], self.ammo[rows] = food * share, ammo * share
        self.arrived += int(fighters)
        self.ledger.deliver(float(self.food[rows].sum()), float(self.ammo[rows].sum()))

    def split(self, row: int, k: int) -> int:
        """Detach k fighters of group `row` into a new group (same place, morale, share of supplies)."""
        new = int(self._grow(1)[0])
        frac = k / self.size[row]
        for name in [c for c in COLUMNS if c not in ("size", "food", "ammo")]:  # those three are divided
            getattr(self, name)[new] = getattr(self, name)[row]
        self.food[new], self.ammo[new] = self.food[row] * frac, self.ammo[row] * frac
        self.food[row] -= self.food[new]
        self.ammo[row] -= self.ammo[new]
        self.size[new], self.size[row] = k, self.size[row] - k
        self._moved()
        self._new_agents(np.array([new]))
        return new

    def take_out(self, rows: np.ndarray, lost: np.ndarray, how: str) -> tuple[float, float]:
        """Remove `lost[i]` fighters from group rows[i], by one of TALLIES. Their carried supplies are
        captured (surrendered, turned: they go to the enemy) or destroyed (lost to the valley's accounts:
        killed, deserted, stood down under a pact, withdrawn elsewhere)."""
        keep = lost > 0
        rows, lost = rows[keep], lost[keep]
        if len(rows) == 0:
            return 0.0, 0.0
        frac = lost / self.size[rows]
        food, ammo = self.food[rows] * frac, self.ammo[rows] * frac
        self.food[rows] -= food
        self.ammo[rows] -= ammo
        self.size[rows] -= lost
        self._moved()
        if how in ("surrendered", "turned"):
            self.ledger.capture(food.sum(), ammo.sum())
        else:
            self.ledger.destroy(food.sum(), ammo.sum())
        n = int(lost.sum())
        setattr(self, how, getattr(self, how) + n)
        if how in LEFT:
            self.left_today += n
        self._remove_empty(rows)
        return float(food.sum()), float(ammo.sum())

    def _remove_empty(self, rows: np.ndarray) -> None:
        gone = rows[self.size[rows] == 0]
        for row in gone:  # an empty group is out of action and leaves the model
            self.food[row] = self.ammo[row] = 0.0  # exactly zero: frac was 1
            self.state[row] = OUT
            agent = self.agents[row]
            if agent is not None:
                agent.remove()
                self.agents[row] = None

    def route(self, src: int, dst: int, blocked: np.ndarray) -> tuple[float, list]:
        """This side's quickest route today (its speed, snow), avoiding `blocked` locations."""
        return self.model.valley.route(src, dst, self.p.speed_km_per_day, self.p.path_slowdown,
                                       self.model.weather.slowdown, blocked)

    def rows_at(self, loc: int) -> np.ndarray:
        return np.nonzero(self.present & (self.loc[: self.rows] == loc))[0]

    def pick_at(self, loc: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n fighters at a location chosen at random fighter by fighter (not group by group), with the stream
        of the process that takes them: the groups' rows and how many of each (all of them if n is at least
        everyone there)."""
        rows = self.rows_at(loc)
        if n <= 0 or len(rows) == 0:
            return rows[:0], rows[:0]
        sizes = self.size[rows]
        n = min(int(n), int(sizes.sum()))
        return rows, sizes.copy() if n == sizes.sum() else rng.multivariate_hypergeometric(sizes, n)

    def lose_at(self, loc: int, n: int, how: str, rng: np.random.Generator) -> int:
        """Take n fighters out at a location (`pick_at`) by one of TALLIES; how many went."""
        rows, lost = self.pick_at(loc, n, rng)
        self.take_out(rows, lost, how)
        return int(lost.sum())

    def send(self, src: int, n: int, dst: int, days: float, state: int) -> int:
        """Start n fighters (chosen at random) from src towards dst; they arrive after `days` (>= 1)."""
        rows = self.rows_at(src)
        if n <= 0 or len(rows) == 0 or not np.isfinite(days):
            return 0
        rows = rows[self.model.streams.movement.permutation(len(rows))]
        cum = np.cumsum(self.size[rows])
        n = min(int(n), int(cum[-1]))
        k = int(np.searchsorted(cum, n))  # rows[:k] whole, rows[k] maybe split
        chosen = list(rows[:k])
        taken = int(cum[k - 1]) if k else 0
        if taken < n:
            row = int(rows[k])
            if self.size[row] == n - taken:
                chosen.append(row)
            else:
                chosen.append(self.split(row, n - taken))
        chosen = np.array(chosen, dtype=np.int64)
        self.dest[chosen], self.state[chosen] = dst, state
        self._moved()
        self.eta[chosen] = self.model.day + max(1, math.ceil(days - 1e-9))
        return n

    def arrive(self, day: int) -> None:
        r = self.rows
        m = (self.size[:r] > 0) & (self.state[:r] != HOLDING) & (self.state[:r] != OUT) & (self.eta[:r] <= day)
        if m.any():
            idx = np.nonzero(m)[0]
            self.loc[idx], self.dest[idx], self.state[idx] = self.dest[idx], -1, HOLDING
            self._moved()

    # ------------------------------------------------------------ daily life -----------------------------
    def consume(self, temperature: np.ndarray, engaged_locs: np.ndarray) -> None:
        """Eat a day's ration (more in the cold) and fire at low intensity where not in battle."""
        m = self.active
        if not m.any():
            return
        idx = np.nonzero(m)[0]
        need = self.size[idx] * ration(self.p.food_kg_per_day, temperature[self.loc[idx]],
                                       self.model.params.weather.cold_food_per_degree)
        eaten = np.minimum(self.food[idx], need)
        self.food[idx] -= eaten
        self.hungry[idx] = eaten < need * HUNGRY_BELOW
        idle = ~engaged_locs[self.loc[idx]] | (self.state[idx] != HOLDING)
        fired = np.where(idle, np.minimum(self.ammo[idx], self.size[idx] * self.p.ammo_kg_per_day_idle), 0.0)
        self.ammo[idx] -= fired
        self.ledger.consume(eaten.sum(), fired.sum())

    def spend_ammo_at(self, loc: int, used: float) -> None:
        """Take ammunition fired in battle from the groups at a location, in proportion to what they carry."""
        if used <= 0:
            return
        rows = self.rows_at(loc)
        have = self.ammo[rows]
        total = have.sum()
        take = have * min(1.0, used / total) if total > 0 else have * 0
        self.ammo[rows] -= take
        self.ledger.consume(0.0, take.sum())

    def end_day_losses(self) -> None:
        self.loss_window.append(self.losses_today.copy())
        self.losses_today[:] = 0

    def recent_losses(self) -> np.ndarray:
        return np.sum(self.loss_window, axis=0)

    def update_morale(self, strength_before: np.ndarray, contested: np.ndarray, civilian_shortfall: float):
        """Drift back to the side's base morale; shocks from local losses, hunger, no ammunition and
        hungry civilians (and, with switches.cohesion / .encirclement, the cohesion shocks and contagion);
        then desertion (anywhere), breaking points, and surrender (local pacts, in battle or encircled)."""
        p, r, model = self.p, self.rows, self.model
        idx = np.nonzero(self.size[:r] > 0)[0]
        if len(idx) == 0:
            return
        m = self.morale[idx]
        m += p.morale_recovery * (p.morale - m)
        loc = self.loc[idx]
        loss_share = np.divide(self.losses_today, strength_before, out=np.zeros(len(strength_before)),
                               where=strength_before > 0)
        holding = self.state[idx] == HOLDING  # a group on the move was not in today's fight where it left
        m -= p.morale_loss_shock * loss_share[loc] * holding
        if model.switches.logistics:
            m -= p.morale_hunger * self.hungry[idx]
            m -= p.morale_no_ammo * (self.ammo[idx] < p.out_of_ammo_kg * self.size[idx])
            m -= p.morale_civilian_hunger * civilian_shortfall
        encircled = model.encircled if self.side == "defender" else np.zeros(model.valley.n, bool)
        if model.switches.encirclement:
            m -= p.morale_encircled * encircled[loc]
        if model.switches.cohesion:
            m += self._cohesion_shift(loc, holding, loss_share)
        self.morale[idx] = np.clip(m, 0.0, 1.0)
        self.left_today = 0  # from here on, today's defections: tomorrow's news
        if model.switches.cohesion:
            self._break_where_below(*self._spread_morale(idx))
            idx = idx[self.size[idx] > 0]
        rng = model.streams.morale
        m = self.morale[idx]
        below = p.desert_below
        p_desert = np.where(m < below, p.desert_rate * (below - m) / max(below, 1e-9), 0.0)
        deserters = rng.binomial(self.size[idx], np.clip(p_desert, 0, 1))
        self._desert(idx, deserters)
        idx = idx[self.size[idx] > 0]
        loc = self.loc[idx]
        at_place = self.state[idx] == HOLDING
        cut_off = encircled[loc] & at_place
        in_battle = contested[loc] & at_place
        limit = np.where(cut_off, max(p.surrender_below, p.encircled_surrender_below), p.surrender_below)
        p_surr = np.where((in_battle | cut_off) & (self.morale[idx] < limit), p.surrender_rate, 0.0)
        gave_up = rng.binomial(self.size[idx], p_surr)
        self.surrendered_encircled += int(gave_up[cut_off].sum())
        self.take_out(idx, gave_up, "surrendered")

    # ------------------------------------------------------------ cohesion (switches.cohesion) -----------
    def draw_thresholds(self) -> None:
        """Each place's commander has a breaking point of their own, drawn once about `break_below` (width
        cohesion_spread): a network threshold model, so one place breaking can
        tip its neighbours (through contagion and the news) or not."""
        p = self.p
        self.break_point = kernels.commander_thresholds(self.model.streams.cohesion, p.break_below,
                                                        p.cohesion_spread, self.model.valley.n)

    def place_morale(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean morale of the fighters present at each place, and how many they are."""
        m = self.present
        r = self.rows
        return kernels.place_means(self.loc[:r][m], self.size[:r][m], self.morale[:r][m], self.model.valley.n)

    def _cohesion_shift(self, loc: np.ndarray, holding: np.ndarray, loss_share: np.ndarray) -> np.ndarray:
        """Today's cohesion shocks per group: the news of defections (the whole side), key places and depots
        lost (the whole side), the enemy on a place behind (outflanked), the local leader killed, and
        success: the enemy's local losses raise morale as one's own lower it."""
        p, model = self.p, self.model
        enemy = model.force(self.other_side)
        strength = self.strength() + self.left_today
        news = self.left_today / strength if strength > 0 else 0.0
        before = model.strength_before_fight[self.other_side]
        enemy_losses = np.divide(enemy.losses_today, before, out=np.zeros(len(before)), where=before > 0)
        shift = -p.morale_news * news - self.pending_shock
        self.pending_shock = 0.0
        outflanked = model.outflanked_today[self.side]
        leader_lost = self._leaders_killed(loss_share)
        local = (p.morale_success * enemy_losses[loc] - p.morale_outflanked * outflanked[loc]
                 - p.morale_leader_loss * leader_lost[loc])
        return shift + local * holding

    def _leaders_killed(self, loss_share: np.ndarray) -> np.ndarray:
        """Places whose commander was killed today: a chance leader_risk x the share of the local stack lost
        (one draw per place every day). A new commander takes over (with the place's thresholds)."""
        chance = np.clip(self.p.leader_risk * loss_share, 0.0, 1.0)
        killed = self.model.streams.cohesion.random(self.model.valley.n) < chance
        for loc in map(int, np.nonzero(killed)[0]):
            self.model.log_event("leader killed", self.name, loc)
        return killed

    def _spread_morale(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contagion: each place's morale moves towards its neighbours' (the groups there shift together).
        Returns each place's mean morale after it, and the fighters there."""
        mean, weight = self.place_morale()
        pull = kernels.neighbour_pull(mean, weight, self.model.valley.adjacency, self.p.morale_contagion)
        at_place = self.state[idx] == HOLDING
        self.morale[idx] = np.clip(self.morale[idx] + pull[self.loc[idx]] * at_place, 0.0, 1.0)
        return mean + pull, weight  # a mean of values in [0, 1] moved towards another: no clipping needed

    def _break_where_below(self, mean: np.ndarray, weight: np.ndarray) -> None:
        """A place whose fighters' mean morale is below its commander's breaking point breaks: break_share
        of them desert at once (the rest may fall back, desert or surrender in the days after)."""
        for loc in map(int, np.nonzero((weight > 0) & (mean < self.break_point))[0]):
            n = self._break_up(loc, math.ceil(self.p.break_share * weight[loc]))
            self.model.log_event("break", self.name, loc, fighters=n)

    # ------------------------------------------------------------ dispersal (switches.dispersal) -----------
    def _desert(self, rows: np.ndarray, leaving: np.ndarray) -> None:
        """Those who leave: with switches.dispersal, ground_share of them go to ground in the mountains (they
        may regroup later, `regroup`); the rest desert for good."""
        if self.model.switches.dispersal and self.p.ground_share > 0:
            to_ground = self.model.streams.dispersal.binomial(leaving, self.p.ground_share)
            self.take_out(rows, to_ground, "dispersed")
            leaving = leaving - to_ground
        self.take_out(rows, leaving, "deserted")

    def _break_up(self, loc: int, n: int) -> int:
        """n fighters of a breaking place leave it (`pick_at`), by `_desert`."""
        rows, lost = self.pick_at(loc, n, self.model.streams.cohesion)
        self._desert(rows, lost)
        return int(lost.sum())

    def regroup(self, enemy_inside: int) -> None:
        """Once the enemy's force in the valley is under regroup_below of the most it has had there (its main
        force has gone), the side takes heart (morale recovers relief_rate of the way to its base a day) and
        those gone to ground come back, regroup_rate of them a day: to the largest stack of their side, or to
        the place furthest from the attacker's entry that the enemy does not hold."""
        model, p, v = self.model, self.p, self.model.valley
        self.enemy_peak = max(self.enemy_peak, enemy_inside)
        if enemy_inside >= p.regroup_below * self.enemy_peak:
            return
        r = self.rows
        self.morale[:r] += p.relief_rate * np.maximum(p.morale - self.morale[:r], 0.0) * (self.size[:r] > 0)
        if self.dispersed <= 0:
            return
        back = int(model.streams.dispersal.binomial(self.dispersed, p.regroup_rate))
        if back <= 0:
            return
        own = self.counts()
        if own.max() > 0:
            home = int(np.argmax(own))
        else:
            free = np.nonzero((v.control != Control.enemy_of(self.side)) & ~v.is_outside)[0]
            if not len(free):
                return
            depth = v.hops[model.attacker_entry][free]
            home = int(free[np.argmax(depth if self.side == "defender" else -depth)])
        self._place(back, home, p.morale)  # back with nothing: the stores issue to them
        self.dispersed -= back
        self.regrouped += back
        model.log_event("regroup", self.name, home, fighters=back)

    @property
    def other_side(self) -> str:
        return "defender" if self.side == "attacker" else "attacker"

    def withdraw(self, share: float, rng: np.random.Generator) -> int:
        """`share` of the side's fighters not in battle leave the valley (from every place in proportion, so
        the front line is not stripped first): demands elsewhere, or an operation's planned end."""
        free = np.where(self.model.force(self.other_side).counts() == 0, self.counts(), 0)
        total = 0
        for loc in map(int, np.nonzero(free > 0)[0]):
            total += self.lose_at(loc, int(round(share * free[loc])), "withdrawn", rng)
        return total


MAX_SEND = 10**9  # "all of them": an attack no number of fighters could win takes everyone available


class Attackers(Force):
    """Arrive in waves; advance when local odds favour them; pause after heavy losses; flank over paths."""

    def __init__(self, model, side, params):
        super().__init__(model, side, params)
        n = model.valley.n
        self.pause_until = np.zeros(n, np.int64)
        self.last_progress = np.zeros(n, np.int64)
        # Commanders differ: the odds at which an attack on each place goes in, drawn once, log-logistic
        # about advance_odds (as the defenders' nerve about fallback_odds): no cliff at one threshold.
        spread = params.threshold_spread if model.switches.movement else 0.0
        self.nerve = commander_nerve(model.streams.commanders, params.advance_odds, spread, n)

    def forward(self, loc: int) -> int | None:
        v = self.model.valley
        if v.is_road[loc]:
            return v.next_up_road(loc)
        roads = [nb for nb, d in v.neighbours[loc] if v.is_road[nb]]
        return max(roads, key=lambda i: (v.km[i], -i)) if roads else None

    def decide(self, A: np.ndarray, D: np.ndarray) -> None:
        """Stacks in battle may break off; free stacks converge on the defended location where their
        combined odds are best, if good enough; otherwise advance up an open road, or flank if stalled."""
        model, v, p = self.model, self.model.valley, self.p
        day, other = model.day, model.defenders
        for loc in map(int, np.nonzero((A > 0) & (D > 0))[0]):
            self._maybe_pause(loc, A, D)
        movable = np.zeros(v.n, np.int64)
        for loc in map(int, np.nonzero(A > 0)[0]):
            if day < self.pause_until[loc]:
                continue
            if D[loc] > 0:  # in battle: only the surplus beyond what the fight there needs may leave
                movable[loc] = max(0, int(A[loc]) - max(int(p.engaged_depth * v.frontage[loc]),
                                                        self.needed(loc, D)))
            else:
                keep = p.garrison if v.is_road[loc] else 0
                movable[loc] = max(0, int(A[loc]) - keep)
        # Converging attacks: every defended location next to free stacks, best combined odds first
        # (counting those already fighting there); each attack takes only what it needs (economy of
        # force: a pocket gets a detachment, the main body keeps its purpose, the road).
        options = []
        for target in map(int, np.nonzero(D > 0)[0]):
            if v.is_outside[target]:
                continue
            stacks = [src for src, data in v.neighbours[target]
                      if movable[src] > 0 and D[src] == 0 and model.passable(target, data)]
            if stacks:
                n = int(movable[stacks].sum()) + int(A[target])
                odds = float(local_odds(n, D[target], self.lethality, other.lethality, 0.0, v.cover[target]))
                options.append((-odds, target, stacks))
        for neg_odds, target, stacks in sorted(options):
            if -neg_odds < self.nerve[target]:
                continue  # not good enough for the commander who would lead this attack
            need = self.needed(target, D) - int(A[target])
            for src in sorted(stacks, key=lambda s: (-movable[s], s)):  # the largest stacks first
                if need <= 0:
                    break
                n = min(int(movable[src]), need)
                if n > 0:
                    self._move(src, n, target, A, ADVANCING)
                    movable[src] -= n
                    need -= n
        if model.switches.infiltration:
            self._infiltrate(movable, A, D)
        spear = self.spearhead(A)
        for loc in map(int, np.nonzero(movable > 0)[0]):
            fwd = self.forward(loc)
            if D[loc] == 0 and fwd is not None and D[fwd] == 0 and model.passable(fwd, None):
                self._move(loc, int(movable[loc]), fwd, A, ADVANCING)
            elif loc != spear and spear is not None:
                self._join(loc, int(movable[loc]), spear, A, D)
            elif D[loc] == 0 and day - self.last_progress[loc] >= p.flank_after_days:
                self._flank(loc, int(movable[loc]), fwd, A, D)

    def _infiltrate(self, movable: np.ndarray, A: np.ndarray, D: np.ndarray) -> None:
        """Free fighters next to a defended place slip past it (mostly by night) to the place beyond, if no
        defenders hold that: the thinner the defenders there and the worse the visibility, the more get
        through (kernels.infiltration_probability). Behind a position they cut its retreat and supply."""
        model, v, p = self.model, self.model.valley, self.p
        factor = p.infiltration_bad_visibility if model.weather.grounded else 1.0
        nothing_blocked = np.zeros(v.n, bool)  # by night, past the defenders: no ground is closed to them
        for src in map(int, np.nonzero(movable > 0)[0]):
            for target, link in v.neighbours[src]:
                if movable[src] <= 0:
                    break
                if D[target] == 0 or v.is_outside[target] or not model.passable(target, link):
                    continue
                beyond = [u for u, link2 in v.neighbours[target]
                          if v.hops[src, u] == 2 and D[u] == 0 and not v.is_outside[u] and model.passable(u, link2)]
                if not beyond:
                    continue
                dst = max(beyond, key=lambda u: (v.is_road[u], v.km[u], -u))
                chance = kernels.infiltration_probability(D[target] / v.frontage[target], rate=p.infiltration_rate,
                                                          density_ref=p.infiltration_density_ref,
                                                          visibility_factor=factor)
                n = int(model.streams.movement.binomial(int(movable[src]), float(chance)))
                if n <= 0:
                    continue
                days = self.route(src, target, nothing_blocked)[0] + self.route(target, dst, nothing_blocked)[0]
                sent = self.send(src, n, dst, days, ADVANCING)
                movable[src] -= sent
                A[src] -= sent
                model.log_event("infiltrate", self.name, src, dst, sent, note=f"past {v.names[target]}")

    def needed(self, target: int, D: np.ndarray) -> int:
        """Fighters an attack on `target` brings: enough for `commit_odds` against its defenders."""
        v, other, p = self.model.valley, self.model.defenders, self.p
        if D[target] == 0:
            return 0
        per_fighter = float(local_odds(1, D[target], self.lethality, other.lethality, 0.0, v.cover[target]))
        if np.isinf(per_fighter):
            return 1  # defenders who cannot fire: any attack wins
        ratio = p.commit_odds / per_fighter if per_fighter > 0 else math.inf
        if not ratio < MAX_SEND:
            return MAX_SEND  # attackers who cannot (or all but cannot) hurt them: no number is enough
        return int(math.ceil(ratio))

    def spearhead(self, A: np.ndarray) -> int | None:
        """The most advanced location the side has fighters at (furthest up the valley). A pass is a way out of
        the valley, not a front to mass on: it counts only when the side holds nothing else inside (else the
        main body would shuttle between the pass and the road place below it)."""
        v = self.model.valley
        here = [i for i in map(int, np.nonzero(A > 0)[0]) if not v.is_outside[i]]
        here = [i for i in here if not v.is_pass[i]] or here
        return max(here, key=lambda i: (v.km[i], v.is_road[i], -i)) if here else None

    def _join(self, loc, n, spear, A, D) -> None:
        """Mass on the main effort: a stack that can neither attack nor advance joins the spearhead."""
        v = self.model.valley
        if v.km[spear] <= v.km[loc] and not v.is_outside[loc]:
            return  # already as far forward: hold here
        days, path = self.route(loc, spear, D > 0)
        if path:
            sent = self.send(loc, n, spear, days, ADVANCING)
            A[loc] -= sent

    def _move(self, src, n, dst, A, state) -> None:
        model = self.model
        days, _ = self.route(src, dst, model.valley.control == Control.DEFENDER)
        sent = self.send(src, n, dst, days, state)
        A[src] -= sent
        self.last_progress[src] = self.last_progress[dst] = model.day

    def _flank(self, loc, movable, fwd, A, D) -> None:
        """Send part of a stalled stack over mountain paths to a road location behind the blockage."""
        model, v = self.model, self.model.valley
        self.last_progress[loc] = model.day  # try again only after another stall
        if fwd is None:
            return
        n = int(movable * self.p.flank_share)
        if n <= 0:
            return
        blocked = D > 0
        other = model.defenders
        for target in v.road_order:
            target = int(target)
            if v.km[target] <= v.km[fwd] or v.control[target] == Control.ATTACKER:
                continue
            odds = float(local_odds(n, D[target], self.lethality, other.lethality, 0.0, v.cover[target]))
            if D[target] > 0 and odds < self.p.advance_odds:
                continue  # too weak to take it: look further up the valley
            days, path = self.route(loc, target, blocked)
            if path and any(v.graph.edges[v.ids[a], v.ids[b]]["kind"] == "path"
                            for a, b in zip(path, path[1:])):
                sent = self.send(loc, n, target, days, ADVANCING)
                A[loc] -= sent
                model.log_event("flank", self.name, loc, target, sent)
                return

    def _maybe_pause(self, loc, A, D) -> None:
        """After heavy losses in the last days, break off: fall back one location and wait."""
        model, v = self.model, self.model.valley
        lost = int(self.recent_losses()[loc])
        if lost <= self.p.pause_loss_share * (A[loc] + lost) or self.p.pause_days == 0:
            return
        back = [nb for nb, d in v.neighbours[loc]
                if D[nb] == 0 and v.control[nb] != Control.DEFENDER and model.passable(nb, d)]
        if not back:
            return
        dst = min(back, key=lambda i: (v.hops[model.attacker_entry, i], i))
        days, _ = self.route(loc, dst, v.control == Control.DEFENDER)
        sent = self.send(loc, int(A[loc]), dst, days, RETREATING)
        A[loc] -= sent
        self.pause_until[dst] = model.day + self.p.pause_days
        self.loss_window.extend([np.zeros_like(self.losses_today)] * self.loss_window.maxlen)
        model.log_event("pause", self.name, loc, dst, sent)


class Defenders(Force):
    """Hold chokepoints, reinforce threatened locations from the reserve, fall back up the valley."""

    def __init__(self, model, side, params):
        super().__init__(model, side, params)
        r = params.reserve
        self.reserve = model.valley.by_id(r) if r != -1 else None
        share = sum(d.share for d in params.deploy if d.location == r)
        self.reserve_keep = int(params.strength * share * params.reserve_keep)
        # Each place's commander has a nerve of their own: the odds at which they fall back, drawn once
        # (log-logistic about fallback_odds, width threshold_spread). Over commanders and runs the chance to
        # fall back at given odds is threshold_probability(): smooth, with no cliff where one wave tips a
        # single threshold, and no daily re-draw that would compound.
        spread = params.threshold_spread if model.switches.movement else 0.0  # no moves: no draw
        self.nerve = commander_nerve(model.streams.commanders, params.fallback_odds, spread, model.valley.n)
        self.pacted = 0  # fighters who have been in pacts (turned or stood down), ever
        self.returned = 0  # of those stood down, how many came back
        self.pact_point = None

    def decide(self, A: np.ndarray, D: np.ndarray) -> None:
        model, v, p = self.model, self.model.valley, self.p
        ammo = self.ammo_at()
        att = model.attackers
        self._move_reserve(A)
        for loc in map(int, np.nonzero(D > 0)[0]):
            if D[loc] <= 0:
                continue
            if A[loc] > 0:
                odds = float(local_odds(A[loc], D[loc], att.lethality, self.lethality, 0.0, v.cover[loc]))
                no_ammo = model.switches.logistics and ammo[loc] < p.out_of_ammo_kg * D[loc]
                if no_ammo or self._falls_back(loc, odds):
                    self._fall_back(loc, A, D)
                    continue
                threat = A[loc]
            else:
                near = [A[nb] for nb, _ in v.neighbours[loc] if A[nb] > 0]
                threat = max(near) if near else 0
            if threat:
                odds = float(local_odds(threat, D[loc], att.lethality, self.lethality, 0.0, v.cover[loc]))
                if odds > p.reinforce_odds:
                    self._reinforce(loc, odds, A, D)
        if model.switches.counterattack:
            self._counterattack(A, D)

    def _counterattack(self, A: np.ndarray, D: np.ndarray) -> None:
        """A stack not in battle retakes a neighbouring place the enemy holds: an empty one with a
        detachment (reoccupy), a held one if its spare fighters have counterattack_odds against the
        holders in their cover. One action per stack a day, and never out of the valley."""
        model, v, p = self.model, self.model.valley, self.p
        att = model.attackers
        theirs = (v.control == Control.ATTACKER) & ~v.is_outside
        if not theirs.any():
            return
        next_to_theirs = v.adjacency @ theirs > 0
        for loc in map(int, np.nonzero((D > 0) & (A == 0) & next_to_theirs)[0]):
            spare = int(D[loc] * (1.0 - p.counterattack_keep))
            if spare <= 0:
                continue
            for nb, link in v.neighbours[loc]:
                if v.control[nb] != Control.ATTACKER or v.is_outside[nb] or D[nb] > 0 or not model.passable(nb, link):
                    continue
                if A[nb] == 0:
                    n, what = min(spare, int(v.frontage[nb])), "reoccupy"
                else:
                    odds = float(local_odds(spare, A[nb], self.lethality, att.lethality, 0.0, v.cover[nb]))
                    if odds < p.counterattack_odds:
                        continue
                    n, what = spare, "counterattack"
                days, _ = self.route(loc, nb, np.zeros(v.n, bool))
                sent = self.send(loc, n, nb, days, ADVANCING)
                if sent:
                    D[loc] -= sent
                    model.log_event(what, self.name, loc, nb, sent)
                    break

    # ------------------------------------------------------------ pacts (switches.pacts) -----------------
    def draw_pact_thresholds(self) -> None:
        """Each place's commander would settle below a morale of their own, drawn once about pact_below."""
        p = self.p
        self.pact_point = kernels.commander_thresholds(self.model.streams.pacts, p.pact_below, p.cohesion_spread,
                                                       self.model.valley.n)

    def make_pacts(self, A: np.ndarray, civilian_pressure: float) -> None:
        """Local commanders whose fighters' morale is below their threshold, with the enemy at or next to
        the place, settle with a daily chance pact_rate (times 1 + civilian_pressure): pact_turn_share of
        the fighters change sides, the rest stand down and leave the fight."""
        model, v, p = self.model, self.model.valley, self.p
        chance = min(1.0, p.pact_rate * (1.0 + civilian_pressure))
        draws = model.streams.pacts.random(v.n)  # one per place every day: the stream does not depend on who is where
        near_enemy = ((A > 0) | (v.adjacency @ (A > 0) > 0)) & ~v.is_outside & (draws < chance)
        if not near_enemy.any():
            return
        mean, weight = self.place_morale()
        for loc in map(int, np.nonzero(near_enemy & (weight > 0) & (mean < self.pact_point))[0]):
            total = int(weight[loc])
            k = int(round(p.pact_turn_share * total))
            rows, turned = self.pick_at(loc, k, model.streams.pacts)
            food, ammo = self.take_out(rows, turned, "turned")
            model.attackers.join(k, loc, food, ammo)
            rows = self.rows_at(loc)
            self.take_out(rows, self.size[rows].copy(), "stood_down")
            self.pacted += total
            model.log_event("pact", self.name, loc, fighters=total, note=f"{k} changed sides")

    def unravel(self) -> None:
        """While the defence holds well (the side's mean morale above unravel_above), fighters who stood
        down under pacts come back, a share pact_unravel_rate a day, to the reserve (or the largest stack)."""
        model, p = self.model, self.p
        back = int(model.streams.pacts.binomial(self.stood_down, p.pact_unravel_rate)) if self.stood_down else 0
        if back <= 0:
            return
        mean, weight = self.place_morale()
        if weight.sum() <= 0 or float((mean * weight).sum() / weight.sum()) <= p.unravel_above:
            return
        home = self.reserve if self.reserve is not None and weight[self.reserve] > 0 else int(np.argmax(weight))
        self._place(back, home, p.morale)  # they come back with nothing: the stores issue to them
        self.stood_down -= back
        self.returned += back
        model.log_event("pact unravels", self.name, home, fighters=back)

    def _falls_back(self, loc: int, odds: float) -> bool:
        """The place's commander breaks off when the odds pass their nerve."""
        return odds > self.nerve[loc]

    def _move_reserve(self, A) -> None:
        """If the reserve's location is lost or in battle, the reserve's base moves up the valley."""
        v = self.model.valley
        while self.reserve is not None and (v.control[self.reserve] == Control.ATTACKER or A[self.reserve] > 0):
            self.reserve = v.next_up_road(self.reserve)

    def _reinforce(self, loc, odds, A, D) -> None:
        v, R = self.model.valley, self.reserve
        if R is None or R == loc or A[R] > 0 or D[R] <= 0:
            return
        spare = int(D[R] - self.reserve_keep)
        ratio = odds / self.p.reinforce_odds if self.p.reinforce_odds > 0 else np.inf
        need = math.ceil(D[loc] * (min(ratio, 1e6) - 1.0))  # capped: odds can be infinite
        n = min(int(need), spare)  # the reserve keeps a core for the next threat
        if n <= 0:
            return
        days, _ = self.route(R, loc, v.control == Control.ATTACKER)
        sent = self.send(R, n, loc, days, ADVANCING)
        D[R] -= sent

    def _fall_back(self, loc, A, D) -> None:
        model, v = self.model, self.model.valley
        entry = model.attacker_entry
        options = [nb for nb, d in v.neighbours[loc]
                   if A[nb] == 0 and v.control[nb] != Control.ATTACKER and not v.is_outside[nb]
                   and model.passable(nb, d)]
        if not options:
            return  # cornered: they fight on where they are
        dst = max(options, key=lambda i: (v.hops[entry, i], v.is_road[i], v.km[i], -i))
        days, _ = self.route(loc, dst, v.control == Control.ATTACKER)
        sent = self.send(loc, int(D[loc]), dst, days, RETREATING)
        D[loc] -= sent
        model.log_event("fall back", self.name, loc, dst, sent)
        for store in model.stores_at(loc, "defender"):
            if model.streams.movement.random() < self.p.destroy_on_retreat:
                store.destroy()
