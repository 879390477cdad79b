"""The second real valley, Swat 2009 (issue 25, item 6): written through the documented path, it checks clean
with every variant, runs with each, and the commands take it by name like the Panjshir."""

import subprocess
import sys

import pytest
from redoubt import ValleyModel
from redoubt.inputs.check import warnings_for
from redoubt.inputs.scenario import catalogue, load, resolve_path


def test_it_is_in_the_catalogue_with_its_variants():
    entry = next(e for e in catalogue()["scenarios"] if e["name"] == "swat-2009")
    assert set(entry["variants"]) == {"none", "passes"} and "Swat" in entry["title"]


def test_it_loads_with_its_own_places_and_forces():
    spec = load("swat-2009")
    assert spec["scenario"]["start_date"].isoformat() == "2009-05-08"
    names = [loc["name"] for loc in spec["locations"]]
    assert "Mingora / Saidu Sharif" in names and "Dalan Sang gorge (mouth)" not in names
    assert spec["sides"]["attacker"]["name"] == "Pakistan Army" and spec["sides"]["defender"]["strength"] == 4500
    assert spec["collapse"]["key_locations"] == [3]


def test_check_warns_only_about_the_one_way_to_mingora():
    path = resolve_path("swat-2009")
    said = warnings_for(load(path), path, True)
    assert len(said) == 1 and "Barikot" in said[0]


@pytest.mark.parametrize("variant", ["none", "passes"])
def test_each_variant_runs_to_an_end(variant):
    o = ValleyModel("swat-2009", variant=variant, rng=3).run()
    assert o["end_reason"] in ("fell", "winter", "repulsed", "horizon") and o["scenario"] == "swat-2009"
    assert o["defenders_initial"] == 4500


@pytest.mark.subprocess
def test_the_commands_take_it_by_name(tmp_path):
    run = [sys.executable, "-m", "redoubt"]
    r = subprocess.run([*run, "check", "swat-2009"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0 and "valid" in r.stdout, r.stderr
    r = subprocess.run([*run, "compare", "swat-2009", "--replications", "4", "--jobs", "1", "--out", "cmp"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "cmp" / "report.md").read_text().count("Swat") >= 1
