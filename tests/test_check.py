"""`redoubt check FILE` (issue 25): every variant validated, and warnings for what is legal but odd."""

from pathlib import Path

import pytest
from redoubt.inputs.check import check
from redoubt.interfaces.cli import main

ROOT = Path(__file__).resolve().parent.parent
BASE = (ROOT / "scenarios" / "panjshir-2021.toml").read_text()


def copy(tmp_path, name="panjshir-2021", **replace) -> Path:
    text = BASE
    for old, new in replace.values():
        assert old in text, old
        text = text.replace(old, new, 1)
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def test_the_shipped_scenarios_have_no_warnings():
    for name in ("panjshir-2021", "history/panjshir-1982", "history/panjshir-1984", "history/panjshir-1996"):
        from redoubt.inputs.scenario import resolve_path

        spec, variants, said = check(resolve_path(name))
        assert said == [], (name, said)


CASES = [
    ("a copy keeps the name", "my-valley", {}, "outputs will be labelled 'panjshir-2021'"),
    ("a start after winter", "panjshir-2021", {"d": ("start_date = 2021-08-23", "start_date = 2021-12-20")},
     "after the mean winter onset"),
    ("a key place outside", "panjshir-2021", {"k": ("key_locations = [5]", "key_locations = [5, 10]")},
     "10 (Badakhshan) is outside the valley"),
    ("no path round the gorge", "panjshir-2021",  # nor the long way round by Andarab and the Khawak pass
     {"p": ('  { a = 0, b = 15, kind = "path", km = 8, days = 1, elevation = 2800 },\n', ""),
      "w": ("[10, 1000, 12]", "[10, 1000]"), "a": ('  { a = 0, b = 12, kind = "road", km = 90 },\n', "")},
     "must fight through it (no path round it)"),
]


@pytest.mark.parametrize("label,name,replace,needle", CASES, ids=[c[0] for c in CASES])
def test_what_is_legal_but_odd_is_said(tmp_path, capsys, label, name, replace, needle):
    path = copy(tmp_path, name, **replace)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and any(needle in line for line in out.splitlines() if line.startswith("warning: ")), out


def test_a_typo_inside_a_variant_that_is_not_run_is_an_error(tmp_path, capsys):
    path = copy(tmp_path, v=('"resupply.passes.enabled" = true\n"resupply.passes.through_held_share" = 0.5\n\n',
                             '"resupply.passes.enabeld" = true\n"resupply.passes.through_held_share" = 0.5\n\n'))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "passes.enabeld" in err and "did you mean 'enabled'" in err and len(err.strip().splitlines()) == 1


def test_the_write_a_valley_page_builds_a_valley_that_checks_clean_and_runs(tmp_path, capsys):
    import re

    page = (ROOT / "docs" / "write-a-valley.md").read_text()
    (toml,) = re.findall(r"```toml\n(.*?)```", page, re.S)
    path = tmp_path / "mini.toml"
    path.write_text(toml)
    spec, variants, said = check(path)
    assert said == [] and variants == ["none", "passes"]
    assert main(["run", str(path), "--variant", "passes", "--out", str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / "outcome.json").exists()
