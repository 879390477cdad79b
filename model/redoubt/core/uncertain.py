"""A run's draws of its scenario's uncertain inputs (`[uncertain]`, read and checked by inputs/uncertain.py).

Each run draws, from streams of its own seed: one weighted parameter set (`parameters`, e.g. the calibration's
posterior), then each ranged input uniformly. Each has its own stream (`Streams.of_input`), so the draws do not
depend on which others there are, and every variant of a comparison run from one seed draws the same values:
the comparison stays paired when what is uncertain is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from .streams import Streams

PARAMETER_SETS = "[uncertain] parameters"  # the name of the stream that picks a parameter set


def draw(uncertain: dict, streams: Streams, fixed: Collection[str],
         read_sets: Callable[[str], list[tuple[float, dict]]], is_integer: Callable[[str], bool]) -> dict:
    """{dotted key: value} for this run; keys in `fixed` (the run's own overrides) keep their given values.
    `read_sets(path)`: a parameters file's weighted sets; `is_integer(key)`: the key takes whole numbers."""
    drawn: dict = {}
    if uncertain.get("parameters"):
        sets = read_sets(uncertain["parameters"])
        cum = np.cumsum([w for w, _ in sets])
        u = streams.of_input(PARAMETER_SETS).random()
        drawn.update(sets[int(np.searchsorted(cum, u * cum[-1], side="right"))][1])
    for key, (lo, hi) in sorted(uncertain.get("inputs", {}).items()):
        x = streams.of_input(key).uniform(lo, hi)
        drawn[key] = int(min(max(round(x), np.ceil(lo)), np.floor(hi))) if is_integer(key) else float(x)
    return {k: v for k, v in drawn.items() if k not in fixed}
