"""The fighters of one side, held column-wise so a day costs a few numpy passes, not one Python call per
fighter: one row per group (one fighter or `fighters_per_agent` of them), and the side's tallies of every way
fighters leave the fight. This is the store only: what the fighters do each day is in `processes.py`, what
their commanders decide in `commands.py`, and their Mesa agents (`Fighter`, `Contingent`) in `fighters.py`.
"""

from __future__ import annotations

import math
from collections import deque
from enum import IntEnum

import numpy as np

from . import fused
from .ledger import Ledger
from .params import Side


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

NO_COUNTS = np.zeros(0, np.int64)  # take_out's counts to keep when none are kept


class Force:
    """One side's fighters (columns, one row per group) and its tallies (initial, arrived, killed, deserted, ...).

    It knows the number of places, its ledger and its resolution; nothing of the day: the day and the random
    stream of the process that moves or takes fighters are given to each call that needs them.
    """

    # the columns (COLUMNS) and the tallies (TALLIES), declared for readers and type checkers
    size: np.ndarray
    loc: np.ndarray
    dest: np.ndarray
    eta: np.ndarray
    state: np.ndarray
    morale: np.ndarray
    food: np.ndarray
    ammo: np.ndarray
    hungry: np.ndarray
    killed: int
    deserted: int
    surrendered: int
    stood_down: int
    turned: int
    withdrawn: int
    dispersed: int

    def __init__(self, side: str, params: Side, n_places: int, ledger: Ledger, fighters_per_agent: int,
                 logistics: bool):
        self.side, self.p, self.name = side, params, params.name
        self.n_places, self.ledger, self.fighters_per_agent, self.logistics = n_places, ledger, fighters_per_agent, \
            logistics
        for name, (dtype, fill) in COLUMNS.items():
            setattr(self, name, np.full(64, fill, dtype))
        self.facades = None  # the Mesa agents viewing the rows (fighters.FighterAgents), if any
        self.rows = 0
        self._counts: np.ndarray | None = None
        self._present_rows: tuple[np.ndarray, np.ndarray] | None = None
        self._present_left = False  # some of the present rows may have been emptied or set off since found
        self._strength: int | None = None
        self._next_arrival = fused.NEVER  # no group on the move arrives before this day (arrive() skips till then)
        self.initial = self.arrived = 0
        for how in TALLIES:
            setattr(self, how, 0)
        self.surrendered_encircled = 0  # of the surrendered: encircled when they gave up
        self.regrouped = 0  # of those dispersed, how many came back
        self.pacted = 0  # fighters who have been in pacts (turned or stood down), ever
        self.returned = 0  # of those stood down, how many came back
        # The side's state that its daily processes keep (processes.py)
        self.enemy_peak = 0  # the most enemy fighters there have been in the valley (dispersal)
        self.left_today = 0  # deserted, surrendered or in pacts since morale was last updated (the news)
        self.pending_shock = 0.0  # morale the whole side loses at its next update (key places, depots lost)
        self.break_point: np.ndarray | None = None  # each place's breaking point (switches.cohesion)
        self.pact_point: np.ndarray | None = None  # each place's commander's pact threshold (switches.pacts)
        self.losses_today = np.zeros(n_places, np.int64)
        self.loss_window = deque([np.zeros(n_places, np.int64)] * params.pause_window_days,
                                 maxlen=params.pause_window_days)
        self.lethality = float(params.lethality)
        self.area_fire = params.fire == "area"

    # ------------------------------------------------------------ bookkeeping ---------------------------
    def present_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the groups present (someone in them, at a location, not in transit) and their locations.
        Kept, as counts(), until fighters next move or are lost (`_moved`); read them, do not change them."""
        if self._present_rows is None:
            self._find_present()
        elif self._present_left:  # losses or departures since: those still holding, without a pass over all rows
            self._present_rows = fused.still_present(*self._present_rows, self.size, self.state)
            self._present_left = False
        assert self._present_rows is not None
        return self._present_rows

    def _find_present(self) -> None:
        idx, locs, self._counts = fused.present(self.size, self.state, self.loc, self.rows, self.n_places)
        self._present_rows = (idx, locs)
        self._present_left = False

    def strength(self) -> int:
        """Fighters in the side's groups, in the valley or on the way. Kept, as counts(), until `_moved`."""
        if self._strength is None:
            self._strength = int(self.size[: self.rows].sum())
        return self._strength

    def counts(self) -> np.ndarray:
        """Fighters present per location (a fresh array: callers may change it). Kept until a group's size,
        place or state next changes (`_moved`): the model asks for it a dozen times a day."""
        if self._counts is None:
            self._find_present()
        assert self._counts is not None
        return self._counts.copy()

    def _moved(self) -> None:
        """Sizes, places or states changed: counts() and present_rows() must be found again."""
        self._counts = self._present_rows = self._strength = None
        self._present_left = False

    def ammo_at(self) -> np.ndarray:
        """kg of ammunition carried by the fighters present at each place."""
        idx, locs = self.present_rows()
        return fused.place_sums(self.ammo, idx, locs, self.n_places)

    def _grow(self, k: int) -> np.ndarray:
        need = self.rows + k
        if need > len(self.size):
            cap = max(need, 2 * len(self.size))
            for name, (dtype, fill) in COLUMNS.items():
                old = getattr(self, name)
                new: np.ndarray = np.full(cap, fill, dtype=dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        rows = np.arange(self.rows, need)
        self.rows = need
        return rows

    def _new_agents(self, rows: np.ndarray) -> None:
        if self.facades is not None:
            self.facades.created(rows)

    def full_food(self, sizes) -> np.ndarray:
        if not self.logistics:
            return np.zeros(len(sizes))
        return sizes * self.p.carry_food_days * self.p.food_kg_per_day

    def full_ammo(self, sizes) -> np.ndarray:
        if not self.logistics:
            return np.zeros(len(sizes))
        return sizes * self.p.carry_ammo_kg

    def place_new(self, fighters: int, loc: int, morale: float) -> np.ndarray:
        """New groups of fighters_per_agent (holding at `loc`, carrying nothing yet) and their agents; the
        groups' rows."""
        fpa = self.fighters_per_agent
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
        rows = self.place_new(fighters, loc, self.p.morale)
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
        rows = self.place_new(fighters, loc, self.p.morale)
        share = self.size[rows] / fighters
        self.food[rows], self.ammo[rows] = food * share, ammo * share
        self.arrived += int(fighters)
        self.ledger.deliver(float(self.food[rows].sum()), float(self.ammo[rows].sum()))

    def split(self, row: int, k: int) -> int:
        """Detach k fighters of group `row` into a new group (same place, morale, share of supplies). For `send`,
        which sets the new group on its way and then brings counts() and present_rows() up to date."""
        new = int(self._grow(1)[0])
        fused.split_off(self.size, self.loc, self.dest, self.eta, self.state, self.morale, self.food, self.ammo,
                        self.hungry, row, new, k)
        self._new_agents(np.array([new]))
        return new

    def take_out(self, rows: np.ndarray, lost: np.ndarray, how: str) -> tuple[float, float]:
        """Remove `lost[i]` fighters from group rows[i], by one of TALLIES. Their carried supplies are
        captured (surrendered, turned: they go to the enemy) or destroyed (lost to the valley's accounts:
        killed, deserted, stood down under a pact, withdrawn elsewhere). An emptied group is out of action and
        leaves the model."""
        food_kg, ammo_kg, emptied, n, groups, holding_emptied = fused.take_out(
            self.size, self.food, self.ammo, self.state, self.loc, rows, lost, self.kept_counts())
        return self._taken(food_kg, ammo_kg, emptied, n, groups, holding_emptied, how)

    def columns_present(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                       np.ndarray, np.ndarray]:
        """The columns a kernel that takes fighters out changes (size, food, ammo, state), their places, the kept
        counts and the present rows and their places (brought up to date first): `fused.fight_losses`'s."""
        idx, locs = self.present_rows()
        return self.size, self.food, self.ammo, self.state, self.loc, self.kept_counts(), idx, locs

    def kept_counts(self) -> np.ndarray:
        """The counts kept (counts()'s own array, for a kernel that keeps them up to date: `fused.take_out`), or an
        empty array when there are none to keep."""
        return self._counts if self._counts is not None else NO_COUNTS

    def account(self, took: np.ndarray, gone: np.ndarray, emptied: np.ndarray, hows: tuple[str, ...]) -> None:
        """Several take_outs made in one compiled call, in order (`fused._taken`'s form: row t of `took` and `gone`
        for `hows[t]`, its emptied rows ending at took[t, 3] in `emptied`): each accounted as `take_out` would."""
        start = 0
        for t, (n, groups, holding_emptied, end) in enumerate(took.tolist()):
            if groups:  # (most days no one deserts or surrenders)
                food_kg, ammo_kg = gone[t].tolist()
                self._taken(food_kg, ammo_kg, emptied[start:end], n, groups, holding_emptied, hows[t])
            start = end

    def _taken(self, food_kg, ammo_kg, emptied, n, groups, holding_emptied, how: str) -> tuple[float, float]:
        """What follows a take_out (`fused.take_out`'s result): the tallies, the ledger, the kept strength and present
        rows, the agents of emptied groups."""
        n = int(n)  # a Python int, compiled or not (NUMBA_DISABLE_JIT runs the kernels as Python)
        if groups == 0:
            return 0.0, 0.0
        # counts() was kept up to date in the pass; the present rows stand unless a group holding at a place was
        # emptied (then those left in them, when next read)
        if holding_emptied:
            self._present_left = True
        if self._strength is not None:
            self._strength -= n
        if how in ("surrendered", "turned"):
            self.ledger.capture(food_kg, ammo_kg)
        else:
            self.ledger.destroy(food_kg, ammo_kg)
        setattr(self, how, getattr(self, how) + n)
        if how in LEFT:
            self.left_today += n
        if self.facades is not None:
            for row in emptied.tolist():
                self.facades.emptied(row)
        return float(food_kg), float(ammo_kg)

    def rows_at(self, loc: int) -> np.ndarray:
        """The rows of the groups present at a place, ascending."""
        idx, locs = self.present_rows()
        return fused.rows_at(idx, locs, int(loc), self.size, self.state)

    def pick_at(self, loc: int, n: int, rng: np.random.Generator | fused.StreamBox) -> tuple[np.ndarray, np.ndarray]:
        """n fighters at a location chosen at random fighter by fighter (not group by group), with the stream
        of the process that takes them (or it boxed, `Streams.box`; a Generator is boxed here, at ~40 us): the
        groups' rows and how many of each (all of them if n is at least everyone there; `fused.pick`)."""
        idx, locs = self.present_rows()
        return fused.pick(self.size, self.state, idx, locs, int(loc), int(n), fused.as_box(rng))

    def lose_at(self, loc: int, n: int, how: str, rng: np.random.Generator | fused.StreamBox) -> int:
        """Take n fighters out at a location (`pick_at`) by one of TALLIES; how many went."""
        rows, lost = self.pick_at(loc, n, rng)
        self.take_out(rows, lost, how)
        return int(lost.sum())

    def send(self, src: int, n: int, dst: int, days: float, state: int, day: int,
             rng: np.random.Generator | fused.StreamBox) -> int:
        """On `day`, start n fighters (chosen at random with `rng`, the movement stream, or it boxed: `Streams.box`;
        a Generator is boxed here, at ~40 us) from src towards dst; they arrive after `days` (>= 1)."""
        if n <= 0 or not np.isfinite(days):
            return 0
        arrival = day + max(1, math.ceil(days - 1e-9))
        state = int(state)  # a plain int: numpy and a compiled call take a State (an IntEnum) on their slow paths
        idx, locs = self.present_rows()
        sent, row, part = fused.send(self.size, self.dest, self.state, self.eta, idx, locs, int(src), int(n), int(dst),
                                     state, int(arrival), fused.as_box(rng))
        if sent == 0:
            return 0  # no one there
        if part:  # the last group is split: part of it goes
            new = self.split(int(row), int(part))
            self.dest[new], self.state[new], self.eta[new] = dst, state, arrival
        self._next_arrival = min(self._next_arrival, arrival)
        if state == HOLDING or self._counts is None or self._present_rows is None:
            self._moved()
        else:  # those who went are no longer present at src (taken off the present rows when next read)
            self._counts[src] -= sent
            self._present_left = True
        return int(sent)

    def arrive(self, day: int) -> None:
        """Groups on the move whose day of arrival has come reach their destination (none can before the day
        the first of them is due: no pass over the side's groups till then)."""
        if day < self._next_arrival:
            return
        moved, self._next_arrival = fused.arrive(self.size, self.state, self.loc, self.dest, self.eta, self.rows, day)
        if moved:
            self._moved()

    def end_day_losses(self) -> None:
        self.loss_window.append(self.losses_today.copy())
        self.losses_today[:] = 0

    def recent_losses_at(self, loc: int) -> int:
        """Fighters lost at a place over the last pause_window_days."""
        return sum(int(day[loc]) for day in self.loss_window)

    def forget_losses(self) -> None:
        """The recent losses no longer weigh (a pause has been taken for them)."""
        self.loss_window.extend([np.zeros_like(self.losses_today)] * (self.loss_window.maxlen or 0))

    def place_morale(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean morale of the fighters present at each place, and how many they are."""
        return fused.place_means(self.size, self.morale, *self.present_rows(), self.n_places)

    @property
    def other_side(self) -> str:
        return "defender" if self.side == "attacker" else "attacker"

    def withdraw(self, share: float, enemy_counts: np.ndarray, rng: np.random.Generator) -> int:
        """`share` of the side's fighters not in battle (where the enemy has no one: `enemy_counts`) leave the
        valley, from every place in proportion so the front line is not stripped first: demands elsewhere,
        or an operation's planned end."""
        free = np.where(enemy_counts == 0, self.counts(), 0)
        total = 0
        for loc in (free > 0).nonzero()[0].tolist():
            total += self.lose_at(loc, int(round(share * free[loc])), "withdrawn", rng)
        return total
