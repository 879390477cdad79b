"""The agents beside the fighters: SupplyStore, Weather and ResupplySource. Fighters (`Fighter`) live in
`forces.py`, next to the columns that hold their state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent
from mesa.discrete_space import FixedAgent

from . import fused, kernels
from .params import AirResupply, PassResupply, WeatherParams
from .space import ATTACKER_HELD

if TYPE_CHECKING:
    from .forces import Force


class SupplyStore(FixedAgent):
    """A located stock of food and ammunition. Issues to its side's fighters within reach, feeds the
    civilians (if it is a civilian store), receives resupply, and can be captured or destroyed."""

    def __init__(self, model, cell, name, side, food, ammo, reach_hops, feeds_civilians, line_food, line_ammo):
        super().__init__(model)
        self.cell = cell
        self.place = cell.idx  # its place's index, read every day (a store does not move; cell.idx is a property)
        self.name, self.side = name, side
        self.food, self.ammo = float(food), float(ammo)
        self.feeds_civilians = feeds_civilians
        self.line_food, self.line_ammo = float(line_food), float(line_ammo)
        self.reach_hops = reach_hops
        self.status = "open"  # open | captured | destroyed
        # places within reach, and the enemy ground it was found for
        self._reach_for: bytes | None = None
        self._reach: np.ndarray = np.zeros(0, bool)

    @property
    def open(self) -> bool:
        return self.status == "open"

    def receive(self, food: float, ammo: float) -> None:
        self.food += food
        self.ammo += ammo
        self.model.ledgers[self.side].deliver(food, ammo)

    def supply_line(self) -> None:
        """A side fed from outside (the attacker's road to Kabul) gets its daily delivery."""
        if self.open and (self.line_food or self.line_ammo):
            self.receive(self.line_food, self.line_ammo)

    @property
    def can_issue(self) -> bool:
        return self.open and (self.food > 0 or self.ammo > 0)  # nothing changes if nothing is given

    def reach(self, enemy_ground: np.ndarray) -> np.ndarray:
        """The places it issues to: within reach_hops over ground the enemy does not hold alone (`enemy_ground`):
        a cut-off position is not supplied. Kept until who holds what changes (it seldom does)."""
        key = enemy_ground.tobytes()
        if key != self._reach_for:
            self._reach = self.model.valley.hops_from(self.place, enemy_ground) <= self.reach_hops
            self._reach_for = key
        return self._reach

    @staticmethod
    def issue(stores: Sequence[SupplyStore], force: Force, enemy_ground: np.ndarray) -> None:
        """Each of a side's `stores`, in turn, tops up the loads of the side's fighters (`force`) present within
        its reach, as far as its stock goes: one compiled pass over all of them (`fused.top_up_each`)."""
        giving = [store for store in stores if store.can_issue]
        if not giving:
            return
        food = np.array([store.food for store in giving], float)
        ammo = np.array([store.ammo for store in giving], float)
        rows, locs = force.present_rows()
        p = force.p
        fused.top_up_each(force.size, force.food, force.ammo, rows, locs,
                          np.array([store.reach(enemy_ground) for store in giving]), p.carry_food_days,
                          p.food_kg_per_day, p.carry_ammo_kg, food, ammo)
        for store, left_food, left_ammo in zip(giving, food, ammo):
            # numpy floats, as numpy's sums left them: Python's sum() adds plain floats with compensation (3.12+),
            # so the stores' totals would change in their last digits
            store.food, store.ammo = left_food, left_ammo

    def feed(self, kg: float) -> float:
        given = min(self.food, kg)
        self.food -= given
        self.model.ledgers[self.side].consume(given, 0.0)
        return given

    def capture(self) -> None:
        self.model.ledgers[self.side].capture(self.food, self.ammo)
        self.food = self.ammo = 0.0
        self.status = "captured"
        self.model.log_event("store captured", self.model.force(self.side).name, self.cell.idx, note=self.name)

    def destroy(self) -> None:
        self.model.ledgers[self.side].destroy(self.food, self.ammo)
        self.food = self.ammo = 0.0
        self.status = "destroyed"
        self.model.log_event("store destroyed", self.model.force(self.side).name, self.cell.idx, note=self.name)


class Weather(Agent):
    """The season: temperature, snowfall and snow depth per location, from a seasonal curve with a random
    first pass-closing snow and a random winter onset. It closes passes and paths, slows movement,
    raises food needs, grounds helicopters, and once winter sets in it halts the offensive."""

    def __init__(self, model, params: WeatherParams, enabled: bool):
        super().__init__(model)
        self.p, self.enabled = params, enabled
        v = model.valley
        rng = model.streams.weather
        first = rng.normal(params.first_snow_doy_mean, params.first_snow_doy_sd)
        winter = rng.normal(params.winter_doy_mean, params.winter_doy_sd)
        self.first_snow_doy = int(round(first))
        self.winter_doy = int(round(max(winter, first)))  # winter never comes before the first snow
        self.depth_ref = 0.0  # cm at the reference elevation
        self.snowfall_cm = 0.0
        self.noise = 0.0
        # How much colder each place, and the snow's reference elevation, are than the temperature's reference
        self.cooling = kernels.lapse_cooling(v.elevation, ref_elevation=params.temp_ref_elevation,
                                             lapse_per_km=params.lapse_per_km)
        self.ref_cooling = kernels.lapse_cooling(params.ref_elevation, ref_elevation=params.temp_ref_elevation,
                                                 lapse_per_km=params.lapse_per_km)
        self.temperature = self._seasonal(self.doy(0)) - self.cooling if enabled else np.full(v.n, params.temp_mean)
        self.slowdown = np.ones(v.n)
        # The mountain paths (their edge data on space.G) and the highest point of each, where snow shuts them
        self.paths = [data for _, _, data in v.graph.edges(data=True) if data["kind"] == "path"]
        self.path_elevation = np.array([data["elevation"] or max(v.elevation[v.index[a]], v.elevation[v.index[b]])
                                        for a, b, data in v.graph.edges(data=True) if data["kind"] == "path"], float)
        # where snow is found each day: the places, then the paths' highest points (one pass over both)
        self.snow_elevation = np.concatenate([np.asarray(v.elevation, float), self.path_elevation])
        self.grounded = False
        self.winter = False
        # The season's curves by day of the run (they depend on the day alone): found for the whole horizon at
        # once, as the same expressions over an array (element by element the values a day's call gives)
        self._curves = self._curves_for(np.arange(model.horizon + 2))

    def doy(self, day):
        """The day of the year of a day (or days) of the run."""
        return self.model.start_doy + day

    def _seasonal(self, doy: int):
        """The seasonal mean temperature (no day-to-day noise) at the temperature's reference elevation."""
        p = self.p
        return kernels.seasonal_mean(doy, mean=p.temp_mean, amplitude=p.temp_amplitude, peak_doy=p.temp_peak_doy)

    def step(self) -> None:
        v, p, rng = self.model.valley, self.p, self.model.streams.weather
        if not self.enabled:
            self.temperature[:] = p.temp_mean
            return
        doy = self.doy(self.model.day)
        since = doy - self.first_snow_doy
        self.noise = p.temp_noise_autocorr * self.noise + rng.normal(0.0, p.temp_noise_sd)
        season, chance, line = self._curves_on(self.model.day)
        self.temperature = season - self.cooling + self.noise
        t_ref = float(season - self.ref_cooling) + self.noise
        snowing = rng.random() < chance
        amount = rng.exponential(p.snow_mean_cm)  # drawn every day: the stream does not shift
        self.snowfall_cm = (p.first_snow_cm if since == 0 else (amount if snowing else 0.0)) if since >= 0 else 0.0
        self.depth_ref = float(kernels.melt(self.depth_ref, t_ref, p.melt_cm_per_degree)) + self.snowfall_cm
        snow_lies = bool(np.isfinite(line))  # before the first snow there is no snowline: no snow anywhere
        depth = kernels.snow_depth_at(self.depth_ref, self.snow_elevation, line, p.ref_elevation) if snow_lies \
            else np.zeros(len(self.snow_elevation))
        v.snow_cm = depth[: v.n]
        self.slowdown = kernels.travel_slowdown(v.snow_cm, p.slow_per_cm)
        if self.paths:  # paths close in snow (edge data lives on space.G)
            shut = depth[v.n:] >= p.path_closed_cm
            for data, closed in zip(self.paths, shut.tolist()):
                if data.get("open", True) == closed:  # it changes today
                    data["open"] = not closed
                    v.links_version += 1
        cloud = p.cloud_grounding_prob_winter if since >= 0 else p.cloud_grounding_prob
        self.grounded = self.snowfall_cm > 0 or rng.random() < cloud
        self.winter = doy >= self.winter_doy

    def _curves_for(self, days):
        """The season's mean temperature, the chance of snowfall and the snowline on a day (or days) of the run."""
        p, doy = self.p, self.doy(days)
        since = doy - self.first_snow_doy
        return (self._seasonal(doy), kernels.snowfall_probability(since, base=p.snow_prob, growth=p.snow_prob_growth),
                kernels.snowline(since, autumn=p.snowline_autumn, winter=p.snowline_winter, days=p.snowline_days))

    def _curves_on(self, day: int) -> tuple[np.float64, float, np.float64]:
        """The season's curves on a day of the run: from the table, or found afresh past the horizon (a run-on)."""
        if day < len(self._curves[0]):
            season, chance, line = (curve[day] for curve in self._curves)
        else:
            season, chance, line = self._curves_for(day)
        return season, float(chance), line

    def pass_open_on_foot(self, loc: int) -> float:
        """Share of a pass's foot capacity open today (1 clear, 0 closed)."""
        v = self.model.valley
        return min(max(float(1.0 - v.snow_cm[loc] / max(v.closes_foot_cm[loc], 1e-9)), 0.0), 1.0)  # np.clip's value


class ResupplySource(Agent):
    """Outside help: by air (sorties of a helicopter fleet, grounded by weather, some shot down) or over
    the passes on foot and pack animals (capacity per day, shrinking with snow, cut where the attacker
    holds the pass). Nothing comes before `start_day`: the window in which help still matters."""

    def __init__(self, model, kind: str, params: AirResupply | PassResupply):
        super().__init__(model)
        self.kind, self.p = kind, params
        self.fleet = params.helicopters if isinstance(params, AirResupply) else 0
        self.delivered = {"food": 0.0, "ammo": 0.0}
        self.lost = 0.0  # kg lost on the way (shot down, ambushed): never entered the valley

    def _destination(self, candidates: Sequence[int]) -> SupplyStore | None:
        """The first defender store at or next to a candidate location the defenders still hold."""
        v = self.model.valley
        for lid in candidates:
            loc = v.by_id(lid)
            if v.control[loc] == ATTACKER_HELD:
                continue
            stores = sorted((s for s in self.model.stores_of("defender") if s.open),
                            key=lambda s: (v.hops[loc, s.place], s.unique_id))
            stores = [s for s in stores if v.hops[loc, s.place] <= 1 and v.control[s.place] != ATTACKER_HELD]
            if stores:
                return stores[0]
        return None

    def ammo_share(self) -> float:
        """Share of ammunition in today's load. load = "demand": the scarcer commodity gets more, in
        inverse proportion to the defenders' days of supply left (food 10 days, ammunition 60: 1/7 is
        ammunition); load = "fixed": `ammo_share`."""
        if self.p.load == "fixed":
            return self.p.ammo_share
        food, ammo = self.model.days_left("food"), self.model.days_left("ammo")
        if np.isinf(food) and np.isinf(ammo):
            return self.p.ammo_share  # no one draws on either: as the scenario says
        if np.isinf(ammo) or np.isinf(food):
            return 0.0 if np.isinf(ammo) else 1.0  # only the one that is drawn on is carried
        return food / (food + ammo) if food + ammo > 0 else 0.5

    def _drop(self, store, kg: float) -> None:
        ammo = kg * self.ammo_share()
        store.receive(kg - ammo, ammo)
        self.delivered["food"] += kg - ammo
        self.delivered["ammo"] += ammo

    def deliver(self) -> None:
        if self.model.day < self.p.start_day:
            return
        if isinstance(self.p, AirResupply):
            self._fly(self.p)
        else:
            self._carry(self.p)

    def _fly(self, p: AirResupply) -> None:
        model = self.model
        rng = model.streams.resupply
        planned = rng.poisson(p.sorties_per_week / 7.0 * self.fleet / max(p.helicopters, 1))
        lost_draws = rng.random(max(planned, 0))
        if self.fleet <= 0 or model.weather.grounded or planned == 0:
            return
        store = self._destination(p.landing_locations)
        if store is None:
            return
        for shot_down in lost_draws < p.loss_per_sortie:
            kg = p.payload_t * 1000.0
            if shot_down:
                self.fleet -= 1
                self.lost += kg
                if self.fleet == 0:
                    break
            else:
                self._drop(store, kg)

    def _origin_held(self, loc: int) -> bool:
        """Does the attacker hold every outside place beyond this pass, where the porters' loads start?"""
        v = self.model.valley
        beyond = [nb for nb, _ in v.neighbours[loc] if v.is_outside[nb]]
        return bool(beyond) and all(v.control[nb] == ATTACKER_HELD for nb in beyond)

    def _carry(self, p: PassResupply) -> None:
        model, v = self.model, self.model.valley
        attackers_at = model.attackers.counts()
        for lid in p.pass_locations:
            loc = v.by_id(lid)
            if v.control[loc] == ATTACKER_HELD or attackers_at[loc] > 0:
                continue  # the attacker holds the pass: the route is cut
            open_share = model.weather.pass_open_on_foot(loc)
            kg = p.t_per_day * 1000.0 * open_share / len(p.pass_locations)
            if self._origin_held(loc):  # loads start in ground the attacker holds: what slips through
                kg *= p.through_held_share
            if kg <= 0:
                continue
            store = self._destination([lid] + [int(v.ids[nb]) for nb, _ in v.neighbours[loc]])
            if store is None:
                continue
            lost = kg * p.loss_share
            self.lost += lost
            self._drop(store, kg - lost)
