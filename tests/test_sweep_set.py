"""`[sweep] set = {...}`: fixed values for every run of a sweep."""

import pytest
from redoubt.inputs.scenario import ScenarioError
from redoubt.studies import sweep

SPEC = {"sweep": {"name": "s", "scenario": "panjshir-2021", "design": "lhs", "samples": 3, "replications": 1,
                  "seed": 2, "set": {"scenario.fighters_per_agent": 50, "stocks.defender.ammo_days": 30}},
        "factors": {"sides.defender.strength": {"range": [3000, 8000]}}}


def test_set_reaches_every_run_and_round_trips_through_toml(tmp_path):
    spec = sweep.load_spec(SPEC)
    table = sweep.design(spec)
    runs = sweep.plan(spec, table)
    assert all(r.overrides["scenario.fighters_per_agent"] == 50 and r.overrides["stocks.defender.ammo_days"] == 30
               for r in runs)
    path = tmp_path / "s.toml"
    path.write_text(sweep.to_toml(SPEC))
    assert sweep.load_spec(path)["set"] == SPEC["sweep"]["set"]
    assert sweep.identity_hash(sweep.load_spec(path)) == sweep.identity_hash(spec)


@pytest.mark.parametrize("bad,needle", [
    ({"scenario.fighters_per_agent": 0}, "'sweep.set.scenario.fighters_per_agent': must be >= 1"),
    ({"sides.defender.strength": 5000}, "'sweep.set.sides.defender.strength': is also a factor"),
    ({"sides.defender.strenght": 5000}, "unknown key"),
])
def test_bad_set_one_line(bad, needle):
    spec = {**SPEC, "sweep": {**SPEC["sweep"], "set": bad}}
    with pytest.raises(ScenarioError, match=needle.replace("(", r"\(")) as err:
        sweep.load_spec(spec)
    assert "\n" not in str(err.value)
