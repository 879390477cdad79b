"""The answer in words: one sentence per variant from the summary row."""

import pandas as pd

from model.compare import answer, format_table


def row(**kw):
    base = {"variant": "none", "runs": 200, "failed": 0, "held": 46, "p_hold": 0.23, "p_hold_lo95": 0.178,
            "p_hold_hi95": 0.292, "fell": 154, "collapse_q25": "2021-11-15", "collapse_median": "2021-11-21",
            "collapse_q75": "2021-11-25", "cause_combat": 0.03, "cause_supply": 0.97, "cause_cohesion": 0.0,
            "cause_encirclement": 0.0, "cause_pacts": 0.0,
            "food_days_left_median": 0.0, "ammo_days_left_median": 58.88719934773746, "resupply_t_median": 0.0,
            "resupply_food_t_median": 0.0, "resupply_ammo_t_median": 0.0,
            "km_road_held_median": 60.0}
    return pd.Series({**base, **kw})


def test_sentence_says_probability_interval_date_and_cause():
    said = answer(row(), "No outside resupply")
    assert said == ("none (no outside resupply): the valley holds to winter in 23% of runs [18-29%]; when it "
                    "falls, it falls around 21 Nov (half of the falls between 15 Nov and 25 Nov), mostly for "
                    "lack of food or ammunition (97% of falls).")


def test_sentence_when_it_never_falls_or_nothing_ran():
    assert answer(row(fell=0, p_hold=1.0, p_hold_lo95=0.98, p_hold_hi95=1.0)).endswith(
        "in 100% of runs [98-100%]; it did not fall in any of the 200 runs.")
    assert "no run finished" in answer(row(failed=200))
    said = answer(row(cause_supply=0.0, cause_combat=0.0, cause_cohesion=1.0))
    assert "always as its cohesion cracks (fighters desert or surrender, places break)." in said


def test_table_rounds_for_people_and_fits_100_columns():
    text = format_table(pd.DataFrame([row(), row(variant="air+passes")]), {"none": "No outside resupply"})
    assert "58.887" not in text and " 0/59 " in text
    assert max(len(line) for line in text.splitlines()) <= 100
