"""Small statistics for run outcomes: Wilson intervals and Kaplan-Meier survival with Greenwood bands."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """Proportion and its Wilson score interval."""
    if n == 0:
        return math.nan, math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return p, lo, hi


def kaplan_meier(durations, events, z: float = Z95):
    """Survival S(t) at each distinct event time, with pointwise 95% bands (Greenwood, log-log scale).

    durations: days to collapse (event) or to censoring (held to winter, horizon); events: bool.
    Returns arrays (t, S, lo, hi) starting at t=0, S=1.
    """
    d = np.asarray(durations, float)
    e = np.asarray(events, bool)
    times = np.unique(d[e])
    t_out, s_out, lo_out, hi_out = [0.0], [1.0], [1.0], [1.0]
    s, var_sum = 1.0, 0.0
    for t in times:
        at_risk = np.sum(d >= t)
        deaths = np.sum((d == t) & e)
        if at_risk == 0:
            continue
        s *= 1 - deaths / at_risk
        if at_risk > deaths:
            var_sum += deaths / (at_risk * (at_risk - deaths))
        if 0 < s < 1 and var_sum > 0:
            se = math.sqrt(var_sum) / abs(math.log(s))
            lo, hi = s ** math.exp(z * se), s ** math.exp(-z * se)
        else:
            lo = hi = s
        t_out.append(float(t))
        s_out.append(s)
        lo_out.append(lo)
        hi_out.append(hi)
    return np.array(t_out), np.array(s_out), np.array(lo_out), np.array(hi_out)
