"""Statistics of run outcomes: Wilson intervals for P(hold to winter) (scipy), Kaplan-Meier survival (scipy's
`ecdf`) and the Aalen-Johansen cumulative incidence of competing end points (the valley falls; winter comes)."""

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


def cumulative_incidence(durations, causes, n_causes: int | None = None):
    """Aalen-Johansen estimate of the cumulative incidence of competing events.

    durations: time of each run's event or censoring; causes: 0 for censored, k = 1..n_causes for the cause
    that ended it. A run ended by one cause can no longer end by another (winter is not censoring: a run that
    held to winter can never fall), so CIF_k(t) = sum over event times u <= t of S(u-) d_k(u) / n(u), with S
    the Kaplan-Meier survival from any cause (scipy's `ecdf`). With no censoring CIF_k(t) is the share of
    runs ended by cause k by time t; CIF_1 + ... + CIF_K + S = 1 at every t.
    Returns (t, cif) with t the distinct event times after a leading 0, cif of shape (n_causes, len(t)).
    """
    from scipy.stats import CensoredData, ecdf

    d = np.asarray(durations, float)
    c = np.asarray(causes, int)
    k = int(n_causes if n_causes is not None else (c.max() if len(c) else 0))
    if len(d) != len(c) or (c < 0).any() or (c > k).any():
        raise ValueError("causes must be 0 (censored) or 1..n_causes, one per duration")
    event = c > 0
    times = np.unique(d[event])
    if not len(times):
        return np.zeros(1), np.zeros((k, 1))
    s_after = ecdf(CensoredData(uncensored=d[event], right=d[~event])).sf.evaluate(times)
    s_before = np.r_[1.0, s_after[:-1]]  # S(u-): S changes only at event times
    at_risk = (d[None, :] >= times[:, None]).sum(axis=1)
    cif = np.zeros((k, len(times) + 1))
    for cause in range(1, k + 1):
        hits = (d[None, :] == times[:, None]) & (c[None, :] == cause)
        cif[cause - 1, 1:] = np.cumsum(s_before * hits.sum(axis=1) / at_risk)
    return np.r_[0.0, times], cif
