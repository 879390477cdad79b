"""Scenario files: TOML in, one validated nested dict out.

A scenario describes one valley (locations, links, stores), two sides, the weather, outside resupply and
the rules for collapse. Variants are named sets of overrides by dotted key ("resupply.air.enabled").
Every error names the file, the key and the rule broken, and is raised before anything is written.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .bounded import MAX_EXTENDS, MAX_FILE_BYTES, control_characters, printable, scan

DEFAULT_SCENARIO = "panjshir-2021"


class ScenarioError(ValueError):
    """A scenario (or override) breaks a rule. str() is the one-line message users see."""

    def __init__(self, source: str, key: str, rule: str):
        self.source, self.key, self.rule = str(source), key, rule
        super().__init__(f"{source}: key '{key}': {rule}")


# ---------------------------------------------------------------- schema ---------------------------------
# A leaf is Field(type, default, rule); a table is a dict of leaves; a list of tables is ListOf(table).
@dataclass(frozen=True)
class Field:
    type: type | tuple
    default: Any = None  # None: required
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    doc: str = ""
    optional: bool = False  # may be absent with no default


@dataclass(frozen=True)
class ListOf:
    table: dict
    doc: str = ""


NUM = (int, float)

# Sizes bounded by what a machine can hold (and far above any valley campaign), so that a typo such as
# strength = 2000000000 is refused at once instead of exhausting memory.
MAX_FIGHTERS = 1_000_000  # per side, in the valley at once and over all waves
MAX_GROUPS = 200_000  # agents per side: fighters / fighters_per_agent (about 1 KB each)

SIDE = {
    "name": Field(str, doc="name used in outputs"),
    "strength": Field(int, 0, min=0, max=MAX_FIGHTERS, doc="fighters in the valley at the start"),
    "waves": Field(list, [], doc="arrivals as [[time in days, fighters], ...]; 4.5 arrives halfway through day 5; "
                   "[time, fighters, location id] arrives there instead of at arrive_at (another axis)"),
    "committed": Field(int, 0, min=0, max=MAX_FIGHTERS, doc="if > 0, waves are rescaled to sum to this pool"),
    "withdrawals": Field(list, [], doc="planned departures as [[day, share], ...]: on that day the share of the "
                         "side's fighters not in battle leaves the valley (an operation of limited duration)"),
    "arrive_at": Field(int, -1, doc="location id where waves arrive"),
    "reserve": Field(int, -1, doc="location id of the reserve (-1: none)"),
    "reserve_keep": Field(NUM, 0.5, min=0, max=1, doc="share of the reserve never sent away"),
    "deploy": ListOf({"location": Field(int), "share": Field(NUM, min=0, max=1)}),
    "fire": Field(str, "aimed", choices=("aimed", "area")),
    "lethality": Field(NUM, min=0, max=10, doc="aimed: hits per firing fighter per day; area: per target too "
                                                "(at most 10: beyond any real fire, and the kernel stays finite)"),
    "morale": Field(NUM, 0.8, min=0, max=1),
    "morale_recovery": Field(NUM, 0.02, min=0, max=1),
    "morale_loss_shock": Field(NUM, 2.0, min=0),
    "morale_hunger": Field(NUM, 0.05, min=0, max=1),
    "morale_no_ammo": Field(NUM, 0.05, min=0, max=1),
    "morale_civilian_hunger": Field(NUM, 0.0, min=0, max=1),
    "desert_below": Field(NUM, 0.4, min=0, max=1),
    "desert_rate": Field(NUM, 0.05, min=0, max=1),
    "surrender_below": Field(NUM, 0.25, min=0, max=1),
    "surrender_rate": Field(NUM, 0.2, min=0, max=1),
    "food_kg_per_day": Field(NUM, 1.0, min=0),
    "carry_food_days": Field(NUM, 3.0, min=0),
    "ammo_kg_per_day_combat": Field(NUM, 8.0, min=0),
    "ammo_kg_per_day_idle": Field(NUM, 0.3, min=0),
    "ammo_reference_kg_per_day": Field(NUM, 1.0, min=0),
    "carry_ammo_kg": Field(NUM, 15.0, min=0),
    "advance_odds": Field(NUM, 1.5, min=0),
    "commit_odds": Field(NUM, 3.0, min=0, doc="an attack brings enough fighters for these odds, no more"),
    "fallback_odds": Field(NUM, 3.0, min=0),
    "threshold_spread": Field(NUM, 0.25, min=0, max=5, doc="spread of commanders' fall-back odds "
                              "(log units; 0: a hard threshold)"),
    "reinforce_odds": Field(NUM, 1.0, min=0),
    "pause_loss_share": Field(NUM, 0.15, min=0, max=1),
    "pause_window_days": Field(int, 3, min=1),
    "pause_days": Field(int, 4, min=0),
    "flank_after_days": Field(int, 5, min=1),
    "flank_share": Field(NUM, 0.2, min=0, max=1),
    "garrison": Field(int, 30, min=0),
    "engaged_depth": Field(NUM, 2.0, min=0, doc="in battle, fighters kept per frontage place; the rest may move"),
    "destroy_on_retreat": Field(NUM, 0.5, min=0, max=1),
    "speed_km_per_day": Field(NUM, 30.0, min=0.1),
    "path_slowdown": Field(NUM, 3.0, min=1, doc="a km of mountain path (with no days given) takes this many "
                                                "times as long as a km of road"),
    "out_of_ammo_kg": Field(NUM, 0.5, min=0, doc="kg per fighter below which a group counts as out of "
                                                 "ammunition (falls back, loses morale)"),
    # Manoeuvre (switches.infiltration, .encirclement, .counterattack)
    "infiltration_rate": Field(NUM, 0.02, min=0, max=1, doc="share of a free stack that slips past a defended "
                               "place in a day (mostly by night) when the defenders there are thin"),
    "infiltration_density_ref": Field(NUM, 2.0, min=0.01, doc="defenders per frontage place at which the "
                                      "chance to slip past falls to 1/e"),
    "infiltration_bad_visibility": Field(NUM, 2.0, min=1, doc="infiltration is this many times likelier on "
                                         "a day of cloud or snow"),
    "morale_encircled": Field(NUM, 0.03, min=0, max=1, doc="morale lost per day encircled"),
    "encircled_surrender_below": Field(NUM, 0.45, min=0, max=1, doc="encircled, groups surrender below this "
                                       "morale, in battle or not"),
    "counterattack_odds": Field(NUM, 2.0, min=0, doc="a stack counterattacks a neighbouring place the enemy "
                                "holds at these odds or better"),
    "counterattack_keep": Field(NUM, 0.5, min=0, max=1, doc="share of a stack that stays to hold its place"),
    # Cohesion (switches.cohesion and .pacts)
    "morale_contagion": Field(NUM, 0.2, min=0, max=1, doc="per day, a place's morale moves this share of the "
                              "way to its neighbours' mean"),
    "morale_news": Field(NUM, 0.5, min=0, doc="morale lost per share of the side that deserted, surrendered "
                         "or made pacts today"),
    "morale_outflanked": Field(NUM, 0.02, min=0, max=1, doc="morale lost per day with the enemy on a place "
                               "behind"),
    "leader_risk": Field(NUM, 1.0, min=0, doc="a place's commander is killed with this many times the chance "
                         "of one of its fighters (the share of the stack lost that day)"),
    "morale_leader_loss": Field(NUM, 0.15, min=0, max=1, doc="morale the place's fighters lose when their "
                                "commander is killed"),
    "morale_key_loss": Field(NUM, 0.1, min=0, max=1, doc="morale lost by the whole side when a key place or "
                             "a depot falls"),
    "morale_success": Field(NUM, 1.0, min=0, doc="morale gained per share of the enemy's local strength "
                            "killed today"),
    "cohesion_spread": Field(NUM, 0.05, min=0, max=1, doc="spread of commanders' breaking points and pact "
                             "thresholds about break_below and pact_below (morale units, logistic)"),
    "break_below": Field(NUM, 0.25, min=0, max=1, doc="a place's fighters break (most desert) when their mean "
                         "morale falls below their commander's breaking point, drawn about this"),
    "break_share": Field(NUM, 0.5, min=0, max=1, doc="share of a breaking stack that deserts at once"),
    "pact_below": Field(NUM, 0.4, min=0, max=1, doc="a local commander may make a pact when the place's "
                        "morale is below their own threshold, drawn about this"),
    "pact_rate": Field(NUM, 0.05, min=0, max=1, doc="daily chance of a pact, with the enemy at or next to the place"),
    "pact_turn_share": Field(NUM, 0.2, min=0, max=1, doc="share of a pact's fighters who change sides (the rest "
                             "stand down)"),
    "pact_unravel_rate": Field(NUM, 0.02, min=0, max=1, doc="daily share of those stood down who come back while "
                               "the side's morale is above unravel_above"),
    "unravel_above": Field(NUM, 0.6, min=0, max=1),
    # Dispersal (switches.dispersal)
    "ground_share": Field(NUM, 0.0, min=0, max=1, doc="share of those who desert or whose place breaks who go to "
                          "ground in the mountains instead of leaving for good"),
    "regroup_rate": Field(NUM, 0.05, min=0, max=1, doc="daily share of those gone to ground who come back once "
                          "the enemy's main force has gone"),
    "regroup_below": Field(NUM, 0.5, min=0, max=1, doc="the enemy's main force has gone when its fighters in the "
                           "valley are under this share of the most it has had there"),
    "relief_rate": Field(NUM, 0.5, min=0, max=1, doc="once the enemy's main force has gone, morale recovers this "
                         "share of the way to the side's base a day"),
}

OVERSTRETCH = {
    "recall_hazard": Field(NUM, 0.01, min=0, max=1, doc="daily chance that demands elsewhere recall fighters"),
    "unrest_per_30_days": Field(NUM, 0.5, min=0, doc="the recall chance grows by this factor per 30 days the "
                                "valley holds (pacts elsewhere unravel)"),
    "recall_share": Field(NUM, 0.2, min=0, max=1, doc="share of the side's free fighters in the valley a recall "
                          "takes"),
    "reinforce_hazard": Field(NUM, 0.05, min=0, max=1, doc="daily chance of extra fighters while the offensive "
                              "is stalled"),
    "stall_days": Field(int, 10, min=1, doc="days without the front moving forward that count as stalled"),
    "reinforce_size": Field(int, 1000, min=0, max=MAX_FIGHTERS),
    "pool_limit": Field(int, 25000, min=0, max=MAX_FIGHTERS, doc="most fighters the side can send into the "
                        "valley in all (committed and extra)"),
}

SCHEMA: dict = {
    "scenario": {
        "name": Field(str),
        "title": Field(str, ""),
        "start_date": Field(dt.date),
        "horizon_days": Field(int, 200, min=1, max=3650),
        "fighters_per_agent": Field(int, 10, min=1),
        "combat_substeps": Field(int, 4, min=1, max=1000),
        "combat_dt_days": Field(NUM, 1.0, min=1e-6, doc="days per model step for combat"),
    },
    "switches": {
        "logistics": Field(bool, True),
        "morale": Field(bool, True),
        "movement": Field(bool, True),
        "weather": Field(bool, True),
        # Issue 13's processes (docs/ODD.md), each needs the switch named beside it on too.
        "infiltration": Field(bool, True, doc="attackers slip past thin defences (needs movement)"),
        "encirclement": Field(bool, True, doc="cut-off places lose morale and surrender (needs morale)"),
        "counterattack": Field(bool, True, doc="defenders retake neighbouring places (needs movement)"),
        "cohesion": Field(bool, True, doc="contagious morale, news, key losses, breaking points (needs morale)"),
        "pacts": Field(bool, True, doc="local surrender pacts, and their unravelling (needs morale)"),
        "overstretch": Field(bool, True, doc="attackers recalled elsewhere or reinforced (needs movement)"),
        "civilian_flight": Field(bool, True, doc="civilians leave over open passes (needs logistics)"),
        "dispersal": Field(bool, True, doc="deserters may go to ground and regroup later (needs morale)"),
    },
    "sides": {"attacker": SIDE, "defender": SIDE},
    "overstretch": OVERSTRETCH,
    "locations": ListOf(
        {
            "id": Field(int, min=0),
            "name": Field(str),
            "kind": Field(str, choices=("road", "side", "flank", "pass", "outside")),
            "km": Field(NUM, 0.0),
            "frontage": Field(int, min=1),
            "cover": Field(NUM, 0.0, min=0, max=0.99),
            "elevation": Field(NUM, 2000.0, min=-500, max=9000),
            "x": Field(NUM, optional=True),
            "y": Field(NUM, optional=True),
            "closes_foot_cm": Field(NUM, 120.0, min=0),
            "held_by": Field(str, "defender", choices=("defender", "attacker", "none")),
        }
    ),
    "links": ListOf(
        {
            "a": Field(int),
            "b": Field(int),
            "kind": Field(str, "road", choices=("road", "path")),
            "km": Field(NUM, 10.0, min=0),
            "days": Field(NUM, 0.0, min=0, doc="path travel days; road links use km / speed"),
            "elevation": Field(NUM, 0.0, min=0, doc="highest point of a path (closes in snow)"),
        }
    ),
    "stores": ListOf(
        {
            "name": Field(str),
            "location": Field(int),
            "side": Field(str, "defender", choices=("defender", "attacker")),
            "share": Field(NUM, 0.0, min=0, max=1),
            "reach_hops": Field(int, 1, min=0),
            "feeds_civilians": Field(bool, False),
            "line_days_per_day": Field(NUM, 0.0, min=0, doc="daily supply line, days of the side's draw"),
        }
    ),
    "stocks": {
        "defender": {"food_days": Field(NUM, 90.0, min=0), "ammo_days": Field(NUM, 60.0, min=0)},
        "attacker": {"food_days": Field(NUM, 10.0, min=0), "ammo_days": Field(NUM, 10.0, min=0)},
    },
    "civilians": {
        "population": Field(int, 0, min=0),
        "ration_kg_per_day": Field(NUM, 0.55, min=0),
        "share_fed_from_stores": Field(NUM, 0.3, min=0, max=1),
        "flight_rate": Field(NUM, 0.002, min=0, max=1, doc="daily share leaving over an open pass in calm"),
        "flight_hunger": Field(NUM, 0.02, min=0, max=1, doc="more per day, times the share left unfed"),
        "flight_fighting": Field(NUM, 0.01, min=0, max=1, doc="more per day, times the share of the road lost"),
        "pressure": Field(NUM, 2.0, min=0, doc="pacts are (1 + pressure x share unfed) times likelier"),
    },
    "collapse": {
        "key_locations": Field(list, []),
        "min_defender_share": Field(NUM, 0.15, min=0, max=1),
        "supply_exhausted_days": Field(NUM, 1.0, min=0),
        "run_on_after_fall": Field(bool, False, doc="after the fall, run on to winter (to see whether organised "
                                   "resistance survives it)"),
        "floor_road_share": Field(NUM, 0.5, min=0, max=1, doc="the valley floor is lost when the attacker holds "
                                  "every key place and this share of the road's places"),
        "organised_morale": Field(NUM, 0.3, min=0, max=1, doc="a place counts as organised resistance while its "
                                  "defenders' mean morale is above this ..."),
        "organised_min_fighters": Field(int, 50, min=1, doc="... and they are at least this many"),
        "fall_without_organised_resistance": Field(bool, True, doc="no place with organised resistance left is a "
                                                   "fall (so a run that held never has its resistance ended)"),
    },
    "weather": {
        "first_snow_doy_mean": Field(NUM, 315.0, min=1, max=366),
        "first_snow_doy_sd": Field(NUM, 12.0, min=0),
        "winter_doy_mean": Field(NUM, 335.0, min=1, max=400),
        "winter_doy_sd": Field(NUM, 15.0, min=0),
        "first_snow_cm": Field(NUM, 50.0, min=0),
        "snow_prob": Field(NUM, 0.3, min=0, max=1),
        "snow_prob_growth": Field(NUM, 0.01, min=0),
        "snow_mean_cm": Field(NUM, 12.0, min=0),
        "ref_elevation": Field(NUM, 4000.0),
        "snowline_autumn": Field(NUM, 3500.0),
        "snowline_winter": Field(NUM, 1500.0),
        "snowline_days": Field(NUM, 45.0, min=1),
        "temp_mean": Field(NUM, 11.0),
        "temp_amplitude": Field(NUM, 13.0, min=0),
        "temp_peak_doy": Field(NUM, 200.0),
        "temp_ref_elevation": Field(NUM, 2000.0),
        "lapse_per_km": Field(NUM, 6.5, min=0),
        "temp_noise_sd": Field(NUM, 2.5, min=0),
        "temp_noise_autocorr": Field(NUM, 0.7, min=0, max=0.999, doc="AR(1) coefficient of the daily noise"),
        "melt_cm_per_degree": Field(NUM, 1.0, min=0),
        "path_closed_cm": Field(NUM, 40.0, min=0),
        "slow_per_cm": Field(NUM, 0.01, min=0),
        "cold_food_per_degree": Field(NUM, 0.01, min=0),
        "cloud_grounding_prob": Field(NUM, 0.1, min=0, max=1),
        "cloud_grounding_prob_winter": Field(NUM, 0.35, min=0, max=1),
    },
    "resupply": {
        "air": {
            "enabled": Field(bool, False),
            "start_day": Field(int, 14, min=0),
            "helicopters": Field(int, 4, min=0),
            "sorties_per_week": Field(NUM, 10.0, min=0),
            "payload_t": Field(NUM, 2.0, min=0),
            "loss_per_sortie": Field(NUM, 0.03, min=0, max=1),
            "load": Field(str, "demand", choices=("demand", "fixed"),
                          doc="demand: each load split towards the scarcer commodity; fixed: ammo_share"),
            "ammo_share": Field(NUM, 0.5, min=0, max=1, doc="share of ammunition in a load when load = fixed"),
            "landing_locations": Field(list, []),
        },
        "passes": {
            "enabled": Field(bool, False),
            "start_day": Field(int, 7, min=0),
            "t_per_day": Field(NUM, 8.0, min=0),
            "loss_share": Field(NUM, 0.05, min=0, max=1),
            "load": Field(str, "demand", choices=("demand", "fixed"),
                          doc="demand: each load split towards the scarcer commodity; fixed: ammo_share"),
            "ammo_share": Field(NUM, 0.5, min=0, max=1, doc="share of ammunition in a load when load = fixed"),
            "pass_locations": Field(list, []),
        },
    },
    "variants": None,  # free-form: name -> table of overrides, validated by applying them
}

# Flat keyword names the model class accepts (batch_run, SolaraViz, notebooks), mapped to dotted keys.
SHORTCUTS = {
    "fighters_per_agent": "scenario.fighters_per_agent",
    "horizon_days": "scenario.horizon_days",
    "defender_strength": "sides.defender.strength",
    "attacker_committed": "sides.attacker.committed",
    "defender_morale": "sides.defender.morale",
    "food_days": "stocks.defender.food_days",
    "ammo_days": "stocks.defender.ammo_days",
    "air": "resupply.air.enabled",
    "air_start_day": "resupply.air.start_day",
    "sorties_per_week": "resupply.air.sorties_per_week",
    "passes": "resupply.passes.enabled",
    "passes_start_day": "resupply.passes.start_day",
    "porter_t_per_day": "resupply.passes.t_per_day",
    "winter_doy_mean": "weather.winter_doy_mean",
}


# Issue 13's processes act only when the switch of what they are made of is on too.
NEEDS = {"infiltration": "movement", "counterattack": "movement", "overstretch": "movement",
         "encirclement": "morale", "cohesion": "morale", "pacts": "morale", "civilian_flight": "logistics",
         "dispersal": "morale"}


def effective_switches(switches: dict) -> dict:
    """The switches as the model applies them: a process whose parent switch is off is off."""
    return {k: bool(switches[k] and switches[NEEDS.get(k, k)]) for k in list(switches)}


def field_at(schema: dict, dotted: str) -> Field:
    """The schema leaf a dotted key names ("sides.defender.strength"; list indices as digits or '*')."""
    node = schema
    for part in dotted.split("."):
        if isinstance(node, ListOf):
            node = node.table
            continue
        node = node[part]
    if not isinstance(node, Field):
        raise KeyError(f"{dotted} names a table, not a value")
    return node


def leaf_keys(schema: dict, prefix: str = ""):
    """Every leaf of a schema as a dotted key, list items as '*' ("locations.*.cover")."""
    for k, sub in schema.items():
        if sub is None:
            continue
        if isinstance(sub, Field):
            yield prefix + k
        elif isinstance(sub, ListOf):
            yield from leaf_keys(sub.table, f"{prefix}{k}.*.")
        else:
            yield from leaf_keys(sub, f"{prefix}{k}.")


# ---------------------------------------------------------------- loading --------------------------------
def bundled_dir() -> Path:
    """The scenarios shipped with redoubt (the repository's scenarios/, installed as `redoubt.scenarios`)."""
    try:
        return Path(str(resources.files("redoubt.scenarios")))
    except ModuleNotFoundError:
        raise ScenarioError("scenarios", "(install)", "redoubt is not installed, so its bundled scenarios "
                            "cannot be found: run 'make setup' or 'pip install -e .' in the repository") from None


def resolve_path(name: str | Path, kind: str = "") -> Path:
    """A file by path, or by name: "panjshir-2021", "validation/square-law", or "tiny" with kind="sweeps".

    A name is looked for in ./scenarios/ (your own files) and then among the bundled scenarios.
    "scenarios/x.toml" also finds a bundled file, so paths written for the repository work anywhere.
    Returns a path that may not exist (reading it then says so).
    """
    p = Path(name)
    if "\x00" in str(name):
        raise ScenarioError(printable(name), "(file)", "a file name cannot hold a NUL character")
    if p.exists():
        return p
    return _in_catalogue(p, kind)


def did_you_mean(name: str, known) -> str:
    """'; did you mean X?' with the closest known names (a misspelt key, variant or scenario), or ''."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def files_digest(spec: dict) -> str:
    """sha256 over the files a resolved scenario was read from (`spec["_files"]`: it and those it extends): what
    a stored result depends on."""
    import hashlib

    return hashlib.sha256(b"".join(Path(f).read_bytes() for f in spec.get("_files", []))).hexdigest()


def is_path_like(name: str) -> bool:
    """A value written as a path ("b.toml", "../valley.toml", "sub/x.toml"), not as a catalogue name."""
    return name.endswith(".toml") or name.startswith(".") or "/" in name or "\\" in name


def resolve_from(name: str, source: str | Path, kind: str = "") -> Path:
    """A file named inside another file: a path is relative to the directory of the file that names it (never
    the current directory); a bare name is looked up in the catalogue (./scenarios/, then the bundled)."""
    if "\x00" in name:
        raise ScenarioError(printable(source), "(file)", "a file name cannot hold a NUL character")
    if is_path_like(name):
        here = Path(source).parent if str(source) not in ("<dict>", "<sweep>") else Path(".")
        beside = here / name
        if beside.is_file():
            return beside
        known = _in_catalogue(Path(name), kind)  # "scenarios/x.toml", written for the repository
        return known if known.is_file() else beside
    return _in_catalogue(Path(name), kind)


def _in_catalogue(p: Path, kind: str = "") -> Path:
    rel = p if p.suffix == ".toml" else p.with_name(p.name + ".toml")
    if rel.parts and rel.parts[0] == "scenarios":
        rel = Path(*rel.parts[1:])
    elif kind:
        rel = Path(kind) / rel
    for root in (Path("scenarios"), bundled_dir()):
        if (root / rel).is_file():
            return root / rel
    return p if p.suffix else Path("scenarios") / rel


def read_toml(path: Path, what: str = "scenario file") -> dict:
    """A TOML file read within limits (model/redoubt/inputs/bounded.py): its size is checked before it is
    read, its nesting and key lengths before it is parsed; each limit gives one line naming the file."""
    where = printable(path)
    if not path.is_file():
        names = [e["name"] for e in catalogue()["sweeps" if what == "sweep file" else "scenarios"]] \
            if what in ("scenario file", "sweep file") else []
        raise ScenarioError(where, "(file)", f"no such {what}{did_you_mean(path.stem, names)}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(where, "(file)", f"{size:,} bytes, more than the {MAX_FILE_BYTES:,} a {what} may have")
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(where, "(file)", f"cannot be read: {exc}") from None
    broken = scan(text)
    if broken is not None:
        raise ScenarioError(where, "(file)", f"{broken[1]}: refused before parsing")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(where, "(file)", f"malformed TOML: {exc}") from None
    except RecursionError:  # a safety net: scan() bounds the nesting well below this
        raise ScenarioError(where, "(file)", "nests too deep to read") from None


def load(scenario: str | Path | dict = DEFAULT_SCENARIO, variant: str | None = None,
         overrides: dict | None = None) -> dict:
    """Read, apply a variant and overrides, validate. Returns the resolved scenario dict."""
    files: list[Path] = []  # the files read: the scenario's, then those it extends
    if isinstance(scenario, dict):  # a raw table, or a spec load() returned (its "_" keys are not input)
        raw = plain(copy.deepcopy({k: v for k, v in scenario.items() if not str(k).startswith("_")}))
        source = "<dict>"
    else:
        path = resolve_path(scenario)
        raw, source = read_toml(path), str(path)
        files.append(path)
    raw = extend(raw, source, files)
    variants = raw.pop("variants", {}) or {}
    if not isinstance(variants, dict):
        raise ScenarioError(source, "variants", "must be a table of variant tables")
    for name, table in variants.items():
        if control_characters(name) or not name.strip():
            raise ScenarioError(source, f"variants.{printable(name)}", "a variant's name must be a plain label (no "
                                "control characters, not empty)")
        if not isinstance(table, dict):
            raise ScenarioError(source, f"variants.{name}", f"must be a table of overrides, e.g. "
                                f'[variants.{name}] "resupply.air.enabled" = true (got {table!r})')
    validate(raw, source)  # the base must be valid on its own
    if variant not in (None, "", "base"):
        if variant not in variants:
            known = ", ".join(variants) or "(none)"
            raise ScenarioError(source, f"variants.{printable(variant)}",
                                f"no such variant{did_you_mean(variant, variants)}; known: {known}")
        vt = dict(variants[variant])
        vt.pop("description", None)
        source = f"{source} [variant {variant}]"
        raw = apply_overrides(raw, flatten(vt), source)
    if overrides:
        source = f"{source} [overrides]"
        raw = apply_overrides(raw, overrides, source)
    spec = validate(raw, source)
    spec["variants"] = {k: dict(v) for k, v in variants.items()}
    spec["_source"] = source.split(" [")[0]
    spec["_files"] = [str(f) for f in files]
    spec["_variant"] = variant or "base"
    return spec


def extend(raw: dict, source: str, read: list[Path]) -> dict:
    """A file with `extends = "NAME"` is that scenario with the file's tables laid over it (tables merged
    key by key, values and lists replaced; the base's variants are not inherited): the history episodes
    share the valley and the behaviour parameters of the file they extend, and give only their own inputs.
    The files it reads are added to `read` (what a result depends on)."""
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str):
        raise ScenarioError(source, "extends", f"must be the name or path of a scenario file (got {base_name!r})")
    path = resolve_from(base_name, source)
    if str(path) == source or str(path) in map(str, read):
        raise ScenarioError(source, "extends", f"'{base_name}' extends itself, directly or through others")
    if len(read) > MAX_EXTENDS:
        raise ScenarioError(source, "extends", f"a chain of more than {MAX_EXTENDS} files extending each other")
    read.append(path)
    base = extend(read_toml(path), str(path), read)
    base.pop("variants", None)
    return _lay_over(base, raw)


def _lay_over(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _lay_over(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def catalogue() -> dict[str, list[dict]]:
    """What a name can refer to: {"scenarios": [...], "sweeps": [...]}, each entry with its name, a title,
    where it is (your ./scenarios/ first: a file there hides a bundled one of the same name) and, for
    scenarios, the variants with their descriptions."""
    roots = [Path("scenarios"), bundled_dir()]
    found: dict[str, dict[str, dict]] = {"scenarios": {}, "sweeps": {}}
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.toml")):
            rel = path.relative_to(root).with_suffix("")
            kind = "sweeps" if rel.parts[0] == "sweeps" else "scenarios"
            name = str(Path(*rel.parts[1:])) if kind == "sweeps" else str(rel)
            if name in found[kind]:
                continue
            entry = {"name": name, "path": str(path), "title": _first_comment(path)}
            if kind == "scenarios":
                try:
                    raw = read_toml(path)
                    if not {"scenario", "locations", "extends"} & set(raw):
                        continue  # a file beside the scenarios (calibration settings, observed patterns)
                    entry["title"] = (raw.get("scenario") or {}).get("title") or entry["title"]
                    entry["variants"] = {v: (t or {}).get("description", "") if isinstance(t, dict) else ""
                                         for v, t in (raw.get("variants") or {}).items()}
                except ScenarioError as exc:
                    entry["title"], entry["variants"] = f"(unreadable: {exc.rule})", {}
            found[kind][name] = entry
    return {kind: list(entries.values()) for kind, entries in found.items()}


def _first_comment(path: Path) -> str:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def variant_names(scenario: str | Path | dict = DEFAULT_SCENARIO) -> list[str]:
    """Variant names in file order."""
    raw = scenario if isinstance(scenario, dict) else read_toml(resolve_path(scenario))
    return list((raw.get("variants") or {}).keys())


def check_variants(scenario: str | Path, variants: list[str] | None, overrides: dict | None = None) -> list[str]:
    """The variants to run (default: all of the scenario's, or "base" if it has none), each checked by
    loading it (with the overrides): an unknown or invalid variant raises ScenarioError."""
    variants = variants or variant_names(scenario) or ["base"]
    for v in variants:
        load(scenario, v, overrides)
    return variants


def flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def apply_overrides(raw: dict, overrides: dict, source: str) -> dict:
    """Set each dotted key ("sides.defender.strength", "locations.3.cover") on a copy of raw."""
    raw = copy.deepcopy(raw)
    for dotted in sorted(overrides):  # sorted: the same result whatever the dict's order
        value = overrides[dotted]
        parts = str(dotted).split(".")
        node, schema = raw, SCHEMA
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(schema, ListOf):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(source, dotted, f"'{part}' is not an index of this list "
                                        f"(0..{len(node) - 1})")
                part, schema = int(part), schema.table
            elif isinstance(schema, dict):
                if part not in schema or part == "variants":
                    raise ScenarioError(source, printable(dotted), f"unknown key '{printable(part)}'"
                                        f"{did_you_mean(part, [k for k in schema if k != 'variants'])}")
                schema = schema[part]
            else:
                raise ScenarioError(source, dotted, "goes below a value")
            if last:
                if not isinstance(schema, Field):
                    raise ScenarioError(source, dotted, "names a table, not a value")
                node[part] = value
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = {}
                node = node[part]
    return raw


def parse_value(text: str) -> Any:
    """A --set value: TOML syntax (true, 12, 0.5, "x", [1, 2]), or a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# ---------------------------------------------------------------- validation -----------------------------
def plain(value: Any) -> Any:
    """numpy scalars and arrays (as EMA Workbench, SALib or np.arange hand them over) as the Python values
    of the same kind, in nested lists and dicts too: np.int64 -> int, np.float64 -> float, np.bool_ -> bool."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def _check_leaf(f: Field, value: Any, source: str, key: str) -> Any:
    value = plain(value)  # the one place numpy values from any route (keywords, overrides, files) become Python
    if f.type is NUM or f.type == (int, float):
        ok = isinstance(value, NUM) and not isinstance(value, bool)
        tname = "a number"
    elif f.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        tname = "an integer"
    elif f.type is dt.date:
        ok = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        if isinstance(value, str):
            try:
                value, ok = dt.date.fromisoformat(value), True
            except ValueError:
                ok = False
        tname = "a date (YYYY-MM-DD)"
    else:
        ok = isinstance(value, f.type)
        tname = {str: "a string", bool: "true or false", list: "a list"}.get(f.type, str(f.type))
    if not ok:
        raise ScenarioError(source, key, f"must be {tname} (got {value!r})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(source, key, f"must be finite (got {value!r})")
    if f.min is not None and value < f.min:
        raise ScenarioError(source, key, f"must be >= {f.min} (got {value!r})")
    if f.max is not None and value > f.max:
        raise ScenarioError(source, key, f"must be <= {f.max} (got {value!r})")
    if f.choices and value not in f.choices:
        raise ScenarioError(source, key, f"must be one of {', '.join(f.choices)} (got {value!r})")
    return value


def walk(schema: dict, raw: Any, source: str, prefix: str = "") -> dict:
    """Check a table against a schema, leaf by leaf: unknown keys, types, ranges, defaults."""
    if not isinstance(raw, dict):
        raise ScenarioError(source, prefix.rstrip(".") or "(top)", "must be a table")
    for k in raw:
        if k not in schema:
            raise ScenarioError(source, prefix + printable(k), f"unknown key{did_you_mean(k, schema)}")
    out = {}
    for k, sub in schema.items():
        key = prefix + k
        if sub is None:
            continue
        if isinstance(sub, Field):
            if k in raw:
                out[k] = _check_leaf(sub, raw[k], source, key)
            elif sub.default is not None:
                out[k] = copy.deepcopy(sub.default)
            elif not sub.optional:
                raise ScenarioError(source, key, "is required")
        elif isinstance(sub, ListOf):
            items = raw.get(k, [])
            if not isinstance(items, list):
                raise ScenarioError(source, key, "must be a list of tables")
            out[k] = [walk(sub.table, it, source, f"{key}.{i}.") for i, it in enumerate(items)]
        else:
            out[k] = walk(sub, raw.get(k, {}), source, key + ".")
    return out


MAX_LOCATIONS, MAX_LINKS = 2_000, 20_000  # a valley is tens of places; the model keeps place-by-place arrays


def validate(raw: dict, source: str = "<dict>") -> dict:
    """Check types and ranges leaf by leaf, then the rules that tie keys together."""
    for key, most in (("locations", MAX_LOCATIONS), ("links", MAX_LINKS)):
        items = raw.get(key)
        if isinstance(items, list) and len(items) > most:
            raise ScenarioError(source, key, f"{len(items):,} entries, more than the {most:,} a valley may have")
    spec = walk({k: v for k, v in SCHEMA.items() if v is not None}, raw, source, "")
    _check_relations(spec, source)
    return spec


def _check_relations(spec: dict, source: str) -> None:
    err = lambda key, rule: ScenarioError(source, key, rule)  # noqa: E731
    locs = spec["locations"]
    for key in ("name", "title"):
        if control_characters(spec["scenario"][key]):
            raise err(f"scenario.{key}", f"a control character in {printable(spec['scenario'][key])!r}: names and "
                      "titles are printed and become directory names")
    if not locs:
        raise err("locations", "at least one location is required")
    ids = [loc["id"] for loc in locs]
    if len(set(ids)) != len(ids):
        raise err("locations", f"location ids must be unique (got {ids})")
    known = set(ids)

    def need_loc(key, lid, allow_none=False):
        if not isinstance(lid, int) or isinstance(lid, bool):
            raise err(key, f"must be a location id, a whole number (got {lid!r})")
        if allow_none and lid == -1:
            return
        if lid not in known:
            raise err(key, f"location {lid} does not exist (known ids: {sorted(known)})")

    if not any(loc["kind"] == "road" for loc in locs):
        raise err("locations", "at least one location must be of kind 'road'")
    for i, link in enumerate(spec["links"]):
        need_loc(f"links.{i}.a", link["a"])
        need_loc(f"links.{i}.b", link["b"])
        if link["a"] == link["b"]:
            raise err(f"links.{i}", "a link must join two different locations")
    _check_connected(spec, err)
    for i, st in enumerate(spec["stores"]):
        need_loc(f"stores.{i}.location", st["location"])
    for side in ("attacker", "defender"):
        s = spec["sides"][side]
        base = f"sides.{side}"
        need_loc(f"{base}.arrive_at", s["arrive_at"], allow_none=True)
        need_loc(f"{base}.reserve", s["reserve"], allow_none=True)
        for i, d in enumerate(s["deploy"]):
            need_loc(f"{base}.deploy.{i}.location", d["location"])
        share = sum(d["share"] for d in s["deploy"])
        if s["strength"] > 0 and not s["deploy"]:
            raise err(f"{base}.deploy", "a side with strength > 0 needs a deployment")
        if s["deploy"] and abs(share - 1.0) > 1e-6:
            raise err(f"{base}.deploy", f"shares must sum to 1 (got {share:g})")
        for i, w in enumerate(s["waves"]):
            key = f"{base}.waves.{i}"
            if not (isinstance(w, list) and len(w) in (2, 3) and isinstance(w[1], int) and not isinstance(w[1], bool)
                    and isinstance(w[0], (int, float)) and not isinstance(w[0], bool) and math.isfinite(w[0])):
                raise err(key, f"must be [day, fighters] or [day, fighters, location id]: a time in days (4 or "
                          f"4.5: halfway through the fifth day) and a whole number (got {w!r})")
            if len(w) == 3:
                need_loc(f"{key}.2", w[2])
            if w[0] < 0 or w[1] < 0:
                raise err(key, f"day and fighters must be >= 0 (got {w!r})")
            if w[0] >= spec["scenario"]["horizon_days"]:
                raise err(key, f"wave day {w[0]} is not before the horizon "
                          f"({spec['scenario']['horizon_days']} days)")
        for i, w in enumerate(s["withdrawals"]):
            if not (isinstance(w, list) and len(w) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                                for x in w) and isinstance(w[0], int)
                    and 0 <= w[0] and 0 <= w[1] <= 1):
                raise err(f"{base}.withdrawals.{i}", f"must be [day, share]: a whole day >= 0 and a share of the "
                          f"fighters between 0 and 1 (got {w!r})")
        if any(len(w) == 2 for w in s["waves"]) and s["arrive_at"] == -1:
            raise err(f"{base}.arrive_at", "a side with waves needs an arrival location")
        total = s["strength"] + (s["committed"] or sum(w[1] for w in s["waves"]))
        if total > MAX_FIGHTERS:
            raise err(f"{base}.waves", f"{total} fighters in all (strength and waves) is more than "
                      f"{MAX_FIGHTERS}")
        groups = total / spec["scenario"]["fighters_per_agent"]
        if groups > MAX_GROUPS:
            raise err("scenario.fighters_per_agent", f"{total} {side} fighters in groups of "
                      f"{spec['scenario']['fighters_per_agent']} make {groups:.0f} agents, more than {MAX_GROUPS}: "
                      f"raise fighters_per_agent to at least {math.ceil(total / MAX_GROUPS)}")
        shares = [st["share"] for st in spec["stores"] if st["side"] == side]
        if sum(shares) > 1 + 1e-6:
            raise err("stores", f"{side} store shares must sum to at most 1 (got {sum(shares):g})")
    horizon = spec["scenario"]["horizon_days"]
    for kind in ("air", "passes"):
        r = spec["resupply"][kind]
        if r["enabled"] and r["start_day"] >= horizon:
            raise err(f"resupply.{kind}.start_day",
                      f"start day {r['start_day']} is not before the horizon ({horizon} days)")
    for i, lid in enumerate(spec["resupply"]["air"]["landing_locations"]):
        need_loc(f"resupply.air.landing_locations.{i}", lid)
    for i, lid in enumerate(spec["resupply"]["passes"]["pass_locations"]):
        need_loc(f"resupply.passes.pass_locations.{i}", lid)
        if next(loc for loc in locs if loc["id"] == lid)["kind"] != "pass":
            raise err(f"resupply.passes.pass_locations.{i}", f"location {lid} is not a pass")
    for i, lid in enumerate(spec["collapse"]["key_locations"]):
        need_loc(f"collapse.key_locations.{i}", lid)
    if spec["resupply"]["passes"]["enabled"] and not spec["resupply"]["passes"]["pass_locations"]:
        raise err("resupply.passes.pass_locations", "resupply over the passes needs at least one pass")
    if spec["resupply"]["air"]["enabled"] and not spec["resupply"]["air"]["landing_locations"]:
        raise err("resupply.air.landing_locations", "air resupply needs at least one landing location")


def _check_connected(spec: dict, err) -> None:
    """Every location must be reachable from the mouth (the lowest road km) over links: a place no
    link reaches would be a valley of its own, held or lost without a fight."""
    locs = spec["locations"]
    road = sorted((loc["km"], i) for i, loc in enumerate(locs) if loc["kind"] == "road")
    mouth = locs[road[0][1]]["id"]
    nbrs: dict[int, list[int]] = {loc["id"]: [] for loc in locs}
    for link in spec["links"]:
        nbrs[link["a"]].append(link["b"])
        nbrs[link["b"]].append(link["a"])
    reached, frontier = {mouth}, [mouth]
    while frontier:
        a = frontier.pop()
        for b in nbrs[a]:
            if b not in reached:
                reached.add(b)
                frontier.append(b)
    cut = [loc["id"] for loc in locs if loc["id"] not in reached]
    if cut:
        names = ", ".join(f"{loc['id']} ({loc['name']})" for loc in locs if loc["id"] in cut)
        raise err("links", f"locations {names} cannot be reached from the mouth (location {mouth}): every "
                  "location needs links joining it to the rest of the valley")


def params_to_overrides(params: dict) -> dict:
    """Flat keyword parameters (shortcuts or a__b__c) to dotted keys."""
    out = {}
    for k, v in params.items():
        if k in SHORTCUTS:
            out[SHORTCUTS[k]] = v
        elif "__" in k:
            out[k.replace("__", ".")] = v
        elif "." in k:
            out[k] = v
        else:
            known = ", ".join(sorted(SHORTCUTS))
            raise ScenarioError("<parameters>", k, f"unknown parameter; use a dotted key as a__b__c "
                                f"or one of: {known}")
    return out
