"""A day's per-group arithmetic, each pass over a side's rows fused into one compiled loop (numba).

A side has hundreds to thousands of groups; written as numpy expressions, a process is a few dozen passes over
them, and their calls, not their arithmetic, were most of a run's time (issue 24). Each kernel here is that
same expression done element by element in the same order, with no fast-math: every value is bit for bit what
the numpy expression gives (`scripts/fingerprint.py` holds the whole model to it; tests/test_fused.py each kernel).
Some kernels also decide what the Python around them decided (the main effort's orders, who holds what), each
tested against it. The random draws stay numpy's, on the process's own stream, over the same rows in the same
order: some made in Python between the kernels, the rest inside them (the fight's losses and which fighters they
take, a day's desertion and surrender, who a send takes) through numba's support for numpy's Generator: numpy's
own algorithms on the same bit generator (the multivariate hypergeometric written here after numpy's C), so the
draws and the stream's state after them are numpy's (tests/test_fused.py, tests/test_combat_oracles.py). A kernel
holds a stream in a `StreamBox` (made once per run, `Streams.box`). A float summed across groups is summed as
numpy sums (`numpy_sum`: pairwise, in blocks of eight); the contagion's sums over neighbours in one order fixed
here (`neighbour_sums`), where numpy's matrix product left it to the CPU's BLAS kernel. A row or place read from a
column and used as an index in a pass over the groups is cast to unsigned (`np.uint64(loc[i])`): numba checks
every signed index for a negative value to wrap around, and without that check a pass takes 20-30% less time
(measured on a side's columns).
Compiled once and cached beside the module (`cache=True`; where that is not writable, numba's cache in the user's
home): a spawned sweep worker loads them. NUMBA_DISABLE_JIT=1 runs them as Python, slowly and with the same
results (the fingerprint's --quick cases checked): for stepping through one in a debugger.
"""

from __future__ import annotations

import math
import sys
from decimal import Context, Decimal

import numpy as np
from numba import config, njit
from numba.core import types as nb_types
from numba.experimental import structref
from numba.np.random.generator_core import next_double
from numba.np.random.random_methods import random_interval

# forces.State's values (not imported: this module depends on nothing of the model's; an IntEnum argument would
# also cost a compiled call 20 us more than an int)
HOLDING = 0
OUT = 3


# ---------------------------------------------------------------- a process's stream, as the kernels hold it ------
if getattr(config, "DISABLE_JIT", False):  # the kernels run as Python: a plain holder
    class StreamBox:
        """A numpy Generator held for the kernels (`box`)."""

        __slots__ = ("rng",)

        def __init__(self, rng):
            self.rng = rng

    def box(rng):
        return StreamBox(rng)
else:
    @structref.register
    class _StreamBoxType(nb_types.StructRef):
        def preprocess_fields(self, fields):
            return tuple((name, nb_types.unliteral(typ)) for name, typ in fields)

    class StreamBox(structref.StructRefProxy):  # type: ignore[no-redef]  # (the other is for NUMBA_DISABLE_JIT)
        """A numpy Generator held for the kernels (`box`): a kernel draws through `box.rng`, the Generator itself
        (the same bit generator, its state shared), so the draws are numpy's algorithms on the process's stream.
        Handing the Generator to a compiled call costs numba ~9 us each time (it unboxes the bit generator through
        ctypes); a box, made once per run (`Streams.box`), costs under 1 us."""

    structref.define_proxy(StreamBox, _StreamBoxType, ["rng"])

    @njit(cache=True)
    def box(rng):
        """`rng` (a numpy Generator) in a StreamBox."""
        return StreamBox(rng)


def as_box(rng):
    """A stream as a kernel takes it: a StreamBox as it is, a numpy Generator boxed here (~40 us: a hot path
    passes the run's own box, `Streams.box`)."""
    return rng if isinstance(rng, StreamBox) else box(rng)


# ---------------------------------------------------------------- a fresh install's first run ------------------
_TOLD = False  # this process has looked (`tell_if_compiling`)


def in_cache() -> bool:
    """Whether numba's cache holds kernels of this module compiled from this source (a run then loads them, in
    ~0.4 s, rather than compiling them, ~30 s): read from the kernels' cache indexes. After any run some are there
    (a kernel called only from other kernels never has an index of its own); on a fresh install, or after this
    file is edited, none are. True when it cannot be told (run as Python; numba's cache laid out otherwise)."""
    try:
        found = False
        for kernel in list(globals().values()):
            index = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
            if index is not None and callable(getattr(index, "_load_index", None)):
                found = True
                if index._load_index():
                    return True
        return not found
    except Exception:  # numba's internals changed: say nothing rather than something untrue
        return True


def tell_if_compiling() -> None:
    """Once a process (the model calls it as it is built): if the kernels are not in numba's cache yet, say that
    this first run compiles them, rather than leave a user of a fresh install waiting half a minute in silence."""
    global _TOLD
    if _TOLD:
        return
    _TOLD = True
    if not in_cache():
        print("redoubt: compiling the model's kernels for this machine (once, about 30 s; later runs load them)",
              file=sys.stderr, flush=True)


@njit(cache=True)
def morale_shocks(size, state, morale, loc, hungry, ammo, rows, recovery, base, loss_term, logistics, hunger,
                  no_ammo, out_of_ammo_kg, civilian_term, encirclement, encircled_term, cohesion, shift,
                  local_term, weight, total):
    """The day's morale of each group with someone in it (rows < `rows`): back towards `base` by `recovery`, then
    the shocks: `loss_term` per place (the local losses), hunger and no ammunition (`logistics`), the civilians'
    hunger (`civilian_term`), encirclement (`encircled_term` per place) and, with `cohesion`, the side's `shift`
    and the per-place `local_term`. The place terms hit only groups holding there (those on the move were not in
    the day's fight). Clipped to [0, 1], in place. If `weight` is not empty, each holding group's fighters, and
    fighters x new morale, are added to its place's `weight` and `total` (place_means' sums, in the same pass)."""
    gather = len(weight) > 0
    for i in range(rows):
        if size[i] <= 0:
            continue
        held = 1.0 if state[i] == HOLDING else 0.0
        at = np.uint64(loc[i])
        m = morale[i]
        m = m + recovery * (base - m)
        m = m - loss_term[at] * held
        if logistics:
            m = m - hunger * (1.0 if hungry[i] else 0.0)
            m = m - no_ammo * (1.0 if ammo[i] < out_of_ammo_kg * size[i] else 0.0)
            m = m - civilian_term
        if encirclement:
            m = m - encircled_term[at]
        if cohesion:
            m = m + (shift + local_term[at] * held)
        morale[i] = min(max(m, 0.0), 1.0)
        if gather and state[i] == HOLDING:
            weight[at] += size[i]
            total[at] += size[i] * morale[i]


@njit(cache=True)
def cohesion_local(loss_share, enemy_share, outflanked, leader_draws, leader_risk, success, outflanked_shock,
                   leader_shock):
    """The cohesion shock felt at each place (`local`), and the places whose commander was killed today: killed
    where the place's draw (`leader_draws`, one uniform per place) is under leader_risk x the share of the local
    stack lost; then +success x the enemy's local share lost, -outflanked_shock where outflanked, -leader_shock
    where the commander was killed (numpy's `a * e - b * o - c * k`, bools as 1.0 and 0.0)."""
    n = len(loss_share)
    chance = chances(loss_share, leader_risk)
    killed = np.zeros(n, np.bool_)
    local = np.empty(n)
    for k in range(n):
        killed[k] = leader_draws[k] < chance[k]
        local[k] = (success * enemy_share[k] - outflanked_shock * (1.0 if outflanked[k] else 0.0)
                    - leader_shock * (1.0 if killed[k] else 0.0))
    return local, killed


@njit(cache=True)
def day_morale(size, state, morale, loc, hungry, ammo, rows, losses, before, recovery, base, loss_shock, logistics,
               hunger, no_ammo, out_of_ammo_kg, civilian_term, encirclement, encircled_term, cohesion, shift,
               enemy_losses, enemy_before, outflanked, leader_draws, leader_risk, success, outflanked_shock,
               leader_shock):
    """A side's morale update up to the contagion, in one call (processes.update_morale): the share of each
    place's stack lost today (`losses` of `before`), with `cohesion` the local shocks (`cohesion_local`), then
    `morale_shocks`. Returns the places whose commander was killed, and (with `cohesion`, for the contagion)
    each place's mean morale after the shocks and its fighters (as `place_means` finds them)."""
    n = len(losses)
    loss_share = shares(losses, before)
    local = loss_share
    killed = np.zeros(n, np.bool_)
    if cohesion:
        local, killed = cohesion_local(loss_share, shares(enemy_losses, enemy_before), outflanked, leader_draws,
                                       leader_risk, success, outflanked_shock, leader_shock)
    weight = np.zeros(n if cohesion else 0)  # the contagion's place means, gathered in the same pass
    total = np.zeros(n if cohesion else 0)
    morale_shocks(size, state, morale, loc, hungry, ammo, rows, recovery, base, loss_shock * loss_share, logistics,
                  hunger, no_ammo, out_of_ammo_kg, civilian_term, encirclement, encircled_term, cohesion, shift,
                  local, weight, total)
    if not cohesion:
        return killed, np.zeros(n), np.zeros(n)
    return killed, means(total, weight), weight


@njit(cache=True)
def spread_morale(size, state, morale, loc, rows, mean, weight, pull, break_point):
    """Contagion: each group holding at a place moves by the place's `pull` (`pull_morale`); returns the places
    that break: someone there (`weight`) and their mean morale after it (`mean` + `pull`) under the commander's
    `break_point`."""
    pull_morale(size, state, morale, loc, rows, pull)
    out = np.empty(len(mean), np.int64)
    k = 0
    for j in range(len(mean)):
        if weight[j] > 0 and mean[j] + pull[j] < break_point[j]:
            out[k] = j
            k += 1
    return out[:k]


@njit(cache=True)
def place_sums(value, idx, locs, n_places):
    """`value` of the rows `idx` summed by their places `locs`, in row order: numpy's bincount(locs,
    weights=value[idx], minlength=n_places)."""
    out = np.zeros(n_places)
    for j in range(len(idx)):
        out[np.uint64(locs[j])] += value[np.uint64(idx[j])]
    return out


@njit(cache=True)
def place_means(size, value, idx, locs, n_places):
    """Fighter-weighted mean of `value` over the groups present (`idx`, ascending, holding at `locs`: `present`)
    at each place (0 where no one is), and the fighters there: numpy's bincount of the present rows, in row
    order."""
    weight = np.zeros(n_places)
    total = np.zeros(n_places)
    for j in range(len(idx)):
        i, at = np.uint64(idx[j]), np.uint64(locs[j])
        weight[at] += size[i]
        total[at] += size[i] * value[i]
    return means(total, weight), weight


@njit(cache=True)
def means(total, weight):
    """Each place's `total` over its `weight` (0 where the weight is 0): numpy's divide with where=weight > 0."""
    out = np.zeros(len(total))
    for k in range(len(total)):
        if weight[k] > 0:
            out[k] = total[k] / weight[k]
    return out


@njit(cache=True)
def pull_morale(size, state, morale, loc, rows, pull):
    """Each group with someone in it and holding moves by its place's `pull` (contagion), clipped to [0, 1]."""
    for i in range(rows):
        if size[i] <= 0:
            continue
        held = 1.0 if state[i] == HOLDING else 0.0
        morale[i] = min(max(morale[i] + pull[np.uint64(loc[i])] * held, 0.0), 1.0)


@njit(cache=True)
def desertion_chances(size, morale, rows, below, rate):
    """The groups that may lose deserters today (someone in them, morale under `below`): their rows, sizes and
    chances (rate x how far under, clipped to [0, 1]), in row order: what numpy's binomial draws over."""
    out_rows = np.empty(rows, np.int64)
    out_n = np.empty(rows, np.int64)
    out_p = np.empty(rows)
    k = 0
    scale = max(below, 1e-9)
    for i in range(rows):
        if size[i] <= 0:
            continue
        m = morale[i]
        p = rate * (below - m) / scale if m < below else 0.0
        p = min(max(p, 0.0), 1.0)
        if p > 0:
            out_rows[k], out_n[k], out_p[k] = i, size[i], p
            k += 1
    return out_rows[:k], out_n[:k], out_p[:k]


@njit(cache=True)
def surrender_chances(size, morale, idx, locs, contested, encircled, below, encircled_below, rate):
    """The groups that may surrender today: of those present (`idx`, ascending, holding at `locs`: `present`; one
    emptied since, by desertion, is passed over as `still_present` would), where there is a fight (`contested`)
    or cut off (`encircled`), with morale under `below` (`encircled_below` when cut off). Their rows, sizes,
    chances and whether cut off, in row order."""
    n = len(idx) if rate > 0 else 0
    out_rows = np.empty(n, np.int64)
    out_n = np.empty(n, np.int64)
    out_p = np.empty(n)
    out_cut = np.empty(n, np.bool_)
    k = 0
    for j in range(n):
        i, at = np.uint64(idx[j]), np.uint64(locs[j])
        if size[i] <= 0:
            continue
        cut = encircled[at]
        limit = encircled_below if cut else below
        if (contested[at] or cut) and morale[i] < limit:
            out_rows[k], out_n[k], out_p[k], out_cut[k] = i, size[i], rate, cut
            k += 1
    return out_rows[:k], out_n[:k], out_p[:k], out_cut[:k]


@njit(cache=True)
def desert(size, food, ammo, state, loc, rows, leaving, counts, ground_share, dispersal):
    """Those who leave (`leaving[j]` of group rows[j]): with ground_share > 0, that share of them go to ground
    (one binomial from the dispersal stream, `dispersal`, for each group someone leaves, in row order: numpy's
    binomial where n > 0) and are taken out first ("dispersed"); the rest desert for good ("deserted"). Returns
    both take_outs in `_taken`'s form (the first takes no one when ground_share is 0)."""
    to_ground = np.zeros(len(rows), np.int64)
    if ground_share > 0:
        for j in range(len(rows)):
            if leaving[j] > 0:
                to_ground[j] = dispersal.rng.binomial(leaving[j], ground_share)
    took = np.zeros((2, 4), np.int64)
    gone = np.zeros((2, 2))
    emptied = np.empty(len(rows), np.int64)
    e = _taken(took, gone, emptied, 0, 0, take_out(size, food, ammo, state, loc, rows, to_ground, counts))
    e = _taken(took, gone, emptied, e, 1, take_out(size, food, ammo, state, loc, rows, leaving - to_ground, counts))
    return took, gone, emptied[:e]


@njit(cache=True)
def desert_and_surrender(size, morale, food, ammo, state, loc, rows, counts, idx, locs, contested, encircled,
                         desert_below, desert_rate, ground_share, surrender_below, encircled_below, surrender_rate,
                         morale_stream, dispersal_stream):
    """A side's day of desertion and surrender after its morale update, in one call: those in groups under
    desert_below may desert (`desertion_chances`; a binomial each from the morale stream, in row order), some of
    them going to ground (`desert`); then, of the groups still present (`idx`, `locs`: present before, less those
    emptied by it), those that may surrender (`surrender_chances`; a binomial each from the morale stream) give up.
    The draws are numpy's, in numpy's order. Returns the three take_outs ("dispersed", "deserted",
    "surrendered") in `_taken`'s form, and how many surrendered cut off."""
    took = np.zeros((3, 4), np.int64)
    gone = np.zeros((3, 2))
    emptied = np.empty(rows, np.int64)
    e = 0
    d_rows, d_n, d_p = desertion_chances(size, morale, rows, desert_below, desert_rate)
    if len(d_rows):
        leaving = np.empty(len(d_rows), np.int64)
        for j in range(len(d_rows)):
            leaving[j] = morale_stream.rng.binomial(d_n[j], d_p[j])
        went, lost, left_empty = desert(size, food, ammo, state, loc, d_rows, leaving, counts, ground_share,
                                        dispersal_stream)
        took[:2] = went
        gone[:2] = lost
        emptied[:len(left_empty)] = left_empty
        e = len(left_empty)
    s_rows, s_n, s_p, s_cut = surrender_chances(size, morale, idx, locs, contested, encircled, surrender_below,
                                                 encircled_below, surrender_rate)
    cut_off = 0
    if len(s_rows):
        gave_up = np.empty(len(s_rows), np.int64)
        for j in range(len(s_rows)):
            gave_up[j] = morale_stream.rng.binomial(s_n[j], s_p[j])
            if s_cut[j]:
                cut_off += gave_up[j]
        e = _taken(took, gone, emptied, e, 2, take_out(size, food, ammo, state, loc, s_rows, gave_up, counts))
    return took, gone, emptied[:e], cut_off


@njit(cache=True)
def _taken(took, gone, emptied, e, t, result):
    """A take_out's result filed as row t of `took` (fighters, groups, whether a group holding at a place was left
    empty, where its emptied rows end in `emptied`) and of `gone` (food, ammunition); its emptied rows appended to
    `emptied` from e. Returns the new end."""
    food, ammo, left_empty, total, groups, holding_emptied = result
    emptied[e:e + len(left_empty)] = left_empty
    e += len(left_empty)
    took[t, 0], took[t, 1], took[t, 2], took[t, 3] = total, groups, 1 if holding_emptied else 0, e
    gone[t, 0], gone[t, 1] = food, ammo
    return e


@njit(cache=True)
def eat_and_fire(size, state, loc, food, ammo, hungry, rows, ration_at, engaged, idle_ammo_rate, hungry_below):
    """A day's ration (`ration_at` per fighter, by place) eaten from what each group with someone in it carries,
    hungry when under `hungry_below` of the need; and ammunition fired at low intensity (`idle_ammo_rate` per
    fighter) by groups not holding where there was a fight (`engaged`). In place; returns what those groups ate
    and fired in all (summed over them in row order, as numpy sums) and how many they were."""
    eaten = np.empty(rows)
    fired = np.empty(rows)
    k = 0
    for i in range(rows):
        if size[i] <= 0:
            continue
        at = np.uint64(loc[i])
        need = size[i] * ration_at[at]
        ate = min(food[i], need)
        food[i] -= ate
        hungry[i] = ate < need * hungry_below
        fire = min(ammo[i], size[i] * idle_ammo_rate) if not engaged[at] or state[i] != HOLDING else 0.0
        ammo[i] -= fire
        eaten[k], fired[k] = ate, fire
        k += 1
    return numpy_sum(eaten[:k]), numpy_sum(fired[:k]), k


@njit(cache=True)
def wants(size, food, ammo, i, food_days, food_per_day, ammo_load):
    """What group i lacks of a full load: `food_days` of `food_per_day` a fighter, and `ammo_load` a fighter
    (never below 0)."""
    return max(size[i] * food_days * food_per_day - food[i], 0.0), max(size[i] * ammo_load - ammo[i], 0.0)


@njit(cache=True)
def shortfalls(size, food, ammo, rows, locs, reach, food_days, food_per_day, ammo_load):
    """Of the groups `rows` (at places `locs`), those at a place within `reach`, and what each lacks (`wants`)."""
    out = np.empty(len(rows), np.int64)
    food_want = np.empty(len(rows))
    ammo_want = np.empty(len(rows))
    k = 0
    for j in range(len(rows)):
        if reach[np.uint64(locs[j])]:
            i = np.uint64(rows[j])
            out[k] = i
            food_want[k], ammo_want[k] = wants(size, food, ammo, i, food_days, food_per_day, ammo_load)
            k += 1
    return out[:k], food_want[:k], ammo_want[:k]


@njit(cache=True)
def take_out(size, food, ammo, state, loc, rows, lost, counts):
    """Take `lost[j]` fighters out of group rows[j] with their share of what it carries; a group left empty
    carries exactly nothing and is OUT. In place, and `counts` (the fighters holding at each place, if not empty)
    kept up to date. Returns the food and ammunition that went with them (summed over the groups that lost
    someone, in order, as numpy sums), the rows left empty, the fighters taken, how many groups lost someone and
    whether a group holding at a place was left empty."""
    n = len(rows)
    food_gone = np.empty(n)
    ammo_gone = np.empty(n)
    emptied = np.empty(n, np.int64)
    k = e = 0
    total = 0
    count = len(counts) > 0
    holding_emptied = False
    for j in range(n):
        if lost[j] <= 0:
            continue
        i = np.uint64(rows[j])
        if state[i] == HOLDING:
            if count:
                counts[np.uint64(loc[i])] -= lost[j]
            if size[i] == lost[j]:
                holding_emptied = True
        frac = lost[j] / size[i]
        f, a = food[i] * frac, ammo[i] * frac
        food[i] -= f
        ammo[i] -= a
        size[i] -= lost[j]
        total += lost[j]
        food_gone[k], ammo_gone[k] = f, a
        k += 1
        if size[i] == 0:
            food[i] = ammo[i] = 0.0  # exactly zero: frac was 1
            state[i] = OUT
            emptied[e] = i
            e += 1
    return numpy_sum(food_gone[:k]), numpy_sum(ammo_gone[:k]), emptied[:e], total, k, holding_emptied


@njit(cache=True)
def quickest(start, stop, first_link, link_to, link_days, blocked, penalty):
    """Dijkstra from `start` to `stop` over the links of each place u (link_to[first_link[u]:first_link[u + 1]],
    taking link_days; inf: closed), never through a `blocked` place but `stop`, each place entered costing
    `penalty` days more. Places are settled nearest first, ties by index, and a way is only replaced by a
    strictly quicker one: the order a binary heap of (days, place) gives. Returns (days, path) or (inf, [])."""
    n = len(first_link) - 1
    dist = np.full(n, np.inf)
    prev = np.full(n, -1, np.int64)
    done = np.zeros(n, np.bool_)
    dist[start] = 0.0
    while True:
        u, d = -1, np.inf
        for k in range(n):
            if not done[k] and dist[k] < d:
                u, d = k, dist[k]
        if u < 0:
            return np.inf, np.empty(0, np.int64)
        if u == stop:
            steps = 1
            k = u
            while prev[k] >= 0:
                k = prev[k]
                steps += 1
            path = np.empty(steps, np.int64)
            k = u
            for j in range(steps - 1, -1, -1):
                path[j] = k
                k = prev[k]
            return d, path
        done[u] = True
        for e in range(first_link[u], first_link[u + 1]):
            v, w = link_to[e], link_days[e]
            if (blocked[v] and v != stop) or w == np.inf:
                continue
            w = w + penalty[v]
            if d + w < dist[v]:
                dist[v] = d + w
                prev[v] = u


TOWARD, FLANK = 1, 2  # press_on's actions: a stack sent on its way to the objective; a stalled stack to flank


@njit(cache=True)
def press_on(stacks, movable, aim, D, fix_ratio, first_link, link_to, link_days, detour_days, last_progress, day,
             flank_after_days):
    """The main effort's orders for the free stacks (`stacks`, ascending, `movable` fighters each), in turn
    (commands.AttackerCommand._press_on carries them out): each goes for the objective `aim` (-1: nothing left to
    take) by the way through the fewest defended places (each costing `detour_days`; then the quickest), as far
    as the place before the first of them, less a fixing force (fix_ratio per defender of its strongest defended
    neighbour); one already there, or with nothing left to send, flanks if it has stalled (no defenders there and
    no progress for flank_after_days). A stack sent marks progress where it left and where it goes
    (`last_progress`, in place). Returns, per stack, the action (0 none, TOWARD, FLANK), the fighters sent, where
    to, the days it takes (avoiding defended places) and whether the straight way ran through a defence."""
    n = len(D)
    no_block = np.zeros(n, np.bool_)
    defended = np.zeros(n, np.bool_)
    no_penalty = np.zeros(n)
    detours = np.zeros(n)
    for u in range(n):
        defended[u] = D[u] > 0
        detours[u] = detour_days * (1.0 if defended[u] else 0.0)  # numpy's DETOUR_DAYS * (D > 0)
    k = len(stacks)
    action = np.zeros(k, np.int64)
    sent = np.zeros(k, np.int64)
    dst = np.full(k, -1, np.int64)
    days = np.zeros(k)
    bypass = np.zeros(k, np.bool_)
    for j in range(k):
        loc = stacks[j]
        if aim >= 0:
            strongest = 0  # the fixing force: fix_ratio per defender of the strongest defended neighbour
            for e in range(first_link[loc], first_link[loc + 1]):
                strongest = max(strongest, D[link_to[e]])
            m = movable[loc] - (math.ceil(fix_ratio * strongest) if strongest > 0 else 0)
            if m > 0:
                path = quickest(loc, aim, first_link, link_to, link_days, no_block, detours)[1]
                first = len(path)  # the way as far as the first defended place on it
                for i in range(1, len(path)):
                    if D[path[i]] > 0:
                        first = i
                        break
                if first >= 2:
                    to = path[first - 1]
                    t = quickest(loc, to, first_link, link_to, link_days, defended, no_penalty)[0]
                    if np.isfinite(t):
                        direct = quickest(loc, to, first_link, link_to, link_days, no_block, no_penalty)[1]
                        for i in range(1, len(direct) - 1):
                            if D[direct[i]] > 0:
                                bypass[j] = True
                        action[j], sent[j], dst[j], days[j] = TOWARD, m, to, t
                        last_progress[loc] = last_progress[to] = day
                        continue
        if D[loc] == 0 and day - last_progress[loc] >= flank_after_days:
            action[j] = FLANK
    return action, sent, dst, days, bypass


@njit(cache=True)
def _block_sum(a, lo, n):
    """numpy's sum of a block of at most 128 (numpy/_core/src/umath/loops_utils.h.src): under 8 one by one,
    else eight running sums added in pairs, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def numpy_sum(a):
    """`a.sum()` for a 1-d float64 array, bit for bit: numpy's pairwise summation (a block of more than 128 is
    split in two at a multiple of 8 below its half, and the halves' sums added), its recursion unrolled on a
    stack (numba's cache mishandles a recursive function). tests/test_fused.py checks it against numpy."""
    n = len(a)
    if n <= 128:
        return 0.0 + _block_sum(a, 0, n)
    lo = np.empty(64, np.int64)  # the blocks being split: start, length, and how far (0: none, 1: left summed)
    ln = np.empty(64, np.int64)
    stage = np.empty(64, np.int64)
    left = np.empty(64)
    lo[0], ln[0], stage[0] = 0, n, 0
    top = 0
    done = 0.0  # the sum of the block just finished
    finished = False
    while True:
        if finished:  # hand the finished block's sum to its parent
            if top < 0:
                return 0.0 + done
            if stage[top] == 0:
                left[top] = done
                stage[top] = 1
                finished = False
            else:
                done = left[top] + done
                top -= 1
                continue
        m = ln[top]
        half = m // 2
        half -= half % 8
        if stage[top] == 0:
            start, size = lo[top], half
        else:
            start, size = lo[top] + half, m - half
        if size <= 128:
            done = _block_sum(a, start, size)
            finished = True
        else:
            top += 1
            lo[top], ln[top], stage[top] = start, size, 0


@njit(cache=True)
def share_out(amount, demand):
    """`amount` split over `demand` (1-d floats) in proportion, never more than asked (kernels.share_out)."""
    total = numpy_sum(demand)
    if total <= 0 or amount <= 0:
        return np.zeros(len(demand))
    if amount >= total:
        return demand.copy()
    return demand * (amount / total)


@njit(cache=True)
def top_up(size, food, ammo, rows, locs, reach, food_days, food_per_day, ammo_load, food_stock, ammo_stock):
    """A store's issue: of the groups `rows` (at places `locs`), those at a place within `reach` have their loads
    topped up towards full (`shortfalls`) from the store's stocks, shared out in proportion to what each lacks
    when there is not enough. In place; returns the stocks left."""
    idx, food_want, ammo_want = shortfalls(size, food, ammo, rows, locs, reach, food_days, food_per_day, ammo_load)
    if len(idx) == 0:
        return food_stock, ammo_stock
    return give(food, idx, food_want, food_stock), give(ammo, idx, ammo_want, ammo_stock)


@njit(cache=True)
def give(column, idx, want, stock):
    """`share_out` of `stock` over `want`, added to `column` at the rows `idx`; returns the stock left (stock less
    numpy's sum of what was given). What was given is `want` itself when the stock covers it all: its sum is the
    total already found (no second pass, no copy); nothing when either is empty."""
    total = numpy_sum(want)
    if total <= 0 or stock <= 0:
        return stock - 0.0
    if stock >= total:
        for j in range(len(idx)):
            column[np.uint64(idx[j])] += want[j]
        return stock - total
    given = want * (stock / total)
    for j in range(len(idx)):
        column[np.uint64(idx[j])] += given[j]
    return stock - numpy_sum(given)


@njit(cache=True)
def top_up_each(size, food, ammo, rows, locs, reach, food_days, food_per_day, ammo_load, food_stocks, ammo_stocks):
    """`top_up` from several stores in turn (store s reaching the places `reach[s]`, with stocks food_stocks[s] and
    ammo_stocks[s], left in them). Once no group that the stores still to come reach lacks anything, they are passed
    over: each would find nothing wanted and leave its stocks as they were (less 0.0). Most days the first store
    fills every load, and one pass (`_any_short`) then stands for the rest's passes."""
    n_stores = len(food_stocks)
    for s in range(n_stores):
        if 0 < s < n_stores - 1 and not _any_short(size, food, ammo, rows, locs, reach[s:], food_days, food_per_day,
                                                   ammo_load):
            return
        food_stocks[s], ammo_stocks[s] = top_up(size, food, ammo, rows, locs, reach[s], food_days, food_per_day,
                                                ammo_load, food_stocks[s], ammo_stocks[s])


@njit(cache=True)
def _any_short(size, food, ammo, rows, locs, reach, food_days, food_per_day, ammo_load):
    """Whether any of the groups `rows` (at places `locs`) within reach of any of the stores `reach` (stores x
    places) lacks anything of a full load (`wants` above 0)."""
    within = np.zeros(reach.shape[1], np.bool_)
    for s in range(reach.shape[0]):
        for at in range(reach.shape[1]):
            within[at] = within[at] or reach[s, at]
    for j in range(len(rows)):
        if within[np.uint64(locs[j])]:
            food_want, ammo_want = wants(size, food, ammo, np.uint64(rows[j]), food_days, food_per_day, ammo_load)
            if food_want > 0 or ammo_want > 0:
                return True
    return False


@njit(cache=True)
def hops(src, blocked, first_link, link_to):
    """Hops from `src` to every place over links, never through a `blocked` one (unreached, or a blocked src:
    int32's largest): a breadth-first search (hop counts do not depend on the order links are taken in)."""
    n = len(blocked)
    out = np.full(n, np.iinfo(np.int32).max, np.int64)
    if blocked[src]:
        return out
    out[src] = 0
    queue = np.empty(n, np.int64)
    queue[0] = src
    head, tail = 0, 1
    while head < tail:
        u = queue[head]
        head += 1
        for e in range(first_link[u], first_link[u + 1]):
            v = link_to[e]
            if out[v] > out[u] + 1 and not blocked[v]:
                out[v] = out[u] + 1
                queue[tail] = v
                tail += 1
    return out


@njit(cache=True)
def reachable(sources, blocked, first_link, link_to):
    """Places reachable from any of `sources` (bool per place) over links, never through a `blocked` one (nor
    from a blocked source): a breadth-first search over the links as `quickest` takes them."""
    n = len(sources)
    seen = np.zeros(n, np.bool_)
    queue = np.empty(n, np.int64)
    head = tail = 0
    for u in range(n):
        if sources[u] and not blocked[u]:
            seen[u] = True
            queue[tail] = u
            tail += 1
    while head < tail:
        u = queue[head]
        head += 1
        for e in range(first_link[u], first_link[u + 1]):
            v = link_to[e]
            if not seen[v] and not blocked[v]:
                seen[v] = True
                queue[tail] = v
                tail += 1
    return seen


@njit(cache=True)
def send(size, dest, state, eta, idx, locs, src, n, dst, new_state, arrival, stream):
    """Force.send's choice of who goes: the groups at `src` (`rows_at`) in a random order (numpy's permutation of
    them on `stream`, the movement stream boxed), then `send_rows`. No draw when no one is there."""
    rows = rows_at(idx, locs, src, size, state)
    if len(rows) == 0:
        return 0, -1, 0
    return send_rows(size, dest, state, eta, shuffled(stream.rng, rows), n, dst, new_state, arrival)


@njit(cache=True)
def shuffled(rng, a):
    """`a[rng.permutation(len(a))]` in place of `a` (which it returns), with the same draws: numpy's shuffle, a
    Fisher-Yates from the end (numba's own `permutation` makes the same draws at ~4x the time: it swaps through
    0-d array views)."""
    bitgen = rng.bit_generator
    for i in range(len(a) - 1, 0, -1):
        j = np.int64(random_interval(bitgen, i))
        a[i], a[j] = a[j], a[i]
    return a


@njit(cache=True)
def send_rows(size, dest, state, eta, rows, n, dst, new_state, arrival):
    """Start up to n fighters from the groups `rows` (in the order given: the caller's random order) towards
    `dst`: whole groups while they fit, in place; the next group, if only part of it is wanted, is left to the
    caller to split. Returns the fighters sent or to send, that group's row (-1: none) and how many of it."""
    total = 0
    for j in range(len(rows)):
        i = rows[j]
        if total + size[i] > n:
            return n, i, n - total
        dest[i], state[i], eta[i] = dst, new_state, arrival
        total += size[i]
        if total == n:
            break
    return total, -1, 0


@njit(cache=True)
def split_off(size, loc, dest, eta, state, morale, food, ammo, hungry, row, new, k):
    """Group `new` (an unused row) becomes k fighters of group `row`: its place, destination, day of arrival,
    state, morale and hunger, and k / size of its food and ammunition (taken from `row`). Every column of a
    side (forces.COLUMNS); in place."""
    frac = k / size[row]
    loc[new], dest[new], eta[new], state[new] = loc[row], dest[row], eta[row], state[row]
    morale[new], hungry[new] = morale[row], hungry[row]
    food[new], ammo[new] = food[row] * frac, ammo[row] * frac
    food[row] -= food[new]
    ammo[row] -= ammo[new]
    size[new], size[row] = k, size[row] - k


@njit(cache=True)
def spend(ammo, rows, used):
    """Take `used` kg of ammunition from the groups `rows`, in proportion to what each carries (all of it if they
    carry less); in place. Returns the kg taken (numpy's sum of what each gave)."""
    have = ammo[rows]
    total = numpy_sum(have)
    share = min(1.0, used / total) if total > 0 else 0.0
    take = have * share
    for j in range(len(rows)):
        ammo[np.uint64(rows[j])] -= take[j]
    return numpy_sum(take)


# ---------------------------------------------------------------- numpy's multivariate hypergeometric -------------
# Which fighters a loss takes (Force.pick_at): numpy's Generator.multivariate_hypergeometric ("marginals", its
# default) done here on the same bit generator, so a kernel can pick without a Python call. The same algorithms in
# the same order of operations (numpy/random/src/distributions: random_mvhg_marginals.c, random_hypergeometric.c,
# logfactorial.c), with no fast-math: tests/test_fused.py holds the draws and the stream's state after to numpy's.

_HALF_LOG_2PI = 0.9189385332046728
_D1 = 1.7155277699214135  # 2 sqrt(2/e)
_D2 = 0.8989161620588988  # 3 - 2 sqrt(3/e)


def _stirling_py(k):
    """numpy's log(k!) from 126 on: Stirling's series to the 1/k**3 term, in its order of operations. Run as
    Python (plain floats and the C library's log) to fill the table; compiled as `_stirling` beyond it
    (tests/test_fused.py checks that the two agree on every entry)."""
    return (k + 0.5) * math.log(k) - k + (_HALF_LOG_2PI + (1.0 / k) * (1 / 12.0 - 1 / (360.0 * k * k)))


# log(k!) as numpy finds it, looked up rather than found afresh (a pick among thousands of single fighters calls
# it tens of thousands of times): below 126 the double nearest the exact value (numpy's table holds the same
# doubles), then numpy's Stirling series, up to as many fighters as a place is likely to hold
_LOG_FACTORIAL = np.array([float(Decimal(math.factorial(k)).ln(Context(prec=40))) for k in range(126)] +
                          [_stirling_py(k) for k in range(126, 1 << 15)])


_stirling = njit(cache=True)(_stirling_py)


@njit(cache=True)
def _log_factorial(k):
    """log(k!) as numpy finds it: the table, else Stirling's series (`_stirling`)."""
    if k < len(_LOG_FACTORIAL):
        return _LOG_FACTORIAL[k]
    return _stirling(k)


@njit(cache=True)
def _hypergeometric_sample(bitgen, good, bad, sample):
    """numpy's hypergeometric by drawing one by one (small samples): the good ones among `sample` of good + bad."""
    total = good + bad
    computed = total - sample if sample > total // 2 else sample
    remaining_total, remaining_good = total, good
    while computed > 0 and remaining_good > 0 and remaining_total > remaining_good:
        remaining_total -= 1
        if np.int64(random_interval(bitgen, remaining_total)) < remaining_good:
            remaining_good -= 1
        computed -= 1
    if remaining_total == remaining_good:
        remaining_good -= computed
    return remaining_good if sample > total // 2 else good - remaining_good


@njit(cache=True)
def _hypergeometric_hrua(bitgen, good, bad, sample):
    """numpy's hypergeometric by ratio of uniforms (Stadlober's algorithm HRUA), for larger samples."""
    popsize = good + bad
    computed = min(sample, popsize - sample)
    least, most = min(good, bad), max(good, bad)
    p = least / popsize
    q = most / popsize
    a = computed * p + 0.5
    var = float(popsize - computed) * computed * p * q / (popsize - 1)
    c = math.sqrt(var + 0.5)
    h = _D1 * c + _D2
    m = np.int64(math.floor(float(computed + 1) * (least + 1) / (popsize + 2)))
    g = _log_factorial(m) + _log_factorial(least - m) + _log_factorial(computed - m) + \
        _log_factorial(most - computed + m)
    bound = min(computed, least) + 1
    cap = math.floor(a + 16 * c)
    b = float(bound) if bound < cap else cap  # C's MIN of an integer and a double
    while True:
        u = next_double(bitgen)
        v = next_double(bitgen)
        x = a + h * (v - 0.5) / u
        if x < 0.0 or x >= b:
            continue
        k = np.int64(math.floor(x))
        t = g - (_log_factorial(k) + _log_factorial(least - k) + _log_factorial(computed - k) +
                 _log_factorial(most - computed + k))
        if u * (4.0 - u) - 3.0 <= t:
            break
        if u * (u - t) >= 1:
            continue
        if 2.0 * math.log(u) <= t:
            break
    if good > bad:
        k = computed - k
    if computed < sample:
        k = good - k
    return k


@njit(cache=True)
def _hypergeometric(bitgen, good, bad, sample):
    if sample >= 10 and sample <= good + bad - 10:
        return _hypergeometric_hrua(bitgen, good, bad, sample)
    return _hypergeometric_sample(bitgen, good, bad, sample)


@njit(cache=True)
def multivariate_hypergeometric(rng, colors, nsample):
    """`rng.multivariate_hypergeometric(colors, nsample)` (numpy's "marginals" method), drawn on `rng` (a numpy
    Generator, as a kernel holds it): how many of each color among nsample drawn without replacement."""
    n = len(colors)
    out = np.zeros(n, np.int64)
    total = np.int64(0)
    for j in range(n):
        total += colors[j]
    if total == 0 or nsample == 0:
        return out
    bitgen = rng.bit_generator
    more_than_half = nsample > total // 2
    left = total - nsample if more_than_half else nsample
    remaining = total
    j = 0
    while left > 0 and j + 1 < n:
        remaining -= colors[j]
        r = _hypergeometric(bitgen, colors[j], remaining, left)
        out[j] = r
        left -= r
        j += 1
    if left > 0:
        out[n - 1] = left
    if more_than_half:
        for j in range(n):
            out[j] = colors[j] - out[j]
    return out


@njit(cache=True)
def rows_at(idx, locs, at, size, state):
    """Force.rows_at: of the present rows (`idx`, ascending, at `locs`), those at place `at` still present
    (someone in them, holding: as `still_present` would leave them after losses since)."""
    out = np.empty(len(idx), np.int64)
    k = 0
    for j in range(len(idx)):
        i = np.uint64(idx[j])
        if locs[j] == at and size[i] > 0 and state[i] == HOLDING:
            out[k] = i
            k += 1
    return out[:k]


@njit(cache=True)
def pick(size, state, idx, locs, at, n, stream):
    """Force.pick_at: n fighters at place `at` chosen at random fighter by fighter (not group by group): the
    groups there (`rows_at`) and how many of each, by numpy's multivariate hypergeometric over their sizes on
    `stream` (a StreamBox); all of them if n is at least everyone there, none if n <= 0."""
    rows = rows_at(idx, locs, at, size, state)
    if n <= 0 or len(rows) == 0:
        return rows[:0], np.zeros(0, np.int64)
    lost = size[rows]
    if n < lost.sum():
        lost = multivariate_hypergeometric(stream.rng, lost, n)
    return rows, lost


@njit(cache=True)
def _lose_at(stream, size, food, ammo, state, loc, counts, idx, locs, at, n):
    """Force.lose_at: n fighters taken out at place `at` (`pick`). Returns the take_out and how many went."""
    rows, lost = pick(size, state, idx, locs, at, n, stream)
    return take_out(size, food, ammo, state, loc, rows, lost, counts), lost.sum()


@njit(cache=True)
def fight_losses(places, a_loss, d_loss, a_used, d_used, logistics, a_size, a_food, a_ammo, a_state, a_loc,
                 a_counts, a_idx, a_locs, d_size, d_food, d_ammo, d_state, d_loc, d_counts, d_idx, d_locs, stream):
    """The day's losses and ammunition fired at the places fought over (`places`, as combat.engage_each found
    them), in one call: at each place in turn, the attackers' losses taken out (`_lose_at`, drawing on the combat
    stream, `stream`), then the defenders'; then, with `logistics`, each side's ammunition fired spent from its
    groups still there (`spend`). Each side's columns, kept counts and present rows (`idx`, `locs`, found before)
    are changed in place. Returns, per side, its take_outs (one per place, in `_taken`'s form), the fighters lost
    and the kg spent at each place."""
    n = len(places)
    a_took, d_took = np.zeros((n, 4), np.int64), np.zeros((n, 4), np.int64)
    a_gone, d_gone = np.zeros((n, 2)), np.zeros((n, 2))
    a_emptied, d_emptied = np.empty(len(a_idx), np.int64), np.empty(len(d_idx), np.int64)
    a_lost, d_lost = np.zeros(n, np.int64), np.zeros(n, np.int64)
    a_spent, d_spent = np.zeros(n), np.zeros(n)
    ae = de = 0
    for k in range(n):
        at = places[k]
        result, a_lost[k] = _lose_at(stream, a_size, a_food, a_ammo, a_state, a_loc, a_counts, a_idx, a_locs, at,
                                     a_loss[k])
        ae = _taken(a_took, a_gone, a_emptied, ae, k, result)
        result, d_lost[k] = _lose_at(stream, d_size, d_food, d_ammo, d_state, d_loc, d_counts, d_idx, d_locs, at,
                                     d_loss[k])
        de = _taken(d_took, d_gone, d_emptied, de, k, result)
        if logistics:
            if a_used[k] > 0:
                a_spent[k] = spend(a_ammo, rows_at(a_idx, a_locs, at, a_size, a_state), a_used[k])
            if d_used[k] > 0:
                d_spent[k] = spend(d_ammo, rows_at(d_idx, d_locs, at, d_size, d_state), d_used[k])
    return (a_took, a_gone, a_emptied[:ae], a_lost, a_spent), (d_took, d_gone, d_emptied[:de], d_lost, d_spent)


NEVER = 2**62  # the day of the next arrival when no one is on the move


@njit(cache=True)
def arrive(size, state, loc, dest, eta, rows, day):
    """Groups on the move (advancing or retreating) whose day of arrival has come reach their destination and
    hold there. In place; whether any did, and the day the next of those still on the move arrives (NEVER: none
    is)."""
    moved = False
    next_day = NEVER
    for i in range(rows):
        if size[i] > 0 and state[i] != HOLDING and state[i] != OUT:
            if eta[i] <= day:
                loc[i], dest[i], state[i] = dest[i], -1, HOLDING
                moved = True
            elif eta[i] < next_day:
                next_day = eta[i]
    return moved, next_day


@njit(cache=True)
def present(size, state, loc, rows, n_places):
    """The groups with someone in them holding at a place (their rows, ascending, and places), and the fighters
    at each place."""
    idx = np.empty(rows, np.int64)
    at = np.empty(rows, np.int64)
    counts = np.zeros(n_places, np.int64)
    k = 0
    for i in range(rows):
        if size[i] > 0 and state[i] == HOLDING:
            idx[k], at[k] = i, loc[i]
            counts[np.uint64(loc[i])] += size[i]
            k += 1
    return idx[:k], at[:k], counts


@njit(cache=True)
def still_present(idx, locs, size, state):
    """Of the present rows `idx` (at places `locs`), those with someone left in them still holding there: what
    `present` finds again after losses and departures alone (they empty groups or set them on the move; no
    group comes to hold at a place)."""
    keep_idx = np.empty(len(idx), np.int64)
    keep_locs = np.empty(len(idx), np.int64)
    k = 0
    for j in range(len(idx)):
        i = np.uint64(idx[j])
        if size[i] > 0 and state[i] == HOLDING:
            keep_idx[k], keep_locs[k] = idx[j], locs[j]
            k += 1
    return keep_idx[:k], keep_locs[:k]


# ---------------------------------------------------------------- per place (a handful of values each) -------
@njit(cache=True)
def shares(part, whole):
    """part / whole per place, 0 where whole is 0 (numpy's divide with `where`)."""
    out = np.zeros(len(part))
    for k in range(len(part)):
        if whole[k] > 0:
            out[k] = part[k] / whole[k]
    return out


@njit(cache=True)
def chances(share, rate):
    """rate x share, clipped to [0, 1]."""
    out = np.empty(len(share))
    for k in range(len(share)):
        out[k] = min(max(rate * share[k], 0.0), 1.0)
    return out


@njit(cache=True)
def neighbour_sums(adjacency, values):
    """`adjacency @ values` for a square 0/1 matrix, summed in one fixed order on every machine. numpy hands a
    matrix product to BLAS, whose order of addition depends on the CPU it finds (OpenBLAS picks a kernel per
    CPU), so the same run could differ in its last bits between two machines of one cluster. The order here is
    the one OpenBLAS 0.3.34 used on the machine every result published so far was computed on (its Haswell and
    SkylakeX kernels add alike; its Sandybridge, Nehalem and Prescott kernels do not), found by experiment and
    exact for 1 to 259 places: each row over the first 4*(n // 4) places in four lanes (place j in lane j % 4),
    reduced as (l0 + l2) + (l1 + l3); but the rows 4*(n // 4) and the one after it, when n % 4 >= 2, in two lanes
    (j % 2), reduced as l0 + l1; then the remaining places added in turn."""
    n = adjacency.shape[0]
    whole = (n // 4) * 4
    out = np.empty(n)
    lanes = np.empty(4)
    for i in range(n):
        lanes[:] = 0.0
        if n % 4 >= 2 and whole <= i < whole + 2:
            for j in range(whole):
                lanes[j % 2] += adjacency[i, j] * values[j]
            head = lanes[0] + lanes[1]
        else:
            for j in range(whole):
                lanes[j % 4] += adjacency[i, j] * values[j]
            head = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
        rest = 0.0
        for j in range(whole, n):
            rest += adjacency[i, j] * values[j]
        out[i] = head + rest
    return out


@njit(cache=True)
def pull_towards(mean, weight, nb_weight, nb_total, rate):
    """kernels.neighbour_pull after its two sums: `rate` of the way from each place's mean towards its
    neighbours' (nb_total / nb_weight); zero where the place, or all its neighbours, have no one."""
    out = np.zeros(len(mean))
    for k in range(len(mean)):
        if weight[k] > 0 and nb_weight[k] > 0:
            out[k] = rate * (nb_total[k] / nb_weight[k] - mean[k])
    return out


@njit(cache=True)
def km_held(control, road_order, legs, attacker):
    """The road's km between consecutive road places neither of which `attacker` holds: the legs picked out
    and summed as numpy sums them."""
    picked = np.empty(len(legs))
    k = 0
    for j in range(len(legs)):
        if control[road_order[j]] != attacker and control[road_order[j + 1]] != attacker:
            picked[k] = legs[j]
            k += 1
    return numpy_sum(picked[:k])


@njit(cache=True)
def hold(control, A, D, attacker, defender, is_road, km, mouth):
    """The day's holders, in place: a place only the attackers stand on (`A`, `D`: each side's fighters there)
    is theirs (`attacker`), one only the defenders stand on theirs. Returns the front: the furthest km up the road
    the attackers stand on or hold (the mouth's if none)."""
    front, touched = km[mouth], False
    for u in range(len(control)):
        if A[u] > 0 and D[u] == 0:
            control[u] = attacker
        elif D[u] > 0 and A[u] == 0:
            control[u] = defender
        if is_road[u] and (A[u] > 0 or control[u] == attacker) and (not touched or km[u] > front):
            front, touched = km[u], True
    return front


@njit(cache=True)
def cut_off(control, A, D, attacker, rear, first_link, link_to):
    """Defended places (`D` > 0) with no way to a `rear` place (a pass out, an open depot) over ground the attacker
    does not hold (`control`) nor stand on alone: `reachable` from the rear, the enemy's ground blocked."""
    n = len(control)
    enemy = np.zeros(n, np.bool_)
    for u in range(n):
        enemy[u] = control[u] == attacker or (A[u] > 0 and D[u] == 0)
    reached = reachable(rear, enemy, first_link, link_to)
    out = np.zeros(n, np.bool_)
    for u in range(n):
        out[u] = D[u] > 0 and not reached[u]
    return out


@njit(cache=True)
def outflanked(own, enemy, behind):
    """Places where a side has fighters (`own`) and the enemy alone holds a place behind it (`behind[i, j]`: j is
    behind i)."""
    n = len(own)
    out = np.zeros(n, np.bool_)
    for i in range(n):
        if own[i] > 0:
            for j in range(n):
                if behind[i, j] and enemy[j] > 0 and own[j] == 0:
                    out[i] = True
                    break
    return out


@njit(cache=True)
def offered(draws, chance, enemy, in_contact, outside, first_link, link_to):
    """The places offered terms today (processes.make_pacts, settle_before_contact), ascending: inside the valley
    (not `outside`), today's draw under `chance`, and with the enemy at the place or a neighbour (`enemy` > 0 there;
    numpy's (enemy > 0) | (adjacency @ (enemy > 0) > 0)) if `in_contact`, without if not."""
    n = len(draws)
    out = np.empty(n, np.int64)
    k = 0
    for u in range(n):
        if outside[u] or not draws[u] < chance:
            continue
        near = enemy[u] > 0
        e = first_link[u]
        while not near and e < first_link[u + 1]:
            near = enemy[link_to[e]] > 0
            e += 1
        if near == in_contact:
            out[k] = u
            k += 1
    return out[:k]


@njit(cache=True)
def snow_depth(depth_ref, elevation, line, ref_elevation):
    """Snow depth (cm) at each `elevation`: `depth_ref` x how far it stands above the snowline `line`, as a share
    of the reference elevation's height above it (at least 1 m), clipped to [0, 1.5]; none anywhere while there is
    no snowline (`line` not finite). numpy's clip and where, element by element (kernels.snow_depth_at)."""
    out = np.zeros(len(elevation))
    if not np.isfinite(line):
        return out
    scale = max(ref_elevation - line, 1.0)
    for k in range(len(elevation)):
        out[k] = depth_ref * min(max((elevation[k] - line) / scale, 0.0), 1.5)
    return out


# ---------------------------------------------------------------- the day's fight (it draws) -----------------
@njit(cache=True)
def _least(a, b):
    return b if b < a else a  # Python's min(a, b), ties and all


@njit(cache=True)
def _most(a, b):
    return b if b > a else a  # Python's max(a, b)


@njit(cache=True)
def _binomial(rng, targets, expected):
    """Losses among `targets` with mean `expected`: numpy's binomial on the stream (none drawn for no targets)."""
    p = expected / targets if targets > 0 else 0.0
    return rng.binomial(np.int64(targets), _least(_most(p, 0.0), 1.0))


@njit(cache=True)
def _limit(ammo, rate, h):
    """Fighters (or weapons) the ammunition lets fire for a sub-step: no limit at a rate of zero."""
    return ammo / (rate * h) if rate > 0 else np.inf


@njit(cache=True)
def engage_places(a, d, a_cov, d_cov, a_front, d_front, a_ammo, d_ammo, a_sup, d_sup, att_leth, dfd_leth, att_area,
                  dfd_area, att_rate, dfd_rate, att_sleth, dfd_sleth, att_srate, dfd_srate, dt, substeps, stream):
    """combat.engage (stochastic) at the k places fought over on a day, as combat.engage_each lays it out: each
    sub-step the defenders' losses at every place are drawn, then the attackers'; with supporting fire its losses
    after them, the defenders' then the attackers'. The arithmetic in the same order and the same draws, on the
    same stream, as numpy's (`stream` is the combat stream in its StreamBox: numba runs numpy's own binomial
    algorithm on its bit generator, so the stream is left as numpy leaves it). `a`, `d` and the ammunition are
    changed in place; returns the fighters lost and ammunition fired by each side at each place."""
    rng = stream.rng
    k = len(a)
    a_lost, d_lost = np.zeros(k, np.int64), np.zeros(k, np.int64)
    a_used, d_used = np.zeros(k), np.zeros(k)
    ea, ed, fa, fd = np.empty(k), np.empty(k), np.empty(k), np.empty(k)
    la, ld = np.empty(k, np.int64), np.empty(k, np.int64)
    ua, ud = np.empty(k), np.empty(k)
    supported = False
    for i in range(k):
        if a_sup[i] > 0 or d_sup[i] > 0:
            supported = True
    h = dt / substeps
    for _ in range(substeps):
        for i in range(k):
            ea[i] = _least(a[i], a_front[i])
            ed[i] = _least(d[i], d_front[i])
        for i in range(k):
            fa[i] = _least(ea[i], _limit(a_ammo[i], att_rate, h)) if ed[i] > 0 else 0.0
            fd[i] = _least(ed[i], _limit(d_ammo[i], dfd_rate, h)) if ea[i] > 0 else 0.0
        for i in range(k):
            lam_d = att_leth * fa[i] * (ed[i] if att_area else 1.0) * (1.0 - d_cov[i])
            ld[i] = _binomial(rng, ed[i], lam_d * h)
        for i in range(k):
            lam_a = dfd_leth * fd[i] * (ea[i] if dfd_area else 1.0) * (1.0 - a_cov[i])
            la[i] = _binomial(rng, ea[i], lam_a * h)
        for i in range(k):
            ua[i] = fa[i] * att_rate * h
            ud[i] = fd[i] * dfd_rate * h
        if supported:
            sa, sd = np.empty(k), np.empty(k)
            for i in range(k):
                d_left, a_left = d[i] - ld[i], a[i] - la[i]
                sa[i] = _least(a_sup[i], _limit(a_ammo[i] - ua[i], att_srate, h)) if d_left > 0 else 0.0
                sd[i] = _least(d_sup[i], _limit(d_ammo[i] - ud[i], dfd_srate, h)) if a_left > 0 else 0.0
            lsd = np.empty(k, np.int64)
            for i in range(k):
                d_left = d[i] - ld[i]
                lsd[i] = _binomial(rng, d_left, att_sleth * sa[i] * d_left * (1.0 - d_cov[i]) * h)
            for i in range(k):
                a_left = a[i] - la[i]
                lsa = _binomial(rng, a_left, dfd_sleth * sd[i] * a_left * (1.0 - a_cov[i]) * h)
                ld[i] += lsd[i]
                la[i] += lsa
                ua[i] = ua[i] + sa[i] * att_srate * h
                ud[i] = ud[i] + sd[i] * dfd_srate * h
        for i in range(k):
            a_ammo[i] -= ua[i]
            d_ammo[i] -= ud[i]
            a_used[i] += ua[i]
            d_used[i] += ud[i]
            a[i] -= la[i]
            d[i] -= ld[i]
            a_lost[i] += la[i]
            d_lost[i] += ld[i]
    return a_lost, d_lost, a_used, d_used
