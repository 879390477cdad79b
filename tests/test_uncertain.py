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
