"""Statistics of run outcomes: Wilson intervals for P(hold to winter) (scipy), Kaplan-Meier survival (scipy's
`ecdf`) and the Aalen-Johansen cumulative incidence of competing end points (the valley falls; winter comes)."""

from __future__ import annotations

import math
import warnings

import numpy as np


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Proportion and its Wilson score interval (nan for no runs); the closed form, as scipy's binomtest gives it."""
    if n == 0:
        return math.nan, math.nan, math.nan
    from scipy.special import ndtri  # scipy.stats.norm.ppf's own function; importing scipy.stats costs 0.5 s

    z = float(ndtri(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return p, max(0.0, centre - half), min(1.0, centre + half)


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


# ---------------------------------------------------------------- paired comparisons ----------------------
def paired_counts(base, other) -> tuple[int, int, int, int]:
    """(both, only other, only base, neither) over paired boolean outcomes (run r of each variant)."""
    b, o = np.asarray(base, bool), np.asarray(other, bool)
    if b.shape != o.shape:
        raise ValueError("paired outcomes need one value per pair in each variant")
    return int(np.sum(b & o)), int(np.sum(o & ~b)), int(np.sum(b & ~o)), int(np.sum(~b & ~o))


def newcombe_paired(both: int, only_other: int, only_base: int, neither: int,
                    confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of two paired proportions, P(other) - P(base), with Newcombe's hybrid score interval
    (Newcombe 1998, Statistics in Medicine 17:2635, method 10: Wilson intervals of each proportion combined
    with the correlation of the pairs; no continuity correction). Returns (difference, low, high)."""
    n = both + only_other + only_base + neither
    if n == 0:
        return math.nan, math.nan, math.nan
    p_other, p_base = (both + only_other) / n, (both + only_base) / n
    _, l1, u1 = wilson(both + only_other, n, confidence)
    _, l2, u2 = wilson(both + only_base, n, confidence)
    margins = (both + only_other) * (only_base + neither) * (both + only_base) * (only_other + neither)
    phi = 0.0 if margins == 0 else (both * neither - only_other * only_base) / math.sqrt(margins)
    d = p_other - p_base
    lo = d - math.sqrt(max(0.0, (p_other - l1) ** 2 - 2 * phi * (p_other - l1) * (u2 - p_base) + (u2 - p_base) ** 2))
    hi = d + math.sqrt(max(0.0, (u1 - p_other) ** 2 - 2 * phi * (u1 - p_other) * (p_base - l2) + (p_base - l2) ** 2))
    return d, max(-1.0, lo), min(1.0, hi)


def mcnemar_exact(only_other: int, only_base: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2."""
    k = only_other + only_base
    if k == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(only_other, k, 0.5).pvalue)


def pairs_needed(only_other: int, only_base: int, n: int, power: float = 0.8, alpha: float = 0.05) -> float:
    """Pairs a McNemar test needs to tell the observed difference from none (two-sided alpha, given power),
    from the observed discordance (Connor 1987, Biometrics 43:207). inf when the runs show no difference."""
    if n == 0:
        return math.nan
    delta, psi = abs(only_other - only_base) / n, (only_other + only_base) / n
    if delta == 0:
        return math.inf
    from scipy.special import ndtri  # norm.ppf

    za, zb = ndtri(1 - alpha / 2), ndtri(power)
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(max(psi - delta**2, 0.0))) ** 2 / delta**2)


def paired_median_difference(base, other, seed: int = 0, resamples: int = 4000,
                             confidence: float = 0.95) -> tuple[float, float, float]:
    """median(other) - median(base) over paired values, with a percentile interval from a paired bootstrap
    (pairs resampled together, so what the variants share cancels). Seeded: the same runs give the same
    interval."""
    b, o = np.asarray(base, float), np.asarray(other, float)
    if b.shape != o.shape:
        raise ValueError("paired values need one value per pair in each variant")
    n = len(b)
    if n == 0:
        return math.nan, math.nan, math.nan
    d = float(np.median(o) - np.median(b))
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    boot = np.median(o[idx], axis=1) - np.median(b[idx], axis=1)
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    return d, float(lo), float(hi)


def sign_flip_p(differences, seed: int = 0, resamples: int = 20000) -> float:
    """Two-sided p-value that paired differences are centred on zero, by flipping their signs (a randomisation
    test: Fisher 1935; Good 2005, ch. 3): every flip when there are at most 16, else `resamples` seeded ones,
    counted with the observed (p = (1 + hits) / (1 + resamples)). For differences that are not independent run
    by run but are by cluster (the draws' mean differences when runs share draws)."""
    d = np.asarray(differences, float)
    observed = abs(d.mean()) if len(d) else 0.0
    if observed == 0:
        return 1.0
    tol = 1e-12 * max(1.0, observed)
    if len(d) <= 16:
        signs = 1 - 2 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)
        return float(np.mean(np.abs((signs * d).mean(axis=1)) >= observed - tol))
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(resamples, len(d)))
    hits = int(np.sum(np.abs((signs * d).mean(axis=1)) >= observed - tol))
    return (1 + hits) / (1 + resamples)


def clusters_needed(differences, power: float = 0.8, alpha: float = 0.05) -> float:
    """Independent units (draws) a paired test would need to tell a mean difference of the size seen from none
    (two-sided alpha, given power; normal approximation, sd from the units seen). inf when the mean is zero."""
    d = np.asarray(differences, float)
    if len(d) < 2:
        return math.nan
    if d.mean() == 0:
        return math.inf
    from scipy.special import ndtri  # norm.ppf

    za, zb = ndtri(1 - alpha / 2), ndtri(power)
    return float(max(2, math.ceil(((za + zb) * d.std(ddof=1) / abs(d.mean())) ** 2)))


SPLIT_FIELDS = ("mean", "mean_lo95", "mean_hi95", "draws", "runs_per_draw", "var_parameters", "var_chance",
                "share_parameters", "share_lo90", "share_hi90")  # what variance_split returns


def variance_split(y, groups, seed: int = 0, resamples: int = 2000) -> dict:
    """Where the spread of a per-run outcome comes from, when runs share draws of the uncertain parameters:
    `groups[i]` is run i's draw, every draw shared by the same number k >= 2 of runs (chance differs between
    them). One-way random effects, ANOVA estimator (Searle, Casella & McCulloch 1992, ch. 3): the variance
    between draws s2_draws = max(0, (MSB - MSW) / k), within draws s2_chance = MSW; `share_parameters` =
    s2_draws / (s2_draws + s2_chance), with a 90% bootstrap interval over draws. In a study that draws afresh
    for each run that share is also the share of the estimate's variance (so of its interval) that comes from
    the parameters. `mean` has a 95% interval from the draws' means (runs of one draw are not independent)."""
    y = np.asarray(y, float)
    groups = np.asarray(groups)
    order = np.argsort(groups, kind="stable")
    y, groups = y[order], groups[order]
    _, starts, sizes = np.unique(groups, return_index=True, return_counts=True)
    k = int(sizes.min()) if len(sizes) else 0
    if k < 2 or np.any(sizes != k) or len(sizes) < 2:
        raise ValueError("variance_split needs at least two draws, each shared by the same number (>= 2) of runs")
    table = y.reshape(len(sizes), k)

    def split(t):
        means = t.mean(axis=1)
        msb = k * means.var(ddof=1)
        msw = t.var(axis=1, ddof=1).mean()
        s2_draws = max(0.0, (msb - msw) / k)
        total = s2_draws + msw
        return s2_draws, msw, (s2_draws / total if total > 0 else math.nan)

    s2_draws, s2_chance, share = split(table)
    g = len(table)
    rng = np.random.default_rng(seed)
    boot = np.array([split(table[rng.integers(0, g, g)])[2] for _ in range(resamples)])
    boot = boot[np.isfinite(boot)]
    lo, hi = (np.quantile(boot, [0.05, 0.95]) if len(boot) else (math.nan, math.nan))
    mean = float(table.mean())
    se = float(table.mean(axis=1).std(ddof=1) / math.sqrt(g))
    return {"mean": mean, "mean_lo95": mean - 1.96 * se, "mean_hi95": mean + 1.96 * se, "draws": g,
            "runs_per_draw": k, "var_parameters": s2_draws, "var_chance": s2_chance, "share_parameters": share,
            "share_lo90": float(lo), "share_hi90": float(hi)}
