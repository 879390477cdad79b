"""The two sides' commanders: what each side's fighters are ordered to do each day. Decisions are taken per
stack (a side's fighters at one place), the way a local commander would, so results do not depend on how many
fighters one agent stands for. A command moves its side's fighters (`forces.Force.send`) and reads the day's
state (`situation.Situation`); its own state is its commanders' nerve and what it remembers (pauses, progress,
the reserve)."""

from __future__ import annotations

import math

import numpy as np

from . import fused, kernels
from .combat import engaged_odds, local_odds
from .forces import ADVANCING, RETREATING, Force
from .kernels import commander_nerve
from .params import Switches
from .situation import Situation
from .space import ATTACKER_HELD, DEFENDER_HELD, Valley
from .streams import Streams

MAX_SEND = 10**9  # "all of them": an attack no number of fighters could win takes everyone available
# Far longer than any way through a valley: the main effort's way passes the fewest defended places, and of
# those ways the quickest.
DETOUR_DAYS = 1000.0


class Command:
    """A side's command: its fighters (`force`), the enemy's, the ground and the run's switches and streams."""

    def __init__(self, force: Force, enemy: Force, valley: Valley, switches: Switches, streams: Streams,
                 attacker_entry: int):
        self.force, self.enemy, self.valley = force, enemy, valley
        self.switches, self.streams, self.attacker_entry = switches, streams, attacker_entry
        self.p = force.p

    def odds(self, attacker: Force, n_att: float, holder: Force, n_hold: float, place: int) -> float:
        """The odds of an attack by n_att of `attacker` on `place`, held by n_hold of `holder` in its cover, as
        the commanders weigh them: heads (`local_odds`); with switches.frontage_decisions, the strength the
        place's frontage lets engage and each side's supporting fire, all of it counted on
        (`engaged_odds`)."""
        v = self.valley
        if not self.switches.frontage_decisions:
            return local_odds(n_att, n_hold, attacker.lethality, holder.lethality, 0.0, v.cover[place])
        support = self.switches.fire_support
        return engaged_odds(n_att, n_hold, att_leth=attacker.lethality, dfd_leth=holder.lethality,
                            att_area=attacker.area_fire, dfd_area=holder.area_fire, dfd_cover=float(v.cover[place]),
                            frontage=float(v.frontage[place]),
                            att_support=attacker.p.support_weapons if support else 0.0,
                            dfd_support=holder.p.support_weapons if support else 0.0,
                            att_support_leth=attacker.p.support_lethality, dfd_support_leth=holder.p.support_lethality)

    def engaged_need(self, place: int, n_hold: float, commit: float) -> int:
        """switches.frontage_decisions: what an attack by this side on `place` brings: the fewest fighters (at
        most the frontage) whose odds reach `commit`, else the whole frontage, and `assault_reserve` of that
        again. The rest of a stack is free for other tasks."""
        frontage = int(self.valley.frontage[place])
        at = lambda n: self.odds(self.force, n, self.enemy, n_hold, place)  # noqa: E731
        n = frontage
        if at(frontage) >= commit:
            if self.force.area_fire or self.enemy.area_fire or self.switches.fire_support:
                n = next(k for k in range(1, frontage + 1) if at(k) >= commit)  # odds need not grow with heads
            else:  # aimed fire: the odds grow in proportion to the attackers engaged
                n = max(1, min(frontage, math.ceil(commit / at(1) - 1e-9)))
                while n > 1 and at(n - 1) >= commit:
                    n -= 1
                while at(n) < commit:
                    n += 1
        return math.ceil(n * (1.0 + self.p.assault_reserve))

    def route(self, src: int, dst: int, blocked: np.ndarray, s: Situation,
              penalty: np.ndarray | None = None) -> tuple[float, list]:
        """This side's quickest route today (its speed, snow), avoiding `blocked` locations (and each place
        entered costing `penalty` days more, if given)."""
        return self.valley.route(src, dst, self.p.speed_km_per_day, self.p.path_slowdown,
                                 s.weather.slowdown, blocked, penalty)


class AttackerCommand(Command):
    """Arrive in waves; advance when local odds favour them; pause after heavy losses; flank over paths."""

    def __init__(self, force: Force, enemy: Force, valley: Valley, switches: Switches, streams: Streams,
                 attacker_entry: int, key_places: list[int]):
        super().__init__(force, enemy, valley, switches, streams, attacker_entry)
        n = valley.n
        self.key_places = key_places  # the places whose loss is the valley's fall: the first objectives
        self.pause_until = np.zeros(n, np.int64)
        self.last_progress = np.zeros(n, np.int64)
        # Commanders differ: the odds at which an attack on each place goes in, drawn once, log-logistic
        # about advance_odds (as the defenders' nerve about fallback_odds): no cliff at one threshold.
        spread = self.p.threshold_spread if switches.movement else 0.0
        self.nerve = commander_nerve(streams.commanders, self.p.advance_odds, spread, n)

    def forward(self, loc: int) -> int | None:
        v = self.valley
        if v.is_road[loc]:
            return v.next_up_road(loc)
        roads = [nb for nb, d in v.neighbours[loc] if v.is_road[nb]]
        return max(roads, key=lambda i: (v.km[i], -i)) if roads else None

    def decide(self, A: np.ndarray, D: np.ndarray, s: Situation) -> None:
        """Stacks in battle may break off; free stacks converge on the defended location where their
        combined odds are best, if good enough; otherwise advance up an open road, or flank if stalled."""
        v, p = self.valley, self.p
        day, other = s.day, self.enemy
        for loc in ((A > 0) & (D > 0)).nonzero()[0].tolist():
            self._maybe_pause(loc, A, D, s)
        if self.switches.main_effort and self.operation_over(day):
            return  # the operation has ended (its planned withdrawal has begun): those left hold what they took
        movable = np.zeros(v.n, np.int64)
        for loc in (A > 0).nonzero()[0].tolist():
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
        free, held, here = movable.tolist(), D.tolist(), A.tolist()  # plain ints: read many times, not changed here
        for target in (D > 0).nonzero()[0].tolist():
            if v.is_outside[target]:
                continue
            stacks = [src for src, data in v.neighbours[target]
                      if free[src] > 0 and held[src] == 0 and s.passable(target, data)]
            if stacks:
                n = sum(free[src] for src in stacks) + here[target]
                odds = self.odds(self.force, n, other, held[target], target)
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
                    self._move(src, n, target, A, ADVANCING, s)
                    movable[src] -= n
                    need -= n
        if self.switches.infiltration:
            self._infiltrate(movable, A, D, s)
        if self.switches.main_effort:
            self._press_on(movable, A, D, s)
            return
        spear = self.spearhead(A)
        for loc in (movable > 0).nonzero()[0].tolist():
            fwd = self.forward(loc)
            if D[loc] == 0 and fwd is not None and D[fwd] == 0 and s.passable(fwd, None):
                self._move(loc, int(movable[loc]), fwd, A, ADVANCING, s)
            elif loc != spear and spear is not None:
                self._join(loc, int(movable[loc]), spear, A, D, s)
            elif D[loc] == 0 and day - self.last_progress[loc] >= p.flank_after_days:
                self._flank(loc, int(movable[loc]), fwd, A, D, s)

    # ------------------------------------------------------------ the main effort (switches.main_effort) ---
    def operation_over(self, day: int) -> bool:
        """An operation of limited duration has ended once its first planned withdrawal has come: the garrisons
        left behind hold, they do not press on (the 1980s offensives: garrisons left at Rokha and Anaba)."""
        return any(when <= day for when, _ in self.p.withdrawals)

    def objective(self) -> int | None:
        """The side's aim, the same for every stack (a main effort): the first key place it does not hold, else
        the first place up the road it does not hold (the valley floor), else the first pass; None when there
        is nothing left to take."""
        v = self.valley
        held = v.control == ATTACKER_HELD
        for order in (self.key_places, v.road_order, v.passes):
            for loc in map(int, order):
                if not held[loc]:
                    return loc
        return None

    def _press_on(self, movable: np.ndarray, A: np.ndarray, D: np.ndarray, s: Situation) -> None:
        """Free stacks go for the objective by the way through the fewest defended places (round them by side
        valleys, paths and passes where there is a way), as far as the place before the first defence on it
        (the converging attack decides when to go in there), each leaving a fixing force beside a defended
        place it leaves; a stack already there that stays stalled flanks. With nothing left to take, they
        hold. The orders are found in one compiled pass (`fused.press_on`) and carried out here, in turn."""
        v, p, aim = self.valley, self.p, self.objective()
        towards = "" if aim is None else f"towards {v.names[aim]}"  # (no one is sent anywhere without an aim)
        stacks = (movable > 0).nonzero()[0]
        orders = fused.press_on(stacks, movable, -1 if aim is None else aim, D, p.fix_ratio, v.first_link, v.link_to,
                                v.travel_days(p.speed_km_per_day, p.path_slowdown, s.weather.slowdown), DETOUR_DAYS,
                                self.last_progress, s.day, p.flank_after_days)
        for loc, action, n, dst, days, bypass in zip(stacks.tolist(), *(order.tolist() for order in orders)):
            if action == fused.TOWARD:
                sent = self.force.send(loc, n, dst, days, ADVANCING, s.day, self.streams.box("movement"))
                A[loc] -= sent
                if bypass:  # the straight way runs through a defence: this goes round it
                    s.log("bypass", self.force.name, loc, dst, sent, note=towards)
            elif action == fused.FLANK:
                self._flank(loc, int(movable[loc]), self.forward(loc), A, D, s)

    def _infiltrate(self, movable: np.ndarray, A: np.ndarray, D: np.ndarray, s: Situation) -> None:
        """Free fighters next to a defended place slip past it (mostly by night) to the place beyond, if no
        defenders hold that: the thinner the defenders there and the worse the visibility, the more get
        through (kernels.infiltration_probability). Behind a position they cut its retreat and supply."""
        v, p = self.valley, self.p
        factor = p.infiltration_bad_visibility if s.weather.grounded else 1.0
        nothing_blocked = np.zeros(v.n, bool)  # by night, past the defenders: no ground is closed to them
        held, outside = D.tolist(), v.is_outside.tolist()  # plain values, read many times (D is not changed here)
        for src in (movable > 0).nonzero()[0].tolist():
            hops = v.hops[src].tolist()
            for target, link in v.neighbours[src]:
                if movable[src] <= 0:
                    break
                if held[target] == 0 or outside[target] or not s.passable(target, link):
                    continue
                beyond = [u for u, link2 in v.neighbours[target]
                          if hops[u] == 2 and held[u] == 0 and not outside[u] and s.passable(u, link2)]
                if not beyond:
                    continue
                dst = max(beyond, key=lambda u: (v.is_road[u], v.km[u], -u))
                chance = kernels.infiltration_probability(D[target] / v.frontage[target], rate=p.infiltration_rate,
                                                          density_ref=p.infiltration_density_ref,
                                                          visibility_factor=factor)
                n = int(self.streams.movement.binomial(int(movable[src]), float(chance)))
                if n <= 0:
                    continue
                days = self.route(src, target, nothing_blocked, s)[0] + self.route(target, dst, nothing_blocked, s)[0]
                sent = self.force.send(src, n, dst, days, ADVANCING, s.day, self.streams.box("movement"))
                movable[src] -= sent
                A[src] -= sent
                s.log("infiltrate", self.force.name, src, dst, sent, note=f"past {v.names[target]}")

    def needed(self, target: int, D: np.ndarray) -> int:
        """Fighters an attack on `target` brings: enough for `commit_odds` against its defenders."""
        other, p = self.enemy, self.p
        if D[target] == 0:
            return 0
        if self.switches.frontage_decisions:
            return self.engaged_need(target, D[target], p.commit_odds)
        per_fighter = self.odds(self.force, 1, other, D[target], target)
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
        v = self.valley
        here = [i for i in (A > 0).nonzero()[0].tolist() if not v.is_outside[i]]
        here = [i for i in here if not v.is_pass[i]] or here
        return max(here, key=lambda i: (v.km[i], v.is_road[i], -i)) if here else None

    def _join(self, loc, n, spear, A, D, s: Situation) -> None:
        """Mass on the main effort: a stack that can neither attack nor advance joins the spearhead."""
        v = self.valley
        if v.km[spear] <= v.km[loc] and not v.is_outside[loc]:
            return  # already as far forward: hold here
        days, path = self.route(loc, spear, D > 0, s)
        if path:
            sent = self.force.send(loc, n, spear, days, ADVANCING, s.day, self.streams.box("movement"))
            A[loc] -= sent

    def _move(self, src, n, dst, A, state, s: Situation) -> None:
        days, _ = self.route(src, dst, self.valley.control == DEFENDER_HELD, s)
        sent = self.force.send(src, n, dst, days, state, s.day, self.streams.box("movement"))
        A[src] -= sent
        self.last_progress[src] = self.last_progress[dst] = s.day

    def _flank(self, loc, movable, fwd, A, D, s: Situation) -> None:
        """Send part of a stalled stack over mountain paths to a road location behind the blockage."""
        v = self.valley
        self.last_progress[loc] = s.day  # try again only after another stall
        if fwd is None:
            return
        n = int(movable * self.p.flank_share)
        if n <= 0:
            return
        blocked = D > 0
        other = self.enemy
        for target in v.road_order:
            target = int(target)
            if v.km[target] <= v.km[fwd] or v.control[target] == ATTACKER_HELD:
                continue
            odds = self.odds(self.force, n, other, D[target], target)
            if D[target] > 0 and odds < self.p.advance_odds:
                continue  # too weak to take it: look further up the valley
            days, path = self.route(loc, target, blocked, s)
            if path and any(v.graph.edges[v.ids[a], v.ids[b]]["kind"] == "path"
                            for a, b in zip(path, path[1:])):
                sent = self.force.send(loc, n, target, days, ADVANCING, s.day, self.streams.box("movement"))
                A[loc] -= sent
                s.log("flank", self.force.name, loc, target, sent)
                return

    def _maybe_pause(self, loc, A, D, s: Situation) -> None:
        """After heavy losses in the last days, break off: fall back one location and wait."""
        v = self.valley
        lost = self.force.recent_losses_at(loc)
        if lost <= self.p.pause_loss_share * (A[loc] + lost) or self.p.pause_days == 0:
            return
        back = [nb for nb, d in v.neighbours[loc]
                if D[nb] == 0 and v.control[nb] != DEFENDER_HELD and s.passable(nb, d)]
        if not back:
            return
        dst = min(back, key=lambda i: (v.hops[self.attacker_entry, i], i))
        days, _ = self.route(loc, dst, v.control == DEFENDER_HELD, s)
        sent = self.force.send(loc, int(A[loc]), dst, days, RETREATING, s.day, self.streams.box("movement"))
        A[loc] -= sent
        self.pause_until[dst] = s.day + self.p.pause_days
        self.force.forget_losses()
        s.log("pause", self.force.name, loc, dst, sent)


class DefenderCommand(Command):
    """Hold chokepoints, reinforce threatened locations from the reserve, fall back up the valley."""

    def __init__(self, force: Force, enemy: Force, valley: Valley, switches: Switches, streams: Streams,
                 attacker_entry: int, stores: list):
        super().__init__(force, enemy, valley, switches, streams, attacker_entry)
        p = self.p
        self.stores = stores  # the side's supply stores (destroyed on retreat, destroy_on_retreat)
        self.reserve = valley.by_id(p.reserve) if p.reserve != -1 else None
        share = sum(d.share for d in p.deploy if d.location == p.reserve)
        self.reserve_keep = int(p.strength * share * p.reserve_keep)
        # Each place's commander has a nerve of their own: the odds at which they fall back, drawn once
        # (log-logistic about fallback_odds, width threshold_spread). Over commanders and runs the chance to
        # fall back at given odds is threshold_probability(): smooth, with no cliff where one wave tips a
        # single threshold, and no daily re-draw that would compound.
        spread = p.threshold_spread if switches.movement else 0.0  # no moves: no draw
        self.nerve = commander_nerve(streams.commanders, p.fallback_odds, spread, valley.n)

    def decide(self, A: np.ndarray, D: np.ndarray, s: Situation) -> None:
        v, p = self.valley, self.p
        ammo = self.force.ammo_at()
        att = self.enemy
        self._move_reserve(A)
        there = A.tolist()  # the attackers as plain ints: read many times, never changed by the defenders' moves
        for loc in (D > 0).nonzero()[0].tolist():
            if D[loc] <= 0:
                continue
            if there[loc] > 0:
                odds = self.odds(att, there[loc], self.force, D[loc], loc)
                no_ammo = self.switches.logistics and ammo[loc] < p.out_of_ammo_kg * D[loc]
                if no_ammo or self._falls_back(loc, odds):
                    self._fall_back(loc, A, D, s)
                    continue
                threat = there[loc]
            else:
                near = [there[nb] for nb, _ in v.neighbours[loc] if there[nb] > 0]
                threat = max(near) if near else 0
            if threat:
                odds = self.odds(att, threat, self.force, D[loc], loc)
                if odds > p.reinforce_odds:
                    self._reinforce(loc, odds, A, D, s)
        if self.switches.counterattack:
            self._counterattack(A, D, s)

    def _counterattack(self, A: np.ndarray, D: np.ndarray, s: Situation) -> None:
        """A stack not in battle retakes a neighbouring place the enemy holds: an empty one with a
        detachment (reoccupy), a held one if its spare fighters have counterattack_odds against the
        holders in their cover. One action per stack a day, and never out of the valley."""
        v, p = self.valley, self.p
        att = self.enemy
        theirs = (v.control == ATTACKER_HELD) & ~v.is_outside
        if not theirs.any():
            return
        there, control, outside = A.tolist(), v.control.tolist(), v.is_outside.tolist()  # plain: not changed here
        next_to_theirs = theirs.tolist()
        for loc in ((D > 0) & (A == 0)).nonzero()[0].tolist():
            if not any(next_to_theirs[nb] for nb, _ in v.neighbours[loc]):
                continue  # no neighbour of theirs to retake
            spare = int(D[loc] * (1.0 - p.counterattack_keep))
            if spare <= 0:
                continue
            for nb, link in v.neighbours[loc]:
                if control[nb] != ATTACKER_HELD or outside[nb] or D[nb] > 0 or not s.passable(nb, link):
                    continue
                if there[nb] == 0:
                    n, what = min(spare, int(v.frontage[nb])), "reoccupy"
                else:
                    odds = self.odds(self.force, spare, att, there[nb], nb)
                    if odds < p.counterattack_odds:
                        continue
                    n, what = spare, "counterattack"
                days, _ = self.route(loc, nb, np.zeros(v.n, bool), s)
                sent = self.force.send(loc, n, nb, days, ADVANCING, s.day, self.streams.box("movement"))
                if sent:
                    D[loc] -= sent
                    s.log(what, self.force.name, loc, nb, sent)
                    break

    def _falls_back(self, loc: int, odds: float) -> bool:
        """The place's commander breaks off when the odds pass their nerve."""
        return odds > self.nerve[loc]

    def _evade(self, loc: int, D: np.ndarray, s: Situation) -> None:
        """A place given up: evade_share of its fighters slip into the mountains as a body (the guerrilla's answer
        to a force it cannot stop); they come back with those gone to ground (`processes.regroup`)."""
        n = int(round(D[loc] * self.p.evade_share))
        if n <= 0:
            return
        rows, going = self.force.pick_at(loc, n, self.streams.box("evasion"))
        self.force.take_out(rows, going, "dispersed")
        D[loc] -= int(going.sum())
        s.log("evade", self.force.name, loc, fighters=int(going.sum()))

    def _move_reserve(self, A) -> None:
        """If the reserve's location is lost or in battle, the reserve's base moves up the valley."""
        v = self.valley
        while self.reserve is not None and (v.control[self.reserve] == ATTACKER_HELD or A[self.reserve] > 0):
            self.reserve = v.next_up_road(self.reserve)

    def _reinforce(self, loc, odds, A, D, s: Situation) -> None:
        v, R = self.valley, self.reserve
        if R is None or R == loc or A[R] > 0 or D[R] <= 0:
            return
        spare = int(D[R] - self.reserve_keep)
        if self.switches.frontage_decisions:  # what the frontage can use, and a reserve
            need = math.ceil(v.frontage[loc] * (1.0 + self.p.assault_reserve)) - int(D[loc])
        else:
            ratio = odds / self.p.reinforce_odds if self.p.reinforce_odds > 0 else np.inf
            need = math.ceil(D[loc] * (min(ratio, 1e6) - 1.0))  # capped: odds can be infinite
        n = min(int(need), spare)  # the reserve keeps a core for the next threat
        if n <= 0:
            return
        days, _ = self.route(R, loc, v.control == ATTACKER_HELD, s)
        sent = self.force.send(R, n, loc, days, ADVANCING, s.day, self.streams.box("movement"))
        D[R] -= sent

    def _fall_back(self, loc, A, D, s: Situation) -> None:
        v = self.valley
        entry = self.attacker_entry
        if self.switches.evasion:
            self._evade(loc, D, s)
        options = [nb for nb, d in v.neighbours[loc]
                   if A[nb] == 0 and v.control[nb] != ATTACKER_HELD and not v.is_outside[nb]
                   and s.passable(nb, d)]
        if not options or D[loc] <= 0:
            return  # cornered: they fight on where they are
        dst = max(options, key=lambda i: (v.hops[entry, i], v.is_road[i], v.km[i], -i))
        days, _ = self.route(loc, dst, v.control == ATTACKER_HELD, s)
        sent = self.force.send(loc, int(D[loc]), dst, days, RETREATING, s.day, self.streams.box("movement"))
        D[loc] -= sent
        s.log("fall back", self.force.name, loc, dst, sent)
        for store in [st for st in self.stores if st.place == loc and st.open]:
            if self.streams.movement.random() < self.p.destroy_on_retreat:
                store.destroy()
