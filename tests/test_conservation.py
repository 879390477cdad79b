"""Every day, food and ammunition balance exactly and every fighter is accounted for."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redoubt.core.ledger import COMMODITIES
from redoubt.core.model import ValleyModel

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
    if o["held_to_winter"]:
        assert o["floor_lost_day"] is None and o["resistance_ended_day"] is None and o["collapse_day"] is None, o
    for day in (o["floor_lost_day"], o["resistance_ended_day"]):
        assert day is None or (o["collapse_day"] is not None and o["collapse_day"] <= day), o


@settings(max_examples=8, deadline=None)
@given(variant=st.sampled_from(["none", "air", "passes", "air+passes"]), seed=st.integers(0, 10**6),
       fpa=st.sampled_from([1, 7, 10, 50]))
def test_panjshir_conserves(variant, seed, fpa):
    m = ValleyModel(variant=variant, rng=seed, fighters_per_agent=fpa)
    while m.running:
        m.step()
        check_balances(m)
    o = m.outcome()
    assert o["defenders_initial"] == 6000
    f = m.ledgers["defender"].flows
    # what the resupply sources say they delivered is what the defender ledger received
    assert abs(f["delivered"]["food"] + f["delivered"]["ammo"] - o["resupply_delivered_kg"]) < 1e-6
