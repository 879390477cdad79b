"""Inputs cannot steer writes, exhaust memory or crash (issue 26): names never become paths, paths in files
are relative to the file, parsing is bounded, flags are checked before the first run. Table-driven, like
tests/test_scenario_errors.py; each case: one line naming the file or flag and the rule, exit code 2,
nothing written."""

import contextlib
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redoubt.inputs import bounded
from redoubt.inputs import scenario as scn
from redoubt.interfaces.cli import main

ROOT = Path(__file__).resolve().parent.parent
BASE = (ROOT / "scenarios" / "panjshir-2021.toml").read_text()


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def one_line_error(capsys, argv, needles, cwd: Path) -> None:
    before = sorted(str(p) for p in cwd.rglob("*"))
    with contextlib.chdir(cwd):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses a flag by exiting
            code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    assert sorted(str(p) for p in cwd.rglob("*")) == before, "something was written"


# ---------------------------------------------------------------- names are labels ----------------------
@pytest.mark.parametrize("name,expected", [
    ("panjshir-2021", "panjshir-2021"), ("/abs/path", "abs-path"), ("../../x", "x"), ("a/b", "a-b"),
    ("..", "scenario"), ("", "scenario"), ("Taliban \x1b[31m", "Taliban-31m"), ("x" * 300, "x" * 80),
    ("Pandschir-Tal ü", "Pandschir-Tal-u"),
])
def test_a_name_becomes_a_plain_directory_name(name, expected):
    assert bounded.plain_name(name) == expected


@pytest.mark.parametrize("name", ["/abs/evil", "../../escape", "a/b/c"])
def test_a_scenario_name_never_chooses_where_outputs_go(tmp_path, name, capsys):
    path = write(tmp_path, "s.toml", BASE.replace('name = "panjshir-2021"', f'name = "{name}"', 1))
    work = tmp_path / "work"
    work.mkdir()
    with contextlib.chdir(work):
        assert main(["run", str(path), "--set", "horizon_days=30"]) == 0
    made = [p for p in tmp_path.rglob("outcome.json")]
    assert len(made) == 1 and made[0].parent.parent == work / "runs", made
    assert not Path("/abs/evil-base-seed0").exists()


@pytest.mark.parametrize("name,rule", [("bad\x00name", "control character"), ("a\x1b[2Jb", "control character")])
def test_control_characters_in_names_are_refused(tmp_path, name, rule, capsys):
    path = write(tmp_path, "s.toml", BASE.replace('name = "panjshir-2021"', f'name = "{name!s}"'.replace(
        "\x00", "\\u0000").replace("\x1b", "\\u001b"), 1))
    with pytest.raises(scn.ScenarioError, match=rule) as exc:
        scn.load(path)
    assert "\x1b" not in str(exc.value) and "\x00" not in str(exc.value)


# ---------------------------------------------------------------- paths relative to the file -----------
@pytest.mark.parametrize("where", ["root", "proj", "proj/scen"])
def test_extends_is_relative_to_the_file_that_names_it(tmp_path, where, capsys):
    proj = tmp_path / "proj"
    write(proj, "scen/b.toml", BASE.replace('name = "panjshir-2021"', 'name = "beside"', 1))
    write(proj, "scen/a.toml", 'extends = "b.toml"\n[scenario]\nhorizon_days = 50\n')
    write(tmp_path, "b.toml", "this is not the file to read")  # a decoy in the current directory
    write(proj, "b.toml", "nor this")
    cwd = {"root": tmp_path, "proj": proj, "proj/scen": proj / "scen"}[where]
    with contextlib.chdir(cwd):
        spec = scn.load(proj / "scen" / "a.toml")
    assert spec["scenario"]["name"] == "beside" and spec["scenario"]["horizon_days"] == 50


def test_a_sweep_names_its_scenario_relative_to_the_sweep_file(tmp_path):
    from redoubt.studies import sweep

    proj = tmp_path / "proj"
    write(proj, "valley.toml", BASE.replace('name = "panjshir-2021"', 'name = "mine"', 1))
    write(proj, "sweeps/s.toml", textwrap.dedent("""
        [sweep]
        name = "s"
        scenario = "../valley.toml"
        [factors."sides.defender.strength"]
        levels = [3000, 4000]
    """))
    with contextlib.chdir(tmp_path):
        spec = sweep.load_spec(proj / "sweeps" / "s.toml")
    assert Path(spec["scenario"]).resolve() == (proj / "valley.toml").resolve()


# ---------------------------------------------------------------- bounded parsing ----------------------
BOUNDED = [
    ("deep arrays", "x = " + "[" * 600 + "]" * 600 + "\n", "nest more than"),
    ("deep inline tables", "x = " + "{a = " * 600 + "1" + "}" * 600 + "\n", "nest more than"),
    ("long dotted key", "a" + ".b" * 20_000 + " = 1\n", "longer than"),
    ("long quoted key", '"' + "k" * 5000 + '" = 1\n', "longer than"),
    ("long table header", "[" + "a." * 2000 + "b]\n", "longer than"),
    ("too big", "# " + "x" * (bounded.MAX_FILE_BYTES + 10) + "\n", "bytes"),
]


@pytest.mark.parametrize("label,text,needle", BOUNDED, ids=[b[0] for b in BOUNDED])
def test_a_file_past_a_limit_is_refused_before_it_is_parsed(tmp_path, capsys, label, text, needle):
    path = write(tmp_path, "in/x.toml", text)
    one_line_error(capsys, ["run", str(path)], [str(path), needle], tmp_path)


def test_an_extends_chain_past_the_limit_is_refused(tmp_path, capsys):
    write(tmp_path, "in/c0.toml", BASE)
    for i in range(1, 40):
        write(tmp_path, f"in/c{i}.toml", f'extends = "c{i - 1}.toml"\n')
    one_line_error(capsys, ["run", str(tmp_path / "in" / "c39.toml")], ["extends", "more than"], tmp_path)


def test_too_many_places_are_refused_at_once(tmp_path, capsys):
    places = "\n".join(f'[[locations]]\nid = {i}\nname = "p{i}"\nkind = "road"\nkm = {i}\nfrontage = 10\n'
                       f'cover = 0.1\nelevation = 1000' for i in range(scn.MAX_LOCATIONS + 5))
    path = write(tmp_path, "in/big.toml", "[scenario]\nname = 'big'\n" + places)
    one_line_error(capsys, ["run", str(path)], ["locations", "more than"], tmp_path)


@pytest.mark.parametrize("argv,needle", [
    (["compare", "panjshir-2021", "--variants", "none,none"], "more than once"),
    (["compare", "panjshir-2021", "--variants", "none,,air"], "empty name"),
    (["compare", "panjshir-2021", "--replications", "1000000000000"], "at most"),
    (["compare", "panjshir-2021", "--baseline", "balloon"], "--baseline"),
    (["viz", "--port", "70000"], "at most 65,535"),
    (["window", "panjshir-2021", "--start-days", "7,x"], "--start-days"),
    (["window", "panjshir-2021", "--effect", "5"], "--effect"),
])
def test_flags_are_checked_before_the_first_run(tmp_path, capsys, argv, needle):
    one_line_error(capsys, argv, [needle], tmp_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from('[]{}="\'#.,ab \n\\'), max_size=400), st.integers(0, 200))
def test_random_nesting_and_keys_never_crash_the_loader(tmp_path, text, depth):
    """Whatever the text: a ScenarioError (one line) or a loaded scenario, never another exception."""
    path = tmp_path / "r.toml"
    path.write_text("[" * depth + text + "]" * depth)
    try:
        scn.load(path)
    except scn.ScenarioError as exc:
        assert "\n" not in str(exc)


@pytest.mark.subprocess
def test_the_loader_stays_small_on_hostile_files(tmp_path):
    """Under a 1 GB address-space limit, each hostile file gets its one-line refusal (no MemoryError)."""
    cases = {"key.toml": "a" + ".b" * 100_000 + " = 1\n", "deep.toml": "x = " + "[" * 100_000 + "]" * 100_000,
             "big.toml": "# " + "x" * 50_000_000}
    for name, text in cases.items():
        write(tmp_path, name, text)
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from redoubt.inputs import scenario as scn
        for name in {sorted(cases)!r}:
            try:
                scn.load({str(tmp_path)!r} + '/' + name)
            except scn.ScenarioError as exc:
                print('refused', name)
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == [f"refused {n}" for n in sorted(cases)]
    assert resource  # the limit is set in the child, not here
