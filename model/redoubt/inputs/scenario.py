"""Scenario files: TOML in, one validated nested dict out (`load`), and the typed records the model takes
(`load_params`, `redoubt.core.params`).

A scenario describes one valley (locations, links, stores), two sides, the weather, outside resupply and
the rules for collapse. Variants are named sets of overrides by dotted key ("resupply.air.enabled").
Every error names the file, the key and the rule broken, and is raised before anything is written.
"""

from __future__ import annotations

import copy
import functools
import math
import pickle
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.params import MAX_FIGHTERS, MAX_GROUPS, Params
from . import uncertain
from .bounded import MAX_EXTENDS, MAX_FILE_BYTES, control_characters, printable, scan
from .schema import (
    NUM,
    Field,
    ListOf,
    ScenarioError,
    apply_overrides,
    did_you_mean,
    field_at,
    flatten,
    leaf_keys,
    parse_value,
    plain,
    record_of,
    schema_of,
    walk,
)

__all__ = ["DEFAULT_SCENARIO", "NUM", "SCHEMA", "SHORTCUTS", "Field", "ListOf", "ScenarioError", "catalogue",
           "check_variants", "field_at", "files_digest", "flatten", "leaf_keys", "load", "load_params",
           "params_to_overrides", "parse_value", "plain", "read_toml", "resolve_from", "resolve_path", "validate",
           "variant_names", "walk"]

DEFAULT_SCENARIO = "panjshir-2021"


# ---------------------------------------------------------------- schema ---------------------------------
# The scenario file's schema is read off the typed records the model takes (redoubt.core.params): one place
# for each key's type, default, range and meaning.
SCHEMA: dict = {**schema_of(Params), "variants": None}  # variants: a table of overrides each, checked by applying


def load_params(spec: dict) -> Params:
    """The typed records of a resolved scenario (what `load` returns). Records are frozen all the way down, so
    the runs of one design point share one set: found once per process for the same scenario (keyed by the
    pickled dict, so only the same values can match)."""
    return _params_of(pickle.dumps(spec))


@functools.lru_cache(maxsize=16)
def _params_of(spec: bytes) -> Params:
    return record_of(Params, pickle.loads(spec))


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
    try:
        return pickle.loads(_parse(text))  # a fresh copy: callers change what they are given
    except _Unreadable as exc:
        raise ScenarioError(where, "(file)", str(exc)) from None


class _Unreadable(Exception):
    """Why a file's text cannot be parsed (read_toml names the file)."""


@functools.lru_cache(maxsize=8)
def _parse(text: str) -> bytes:
    """A file's text, checked and parsed, pickled. A study builds a model from the same file thousands of times:
    the file is read each time (an edit is seen at once), but the same text is scanned and parsed once."""
    broken = scan(text)
    if broken is not None:
        raise _Unreadable(f"{broken[1]}: refused before parsing")
    try:
        return pickle.dumps(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise _Unreadable(f"malformed TOML: {exc}") from None
    except RecursionError:  # a safety net: scan() bounds the nesting well below this
        raise _Unreadable("nests too deep to read") from None


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
    uncertain = _uncertain(raw.pop("uncertain", None), source, files)
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
        raw = apply_overrides(raw, flatten(vt), source, SCHEMA)
    if overrides:
        source = f"{source} [overrides]"
        raw = apply_overrides(raw, overrides, source, SCHEMA)
    spec = validate(raw, source)
    spec["variants"] = {k: dict(v) for k, v in variants.items()}
    spec["uncertain"] = uncertain
    spec["_source"] = source.split(" [")[0]
    spec["_files"] = [str(f) for f in files]
    spec["_variant"] = variant or "base"
    return spec


def extend(raw: dict, source: str, read: list[Path]) -> dict:
    """A file with `extends = "NAME"` is that scenario with the file's tables laid over it (tables merged
    key by key, values and lists replaced; the base's variants are not inherited): the history episodes
    share the valley and the behaviour parameters of the file they extend, and give only their own inputs.
    An `[uncertain]` table replaces the base's whole (an empty one: nothing drawn); without one, the base's
    is inherited. A `[changes]` table sets single values of the base by dotted key, as a variant does
    (`"locations.10.held_by" = "none"`): one place of the valley can differ without copying the whole list.
    The files it reads are added to `read` (what a result depends on)."""
    base_name = raw.pop("extends", None)
    if base_name is None:
        if "changes" in raw:
            raise ScenarioError(source, "changes", "only a file that extends another can have [changes] (set "
                                "the values themselves here)")
        return raw
    changes = raw.pop("changes", {})
    if not isinstance(changes, dict):
        raise ScenarioError(source, "changes", 'must be a table of dotted keys, e.g. "locations.10.held_by" = "none"')
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
    if "uncertain" in raw:  # replaced whole, never merged: what one episode does not know is not another's
        base.pop("uncertain", None)
    if changes:
        base = apply_overrides(base, flatten(changes), f"{source} [changes]", SCHEMA)
    return _lay_over(base, raw)


def _uncertain(table, source: str, files: list[Path]) -> dict:
    """The checked [uncertain] table (inputs/uncertain.py); its parameter-sets file joins the files read."""
    if table is None:
        return {"parameters": None, "inputs": {}}
    out = uncertain.parse(table, source, SCHEMA, resolve_from, read_toml)
    if out["parameters"]:
        files.append(Path(out["parameters"]))
    return out


def read_parameter_sets(path: str) -> list[tuple[float, dict]]:
    """The weighted parameter sets of an [uncertain] parameters file (checked, cached)."""
    return uncertain.read_sets(Path(path), SCHEMA, read_toml)


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
            entry: dict[str, Any] = {"name": name, "path": str(path), "title": _first_comment(path)}
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


MAX_LOCATIONS, MAX_LINKS = 2_000, 20_000  # a valley is tens of places; the model keeps place-by-place arrays


def validate(raw: dict, source: str = "<dict>") -> dict:
    """Check types and ranges leaf by leaf, then the rules that tie keys together. The same table is checked
    once per process (a study builds thousands of models from one scenario): keyed by its pickled values and
    the source its errors name; a table that does not pickle is checked each time."""
    try:
        key = pickle.dumps(raw)
    except Exception:  # noqa: BLE001 - not a plain table (a dict handed in by a caller): check it as it is
        return _validate(raw, source)
    return pickle.loads(_validated(key, source))


@functools.lru_cache(maxsize=32)
def _validated(raw: bytes, source: str) -> bytes:
    return pickle.dumps(_validate(pickle.loads(raw), source))


def _validate(raw: dict, source: str) -> dict:
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
