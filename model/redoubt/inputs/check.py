"""`redoubt check FILE`: a scenario file validated with every variant, and what is legal but odd.

Errors (a rule broken) are the loader's own: one line naming the file, the key and the rule. Warnings are
for what runs but is probably not what the writer meant: key places outside the valley, a start on or after
the mean winter onset (the run ends before the offensive begins), a defended place the attacker can pass only
by fighting through it (no path round it: expect a siege there, and waves waiting behind it), waves with no
a name that differs from the file's (outputs are labelled with the name), the defenders' stores outside.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import networkx as nx

from . import scenario as scn
from .bounded import printable


def warnings_for(spec: dict, path: Path, names_itself: bool = True) -> list[str]:
    """What is legal but odd in a resolved scenario (the base, as `scn.load` returns it). `names_itself`: the
    file has its own [scenario] table (one that only extends another takes that one's name)."""
    said = []
    locs = {loc["id"]: loc for loc in spec["locations"]}
    name = spec["scenario"]["name"]
    if path.suffix == ".toml" and name != path.stem and names_itself:
        said.append(f"scenario.name is {name!r} but the file is {path.name}: outputs will be labelled {name!r} "
                    "(a copy of another valley's file keeps its name until you change it)")
    for i, lid in enumerate(spec["collapse"]["key_locations"]):
        if locs[lid]["kind"] == "outside":
            said.append(f"collapse.key_locations.{i}: {lid} ({locs[lid]['name']}) is outside the valley: the valley "
                        "falls as soon as the attacker holds it, wherever the fighting is")
    for i, st in enumerate(spec["stores"]):
        if st["side"] == "defender" and locs[st["location"]]["kind"] == "outside":
            said.append(f"stores.{i}: the defenders' {st['name']!r} is at {locs[st['location']]['name']}, outside "
                        "the valley")
    start = spec["scenario"]["start_date"]
    winter = dt.date(start.year, 1, 1) + dt.timedelta(days=int(spec["weather"]["winter_doy_mean"]) - 1)
    if spec["switches"]["weather"] and start.timetuple().tm_yday >= spec["weather"]["winter_doy_mean"]:
        said.append(f"scenario.start_date {start} is on or after the mean winter onset (day of year "
                    f"{spec['weather']['winter_doy_mean']}, {winter:%d %b}): most runs end as 'winter halted' "
                    "within days, before the offensive begins")
    said += _chokepoints(spec, locs)
    return said


def _chokepoints(spec: dict, locs: dict) -> list[str]:
    """Defended places that every route from the attacker's entry to a key place goes through."""
    g = nx.Graph()
    g.add_nodes_from(locs)
    g.add_edges_from((link["a"], link["b"]) for link in spec["links"])
    att, dfd = spec["sides"]["attacker"], spec["sides"]["defender"]
    entries = {att["arrive_at"]} if att["arrive_at"] != -1 else set()
    entries |= {w[2] for w in att["waves"] if len(w) == 3}
    defended = {d["location"] for d in dfd["deploy"] if d["share"] > 0}
    said = []
    for lid in sorted(defended):
        if lid in spec["collapse"]["key_locations"] or lid in entries:
            continue
        rest = g.subgraph([n for n in g if n != lid])
        for key in spec["collapse"]["key_locations"]:
            if key in rest and entries and not any(e in rest and nx.has_path(rest, e, key) for e in entries):
                said.append(f"location {lid} ({locs[lid]['name']}) is defended and every route from the attacker's "
                            f"entry to the key place {key} ({locs[key]['name']}) goes through it: the attacker "
                            "must fight through it (no path round it), so expect a siege there and waves waiting "
                            "behind it; add a path link round it if there is one")
                break
    return said


def check(path: Path) -> tuple[dict, list[str], list[str]]:
    """(the base spec, the variants checked, warnings); a rule broken raises ScenarioError."""
    spec = scn.load(path)
    variants = scn.variant_names(path)
    for v in variants:
        scn.load(path, v)
    raw = scn.read_toml(path)
    return spec, variants, warnings_for(spec, path, names_itself="scenario" in raw or "extends" not in raw)


def report(path: Path) -> str:
    spec, variants, said = check(path)
    sc, sides = spec["scenario"], spec["sides"]
    lines = [f"{printable(path)}: valid ({printable(sc['name'])}: {printable(sc['title'])})",
             f"  {len(spec['locations'])} places, {len(spec['links'])} links; from {sc['start_date']} for up to "
             f"{sc['horizon_days']} days",
             f"  {sides['defender']['name']}: {sides['defender']['strength']:,}; {sides['attacker']['name']}: "
             f"{sides['attacker']['strength'] + sum(w[1] for w in sides['attacker']['waves']):,} in "
             f"{len(sides['attacker']['waves'])} waves",
             f"  variants: {', '.join(variants) if variants else '(none: the base only)'}, each loaded and valid"]
    lines += [f"warning: {w}" for w in said] or ["no warnings"]
    return "\n".join(lines)
