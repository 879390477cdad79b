"""Decisions with a purpose: no shuttling back and forth, and economy of force (issue 16, item 4)."""

import pytest
from redoubt import ValleyModel
from redoubt.core.forces import Force

REASONS = {"pause", "fall back", "counterattack", "reoccupy", "infiltrate"}  # logged decisions to move


def moves_of(model_kwargs, monkeypatch):
    moves = []
    send = Force.send

    def recording(self, src, n, dst, days, state, day, rng):
        sent = send(self, src, n, dst, days, state, day, rng)
        if sent:
            moves.append((day, self.side, src, dst, sent))
        return sent

    monkeypatch.setattr(Force, "send", recording)
    m = ValleyModel(**model_kwargs)
    m.run()
    return m, moves


@pytest.mark.slow
@pytest.mark.parametrize("kw", [dict(rng=1), dict(rng=2, variant="air+passes"), dict(rng=3, variant="passes"),
                                dict(rng=4, defender_strength=9000), dict(rng=5, attacker_committed=20000)])
def test_no_move_is_reversed_the_next_day_without_a_logged_reason(kw, monkeypatch):
    m, moves = moves_of(kw, monkeypatch)
    assert {side for _, side, *_ in moves} == {"attacker", "defender"}  # moves were recorded: the check has a subject
    names = m.valley.names
    logged = {(e.day, e.place) for e in m.events if e.what in REASONS}
    # a place the enemy counterattacked or reoccupied yesterday is a reason to go back to it today
    retaken = {(e.day + 1, e.to) for e in m.events if e.what in ("counterattack", "reoccupy")}
    # fighters coming back from the mountains (regroup, switch evasion) change the map: the main effort re-plans
    came_back = {e.day + 1 for e in m.events if e.what == "regroup"}
    for day, side, src, dst, _ in moves:
        back = [mv for mv in moves if mv[0] == day + 1 and mv[1] == side and mv[2] == dst and mv[3] == src]
        if back:
            assert (day + 1, names[dst]) in logged or (day + 1, names[src]) in retaken or day + 1 in came_back, (
                f"{side}: {names[src]} -> {names[dst]} on day {day}, back the next day, no reason logged")


def test_an_attack_takes_what_it_needs_not_everyone(panjshir):
    """A pocket of defenders gets a detachment sized for commit_odds; the rest keep to the road."""
    m = panjshir
    att = m.attackers
    D = m.defenders.counts()
    pocket = m.valley.by_id(13)  # Shutul valley, a dead-end side valley
    D[pocket] = 300
    need = m.attacker_command.needed(pocket, D)
    from redoubt.core.combat import local_odds

    odds = local_odds(need, 300, att.lethality, m.defenders.lethality, 0.0, m.valley.cover[pocket])
    assert att.p.commit_odds <= odds < att.p.commit_odds * 1.05
    assert need < 12000 // 2  # a fraction of the attacking force, not all of it


def test_needed_at_the_edges(panjshir):
    m = panjshir
    att, D = m.attackers, m.defenders.counts()
    empty = next(i for i in range(m.valley.n) if D[i] == 0)
    assert m.attacker_command.needed(empty, D) == 0
    held = next(i for i in range(m.valley.n) if D[i] > 0)
    m.defenders.lethality = 0.0
    assert m.attacker_command.needed(held, D) == 1  # they cannot fire back
    m.defenders.lethality, att.lethality = 0.2, 0.0
    assert m.attacker_command.needed(held, D) >= 10**9  # no number of unarmed attackers is enough
    att.lethality = 5e-324  # all but unarmed: the ratio overflows to infinity (found by hypothesis)
    assert m.attacker_command.needed(held, D) >= 10**9
