"""Hypothesis strategies: random valid scenarios (small random valleys with every mechanism on)."""

import datetime as dt

from hypothesis import strategies as st


@st.composite
def scenarios(draw):
    n_road = draw(st.integers(2, 6))
    kms = sorted(draw(st.lists(st.integers(0, 120), min_size=n_road, max_size=n_road, unique=True)))
    locations = [{"id": 0, "name": "staging", "kind": "outside", "km": -5, "frontage": 200,
                  "held_by": "attacker"}]
    for i, km in enumerate(kms, start=1):
        locations.append({"id": i, "name": f"road {i}", "kind": "road", "km": km,
                          "frontage": draw(st.integers(5, 200)), "cover": draw(st.floats(0, 0.8)),
                          "elevation": draw(st.floats(1500, 3500))})
    links = [{"a": 0, "b": 1, "kind": "road", "km": 5}]
    links += [{"a": i, "b": i + 1, "kind": "road", "km": max(1, kms[i] - kms[i - 1])} for i in range(1, n_road)]
    nid = n_road + 1
    pass_id = nid
    locations.append({"id": pass_id, "name": "pass", "kind": "pass", "km": kms[-1] + 5, "frontage": 20,
                      "cover": 0.6, "elevation": draw(st.floats(3500, 4600))})
    links.append({"a": n_road, "b": pass_id, "kind": "path", "days": 1, "elevation": 4000})
    side_id = nid + 1
    locations.append({"id": side_id, "name": "side", "kind": "side", "km": kms[0], "frontage": 50,
                      "cover": 0.7, "elevation": 2500})
    links.append({"a": 1, "b": side_id, "kind": "road", "km": 6})
    links.append({"a": 0, "b": side_id, "kind": "path", "days": 2, "elevation": 3000})
    road_ids = list(range(1, n_road + 1))
    deploy_at = draw(st.lists(st.sampled_from(road_ids + [side_id]), min_size=1, max_size=4, unique=True))
    weights = draw(st.lists(st.integers(1, 5), min_size=len(deploy_at), max_size=len(deploy_at)))
    shares = [w / sum(weights) for w in weights]
    shares[-1] = 1.0 - sum(shares[:-1])
    horizon = draw(st.integers(5, 60))
    wave_days = sorted(draw(st.sets(st.integers(0, horizon - 1), min_size=1, max_size=3)))
    waves = [[d, draw(st.integers(0, 400))] for d in wave_days]
    store_locs = draw(st.lists(st.sampled_from(road_ids), min_size=1, max_size=3, unique=True))
    stores = [{"name": f"store {i}", "location": loc, "share": 1.0 / len(store_locs),
               "reach_hops": draw(st.integers(0, 3)), "feeds_civilians": draw(st.booleans())}
              for i, loc in enumerate(store_locs)]
    stores.append({"name": "base", "location": 0, "side": "attacker", "share": 1.0, "reach_hops": 9,
                   "line_days_per_day": draw(st.floats(0, 2))})
    start = dt.date(2021, 1, 1) + dt.timedelta(days=draw(st.integers(200, 330)))
    side = lambda name: {  # noqa: E731
        "name": name, "lethality": draw(st.floats(0.0, 0.5)), "fire": draw(st.sampled_from(["aimed", "area"])),
        "morale": draw(st.floats(0.2, 1.0)), "carry_ammo_kg": draw(st.floats(0, 20)),
        "desert_rate": draw(st.floats(0, 0.3)), "surrender_rate": draw(st.floats(0, 0.5)),
        # issue 13's processes, pushed hard so that pacts, breaks and infiltration happen
        "infiltration_rate": draw(st.floats(0, 0.5)), "pact_below": draw(st.floats(0, 1)),
        "pact_rate": draw(st.floats(0, 1)), "pact_turn_share": draw(st.floats(0, 1)),
        "pact_unravel_rate": draw(st.floats(0, 1)), "unravel_above": draw(st.floats(0, 1)),
        "break_below": draw(st.floats(0, 0.8)), "morale_news": draw(st.floats(0, 5)),
    }
    att, dfd = side("A"), side("D")
    if att["fire"] == "area":
        att["lethality"] /= 200
    if dfd["fire"] == "area":
        dfd["lethality"] /= 200
    att.update({"waves": waves, "arrive_at": 0, "flank_after_days": draw(st.integers(1, 6))})
    dfd.update({"strength": draw(st.integers(0, 600)), "reserve": deploy_at[0],
                "deploy": [{"location": loc, "share": s} for loc, s in zip(deploy_at, shares)]})
    return {
        "scenario": {"name": "random", "start_date": start, "horizon_days": horizon,
                     "fighters_per_agent": draw(st.integers(1, 12)), "combat_substeps": draw(st.integers(1, 4))},
        "sides": {"attacker": att, "defender": dfd},
        "locations": locations, "links": links, "stores": stores,
        "stocks": {"defender": {"food_days": draw(st.floats(0, 60)), "ammo_days": draw(st.floats(0, 60))}},
        "civilians": {"population": draw(st.integers(0, 5000))},
        "collapse": {"key_locations": draw(st.lists(st.sampled_from(road_ids), max_size=1)),
                     "min_defender_share": draw(st.floats(0, 0.5)), "run_on_after_fall": draw(st.booleans())},
        "overstretch": {"recall_hazard": draw(st.floats(0, 1)), "reinforce_hazard": draw(st.floats(0, 1)),
                        "stall_days": draw(st.integers(1, 5)), "pool_limit": draw(st.integers(0, 2000))},
        "weather": {"first_snow_doy_mean": draw(st.floats(250, 340)), "winter_doy_mean": draw(st.floats(280, 380))},
        "resupply": {
            "air": {"enabled": draw(st.booleans()), "start_day": 0, "landing_locations": store_locs,
                    "sorties_per_week": draw(st.floats(0, 30)), "loss_per_sortie": draw(st.floats(0, 0.5))},
            "passes": {"enabled": draw(st.booleans()), "start_day": 0, "pass_locations": [pass_id],
                       "t_per_day": draw(st.floats(0, 20))},
        },
    }
