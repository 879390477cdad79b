"""One random stream per stochastic process, all derived from the run's seed.

Every process of the model draws from its own numpy Generator, spawned from the run's SeedSequence with a
fixed index per process name. Switching a process on or off (outside resupply, a cohesion process), or
changing how often it draws, then never shifts the draws of any other process: two variants run from the
same seed see the same weather, the same dice in the same fights, the same commanders, until what the
variant changes makes the runs differ. This is what makes a comparison of variants paired (common random
numbers that stay common), and it is tested (tests/test_streams.py).

The indices are part of the model's definition: add a new process at the end of STREAMS, never between
two others, or every run of every scenario changes.
"""

from __future__ import annotations

import numpy as np

from . import fused

# name -> what draws from it (the index is the position)
STREAMS: tuple[tuple[str, str], ...] = (
    ("weather", "the winter's onset and first snow, daily temperature noise, snowfall, cloud"),
    ("combat", "losses in each engagement, and which fighters they are"),
    ("commanders", "each place's commander's nerve, drawn once per side"),
    ("movement", "who moves, infiltration, stores destroyed on a retreat, planned withdrawals"),
    ("morale", "desertion and surrender"),
    ("cohesion", "breaking points, commanders killed, who leaves a breaking place"),
    ("pacts", "pact thresholds, which commanders settle today, who turns, pacts unravelling"),
    ("dispersal", "who goes to ground, who regroups"),
    ("overstretch", "recalls and extra fighters for the attacker"),
    ("resupply", "sorties flown and helicopters lost"),
    ("outside_pacts", "terms offered before contact (the national picture), who turns"),
    ("evasion", "who slips into the mountains when a place is given up"),
)
NAMES = tuple(name for name, _ in STREAMS)


class Streams:
    """The run's generators by process name (`streams.weather`, `streams.combat`, ...)."""

    __slots__ = (*NAMES, "_root", "_boxes")

    weather: np.random.Generator
    combat: np.random.Generator
    commanders: np.random.Generator
    movement: np.random.Generator
    morale: np.random.Generator
    cohesion: np.random.Generator
    pacts: np.random.Generator
    dispersal: np.random.Generator
    overstretch: np.random.Generator
    resupply: np.random.Generator
    outside_pacts: np.random.Generator
    evasion: np.random.Generator

    def __init__(self, root: np.random.SeedSequence):
        self._root = root
        for k, name in enumerate(NAMES):
            child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, k),
                                           pool_size=root.pool_size)
            setattr(self, name, np.random.Generator(np.random.PCG64(child)))
        self._boxes: dict[str, tuple[np.random.Generator, fused.StreamBox]] = {}

    def box(self, name: str) -> fused.StreamBox:
        """The process's stream as the compiled kernels take it (`fused.StreamBox`), made once: drawing through it
        draws from the stream itself."""
        rng = getattr(self, name)
        held = self._boxes.get(name)
        if held is None or held[0] is not rng:  # made afresh if the stream was replaced
            held = self._boxes[name] = (rng, fused.box(rng))
        return held[1]

    def __getstate__(self):  # the boxes do not pickle: a copy makes its own
        return {name: getattr(self, name) for name in (*NAMES, "_root")}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)
        self._boxes = {}

    def of_input(self, key: str) -> np.random.Generator:
        """The stream that draws one uncertain input (`[uncertain]`, keyed by its dotted name): a child of the
        run's seed apart from the processes' (spawn key 2**31 + a digest of the name, never Python's hash()), so
        adding an uncertain input never shifts another input's draw nor any process's."""
        import hashlib

        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
        root = self._root
        child = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, 2**31, digest),
                                       pool_size=root.pool_size)
        return np.random.Generator(np.random.PCG64(child))

    @classmethod
    def of(cls, rng: np.random.Generator, seeded: bool) -> Streams:
        """The streams of a run whose Mesa generator is `rng`. `seeded`: `rng` was made from the run's seed
        (an integer, or None for fresh entropy), so the streams are spawned from that seed's SeedSequence and
        the same seed always gives the same streams. Otherwise (a Generator handed in) one draw of it seeds
        them, so a generator shared by several runs gives each its own."""
        seq = rng.bit_generator.seed_seq if seeded else None
        if not isinstance(seq, np.random.SeedSequence):
            seq = np.random.SeedSequence(int(rng.integers(0, 2**63)))
        return cls(seq)
