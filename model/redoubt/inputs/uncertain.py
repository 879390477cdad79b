"""A scenario's `[uncertain]` table: what the file does not know exactly, drawn afresh for every run.

    [uncertain]
    parameters = "history/posterior"            # weighted parameter sets (from `redoubt calibrate`): one per run
    [uncertain.inputs]
    "sides.defender.morale" = [0.45, 0.8]       # uniform over [low, high] (whole numbers for a whole-number key)

The file's own values stay the values of a run that does not draw (`switches.uncertain = false`), and any key
a run fixes (an override, a sweep factor, a slider) is not drawn. The draws themselves are the model's
(core/uncertain.py): one random stream per key, from the run's seed.

Here: the table checked, the sets file read and checked; errors name the file, the key and the rule.
"""

from __future__ import annotations

import math
from pathlib import Path

from .schema import NUM, ScenarioError, field_at

MAX_SETS = 100_000


def parse(table, source: str, schema: dict, resolve, read_toml) -> dict:
    """The checked `[uncertain]` table: {"parameters": path or None, "inputs": {key: [lo, hi]}}.
    `resolve(name, source)` finds a file named in another; `read_toml(path, what)` reads one."""
    err = lambda key, rule: ScenarioError(source, f"uncertain{'.' + key if key else ''}", rule)  # noqa: E731
    if not isinstance(table, dict):
        raise err("", 'must be a table: [uncertain] with parameters = "FILE" and/or [uncertain.inputs]')
    unknown = sorted(set(table) - {"parameters", "inputs"})
    if unknown:
        raise err(unknown[0], "unknown key: [uncertain] holds parameters = \"FILE\" and an [uncertain.inputs] "
                  "table of ranges")
    inputs = table.get("inputs", {})
    if not isinstance(inputs, dict):
        raise err("inputs", 'must be a table of dotted keys and ranges, e.g. "sides.defender.morale" = [0.45, 0.8]')
    out: dict = {"parameters": None, "inputs": {}}
    for key in sorted(inputs):
        rng = inputs[key]
        field = _numeric_field(schema, key, lambda rule, k=key: err(f"inputs.{k}", rule))
        if not (isinstance(rng, list) and len(rng) == 2 and all(_number(x) for x in rng) and rng[0] < rng[1]):
            raise err(f"inputs.{key}", f"must be [low, high] with low < high (got {rng!r})")
        lo, hi = float(rng[0]), float(rng[1])
        if (field.min is not None and lo < field.min) or (field.max is not None and hi > field.max):
            raise err(f"inputs.{key}", f"[{lo:g}, {hi:g}] goes outside what the key allows "
                      f"({field.min if field.min is not None else '-inf'} to "
                      f"{field.max if field.max is not None else 'inf'})")
        out["inputs"][key] = [lo, hi]
    name = table.get("parameters")
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise err("parameters", f"must be the name or path of a parameter-sets file (got {name!r})")
        path = resolve(name, source)
        if not path.is_file():
            raise err("parameters", f"no such file: {name!r} (looked for {path})")
        sets = read_sets(path, schema, read_toml)
        both = sorted(set(sets[0][1]) & set(out["inputs"]))
        if both:
            raise err(f"inputs.{both[0]}", "is also in the parameter sets: a key is drawn one way or the other")
        out["parameters"] = str(path)
    return out


def read_sets(path: Path, schema: dict, read_toml) -> list[tuple[float, dict]]:
    """The weighted parameter sets of a file ([[set]] weight = W, "dotted.key" = value, ...), checked; cached by
    the file's path, size and time (a sweep's runs read it once per process)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SETS:
        if len(_SETS) >= 8:
            _SETS.pop(next(iter(_SETS)))
        _SETS[key] = _read_sets(str(path), schema, read_toml)
    return _SETS[key]


_SETS: dict[tuple, list] = {}  # (path, size, time) -> sets, oldest first


def _read_sets(path: str, schema: dict, read_toml):
    raw = read_toml(Path(path), "parameter-sets file")
    err = lambda key, rule: ScenarioError(path, key, rule)  # noqa: E731
    items = raw.get("set")
    if not isinstance(items, list) or not items:
        raise err("set", "at least one [[set]] is required")
    if len(items) > MAX_SETS:
        raise err("set", f"{len(items):,} sets, more than the {MAX_SETS:,} a file may hold")
    keys = None
    sets = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise err(f"set.{i}", "must be a table")
        w = item.get("weight")
        if not isinstance(w, NUM) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
            raise err(f"set.{i}.weight", f"must be a number >= 0 (got {w!r})")
        values = {k: v for k, v in item.items() if k != "weight"}
        if keys is None:
            keys = sorted(values)
            if not keys:
                raise err(f"set.{i}", "names no parameter")
            fields = {k: _numeric_field(schema, k, lambda rule, k=k: err(f"set.{i}.{k}", rule)) for k in keys}
        if sorted(values) != keys:
            raise err(f"set.{i}", f"must name the same keys as the first set ({', '.join(keys)})")
        for k, v in values.items():
            f = fields[k]
            if not _number(v) or (f.min is not None and v < f.min) or (f.max is not None and v > f.max):
                raise err(f"set.{i}.{k}", f"must be a number within the key's range (got {v!r})")
        sets.append((float(w), {k: (int(values[k]) if fields[k].type is int else float(values[k])) for k in keys}))
    if sum(w for w, _ in sets) <= 0:
        raise err("set", "the weights add up to 0: no set can be drawn")
    return sets


def draws_anything(uncertain: dict) -> bool:
    """Does a checked [uncertain] table (`spec["uncertain"]`) have anything to draw?"""
    return bool(uncertain.get("parameters") or uncertain.get("inputs"))


def is_integer(schema: dict, key: str) -> bool:
    return field_at(schema, key).type is int


def _numeric_field(schema: dict, key, fail):
    if not isinstance(key, str) or "*" in key:
        raise fail("is not a scenario key")
    try:
        field = field_at(schema, key)
    except (KeyError, TypeError):
        raise fail("is not a scenario key") from None
    if field.type not in (NUM, int, float):
        raise fail("is not a number, so it cannot be uncertain")
    return field


def _number(x) -> bool:
    return isinstance(x, NUM) and not isinstance(x, bool)
