"""The redoubt command end to end on small cases: files, columns, identical reruns, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from redoubt.interfaces.cli import main

ROOT = Path(__file__).resolve().parent.parent


def redoubt(*args, **kw):
    return subprocess.run([sys.executable, "-m", "redoubt", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.mark.subprocess
def test_help_on_every_command():
    for cmd in ([], ["run"], ["compare"], ["sweep"], ["list"], ["viz"]):
        r = redoubt(*cmd, "--help")
        assert r.returncode == 0 and "usage: redoubt" in r.stdout


def test_run_writes_outcome_and_daily(tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["run", "panjshir-2021", "--variant", "air", "--seed", "3", "--set", "fighters_per_agent=20",
                 "--set", "sides.defender.strength=5000", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    o = json.loads((out / "outcome.json").read_text())
    assert o["variant"] == "air" and o["seed"] == 3 and o["defenders_initial"] == 5000
    assert "held_to_winter" in printed
    daily = pd.read_csv(out / "daily.csv")
    assert len(daily) == o["end_day"] + 1 and "food_days_left" in daily
    assert "e-" not in (out / "daily.csv").read_text()  # no float noise such as 1.1102230246251565e-16
    values = [line.split()[1] for line in printed.splitlines() if len(line.split()) == 2]
    decimals = [v for v in values if v.replace(".", "", 1).isdigit() and "." in v]
    assert decimals and all(len(v.split(".")[1]) == 1 for v in decimals), decimals  # 58.9, not 58.88719...


def test_outcome_json_has_no_infinity(tmp_path, capsys):
    """No defenders: nothing draws on the ammunition, so its days left are infinite: null, with the reason."""
    out = tmp_path / "none"
    assert main(["run", "panjshir-2021", "--set", "sides.defender.strength=0", "--out", str(out)]) == 0
    text = (out / "outcome.json").read_text()
    o = json.loads(text, parse_constant=lambda c: pytest.fail(f"outcome.json holds {c}"))
    assert o["ammo_days_left"] is None and "infinite" in o["notes"]["ammo_days_left"]
    assert "infinite" in capsys.readouterr().out


COMPARE_COLUMNS = {"variant", "runs", "p_hold", "p_hold_lo95", "p_hold_hi95", "collapse_median", "collapse_q25",
                   "collapse_q75", "cause_combat", "cause_supply", "cause_cohesion", "cause_encirclement",
                   "cause_pacts", "p_floor_lost", "p_resistance_ended", "p_repulsed", "p_winter", "p_fell",
                   "days_held_median", "food_t_left_median", "ammo_t_left_median"}
EFFECT_COLUMNS = {"variant", "baseline", "pairs", "p_hold_baseline", "p_hold", "diff", "diff_lo95", "diff_hi95",
                  "better", "worse", "mcnemar_p", "days_diff", "days_diff_lo95", "days_diff_hi95", "pairs_needed",
                  "distinguishable"}


def summary_p(summary, variant):
    return float(summary.set_index("variant").loc[variant, "p_hold"])


@pytest.mark.slow
def test_compare_files_columns_and_identical_reruns(tmp_path, capsys):
    args = ["compare", "panjshir-2021", "--variants", "none,passes", "--replications", "6", "--seed", "11",
            "--jobs", "2", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    table_text = capsys.readouterr().out
    assert "P(hold), CI" in table_text and "passes" in table_text
    assert table_text.index("What each variant changes") < table_text.index("Each variant on its own")
    a = tmp_path / "a"
    assert sorted(p.name for p in a.iterdir()) == [".redoubt", "effects.csv", "falls.png", "forces.png",
                                                  "outcomes.png", "report.md", "runs.parquet", "stocks.png",
                                                  "summary.csv"]
    assert (a / ".redoubt").read_text().strip() == "compare"  # what made it; the lock is gone
    summary = pd.read_csv(a / "summary.csv")
    assert COMPARE_COLUMNS <= set(summary.columns) and list(summary["variant"]) == ["none", "passes"]
    assert (summary["p_hold_lo95"] <= summary["p_hold"]).all() and (summary["p_hold"] <= summary["p_hold_hi95"]).all()
    runs = pq.read_table(a / "runs.parquet").to_pandas()
    assert len(runs) == 12 and {"seed", "variant", "held_to_winter", "cause", "collapse_date"} <= set(runs.columns)
    assert set(runs.loc[runs["variant"] == "passes", "passes"]) == {True}
    assert set(runs.loc[runs["variant"] == "none", "passes"]) == {False}
    # what the scenario leaves open is drawn per replication, the same in both variants (paired)
    drawn = runs.pivot(index="replication", columns="variant", values="defender_strength")
    assert (drawn["none"] == drawn["passes"]).all() and drawn["none"].nunique() == 6
    assert runs["drawn"].str.contains("sides.defender.strength").all()
    assert runs.loc[runs["variant"] == "passes", "parameters"].str.contains("resupply.passes.enabled").all()
    assert (runs["status"] == "ok").all()
    report = (a / "report.md").read_text()
    for needle in ("outcomes.png", "stocks.png", "forces.png", "Master seed: 11", "mesa", "Git revision",
                   "drawn afresh for each replication"):
        assert needle in report
    effects = pd.read_csv(a / "effects.csv")
    assert EFFECT_COLUMNS <= set(effects.columns) and list(effects["variant"]) == ["passes"]
    e = effects.iloc[0]
    assert e["baseline"] == "none" and e["pairs"] == 6 and e["diff_lo95"] <= e["diff"] <= e["diff_hi95"]
    assert e["diff"] == summary_p(summary, "passes") - summary_p(summary, "none")
    rows = [line for line in report.splitlines() if line.startswith("|")]
    assert len(rows) == 3 + 4  # effects: header, rule, 1 variant; then each variant: header, rule, 2 variants
    assert rows[2].startswith("| passes | none | ") and rows[5].startswith("| none | 6 | ")
    assert all(len(line) <= 100 for line in table_text.splitlines()), "the terminal output fits 100 columns"
    summary_rows = summary.set_index("variant")
    for v, description in (("none", "no outside resupply"), ("passes", "porters over the Anjuman pass")):
        on_its_own = report.split("## Each variant on its own")[1]
        said = next(line for line in on_its_own.splitlines() if line.startswith(f"- {v} ("))
        p = summary_rows.loc[v, "p_hold"]
        assert description in said and f"holds to winter in {p * 100:.0f}% of runs" in said, said
    sections = [line for line in report.splitlines() if line.startswith("## ")]
    assert sections[0] == "## The answer"  # the report opens with the answer
    first = report.split("## The answer\n")[1].splitlines()[0]
    assert first.startswith("- passes (porters") and "against none" in first
    for name in ("P(hold), CI", "fell: median (IQR)", "cause %", "resup. t", "left t", "rep/win/fell",
                 "better/worse", "McNemar p", "days held change", "verdict"):
        assert f"**{name}**" in report and name in table_text
    # same seed, serial this time: identical outcomes
    assert main(args[:-3] + ["--jobs", "1", "--quiet", "--out", str(tmp_path / "b")]) == 0
    b = pq.read_table(tmp_path / "b" / "runs.parquet").to_pandas()
    pd.testing.assert_frame_equal(runs.drop(columns="seconds"), b.drop(columns="seconds"))
    # --fixed: every run at the file's own values, and the report says the intervals are chance alone
    assert main(args + ["--fixed", "--out", str(tmp_path / "c")]) == 0
    c = pq.read_table(tmp_path / "c" / "runs.parquet").to_pandas()
    assert (c["defender_strength"] == 6000).all() and (c["attacker_committed"] == 12000).all()
    assert (c["drawn"] == "{}").all() and "chance alone" in (tmp_path / "c" / "report.md").read_text()


@pytest.mark.subprocess
@pytest.mark.parametrize("args,needle", [
    (["compare", "no-such-scenario"], "no such scenario file"),
    (["compare", "panjshir-2021", "--variants", "balloon"], "variants.balloon': no such variant"),
    (["compare", "panjshir-2021", "--replications", "0"], "must be at least 1"),
    (["run", "panjshir-2021", "--set", "sides.defender.strenght=5"], "unknown key 'strenght'"),
    (["run", "panjshir-2021", "--set", "sides.defender.strength=many"], "must be an integer"),
    (["run", "panjshir-2021", "--set", "nonsense"], "expected KEY=VALUE"),
    (["run", "panjshir-2021", "--variant", "balloon"], "no such variant"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, args, needle):
    out = tmp_path / "out"
    r = redoubt(*args, "--out", str(out))
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert needle in r.stderr and len(lines) == 1, r.stderr
    assert not out.exists()


@pytest.mark.subprocess
def test_outputs_never_destroy_a_users_files(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    for extra in ([], ["--force"]):  # a directory redoubt did not make: refused, even with --force
        r = redoubt("run", "panjshir-2021", "--out", str(mine), *extra)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert sorted(p.name for p in mine.iterdir()) == ["keep.txt"]
    out = tmp_path / "out"
    fast = ["--set", "fighters_per_agent=50", "--out", str(out)]
    assert redoubt("run", "panjshir-2021", *fast).returncode == 0
    (out / "important.txt").write_text("a user's file")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("1,2")
    r = redoubt("run", "panjshir-2021", "--seed", "4", *fast)
    assert r.returncode == 2 and "not empty" in r.stderr
    r = redoubt("run", "panjshir-2021", "--seed", "4", *fast, "--force")  # replaces redoubt's files only
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "outcome.json").read_text())["seed"] == 4
    assert (out / "important.txt").exists() and (out / "sub" / "data.csv").exists()


@pytest.mark.subprocess
@pytest.mark.parametrize("out", [".", "/proc/x", "/dev/null/x"])
def test_unusable_out_one_line_exit_2(tmp_path, out):
    (tmp_path / "a.txt").write_text("keep")
    r = subprocess.run([sys.executable, "-m", "redoubt", "run", "panjshir-2021", "--out", out, "--force"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--out" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


@pytest.mark.subprocess
def test_ctrl_c_during_compare_keeps_the_finished_runs_and_the_same_command_resumes(tmp_path, record_property):
    """Ctrl-C in a terminal signals the whole process group, once runs are under way. No clock: wait
    until the first chunk of runs is on disk (or the command has ended), then interrupt. The finished runs
    stay, marked incomplete (no report, no table presented as finished); the same command resumes."""
    out = tmp_path / "cmp"
    command = [sys.executable, "-m", "redoubt", "compare", "panjshir-2021", "--variants", "none,passes",
               "--replications", "120", "--set", "horizon_days=30", "--set", "scenario.fighters_per_agent=40",
               "--jobs", "2", "--quiet", "--out", str(out)]
    p = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    while p.poll() is None and not list((out / ".parts" / "outcomes").glob("part-*.parquet")):
        time.sleep(0.1)
    assert p.poll() is None, "the comparison ended before it could be interrupted"
    os.killpg(p.pid, signal.SIGINT)
    signalled = time.monotonic()
    _, err = p.communicate(timeout=600)  # a guard against a hang, not a timing
    # Measured, never asserted (a busy machine may be slow): see it with `pytest -rA --junitxml=...`.
    record_property("seconds_from_ctrl_c_to_exit", round(time.monotonic() - signalled, 2))
    assert p.returncode == 130, err
    assert "runs kept in" in err and "run the same command again to resume" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err  # workers print nothing
    assert (out / "INCOMPLETE.txt").exists() and not (out / "report.md").exists()
    assert not (out / "summary.csv").exists() and not (out / "runs.parquet").exists()
    kept = pq.read_table(out / ".parts" / "outcomes", columns=["replication"]).num_rows
    assert 0 < kept < 240
    r = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"resumed: {kept} runs were already done" in r.stdout
    assert not (out / "INCOMPLETE.txt").exists() and not (out / ".parts").exists()
    runs = pq.read_table(out / "runs.parquet").to_pandas()
    assert len(runs) == 240 and sorted(runs["run_id"]) == list(range(240))
    from redoubt import ValleyModel

    for _, row in runs.iloc[[0, 150, 239]].iterrows():  # a kept run, and runs run after the resume
        # as the run was made: its overrides (compare also switches the scenario's draws on) and its seed
        direct = ValleyModel("panjshir-2021", variant=row["variant"], overrides=json.loads(row["overrides"]),
                             rng=int(row["seed"])).run()
        assert (direct["end_day"], direct["held_to_winter"], direct["collapse_day"] or -1) == \
            (row["end_day"], row["held_to_winter"], -1 if pd.isna(row["collapse_day"]) else row["collapse_day"])


@pytest.mark.subprocess
@pytest.mark.parametrize("args", [["list"], ["run", "panjshir-2021", "--set", "horizon_days=30"], ["--version"]])
def test_a_closed_pipe_ends_quietly(tmp_path, args):
    """`redoubt ... | head -1`: the reader is gone before the output is written; no traceback, work done."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    out = ["--out", str(tmp_path / "o")] if args[0] == "run" else []
    r = subprocess.run([sys.executable, "-m", "redoubt", *args, *out], cwd=ROOT, stdout=write_end,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    os.close(write_end)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    if args[0] == "run":
        assert (tmp_path / "o" / "outcome.json").exists()


@pytest.mark.subprocess
def test_version_and_list():
    r = redoubt("--version")
    assert r.returncode == 0 and r.stdout.startswith("redoubt ")
    r = redoubt("list")
    assert r.returncode == 0
    for needle in ("panjshir-2021", "--variant air+passes", "validation/square-law", "tiny", "stocks-and-air"):
        assert needle in r.stdout


def test_a_comparison_interrupted_under_another_outcome_record_is_not_resumed_into(tmp_path):
    """Its runs' records have other fields (those missing would read as nulls): refused, as another plan, and
    nothing is written into it."""
    from redoubt.inputs import scenario as scn
    from redoubt.studies.compare import identity
    from redoubt.studies.outputs import OutputError
    from redoubt.studies.runs import drawing

    overrides = {"scenario.horizon_days": 30, "scenario.fighters_per_agent": 50}
    path = scn.resolve_path("panjshir-2021")
    spec0 = scn.load(path, None, overrides)
    ident = identity(path, spec0, ["none"], 1, drawing(spec0, overrides, draw=True))
    out = tmp_path / "cmp"
    (out / ".parts").mkdir(parents=True)
    (out / ".redoubt").write_text("compare\n")  # as an interrupted `redoubt compare` leaves it
    older = {k: v for k, v in ident.items() if k != "outcome_record"}  # a plan as redoubt wrote it before
    (out / ".parts" / "plan.json").write_text(json.dumps(older))
    from redoubt.studies.compare import run_compare

    with pytest.raises(OutputError, match="another plan .*outcome_record"):
        run_compare("panjshir-2021", ["none"], 2, 1, 1, out, quiet=True, executor="serial", overrides=overrides)
    assert sorted(p.name for p in out.rglob("*")) == [".parts", ".redoubt", "plan.json"]
    assert json.loads((out / ".parts" / "plan.json").read_text()) == older
