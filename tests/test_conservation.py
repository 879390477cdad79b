"""Every day, food and ammunition balance exactly and every fighter is accounted for."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redoubt.core.ledger import COMMODITIES
from redoubt.core.model import ValleyModel
from redoubt.core.outcome import RUN_ON

from .strategies import scenarios


def check_balances(m: ValleyModel) -> None:
    for side in ("attacker", "defender"):
        assert m.fighter_balance(side) == 0, (side, m.day)
        for c in COMMODITIES:
            flows = m.ledgers[side].flows
            scale = max(1.0, flows["initial"][c] + flows["delivered"][c])
            assert abs(m.imbalance(side, c)) <= 1e-9 * scale, (side, c, m.day, m.imbalance(side, c))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_random_scenarios_conserve_supplies_and_fighters(spec, seed):
    m = ValleyModel(spec, rng=seed)
    check_balances(m)
    while m.running:
        m.step()
        check_balances(m)
        assert (m.defenders.size[: m.defenders.rows] >= 0).all()
        assert m.stock("food") >= -1e-9 and m.stock("ammo") >= -1e-9
    o = m.outcome()  # the outputs never contradict each other: the fall comes first
    days = ("floor_lost_day", "resistance_ended_day", "run_on_floor_lost_day", "run_on_resistance_ended_day")
    if o["held_to_winter"]:
        assert all(o[day] is None for day in days) and o["collapse_day"] is None, o
    for day in days:
        assert o[day] is None or (o["collapse_day"] is not None and o["collapse_day"] <= o[day]), o
    # the run ends at the fall: what it records is that day's, the run-on's findings are its own fields
    assert o["floor_lost_day"] in (None, o["collapse_day"]) and o["resistance_ended_day"] in (None, o["collapse_day"])


@settings(max_examples=8, deadline=None)
@given(variant=st.sampled_from(["none", "air", "passes", "air+passes"]), seed=st.integers(0, 10**6),
       fpa=st.sampled_from([1, 7, 10, 50]))
def test_panjshir_conserves(variant, seed, fpa):
    m = ValleyModel(variant=variant, rng=seed, fighters_per_agent=fpa)
    o = None
    while m.running:
        m.step()
        check_balances(m)
        if o is None and (m.at_fall is not None or not m.running):
            o, flows = m.outcome(), copy.deepcopy(m.ledgers["defender"].flows)  # the run's end (a fall)
    assert o == {**m.outcome(), **{k: o[k] for k in RUN_ON}}  # a run-on after the fall leaves the run's record
    f = flows
    assert o["defenders_initial"] == 6000
    # what the resupply sources say they delivered is what the defender ledger received
    assert abs(f["delivered"]["food"] + f["delivered"]["ammo"] - o["resupply_delivered_kg"]) < 1e-6
