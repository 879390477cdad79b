"""Defects found by the validation review, each fixed on purpose and held by a test (issue 16)."""

import dataclasses

import numpy as np
import pytest
from redoubt import ValleyModel
from redoubt.core.forces import ADVANCING
from redoubt.core.kernels import commander_nerve, threshold_probability

from .helpers import morale_day, send

FAST = {"fighters_per_agent": 50}


def test_groups_in_transit_take_no_loss_shock_from_the_place_they_left():
    m = ValleyModel(rng=1, **FAST)
    f = m.defenders
    src = m.valley.by_id(5)  # Bazarak, with defenders
    rows = f.rows_at(src)
    assert len(rows) >= 2
    moving = send(m, f, src, int(f.size[rows[0]]), m.valley.by_id(6), 2.0, ADVANCING)
    assert moving > 0
    transit = np.nonzero((f.size[: f.rows] > 0) & (f.state[: f.rows] == ADVANCING))[0]
    staying = f.rows_at(src)
    before = f.morale.copy()
    strength_before = f.counts().astype(float) + np.bincount(f.loc[transit], weights=f.size[transit],
                                                           minlength=m.valley.n)
    f.losses_today[src] = int(0.2 * strength_before[src])  # a bloody day where they left
    p = f.p
    morale_day(m, f, strength_before)
    drift = before + p.morale_recovery * (p.morale - before)
    np.testing.assert_allclose(f.morale[transit], np.clip(drift[transit], 0, 1))  # no shock on the move
    assert (f.morale[staying] < drift[staying] - 1e-9).all()  # those who stayed took it


def test_defender_waves_arrive_and_are_counted():
    m = ValleyModel(rng=2, overrides={"sides.defender.waves": [[5, 1200], [9, 800]],
                                      "sides.defender.arrive_at": 8}, **FAST)
    entry = m.valley.by_id(8)
    for day in range(1, 11):
        before = m.defenders.counts()[entry]
        m.step()
        if day in (6, 10):  # waves at t = 5 and t = 9 arrive when those days end: counted on days 6 and 10
            assert m.defenders.arrived == (1200 if day == 6 else 2000)
            assert m.defenders.counts()[entry] >= before  # they reached the Anjuman valley
    assert m.fighter_balance("defender") == 0
    for c in ("food", "ammo"):
        assert abs(m.imbalance("defender", c)) < 1e-6
    o = m.run()
    assert o["defenders_arrived"] == 2000


def test_defender_waves_need_an_arrival_place():
    from redoubt.inputs.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="sides.defender.arrive_at.*arrival location"):
        ValleyModel(overrides={"sides.defender.waves": [[5, 1200]]})


def test_resupply_carries_what_is_short():
    def shares(load):
        m = ValleyModel(rng=3, variant="passes", overrides={"resupply.passes.load": load,
                                                            "stocks.defender.food_days": 30}, **FAST)
        o = m.run()
        return o["resupply_ammo_kg"] / (o["resupply_food_kg"] + o["resupply_ammo_kg"])

    assert shares("fixed") == pytest.approx(0.5)
    assert shares("demand") < 0.35  # food runs short first: most of each load is food


def test_demand_share_follows_days_left():
    m = ValleyModel(rng=1, variant="air", **FAST)
    (air,) = list(m.sources)
    food, ammo = m.days_left("food"), m.days_left("ammo")
    assert air.ammo_share() == pytest.approx(food / (food + ammo))
    air.p = dataclasses.replace(air.p, load="fixed")
    assert air.ammo_share() == 0.5


def test_fall_back_is_smooth_in_the_odds():
    odds = np.array([1.0, 2.0, 2.9, 3.0, 3.1, 4.0, 9.0, np.inf])
    p = threshold_probability(odds, 3.0, 0.25)
    assert p[3] == pytest.approx(0.5) and (np.diff(p) > 0).all() and p[-1] == 1.0 and p[0] < 0.02
    assert abs(p[4] - p[2]) < 0.1  # a few per cent more attackers: a little likelier, not a cliff
    hard = threshold_probability(odds, 3.0, 0.0)
    assert hard.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert threshold_probability(0.0, 3.0, 0.25) == 0.0


def test_commanders_nerve_spreads_the_threshold():
    nerve = commander_nerve(np.random.default_rng(0), 3.0, 0.25, 200_000)
    for r in (1.5, 2.0, 3.0, 4.0, 6.0):
        assert np.mean(nerve < r) == pytest.approx(float(threshold_probability(r, 3.0, 0.25)), abs=0.005)
    assert (commander_nerve(np.random.default_rng(0), 3.0, 0.0, 5) == 3.0).all()


def test_nerve_is_drawn_once_per_place():
    m = ValleyModel(rng=7, **FAST)
    nerve = m.defender_command.nerve.copy()
    assert len(nerve) == m.valley.n and len(set(nerve.round(9))) == m.valley.n
    for _ in range(10):
        m.step()
    np.testing.assert_array_equal(m.defender_command.nerve, nerve)
