"""Pure numeric curves for weather and consumption (vectorised, no state, no randomness of their own)."""

from __future__ import annotations

import numpy as np

from . import fused


def seasonal_mean(doy, *, mean, amplitude, peak_doy):
    """The year's cosine: mean daily temperature (deg C) at the temperature's reference elevation by day of
    year. At another elevation, less its `lapse_cooling`."""
    return mean + amplitude * np.cos(2 * np.pi * (np.asarray(doy) - peak_doy) / 365.25)


def lapse_cooling(elevation, *, ref_elevation, lapse_per_km):
    """How much colder (deg C) an elevation is than the reference elevation."""
    return lapse_per_km * (np.asarray(elevation) - ref_elevation) / 1000.0


def snowline(days_since_first_snow, *, autumn, winter, days):
    """Elevation (m) above which snow lies: falls from `autumn` to `winter` over `days` after first snow."""
    t = np.clip(np.asarray(days_since_first_snow, dtype=float) / days, 0.0, 1.0)
    return np.where(np.asarray(days_since_first_snow) < 0, np.inf, autumn + (winter - autumn) * t)


def snow_depth_at(depth_ref, elevation, line, ref_elevation):
    """Snow depth (cm) at an elevation given the depth at the reference elevation and the snowline (none while
    there is no snowline: `line` not finite). A compiled loop (`fused.snow_depth`): the numpy expression cost
    a run's weather a fifth of its time."""
    scalar = np.ndim(elevation) == 0
    depth = fused.snow_depth(float(depth_ref), np.atleast_1d(np.asarray(elevation, dtype=float)), float(line),
                             float(ref_elevation))
    return depth[0] if scalar else depth


def snowfall_probability(days_since_first_snow, *, base, growth):
    """Chance of a snowfall day at the reference elevation: none before the first snow, then rising."""
    d = np.asarray(days_since_first_snow, dtype=float)
    return np.where(d < 0, 0.0, np.clip(base + growth * d, 0.0, 0.9))


def melt(depth, temperature, cm_per_degree):
    """Snow depth after a day's melt at a mean temperature (deg C)."""
    return np.maximum(0.0, depth - cm_per_degree * np.maximum(temperature, 0.0))


def ration(base_kg, temperature, cold_per_degree):
    """Food per fighter-day (kg): more in the cold (per degree below zero)."""
    return base_kg * (1.0 + cold_per_degree * np.maximum(0.0, -np.asarray(temperature, dtype=float)))


def travel_slowdown(snow_cm, slow_per_cm):
    """Multiplier on travel time from snow on the ground."""
    return 1.0 + slow_per_cm * np.asarray(snow_cm, dtype=float)


def share_out(amount, demand):
    """Split `amount` over `demand` (a sequence) proportionally, never more than asked. Returns issued array."""
    return fused.share_out(float(amount), np.asarray(demand, dtype=float))


def threshold_probability(ratio, threshold, spread):
    """Chance that a commander acts on a force ratio: 1/2 at the threshold, rising smoothly with the log of
    ratio / threshold (a logistic of width `spread` in log units; spread 0 is the hard threshold). Spread
    over many commanders, a small change in strength moves the expected decision a little, never a cliff."""
    ratio = np.asarray(ratio, dtype=float)
    if spread <= 0:
        return (ratio > threshold).astype(float)
    from scipy.special import expit

    with np.errstate(divide="ignore"):
        return expit((np.log(ratio) - np.log(threshold)) / spread)


def commander_nerve(rng, threshold, spread, n):
    """The odds at which each of n commanders falls back, drawn once: log-logistic about `threshold`, so
    the share of commanders who have fallen back at given odds is threshold_probability(odds, ...)."""
    noise = rng.logistic(0.0, spread, n) if spread > 0 else np.zeros(n)
    return threshold * np.exp(noise)


# ---------------------------------------------------------------- issue 13's processes ----------------------
def commander_thresholds(rng, threshold, spread, n):
    """A morale threshold for each of n local commanders, drawn once: logistic about `threshold` with
    scale `spread` (morale units), kept within [0, 1]."""
    noise = rng.logistic(0.0, spread, n) if spread > 0 else np.zeros(n)
    return np.clip(threshold + noise, 0.0, 1.0)


def infiltration_probability(density, *, rate, density_ref, visibility_factor=1.0):
    """Chance that one fighter of a free stack slips past a defended place in a day (mostly by night):
    `rate` where the place is all but empty, times `visibility_factor` on a day of cloud or snow, falling as
    exp(-density / density_ref) with the defenders per frontage place there (a thin line leaks, a dense one
    does not)."""
    d = np.asarray(density, dtype=float)
    return np.clip(rate * visibility_factor * np.exp(-d / density_ref), 0.0, 1.0)


def neighbour_pull(mean, weight, adjacency, rate):
    """Contagion of morale: each place's mean moves `rate` of the way towards its neighbours' mean (weighted
    by their fighters). Zero where the place, or all its neighbours, have no one."""
    return fused.pull_towards(mean, weight, fused.neighbour_sums(adjacency, weight),
                              fused.neighbour_sums(adjacency, weight * mean), rate)


def flight_share(shortfall, road_lost, *, rate, hunger, fighting):
    """Share of the civilians who leave the valley in a day (when a way out is open): a calm-time rate, more
    when they go hungry (`shortfall`: share unfed) and as the road is lost (`road_lost`: share held by the
    attacker)."""
    return min(1.0, max(0.0, rate + hunger * shortfall + fighting * road_lost))


def recall_hazard(day, *, base, unrest_per_30_days):
    """Daily chance that demands elsewhere recall part of the attacking force: grows as the campaign drags
    on (pacts elsewhere unravel, other fronts need men)."""
    return float(min(1.0, base * (1.0 + unrest_per_30_days * day / 30.0)))
