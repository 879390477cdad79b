"""The day's shared state: what the model's phases have found so far today, handed explicitly to the processes
and the commanders that act on it, rather than read back through the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .space import Valley

if TYPE_CHECKING:
    from .agents import Weather


class Situation(NamedTuple):  # a named tuple: made several times a day, five times quicker than a frozen dataclass
    day: int  # days since the start
    valley: Valley  # the ground, and who holds what (`valley.control`)
    weather: Weather  # today's Weather agent: temperature, slowdown, grounded, pass_open_on_foot
    contested: np.ndarray  # places fought over today (bool per place)
    strength_before_fight: dict[str, np.ndarray]  # per side, fighters exposed to today's fight at each place
    encircled: np.ndarray  # defended places cut off from every depot and pass (found at the end of yesterday)
    outflanked: dict[str, np.ndarray]  # per side, places with the enemy alone on a place behind
    log: Callable[..., None]  # the run's event log: log(what, side, place, to=None, fighters=0, note="")

    def passable(self, loc: int, link: dict | None) -> bool:
        """Can fighters move into `loc` over `link` today (paths and passes close in snow)?"""
        if link is not None and not link.get("open", True):
            return False
        return not (self.valley.is_pass[loc] and self.weather.pass_open_on_foot(loc) <= 0.0)
