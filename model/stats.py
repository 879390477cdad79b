"""Statistics of run outcomes, from scipy: Wilson intervals for P(hold to winter) and Kaplan-Meier survival."""

from __future__ import annotations

import math
import warnings

import numpy as np


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Proportion and its Wilson score interval (nan for no runs)."""
    if n == 0:
        return math.nan, math.nan, math.nan
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return successes / n, float(ci.low), float(ci.high)


def p_hold(runs) -> dict:
    """P(hold to winter) with its 95% interval over a group of runs (a DataFrame with `status` and
    `held_to_winter`): failed runs are counted apart, not as held or fallen."""
    ok = runs[runs["status"] == "ok"]
    held = int(ok["held_to_winter"].astype(bool).sum())
    p, lo, hi = wilson(held, len(ok))
    return {"runs": len(runs), "failed": int((runs["status"] != "ok").sum()), "held": held,
            "p_hold": p, "p_hold_lo95": lo, "p_hold_hi95": hi}


def kaplan_meier(durations, events, confidence: float = 0.95):
    """Survival S(t) at each distinct event time with pointwise bands (Greenwood, log-log scale).

    durations: days to collapse (event) or to censoring (held to winter, horizon); events: bool.
    Returns arrays (t, S, lo, hi) starting at t=0, S=1.
    """
    from scipy.stats import CensoredData, ecdf

    d = np.asarray(durations, float)
    e = np.asarray(events, bool)
    if not e.any():
        return np.zeros(1), np.ones(1), np.ones(1), np.ones(1)
    sf = ecdf(CensoredData(uncensored=d[e], right=d[~e])).sf
    t = sf.quantiles
    keep = np.isin(t, d[e])  # the event times (censoring times are steps of size zero)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # undefined where S is 0 or 1: we show S there
        ci = sf.confidence_interval(confidence, method="log-log")
    s = sf.probabilities[keep]
    lo, hi = ci.low.probabilities[keep], ci.high.probabilities[keep]
    lo, hi = np.where(np.isfinite(lo), lo, s), np.where(np.isfinite(hi), hi, s)
    return np.r_[0.0, t[keep]], np.r_[1.0, s], np.r_[1.0, lo], np.r_[1.0, hi]
