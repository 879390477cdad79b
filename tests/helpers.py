"""Small steps of a model's day, done by hand in tests: a move, a day's morale, the commanders' decisions."""

from __future__ import annotations

import numpy as np
from redoubt.core import processes


def send(m, force, src: int, n: int, dst: int, days: float, state: int) -> int:
    """Start n of a side's fighters from src to dst today (the model's movement stream)."""
    return force.send(src, n, dst, days, state, m.day, m.streams.movement)


def today(m, **changes):
    """The model's day as it stands (`m.situation()`), with some of its state replaced."""
    return m.situation()._replace(**changes)


def morale_day(m, force, strength_before: np.ndarray, contested: np.ndarray | None = None,
               civilian_shortfall: float = 0.0) -> None:
    """The side's morale update, as if `strength_before` of its fighters had been exposed to today's fight."""
    before = {**m.strength_before_fight, force.side: strength_before}
    s = today(m, strength_before_fight=before,
              contested=np.zeros(m.valley.n, bool) if contested is None else contested)
    processes.update_morale(force, m.force(force.other_side), s, civilian_shortfall, m.switches, m.streams)


def decide(m, side: str) -> None:
    """One side's commanders decide on today's counts."""
    command = m.attacker_command if side == "attacker" else m.defender_command
    command.decide(m.attackers.counts(), m.defenders.counts(), m.situation())
