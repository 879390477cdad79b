"""ValleyModel: how long a defended valley with one road in holds out, and what outside resupply changes."""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import functools
import math
import threading
from typing import NamedTuple

import mesa
import numpy as np
from mesa.datacollection import DataCollector
from mesa.experimental.scenarios import Scenario

from ..inputs.scenario import DEFAULT_SCENARIO, SCHEMA, load, load_params, params_to_overrides, read_parameter_sets
from ..inputs.uncertain import draws_anything, is_integer
from . import combat, fused, kernels, processes, uncertain
from .agents import ResupplySource, SupplyStore, Weather
from .commands import AttackerCommand, DefenderCommand
from .fighters import Contingent, FighterAgents
from .forces import TALLIES, Force
from .ledger import COMMODITIES, Ledger
from .outcome import ANSWER, CAUSES, DAILY, HELD, RUN_ON, SERIES, Outcome, as_numbers, resolved_parameters
from .params import ScenarioInfo, Side, Sides, effective
from .situation import Situation
from .space import ATTACKER_HELD, DEFENDER_HELD, Valley
from .streams import Streams

__all__ = ["CAUSES", "SERIES", "Event", "ValleyModel", "run_once"]


class Event(NamedTuple):
    """Something that happened, for the run's log (`model.events`)."""

    day: int
    what: str  # "flank", "pause", "fall back", "store captured", "store destroyed"
    side: str  # the name of the side it happened to
    place: str  # where (the location's name)
    to: str = ""  # where to, for moves
    fighters: int = 0  # how many fighters moved
    note: str = ""  # e.g. the store's name


class DailyCollector(DataCollector):
    """Mesa's DataCollector, for this model's own reporters (outcome.DAILY and ANSWER: functions of the model
    that return a number, a string or None). After the first day, which Mesa's own collect checks and records,
    a day's values are kept as they are rather than deep-copied one by one: they cannot change, and the copies
    were a few percent of a run. Another kind of value, or agent reporters, go through Mesa's way."""

    def collect(self, model):
        if not self._validated or self.agent_reporters or self.agenttype_reporters:
            return super().collect(model)
        if hasattr(self, "_collection_steps"):
            self._collection_steps.append(model.time)
        for var, reporter in self.model_reporters.items():
            value = reporter(model)
            self.model_vars[var].append(value if type(value) in _KEPT_AS_IS else copy.deepcopy(value))


_KEPT_AS_IS = frozenset({int, float, str, bool, type(None), np.float64, np.int64, np.bool_})


@functools.lru_cache(maxsize=4096)
def _iso_date(start: dt.date, day: int) -> str:
    """start + day days, as ISO text: a row's date, found once per day of the season rather than once per run."""
    return (start + dt.timedelta(days=day)).isoformat()


ENEMY_CONTROL = {"attacker": DEFENDER_HELD, "defender": ATTACKER_HELD}  # plain ints: numpy compares them faster


class Wave(NamedTuple):
    """Fighters arriving from outside: at time t (days since the start), n of them, at location index entry."""

    t: float
    n: int
    entry: int


class ValleyModel(mesa.Model):
    """An offensive against a valley with a single access road, one day per step.

    Build with no arguments for the Panjshir 2021 baseline; or name a scenario file (`scenario_file`, a
    path, a name such as "panjshir-2021", or a dict) and variant, with overrides by dotted key
    (`overrides={"sides.defender.strength": 4000}`) or as plain keywords (`defender_strength=4000`, or any
    dotted key written with `__`: `sides__defender__strength=4000`). numpy scalars are taken as the Python
    values of the same kind.

    `scenario=` is Mesa's own (`mesa.experimental.scenarios.Scenario`, as SolaraViz's Reset and Mesa tools
    pass it): its values are parameters like the keywords, its `rng` the seed, and `m.scenario` is that
    Mesa object. The valley's own scenario, resolved, is `m.spec` (the file as a dict) and `m.params`
    (typed records). `draw_seed`: where the run's draws of what the scenario leaves open ([uncertain]) come
    from, when not from its own seed (runs sharing one draw the same values; `m.drawn` says what they were).
    """

    def __init__(self, scenario_file=DEFAULT_SCENARIO, variant: str | None = None, overrides: dict | None = None,
                 rng=None, scenario: Scenario | None = None, *, draw_seed: int | None = None, **params):
        spec, rng, given = self._resolve(scenario_file, variant, overrides, rng, scenario, params)
        fused.tell_if_compiling()  # a fresh install's first run compiles the kernels: say so, once a process
        super().__init__(rng=rng, scenario=scenario)
        # ODD 3.1, in this order. One generator per stochastic process (streams.py): a variant that switches a
        # process on never shifts another's draws, so variants run from one seed stay paired.
        self.streams = Streams.of(self.rng, seeded=not isinstance(rng, np.random.Generator))
        self.drawn = self._draw_uncertain(spec, given, draw_seed)  # [uncertain]: this run's values of the unknown
        if self.drawn:
            spec = load(scenario_file, variant, {**self.drawn, **given})
        self.spec = spec  # the resolved file, as a dict (the edge: outputs, manifests)
        self.params = p = load_params(spec)  # the same, as typed records: what the simulation reads
        self.switches = effective(p.switches)
        self._set_calendar(p.scenario)
        self.valley = Valley(p, random=self.random)
        self.grid = self.valley.space  # Mesa's name for the model's space (SolaraViz and Mesa tools read it)
        self.ledgers = {"attacker": Ledger(), "defender": Ledger()}
        self.weather = Weather(self, p.weather, enabled=self.switches.weather)  # draws first snow and winter
        self.attackers = self._side("attacker", p.sides.attacker)
        self.defenders = self._side("defender", p.sides.defender)
        self._set_arrivals(p.sides)
        self._deploy(self.defenders, p.sides.defender)
        self._deploy(self.attackers, p.sides.attacker)
        self.initial_defenders = self.defenders.initial
        self.civilians = p.civilians
        self.population = float(p.civilians.population)  # in the valley now (flight lowers it)
        self._make_stores()
        self.sources = [ResupplySource(self, kind, source)  # outside resupply (Mesa agents)
                        for kind, source in (("air", p.resupply.air), ("passes", p.resupply.passes)) if source.enabled]
        self._waves_at(0)  # waves at time 0 are there from the start
        self._set_commands()
        self._set_state()
        self._draw_thresholds()
        for force in (self.attackers, self.defenders):  # each cell's agents include the fighters there
            Contingent.create_agents(self, self.valley.n, force=force, cell=list(self.valley.locations))
        self._measured: dict | None = None  # while a day's row is collected (step)
        self.datacollector = DailyCollector(model_reporters={**DAILY, **ANSWER})  # ANSWER: for batch_run rows
        self.datacollector.collect(self)
        self.lock = threading.RLock()  # held for a step and by readers in other threads: never see half a day

    # ------------------------------------------------------------ set-up -------------------------------
    @staticmethod
    def _resolve(scenario_file, variant, overrides, rng, scenario, params) -> tuple[dict, object, dict]:
        """The resolved scenario (file, variant, overrides and keyword parameters, Mesa's Scenario's too), the
        seed, and the overrides the run was given."""
        if scenario is not None and not isinstance(scenario, Scenario):
            raise TypeError(f"scenario= is Mesa's Scenario object (got {type(scenario).__name__}); a scenario "
                            "file or name goes first, or as scenario_file=")
        if scenario is not None:
            params = {**{k: v for k, v in scenario if k != "rng"}, **params}
            if rng is None:
                rng = scenario.rng
            elif scenario.rng is None:
                scenario.rng = rng  # SolaraViz's Reset: a fresh Scenario() beside the seed control's value
        if isinstance(rng, np.integer):  # Mesa seeds random.Random with it, which refuses numpy integers
            rng = int(rng)
        merged = dict(overrides or {})
        merged.update(params_to_overrides(params))
        return load(scenario_file, variant, merged), rng, merged

    def _draw_uncertain(self, spec: dict, given: dict, draw_seed: int | None) -> dict:
        """The run's draws of the file's [uncertain] inputs and parameter sets (core/uncertain.py), unless
        switches.uncertain is off; a key the run was given (an override, a factor, a slider) is not drawn.
        They come from the run's seed, or from `draw_seed` (runs given the same one draw the same values while
        chance differs: how a study tells the spread from parameters from the spread from chance)."""
        if not spec["switches"]["uncertain"] or not draws_anything(spec["uncertain"]):
            return {}
        streams = self.streams if draw_seed is None else Streams(np.random.SeedSequence(int(draw_seed)))
        return uncertain.draw(spec["uncertain"], streams, given, read_parameter_sets,
                              lambda key: is_integer(SCHEMA, key))

    def _set_calendar(self, sc: ScenarioInfo) -> None:
        self.start_date: dt.date = sc.start_date
        self.start_doy = self.start_date.timetuple().tm_yday
        self.fighters_per_agent = sc.fighters_per_agent
        self.horizon = sc.horizon_days
        self.events: list[Event] = []

    def _side(self, side: str, params: Side) -> Force:
        """A side's fighters (columns) with their Mesa agents."""
        force = Force(side, params, self.valley.n, self.ledgers[side], self.fighters_per_agent,
                      self.switches.logistics)
        FighterAgents(self, force)
        return force

    def _set_arrivals(self, sides: Sides) -> None:
        """Where each side's waves arrive, and when (the attacker's by default at the valley's mouth)."""
        att, dfd = sides.attacker, sides.defender
        self.defender_entry = self.valley.by_id(dfd.arrive_at) if dfd.arrive_at != -1 else None
        self.attacker_entry = self.valley.by_id(att.arrive_at) if att.arrive_at != -1 else self.valley.mouth
        self.waves = self._scaled_waves(att, self.attacker_entry)  # the attacker's
        # read every day (overstretch): what the waves bring in all, and when the last of them is due
        self._wave_fighters = sum(w.n for w in self.waves)
        self._last_wave_t = max((w.t for w in self.waves), default=-math.inf)
        self.defender_waves = self._scaled_waves(dfd, self.defender_entry)  # from outside (over a pass, say)
        self._wave_times = sorted({w.t for w in (*self.waves, *self.defender_waves)})  # read every day (_fight)

    def _set_commands(self) -> None:
        """Each side's commanders, with their nerve drawn once (the commanders' stream)."""
        self.key_places = [self.valley.by_id(k) for k in self.params.collapse.key_locations]  # location indices
        args = (self.valley, self.switches, self.streams, self.attacker_entry)
        self.attacker_command = AttackerCommand(self.attackers, self.defenders, *args, key_places=self.key_places)
        self.defender_command = DefenderCommand(self.defenders, self.attackers, *args,
                                                stores=self.stores_of("defender"))

    def _set_state(self) -> None:
        """The day's shared state and the run's record, before the first day."""
        n = self.valley.n
        self.contested = np.zeros(n, bool)
        self.strength_before_fight = {side: np.zeros(n, np.int64) for side in ("attacker", "defender")}
        self.civilian_shortfall = 0.0
        self.stockout_day: dict[str, int | None] = {"food": None, "ammo": None}
        self.collapse_day: int | None = None
        self.cause: str | None = None
        self.end_reason: str | None = None
        self.front_km = 0.0
        self.front_moved_day = 0  # the last day the attacker's front moved forward (for overstretch)
        self.encircled = np.zeros(n, bool)  # defended places cut off from every depot and pass
        depth = self.valley.hops[self.attacker_entry]
        # nearer_to_entry[i, j]: j is a neighbour of i nearer the attacker's entry (behind i, for an attacker)
        self.nearer_to_entry = (self.valley.adjacency > 0) & (depth[None, :] < depth[:, None])
        self.outflanked_today = {side: np.zeros(n, bool) for side in ("attacker", "defender")}
        self.fell_by: str | None = None
        self.floor_lost_day: int | None = None
        self.resistance_ended_day: int | None = None
        self.at_fall: dict | None = None  # the outcome on the day the valley fell, when a run-on follows it
        self.run_on_collector: DataCollector | None = None  # the run-on's days, kept apart from the run's
        self.attackers_extra = 0  # fighters sent beyond the committed waves (overstretch)
        self.civilians_fled = 0.0

    def _draw_thresholds(self) -> None:
        """Breaking points and pact thresholds, drawn once, each from its own stream: with one process
        switched off, nothing else changes; with switches.outside_pacts, the national picture heard."""
        if self.switches.cohesion:
            processes.draw_breaking_points(self.attackers, self.streams.cohesion)
            processes.draw_breaking_points(self.defenders, self.streams.cohesion)
        if self.switches.pacts:
            processes.draw_pact_thresholds(self.defenders, self.streams.pacts)
        if self.switches.outside_pacts:
            processes.hear_the_national_picture(self.defenders, self.defenders.p.outside_pact_share)

    def _scaled_waves(self, side: Side, entry: int | None) -> list[Wave]:
        """The side's waves: t = 3 arrives when day 3 ends (it first fights on day 4), t = 3.5 halfway
        through day 4; at the side's entry, or at the wave's own location (another axis)."""
        def at(wave) -> int:
            if len(wave) == 3:
                return self.valley.by_id(int(wave[2]))
            assert entry is not None, "a side with waves has an arrival location (a rule of the scenario file)"
            return entry

        waves = [Wave(w[0], int(w[1]), at(w)) for w in side.waves]
        total = sum(w.n for w in waves)
        if side.committed > 0 and total > 0:  # rescale to the committed pool, keeping the sum exact
            cum = np.round(np.cumsum([w.n for w in waves]) * side.committed / total).astype(int)
            waves = [w._replace(n=int(c - p)) for w, c, p in zip(waves, cum, np.r_[0, cum[:-1]])]
        return sorted(waves, key=lambda w: (w.t, w.n, w.entry))

    def _deploy(self, force, side: Side) -> None:
        """Place the side's starting strength by deployment shares (largest remainder, exact total)."""
        n = side.strength
        if n <= 0:
            return
        shares = np.array([d.share for d in side.deploy])
        raw = shares / shares.sum() * n
        counts = np.floor(raw).astype(int)
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[: n - counts.sum()]] += 1
        for d, c in zip(side.deploy, counts):
            force.add(int(c), self.valley.by_id(d.location), initial=True)

    def _reference_draw(self, side: str) -> tuple[float, float]:
        """Food and ammunition (kg/day) one day of supply stands for, for a side."""
        p = self.force(side).p
        n = p.strength + sum(w.n for w in (self.waves if side == "attacker" else self.defender_waves))
        food = n * p.food_kg_per_day
        if side == "defender":
            food += self.civilian_need_kg
        return food, n * p.ammo_reference_kg_per_day

    def _make_stores(self) -> None:
        self.reference = {s: self._reference_draw(s) for s in ("attacker", "defender")}
        self.stores: list[SupplyStore] = []  # the supply stores (Mesa agents), in creation order
        for st in self.params.stores:
            side = st.side
            food_ref, ammo_ref = self.reference[side]
            stocks = self.params.stocks.defender if side == "defender" else self.params.stocks.attacker
            if not self.switches.logistics:
                food = ammo = line_f = line_a = 0.0
            else:
                food = stocks.food_days * food_ref * st.share
                ammo = stocks.ammo_days * ammo_ref * st.share
                line_f, line_a = st.line_days_per_day * food_ref, st.line_days_per_day * ammo_ref
            cell = self.valley.cell(self.valley.by_id(st.location))
            self.stores.append(SupplyStore(self, cell, st.name, side, food, ammo, st.reach_hops,
                                           st.feeds_civilians, line_f, line_a))
            self.ledgers[side].add_initial(food, ammo)
        self._stores_of = {side: [s for s in self.stores if s.side == side] for side in ("attacker", "defender")}
        self._supplied = [s for s in self.stores if s.line_food or s.line_ammo]  # fed from outside each day

    # ------------------------------------------------------------ helpers ------------------------------
    # Mesa's views of the agents: the fighters' agents are made when first read (fighters.FighterAgents).
    @property
    def agents(self):
        self._fighter_agents()
        return super().agents

    @property
    def agents_by_type(self):
        self._fighter_agents()
        return super().agents_by_type

    @property
    def agent_types(self):
        self._fighter_agents()
        return super().agent_types

    def _fighter_agents(self) -> None:
        for force in (getattr(self, "attackers", None), getattr(self, "defenders", None)):
            if force is not None and force.facades is not None:
                force.facades.materialise()

    def force(self, side: str):
        return self.attackers if side == "attacker" else self.defenders

    def stores_of(self, side: str) -> list[SupplyStore]:
        """The side's stores, in creation order (read them, do not change the list: it is kept)."""
        return self._stores_of[side]

    def situation(self) -> Situation:
        """The day's shared state as it stands, for the processes and commands that act on it."""
        return Situation(self.day, self.valley, self.weather, self.contested, self.strength_before_fight,
                         self.encircled, self.outflanked_today, self.log_event)

    def log_event(self, what: str, side: str, place: int, to: int | None = None, fighters: int = 0,
                  note: str = "") -> None:
        names = self.valley.names
        self.events.append(Event(self.day, what, side, names[place], "" if to is None else names[to],
                                 int(fighters), note))

    @property
    def civilian_need_kg(self) -> float:
        """Food (kg/day) the civilians draw from the defenders' stores."""
        c = self.civilians
        return self.population * c.ration_kg_per_day * c.share_fed_from_stores

    def date_of(self, day: int | None) -> str | None:
        return None if day is None else self.date_on(day)

    def date_on(self, day: int) -> str:
        """The calendar date (ISO) of a day since the start."""
        return _iso_date(self.start_date, int(day))

    # ------------------------------------------------------------ the day ------------------------------
    # ODD 1.3, in this order (docs/ODD.md names each phase); a phase that ends the run ends the day.
    SCHEDULE = ("_weather", "_arrivals", "_overstretch", "_logistics", "_decisions", "_fight", "_consume",
                "_civilian_flight", "_morale", "_update_control", "_check_end")

    @property
    def day(self) -> int:
        """Days since the start date: Mesa's step counter (a step is one day)."""
        return self.steps

    @property
    def held_to_winter(self) -> bool:
        return self.end_reason in HELD

    @property
    def days_held(self) -> int:
        """Days until the valley fell, or so far (to the end of the run) if it has not."""
        return self.day if self.collapse_day is None else self.collapse_day

    @property
    def winter_onset_day(self) -> int:
        """The day (since the start) this run's winter sets in."""
        return self.weather.winter_doy - self.start_doy

    @property
    def running_on(self) -> bool:
        """The valley has fallen and the run follows what is left of the resistance (its run-on)."""
        return self.running and self.at_fall is not None

    def step(self) -> None:
        with self.lock:
            # A run-on's days go to a collector of their own: the run's (batch_run's row) ends at the fall.
            collector = self.datacollector if self.run_on_collector is None else self.run_on_collector
            for phase in self.SCHEDULE:
                getattr(self, phase)()
                if not self.running:
                    break
            self._measured = {}  # the day's stocks, found once for the row's several columns that read them
            try:
                collector.collect(self)
            finally:
                self._measured = None

    def __getstate__(self):  # a lock does not pickle; a copy gets a lock of its own
        state = self.__dict__.copy()
        state.pop("lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.lock = threading.RLock()

    def _weather(self) -> None:
        """The day's weather; once winter sets in (and the valley has not fallen) it halts the offensive."""
        self.weather.step()
        if self.switches.weather and self.weather.winter:
            self._end("winter" if self.collapse_day is None else "fell")

    def _arrivals(self) -> None:
        """Waves due at the start of today (their time is the end of yesterday) reach their entry; fighters
        in transit whose arrival day has come arrive. Waves due during today arrive in `_fight`."""
        if self.day > 1:  # time 0 arrived with the initial forces
            self._waves_at(self.day - 1)
        self.attackers.arrive(self.day)
        self.defenders.arrive(self.day)
        for force in (self.attackers, self.defenders):  # planned departures (an operation's end)
            for day, share in force.p.withdrawals:
                if day == self.day:
                    n = force.withdraw(share, self.force(force.other_side).counts(), self.streams.movement)
                    self.log_event("withdrawn", force.name, self.attacker_entry if force is self.attackers
                                   else self.valley.mouth, fighters=n, note="planned")

    def _overstretch(self) -> None:
        """Demands elsewhere on the attacker's pool (switches.overstretch): on a day of recall, part of the
        force in the valley leaves; while the offensive is stalled, extra fighters may come, up to the pool
        the front can draw on. Two draws every day, so the stream does not depend on what happens."""
        if not self.switches.overstretch:
            return
        o, rng = self.params.overstretch, self.streams.overstretch
        recall, extra = rng.random(), rng.random()
        hazard = kernels.recall_hazard(self.day, base=o.recall_hazard, unrest_per_30_days=o.unrest_per_30_days)
        if recall < hazard:
            n = self.attackers.withdraw(o.recall_share, self.defenders.counts(), rng)
            if n:
                self.log_event("recalled", self.attackers.name, self.attacker_entry, fighters=n)
        sent = self._wave_fighters + self.attackers.initial + self.attackers_extra
        stalled = self.day - self.front_moved_day >= o.stall_days and self._last_wave_t < self.day
        if self.switches.main_effort and self.attacker_command.operation_over(self.day):
            stalled = False  # an ended operation is not a stalled one: no one is sent to push it on
        n = min(o.reinforce_size, o.pool_limit - sent)
        if stalled and n > 0 and extra < o.reinforce_hazard:
            self.attackers.add(n, self.attacker_entry, initial=False)
            self.attackers_extra += n
            self.front_moved_day = self.day  # a fresh push: the clock for the next stall starts again
            self.log_event("reinforced", self.attackers.name, self.attacker_entry, fighters=n)

    def _civilian_flight(self) -> None:
        """Civilians leave the valley while a pass out is open on foot and not held by the attacker: a few in
        calm, more when hungry and as the road is lost (switches.civilian_flight)."""
        if not self.switches.civilian_flight or self.population <= 0:
            return
        v, attackers = self.valley, self.attackers.counts()
        # a pass open on foot (pass_open_on_foot > 0) that the attacker neither holds nor stands on (a few passes:
        # plain values, not arrays)
        if not any(v.snow_cm[k] < max(v.closes_foot_cm[k], 1e-9) and v.control[k] != ATTACKER_HELD and attackers[k] == 0
                   for k in v.passes.tolist()):
            return
        c = self.civilians
        share = kernels.flight_share(self.civilian_shortfall, v.road_lost_share(), rate=c.flight_rate,
                                     hunger=c.flight_hunger, fighting=c.flight_fighting)
        leaving = self.population * share
        self.population -= leaving
        self.civilians_fled += leaving

    def outflanked(self, A: np.ndarray, D: np.ndarray) -> dict[str, np.ndarray]:
        """Per side, the places where it has fighters and the enemy alone holds a neighbouring place behind
        them (further from the attacker's entry for the defenders, nearer to it for the attackers)."""
        out = {}
        for side, own, enemy, behind in (("attacker", A, D, self.nearer_to_entry),
                                         ("defender", D, A, self.nearer_to_entry.T)):
            out[side] = fused.outflanked(own, enemy, behind)
        return out

    def _decisions(self) -> None:
        if self.switches.movement:
            A, D, s = self.attackers.counts(), self.defenders.counts(), self.situation()
            self.attacker_command.decide(A, D, s)
            self.defender_command.decide(A, D, s)

    def _waves_at(self, t: float) -> None:
        """Each side's waves due at time t reach its entry (the defenders': `sides.defender.arrive_at`)."""
        for w in self.waves:
            if w.t == t:
                self.attackers.add(w.n, w.entry, initial=False)
        for w in self.defender_waves:
            if w.t == t:
                self.defenders.add(w.n, w.entry, initial=False)

    def _arrivals_during_today(self) -> list[float]:
        """Times of waves that arrive part-way through today (day d covers times d - 1 to d)."""
        times = self._wave_times
        return times[bisect.bisect_right(times, self.day - 1):bisect.bisect_left(times, self.day)]

    def _logistics(self) -> None:
        if not self.switches.logistics:
            return
        for store in self._supplied:
            store.supply_line()
        for source in self.sources:
            source.deliver()
        control = self.valley.control
        for side in ("attacker", "defender"):
            enemy_ground = (control == ENEMY_CONTROL[side]) & (self.force(side).counts() == 0)
            SupplyStore.issue(self.stores_of(side), self.force(side), enemy_ground)
        self._feed_civilians()

    def _consume(self) -> None:
        """Fighters eat the day's ration and, where they were not in battle today, fire at low intensity."""
        if not self.switches.logistics:
            return
        cold = self.params.weather.cold_food_per_degree
        processes.consume(self.attackers, self.weather.temperature, self.contested, cold)
        processes.consume(self.defenders, self.weather.temperature, self.contested, cold)
        for c in COMMODITIES:
            if self.stockout_day[c] is None and self.initial_stock(c) > 0 and self.stock(c) < 1.0:
                self.stockout_day[c] = self.day

    def _feed_civilians(self) -> None:
        need = self.civilian_need_kg
        stores = [s for s in self.stores_of("defender") if s.open and s.feeds_civilians]
        have = sum(s.food for s in stores)
        given = 0.0
        if need > 0 and have > 0:
            for store, part in zip(stores, kernels.share_out(min(need, have), [s.food for s in stores])):
                given += store.feed(part)
        self.civilian_shortfall = 0.0 if need <= 0 else max(0.0, 1.0 - given / need)

    def _fight(self) -> None:
        """The combat kernel at every contested location; losses and ammunition fired taken out there. A
        wave arriving part-way through the day splits the day's fighting at its time (sub-steps shared
        out in proportion), so it fights only the rest of the day."""
        att, dfd = self.attackers, self.defenders
        before = {"attacker": att.counts(), "defender": dfd.counts()}
        self.contested = np.zeros(self.valley.n, bool)
        start, cuts = self.day - 1, self._arrivals_during_today()
        edges = [0.0, *(t - start for t in cuts), 1.0]
        for k, (a, b) in enumerate(zip(edges, edges[1:])):
            if k:  # the waves due at this moment arrive, and count as exposed today
                arriving = {"attacker": att.counts(), "defender": dfd.counts()}
                self._waves_at(cuts[k - 1])
                before["attacker"] += att.counts() - arriving["attacker"]
                before["defender"] += dfd.counts() - arriving["defender"]
            self._engage(b - a)
        self.strength_before_fight = before

    def _engage(self, share: float) -> None:
        """One stretch of the day's fighting (`share` of it) at every contested location."""
        att, dfd, v = self.attackers, self.defenders, self.valley
        A, D = att.counts(), dfd.counts()
        contested = (A > 0) & (D > 0)
        self.contested |= contested
        idx = contested.nonzero()[0]
        if len(idx):
            logi = self.switches.logistics
            sc = self.params.scenario
            cover_holder = v.cover[idx]
            no_limit = np.full(len(idx), np.inf)
            res = combat.engage_each(
                A[idx], D[idx], att_leth=att.lethality, dfd_leth=dfd.lethality,
                att_area=att.area_fire, dfd_area=dfd.area_fire,
                att_cover=np.where(v.control[idx] == ATTACKER_HELD, cover_holder, 0.0),
                dfd_cover=np.where(v.control[idx] == DEFENDER_HELD, cover_holder, 0.0),
                att_frontage=v.frontage[idx], dfd_frontage=v.frontage[idx],
                att_ammo=att.ammo_at()[idx] if logi else no_limit,
                dfd_ammo=dfd.ammo_at()[idx] if logi else no_limit,
                att_ammo_rate=att.p.ammo_kg_per_day_combat if logi else 0.0,
                dfd_ammo_rate=dfd.p.ammo_kg_per_day_combat if logi else 0.0,
                dt=sc.combat_dt_days * share, substeps=max(1, round(sc.combat_substeps * share)),
                rng=self.streams.box("combat"), **self._support_at(A, D, idx))
            # at each place, the attackers' losses, the defenders', then the ammunition each fired (fused.fight_losses)
            losses = fused.fight_losses(idx, res.att_loss, res.dfd_loss, res.att_ammo_used, res.dfd_ammo_used, logi,
                                        *att.columns_present(), *dfd.columns_present(), self.streams.box("combat"))
            killed = ("killed",) * len(idx)
            for force, (took, gone, emptied, lost, spent), used in ((att, losses[0], res.att_ammo_used),
                                                                     (dfd, losses[1], res.dfd_ammo_used)):
                force.account(took, gone, emptied, killed)
                force.losses_today[idx] += lost
                if logi:
                    for kg in spent[used > 0].tolist():
                        force.ledger.consume(0.0, kg)

    def _support_at(self, A: np.ndarray, D: np.ndarray, idx: np.ndarray) -> dict:
        """Each side's supporting weapons at the places fought over (switches.fire_support), shared among them
        by its fighters there; nothing (the kernel makes no draw for them) when the switch is off."""
        if not self.switches.fire_support:
            return {}
        out = {}
        for key, force, n in (("att", self.attackers, A[idx]), ("dfd", self.defenders, D[idx])):
            p = force.p
            out[f"{key}_support"] = p.support_weapons * n / n.sum() if n.sum() > 0 else np.zeros(len(idx))
            out[f"{key}_support_leth"] = p.support_lethality
            out[f"{key}_support_rate"] = p.support_ammo_kg_per_day if self.switches.logistics else 0.0
        return out

    def _morale(self) -> None:
        """Morale after the day's losses, hunger and shortages; then desertion and surrender."""
        att, dfd = self.attackers, self.defenders
        if self.switches.cohesion:
            self.outflanked_today = self.outflanked(att.counts(), dfd.counts())
        s, sw, streams = self.situation(), self.switches, self.streams
        if sw.morale:
            processes.update_morale(att, dfd, s, 0.0, sw, streams)
            processes.update_morale(dfd, att, s, self.civilian_shortfall, sw, streams)
        if sw.pacts:
            pressure = self.civilians.pressure * self.civilian_shortfall
            processes.make_pacts(dfd, att, att.counts(), pressure, s, streams.pacts)
            if sw.outside_pacts:
                processes.settle_before_contact(dfd, att, att.counts(), s, streams.outside_pacts)
            processes.unravel(dfd, self.defender_command.reserve, s, streams.pacts)
        if sw.dispersal:
            inside = ~self.valley.is_outside
            processes.regroup(att, int(dfd.counts()[inside].sum()), s, self.attacker_entry, streams.dispersal)
            processes.regroup(dfd, int(att.counts()[inside].sum()), s, self.attacker_entry, streams.dispersal,
                              enemy=att if self.switches.evasion else None)
        att.end_day_losses()
        dfd.end_day_losses()

    def _update_control(self) -> None:
        v = self.valley
        A, D = self.attackers.counts(), self.defenders.counts()
        shock = self.switches.cohesion
        before = v.control.tolist() if shock else []
        front = float(fused.hold(v.control, A, D, ATTACKER_HELD, DEFENDER_HELD, v.is_road, v.km, v.mouth))
        control = v.control.tolist()  # plain ints: read for seven stores and the key places each day
        for store in self.stores:
            if store.open and control[store.place] == ENEMY_CONTROL[store.side]:
                store.capture()
                if shock:
                    self.force(store.side).pending_shock += self.force(store.side).p.morale_key_loss
        if shock:
            for k in self.key_places:
                if before[k] != ATTACKER_HELD and control[k] == ATTACKER_HELD:
                    self.defenders.pending_shock += self.defenders.p.morale_key_loss
        if front > self.front_km:
            self.front_moved_day = self.day
        self.front_km = front
        if self.switches.encirclement:
            self.encircled = self.cut_off(A, D)

    def cut_off(self, A: np.ndarray, D: np.ndarray) -> np.ndarray:
        """Defended places with no way, over ground the attacker does not hold alone, to an open depot of
        theirs or to a pass out of the valley: their retreat and supply are cut."""
        v = self.valley
        rear = v.is_pass.copy()
        for store in self.stores_of("defender"):
            if store.open:
                rear[store.place] = True
        return fused.cut_off(v.control, A, D, ATTACKER_HELD, rear, v.first_link, v.link_to)


    def _check_end(self) -> None:
        """The valley fell (the rule of `held_to_winter`): a key place is held by the attacker, or fewer than
        min_defender_share of all the defenders who came are still fighting, or no place has organised
        resistance left (so a run that held never has the floor lost or resistance ended: they are falls). The
        valley floor lost and the end of organised resistance are recorded beside it; with
        collapse.run_on_after_fall the run goes on after the fall, until winter or until no organised
        resistance is left: the run's outcome is then the day of the fall, the run-on's own fields beside it."""
        dfd, v, c = self.defenders, self.valley, self.params.collapse
        if self.floor_lost_day is None and self.floor_lost():
            self.floor_lost_day = self.day
        organised = self.organised_places() > 0
        if self.resistance_ended_day is None and not organised:
            self.resistance_ended_day = self.day
        elif organised and self.resistance_ended_day is not None and self.switches.dispersal:
            self.resistance_ended_day = None  # fighters came down from the mountains: it was not the end
        nothing_to_follow = self.resistance_ended_day is not None and dfd.dispersed == 0  # none left to regroup
        if self.collapse_day is None:
            active, total = dfd.strength(), self.initial_defenders + dfd.arrived
            if active == 0 or active < c.min_defender_share * total:
                self.fell_by = "too few defenders"
            elif any(v.control[k] == ATTACKER_HELD for k in self.key_places):
                self.fell_by = "key place lost"
            elif c.fall_without_organised_resistance and not organised:  # no defence left, whoever holds what
                self.fell_by = "no organised resistance"
            elif c.fall_without_organised_resistance and self.floor_lost_day is not None:  # no key places given
                self.fell_by = "valley floor lost"
            if self.fell_by:
                self.collapse_day = self.day
                self.cause = self._cause()
                if not c.run_on_after_fall or nothing_to_follow:
                    self._end("fell")
                    return
                self._follow_run_on()
        elif nothing_to_follow:
            self._end("fell")  # running on after the fall: nothing organised is left to follow
            return
        fell = self.collapse_day is not None
        if self.attackers.strength() == 0 and all(w.t < self.day for w in self.waves) and self.waves:
            self._end("fell" if fell else "repulsed")
        elif self.day >= self.horizon:
            self._end("fell" if fell else "horizon")

    def _follow_run_on(self) -> None:
        """The run ends at the fall (its outcome and batch_run's row are that day's); the days after it are
        the run-on, followed with its own collector and its own fields (`RUN_ON`)."""
        self.end_reason = "fell"
        self.at_fall = self._record()
        self.run_on_collector = DailyCollector(model_reporters=DAILY)

    def floor_lost(self) -> bool:
        """The attacker holds every key place and collapse.floor_road_share of the road's places."""
        v = self.valley
        return all(v.control[k] == ATTACKER_HELD for k in self.key_places) and \
            v.road_lost_share() >= self.params.collapse.floor_road_share

    def organised_places(self) -> int:
        """Places in the valley where defenders still resist as a body: at least organised_min_fighters of
        them, with mean morale above organised_morale."""
        c = self.params.collapse
        mean, weight = self.defenders.place_morale()
        inside = ~self.valley.is_outside
        return int(np.count_nonzero(inside & (weight >= c.organised_min_fighters) & (mean > c.organised_morale)))

    def _cause(self) -> str:
        """Supply exhaustion if the defenders were down to their last day of food or ammunition; else the
        largest way the defenders were lost: killed (combat), deserted or surrendered (cohesion), surrendered
        while encircled (encirclement), in pacts (pacts). Ties go to the first of these."""
        d = self.defenders
        if self.switches.logistics:
            limit = self.params.collapse.supply_exhausted_days
            if min(self.days_left("food"), self.days_left("ammo")) < limit:
                return "supply"
        lost = {"combat": d.killed, "cohesion": d.deserted + d.surrendered - d.surrendered_encircled,
                "encirclement": d.surrendered_encircled, "pacts": d.pacted}
        return max(lost, key=lambda way: lost[way])

    def _end(self, reason: str) -> None:
        self.end_reason = reason
        self.running = False

    # ------------------------------------------------------------ measures -----------------------------
    def stock(self, commodity: str, side: str = "defender") -> float:
        """kg in the side's open stores."""
        return self._measure(self._stock, commodity, side)

    def _stock(self, commodity: str, side: str) -> float:
        return float(sum([getattr(s, commodity) for s in self.stores_of(side)]))

    def _measure(self, how, commodity: str, side: str) -> float:
        """how(commodity, side); while a day's row is collected (`_measured` is a dict), found once for the
        row's several columns that read it."""
        measured = self._measured
        if measured is None:
            return how(commodity, side)
        key = (how, commodity, side)
        value = measured.get(key)
        if value is None:
            value = measured[key] = how(commodity, side)
        return value

    def initial_stock(self, commodity: str) -> float:
        return self.ledgers["defender"].flows["initial"][commodity]

    def carried(self, commodity: str, side: str = "defender") -> float:
        """kg the side's fighters carry."""
        return self._measure(self._carried, commodity, side)

    def _carried(self, commodity: str, side: str) -> float:
        f = self.force(side)
        return float(getattr(f, commodity)[: f.rows].sum())

    def days_left(self, commodity: str) -> float:
        """Defender stock (stores + carried) over today's draw: active defenders (and the civilians fed
        from stores, for food)."""
        n = self.defenders.strength()
        p = self.params.sides.defender
        if commodity == "food":
            draw = n * p.food_kg_per_day + self.civilian_need_kg
        else:
            draw = n * p.ammo_reference_kg_per_day
        have = self.stock(commodity) + self.carried(commodity)
        return have / draw if draw > 0 else math.inf

    def days_at_reference(self, commodity: str) -> float:
        """Defender stock (stores + carried) in days of the reference draw the stocks were set in (`reference`):
        a fixed yardstick, unlike `days_left`, whose draw shrinks with the defenders."""
        draw = self.reference["defender"][0 if commodity == "food" else 1]
        have = self.stock(commodity) + self.carried(commodity)
        return have / draw if draw > 0 else 0.0

    def imbalance(self, side: str, commodity: str) -> float:
        return self.ledgers[side].imbalance(commodity, self.stock(commodity, side), self.carried(commodity, side))

    def fighter_balance(self, side: str) -> int:
        """initial + arrived - (active + every way of leaving the fight, TALLIES): zero when nobody is
        unaccounted (those stood down under a pact count until they come back)."""
        f = self.force(side)
        return f.initial + f.arrived - (f.strength() + sum(getattr(f, how) for how in TALLIES))

    def run(self) -> dict:
        """Step until the valley falls, winter halts the offensive, or the horizon; return the outcome."""
        while self.running:
            self.step()
        return self.outcome()

    def outcome(self) -> dict:
        """The run as one flat record (fields: `redoubt.core.outcome.Outcome`): the run to its end (the fall,
        winter, a repulse or the horizon); after a fall followed on, the `RUN_ON` fields say what followed."""
        record = self._record()
        if self.at_fall is None:
            return record
        return {**self.at_fall, **{k: record[k] for k in RUN_ON}}

    def _record(self) -> dict:
        a, d, w = self.attackers, self.defenders, self.weather
        delivered = {c: sum(s.delivered[c] for s in self.sources) for c in COMMODITIES}
        return Outcome(
            scenario=self.params.scenario.name, variant=self.spec["_variant"], attacker=a.name, defender=d.name,
            end_reason=self.end_reason or "running", end_day=self.day, end_date=self.date_on(self.day),
            held_to_winter=self.held_to_winter,
            collapse_day=self.collapse_day, collapse_date=self.date_of(self.collapse_day), cause=self.cause,
            fell_by=self.fell_by, floor_lost_day=self.floor_lost_day, resistance_ended_day=self.resistance_ended_day,
            organised_places_at_end=self.organised_places(),
            days_held=self.days_held,
            winter_onset_date=(dt.date(self.start_date.year, 1, 1)
                               + dt.timedelta(days=w.winter_doy - 1)).isoformat(),
            winter_onset_day=self.winter_onset_day,
            food_stockout_day=self.stockout_day["food"], ammo_stockout_day=self.stockout_day["ammo"],
            food_days_left=self.days_left("food"), ammo_days_left=self.days_left("ammo"),
            food_t_left=(self.stock("food") + self.carried("food")) / 1000.0,
            ammo_t_left=(self.stock("ammo") + self.carried("ammo")) / 1000.0,
            defenders_initial=d.initial, defenders_arrived=d.arrived, defenders_active=d.strength(),
            defenders_killed=d.killed, defenders_deserted=d.deserted, defenders_surrendered=d.surrendered,
            defenders_surrendered_encircled=d.surrendered_encircled, defenders_stood_down=d.stood_down,
            defenders_turned=d.turned, defenders_returned=d.returned, defenders_dispersed=d.dispersed,
            defenders_regrouped=d.regrouped,
            attackers_arrived=a.initial + a.arrived, attackers_active=a.strength(), attackers_killed=a.killed,
            attackers_deserted=a.deserted, attackers_surrendered=a.surrendered,
            attackers_withdrawn=a.withdrawn, attackers_extra=self.attackers_extra,
            km_road_held=self.valley.road_km_held(), front_km=self.front_km,
            resupply_food_kg=delivered["food"], resupply_ammo_kg=delivered["ammo"],
            resupply_delivered_kg=delivered["food"] + delivered["ammo"],
            resupply_lost_kg=sum(s.lost for s in self.sources),
            civilians_fled=self.civilians_fled, civilians_at_end=self.population,
            run_on_end_day=None if self.at_fall is None else self.day,
            run_on_floor_lost_day=self.floor_lost_day, run_on_resistance_ended_day=self.resistance_ended_day,
            run_on_organised_places_at_end=self.organised_places(),
        ).as_dict()

    def parameters(self) -> dict:
        """The shortcut parameters (`defender_strength`, `food_days`, ...) as this run resolved them."""
        return resolved_parameters(self)

    def series(self) -> dict[str, list]:
        """Each daily series (SERIES) so far, as lists: the run's days, then the run-on's after a fall."""
        days = self.datacollector.model_vars
        if self.run_on_collector is None:
            return {k: days[k] for k in SERIES}
        return {k: days[k] + self.run_on_collector.model_vars[k] for k in SERIES}

    def daily(self):
        """The daily series as a pandas DataFrame (one row per day, from day 0, the run-on's days after the
        run's; `date` a datetime column)."""
        import pandas as pd

        frame = pd.DataFrame(self.series())
        frame["date"] = pd.to_datetime(frame["date"])
        return frame


def run_once(seed: int = 0, scenario_file=DEFAULT_SCENARIO, variant: str | None = None, **params) -> dict[str, float]:
    """One run for an external driver (EMA Workbench, SALib, a scikit-learn loop): parameters as keywords
    (shortcuts such as `defender_strength`, or dotted keys written with `__`; numpy values are fine), the
    outcome as plain numbers only (`redoubt.core.outcome.as_numbers`): `held_to_winter` 0/1, `days_held` always
    defined, NaN for a day that never came (`collapse_day` when the valley held), categories as 0/1."""
    return as_numbers(ValleyModel(scenario_file, variant=variant, rng=seed, **params).run())
