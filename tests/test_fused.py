"""The fused per-group loops (redoubt.core.fused) give, bit for bit, what the numpy expressions they replaced give:
each kernel against that expression (written out here) on random sides, empty, moving and cut-off groups included.
scripts/fingerprint.py holds the whole model to the same."""

from __future__ import annotations

import numpy as np
import pytest
from redoubt.core import fused

HOLDING = 0
N_PLACES = 7


def side(seed: int, rows: int = 300, capacity: int = 320):
    """A side's columns, as a Force keeps them (unused rows past `rows`), with empty and moving groups."""
    g = np.random.default_rng(seed)
    size = np.where(g.random(capacity) < 0.15, 0, g.integers(1, 11, capacity)).astype(np.int64)
    size[rows:] = 0
    return dict(
        size=size,
        state=np.where(g.random(capacity) < 0.2, g.integers(1, 3, capacity), HOLDING).astype(np.int8),
        morale=g.random(capacity),
        loc=g.integers(0, N_PLACES, capacity).astype(np.int64),
        hungry=g.random(capacity) < 0.3,
        ammo=g.random(capacity) * 20,
        rows=rows,
        g=g,
    )


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("switches", [(True, True, True), (False, False, False), (True, False, True)])
def test_morale_shocks_is_the_numpy_expression(seed, switches):
    logistics, encirclement, cohesion = switches
    s = side(seed)
    g, r = s["g"], s["rows"]
    loss_term, encircled_term, local = g.random(N_PLACES) * 0.3, g.random(N_PLACES) * 0.1, g.normal(0, 0.1, N_PLACES)
    shift, civilian = float(g.normal(0, 0.05)), float(g.random() * 0.02)
    idx = np.nonzero(s["size"][:r] > 0)[0]
    m, loc = s["morale"][idx].copy(), s["loc"][idx]
    holding = s["state"][idx] == HOLDING
    m += 0.1 * (0.7 - m)
    m -= loss_term[loc] * holding
    if logistics:
        m -= 0.05 * s["hungry"][idx]
        m -= 0.04 * (s["ammo"][idx] < 1.5 * s["size"][idx])
        m -= civilian
    if encirclement:
        m -= encircled_term[loc]
    if cohesion:
        m += shift + local[loc] * holding
    want = s["morale"].copy()
    want[idx] = np.clip(m, 0.0, 1.0)
    fused.morale_shocks(s["size"], s["state"], s["morale"], s["loc"], s["hungry"], s["ammo"], r, 0.1, 0.7,
                        loss_term, logistics, 0.05, 0.04, 1.5, civilian, encirclement, encircled_term, cohesion,
                        shift, local, np.zeros(0), np.zeros(0))
    np.testing.assert_array_equal(s["morale"], want)
    # the place sums gathered in the same pass are place_means' (on the morale after the shocks)
    weight, total = np.zeros(N_PLACES), np.zeros(N_PLACES)
    again = s["morale"].copy()
    fused.morale_shocks(s["size"], s["state"], again, s["loc"], s["hungry"], s["ammo"], r, 0.1, 0.7,
                        loss_term, logistics, 0.05, 0.04, 1.5, civilian, encirclement, encircled_term, cohesion,
                        shift, local, weight, total)
    mean, want_weight = fused.place_means(s["size"], again, *fused.present(s["size"], s["state"], s["loc"], r,
                                                                           N_PLACES)[:2], N_PLACES)
    np.testing.assert_array_equal(weight, want_weight)
    np.testing.assert_array_equal(np.divide(total, weight, out=np.zeros(N_PLACES), where=weight > 0), mean)


@pytest.mark.parametrize("seed", range(8))
def test_place_means_and_pull_are_the_numpy_expressions(seed):
    s = side(seed)
    r = s["rows"]
    present = (s["size"][:r] > 0) & (s["state"][:r] == HOLDING)
    loc, size, value = s["loc"][:r][present], s["size"][:r][present], s["morale"][:r][present]
    weight = np.bincount(loc, weights=size, minlength=N_PLACES).astype(float)
    total = np.bincount(loc, weights=size * value, minlength=N_PLACES)
    mean = np.divide(total, weight, out=np.zeros(N_PLACES), where=weight > 0)
    got_mean, got_weight = fused.place_means(s["size"], s["morale"], *fused.present(s["size"], s["state"], s["loc"],
                                                                                    r, N_PLACES)[:2], N_PLACES)
    np.testing.assert_array_equal(got_mean, mean)
    np.testing.assert_array_equal(got_weight, weight)

    pull = s["g"].normal(0, 0.2, N_PLACES)
    idx = np.nonzero(s["size"][:r] > 0)[0]
    want = s["morale"].copy()
    want[idx] = np.clip(want[idx] + pull[s["loc"][idx]] * (s["state"][idx] == HOLDING), 0.0, 1.0)
    fused.pull_morale(s["size"], s["state"], s["morale"], s["loc"], r, pull)
    np.testing.assert_array_equal(s["morale"], want)


@pytest.mark.parametrize("seed", range(8))
def test_the_groups_that_may_desert_or_surrender_are_those_numpy_drew_over(seed):
    s = side(seed)
    g, r = s["g"], s["rows"]
    idx = np.nonzero(s["size"][:r] > 0)[0]
    m = s["morale"][idx]
    below, rate = 0.4, 0.3
    p = np.clip(np.where(m < below, rate * (below - m) / max(below, 1e-9), 0.0), 0, 1)
    some = (s["size"][idx] > 0) & (p > 0)
    rows, n, chance = fused.desertion_chances(s["size"], s["morale"], r, below, rate)
    np.testing.assert_array_equal(rows, idx[some])
    np.testing.assert_array_equal(n, s["size"][idx][some])
    np.testing.assert_array_equal(chance, p[some])

    contested, encircled = g.random(N_PLACES) < 0.5, g.random(N_PLACES) < 0.3
    loc, at_place = s["loc"][idx], s["state"][idx] == HOLDING
    cut_off = encircled[loc] & at_place
    in_battle = contested[loc] & at_place
    limit = np.where(cut_off, max(0.3, 0.5), 0.3)
    p_surr = np.where((in_battle | cut_off) & (m < limit), 0.2, 0.0)
    some = (s["size"][idx] > 0) & (p_surr > 0)
    present, present_locs, _ = fused.present(s["size"], s["state"], s["loc"], r, N_PLACES)
    rows, n, chance, cut = fused.surrender_chances(s["size"], s["morale"], present, present_locs, contested,
                                                   encircled, 0.3, 0.5, 0.2)
    np.testing.assert_array_equal(rows, idx[some])
    np.testing.assert_array_equal(n, s["size"][idx][some])
    np.testing.assert_array_equal(chance, p_surr[some])
    np.testing.assert_array_equal(cut, cut_off[some])
    assert len(fused.surrender_chances(s["size"], s["morale"], present, present_locs, contested, encircled,
                                       0.3, 0.5, 0.0)[0]) == 0  # no chance, no draw


@pytest.mark.parametrize("seed", range(8))
def test_eating_firing_and_shortfalls_are_the_numpy_expressions(seed):
    s = side(seed)
    g, r = s["g"], s["rows"]
    food = g.random(len(s["size"])) * 40
    ration_at, engaged = 1.0 + g.random(N_PLACES), g.random(N_PLACES) < 0.4
    idx = np.nonzero(s["size"][:r] > 0)[0]
    want_food, want_ammo, want_hungry = food.copy(), s["ammo"].copy(), s["hungry"].copy()
    need = s["size"][idx] * ration_at[s["loc"][idx]]
    eaten = np.minimum(want_food[idx], need)
    want_food[idx] -= eaten
    want_hungry[idx] = eaten < need * 0.999
    idle = ~engaged[s["loc"][idx]] | (s["state"][idx] != HOLDING)
    fired = np.where(idle, np.minimum(want_ammo[idx], s["size"][idx] * 0.3), 0.0)
    want_ammo[idx] -= fired
    got_eaten, got_fired, groups = fused.eat_and_fire(s["size"], s["state"], s["loc"], food, s["ammo"], s["hungry"],
                                                      r, ration_at, engaged, 0.3, 0.999)
    assert (got_eaten, got_fired, groups) == (eaten.sum(), fired.sum(), len(idx))  # numpy's sums, to the last bit
    for got, want in ((food, want_food), (s["ammo"], want_ammo), (s["hungry"], want_hungry)):
        np.testing.assert_array_equal(got, want)

    present = np.nonzero((s["size"][:r] > 0) & (s["state"][:r] == HOLDING))[0]
    locs, reach = s["loc"][present], g.random(N_PLACES) < 0.6
    rows = present[reach[locs]]
    sizes = s["size"][rows]
    got_rows, got_food, got_ammo = fused.shortfalls(s["size"], food, s["ammo"], present, locs, reach, 3.0, 1.2, 15.0)
    np.testing.assert_array_equal(got_rows, rows)
    np.testing.assert_array_equal(got_food, np.maximum(sizes * 3.0 * 1.2 - food[rows], 0.0))
    np.testing.assert_array_equal(got_ammo, np.maximum(sizes * 15.0 - s["ammo"][rows], 0.0))


def heap_dijkstra(src, dst, travel, blocked, penalty):
    """The route search as it was written with a binary heap (ties by index), the reference for quickest."""
    import heapq
    import math

    dist, prev, heap = {src: 0.0}, {}, [(0.0, src)]
    while heap:
        d, u = heapq.heappop(heap)
        if u == dst:
            path = [u]
            while u in prev:
                u = prev[u]
                path.append(u)
            return d, path[::-1]
        if d > dist.get(u, math.inf):
            continue
        for v, w in travel[u]:
            if (blocked[v] and v != dst) or w == math.inf:
                continue
            if penalty is not None:
                w += penalty[v]
            if d + w < dist.get(v, math.inf):
                dist[v], prev[v] = d + w, u
                heapq.heappush(heap, (d + w, v))
    return math.inf, []


def as_arrays(neighbours):
    """Each place's neighbours as the Valley keeps them for the compiled searches: (first_link, link_to)."""
    first = np.cumsum([0] + [len(nb) for nb in neighbours]).astype(np.int64)
    return first, np.array([v for nb in neighbours for v in nb], np.int64)


@pytest.mark.parametrize("seed", range(40))
def test_quickest_is_the_heap_search(seed):
    """Random graphs with many equal times (ties), closed links, double links, blocked places and penalties."""
    g = np.random.default_rng(seed)
    n = int(g.integers(2, 14))
    travel = [[] for _ in range(n)]
    for _ in range(int(g.integers(1, 3 * n))):
        a, b = (int(x) for x in g.integers(0, n, 2))
        if a != b:
            w = float(g.choice([0.5, 1.0, 1.5, np.inf])) if g.random() < 0.7 else float(g.random() * 3)
            travel[a].append((b, w))
            travel[b].append((a, w))
    for nb in travel:
        nb.sort(key=lambda t: t[0])
    first, to = as_arrays([[v for v, _ in nb] for nb in travel])
    days = np.array([w for nb in travel for _, w in nb], float)
    for _ in range(10):
        src, dst = (int(x) for x in g.integers(0, n, 2))
        blocked = g.random(n) < 0.2
        penalty = (g.random(n) < 0.3) * 30.0 if g.random() < 0.5 else None
        want = heap_dijkstra(src, dst, travel, blocked, penalty)
        got_days, got_path = fused.quickest(src, dst, first, to, days, blocked,
                                            np.zeros(n) if penalty is None else penalty)
        assert (got_days, got_path.tolist()) == want


def test_the_kernels_know_the_holding_state():
    from redoubt.core.forces import State

    assert (fused.HOLDING, fused.OUT) == (State.HOLDING, State.OUT)


def test_numpy_sum_is_numpys_sum():
    """Pairwise summation, block for block: every length up to 1,100, then longer ones (up to 200,000)."""
    g = np.random.default_rng(0)
    lengths = list(range(0, 1100)) + [int(n) for n in g.integers(1100, 200_000, 60)]
    for n in lengths:
        a = (g.random(n) - 0.3) * float(g.choice([1.0, 1e6, 1e-3]))
        assert fused.numpy_sum(a) == a.sum(), n


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("stocks", [(1e9, 1e9), (500.0, 80.0), (0.0, 30.0)])
def test_a_stores_top_up_is_the_numpy_way(seed, stocks):
    """Enough for all, short (shared out in proportion), and nothing of one commodity."""

    def share_out(amount, demand):  # the numpy way, as kernels.share_out was written before it used fused's
        total = demand.sum()
        if total <= 0 or amount <= 0:
            return np.zeros_like(demand)
        return demand.copy() if amount >= total else demand * (amount / total)

    s = side(seed)
    g, r = s["g"], s["rows"]
    food = g.random(len(s["size"])) * 40
    present = np.nonzero((s["size"][:r] > 0) & (s["state"][:r] == HOLDING))[0]
    locs, reach = s["loc"][present], g.random(N_PLACES) < 0.6
    want_food, want_ammo, left = food.copy(), s["ammo"].copy(), {}
    idx, food_want, ammo_want = fused.shortfalls(s["size"], food, s["ammo"], present, locs, reach, 3.0, 1.2, 15.0)
    for (name, have, want), stock in zip((("food", want_food, food_want), ("ammo", want_ammo, ammo_want)), stocks):
        given = share_out(stock, want)
        have[idx] += given
        left[name] = stock - given.sum()
    before = food.copy(), s["ammo"].copy()
    got = fused.top_up(s["size"], food, s["ammo"], present, locs, reach, 3.0, 1.2, 15.0, *stocks)
    assert got == (left["food"], left["ammo"])
    np.testing.assert_array_equal(food, want_food)
    np.testing.assert_array_equal(s["ammo"], want_ammo)

    # Several stores in one call: the same as each store's top_up in turn (overlapping reaches, one reaching no
    # one and one everyone; stocks that cover all, a share, nothing)
    for trial in range(4):
        reaches = np.array([reach, g.random(N_PLACES) < 0.5, np.ones(N_PLACES, bool), np.zeros(N_PLACES, bool),
                            g.random(N_PLACES) < 0.7][: 2 + trial])
        food_stocks = np.array([stocks[0], 50.0, 1e6, 80.0, g.random() * 400][: 2 + trial])
        ammo_stocks = np.array([stocks[1], 0.0, 30.0, 1e6, g.random() * 900][: 2 + trial])
        turn_food, turn_ammo = before[0].copy(), before[1].copy()
        want_left = [fused.top_up(s["size"], turn_food, turn_ammo, present, locs, reaches[k], 3.0, 1.2, 15.0,
                                  food_stocks[k], ammo_stocks[k]) for k in range(len(reaches))]
        food, ammo = before[0].copy(), before[1].copy()
        fused.top_up_each(s["size"], food, ammo, present, locs, reaches, 3.0, 1.2, 15.0, food_stocks, ammo_stocks)
        assert list(zip(food_stocks, ammo_stocks)) == want_left
        np.testing.assert_array_equal(food, turn_food)
        np.testing.assert_array_equal(ammo, turn_ammo)

    # Stores passed over once those still to come reach no one who lacks anything: the first fills the loads at
    # its places exactly (each at least half full: the want and the sum are then exact), the second reaches only
    # those, the third others who still lack (so it must still give), the fourth the first's places again
    size = s["size"]
    full_food, full_ammo = size * 3.0 * 1.2, size * 15.0
    first = g.random(N_PLACES) < 0.5
    reaches = np.array([first, first, ~first, first])
    others = present[~first[locs]]  # the groups only the third store reaches
    for third_short in (True, False):
        food = full_food * g.uniform(0.5, 1.0, len(size))
        ammo = full_ammo * g.uniform(0.5, 1.0, len(size))
        if not third_short:
            food[others], ammo[others] = full_food[others], full_ammo[others]
        food_stocks, ammo_stocks = np.array([1e9, 40.0, 1e9, 7.0]), np.array([1e9, 0.0, 25.0, 9.0])
        turn_food, turn_ammo = food.copy(), ammo.copy()
        want_left = [fused.top_up(size, turn_food, turn_ammo, present, locs, reaches[k], 3.0, 1.2, 15.0,
                                  food_stocks[k], ammo_stocks[k]) for k in range(4)]
        fused.top_up_each(size, food, ammo, present, locs, reaches, 3.0, 1.2, 15.0, food_stocks, ammo_stocks)
        assert list(zip(food_stocks, ammo_stocks)) == want_left
        np.testing.assert_array_equal(food, turn_food)
        np.testing.assert_array_equal(ammo, turn_ammo)
        filled = present[first[locs]]
        np.testing.assert_array_equal(food[filled], full_food[filled])  # the case meant: the first store filled them
        if third_short:
            assert (food[others] == full_food[others]).all()  # the third gave


@pytest.mark.parametrize("seed", range(20))
def test_reachable_and_hops_are_the_breadth_first_search(seed):
    g = np.random.default_rng(seed)
    n = int(g.integers(2, 14))
    links = [[] for _ in range(n)]
    for _ in range(int(g.integers(0, 2 * n))):
        a, b = (int(x) for x in g.integers(0, n, 2))
        if a != b:
            links[a].append(b)
            links[b].append(a)
    sources, blocked = g.random(n) < 0.3, g.random(n) < 0.3
    seen = sources & ~blocked
    frontier = list(map(int, np.nonzero(seen)[0]))
    while frontier:
        nxt = []
        for u in frontier:
            for v in links[u]:
                if not seen[v] and not blocked[v]:
                    seen[v] = True
                    nxt.append(v)
        frontier = nxt
    np.testing.assert_array_equal(fused.reachable(sources, blocked, *as_arrays(links)), seen)
    for src in range(n):  # the hop counts, as Valley.hops_from found them in Python before
        want = np.full(n, np.iinfo(np.int32).max, dtype=np.int64)
        if not blocked[src]:
            want[src], frontier = 0, [src]
            while frontier:
                nxt = []
                for u in frontier:
                    for v in sorted(links[u]):
                        if want[v] > want[u] + 1 and not blocked[v]:
                            want[v] = want[u] + 1
                            nxt.append(v)
                frontier = nxt
        np.testing.assert_array_equal(fused.hops(src, blocked, *as_arrays(links)), want)


@pytest.mark.parametrize("seed", range(8))
def test_arrivals_are_the_numpy_expression(seed):
    s = side(seed)
    g, r = s["g"], s["rows"]
    state = np.where(g.random(len(s["size"])) < 0.1, fused.OUT, s["state"]).astype(np.int8)
    dest, eta = g.integers(0, N_PLACES, len(state)).astype(np.int64), g.integers(0, 10, len(state)).astype(np.int64)
    want_loc, want_dest, want_state = s["loc"].copy(), dest.copy(), state.copy()
    m = (s["size"][:r] > 0) & (state[:r] != HOLDING) & (state[:r] != fused.OUT) & (eta[:r] <= 5)
    idx = np.nonzero(m)[0]
    want_loc[idx], want_dest[idx], want_state[idx] = dest[idx], -1, HOLDING
    still = (s["size"][:r] > 0) & (state[:r] != HOLDING) & (state[:r] != fused.OUT) & (eta[:r] > 5)
    assert fused.arrive(s["size"], state, s["loc"], dest, eta, r, 5) == (m.any(),
                                                                         eta[:r][still].min() if still.any()
                                                                         else fused.NEVER)
    for got, want in ((s["loc"], want_loc), (dest, want_dest), (state, want_state)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(8))
def test_present_is_the_numpy_expression(seed):
    s = side(seed)
    r = s["rows"]
    m = (s["size"][:r] > 0) & (s["state"][:r] == HOLDING)
    idx, locs, counts = fused.present(s["size"], s["state"], s["loc"], r, N_PLACES)
    np.testing.assert_array_equal(idx, np.nonzero(m)[0])
    np.testing.assert_array_equal(locs, s["loc"][:r][m])
    np.testing.assert_array_equal(counts, np.bincount(s["loc"][:r][m], weights=s["size"][:r][m],
                                                      minlength=N_PLACES).astype(np.int64))
    ammo = s["ammo"]
    np.testing.assert_array_equal(fused.place_sums(ammo, idx, locs, N_PLACES),
                                  np.bincount(locs, weights=ammo[idx], minlength=N_PLACES))
    # losses empty some of them, others set off: those left are what present finds again
    size, state = s["size"].copy(), s["state"].copy()
    size[idx[s["g"].random(len(idx)) < 0.3]] = 0
    state[idx[s["g"].random(len(idx)) < 0.2]] = 1
    again = fused.present(size, state, s["loc"], r, N_PLACES)
    for got, want in zip(fused.still_present(idx, locs, size, state), again):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(8))
def test_taking_fighters_out_is_the_numpy_expression(seed):
    s = side(seed)
    g, r = s["g"], s["rows"]
    food = g.random(len(s["size"])) * 40
    rows = g.permutation(np.nonzero(s["size"][:r] > 0)[0])[:60]
    lost = np.where(g.random(len(rows)) < 0.3, s["size"][rows], g.integers(0, 3, len(rows)))
    lost = np.minimum(lost, s["size"][rows])
    some = lost > 0
    frac = lost[some] / s["size"][rows[some]]
    want_food, want_ammo, want_size = food.copy(), s["ammo"].copy(), s["size"].copy()
    food_gone, ammo_gone = want_food[rows[some]] * frac, want_ammo[rows[some]] * frac
    want_food[rows[some]] -= food_gone
    want_ammo[rows[some]] -= ammo_gone
    want_size[rows[some]] -= lost[some]
    empty = rows[some][want_size[rows[some]] == 0]
    want_food[empty] = want_ammo[empty] = 0.0
    counts = fused.present(s["size"], s["state"], s["loc"], r, N_PLACES)[2]
    holding_emptied = bool((s["state"][empty] == HOLDING).any())
    got_food, got_ammo, emptied, n, groups, got_holding_emptied = fused.take_out(
        s["size"], food, s["ammo"], s["state"], s["loc"], rows, lost, counts)
    assert (got_food, got_ammo, n, groups) == (food_gone.sum(), ammo_gone.sum(), lost.sum(), some.sum())
    np.testing.assert_array_equal(emptied, empty)
    for got, want in ((food, want_food), (s["ammo"], want_ammo), (s["size"], want_size)):
        np.testing.assert_array_equal(got, want)
    assert (s["state"][empty] == 3).all()
    # the counts kept up to date in the pass are those found afresh; a holding group emptied is said
    np.testing.assert_array_equal(counts, fused.present(s["size"], s["state"], s["loc"], r, N_PLACES)[2])
    assert got_holding_emptied == holding_emptied


@pytest.mark.parametrize("seed", range(8))
def test_sending_and_spending_are_the_numpy_ways(seed):
    """send_rows: the whole groups numpy's cumulative sum and search picked (and the one to split); spend: the
    ammunition taken in proportion to what each group carries."""
    s = side(seed)
    g, r = s["g"], s["rows"]
    rows = g.permutation(np.nonzero(s["size"][:r] > 0)[0])[:40]
    cum = np.cumsum(s["size"][rows])
    for n in (1, int(cum[3]), int(cum[3]) + 1, int(cum[-1]), int(cum[-1]) + 50):
        dest, state, eta = np.full(len(s["size"]), -1), s["state"].copy(), np.zeros(len(s["size"]), np.int64)
        want_n = min(n, int(cum[-1]))
        k = int(np.searchsorted(cum, want_n))  # rows[:k] whole, rows[k] whole or split
        taken = int(cum[k - 1]) if k else 0
        whole = rows[:k] if taken == want_n or s["size"][rows[k]] != want_n - taken else rows[:k + 1]
        split = (int(rows[k]), want_n - taken) if len(whole) == k and taken < want_n else (-1, 0)
        sent, row, part = fused.send_rows(s["size"], dest, state, eta, rows, n, 5, 1, 12)
        assert (sent, (row, part)) == (want_n, split)
        np.testing.assert_array_equal(np.nonzero(dest == 5)[0], np.sort(whole))
        assert (state[whole] == 1).all() and (eta[whole] == 12).all()

    ammo = s["ammo"].copy()
    for used in (0.5, 1e9):
        have = ammo[rows]
        take = have * min(1.0, used / have.sum())
        want = ammo.copy()
        want[rows] -= take
        assert fused.spend(ammo, rows, used) == take.sum()
        np.testing.assert_array_equal(ammo, want)
    assert fused.spend(ammo, rows, 3.0) == 0.0  # nothing left to take


@pytest.mark.parametrize("seed", range(8))
def test_the_per_place_kernels_are_the_numpy_expressions(seed):
    g = np.random.default_rng(seed)
    part, whole = g.integers(0, 50, N_PLACES), np.where(g.random(N_PLACES) < 0.3, 0, g.integers(1, 400, N_PLACES))
    share = np.divide(part, whole, out=np.zeros(N_PLACES), where=whole > 0)
    np.testing.assert_array_equal(fused.shares(part, whole), share)
    np.testing.assert_array_equal(fused.chances(share * 5, 0.7), np.clip(0.7 * (share * 5), 0.0, 1.0))

    mean, weight = g.random(N_PLACES), np.where(g.random(N_PLACES) < 0.3, 0.0, g.integers(1, 300, N_PLACES) * 1.0)
    adjacency = (g.random((N_PLACES, N_PLACES)) < 0.3).astype(float)
    nb_weight, nb_total = adjacency @ weight, adjacency @ (weight * mean)
    target = np.divide(nb_total, nb_weight, out=np.array(mean, dtype=float), where=nb_weight > 0)
    want = np.where((weight > 0) & (nb_weight > 0), 0.25 * (target - mean), 0.0)
    np.testing.assert_array_equal(fused.pull_towards(mean, weight, nb_weight, nb_total, 0.25), want)

    own, enemy = (g.random(N_PLACES) < 0.5) * g.integers(1, 9, N_PLACES), (g.random(N_PLACES) < 0.5) * 3
    behind = g.random((N_PLACES, N_PLACES)) < 0.3
    for b in (behind, behind.T):  # the defenders' view is the transpose (not contiguous)
        want = (own > 0) & (b & ((enemy > 0) & (own == 0))[None, :]).any(axis=1)
        np.testing.assert_array_equal(fused.outflanked(own, enemy, b), want)

    for n_road in (1, 2, N_PLACES):  # the road's km neither end of whose leg the attacker holds (control 2 here)
        road, control = g.permutation(N_PLACES)[:n_road], g.integers(0, 3, N_PLACES).astype(np.int8)
        legs = np.diff(np.sort(g.random(n_road) * 60))
        ok = control[road] != 2
        assert fused.km_held(control, road, legs, 2) == float(np.sum(legs[ok[:-1] & ok[1:]]))


def _sums_in_the_stated_order(adjacency, values):
    """fused.neighbour_sums's docstring, written out in Python, one row at a time."""
    n = len(values)
    whole, out = (n // 4) * 4, []
    for i in range(n):
        two_lanes = n % 4 >= 2 and whole <= i < whole + 2
        lanes = [0.0] * 4
        for j in range(whole):
            lanes[j % 2 if two_lanes else j % 4] += adjacency[i, j] * values[j]
        head = lanes[0] + lanes[1] if two_lanes else (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
        rest = 0.0
        for j in range(whole, n):
            rest += adjacency[i, j] * values[j]
        out.append(head + rest)
    return np.array(out)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 10, 11, 15, 17, 18, 23, 40])
def test_neighbour_sums_add_in_one_order_whatever_the_cpu(n):
    """The contagion's sums are the matrix product's values, added in the order the docstring states (numpy's
    product would add them in an order that depends on the CPU's BLAS kernel). Values of very different sizes,
    so that another order of addition gives other last bits."""
    g = np.random.default_rng(n)
    for _ in range(20):
        adjacency = (g.random((n, n)) < 0.5).astype(float)
        values = g.integers(0, 500, n) * g.random(n) * 10.0 ** g.integers(-8, 8, n)
        got = fused.neighbour_sums(adjacency, values)
        np.testing.assert_array_equal(got, _sums_in_the_stated_order(adjacency, values))
        np.testing.assert_allclose(got, adjacency @ values, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", range(8))
def test_snow_depth_is_the_numpy_expression(seed):
    g = np.random.default_rng(seed)
    elevation = np.concatenate([g.uniform(1500, 5000, 30), [2000.0, 2999.5, 3000.0, 3000.5]])
    for line in (g.uniform(1500, 4500), 3000.0, 2999.9, np.inf, -np.inf, np.nan):
        for ref in (line + g.uniform(-200, 2000), 3000.0, 3000.5):
            depth_ref = g.uniform(0, 150)
            with np.errstate(invalid="ignore"):
                frac = np.clip((elevation - line) / np.maximum(ref - line, 1.0), 0.0, 1.5)
            want = np.where(np.isfinite(line), depth_ref * frac, 0.0)
            assert fused.snow_depth(depth_ref, elevation, line, ref).tobytes() == want.tobytes()  # signed zeros too


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("cohesion", [True, False])
def test_a_days_morale_is_the_numpy_passes_it_fused(seed, cohesion):
    """fused.day_morale and fused.spread_morale against the passes they fuse, written as numpy: the shares lost,
    the cohesion shocks (leaders killed by the day's draws), the shocks, the place means, the contagion and the
    places that break."""
    s = side(seed)
    g, r = s["g"], s["rows"]
    losses, before = g.integers(0, 30, N_PLACES), np.where(g.random(N_PLACES) < 0.3, 0, g.integers(30, 90, N_PLACES))
    enemy_losses, enemy_before = g.integers(0, 20, N_PLACES), g.integers(0, 60, N_PLACES)
    outflanked, draws, encircled = g.random(N_PLACES) < 0.3, g.random(N_PLACES), g.random(N_PLACES) < 0.2
    risk, success, outflanked_shock, leader_shock, shift = 0.6, 0.2, 0.05, 0.1, float(g.normal(0, 0.05))
    args = (0.05, 0.6, 0.3, True, 0.1, 0.1, 0.5, 0.01, True, 0.08 * encircled)

    loss_share = np.divide(losses, before, out=np.zeros(N_PLACES), where=before > 0)
    killed = draws < np.clip(risk * loss_share, 0.0, 1.0)
    local = success * np.divide(enemy_losses, enemy_before, out=np.zeros(N_PLACES), where=enemy_before > 0) \
        - outflanked_shock * outflanked - leader_shock * killed
    want = s["morale"].copy()
    recovery, base, loss_shock, logistics, hunger, no_ammo, out_of_ammo, civilian, encirclement, enc_term = args
    fused.morale_shocks(s["size"], s["state"], want, s["loc"], s["hungry"], s["ammo"], r, recovery, base,
                        loss_shock * loss_share, logistics, hunger, no_ammo, out_of_ammo, civilian, encirclement,
                        enc_term, cohesion, shift, local if cohesion else loss_share, np.zeros(0), np.zeros(0))

    got_killed, mean, weight = fused.day_morale(
        s["size"], s["state"], s["morale"], s["loc"], s["hungry"], s["ammo"], r, losses, before, *args[:-1],
        enc_term, cohesion, shift, enemy_losses, enemy_before, outflanked, draws, risk, success, outflanked_shock,
        leader_shock)
    np.testing.assert_array_equal(s["morale"], want)
    np.testing.assert_array_equal(got_killed, killed & cohesion)
    if not cohesion:
        return
    want_mean, want_weight = fused.place_means(s["size"], want, *fused.present(s["size"], s["state"], s["loc"], r,
                                                                               N_PLACES)[:2], N_PLACES)
    np.testing.assert_array_equal(mean, want_mean)
    np.testing.assert_array_equal(weight, want_weight)
    local_got, killed_got = fused.cohesion_local(loss_share, np.divide(enemy_losses, enemy_before, out=np.zeros(
        N_PLACES), where=enemy_before > 0), outflanked, draws, risk, success, outflanked_shock, leader_shock)
    np.testing.assert_array_equal(local_got, local)

    adjacency = (g.random((N_PLACES, N_PLACES)) < 0.4).astype(float)
    break_point = g.random(N_PLACES) * 0.8
    nb_weight, nb_total = adjacency @ weight, adjacency @ (weight * mean)
    pull = fused.pull_towards(mean, weight, nb_weight, nb_total, 0.25)
    fused.pull_morale(s["size"], s["state"], want, s["loc"], r, pull)
    breaking = fused.spread_morale(s["size"], s["state"], s["morale"], s["loc"], r, mean, weight, pull, break_point)
    np.testing.assert_array_equal(s["morale"], want)
    np.testing.assert_array_equal(breaking, np.nonzero((weight > 0) & (mean + pull < break_point))[0])


RUN_AS_PYTHON = """
import hashlib, json, sys
from redoubt import ValleyModel
out = []
for seed, variant in ((3, "base"), (4, "air+passes")):
    m = ValleyModel(rng=seed, variant=variant, horizon_days=25)
    o = m.run()
    out.append([json.dumps(o, sort_keys=True, default=str), m.daily().to_json(), repr(m.events)])
print(hashlib.sha256(json.dumps(out).encode()).hexdigest())
"""


@pytest.mark.subprocess
def test_the_kernels_run_as_python_give_the_same_runs():
    """NUMBA_DISABLE_JIT=1 (for a debugger) runs the kernels as plain Python: the same runs, to the last digit."""
    import os
    import subprocess
    import sys

    digests = []
    for jit_off in ("1", "0"):
        env = {**os.environ, "NUMBA_DISABLE_JIT": jit_off}
        done = subprocess.run([sys.executable, "-c", RUN_AS_PYTHON], env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
        digests.append(done.stdout.strip())
    assert digests[0] == digests[1]


@pytest.mark.parametrize("fighters_per_agent", [10, 1])
def test_a_sides_kept_counts_are_those_found_afresh(fighters_per_agent):
    """Force keeps counts(), present_rows() and strength() through take_out and account (updated in the kernels'
    passes, the present rows kept but for those emptied) and send (those who left taken off) rather than finding
    them again: they are what a fresh pass finds, after each loss and send and at the end of each day of a whole
    run (at 1 fighter per agent every loss empties a group)."""
    from redoubt import ValleyModel
    from redoubt.core.forces import Force

    def as_found_afresh(force):
        idx, locs, counts = fused.present(force.size, force.state, force.loc, force.rows, force.n_places)
        if force._counts is not None:
            np.testing.assert_array_equal(force._counts, counts)
        if force._present_rows is not None:
            got_idx, got_locs = force.present_rows()  # those left taken off here, if it was not already
            np.testing.assert_array_equal(got_idx, idx)
            np.testing.assert_array_equal(got_locs, locs)
        if force._strength is not None:
            assert force._strength == int(force.size[: force.rows].sum())

    def checked(method):  # as kept right after each loss and each send, not only at the end of the day
        def call(force, *args, **kwargs):
            out = method(force, *args, **kwargs)
            as_found_afresh(force)
            calls[method.__name__] += 1
            return out
        return call

    calls = {"take_out": 0, "account": 0, "send": 0}  # account: take_outs made in a compiled call
    mp = pytest.MonkeyPatch()
    for method in calls:
        mp.setattr(Force, method, checked(getattr(Force, method)))
    try:
        m = ValleyModel(rng=3, fighters_per_agent=fighters_per_agent)
        while m.running:
            m.step()
            for force in (m.attackers, m.defenders):
                idx, locs, counts = fused.present(force.size, force.state, force.loc, force.rows, force.n_places)
                np.testing.assert_array_equal(force.counts(), counts)
                got_idx, got_locs = force.present_rows()
                np.testing.assert_array_equal(got_idx, idx)
                np.testing.assert_array_equal(got_locs, locs)
                assert force.strength() == int(force.size[: force.rows].sum())
    finally:
        mp.undo()
    assert calls["take_out"] > 10 and calls["account"] > 50 and calls["send"] > 10, calls  # every way was taken


@pytest.mark.parametrize("seed", range(8))
def test_splitting_a_group_copies_every_column_and_divides_its_loads(seed):
    import inspect

    from redoubt.core.forces import COLUMNS

    assert set(COLUMNS) <= set(inspect.signature(fused.split_off).parameters)  # a new column must be split too
    s = side(seed)
    g, r = s["g"], s["rows"]
    cols = dict(size=s["size"], loc=s["loc"], dest=g.integers(-1, N_PLACES, len(s["size"])).astype(np.int64),
                eta=g.integers(0, 9, len(s["size"])).astype(np.int64), state=s["state"], morale=s["morale"],
                food=g.random(len(s["size"])) * 40, ammo=s["ammo"], hungry=s["hungry"])
    row = int(np.nonzero(cols["size"][:r] > 1)[0][0])
    k, new = int(g.integers(1, cols["size"][row])), r
    want = {name: col.copy() for name, col in cols.items()}
    for name in ("loc", "dest", "eta", "state", "morale", "hungry"):
        want[name][new] = want[name][row]
    frac = k / want["size"][row]
    for name in ("food", "ammo"):
        want[name][new] = want[name][row] * frac
        want[name][row] -= want[name][new]
    want["size"][new], want["size"][row] = k, want["size"][row] - k
    fused.split_off(**cols, row=row, new=new, k=k)
    for name in COLUMNS:
        np.testing.assert_array_equal(cols[name], want[name], err_msg=name)


@pytest.mark.parametrize("scenario", ["panjshir-2021", "swat-2009"])
def test_the_places_offered_terms_are_the_numpy_expression(scenario):
    from redoubt import ValleyModel

    v = ValleyModel(scenario, rng=0).valley
    g = np.random.default_rng(7)
    for _ in range(200):
        A = np.where(g.random(v.n) < 0.7, 0, g.integers(1, 50, v.n)).astype(np.int64)
        draws, chance = g.random(v.n), float(g.random())
        near = (A > 0) | (v.adjacency @ (A > 0) > 0)
        for in_contact, where in ((True, near), (False, ~near)):
            want = (where & ~v.is_outside & (draws < chance)).nonzero()[0]
            got = fused.offered(draws, chance, A, in_contact, v.is_outside, v.first_link, v.link_to)
            np.testing.assert_array_equal(got, want)


def _columns(seed):
    """A side's columns with loads, and its counts as a Force keeps them."""
    s = side(seed)
    s["food"] = s["g"].random(len(s["size"])) * 40
    s["counts"] = fused.present(s["size"], s["state"], s["loc"], s["rows"], N_PLACES)[2]
    return s


def _take_out(c, rows, lost):
    return fused.take_out(c["size"], c["food"], c["ammo"], c["state"], c["loc"], rows, lost, c["counts"])


def _as_taken(results):
    """take_out results in fused._taken's form (took, gone, emptied)."""
    took, gone, emptied = np.zeros((len(results), 4), np.int64), np.zeros((len(results), 2)), []
    for t, (food, ammo, left_empty, total, groups, holding_emptied) in enumerate(results):
        emptied.extend(left_empty.tolist())
        took[t] = total, groups, holding_emptied, len(emptied)
        gone[t] = food, ammo
    return took, gone, np.array(emptied, np.int64)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("share", [0.35, 0.0, 1.0])
def test_deserting_draws_and_takes_out_as_numpy_did(seed, share):
    """fused.desert: numpy's binomial over all those leaving (it draws nothing where n = 0), then two take_outs;
    the results, the columns and the dispersal stream's state after are numpy's."""
    want, got = _columns(seed), _columns(seed)
    g = want["g"]
    rows = g.permutation(np.nonzero(want["size"][: want["rows"]] > 0)[0])[:80]
    leaving = np.minimum(want["size"][rows], g.integers(0, 4, len(rows)) * (g.random(len(rows)) < 0.5))
    a, b = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
    to_ground = a.binomial(leaving, share) if share > 0 else np.zeros(len(rows), np.int64)
    expected = _as_taken([_take_out(want, rows, to_ground), _take_out(want, rows, leaving - to_ground)])
    result = fused.desert(got["size"], got["food"], got["ammo"], got["state"], got["loc"], rows, leaving,
                          got["counts"], share, fused.box(b))
    for x, y in zip(result, expected):
        np.testing.assert_array_equal(x, y)
    for col in ("size", "food", "ammo", "state", "counts"):
        np.testing.assert_array_equal(got[col], want[col])
    assert a.random() == b.random()


@pytest.mark.parametrize("seed", range(12))
def test_a_days_desertion_and_surrender_are_the_numpy_steps(seed):
    """fused.desert_and_surrender in one call is the steps processes.update_morale took with numpy: the desertion
    chances, numpy's binomials on the morale stream, `desert` (the dispersal stream), the groups still present,
    the surrender chances and their binomials; the same results, columns and streams' states after."""
    want, got = _columns(seed), _columns(seed)
    g, r = want["g"], want["rows"]
    contested, encircled = g.random(N_PLACES) < 0.5, g.random(N_PLACES) < 0.3
    idx, locs, _ = fused.present(want["size"], want["state"], want["loc"], r, N_PLACES)
    args = (0.45, 0.5, 0.3, 0.35, 0.5, 0.25)  # desertion below, rate; ground share; surrender below, cut off, rate
    m_a, m_b = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
    d_a, d_b = np.random.default_rng(seed + 2), np.random.default_rng(seed + 2)

    rows, n, chance = fused.desertion_chances(want["size"], want["morale"], r, args[0], args[1])
    leaving = m_a.binomial(n, chance)
    to_ground = d_a.binomial(leaving, args[2])
    results = [_take_out(want, rows, to_ground), _take_out(want, rows, leaving - to_ground)]
    here, at = fused.still_present(idx, locs, want["size"], want["state"])
    rows, n, chance, cut = fused.surrender_chances(want["size"], want["morale"], here, at, contested, encircled,
                                                   *args[3:])
    gave_up = m_a.binomial(n, chance)
    results.append(_take_out(want, rows, gave_up))
    assert len(rows) and results[1][4]  # the case has both desertion and surrender

    took, gone, emptied, cut_off = fused.desert_and_surrender(
        got["size"], got["morale"], got["food"], got["ammo"], got["state"], got["loc"], r, got["counts"], idx, locs,
        contested, encircled, *args, fused.box(m_b), fused.box(d_b))
    for x, y in zip((took, gone, emptied), _as_taken(results)):
        np.testing.assert_array_equal(x, y)
    assert cut_off == gave_up[cut].sum()
    for col in ("size", "food", "ammo", "state", "counts"):
        np.testing.assert_array_equal(got[col], want[col])
    assert m_a.random() == m_b.random() and d_a.random() == d_b.random()


def test_a_boxed_stream_draws_the_streams_own_numbers():
    """Streams.box: a kernel drawing through the box draws from the stream itself (its state moves on); a copy
    of the streams (pickled) makes its own box."""
    import pickle

    from redoubt.core.streams import Streams

    s, t = Streams(np.random.SeedSequence(5)), Streams(np.random.SeedSequence(5))
    box = s.box("morale")
    assert s.box("morale") is box
    rows = np.arange(40)
    size = np.full(40, 9, np.int64)
    cols = dict(food=np.ones(40), ammo=np.ones(40), state=np.zeros(40, np.int8), loc=np.zeros(40, np.int64))
    fused.desert(size, cols["food"], cols["ammo"], cols["state"], cols["loc"], rows, np.full(40, 3, np.int64),
                 np.zeros(0, np.int64), 0.5, box)
    t.morale.binomial(np.full(40, 3), 0.5)
    assert s.morale.random() == t.morale.random()
    copied = pickle.loads(pickle.dumps(s))
    assert copied.box("morale") is not box and copied.morale.random() == s.morale.random()


@pytest.mark.parametrize("fighters_per_agent", [10, 1])
def test_a_days_losses_at_the_places_fought_over_are_the_python_steps(fighters_per_agent):
    """fused.fight_losses is, place by place, what Force.lose_at did with numpy (numpy's multivariate
    hypergeometric on the combat stream over the groups there, then take_out) for the attackers and the
    defenders, and then each side's ammunition spent from its groups still there: the same columns, take_outs,
    losses and stream state after, on the days of real runs."""
    import copy

    from redoubt import ValleyModel

    m, checked = ValleyModel(rng=5, fighters_per_agent=fighters_per_agent), 0
    g = np.random.default_rng(0)
    while m.running and checked < 12:
        m.step()
        A, D = m.attackers.counts(), m.defenders.counts()
        places = ((A > 0) & (D > 0)).nonzero()[0]
        if not len(places):
            continue
        want, got = copy.deepcopy(m), copy.deepcopy(m)
        a_loss = (g.random(len(places)) * A[places] * 1.3).astype(np.int64)  # everyone at a place, now and then
        d_loss = (g.random(len(places)) * D[places] * 0.5).astype(np.int64)
        a_used, d_used = g.random(len(places)) * 300 * (g.random(len(places)) < 0.8), g.random(len(places)) * 300
        expected = {"attacker": [], "defender": []}
        for k, loc in enumerate(places.tolist()):
            for force, n in ((want.attackers, a_loss[k]), (want.defenders, d_loss[k])):
                rows = force.present_rows()[0][force.present_rows()[1] == loc]  # as Force.pick_at found them
                lost = force.size[rows]
                if 0 < n < lost.sum():
                    lost = want.streams.combat.multivariate_hypergeometric(lost, int(n))
                elif n <= 0:
                    rows, lost = rows[:0], rows[:0]
                expected[force.side].append((fused.take_out(force.size, force.food, force.ammo, force.state, force.loc,
                                                            rows, lost, force.kept_counts()), lost.sum()))
                force._present_left = True  # as take_out leaves it, for the next rows_at
            for force, used in ((want.attackers, a_used[k]), (want.defenders, d_used[k])):
                spent = fused.spend(force.ammo, force.rows_at(loc), used) if used > 0 else 0.0
                expected[force.side][-1] += (spent,)
        results = fused.fight_losses(places, a_loss, d_loss, a_used, d_used, True, *got.attackers.columns_present(),
                                     *got.defenders.columns_present(), got.streams.box("combat"))
        for side, (took, gone, emptied, lost, spent) in zip(("attacker", "defender"), results):
            rows = expected[side]
            for x, y in zip((took, gone, emptied), _as_taken([r[0] for r in rows])):
                np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(lost, [r[1] for r in rows])
            np.testing.assert_array_equal(spent, [r[2] for r in rows])
            for col in ("size", "food", "ammo", "state"):
                np.testing.assert_array_equal(getattr(got.force(side), col), getattr(want.force(side), col))
        assert got.streams.combat.random() == want.streams.combat.random()
        checked += 1
    assert checked == 12


def test_the_multivariate_hypergeometric_is_numpys():
    """fused.multivariate_hypergeometric draws what numpy's Generator.multivariate_hypergeometric draws (the
    "marginals" method: small samples one by one, larger ones by ratio of uniforms, log(k!) from the table and
    Stirling's series) and leaves the stream where numpy leaves it: many colours and few, small groups and large,
    samples under and over half, none and all."""
    from numba import njit

    @njit
    def drawn(stream, colors, n):
        return fused.multivariate_hypergeometric(stream.rng, colors, n)

    for t in range(600):
        g = np.random.default_rng(t)
        colors = g.integers(0, (11, 300)[t % 2], int(g.integers(1, (60, 1500)[t % 3 == 0]))).astype(np.int64)
        total = int(colors.sum())
        n = (0, total, int(g.integers(0, total + 1)))[min(t % 7, 2)]
        a, b = np.random.default_rng(t + 99), np.random.default_rng(t + 99)
        np.testing.assert_array_equal(drawn(fused.box(b), colors, n), a.multivariate_hypergeometric(colors, n))
        assert a.random() == b.random()
    assert np.array_equal(fused._LOG_FACTORIAL[:4], [0.0, 0.0, np.log(2.0), np.log(6.0)])


def test_the_log_factorials_looked_up_are_those_the_series_gives():
    """The table of log(k!) from 126 on (made in Python at import) holds, for every k, the double the compiled
    series gives (`fused._stirling`, numpy's formula): a lookup, not a different value."""
    from numba import njit

    @njit
    def series(n):
        out = np.zeros(n)
        for k in range(126, n):
            out[k] = fused._stirling(k)
        return out

    table = fused._LOG_FACTORIAL
    np.testing.assert_array_equal(series(len(table))[126:], table[126:])
    assert fused._log_factorial(len(table) + 5) == fused._stirling(len(table) + 5)


@pytest.mark.parametrize("scenario", ["panjshir-2021", "swat-2009"])
def test_the_main_efforts_orders_are_those_found_stack_by_stack(scenario):
    """fused.press_on gives each free stack the order the per-stack Python gave it: the way to the objective
    through the fewest defended places (Valley.route, DETOUR_DAYS a defended place), cut before the first, less
    the fixing force; the days round the defences; a bypass where the straight way runs through one; else a
    flank for a stalled stack. Checked on every day of runs, with the free stacks as the commander had them and
    with every place a stack's."""
    from redoubt import ValleyModel
    from redoubt.core.commands import DETOUR_DAYS

    def per_stack(cmd, stacks, movable, aim, D, s, progress):
        v, p, out = cmd.valley, cmd.p, []
        for loc in stacks:
            near = [D[nb] for nb, _ in v.neighbours[loc] if D[nb] > 0]
            n = int(movable[loc]) - (int(np.ceil(p.fix_ratio * int(max(near)))) if near else 0)
            if aim >= 0 and n > 0:
                _, path = cmd.route(loc, aim, np.zeros(v.n, bool), s, penalty=DETOUR_DAYS * (D > 0))
                first = next((i for i, u in enumerate(path) if i and D[u] > 0), len(path))
                if first >= 2:
                    dst = path[first - 1]
                    days, _ = cmd.route(loc, dst, D > 0, s)
                    if np.isfinite(days):
                        _, direct = cmd.route(loc, dst, np.zeros(v.n, bool), s)
                        out.append((1, n, dst, days, any(D[u] > 0 for u in direct[1:-1])))
                        progress[loc] = progress[dst] = s.day
                        continue
            flank = D[loc] == 0 and s.day - progress[loc] >= p.flank_after_days
            out.append((2 if flank else 0, 0, -1, 0.0, False))
        return out

    m, g, days = ValleyModel(scenario, rng=4), np.random.default_rng(1), 0
    cmd, v = m.attacker_command, m.valley
    while m.running:
        m.step()
        A, D, s = m.attackers.counts(), m.defenders.counts(), m.situation()
        aim = cmd.objective()
        for movable in (np.maximum(A - 5, 0), g.integers(0, 400, v.n) * (g.random(v.n) < 0.6)):
            stacks = (movable > 0).nonzero()[0]
            progress = cmd.last_progress.copy() - g.integers(0, 6, v.n)
            want = per_stack(cmd, stacks.tolist(), movable, -1 if aim is None else aim, D, s, progress.copy())
            got_progress = progress.copy()
            got = fused.press_on(stacks, movable, -1 if aim is None else aim, D, cmd.p.fix_ratio, v.first_link,
                                 v.link_to, v.travel_days(cmd.p.speed_km_per_day, cmd.p.path_slowdown,
                                                          s.weather.slowdown), DETOUR_DAYS, got_progress, s.day,
                                 cmd.p.flank_after_days)
            assert list(zip(*(order.tolist() for order in got))) == want
            days += 1
    assert days > 100


@pytest.mark.parametrize("seed", range(20))
def test_the_days_holders_the_front_and_the_places_cut_off_are_the_numpy_expressions(seed):
    from redoubt import ValleyModel
    from redoubt.core.space import ATTACKER_HELD, DEFENDER_HELD

    v = ValleyModel(("panjshir-2021", "swat-2009")[seed % 2], rng=0).valley
    g = np.random.default_rng(seed)
    for _ in range(30):
        A = np.where(g.random(v.n) < (0.9, 0.5)[seed % 2], 0, g.integers(1, 50, v.n)).astype(np.int64)
        D = np.where(g.random(v.n) < 0.5, 0, g.integers(1, 50, v.n)).astype(np.int64)
        control = g.integers(0, 3, v.n).astype(np.int8)
        want = control.copy()
        want[(A > 0) & (D == 0)] = ATTACKER_HELD
        want[(D > 0) & (A == 0)] = DEFENDER_HELD
        touched = v.is_road & ((A > 0) | (want == ATTACKER_HELD))
        front = float(v.km[touched].max()) if touched.any() else float(v.km[v.mouth])
        assert fused.hold(control, A, D, ATTACKER_HELD, DEFENDER_HELD, v.is_road, v.km, v.mouth) == front
        np.testing.assert_array_equal(control, want)
        rear = v.is_pass | (g.random(v.n) < 0.1)
        enemy = (control == ATTACKER_HELD) | ((A > 0) & (D == 0))
        np.testing.assert_array_equal(fused.cut_off(control, A, D, ATTACKER_HELD, rear, v.first_link, v.link_to),
                                      (D > 0) & ~v.reachable(rear, enemy))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 256, 5000])
def test_shuffled_is_numpys_permutation(n):
    """fused.shuffled: the array in numpy's permutation order, made with the same draws (the stream's state after
    is the same), for lengths that take no draw, one, and thousands."""
    for seed in range(4):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        rows = np.arange(n, dtype=np.int64) * 3 + 7
        want = rows[a.permutation(n)]
        got = fused.shuffled(b, rows.copy())
        np.testing.assert_array_equal(got, want)
        assert a.random() == b.random()


@pytest.mark.parametrize("seed", range(8))
def test_who_is_sent_is_drawn_as_numpy_drew_it(seed):
    """fused.send: the groups at the place (numpy's mask of the present rows), in numpy's permutation of them on
    the movement stream, then send_rows; nothing drawn when no one is there. The same groups sent, the same
    split and the stream's state after."""
    s = side(seed)
    r = s["rows"]
    idx, locs, _ = fused.present(s["size"], s["state"], s["loc"], r, N_PLACES)
    for src in range(N_PLACES + 1):  # the last: no one there
        for n in (1, 7, 40, 10**6):
            a, b = np.random.default_rng(seed * 100 + n), np.random.default_rng(seed * 100 + n)
            cap = len(s["size"])
            want_cols = [c.copy() for c in (s["size"], np.full(cap, -1), s["state"], np.zeros(cap, np.int64))]
            got_cols = [c.copy() for c in want_cols]
            rows = idx[locs == src]
            want = (0, -1, 0) if not len(rows) else \
                fused.send_rows(*want_cols, rows[a.permutation(len(rows))], n, 5, 1, 12)
            got = fused.send(*got_cols, idx, locs, src, n, 5, 1, 12, fused.box(b))
            assert tuple(got) == tuple(want)
            for x, y in zip(got_cols, want_cols):
                np.testing.assert_array_equal(x, y)
            assert a.random() == b.random()
