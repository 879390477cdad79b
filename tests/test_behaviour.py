"""Behaviour the model must show whatever its uncalibrated assumptions (issue 13, item 6): with supplies
ample, more defenders, better morale, more cover or fewer attackers never make holding to winter less
likely; more stocks never do either; and one fighter per agent gives the distributions of ten. Issue 21,
item 6: a stronger attacker never makes the valley hold longer; twice the attackers take the gorge sooner;
the 1996 pattern (the valley holds) holds with high morale and ample supplies.

Each point is 200 runs on common random numbers (the same seeds at every point), so a comparison is of
paired runs; the tolerance is the 95% interval of the paired difference, not a guess."""

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from redoubt import ValleyModel
from redoubt.inputs.scenario import load
from scipy.stats import ks_2samp

RUNS = 200
AMPLE = {"food_days": 400, "ammo_days": 400}
pytestmark = pytest.mark.slow


def _one(kw: dict) -> tuple[int, float]:
    # held_to_winter and days_held do not depend on following the resistance after the fall: stop there
    out = ValleyModel(collapse__run_on_after_fall=False, **kw).run()
    return int(out["held_to_winter"]), float(out["days_held"])


_POOL: list[ProcessPoolExecutor] = []  # one pool of two workers for the module (set by the fixture below)


@pytest.fixture(scope="module", autouse=True)
def pool():
    # spawn, not fork: the test process has threads (a forked child could deadlock on their locks). One pool
    # for all the module's tests: each new one cost two interpreters importing the model.
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        _POOL.append(executor)
        yield executor
        _POOL.clear()


def on_both_cores(fn, kws: list[dict]) -> np.ndarray:
    return np.array(list(_POOL[0].map(fn, kws, chunksize=10)))


def runs(**params) -> np.ndarray:
    """(held 0/1, days held) for seeds 0..RUNS-1 with these parameters, on both cores."""
    return on_both_cores(_one, [dict(rng=s, **params) for s in range(RUNS)])


@pytest.fixture(scope="module")
def ample(pool):
    return runs(**AMPLE)


def more_cover() -> dict:
    return {f"locations__{i}__cover": min(0.95, loc["cover"] + 0.1) for i, loc in enumerate(load()["locations"])}


def no_worse(better: np.ndarray, base: np.ndarray, column: int = 0) -> tuple[bool, str]:
    """Paired change of a column (0: held, 1: days held) over common seeds: not worse unless the whole 95%
    interval of the change is below zero."""
    diff = better[:, column] - base[:, column]
    hi = diff.mean() + 1.96 * diff.std(ddof=1) / math.sqrt(len(diff))
    return hi >= 0, f"{base[:, column].mean():.3g} -> {better[:, column].mean():.3g} (95% upper end {hi:+.3g})"


@pytest.mark.parametrize("name, change", [
    ("more defenders", {"defender_strength": 7500}),
    ("better defender morale", {"defender_morale": 0.85}),
    ("more cover", "cover"),
    ("fewer attackers", {"attacker_committed": 9000}),
])
def test_with_supplies_ample_a_stronger_defence_never_holds_less_often(ample, name, change):
    better = runs(**AMPLE, **(more_cover() if change == "cover" else change))
    ok, said = no_worse(better, ample)
    assert ok, f"{name}: P(hold) {said}"


def test_more_stocks_never_hold_less_often(ample):
    short = runs(food_days=60, ammo_days=400)  # against ample food (400 days), the same seeds
    for column, what in ((0, "P(hold)"), (1, "days held")):
        ok, said = no_worse(ample, short, column)
        assert ok, f"{what}: {said}"


def test_one_fighter_per_agent_gives_the_distributions_of_ten():
    """On a reduced Panjshir (3,000 defenders, 6,000 attackers, an early winter) that holds in about half the
    runs, so the comparison has teeth; the two resolutions draw differently, so the runs are not paired."""
    case = dict(defender_strength=3000, attacker_committed=6000, food_days=120, winter_doy_mean=300)
    single, ten = runs(**case, fighters_per_agent=1), runs(**case, fighters_per_agent=10)
    p1, p10 = single[:, 0].mean(), ten[:, 0].mean()
    pooled = (p1 + p10) / 2
    assert 0.1 < pooled < 0.9, pooled
    se = math.sqrt(pooled * (1 - pooled) * 2 / RUNS)
    assert abs(p1 - p10) <= 1.96 * se, (p1, p10)
    assert ks_2samp(single[:, 1], ten[:, 1]).pvalue > 0.01


def test_a_stronger_attacker_never_holds_the_valley_longer():
    """Issue 21 (6): with the same defenders, half as many attackers again (18,000 committed, not 12,000) never
    make the valley hold longer, nor more often (paired runs: the same seeds)."""
    base, strong = runs(), runs(attacker_committed=18000)
    for column in (0, 1):
        ok, said = no_worse(base, strong, column)  # the base is not below the stronger attack
        assert ok, said


def _gorge_day(kw: dict) -> float:
    """The day the attacker first holds the gorge (the valley's mouth), or the horizon if never."""
    m = ValleyModel(collapse__run_on_after_fall=False, **kw)
    gorge = m.valley.by_id(1)
    while m.running:
        m.step()
        if m.valley.control[gorge] == -1:
            return float(m.day)
    return float(m.horizon)


def test_doubling_the_attackers_takes_the_chokepoint_sooner():
    """Issue 21 (6): twice the attackers (24,000 committed) behind the gorge take it sooner: the paired change in
    the day it falls has its whole 95% interval below zero."""
    base = on_both_cores(_gorge_day, [dict(rng=s) for s in range(RUNS)])
    double = on_both_cores(_gorge_day, [dict(rng=s, attacker_committed=24000) for s in range(RUNS)])
    diff = double - base
    hi = diff.mean() + 1.96 * diff.std(ddof=1) / math.sqrt(len(diff))
    assert hi < 0, f"gorge taken on day {base.mean():.1f} -> {double.mean():.1f} (95% upper end {hi:+.2f})"


def test_with_high_morale_and_ample_supplies_the_1996_pattern_holds():
    """Issue 21 (6): the 1996 episode (the Taliban's offensive that the valley held), with the defenders' morale
    high (0.9) and supplies ample: the valley holds to winter, the lower end of the 95% interval above 90%."""
    held = runs(scenario_file="history/panjshir-1996", defender_morale=0.9, **AMPLE)[:, 0]
    n, k = len(held), held.sum()
    p = k / n
    lower = (p + 1.92 / n - 1.96 * math.sqrt(p * (1 - p) / n + 0.96 / n**2)) / (1 + 3.84 / n)  # Wilson
    assert lower > 0.9, f"held in {k} of {n} runs"
