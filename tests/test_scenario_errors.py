"""Bad scenarios fail with one clear message naming the file, the key and the rule."""

import pytest

from model.model import ValleyModel
from model.scenario import ScenarioError, load

BASE = "scenarios/panjshir-2021.toml"


def write(tmp_path, text, name="bad.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def edited(tmp_path, old, new):
    text = open(BASE).read()
    assert old in text
    return write(tmp_path, text.replace(old, new, 1))


@pytest.mark.parametrize("old,new,key,rule", [
    ("horizon_days = 200", "horizon_days = 200\ncolour = \"red\"", "scenario.colour", "unknown key"),
    ("fighters_per_agent = 10", "fighters_per_agent = \"ten\"", "scenario.fighters_per_agent", "must be an integer"),
    ("strength = 6000", "strength = -6000", "sides.defender.strength", "must be >= 0"),
    ("start_day = 14", "start_day = 500\nenabled_ = 1", "resupply.air.enabled_", "unknown key"),
    ("pass_locations = [9]", "pass_locations = [99]", "resupply.passes.pass_locations.0", "location 99 does not exist"),
    ("pass_locations = [9]", "pass_locations = [5]", "resupply.passes.pass_locations.0", "is not a pass"),
    ("cover = 0.7,  elevation = 1750", "cover = 1.7,  elevation = 1750", "locations.1.cover", "must be <= 0.99"),
    ("[[0, 1000], [4, 3000]", "[[250, 1000], [4, 3000]", "sides.attacker.waves.0", "not before the horizon"),
    ("start_date = 2021-08-23", "start_date = \"yesterday\"", "scenario.start_date", "must be a date"),
])
def test_rule_broken(tmp_path, old, new, key, rule):
    path = edited(tmp_path, old, new)
    with pytest.raises(ScenarioError) as err:
        load(path)
    msg = str(err.value)
    assert str(path) in msg and f"'{key}'" in msg and rule in msg, msg
    assert "\n" not in msg


def test_start_day_after_horizon(tmp_path):
    path = edited(tmp_path, "[resupply.air]\nenabled = false\nstart_day = 14", "[resupply.air]\nenabled = true\nstart_day = 400")
    with pytest.raises(ScenarioError, match=r"resupply.air.start_day.*not before the horizon"):
        load(path)


def test_malformed_toml(tmp_path):
    path = write(tmp_path, "[scenario\nname = 'x'\n")
    with pytest.raises(ScenarioError, match=r"bad.toml: key '\(file\)': malformed TOML"):
        load(path)


def test_missing_file():
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load("no-such-scenario")


def test_unknown_variant_and_override():
    with pytest.raises(ScenarioError, match=r"variants.balloon.*known: none, air, passes, air\+passes"):
        load(variant="balloon")
    with pytest.raises(ScenarioError, match=r"'sides.defender.strenght'.*unknown key 'strenght'"):
        load(overrides={"sides.defender.strenght": 5})
    with pytest.raises(ScenarioError, match=r"'sides.defender.strength'.*must be >= 0"):
        ValleyModel(defender_strength=-1)
    with pytest.raises(ScenarioError, match="unknown parameter"):
        ValleyModel(colour="red")


def test_variant_with_bad_value(tmp_path):
    path = edited(tmp_path, '"resupply.air.enabled" = true', '"resupply.air.enabled" = "yes"')
    with pytest.raises(ScenarioError, match=r"\[variant air\].*resupply.air.enabled.*true or false"):
        load(path, variant="air")
