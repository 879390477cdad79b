"""The combat kernel in its limiting settings against the classical laws (closed forms in
model/redoubt/studies/validation.py).

Mean of R replicated stochastic runs (and the kernel's mean-field mode) versus the exact solution:
- square law   dA/dt = -b*B, dB/dt = -a*A:   A(t) = A0 cosh(kt) - B0 sqrt(b/a) sinh(kt), k = sqrt(ab)
- linear law   dA/dt = -b*A*B, dB/dt = -a*A*B, C = a*A - b*B:  1/B(t) = (1/B0 + b/C) e^{Ct} - b/C
- guerrilla    dG/dt = -c*X*G (area fire on G in cover), dX/dt = -g*G (aimed): c(X0^2-X^2) = 2g(G0-G)
- frontage     both sides above frontage k: losses per day a*k and b*k, exchange ratio a/b
Tolerance: mean trajectories within 1.5% of the initial strength; invariants within 2% of their scale.
"""

import numpy as np
import pytest
from redoubt.core.combat import engage
from redoubt.studies.validation import guerrilla, kernel_path, linear, replicate, square

R = 2000  # replicates, vectorised as 2000 engagements in one call
DAYS = 8
SUBSTEPS = 100


def simulate(a0, b0, stochastic=True, **kw):
    rng = np.random.default_rng(12345) if stochastic else None
    return kernel_path(a0, b0, days=DAYS, substeps=SUBSTEPS, rng=rng, replicates=R, **kw)


T = np.arange(DAYS + 1, dtype=float)


@pytest.mark.parametrize("a0,b0,a,b", [(1000, 800, 0.05, 0.04), (600, 900, 0.08, 0.03), (2000, 1500, 0.02, 0.03)])
def test_square_law(a0, b0, a, b):
    exact = np.array(square(a0, b0, a, b, T)).T
    for stochastic in (True, False):
        path = simulate(a0, b0, stochastic, att_leth=a, dfd_leth=b)
        assert np.max(np.abs(path - exact)) < 0.015 * max(a0, b0)
        inv = a * path[:, 0] ** 2 - b * path[:, 1] ** 2
        assert np.max(np.abs(inv - inv[0])) < 0.02 * max(a * a0**2, b * b0**2)


@pytest.mark.parametrize("a0,b0,a,b", [(1000, 800, 5e-5, 4e-5), (500, 1200, 1e-4, 2e-5), (1500, 1500, 3e-5, 4e-5)])
def test_linear_law(a0, b0, a, b):
    exact = np.array(linear(a0, b0, a, b, T)).T
    for stochastic in (True, False):
        path = simulate(a0, b0, stochastic, att_leth=a, dfd_leth=b, att_area=True, dfd_area=True)
        assert np.max(np.abs(path - exact)) < 0.015 * max(a0, b0)
        inv = a * path[:, 0] - b * path[:, 1]
        assert np.max(np.abs(inv - inv[0])) < 0.02 * max(a * a0, b * b0)


@pytest.mark.parametrize("x0,g0,leth_x,g,cover", [(1000, 300, 2e-4, 0.1, 0.5), (2000, 500, 1e-4, 0.05, 0.3),
                                                   (800, 400, 3e-4, 0.08, 0.6)])
def test_guerrilla_law(x0, g0, leth_x, g, cover):
    c = leth_x * (1 - cover)
    exact = np.array(guerrilla(x0, g0, leth_x, g, cover, T)).T
    for stochastic in (True, False):
        path = simulate(x0, g0, stochastic, att_leth=leth_x, dfd_leth=g, att_area=True, dfd_area=False,
                        dfd_cover=cover)
        assert np.max(np.abs(path - exact)) < 0.015 * max(x0, g0)
        lhs = c * (x0**2 - path[:, 0] ** 2)
        rhs = 2 * g * (g0 - path[:, 1])
        assert np.max(np.abs(lhs - rhs)) < 0.02 * c * x0**2


@pytest.mark.parametrize("a0,b0,k,a,b", [(2000, 1500, 50, 0.3, 0.2), (5000, 800, 30, 0.2, 0.4),
                                          (900, 3000, 100, 0.1, 0.1)])
def test_frontage_law(a0, b0, k, a, b):
    for stochastic in (True, False):
        path = simulate(a0, b0, stochastic, att_leth=a, dfd_leth=b, att_frontage=k, dfd_frontage=k)
        daily_a, daily_b = -np.diff(path[:, 0]), -np.diff(path[:, 1])
        # constant losses per day, whatever the numbers (while both sides exceed the frontage)
        assert np.allclose(daily_a, b * k, rtol=0.03)
        assert np.allclose(daily_b, a * k, rtol=0.03)
        assert abs(daily_b.sum() / daily_a.sum() - a / b) < 0.03 * a / b


def test_no_ammunition_no_fire():
    res = engage(np.array([100.0]), np.array([100.0]), att_leth=0.1, dfd_leth=0.1, att_ammo=0.0,
                 att_ammo_rate=5.0, dfd_ammo=1e9, dfd_ammo_rate=5.0, rng=None)
    assert res.dfd_loss[0] == 0 and res.att_ammo_used[0] == 0
    assert res.att_loss[0] > 0


def test_ammunition_limits_fire():
    # 100 fighters would fire 500 kg in a day; with 100 kg they fire a fifth as much.
    full = engage(np.array([100.0]), np.array([1e6]), att_leth=0.1, dfd_leth=0.0, rng=None)
    short = engage(np.array([100.0]), np.array([1e6]), att_leth=0.1, dfd_leth=0.0, att_ammo=100.0,
                   att_ammo_rate=5.0, rng=None, substeps=1)
    assert short.att_ammo_used[0] == pytest.approx(100.0)
    assert short.dfd_loss[0] == pytest.approx(full.dfd_loss[0] / 5)


def test_cover_protects():
    open_ = engage(np.array([1000.0]), np.array([1000.0]), att_leth=0.1, dfd_leth=0.1, rng=None)
    covered = engage(np.array([1000.0]), np.array([1000.0]), att_leth=0.1, dfd_leth=0.1, dfd_cover=0.6, rng=None)
    assert covered.dfd_loss[0] == pytest.approx(open_.dfd_loss[0] * 0.4, rel=0.02)


@pytest.mark.parametrize("name", ["square-law", "linear-law", "guerrilla-law", "frontage-law", "reinforcement"])
def test_validation_scenarios_through_the_model(name):
    """The shipped limiting-case scenarios, run by the full model, follow their law on average, day by day
    (reinforcement: waves at t = 3, first fighting on day 4, and t = 5.5, halfway through day 6)."""
    t, paths, exact = replicate(name, runs=12)
    mean = paths.mean(axis=0)
    assert np.max(np.abs(mean - exact)) < 0.02 * max(mean[0])


def test_small_forces_depart_from_the_mean_field_as_documented():
    """docs/ODD.md (Combat, small forces): about 13% at 10, 5% at 50, 3% at 100, under 1% from 400."""
    from redoubt.studies.validation import departure_by_size

    gaps = dict(departure_by_size(sizes=(10, 50, 100, 400, 1600), replicates=4000))
    assert gaps[10] > gaps[50] > gaps[100] > gaps[400] > gaps[1600]
    assert 0.08 < gaps[10] < 0.2 and 0.03 < gaps[50] < 0.08 and 0.015 < gaps[100] < 0.05
    assert gaps[400] < 0.012 and gaps[1600] < 0.005


def test_arrival_timing_matters_as_stated():
    """A wave at t = 3 and one at t = 4 differ (they did not before: a wave fought on its own day), and a
    wave part-way through a day fights only the rest of it."""
    from redoubt.core.model import ValleyModel

    def attackers_on(day, waves):
        m = ValleyModel("validation/reinforcement", rng=0, overrides={"sides.attacker.waves": waves})
        for _ in range(day):
            m.step()
        return m.daily()["attackers_active"].tolist()

    early, late = attackers_on(6, [[3, 400]]), attackers_on(6, [[4, 400]])
    assert early[3] == late[3]  # at the end of day 3 neither wave is there (same seed, same fight)
    assert early[4] > late[4] + 300  # the t = 3 wave fought day 4; the t = 4 one arrives when day 4 ends
    assert late[5] > late[4] + 300
    _, paths, exact = replicate("reinforcement", runs=12)
    assert abs(paths.mean(axis=0)[6, 0] - exact[6, 0]) < 0.02 * exact[0, 0]


def test_the_kernel_in_plain_floats_is_the_kernel_bit_for_bit():
    """engage_each (the model's path: a few places a day, in plain floats) gives engage's results exactly, and
    leaves the generator in the same state, over varied engagements: frontage, ammunition (none, some, without
    limit), area and aimed fire, cover, sub-steps."""
    from redoubt.core.combat import engage, engage_each

    g = np.random.default_rng(0)
    for trial in range(300):
        k = int(g.integers(1, 5))
        kw = dict(att_leth=float(g.uniform(0, 0.5)), dfd_leth=float(g.uniform(0, 0.5)),
                  att_area=bool(g.random() < 0.3), dfd_area=bool(g.random() < 0.3),
                  att_cover=g.uniform(0, 0.9, k) * (g.random(k) < 0.5), dfd_cover=g.uniform(0, 0.9, k),
                  att_frontage=g.integers(10, 300, k).astype(float), dfd_frontage=g.integers(10, 300, k).astype(float),
                  att_ammo=np.where(g.random(k) < 0.2, np.inf, g.uniform(0, 5000, k)),
                  dfd_ammo=np.where(g.random(k) < 0.2, 0.0, g.uniform(0, 5000, k)),
                  att_ammo_rate=float(g.choice([0.0, 8.0])), dfd_ammo_rate=float(g.choice([0.0, 8.0])),
                  dt=float(g.choice([1.0, 0.5, 0.25])), substeps=int(g.integers(1, 6)))
        if trial % 2:  # supporting fire on some sides and places
            kw.update(att_support=g.uniform(0, 20, k) * (g.random(k) < 0.7), dfd_support=g.uniform(0, 5, k),
                      att_support_leth=float(g.uniform(0, 0.01)), dfd_support_leth=float(g.uniform(0, 0.01)),
                      att_support_rate=float(g.choice([0.0, 40.0])), dfd_support_rate=float(g.choice([0.0, 40.0])))
        att, dfd = g.integers(0, 3000, k), g.integers(0, 1500, k)
        r1, r2 = np.random.default_rng(trial), np.random.default_rng(trial)
        vec, each = engage(att, dfd, rng=r1, **kw), engage_each(att, dfd, rng=r2, **kw)
        for name in ("att_loss", "dfd_loss", "att_ammo_used", "dfd_ammo_used"):
            np.testing.assert_array_equal(getattr(vec, name), getattr(each, name), err_msg=f"{trial} {name}")
        assert r1.random() == r2.random()


def test_supporting_fire_alone_follows_its_closed_form():
    """Supporting fire only (no small arms): the mean-field kernel is Y0 (1 - mu h)^n exactly, mu = leth x weapons x
    (1 - cover), and tends to Y0 exp(-mu t) as h -> 0; the stochastic mean over 2,000 replications is within
    its interval of it; ammunition limits it (weapons firing = ammunition left / (rate x h))."""
    from redoubt.core.combat import engage

    y0, leth, weapons, cover, t = 800.0, 0.004, 12.0, 0.4, 5.0
    mu = leth * weapons * (1 - cover)
    for substeps in (5, 50, 500):
        h = t / substeps
        mean = engage(0.0, y0, att_leth=0.0, dfd_leth=0.0, dfd_cover=cover, att_support=weapons,
                      att_support_leth=leth, dt=t, substeps=substeps, rng=None)
        assert float(mean.dfd_loss) == pytest.approx(y0 * (1 - (1 - mu * h) ** substeps), rel=1e-12)
    assert float(mean.dfd_loss) == pytest.approx(y0 * (1 - np.exp(-mu * t)), rel=1e-3)
    rng = np.random.default_rng(1)
    lost = engage(np.zeros(2000), np.full(2000, y0), att_leth=0.0, dfd_leth=0.0, dfd_cover=cover, att_support=weapons,
                  att_support_leth=leth, dt=t, substeps=50, rng=rng).dfd_loss
    expected = y0 * (1 - (1 - mu * t / 50) ** 50)
    assert abs(lost.mean() - expected) < 4 * lost.std() / np.sqrt(len(lost))
    # with 100 kg and 40 kg a weapon-day, at most 2.5 weapon-days of fire: fewer losses, all the ammunition used
    short = engage(0.0, y0, att_leth=0.0, dfd_leth=0.0, dfd_cover=cover, att_support=weapons, att_support_leth=leth,
                   att_ammo=100.0, att_support_rate=40.0, dt=t, substeps=50, rng=None)
    assert float(short.att_ammo_used) == pytest.approx(100.0) and float(short.dfd_loss) < float(mean.dfd_loss)
