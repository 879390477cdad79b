"""The docs stay true to the code: every scenario key has its source in docs/parameters.md and is read by
the model (no documented parameter without effect), and the ODD's schedule is the model's schedule."""

import re
from pathlib import Path

import pytest
import redoubt.core.model as model_module
from redoubt.core.model import ValleyModel
from redoubt.inputs.scenario import SCHEMA, leaf_keys, load

DOCS = Path(__file__).resolve().parent.parent / "docs"

# Keys the model itself does not read, and who does.
READ_ELSEWHERE = {
    "scenario.title": "the compare report's heading",
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


class Tracked(dict):
    """A scenario dict that records every key read from it (dotted, list items as '*')."""

    def __init__(self, data: dict, path: str, seen: set):
        super().__init__({k: track(v, f"{path}{k}.", seen) for k, v in data.items()})
        self._path, self._seen = path, seen

    def __getitem__(self, key):
        self._seen.add(self._path + str(key))
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._seen.add(self._path + str(key))
        return super().get(key, default)


def track(value, prefix: str, seen: set):
    if isinstance(value, dict):
        return Tracked(value, prefix, seen)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [Tracked(v, prefix + "*.", seen) for v in value]
    return value


def test_every_scenario_key_is_read_by_the_model(monkeypatch):
    """A key in the schema that no code reads is a parameter with no effect: it must go, or be wired in."""
    seen: set[str] = set()
    monkeypatch.setattr(model_module, "load", lambda *a, **kw: track(load(*a, **kw), "", seen))
    runs = [dict(variant="air+passes", rng=s) for s in (1, 2)]
    runs += [dict(rng=3, food_days=400, ammo_days=400)]  # runs on into the snow
    runs += [dict(rng=4, **{f"switches__{k}": False}) for k in ("logistics", "morale", "movement", "weather")]
    runs += [dict(variant="air+passes", rng=5, resupply__air__load="fixed", resupply__passes__load="fixed")]
    runs += [dict(rng=6, sides__attacker__pause_loss_share=0.01)]  # attacks break off (pause_days)
    for kw in runs:
        m = ValleyModel(**kw)
        m.run()
    read = {side_generic(k) for k in seen}
    unread = [k for k in SCENARIO_KEYS if k not in read and k not in READ_ELSEWHERE]
    assert not unread, f"scenario keys that no code reads: {unread}"


@pytest.mark.parametrize("key", sorted(READ_ELSEWHERE))
def test_keys_read_elsewhere_are_real_keys(key):
    assert key in SCENARIO_KEYS
