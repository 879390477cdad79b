"""The answer in words: one sentence per variant from the summary row."""

import pandas as pd
import pytest
from redoubt.studies.compare import answer, effect_answer, effects, effects_frame, format_table


def row(**kw):
    base = {"variant": "none", "runs": 200, "failed": 0, "held": 46, "p_hold": 0.23, "p_hold_lo95": 0.178,
            "p_hold_hi95": 0.292, "fell": 154, "collapse_q25": "2021-11-15", "collapse_median": "2021-11-21",
            "collapse_q75": "2021-11-25", "cause_combat": 0.03, "cause_supply": 0.97, "cause_cohesion": 0.0,
            "cause_encirclement": 0.0, "cause_pacts": 0.0,
            "p_repulsed": 0.1, "p_winter": 0.13, "p_fell": 0.77,
            "food_t_left_median": 0.0, "ammo_t_left_median": 58.88719934773746, "resupply_t_median": 0.0,
            "resupply_food_t_median": 0.0, "resupply_ammo_t_median": 0.0,
            "km_road_held_median": 60.0}
    return pd.Series({**base, **kw})


def test_sentence_says_probability_interval_date_and_cause():
    said = answer(row(), "No outside resupply")
    assert said == ("none (no outside resupply): the valley holds to winter in 23% of runs [18-29%] (the offensive "
                    "repulsed in 10%, halted by winter in 13%); when it "
                    "falls, it falls around 21 Nov (half of the falls between 15 Nov and 25 Nov), mostly for "
                    "lack of food or ammunition (97% of falls).")


def test_sentence_when_it_never_falls_or_nothing_ran():
    assert answer(row(fell=0, p_hold=1.0, p_hold_lo95=0.98, p_hold_hi95=1.0, p_repulsed=0.4, p_winter=0.6)).endswith(
        "in 100% of runs [98-100%] (the offensive repulsed in 40%, halted by winter in 60%); it did not fall in any "
        "of the 200 runs.")
    assert "no run finished" in answer(row(failed=200))
    said = answer(row(cause_supply=0.0, cause_combat=0.0, cause_cohesion=1.0))
    assert "always as its cohesion cracks (fighters desert or surrender, places break)." in said


def test_table_rounds_for_people_and_fits_100_columns():
    text = format_table(pd.DataFrame([row(), row(variant="air+passes")]), {"none": "No outside resupply"})
    assert "58.887" not in text and " 0/59 " in text
    assert max(len(line) for line in text.splitlines()) <= 100


def runs_frame(pairs):
    """A runs table with one baseline and one variant: pairs of (held with the baseline, held with the variant,
    days to the fall or to winter)."""
    rows = []
    for r, (base, other, day) in enumerate(pairs):
        for variant, held in (("none", base), ("air", other)):
            rows.append({"variant": variant, "replication": r, "status": "ok", "held_to_winter": held,
                         "end_reason": "winter" if held else "fell", "collapse_day": None if held else day,
                         "end_day": 100 if held else day, "winter_onset_day": 100})
    return pd.DataFrame(rows)


def test_effects_count_the_pairs_that_differ():
    pairs = [(False, True, 40)] * 30 + [(True, False, 40)] * 5 + [(True, True, 0)] * 65 + [(False, False, 40)] * 100
    e = effects(runs_frame(pairs), ["none", "air"], "none").iloc[0]
    assert (e["pairs"], e["better"], e["worse"]) == (200, 30, 5)
    assert e["diff"] == pytest.approx(25 / 200) and e["diff_lo95"] > 0 and e["distinguishable"]
    assert e["mcnemar_p"] < 0.001
    said = effect_answer(e, "Helicopter resupply")
    assert said.startswith("air (helicopter resupply) against none: P(hold to winter) +12.5 points [")
    assert "saves the valley in 30 of 200 paired runs and loses it in 5" in said and "is real" in said


def test_effects_say_when_a_difference_is_noise_and_how_many_runs_would_tell():
    pairs = [(False, True, 40)] * 3 + [(True, False, 40)] * 2 + [(True, True, 0)] * 95 + [(False, False, 40)] * 100
    e = effects(runs_frame(pairs), ["none", "air"], "none").iloc[0]
    assert not e["distinguishable"] and e["diff_lo95"] < 0 < e["diff_hi95"]
    said = effect_answer(e)
    assert "within noise at 200 runs a variant" in said and f"about {int(e['pairs_needed']):,} runs" in said
    same = effects(runs_frame([(True, True, 0)] * 50 + [(False, False, 40)] * 50), ["none", "air"], "none").iloc[0]
    assert "show no difference in P(hold) at all" in effect_answer(same)


def test_the_effects_table_fits_100_columns_and_leads_the_terminal_output():
    pairs = [(False, True, 40)] * 3 + [(True, False, 40)] * 2 + [(True, True, 0)] * 95 + [(False, False, 40)] * 100
    e = effects(runs_frame(pairs), ["none", "air"], "none")
    text = format_table(pd.DataFrame([row(), row(variant="air")]), {"none": "No outside resupply"}, e)
    assert text.startswith("What each variant changes") and max(len(line) for line in text.splitlines()) <= 100


def test_an_effect_whose_interval_and_exact_test_disagree_is_called_borderline():
    """5 runs saved and none lost in 200 pairs: Newcombe's interval just excludes zero, the exact McNemar test
    does not reject (p = 0.0625). The verdict says both, in the answer and in the table, and how many runs a
    variant would settle it."""
    pairs = [(False, True, 40)] * 5 + [(True, True, 0)] * 45 + [(False, False, 40)] * 150
    e = effects(runs_frame(pairs), ["none", "air"], "none")
    row = e.iloc[0]
    assert row["diff_lo95"] > 0 and row["mcnemar_p"] == pytest.approx(0.0625)
    said = effect_answer(row)
    assert "is borderline at 200 runs a variant (its interval excludes zero but the test does not reject, p = " \
        "0.062)" in said and f"about {int(row['pairs_needed']):,} runs a variant would settle it" in said
    assert "is real" not in said
    assert effects_frame(e)["verdict"].iloc[0] == f"borderline: need ~{int(row['pairs_needed']):,}"
