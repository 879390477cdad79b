"""What a side's fighters do each day, as functions of its columns (`forces.Force`) and the day's state
(`situation.Situation`): eating, morale and what follows from it (desertion, breaking, surrender), cohesion,
going to ground and regrouping, and the defenders' local pacts. The arithmetic is in `kernels.py`, and the passes
over a side's groups in `fused.py` (compiled loops); the random draws come from the stream of each process
(`streams.py`), given by the caller, and stay numpy's."""

from __future__ import annotations

import math

import numpy as np

from . import fused, kernels
from .forces import HUNGRY_BELOW, Force
from .kernels import ration
from .params import Switches
from .situation import Situation
from .space import Control
from .streams import Streams


# ------------------------------------------------------------ supplies -----------------------------------------
def consume(force: Force, temperature: np.ndarray, engaged_locs: np.ndarray, cold_food_per_degree: float) -> None:
    """Eat a day's ration (more in the cold) and fire at low intensity where not in battle."""
    p = force.p
    eaten, fired, groups = fused.eat_and_fire(
        force.size, force.state, force.loc, force.food, force.ammo, force.hungry, force.rows,
        ration(p.food_kg_per_day, temperature, cold_food_per_degree), engaged_locs, p.ammo_kg_per_day_idle,
        HUNGRY_BELOW)
    if groups:
        force.ledger.consume(eaten, fired)


# ------------------------------------------------------------ morale -------------------------------------------
NO_DRAWS = np.zeros(0)  # the leaders' draws without switches.cohesion (none are made, none are read)


def update_morale(force: Force, enemy: Force, s: Situation, civilian_shortfall: float, switches: Switches,
                  streams: Streams) -> None:
    """Drift back to the side's base morale; shocks from local losses, hunger, no ammunition and hungry
    civilians (and, with switches.cohesion / .encirclement, the cohesion shocks and contagion); then breaking
    points, desertion (anywhere) and surrender (local pacts, in battle or encircled). The per-group passes are
    fused loops (`fused.py`); the draws are numpy's, over the same groups in the same order."""
    p, r = force.p, force.rows
    if force.strength() == 0:
        return
    encircled = s.encircled if force.side == "defender" else np.zeros(s.valley.n, bool)
    shift, leader_draws = 0.0, NO_DRAWS
    if switches.cohesion:
        shift = side_shock(force)
        leader_draws = streams.cohesion.random(force.n_places)  # one per place every day: the stream's order
    killed, mean, weight = fused.day_morale(
        force.size, force.state, force.morale, force.loc, force.hungry, force.ammo, r, force.losses_today,
        s.strength_before_fight[force.side], p.morale_recovery, p.morale, p.morale_loss_shock, switches.logistics,
        p.morale_hunger, p.morale_no_ammo, p.out_of_ammo_kg, p.morale_civilian_hunger * civilian_shortfall,
        switches.encirclement, p.morale_encircled * encircled, switches.cohesion, shift, enemy.losses_today,
        s.strength_before_fight[enemy.side], s.outflanked[force.side], leader_draws, p.leader_risk,
        p.morale_success, p.morale_outflanked, p.morale_leader_loss)
    force.left_today = 0  # from here on, today's defections: tomorrow's news
    if switches.cohesion:
        for loc in killed.nonzero()[0].tolist():
            s.log("leader killed", force.name, loc)  # a new commander takes over, with the place's thresholds
        break_where_below(force, spread_morale(force, mean, weight, s.valley.adjacency), weight, s, switches,
                          streams)
    idx, locs = force.present_rows()
    took, gone, emptied, cut_off = fused.desert_and_surrender(
        force.size, force.morale, force.food, force.ammo, force.state, force.loc, r, force.kept_counts(), idx, locs,
        s.contested, encircled, p.desert_below, p.desert_rate, ground_share(force, switches), p.surrender_below,
        max(p.surrender_below, p.encircled_surrender_below), p.surrender_rate, streams.box("morale"),
        streams.box("dispersal"))
    force.account(took, gone, emptied, ("dispersed", "deserted", "surrendered"))
    force.surrendered_encircled += int(cut_off)


# ------------------------------------------------------------ cohesion (switches.cohesion) ---------------------
def draw_breaking_points(force: Force, rng: np.random.Generator) -> None:
    """Each place's commander has a breaking point of their own, drawn once about `break_below` (width
    cohesion_spread): a network threshold model, so one place breaking can tip its neighbours (through
    contagion and the news) or not."""
    p = force.p
    force.break_point = kernels.commander_thresholds(rng, p.break_below, p.cohesion_spread, force.n_places)


def side_shock(force: Force) -> float:
    """Today's cohesion shock to the whole side: the news of defections since the last update (their share of
    the side) and the key places and depots lost (`pending_shock`, spent here). The shocks per place (the enemy
    on a place behind: outflanked; the local commander killed, a chance leader_risk x the share of the local
    stack lost; success: the enemy's local losses raise morale as one's own lower it) are `fused.cohesion_local`."""
    strength = force.strength() + force.left_today
    news = force.left_today / strength if strength > 0 else 0.0
    shift = -force.p.morale_news * news - force.pending_shock
    force.pending_shock = 0.0
    return shift


def spread_morale(force: Force, mean: np.ndarray, weight: np.ndarray, adjacency: np.ndarray) -> np.ndarray:
    """Contagion: each place's morale (`mean`, of `weight` fighters) moves towards its neighbours'
    (`kernels.neighbour_pull`; the groups holding there shift together). Returns the places that break."""
    pull = kernels.neighbour_pull(mean, weight, adjacency, force.p.morale_contagion)
    return fused.spread_morale(force.size, force.state, force.morale, force.loc, force.rows, mean, weight, pull,
                               force.break_point)


def break_where_below(force: Force, breaking: np.ndarray, weight: np.ndarray, s: Situation, switches: Switches,
                      streams: Streams) -> None:
    """A place whose fighters' mean morale is below its commander's breaking point breaks (`breaking`, of
    `weight` fighters each): break_share of them desert at once (the rest may fall back, desert or surrender in
    the days after)."""
    for loc in breaking.tolist():
        rows, lost = force.pick_at(loc, math.ceil(force.p.break_share * weight[loc]), streams.box("cohesion"))
        desert(force, rows, lost, switches, streams.box("dispersal"))
        s.log("break", force.name, loc, fighters=int(lost.sum()))


# ------------------------------------------------------------ dispersal (switches.dispersal) -------------------
def desert(force: Force, rows: np.ndarray, leaving: np.ndarray, switches: Switches,
           rng: np.random.Generator | fused.StreamBox) -> None:
    """Those who leave: with switches.dispersal, ground_share of them go to ground in the mountains (they may
    regroup later, `regroup`); the rest desert for good (`fused.desert`). `rng`: the dispersal stream, or it
    boxed (`Streams.box`; a Generator is boxed here, at ~40 us). (A day's desertion does this inside
    `fused.desert_and_surrender`; this is for a place that breaks.)"""
    took, gone, emptied = fused.desert(force.size, force.food, force.ammo, force.state, force.loc, rows, leaving,
                                       force.kept_counts(), ground_share(force, switches), fused.as_box(rng))
    force.account(took, gone, emptied, ("dispersed", "deserted"))


def ground_share(force: Force, switches: Switches) -> float:
    """The share of those leaving who go to ground (none without switches.dispersal)."""
    return force.p.ground_share if switches.dispersal else 0.0


def regroup(force: Force, enemy_inside: int, s: Situation, attacker_entry: int, rng: np.random.Generator,
            enemy: Force | None = None) -> None:
    """Once the enemy's force in the valley is under regroup_below of the most it has had there (its main force
    has gone), the side takes heart (morale recovers relief_rate of the way to its base a day) and those gone
    to ground come back, regroup_rate of them a day: to the largest stack of their side, or to the place
    furthest from the attacker's entry that the enemy does not hold. Given the `enemy` (switches.evasion), a
    place the enemy holds but has left empty will do too: the side valleys and heights a garrison does not
    man."""
    p, v = force.p, s.valley
    force.enemy_peak = max(force.enemy_peak, enemy_inside)
    if enemy_inside >= p.regroup_below * force.enemy_peak:
        return
    r = force.rows
    force.morale[:r] += p.relief_rate * np.maximum(p.morale - force.morale[:r], 0.0) * (force.size[:r] > 0)
    if force.dispersed <= 0:
        return
    back = int(rng.binomial(force.dispersed, p.regroup_rate))
    if back <= 0:
        return
    own = force.counts()
    if own.max() > 0:
        home = int(np.argmax(own))
    else:
        open_ground = v.control != Control.enemy_of(force.side)
        if enemy is not None:
            open_ground = open_ground | (enemy.counts() == 0)
        free = (open_ground & ~v.is_outside).nonzero()[0]
        if not len(free):
            return
        depth = v.hops[attacker_entry][free]
        home = int(free[np.argmax(depth if force.side == "defender" else -depth)])
    force.place_new(back, home, p.morale)  # back with nothing: the stores issue to them
    force.dispersed -= back
    force.regrouped += back
    s.log("regroup", force.name, home, fighters=back)


# ------------------------------------------------------------ pacts (switches.pacts) ---------------------------
def draw_pact_thresholds(force: Force, rng: np.random.Generator) -> None:
    """Each place's commander would settle below a morale of their own, drawn once about pact_below."""
    p = force.p
    force.pact_point = kernels.commander_thresholds(rng, p.pact_below, p.cohesion_spread, force.n_places)


def make_pacts(defenders: Force, attackers: Force, A: np.ndarray, civilian_pressure: float, s: Situation,
               rng: np.random.Generator) -> None:
    """Local commanders whose fighters' morale is below their threshold, with the enemy at or next to the place
    (the attackers at each place: `A`), settle with a daily chance pact_rate (times 1 + civilian_pressure):
    pact_turn_share of the fighters change sides, the rest stand down and leave the fight."""
    v, p = s.valley, defenders.p
    chance = min(1.0, p.pact_rate * (1.0 + civilian_pressure))
    draws = rng.random(v.n)  # one per place every day: the stream does not depend on who is where
    places = fused.offered(draws, chance, A, True, v.is_outside, v.first_link, v.link_to)  # the enemy at or next to
    if len(places):
        _settle_where_below(defenders, attackers, places, s, rng)


def _settle_where_below(defenders: Force, attackers: Force, places: np.ndarray, s: Situation,
                        rng: np.random.Generator, note: str = "") -> None:
    """Of the places offered terms (`places`, ascending), those whose commander settles: someone there, their mean
    morale below the commander's pact threshold (as it stood before any of today's pacts)."""
    mean, weight = defenders.place_morale()
    point = defenders.pact_point
    assert point is not None  # drawn at the start when switches.pacts is on
    for loc in places.tolist():
        if weight[loc] > 0 and mean[loc] < point[loc]:
            settle(defenders, attackers, loc, int(weight[loc]), s, rng, note)


def settle(defenders: Force, attackers: Force, loc: int, total: int, s: Situation, rng: np.random.Generator,
           note: str = "") -> None:
    """A local pact at `loc` (its `total` fighters): pact_turn_share of them change sides with what they carry,
    the rest stand down and leave the fight."""
    k = int(round(defenders.p.pact_turn_share * total))
    rows, turned = defenders.pick_at(loc, k, rng)
    food, ammo = defenders.take_out(rows, turned, "turned")
    attackers.join(k, loc, food, ammo)
    rows = defenders.rows_at(loc)
    defenders.take_out(rows, defenders.size[rows].copy(), "stood_down")
    defenders.pacted += total
    s.log("pact", defenders.name, loc, fighters=total, note=f"{k} changed sides{note}")


# ------------------------------------------------------------ the national picture (switches.outside_pacts) ----
def hear_the_national_picture(defenders: Force, share: float) -> None:
    """The defenders in the valley at the start have heard that `share` of the country's districts and
    provinces changed sides by negotiation in the weeks before: their morale drops by morale_news x share at
    once, as it would for that share of their own side defecting (news travels as fast as that)."""
    r = defenders.rows
    live = defenders.size[:r] > 0
    defenders.morale[:r][live] = np.clip(defenders.morale[:r][live] - defenders.p.morale_news * share, 0.0, 1.0)


def settle_before_contact(defenders: Force, attackers: Force, A: np.ndarray, s: Situation,
                          rng: np.random.Generator) -> None:
    """Pacts before contact: each day every defended place with no enemy at or next to it may be offered terms,
    with chance pact_rate x outside_pact_share (the national picture); its commander settles, as in contact,
    if the place's morale is below their pact threshold. One draw per place every day (this process's own
    stream)."""
    v, p = s.valley, defenders.p
    draws = rng.random(v.n)
    places = fused.offered(draws, p.pact_rate * p.outside_pact_share, A, False, v.is_outside, v.first_link, v.link_to)
    if len(places):
        _settle_where_below(defenders, attackers, places, s, rng, note=" before contact")


def unravel(defenders: Force, reserve: int | None, s: Situation, rng: np.random.Generator) -> None:
    """While the defence holds well (the side's mean morale above unravel_above), fighters who stood down under
    pacts come back, a share pact_unravel_rate a day, to the reserve (or the largest stack)."""
    p = defenders.p
    back = int(rng.binomial(defenders.stood_down, p.pact_unravel_rate)) if defenders.stood_down else 0
    if back <= 0:
        return
    mean, weight = defenders.place_morale()
    if weight.sum() <= 0 or float((mean * weight).sum() / weight.sum()) <= p.unravel_above:
        return
    home = reserve if reserve is not None and weight[reserve] > 0 else int(np.argmax(weight))
    defenders.place_new(back, home, p.morale)  # they come back with nothing: the stores issue to them
    defenders.stood_down -= back
    defenders.returned += back
    s.log("pact unravels", defenders.name, home, fighters=back)
