"""The docs stay true to the code: every scenario key has its source in docs/parameters.md, and the
ODD names every process the model's step runs."""

import re
from pathlib import Path

from model.scenario import SCHEMA, SIDE, F, ListOf

DOCS = Path(__file__).resolve().parent.parent / "docs"


def keys(schema, prefix=""):
    for k, v in schema.items():
        if v is None:
            continue
        if isinstance(v, F):
            yield prefix + k
        elif isinstance(v, ListOf):
            for sub in v.table:
                yield f"{prefix}{k}.*.{sub}"
        elif v is SIDE:
            for sub, f in v.items():
                yield f"sides.*.{sub}" if not isinstance(f, ListOf) else f"sides.*.{sub}"
        else:
            yield from keys(v, prefix + k + ".")


def test_every_parameter_has_a_source():
    text = (DOCS / "parameters.md").read_text()
    documented = set(re.findall(r"`([a-z_.*0-9]+)`", text))
    missing = sorted(k for k in set(keys(SCHEMA)) if k not in documented
                     and not k.startswith("sides.attacker.") and not k.startswith("sides.defender."))
    assert not missing, f"not in docs/parameters.md: {missing}"


def test_odd_describes_the_schedule():
    text = (DOCS / "ODD.md").read_text()
    for step in ("Weather", "arrivals", "ResupplySource", "issue", "civilians", "consume", "decide",
                 "combat", "morale", "control", "collapse"):
        assert step.lower() in text.lower(), step
