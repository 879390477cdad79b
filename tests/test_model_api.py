"""The model class as Mesa users build it: no arguments, keywords, rng=, batch_run, scenario + variant."""

import datetime as dt

import mesa
import pandas as pd
import pytest
from redoubt.core.agents import ResupplySource, SupplyStore, Weather
from redoubt.core.fighters import Fighter
from redoubt.core.model import CAUSES, SERIES, ValleyModel
from redoubt.inputs.scenario import SHORTCUTS, load

OUTCOME_FIELDS = {"held_to_winter", "collapse_day", "collapse_date", "cause", "food_stockout_day",
                  "ammo_stockout_day", "defenders_killed", "defenders_deserted", "defenders_surrendered",
                  "attackers_killed", "attackers_deserted", "attackers_surrendered", "km_road_held",
                  "resupply_delivered_kg"}


def test_default_is_panjshir_baseline(panjshir):
    m = panjshir
    assert m.spec["scenario"]["name"] == "panjshir-2021" and m.spec["_variant"] == "base"
    assert m.start_date == dt.date(2021, 8, 23)
    assert m.defenders.strength() == 6000 and not m.sources
    assert m.defenders.name == "National Resistance Front" and m.attackers.name == "Taliban"
    types = {type(a) for a in m.agents}
    assert {Fighter, SupplyStore, Weather} <= types
    # the space: integer node ids with fixed positions from the scenario
    assert all(isinstance(n, int) for n in m.valley.graph.nodes)
    assert m.valley.cell(m.valley.by_id(5)).position.tolist() == [37.0, 0.0]


def test_outcome_and_series():
    m = ValleyModel(rng=3, variant="air+passes")
    o = m.run()
    assert OUTCOME_FIELDS <= set(o)
    assert o["end_reason"] in ("fell", "winter", "horizon", "repulsed")
    if o["held_to_winter"]:
        assert o["collapse_day"] is None and o["cause"] is None
    else:
        assert o["cause"] in CAUSES
        assert o["collapse_date"] == (dt.date(2021, 8, 23) + dt.timedelta(days=o["collapse_day"])).isoformat()
    df = m.daily()
    assert list(df.columns) == list(SERIES) and len(df) == o["end_day"] + 1
    assert df["defenders_active"].iloc[0] == 6000
    assert pd.api.types.is_datetime64_any_dtype(df["date"]) and df["date"].iloc[0] == pd.Timestamp("2021-08-23")
    assert any(isinstance(a, ResupplySource) for a in m.agents)


def test_keywords_dotted_and_shortcuts():
    a = ValleyModel(rng=1, sides__defender__strength=4000)
    b = ValleyModel(rng=1, defender_strength=4000)
    c = ValleyModel(rng=1, overrides={"sides.defender.strength": 4000})
    assert a.defenders.strength() == b.defenders.strength() == c.defenders.strength() == 4000


@pytest.mark.parametrize("name", sorted(SHORTCUTS))
def test_every_shortcut_sets_its_key_and_reaches_the_parameter_columns(name):
    base = load()
    node = base
    for part in SHORTCUTS[name].split("."):
        node = node[part]
    value = (not node) if isinstance(node, bool) else node + 1 if isinstance(node, int) else round(node * 1.1, 6)
    m = ValleyModel(rng=1, **{name: value})
    assert m.spec == load(overrides={SHORTCUTS[name]: value})
    assert m.parameters()[name] == value


def test_scenario_file_and_variant():
    m = ValleyModel("scenarios/panjshir-2021.toml", variant="passes", rng=2)
    assert [s.kind for s in m.sources] == ["passes"]


def test_batch_run_builds_it():
    rows = mesa.batch_run(ValleyModel, parameters={"fighters_per_agent": [20], "air": [False, True]},
                          max_steps=400, number_processes=1, display_progress=False, rng=[1])
    assert len({r["air"] for r in rows}) == 2
    assert all("defenders_active" in r for r in rows)


def test_attacker_committed_rescales_waves():
    m = ValleyModel(rng=1, attacker_committed=5000)
    assert sum(w.n for w in m.waves) == 5000


def test_winter_halts_the_offensive():
    m = ValleyModel(rng=1, defender_strength=20000, winter_doy_mean=280, weather__winter_doy_sd=0,
                    weather__first_snow_doy_mean=270, weather__first_snow_doy_sd=0,
                    sides__defender__outside_pact_share=0.0)  # no national collapse: a strong valley, then winter
    o = m.run()
    assert o["end_reason"] == "winter" and o["held_to_winter"]
    assert o["end_day"] == 280 - 235


@pytest.mark.parametrize("switch", ["logistics", "morale", "movement", "weather"])
def test_switches_turn_mechanisms_off(switch):
    m = ValleyModel(rng=1, **{f"switches__{switch}": False})
    m.run()
    if switch == "logistics":
        assert m.stock("food") == 0 and m.ledgers["defender"].flows["consumed"]["food"] == 0
    if switch == "morale":
        assert m.defenders.deserted == 0 and m.defenders.surrendered == 0
    if switch == "movement":
        assert not [e for e in m.events if e[1] in ("flank", "fall back", "pause")]
    if switch == "weather":
        assert m.weather.depth_ref == 0 and m.end_reason != "winter"


def test_the_seasons_curves_are_the_same_past_the_horizon():
    """The weather's curves are tabled for the horizon; a model stepped on beyond it (by hand, or a run-on)
    finds them afresh: the same values either way."""
    from redoubt.core import kernels

    m = ValleyModel(rng=2, horizon_days=25, weather__first_snow_doy_mean=240, weather__first_snow_doy_sd=0)
    w, p = m.weather, m.params.weather
    for day in range(1, 60):
        doy, since = w.doy(day), w.doy(day) - w.first_snow_doy
        want = (float(w._seasonal(doy)), float(kernels.snowfall_probability(since, base=p.snow_prob,
                                                                            growth=p.snow_prob_growth)),
                float(kernels.snowline(since, autumn=p.snowline_autumn, winter=p.snowline_winter,
                                       days=p.snowline_days)))
        assert tuple(map(float, w._curves_on(day))) == want
        assert (day < len(w._curves[0])) == (day <= m.horizon + 1)
