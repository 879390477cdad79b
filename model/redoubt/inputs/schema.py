"""The generic checker of input files (scenario, sweep and calibration files): a schema is a table of `Field`s
(a leaf's type, default, range, choices) and `ListOf`s (a list of tables); `walk` checks a table against one,
leaf by leaf, and every error (`ScenarioError`) names the file, the key and the rule broken.

A schema can also be read off typed records (frozen dataclasses whose fields carry a `rule`): `schema_of`
gives the table of rules, `record_of` builds the records from a table that `walk` has checked. So the
simulation takes typed values while the files keep their dotted keys and their one-line errors.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import math
import tomllib
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .bounded import printable


class ScenarioError(ValueError):
    """A scenario (or override) breaks a rule. str() is the one-line message users see."""

    def __init__(self, source: str, key: str, rule: str):
        self.source, self.key, self.rule = str(source), key, rule
        super().__init__(f"{source}: key '{key}': {rule}")


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


def flatten(table: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def parse_value(text: str) -> Any:
    """A --set value: TOML syntax (true, 12, 0.5, "x", [1, 2]), or a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


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
        names: dict[object, str] = {str: "a string", bool: "true or false", list: "a list"}
        tname = names.get(f.type, str(f.type))
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




def did_you_mean(name: str, known) -> str:
    """'; did you mean X?' with the closest known names (a misspelt key, variant or scenario), or ''."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""



def apply_overrides(raw: dict, overrides: dict, source: str, schema: dict) -> dict:
    """Set each dotted key ("sides.defender.strength", "locations.3.cover") on a copy of raw, each key
    checked against the schema (its values are checked when the result is walked)."""
    raw = copy.deepcopy(raw)
    for dotted in sorted(overrides):  # sorted: the same result whatever the dict's order
        value = overrides[dotted]
        parts = str(dotted).split(".")
        node, at = raw, schema
        for i, name in enumerate(parts):
            last = i == len(parts) - 1
            part: str | int = name
            if isinstance(at, ListOf):
                if not name.isdigit() or int(name) >= len(node):
                    raise ScenarioError(source, dotted, f"'{name}' is not an index of this list "
                                        f"(0..{len(node) - 1})")
                part, at = int(name), at.table
            elif isinstance(at, dict):
                if name not in at or name == "variants":
                    raise ScenarioError(source, printable(dotted), f"unknown key '{printable(name)}'"
                                        f"{did_you_mean(name, [k for k in at if k != 'variants'])}")
                at = at[name]
            else:
                raise ScenarioError(source, dotted, "goes below a value")
            if last:
                if not isinstance(at, Field):
                    raise ScenarioError(source, dotted, "names a table, not a value")
                node[part] = value
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = {}
                node = node[part]
    return raw


# ---------------------------------------------------------------- validation -----------------------------


# ---------------------------------------------------------------- typed records ------------------------------
# A record's field carries its rule in its metadata; its type is the annotation: float (any number, taken as a
# float), int, bool, str, Literal[...] (a string among choices), dt.date, X | None (may be absent), a tuple of
# values (a list in the file), another record (a table) or a tuple of records (a list of tables).
_RULE, _DEFAULTS = "redoubt.rule", "redoubt.defaults"


@typing.dataclass_transform(kw_only_default=True, frozen_default=True)
def record(cls):
    """A typed, frozen parameter record: every field given by keyword, none changed after."""
    return dataclass(frozen=True, kw_only=True, slots=True)(cls)


def rule(default: Any = None, *, min: float | None = None, max: float | None = None, optional: bool = False,
         doc: str = "") -> Any:
    """A record field's rule: its default in the file (None: required), range and doc."""
    return dataclasses.field(metadata={_RULE: (default, min, max, optional, doc)})


def table(**defaults: Any) -> Any:
    """A field holding another record, with defaults of its own for this place (defender and attacker stocks)."""
    return dataclasses.field(metadata={_DEFAULTS: defaults})


@functools.cache
def _hints(cls) -> dict:
    """A record's resolved annotations (evaluated once per class: a model is built from ~70 records)."""
    return typing.get_type_hints(cls)


def _leaf_type(hint) -> tuple[Any, tuple | None]:
    """The file type (and choices) of a leaf's annotation."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return str, typing.get_args(hint)
    if origin is tuple:
        return list, None
    if hint is float:
        return NUM, None
    if hint in (int, bool, str, dt.date):
        return hint, None
    raise TypeError(f"no file type for the annotation {hint!r}")


def _item_record(hint):
    """The record type of a tuple of records (tuple[Place, ...]), or None."""
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and dataclasses.is_dataclass(args[0]):
            return args[0]
    return None


def _optional(hint):
    """X for an annotation X | None, else None."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return None


def schema_of(cls, defaults: dict | None = None) -> dict:
    """The table of rules (`Field`, `ListOf`, sub-tables) that a record's fields carry, in field order."""
    out: dict = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            out[f.name] = schema_of(hint, f.metadata.get(_DEFAULTS))
        elif (item := _item_record(hint)) is not None:
            out[f.name] = ListOf(schema_of(item))
        else:
            default, lo, hi, optional, doc = f.metadata[_RULE]
            if defaults and f.name in defaults:
                default = defaults[f.name]
            inner = _optional(hint)
            kind, choices = _leaf_type(inner if inner is not None else hint)
            out[f.name] = Field(kind, list(default) if isinstance(default, tuple) else default, lo, hi, choices,
                                doc, optional or inner is not None)
    return out


def _frozen(value: Any) -> Any:
    """Lists (of lists) as tuples: a record never changes."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def record_of(cls, checked: Any):
    """The record a table `walk` has checked stands for (numbers of float fields as floats, lists as tuples)."""
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        hint, value = hints[f.name], checked.get(f.name)  # a checked table has every key but optional ones
        if dataclasses.is_dataclass(hint):
            values[f.name] = record_of(hint, value)
        elif (item := _item_record(hint)) is not None:
            values[f.name] = tuple(record_of(item, v) for v in value)
        elif hint is float or (value is not None and _optional(hint) is float):
            values[f.name] = float(value)
        else:
            values[f.name] = _frozen(value)
    return cls(**values)
