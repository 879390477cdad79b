"""The resupply window (model/redoubt/studies/window.py, `redoubt window`): paired effects by start day, a
monotone fit, and a latest start day said only where the interval supports it."""

import numpy as np
import pandas as pd
import pytest
from redoubt.studies import window


def table(effects, lows, highs, days=(7, 21, 35, 49), amount=8.0, pairs=200):
    t = pd.DataFrame({"start_day": list(days), "amount": amount, "pairs": pairs, "effect": effects,
                      "effect_lo95": lows, "effect_hi95": highs})
    t.attrs["kind"] = "passes"
    return t


def test_the_latest_day_is_named_only_where_the_interval_supports_it():
    t = table([0.12, 0.09, 0.06, 0.01], [0.08, 0.06, 0.02, -0.02], [0.16, 0.12, 0.10, 0.04])
    said = window.latest_start(t, 8.0, 0.05)
    assert said.startswith("8 t a day: starting by day 21, help raises P(hold to winter) by at least 5 points")
    assert "from day 35 on it is not shown at 200 runs" in said


def test_estimates_that_reach_the_effect_without_support_are_called_noise():
    t = table([0.06, 0.07, 0.02, 0.0], [-0.01, 0.0, -0.03, -0.04], [0.12, 0.13, 0.07, 0.04])
    said = window.latest_start(t, 8.0, 0.05)
    assert "no interval supports it at 200 runs a point" in said and "not distinguishable" in said
    t = table([0.01, 0.0, 0.0, 0.0], [-0.02] * 4, [0.03] * 4)
    assert "no start day gives +5 points" in window.latest_start(t, 8.0, 0.05)


def test_the_monotone_fit_never_grows_with_a_later_start():
    y = np.array([0.05, 0.09, 0.04, 0.06, 0.0])
    fit = window.monotone_decreasing(y, np.ones(5))
    assert np.all(np.diff(fit) <= 1e-12)
    assert fit == pytest.approx([0.07, 0.07, 0.05, 0.05, 0.0])
    assert window.monotone_decreasing([3, 2, 1], [1, 1, 1]) == pytest.approx([3, 2, 1])  # already monotone


@pytest.mark.slow
def test_a_small_window_runs_end_to_end_and_pairs_with_the_baseline(tmp_path):
    out = window.run_window("panjshir-2021", "passes", [7, 40], [8.0], replications=6, seed=3, jobs=1,
                            out=tmp_path / "w", quiet=True, executor="serial",
                            overrides={"scenario.fighters_per_agent": 50, "scenario.horizon_days": 60})
    t = window.effects(out)
    assert list(t["start_day"]) == [7, 40] and (t["pairs"] == 6).all()
    assert ((t["effect_lo95"] <= t["effect"]) & (t["effect"] <= t["effect_hi95"])).all()
    text = window.write_results(out, t, 0.05)
    assert (out / "window.png").exists() and (out / "window.csv").exists() and "8 t a day" in text
    # The baseline carries nothing: run for run it is the scenario without resupply (same seeds as compare)
    from redoubt import ValleyModel
    from redoubt.studies import sweep
    from redoubt.studies.runs import derive_seed

    base = sweep.load(out / "baseline", series=False)["outcomes"].sort_values("replication")
    for r in (0, 5):
        assert int(base["seed"].iloc[r]) == derive_seed(3, 0, r)
        none = ValleyModel("panjshir-2021", variant="none", rng=derive_seed(3, 0, r), fighters_per_agent=50,
                           horizon_days=60, switches__uncertain=True).run()  # a window draws, as compare does
        fell = base["collapse_day"].iloc[r]
        assert (none["end_day"], none["held_to_winter"], none["collapse_day"]) == \
            (base["end_day"].iloc[r], base["held_to_winter"].iloc[r], None if pd.isna(fell) else fell)
