"""The calibration's method on data whose answer is known (issue 22, item 4): a parameter that shapes the pattern
is learnt (its posterior narrows around the truth), one that does not stays as wide as its prior, and known
values are recovered. Synthetic outcome tables stand in for the sweeps, so this runs in a second."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from redoubt.studies import calibrate

EPISODES = ("panjshir-1982", "panjshir-1984")


def synthetic(n_points=300, reps=20, seed=1):
    """A design over x (which sets the day the floor falls: 30x, with noise) and y (which does nothing)."""
    rng = np.random.default_rng(seed)
    design = pd.DataFrame({"point": np.arange(n_points), "point_key": np.arange(n_points) * 7 + 3,
                           "x": rng.uniform(0, 1, n_points), "y": rng.uniform(0, 1, n_points)})
    results = {}
    for e, episode in enumerate(EPISODES):
        rows = []
        for _, pt in design.iterrows():
            for r in range(reps):
                day = max(1.0, round(30 * pt["x"] + rng.normal(0, 2)))
                rows.append({"point_key": int(pt["point_key"]), "replication": r, "status": "ok",
                             "run_on_floor_lost_day": day if day <= 25 else np.nan,
                             "run_on_resistance_ended_day": np.nan if rng.random() < 0.9 else 40.0, "drawn": "{}"})
        results[episode] = {"design": design, "outcomes": pd.DataFrame(rows), "series": None}
    return design, results


def config():
    pattern = lambda episode, kind, **kw: {"episode": episode, "pattern": kind, "use": "calibrate",  # noqa: E731
                                           "recorded": dt.date(2026, 11, 27), "source": "synthetic", "day": 0, **kw}
    patterns = [pattern(e, "floor_lost_day", within=[10.0, 14.0]) for e in EPISODES]
    patterns += [pattern(e, "resistance_survives", observed=True) for e in EPISODES]
    return {"episodes": list(EPISODES), "patterns": patterns, "priors": {"x": [0.0, 1.0], "y": [0.0, 1.0]},
            "recovery_truths": 12, "seed": 1, "replications": 20, "fighters_per_agent": 20,
            "_source": "synthetic"}


def test_a_parameter_that_shapes_the_history_is_learnt_and_one_that_does_not_is_left_alone():
    design, results = synthetic()
    fit = calibrate.fit_posterior(config(), results)
    par = fit["parameters"].set_index("parameter")
    # the floor falls on day 10-14 when 30x is about 12: x near 0.4
    assert par.loc["x", "posterior_q05"] < 0.4 < par.loc["x", "posterior_q95"]
    assert par.loc["x", "shrinkage"] < 0.3
    assert 0.7 < par.loc["y", "shrinkage"] < 1.2
    assert fit["ess"] > 10
    hind = fit["hindcast"]
    joint = hind[hind["pattern"] == "all of them in the same run"].set_index(["episode", "sets"])["p_as_observed"]
    assert (joint.xs("posterior", level="sets") > 2 * joint.xs("prior", level="sets")).all()
    loo = fit["loo"].set_index("episode")
    assert (loo["posterior_without_it"] > 2 * loo["prior"]).all()  # each episode predicted better from the other


def test_known_parameters_are_recovered():
    design, results = synthetic()
    runs = {e: calibrate.episode_runs(r["outcomes"], None, [p for p in config()["patterns"] if p["episode"] == e])
            for e, r in results.items()}
    rec = calibrate.recovery(config(), design, runs)
    x = rec[rec["parameter"] == "x"]
    assert len(x) == 12
    assert x["inside90"].mean() >= 0.75
    assert x["shrinkage"].median() < 0.5
    y = rec[rec["parameter"] == "y"]
    assert y["shrinkage"].median() > 0.6  # nothing to learn about y: its interval stays wide


def test_weighted_quantiles_and_effective_size():
    v = np.array([3.0, 1.0, 2.0, 4.0])
    assert list(calibrate.weighted_quantiles(v, np.ones(4), (0.25, 0.5, 1.0))) == [1.0, 2.0, 4.0]
    assert list(calibrate.weighted_quantiles(v, [0, 0, 1, 0], (0.05, 0.95))) == [2.0, 2.0]
    assert calibrate.ess(np.ones(10)) == pytest.approx(10)
    assert calibrate.ess([1, 0, 0]) == pytest.approx(1)
