"""What a run reports, defined once: the outcome record, the daily series and the parameter columns.

The engine, `compare` and sweeps learn their columns from here (the Arrow schema is derived from the
`Outcome` dataclass), so a field added here reaches every table, and a field not declared here is an error,
never silently dropped. This module does not import Mesa: a sweep's coordinating process uses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import types
import typing
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from ..inputs.scenario import SCHEMA, SHORTCUTS, Field, field_at

CAUSES = ("combat", "supply", "cohesion", "encirclement", "pacts")
END_REASONS = ("fell", "winter", "repulsed", "horizon", "running")
HELD = ("winter", "repulsed")  # end reasons that count as "held to winter"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One run as one flat record (`ValleyModel.outcome()` returns it as a dict)."""

    scenario: str
    variant: str
    attacker: str  # the sides' names from the scenario
    defender: str
    end_reason: str  # one of END_REASONS
    end_day: int
    end_date: str
    held_to_winter: bool
    collapse_day: int | None  # None: the valley did not fall
    collapse_date: str | None
    days_held: int  # days from the start until the valley fell, or until the run ended if it held
    cause: str | None  # one of CAUSES when the valley fell
    fell_by: str | None  # the rule that found it fallen: "key place lost", "too few defenders", "no organised
    # resistance", "valley floor lost" (in a valley with no key places)
    floor_lost_day: int | None  # first day the attacker held every key place and most of the road (None: never)
    resistance_ended_day: int | None  # first day no place had organised resistance left (None: never)
    organised_places_at_end: int  # places still resisting as a body when the run ended
    winter_onset_date: str
    winter_onset_day: int
    food_stockout_day: int | None  # first day the defenders' stores ran out (None: never)
    ammo_stockout_day: int | None
    food_days_left: float  # defender stocks (stores + carried) over the day's draw, at the end (inf: no draw)
    ammo_days_left: float
    food_t_left: float  # defender stocks (stores + carried) at the end, in tonnes
    ammo_t_left: float
    defenders_initial: int
    defenders_arrived: int
    defenders_active: int
    defenders_killed: int
    defenders_deserted: int
    defenders_surrendered: int
    defenders_surrendered_encircled: int  # of the surrendered, those who were encircled
    defenders_stood_down: int  # out of the fight under pacts at the end (some may have come back before)
    defenders_turned: int  # changed sides under pacts
    defenders_returned: int  # came back after standing down (pacts unravelling)
    defenders_dispersed: int  # gone to ground in the mountains at the end (may regroup)
    defenders_regrouped: int  # came back down after going to ground
    attackers_arrived: int  # in the valley at the start, and arrived since
    attackers_active: int
    attackers_killed: int
    attackers_deserted: int
    attackers_surrendered: int
    attackers_withdrawn: int  # recalled to demands elsewhere (overstretch)
    attackers_extra: int  # sent beyond the committed waves while the offensive stalled
    km_road_held: float
    front_km: float
    resupply_food_kg: float
    resupply_ammo_kg: float
    resupply_delivered_kg: float
    resupply_lost_kg: float
    civilians_fled: float  # left the valley over the passes
    civilians_at_end: float
    # After a fall, with collapse.run_on_after_fall, the run goes on to follow what is left of the resistance.
    # Every field above describes the run at its end (the fall); these say what the run-on found, counting it
    # (with nothing followed, the same as the run's own fields):
    run_on_end_day: int | None  # the run-on's last day (None: nothing was followed after the run ended)
    run_on_floor_lost_day: int | None  # the valley floor lost, in the run or the run-on after it (None: never)
    run_on_resistance_ended_day: int | None  # organised resistance ended, in the run or the run-on (None: not)
    run_on_organised_places_at_end: int  # places still resisting as a body on the run-on's last day

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


RUN_ON = tuple(f.name for f in dataclasses.fields(Outcome) if f.name.startswith("run_on_"))

_ARROW = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}


def arrow_type(annotation) -> pa.DataType:
    """Arrow type of a field annotation (`int`, `float | None`, ...): None only makes it nullable."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _ARROW[inner]
    return _ARROW[annotation]


def schema_of(record_cls) -> pa.Schema:
    """The Arrow schema of a record dataclass, field by field in declaration order."""
    hints = typing.get_type_hints(record_cls)
    return pa.schema([(f.name, arrow_type(hints[f.name])) for f in dataclasses.fields(record_cls)])


OUTCOME_SCHEMA = schema_of(Outcome)
# Changes whenever the record's fields do: runs of an interrupted study made under another record are not
# mixed with new ones (missing fields would read as nulls).
OUTCOME_RECORD = hashlib.sha256(",".join(OUTCOME_SCHEMA.names).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- parameter columns ----------------------
def _parameter_type(dotted: str) -> pa.DataType:
    f: Field = field_at(SCHEMA, dotted)
    types: dict[object, pa.DataType] = {int: pa.int64(), bool: pa.bool_(), str: pa.string()}
    return types.get(f.type, pa.float64())


# Every shortcut keyword is also a column of the run tables: the run's value as resolved from scenario,
# variant and overrides. attacker_committed is the waves' total, whatever the scenario says.
PARAMETER_SCHEMA = pa.schema([(name, _parameter_type(dotted)) for name, dotted in SHORTCUTS.items()])


def resolved_parameters(model) -> dict:
    """The shortcut parameters as the model runs them."""
    out = {}
    for name, dotted in SHORTCUTS.items():
        node = model.spec
        for part in dotted.split("."):
            node = node[part]
        out[name] = node
    out["attacker_committed"] = sum(w.n for w in model.waves)
    return out


# ---------------------------------------------------------------- daily series ---------------------------
# Mesa DataCollector model reporters: module-level functions (picklable), one per column, in column order.
DAILY: dict[str, Callable] = {}


def _reporter_of(table: dict) -> Callable:
    """A decorator that files a reporter function in `table` under its own name (its column)."""
    def register(fn: Callable) -> Callable:
        table[fn.__name__] = fn
        return fn

    return register


_daily = _reporter_of(DAILY)


@_daily
def day(m):
    return m.day


@_daily
def date(m):
    return m.date_of(m.day)


@_daily
def attackers_active(m):
    return m.attackers.strength()


@_daily
def defenders_active(m):
    return m.defenders.strength()


@_daily
def attackers_killed(m):
    return m.attackers.killed


@_daily
def defenders_killed(m):
    return m.defenders.killed


@_daily
def attackers_deserted(m):
    return m.attackers.deserted


@_daily
def defenders_deserted(m):
    return m.defenders.deserted


@_daily
def attackers_surrendered(m):
    return m.attackers.surrendered


@_daily
def defenders_surrendered(m):
    return m.defenders.surrendered


@_daily
def attackers_arrived(m):
    return m.attackers.arrived


@_daily
def defender_food_stores_kg(m):
    return m.stock("food")


@_daily
def defender_ammo_stores_kg(m):
    return m.stock("ammo")


@_daily
def defender_food_carried_kg(m):
    return m.carried("food")


@_daily
def defender_ammo_carried_kg(m):
    return m.carried("ammo")


@_daily
def food_days_left(m):
    return m.days_left("food")


@_daily
def ammo_days_left(m):
    return m.days_left("ammo")


@_daily
def defender_food_t(m):
    """Defender food, stores + carried, in tonnes."""
    return (m.stock("food") + m.carried("food")) / 1000.0


@_daily
def defender_ammo_t(m):
    return (m.stock("ammo") + m.carried("ammo")) / 1000.0


@_daily
def food_days_at_reference(m):
    """Defender food (stores + carried) in days of the scenario's reference draw (all its defenders and the
    civilians fed from stores, as at the start): a fixed yardstick, so it never explodes as the draw vanishes."""
    return m.days_at_reference("food")


@_daily
def ammo_days_at_reference(m):
    return m.days_at_reference("ammo")


@_daily
def km_road_held(m):
    return m.valley.road_km_held()


@_daily
def front_km(m):
    return m.front_km


@_daily
def contested_locations(m):
    return int(np.count_nonzero(m.contested))


@_daily
def temperature_c(m):
    return float(m.weather.temperature[m.valley.mouth])


@_daily
def snow_ref_cm(m):
    return m.weather.depth_ref


@_daily
def resupply_delivered_kg(m):
    return sum(sum(s.delivered.values()) for s in m.sources)


@_daily
def civilian_shortfall(m):
    return m.civilian_shortfall


SERIES = tuple(DAILY)


# ---------------------------------------------------------------- the outcome, every day -----------------
# Also collected each day (not part of `daily()`), so that the last row `mesa.batch_run` reports for a run
# holds the answer: two runs ending on the same day, one held and one fell, differ in these columns.
ANSWER: dict[str, Callable] = {}
_answer = _reporter_of(ANSWER)


@_answer
def held_to_winter(m):
    return m.held_to_winter


@_answer
def end_reason(m):
    return m.end_reason or "running"


@_answer
def collapse_day(m):
    return math.nan if m.collapse_day is None else m.collapse_day


@_answer
def cause(m):
    return m.cause  # None while (or if) the valley has not fallen, as in run()


@_answer
def winter_onset_day(m):
    return m.winter_onset_day


@_answer
def days_held(m):
    return m.days_held


assert not set(ANSWER) & set(DAILY)


# ---------------------------------------------------------------- for external drivers ------------------
def as_numbers(outcome: dict) -> dict[str, float]:
    """An outcome record as plain numbers, as EMA Workbench, SALib or scikit-learn want them: every numeric
    field (booleans as 0/1; a day that never came, or an infinite "days left", as NaN), and the categories as
    0/1 indicators (`fell`, and `cause_X` for each X in CAUSES); `days_to_fall` is always finite (a valley that
    held counts as falling not before its winter onset). No None, no strings."""
    hints = typing.get_type_hints(Outcome)
    out: dict[str, float] = {}
    for f in dataclasses.fields(Outcome):
        kind = arrow_type(hints[f.name])
        if kind == pa.string():
            continue
        value = outcome[f.name]
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            out[f.name] = math.nan
        elif kind == pa.bool_():
            out[f.name] = int(bool(value))
        else:
            out[f.name] = value
    out["fell"] = int(outcome["end_reason"] == "fell")
    # Finite whatever happened: the day the valley fell, or if it never did, the day its winter set in (held:
    # repulsed or halted by winter) or the run ended (the horizon): "never" stands as "not before winter".
    fell_day = outcome["collapse_day"]
    out["days_to_fall"] = (fell_day if fell_day is not None else
                           max(outcome["winter_onset_day"], outcome["end_day"]) if outcome["held_to_winter"]
                           else outcome["end_day"])
    for c in CAUSES:
        out[f"cause_{c}"] = int(outcome["cause"] == c)
    return out

# The daily columns a sweep keeps per run (series = true): enough for trajectories, small on disk.
SWEEP_SERIES = ("day", "defenders_active", "attackers_active", "food_days_left", "ammo_days_left", "defender_food_t",
                "defender_ammo_t", "km_road_held")
assert set(SWEEP_SERIES) <= set(DAILY)
