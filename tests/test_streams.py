"""Each stochastic process draws from its own stream (model/redoubt/core/streams.py), so variants run from one seed are
paired: switching outside resupply on changes only what resupply touches."""

import hashlib

import numpy as np
import pytest
from redoubt import ValleyModel
from redoubt.core.streams import NAMES, Streams

# Resupply switched on and operating, carrying nothing: sorties are drawn for, flown, lost and grounded as
# usual; porters walk over the pass as usual; nobody delivers a kilogram.
EMPTY_RESUPPLY = {"resupply.air.payload_t": 0.0, "resupply.passes.t_per_day": 0.0}


def _fingerprint(m: ValleyModel, outcome: dict) -> str:
    """Everything of a run but the resupply accounts and the variant's name."""
    daily = m.daily()
    daily = daily[[c for c in daily.columns if not c.startswith("resupply")]]
    fields = sorted((k, repr(v)) for k, v in outcome.items() if not k.startswith("resupply") and k != "variant")
    return hashlib.sha256((repr(fields) + daily.to_csv(float_format="%.17g") + repr(m.events)).encode()).hexdigest()


@pytest.mark.slow
def test_resupply_that_carries_nothing_changes_nothing():
    """20 of 20 runs identical day by day to the run without resupply (0 of 20 when all processes shared
    one generator)."""
    sorties = 0
    for seed in range(20):
        none = ValleyModel(variant="none", rng=seed)
        empty = ValleyModel(variant="air+passes", rng=seed, overrides=EMPTY_RESUPPLY)
        assert _fingerprint(none, none.run()) == _fingerprint(empty, empty.run()), seed
        sorties += sum(s.fleet < s.p.helicopters for s in empty.sources if s.kind == "air")
    assert sorties > 0  # the empty fleet did fly, and lost helicopters on the way: the draws were made


def test_resupply_that_carries_something_changes_the_run():
    """The other side of the test above: the same check can fail."""
    differ = 0
    for seed in range(5):
        none = ValleyModel(variant="none", rng=seed)
        air = ValleyModel(variant="air+passes", rng=seed)
        differ += _fingerprint(none, none.run()) != _fingerprint(air, air.run())
    assert differ >= 4  # one seed may end before the first delivery makes a difference


def test_streams_are_fixed_by_the_seed_and_distinct():
    a, b = Streams.of(np.random.default_rng(7), seeded=True), Streams.of(np.random.default_rng(7), seeded=True)
    first = {n: getattr(a, n).random() for n in NAMES}
    assert first == {n: getattr(b, n).random() for n in NAMES}
    assert len(set(first.values())) == len(NAMES)  # no two processes share a stream
    c = Streams.of(np.random.default_rng(8), seeded=True)
    assert first["combat"] != c.combat.random()


def test_a_generator_handed_in_gives_each_run_its_own_streams():
    """A Generator shared by several models (not a seed) seeds each model's streams with a draw of it."""
    g = np.random.default_rng(3)
    one, two = ValleyModel(rng=g), ValleyModel(rng=g)
    assert one.streams.weather.random() != two.streams.weather.random()
    assert ValleyModel(rng=3).run() == ValleyModel(rng=3).run()


@pytest.mark.parametrize("process", ["cohesion", "pacts", "overstretch", "dispersal"])
def test_a_process_switched_off_leaves_the_weather_alone(process):
    """The weather's draws do not depend on which other processes are on (the onset of winter, the first
    snow and the daily snow series up to the end of the shorter run)."""
    on = ValleyModel(rng=11)
    off = ValleyModel(rng=11, **{f"switches__{process}": False})
    assert on.weather.winter_doy == off.weather.winter_doy
    on.run(), off.run()
    d_on, d_off = on.daily(), off.daily()
    n = min(len(d_on), len(d_off))
    for col in ("snow_ref_cm", "temperature_c"):
        assert np.array_equal(d_on[col].to_numpy()[:n], d_off[col].to_numpy()[:n]), col
