"""The docs stay true to the code: every scenario key has its source in docs/parameters.md and is read by
the model (no documented parameter without effect), and the ODD's schedule is the model's schedule."""

import dataclasses
import re
from pathlib import Path

import pytest
import redoubt.core.model as model_module
from redoubt.core.model import ValleyModel
from redoubt.core.params import effective
from redoubt.inputs.scenario import SCHEMA, leaf_keys, load_params

DOCS = Path(__file__).resolve().parent.parent / "docs"

# Keys the model itself does not read, and who does.
READ_ELSEWHERE = {
    "scenario.title": "the compare report's heading",
    "switches.uncertain": "ValleyModel._draw_uncertain, before the records are built (tests/test_uncertain.py)",
}


def side_generic(key: str) -> str:
    return re.sub(r"^sides\.(attacker|defender)\.", "sides.*.", key)


SCENARIO_KEYS = sorted({side_generic(k) for k in leaf_keys(SCHEMA)})


def test_every_parameter_has_a_source():
    text = (DOCS / "parameters.md").read_text()
    documented = set(re.findall(r"`([a-z_.*0-9]+)`", text))
    missing = [k for k in SCENARIO_KEYS if k not in documented]
    assert not missing, f"not in docs/parameters.md: {missing}"


def odd_section(number: str) -> str:
    text = (DOCS / "ODD.md").read_text()
    start = text.index(f"### {number} ")
    end = text.index("\n### ", start + 1)
    return text[start:end]


def test_odd_lists_the_schedule_in_the_models_order():
    # Each numbered item of ODD 1.3 names the phase method it describes, e.g. "1. **Weather** (`_weather`)".
    items = re.findall(r"^\d+\. \*\*[^*]+\*\* \(`(_\w+)`", odd_section("1.3"), flags=re.M)
    assert items == list(ValleyModel.SCHEDULE)
    for phase in ValleyModel.SCHEDULE:
        assert callable(getattr(ValleyModel, phase)), phase


class Tracked:
    """A parameter record that records every field read from it (dotted, list items as '*'); for isinstance it
    is the record it wraps."""

    __slots__ = ("_target", "_path", "_seen")

    def __init__(self, target, path: str, seen: set):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_seen", seen)

    @property
    def __class__(self):  # noqa: F811 (isinstance(tracked, Side) holds)
        return type(object.__getattribute__(self, "_target"))

    def __getattr__(self, name):
        target, path, seen = (object.__getattribute__(self, k) for k in ("_target", "_path", "_seen"))
        value = getattr(target, name)
        if name.startswith("__"):
            return value
        seen.add(path + name)
        return track(value, f"{path}{name}.", seen)


def track(value, prefix: str, seen: set):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return Tracked(value, prefix, seen)
    if isinstance(value, tuple) and value and all(dataclasses.is_dataclass(v) for v in value):
        return tuple(Tracked(v, prefix + "*.", seen) for v in value)
    return value


def untracked(value):
    return object.__getattribute__(value, "_target") if type(value) is Tracked else value


def test_every_scenario_key_is_read_by_the_model(monkeypatch):
    """A key in the schema that no code reads is a parameter with no effect: it must go, or be wired in. The
    model's typed records (load_params) are watched field by field, the switches after `effective` too."""
    seen: set[str] = set()
    monkeypatch.setattr(model_module, "load_params", lambda spec: track(load_params(spec), "", seen))
    monkeypatch.setattr(model_module, "effective", lambda sw: track(effective(untracked(sw)), "switches.", seen))
    runs = [dict(variant="air+passes", rng=s) for s in (1, 2)]
    runs += [dict(rng=3, food_days=400, ammo_days=400)]  # runs on into the snow
    runs += [dict(rng=4, **{f"switches__{k}": False}) for k in ("logistics", "morale", "movement", "weather")]
    runs += [dict(variant="air+passes", rng=5, resupply__air__load="fixed", resupply__passes__load="fixed",
                  switches__main_effort=False, locations__10__held_by="none")]  # the pass route open
    runs += [dict(rng=6, sides__attacker__pause_loss_share=0.01)]  # attacks break off (pause_days)
    runs += [dict(scenario_file="history/panjshir-1984", rng=7, switches__main_effort=True)]  # issue 21's processes
    runs += [dict(rng=9, switches__outside_pacts=True, sides__defender__outside_pact_share=0.5)]
    runs += [dict(rng=8, switches__fire_support=True),  # supporting fire in the fights (frontage decisions: below)
             dict(rng=8, switches__frontage_decisions=True, switches__fire_support=True,
                  **{f"sides__{side}__{key}": value for side in ("attacker", "defender")
                     for key, value in (("support_weapons", 5), ("support_lethality", 0.002),
                                        ("support_ammo_kg_per_day", 20))})]
    for kw in runs:
        m = ValleyModel(**kw)
        m.run()
    read = {side_generic(k) for k in seen}
    unread = [k for k in SCENARIO_KEYS if k not in read and k not in READ_ELSEWHERE]
    assert not unread, f"scenario keys that no code reads: {unread}"


def test_an_unread_key_would_be_found(monkeypatch):
    """The watch above can fail: a key read nowhere (as if its code were gone) is reported."""
    seen: set[str] = set()
    monkeypatch.setattr(model_module, "load_params", lambda spec: track(load_params(spec), "", seen))
    m = ValleyModel(rng=1)
    for _ in range(3):
        m.step()
    read = {side_generic(k) for k in seen}
    assert "sides.*.lethality" in read and "resupply.air.payload_t" not in read  # air is off in the baseline


@pytest.mark.parametrize("key", sorted(READ_ELSEWHERE))
def test_keys_read_elsewhere_are_real_keys(key):
    assert key in SCENARIO_KEYS


def architecture_tables() -> dict[str, dict[str, list[str]]]:
    """docs/ARCHITECTURE.md's map: {layer: {file: [names the row mentions]}}."""
    text = (DOCS / "ARCHITECTURE.md").read_text()
    out: dict[str, dict[str, list[str]]] = {}
    layer = None
    for line in text.splitlines():
        heading = re.match(r"^## `redoubt/(\w+)/`", line)
        if heading:
            layer = heading.group(1)
            out[layer] = {}
        elif line.startswith("## "):
            layer = None
        elif layer and (row := re.match(r"^\| `(\w+\.py)` \| (.*) \|$", line)):
            out[layer][row.group(1)] = [n for n in re.findall(r"`([^`]+)`", row.group(2))
                                        if re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*", n)]
    return out


def has_path(obj, dotted: str) -> bool:
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def test_the_architecture_map_names_what_exists():
    """Every file the map lists is there and holds every name its row gives; every module of a layer is on
    the map."""
    import importlib

    package = Path(model_module.__file__).resolve().parent.parent
    tables = architecture_tables()
    assert set(tables) == {"inputs", "core", "studies", "interfaces"}
    for layer, files in tables.items():
        on_disk = {p.name for p in (package / layer).glob("*.py") if p.name != "__init__.py"}
        assert set(files) == on_disk, (layer, sorted(on_disk ^ set(files)))
        for name, mentioned in files.items():
            module = importlib.import_module(f"redoubt.{layer}.{name[:-3]}")
            missing = [n for n in mentioned if not has_path(module, n)]
            assert not missing, f"docs/ARCHITECTURE.md: redoubt/{layer}/{name} has no {missing}"
