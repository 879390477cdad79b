"""Issue 21's campaign processes, each against its own switch: the attacker's main effort (switches.main_effort)
presses on to an objective around the defences, fixes what it goes round with the least force, and leaves no
main body idle in a dead end."""

import math

import numpy as np
import pytest
from redoubt import ValleyModel
from redoubt.core.space import Control

from .helpers import decide


def test_the_objective_is_the_first_key_place_then_the_floor_then_the_passes():
    m = ValleyModel(rng=1, switches__main_effort=True)
    v, cmd = m.valley, m.attacker_command
    capital = v.by_id(5)
    assert cmd.objective() == capital
    v.control[capital] = Control.ATTACKER
    assert cmd.objective() == int(v.road_order[0])  # the gorge: the first place up the road it does not hold
    v.control[v.road_order] = Control.ATTACKER
    assert cmd.objective() == int(v.passes[0])
    v.control[v.passes] = Control.ATTACKER
    assert cmd.objective() is None  # nothing left to take


def test_a_stack_goes_round_a_defended_place_and_leaves_a_fixing_force():
    """The gorge held, the flank ridge and the junction behind it empty: the stack at Gulbahar goes over the
    ridge path towards the capital, leaving fix_ratio fighters per defender of the gorge in front of it."""
    m = ValleyModel(rng=1, switches__main_effort=True, sides__attacker__fix_ratio=1.5,
                    sides__attacker__advance_odds=1e9)  # no attack goes in: only the main effort moves them
    v, dfd, att = m.valley, m.defenders, m.attackers
    gulbahar, gorge = v.by_id(0), v.by_id(1)
    for lid in (2, 13, 15):  # nobody on the way round
        rows = dfd.rows_at(v.by_id(lid))
        dfd.take_out(rows, dfd.size[rows].copy(), "withdrawn")
    att.add(5000, gulbahar, initial=False)
    D, there = dfd.counts(), int(att.counts()[gulbahar])
    assert D[gorge] > 0 and there >= 5000
    decide(m, "attacker")
    left = att.counts()[gulbahar]
    assert left == math.ceil(1.5 * D[gorge])  # the fixing force stays in front of the gorge
    bypass = [e for e in m.events if e.what == "bypass"]
    assert bypass and bypass[0].place == v.names[gulbahar] and bypass[0].fighters == there - left
    assert v.names[v.by_id(5)] in bypass[0].note


def test_without_the_switch_nobody_goes_round():
    m = ValleyModel(rng=1, switches__main_effort=False, sides__attacker__advance_odds=1e9)
    v, dfd, att = m.valley, m.defenders, m.attackers
    for lid in (2, 13, 15):
        rows = dfd.rows_at(v.by_id(lid))
        dfd.take_out(rows, dfd.size[rows].copy(), "withdrawn")
    att.add(5000, v.by_id(0), initial=False)
    decide(m, "attacker")
    assert not [e for e in m.events if e.what == "bypass"]


def longest_idle_at_the_head(m) -> int:
    """Longest run of days on which more than 30% of the attackers in the valley sat at its head (a dead end)
    while their objective was elsewhere."""
    v = m.valley
    head = int(v.road_order[-1])
    streak = longest = 0
    while m.running:
        m.step()
        A = m.attackers.counts()
        inside = A[~v.is_outside].sum()
        aim = m.attacker_command.objective()
        idle = inside > 0 and A[head] > 0.3 * inside and aim is not None and aim != head
        streak = streak + 1 if idle else 0
        longest = max(longest, streak)
    return longest


@pytest.mark.slow
def test_no_main_body_sits_in_a_dead_end_for_weeks():
    """The 1984 episode (a calibration episode), 10 seeds: without the main effort the attackers' main body
    parks at the valley's head for weeks in some runs (the check can fail); with it, in none."""
    seeds = range(10)
    off = [longest_idle_at_the_head(ValleyModel("history/panjshir-1984", rng=s)) for s in seeds]
    on = [longest_idle_at_the_head(ValleyModel("history/panjshir-1984", rng=s, switches__main_effort=True))
          for s in seeds]
    assert max(off) > 14
    assert max(on) <= 14, on
    assert np.mean(on) < np.mean(off)
