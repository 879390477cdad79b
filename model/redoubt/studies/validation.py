"""The combat kernel's limiting cases against the classical laws: closed forms (and one ODE), and the
shipped validation scenarios run by the full model. Used by the tests and by notebooks/04-validation.

- square law   dA/dt = -b*B, dB/dt = -a*A:   A(t) = A0 cosh(kt) - B0 sqrt(b/a) sinh(kt), k = sqrt(ab)
- linear law   dA/dt = -b*A*B, dB/dt = -a*A*B, C = a*A - b*B:  1/B(t) = (1/B0 + b/C) e^{Ct} - b/C
- guerrilla    dG/dt = -c*X*G (area fire on G in cover), dX/dt = -g*G (aimed): c(X0^2-X^2) = 2g(G0-G)
- frontage     both sides above frontage k: losses per day a*k and b*k, exchange ratio a/b
"""

from __future__ import annotations

import numpy as np

LAWS = {"square-law": "square", "linear-law": "linear", "guerrilla-law": "guerrilla", "frontage-law": "frontage",
        "reinforcement": "square"}  # the square law with attacker waves (arrival timing)


def square(a0, b0, a, b, t):
    """Lanchester's square law (both sides aimed fire): (A(t), B(t))."""
    k = np.sqrt(a * b)
    return (a0 * np.cosh(k * t) - b0 * np.sqrt(b / a) * np.sinh(k * t),
            b0 * np.cosh(k * t) - a0 * np.sqrt(a / b) * np.sinh(k * t))


def linear(a0, b0, a, b, t):
    """Lanchester's linear law (both sides area fire): (A(t), B(t))."""
    c = a * a0 - b * b0
    bt = 1.0 / ((1.0 / b0 + b / c) * np.exp(c * t) - b / c)
    return (c + b * bt) / a, bt


def guerrilla(x0, g0, leth_x, g, cover, t):
    """Deitchman's guerrilla law: X fires area fire at G in cover, G fires aimed fire at X: (X(t), G(t))."""
    from scipy.integrate import solve_ivp

    c = leth_x * (1 - cover)
    sol = solve_ivp(lambda _, y: [-g * y[1], -c * y[0] * y[1]], (0, float(t[-1])), [x0, g0], t_eval=t,
                    rtol=1e-10)
    return sol.y[0], sol.y[1]


def square_with_waves(a0, b0, a, b, waves, t):
    """The square law with attacker reinforcements [(time, fighters), ...]: piecewise, each wave added at
    its time. At a wave's own time the value is the one just before it arrives (as the day's record is)."""
    t = np.asarray(t, dtype=float)
    out_a, out_b = np.empty_like(t), np.empty_like(t)
    for i, ti in enumerate(t):
        x, y, now = float(a0), float(b0), 0.0
        for tw, n in sorted(waves):
            if tw >= ti:
                break
            x, y = (float(v) for v in square(x, y, a, b, tw - now))
            x, now = x + n, tw
        out_a[i], out_b[i] = square(x, y, a, b, ti - now)
    return out_a, out_b


def frontage(a0, b0, a, b, k, t):
    """The frontage law (only k engage per side): straight lines, losses a*k and b*k a day."""
    return a0 - b * k * t, b0 - a * k * t


def exact_for(name: str, spec: dict, a0: float, b0: float, t):
    """The law's solution for a validation scenario from its own parameters, from (a0, b0)."""
    sides, loc = spec["sides"], spec["locations"][0]
    a, b = sides["attacker"]["lethality"], sides["defender"]["lethality"]
    law = LAWS[name]
    if law == "square":
        waves = [(w[0], w[1]) for w in sides["attacker"]["waves"] if w[0] > 0]
        return np.array(square_with_waves(a0, b0, a, b, waves, t) if waves else square(a0, b0, a, b, t)).T
    if law == "linear":
        return np.array(linear(a0, b0, a, b, t)).T
    if law == "guerrilla":
        return np.array(guerrilla(a0, b0, a, b, loc["cover"], t)).T
    return np.array(frontage(a0, b0, a, b, loc["frontage"], t)).T


def replicate(name: str, runs: int = 12, fighters_per_agent: int | None = None, seed: int = 0):
    """Run a shipped validation scenario `runs` times with the full model. Returns (t, paths, exact):
    paths[r, day] = (attackers, defenders), exact the law's solution from the mean start."""
    from ..core.model import ValleyModel

    kw = {} if fighters_per_agent is None else {"fighters_per_agent": fighters_per_agent}
    paths, spec = [], None
    for r in range(runs):
        m = ValleyModel(f"validation/{name}", rng=seed + r, **kw)
        m.run()
        spec = m.spec
        paths.append(m.daily()[["attackers_active", "defenders_active"]].to_numpy(float))
    paths = np.array(paths)
    t = np.arange(paths.shape[1], dtype=float)
    a0, b0 = paths[:, 0].mean(axis=0)
    return t, paths, exact_for(name, spec, a0, b0, t)


def departure_by_size(sizes=(10, 25, 50, 100, 200, 400, 800, 1600), *, ratio: float = 0.9, att_leth: float = 0.3,
                      dfd_leth: float = 0.25, days: int = 8, substeps: int = 4, replicates: int = 4000,
                      seed: int = 1):
    """How far the stochastic kernel's mean departs from its mean-field (deterministic) solution as the
    forces shrink: square law, attackers N against ratio·N defenders, fought over `days` to the near
    annihilation of the defenders (the defaults), the model's default sub-steps.
    Returns a list of (N, worst gap of the mean over the days, as a share of N). Small stacks die out
    (a loss is whole fighters; a side at 0 stops firing), which the mean field never does."""
    rng = np.random.default_rng(seed)
    out = []
    for n in sizes:
        b0 = round(ratio * n)
        kw = dict(days=days, substeps=substeps, att_leth=att_leth, dfd_leth=dfd_leth)
        stochastic = kernel_path(n, b0, rng=rng, replicates=replicates, **kw)
        mean_field = kernel_path(n, b0, rng=None, **kw)
        out.append((n, float(np.max(np.abs(stochastic - mean_field)) / n)))
    return out


def kernel_path(a0, b0, *, days: int, substeps: int, rng=None, replicates: int = 1, **engage_kw) -> np.ndarray:
    """The combat kernel alone, day by day: `replicates` engagements of a0 against b0 at once (stochastic
    with a Generator; rng=None is the mean field). Returns the mean (attackers, defenders) per day, from 0."""
    from ..core.combat import engage

    a = np.full(replicates if rng is not None else 1, float(a0))
    d = np.full_like(a, float(b0))
    path = [(a.mean(), d.mean())]
    for _ in range(days):
        res = engage(a, d, dt=1.0, substeps=substeps, rng=rng, **engage_kw)
        a, d = a - res.att_loss, d - res.dfd_loss
        path.append((a.mean(), d.mean()))
    return np.array(path)
