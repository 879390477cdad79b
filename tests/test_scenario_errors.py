"""Bad scenarios fail with one clear message naming the file, the key and the rule."""

import copy
import os
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redoubt.core.model import ValleyModel
from redoubt.inputs.scenario import ScenarioError, load

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
    path = edited(tmp_path, "[resupply.air]\nenabled = false\nstart_day = 14",
                  "[resupply.air]\nenabled = true\nstart_day = 400")
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


# ---------------------------------------------------------------- more rules, and malformed input at random

RAW = tomllib.loads(open(BASE).read())


def raw_with(edit):
    raw = copy.deepcopy(RAW)
    edit(raw)
    return raw


@pytest.mark.parametrize("edit,key,rule", [
    (lambda r: r["variants"].update(bogus=3), "variants.bogus", "must be a table of overrides"),
    (lambda r: r["sides"]["defender"].update(strength=2**63), "sides.defender.strength", "must be <= 1000000"),
    (lambda r: r["sides"]["defender"].update(strength=2_000_000_000), "sides.defender.strength", "must be <="),
    (lambda r: r["sides"]["attacker"].update(committed=900_000) or r["scenario"].update(fighters_per_agent=1),
     "scenario.fighters_per_agent", "raise fighters_per_agent to at least"),
    (lambda r: r["scenario"].update(combat_substeps=10**9), "scenario.combat_substeps", "must be <= 1000"),
    (lambda r: r["sides"]["attacker"].update(lethality=1e300), "sides.attacker.lethality", "must be <= 10"),
    (lambda r: r["scenario"].update(horizon_days=10**9), "scenario.horizon_days", "must be <= 3650"),
    (lambda r: r.update(links=[]), "links", "cannot be reached from the mouth"),
    (lambda r: r["locations"].append({"id": 99, "name": "Nowhere", "kind": "side", "frontage": 10}),
     "links", "99 (Nowhere) cannot be reached"),
    (lambda r: r.update(links=[lk for lk in r["links"] if 9 not in (lk["a"], lk["b"])]), "links",
     "9 (Anjuman pass), 10 (Badakhshan) cannot be reached"),
    (lambda r: r["sides"]["defender"].update(morale=float("nan")), "sides.defender.morale", "must be finite"),
    (lambda r: r["collapse"].update(key_locations=[[0, 10**12]]), "collapse.key_locations.0", "must be a location id"),
    (lambda r: r["sides"]["attacker"].update(waves=[[0, 100, 99]]), "sides.attacker.waves.0.2",
     "location 99 does not exist"),
    (lambda r: r["sides"]["attacker"].update(withdrawals=[[1.5, 0.2]]), "sides.attacker.withdrawals.0",
     "must be [day, share]"),
    (lambda r: r["sides"]["attacker"].update(withdrawals=[[10, 1.2]]), "sides.attacker.withdrawals.0",
     "between 0 and 1"),
])
def test_more_rules(edit, key, rule):
    with pytest.raises(ScenarioError) as err:
        load(raw_with(edit))
    msg = str(err.value)
    assert f"'{key}'" in msg and rule in msg and "\n" not in msg, msg


def leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, k))
    elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, i))
    else:
        yield path


LEAVES = list(leaves({k: v for k, v in RAW.items() if k != "variants"}))
NASTY = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                  st.text(max_size=4), st.lists(st.integers(-3, 30), max_size=3), st.just([[0, 10**12]]),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=int(os.environ.get("REDOUBT_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(picks=st.lists(st.tuples(st.sampled_from(LEAVES), NASTY), min_size=1, max_size=3), drop=st.booleans())
def test_malformed_scenarios_fail_cleanly_or_run(picks, drop):
    """Any value at any key (or a key removed): a ScenarioError naming the key, or a model that runs."""
    raw = copy.deepcopy(RAW)
    raw.pop("variants")
    for path, value in picks:
        node = raw
        for part in path[:-1]:
            node = node[part]
        if drop:
            node.pop(path[-1], None) if isinstance(node, dict) else None
        else:
            node[path[-1]] = value
    try:
        spec = load(raw)
    except ScenarioError as exc:
        assert "\n" not in str(exc) and exc.key
        return
    m = ValleyModel(spec, rng=1)
    for _ in range(3):
        m.step()


def test_a_table_checked_again_is_a_fresh_copy_with_the_same_errors():
    """validate() checks the same table once per process: each caller still gets its own dict, and a broken table
    the same error every time (errors are not kept)."""
    from redoubt.inputs.scenario import load, validate

    raw = {k: v for k, v in load("panjshir-2021").items() if not k.startswith("_") and k not in ("variants",
                                                                                                 "uncertain")}
    first = validate(raw, "<dict>")
    first["sides"]["defender"]["strength"] = -1
    assert validate(raw, "<dict>")["sides"]["defender"]["strength"] != -1
    broken = {**raw, "scenario": {**raw["scenario"], "horizon_days": -3}}
    for _ in range(2):
        with pytest.raises(ScenarioError, match="horizon_days"):
            validate(broken, "x.toml")
