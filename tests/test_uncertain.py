"""A scenario's [uncertain] table (issue 22): what the file does not know exactly is drawn for each run, from
streams of the run's own seed, the same in every variant, recorded with the run."""

import json

import numpy as np
import pytest
from redoubt import ValleyModel
from redoubt.inputs.scenario import ScenarioError, load
from redoubt.studies.runs import RunSpec, execute

SETS = """
[[set]]
weight = 1
"sides.defender.break_below" = 0.1
"sides.defender.pact_rate" = 0.01

[[set]]
weight = 3
"sides.defender.break_below" = 0.3
"sides.defender.pact_rate" = 0.05
"""


def valley(tmp_path, uncertain: str, name="v") -> str:
    (tmp_path / "sets.toml").write_text(SETS)
    path = tmp_path / f"{name}.toml"
    path.write_text(f'extends = "panjshir-2021"\n[scenario]\nname = "{name}"\n[switches]\nuncertain = true\n'
                    f'{uncertain}')
    return str(path)


BOTH = ('[uncertain]\nparameters = "sets.toml"\n[uncertain.inputs]\n"sides.defender.morale" = [0.4, 0.8]\n'
        '"sides.defender.strength" = [3000, 7000]\n')


def test_each_run_draws_its_own_values_the_same_for_the_same_seed(tmp_path):
    path = valley(tmp_path, BOTH)
    draws = [ValleyModel(path, rng=s).drawn for s in range(200)]
    assert ValleyModel(path, rng=7).drawn == draws[7]
    morale = np.array([d["sides.defender.morale"] for d in draws])
    strength = [d["sides.defender.strength"] for d in draws]
    assert 0.4 <= morale.min() and morale.max() <= 0.8 and morale.std() > 0.08  # uniform over the range
    assert all(isinstance(x, int) and 3000 <= x <= 7000 for x in strength)
    # a set is drawn whole, with its weight: 1 to 3, so about 50 of 200 (binomial sd 6.1)
    sets = [(d["sides.defender.break_below"], d["sides.defender.pact_rate"]) for d in draws]
    assert set(sets) == {(0.1, 0.01), (0.3, 0.05)}
    assert abs(sets.count((0.1, 0.01)) - 50) < 4 * 6.2
    m = ValleyModel(path, rng=7)
    assert m.params.sides.defender.morale == draws[7]["sides.defender.morale"]
    assert m.spec["sides"]["defender"]["strength"] == draws[7]["sides.defender.strength"]


def test_a_key_the_run_is_given_is_not_drawn_and_the_switch_turns_drawing_off(tmp_path):
    assert ValleyModel("panjshir-2021", rng=1).drawn == {}  # off unless asked: a single run at the file's values
    path = valley(tmp_path, BOTH)
    m = ValleyModel(path, rng=3, overrides={"sides.defender.morale": 0.5})
    assert "sides.defender.morale" not in m.drawn and m.params.sides.defender.morale == 0.5
    assert m.drawn["sides.defender.strength"] == ValleyModel(path, rng=3).drawn["sides.defender.strength"]
    off = ValleyModel(path, rng=3, switches__uncertain=False)
    assert off.drawn == {} and off.params.sides.defender.morale == load("panjshir-2021")["sides"]["defender"]["morale"]


def test_a_draw_shifts_no_other_draw_and_no_process(tmp_path):
    one = valley(tmp_path, '[uncertain.inputs]\n"sides.defender.morale" = [0.4, 0.8]\n', "one")
    two = valley(tmp_path, '[uncertain.inputs]\n"sides.defender.morale" = [0.4, 0.8]\n'
                 '"sides.attacker.morale" = [0.5, 0.9]\n', "two")
    assert ValleyModel(one, rng=11).drawn["sides.defender.morale"] == \
        ValleyModel(two, rng=11).drawn["sides.defender.morale"]
    # the drawn value given by hand to a file without [uncertain] is the same run, day for day
    drawn = ValleyModel(one, rng=11).run()
    given = ValleyModel("panjshir-2021", rng=11,
                        overrides={"sides.defender.morale": ValleyModel(one, rng=11).drawn["sides.defender.morale"]})
    assert {**drawn, "scenario": "?"} == {**given.run(), "scenario": "?"}


def test_every_variant_of_a_seed_draws_the_same_values_and_a_sweep_row_records_them(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text('extends = "panjshir-2021"\n[scenario]\nname = "v"\nhorizon_days = 30\n'
                    '[switches]\nuncertain = true\n'
                    '[sides.attacker]\n'
                    'waves = [[0, 1000], [4, 3000]]\n[uncertain.inputs]\n"sides.defender.morale" = [0.4, 0.8]\n'
                    '[variants.none]\n[variants.air]\n"resupply.air.enabled" = true\n')
    rows = [execute(RunSpec(run_id=0, point=0, replication=0, seed=5, scenario=str(path), variant=v))[0]
            for v in ("none", "air")]
    assert all(r["status"] == "ok" for r in rows), rows[0]["error"]
    assert json.loads(rows[0]["drawn"]) == json.loads(rows[1]["drawn"]) != {}


def test_a_files_uncertain_table_replaces_the_bases_whole(tmp_path):
    valley(tmp_path, BOTH, "base")
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n[scenario]\nname = "child"\n')  # the base's [switches] too
    assert set(ValleyModel(str(child), rng=1).drawn) == set(ValleyModel(str(tmp_path / "base.toml"), rng=1).drawn)
    child.write_text('extends = "base.toml"\n[scenario]\nname = "child"\n[uncertain.inputs]\n'
                     '"sides.attacker.morale" = [0.5, 0.9]\n')
    assert set(ValleyModel(str(child), rng=1).drawn) == {"sides.attacker.morale"}
    child.write_text('extends = "base.toml"\n[scenario]\nname = "child"\n[uncertain]\n')
    assert ValleyModel(str(child), rng=1).drawn == {}


@pytest.mark.parametrize("text,key,needle", [
    ('[uncertain.inputs]\n"sides.defender.moral" = [0.4, 0.8]\n', "uncertain.inputs.sides.defender.moral",
     "not a scenario key"),
    ('[uncertain.inputs]\n"sides.defender.morale" = [0.8, 0.4]\n', "uncertain.inputs.sides.defender.morale",
     "low < high"),
    ('[uncertain.inputs]\n"sides.defender.morale" = [0.4, 1.8]\n', "uncertain.inputs.sides.defender.morale",
     "outside what the key allows"),
    ('[uncertain.inputs]\n"scenario.name" = [1, 2]\n', "uncertain.inputs.scenario.name", "not a number"),
    ('[uncertain]\nparameter = "sets.toml"\n', "uncertain.parameter", "unknown key"),
    ('[uncertain]\nparameters = "nowhere.toml"\n', "uncertain.parameters", "no such file"),
    ('[uncertain]\nparameters = "sets.toml"\n[uncertain.inputs]\n"sides.defender.pact_rate" = [0, 0.1]\n',
     "uncertain.inputs.sides.defender.pact_rate", "one way or the other"),
])
def test_a_bad_uncertain_table_names_the_file_key_and_rule(tmp_path, text, key, needle):
    path = valley(tmp_path, text)
    with pytest.raises(ScenarioError, match=needle) as exc:
        load(path)
    assert exc.value.key == key and "v.toml" in str(exc.value)


@pytest.mark.parametrize("sets,key,needle", [
    ('[[set]]\nweight = 0\n"sides.defender.break_below" = 0.1\n', "set", "add up to 0"),
    ('[[set]]\nweight = -1\n"sides.defender.break_below" = 0.1\n', "set.0.weight", ">= 0"),
    ('[[set]]\nweight = 1\n"sides.defender.break_below" = 0.1\n[[set]]\nweight = 1\n"sides.defender.pact_rate" = 0.1\n',
     "set.1", "the same keys"),
    ('[[set]]\nweight = 1\n"sides.defender.break_below" = 7\n', "set.0.sides.defender.break_below", "range"),
    ('[[set]]\nweight = 1\n"sides.nobody.x" = 7\n', "set.0.sides.nobody.x", "not a scenario key"),
])
def test_a_bad_parameter_sets_file_names_the_file_key_and_rule(tmp_path, sets, key, needle):
    path = valley(tmp_path, '[uncertain]\nparameters = "sets.toml"\n')
    (tmp_path / "sets.toml").write_text(sets)
    with pytest.raises(ScenarioError, match=needle) as exc:
        load(path)
    assert exc.value.key == key and "sets.toml" in str(exc.value)


def test_runs_given_one_draw_seed_draw_the_same_values_their_chance_their_own(tmp_path):
    """draw_seed: runs sharing it draw the same parameters and inputs while their seeds (chance) differ; without
    it each run draws from its own seed, as before."""
    path = valley(tmp_path, BOTH)
    shared = [ValleyModel(path, rng=s, draw_seed=99) for s in (1, 2, 3)]
    assert shared[0].drawn == shared[1].drawn == shared[2].drawn != {}
    assert ValleyModel(path, rng=1, draw_seed=98).drawn != shared[0].drawn
    assert ValleyModel(path, rng=1).drawn == ValleyModel(path, rng=1, draw_seed=None).drawn != shared[0].drawn
    # chance still differs between the runs of one draw
    assert len({m.winter_onset_day for m in shared}) > 1  # the weather's stream is the run's


def test_compare_with_runs_per_draw_shares_draws_within_groups_and_across_variants(tmp_path):
    from redoubt.studies.compare import plan

    specs = plan("panjshir-2021", ["none", "air"], 8, 2021, {"switches.uncertain": True}, runs_per_draw=4)
    by = {(s.variant, s.replication): s for s in specs}
    assert len({by["none", r].draw_seed for r in range(4)}) == 1 != len({by["none", r].draw_seed for r in (0, 4)})
    assert all(by["none", r].draw_seed == by["air", r].draw_seed and by["none", r].seed == by["air", r].seed
               for r in range(8))
    assert len({by["none", r].seed for r in range(8)}) == 8  # chance: every replication its own
    assert all(s.draw_seed is None for s in plan("panjshir-2021", ["none"], 8, 2021, {}, runs_per_draw=1))


def test_variance_split_finds_the_share_from_draws():
    from redoubt.studies.stats import SPLIT_FIELDS, variance_split

    rng = np.random.default_rng(3)
    draws, k = 600, 5
    p = rng.beta(0.5, 0.5, draws)  # the share of a run's variance that p explains: 1 / (a + b + 1) = 0.5
    y = (rng.random((draws, k)) < p[:, None]).astype(float)
    got = variance_split(y.ravel(), np.repeat(np.arange(draws), k), resamples=400)
    assert tuple(got) == SPLIT_FIELDS  # what a spread with too few draws fills with NaN
    assert 0.44 < got["share_parameters"] < 0.56 and got["share_lo90"] < 0.5 < got["share_hi90"]
    assert got["mean_lo95"] < 0.5 < got["mean_hi95"] and got["draws"] == draws and got["runs_per_draw"] == k
    chance = variance_split(rng.random(draws * k) < 0.3, np.repeat(np.arange(draws), k), resamples=400)
    assert chance["share_parameters"] < 0.05  # every draw the same p: chance alone
    fixed_by_draw = variance_split(np.repeat(rng.random(50) < 0.5, 4), np.repeat(np.arange(50), 4), resamples=50)
    assert fixed_by_draw["share_parameters"] == 1.0  # runs of a draw always agree: parameters alone
    with pytest.raises(ValueError, match="at least two draws"):
        variance_split([1, 0, 1], [0, 0, 1])


@pytest.mark.parametrize("flags, needle", [
    (["--runs-per-draw", "3"], "must divide --replications (8)"),
    (["--runs-per-draw", "8"], "at least two draws"),
    (["--runs-per-draw", "2", "--fixed"], "nothing is drawn"),
    (["--runs-per-draw", "0"], "must be at least 1"),
])
def test_runs_per_draw_that_cannot_work_is_refused_before_anything_is_written(tmp_path, capsys, flags, needle):
    from redoubt.interfaces.cli import main

    out = tmp_path / "out"
    try:
        code = main(["compare", "panjshir-2021", "--replications", "8", "--out", str(out), "--quiet", *flags])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and not out.exists(), err


def test_compare_with_shared_draws_reports_where_the_spread_comes_from(tmp_path):
    import pandas as pd
    from redoubt.studies.compare import run_compare

    path = valley(tmp_path, BOTH + '[variants.none]\n[variants.air]\n"resupply.air.enabled" = true\n')
    result = run_compare(path, ["none", "air"], 8, 5, 1, tmp_path / "out", quiet=True, executor="serial",
                         overrides={"scenario.horizon_days": 40, "scenario.fighters_per_agent": 50},
                         runs_per_draw=4)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    drawn = runs[runs["variant"] == "none"].sort_values("replication")["drawn"].tolist()
    assert drawn[:4] == [drawn[0]] * 4 and drawn[4:] == [drawn[4]] * 4 and drawn[0] != drawn[4]
    split = pd.read_csv(tmp_path / "out" / "spread.csv")
    assert list(split["measure"]) == ["P(hold)", "P(hold)", "effect vs none"] and set(split["draws"]) == {2}
    effects = pd.read_csv(tmp_path / "out" / "effects.csv")  # intervals from the draws, not the runs
    by_draw = split[split["measure"] == "effect vs none"].iloc[0]
    assert effects["diff_lo95"].iloc[0] == round(by_draw["mean_lo95"], 4)
    assert effects["diff_hi95"].iloc[0] == round(by_draw["mean_hi95"], 4)
    # and its p-value and runs needed too: a sign-flip test over the two draws' mean differences
    from redoubt.studies.stats import clusters_needed, sign_flip_p

    pairs = runs.pivot(index="replication", columns="variant", values="held_to_winter").astype(float)
    means = (pairs["air"] - pairs["none"]).groupby(pairs.index // 4).mean()
    assert effects["p_draws"].iloc[0] == round(sign_flip_p(means.to_numpy(), seed=5), 4)
    needed = clusters_needed(means.to_numpy()) * 4
    assert effects["pairs_needed"].iloc[0] == needed or (np.isinf(needed) and np.isinf(effects["pairs_needed"].iloc[0]))
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Where the spread comes from" in report and "`spread.csv`" in report
    assert "p (draws)" in report and "McNemar p" not in report.split("## Where the spread")[0]
    assert result["spread"] is not None


def test_spread_with_too_few_whole_draws_says_so_and_does_not_crash():
    import pandas as pd
    from redoubt.studies.compare import spread, spread_text

    runs = pd.DataFrame({"status": ["ok", "ok", "failed", "ok"], "replication": [0, 1, 2, 3],
                         "variant": ["none"] * 4, "held_to_winter": [True, False, False, True]})
    table = spread(runs, ["none"], "none", 2)
    assert table["mean"].isna().all() and "fewer than two whole draws" in spread_text(table)
