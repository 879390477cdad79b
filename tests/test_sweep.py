"""Sweeps: identical on every executor, resumable after SIGKILL, failures as rows, validated specs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from redoubt.core.model import ValleyModel
from redoubt.core.outcome import OUTCOME_RECORD
from redoubt.inputs.scenario import ScenarioError
from redoubt.studies import sweep

ROOT = Path(__file__).resolve().parent.parent

SMALL = {"sweep": {"name": "t", "scenario": "panjshir-2021", "variant": "air", "design": "factorial",
                   "replications": 3, "seed": 9},
         "factors": {"scenario.fighters_per_agent": {"levels": [50]},
                     "stocks.defender.food_days": {"levels": [50, 130]},
                     "sides.defender.strength": {"levels": [3000, 7000]}}}


def table(out):
    o = sweep.load(out)["outcomes"]
    return o.drop(columns=["seconds"]).sort_values(["point_key", "replication"]).reset_index(drop=True)


@pytest.mark.slow
def test_same_outcomes_on_serial_processes_and_dask(tmp_path):
    serial = table(sweep.run_sweep(SMALL, tmp_path / "s", executor="serial", quiet=True))
    procs = table(sweep.run_sweep(SMALL, tmp_path / "p", executor="processes", jobs=2, quiet=True))
    dask = table(sweep.run_sweep(SMALL, tmp_path / "d", executor="dask", jobs=2, quiet=True))
    assert len(serial) == 12 and (serial["status"] == "ok").all()
    pd.testing.assert_frame_equal(serial, procs)
    pd.testing.assert_frame_equal(serial, dask)
    assert serial["seed"].nunique() == 12  # every run its own seed, recorded


def test_seeds_depend_on_point_and_replication_only():
    from redoubt.studies.runs import derive_seed

    t = sweep.design(sweep.load_spec(SMALL))
    specs = sweep.plan(sweep.load_spec(SMALL), t)
    assert all(s.seed == derive_seed(9, s.point_key, s.replication) for s in specs)


class Exploding(ValleyModel):
    """A model defined here (as in a notebook) that fails for one design point."""

    def step(self):
        if self.spec["sides"]["defender"]["strength"] == 3000 and self.day == 5:
            raise RuntimeError("boom on day 5")
        super().step()


class Dying(ValleyModel):
    """Kills its worker process the first time it builds the 7,000-defender point (a marker file says
    whether it already did), as a crashed or OOM-killed worker would."""

    marker = None

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        marker = Path(os.environ["REDOUBT_TEST_MARKER"])
        if self.spec["sides"]["defender"]["strength"] == 7000 and not marker.exists():
            marker.write_text("died once")
            os._exit(1)


@pytest.mark.slow
def test_a_dead_worker_has_its_chunk_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("REDOUBT_TEST_MARKER", str(tmp_path / "marker"))
    out = sweep.run_sweep(SMALL, tmp_path / "dead", executor="processes", jobs=2, quiet=True, model_cls=Dying)
    assert (tmp_path / "marker").exists()  # a worker really died
    got = table(out)
    want = table(sweep.run_sweep(SMALL, tmp_path / "ref", executor="serial", quiet=True))
    assert len(got) == 12 and (got["status"] == "ok").all()
    pd.testing.assert_frame_equal(got, want)


class _Item:
    def __init__(self, key):
        self.key = key


def _keys(chunk, on_run=None):
    return [item.key for item in chunk]


@pytest.mark.slow
def test_a_pool_that_breaks_while_results_are_handed_out_is_replaced():
    """A worker may die while the caller is busy with a result: the next submit then meets a broken pool
    (the race CI once hit). Made certain here: kill a worker after the first result and wait until the
    pool knows it is broken (a condition, not a time)."""
    from concurrent.futures.process import BrokenProcessPool
    from functools import partial

    from redoubt.studies.executors import ProcessExecutor

    ex = ProcessExecutor(2)
    try:
        chunks = [[_Item(i)] for i in range(12)]
        results = ex.map_unordered(partial(_keys), chunks)
        got = [next(results)[1]]
        for proc in list(ex.pool._processes.values()):
            proc.kill()
        try:
            while True:
                ex.pool.submit(_keys, []).result()
        except BrokenProcessPool:
            pass
        got += [r for _, r in results]
    finally:
        ex.close(kill=True)
    assert sorted(k for r in got for k in r) == list(range(12))


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["serial", "dask"])
def test_a_failing_run_is_a_row_and_the_sweep_goes_on(tmp_path, executor):
    out = sweep.run_sweep(SMALL, tmp_path / executor, executor=executor, jobs=2, quiet=True, model_cls=Exploding)
    o = sweep.load(out)["outcomes"]
    failed = o[o["status"] == "failed"]
    assert len(o) == 12 and len(failed) == 6
    assert (failed["sides.defender.strength"] == 3000).all()
    assert failed["error"].str.contains("boom on day 5").all()
    assert (o[o["status"] == "ok"]["sides.defender.strength"] == 7000).all()


@pytest.mark.subprocess
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    spec = json.loads(json.dumps(SMALL))
    spec["sweep"]["replications"] = 40
    spec["factors"]["scenario.fighters_per_agent"] = {"levels": [25]}
    spec_file = tmp_path / "kill.toml"
    spec_file.write_text(sweep.to_toml(spec))
    out = tmp_path / "k"
    cmd = [sys.executable, "-m", "redoubt", "sweep", str(spec_file), "--out", str(out), "--jobs", "2", "--quiet"]
    p = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while p.poll() is None and len(list((out / "outcomes").glob("part-*.parquet"))) < 2:  # no clock
        time.sleep(0.05)
    assert p.poll() is None, "the sweep ended before it could be killed"
    os.killpg(p.pid, signal.SIGKILL)  # the sweep and its workers, mid-flight
    p.wait()
    parts_before = len(list((out / "outcomes").glob("part-*.parquet")))
    assert 0 < parts_before, p.stderr.read()
    assert not list((out / "outcomes").glob("*.parquet.*"))  # no truncated part is visible
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    resumed = table(out)
    whole = table(sweep.run_sweep(spec, tmp_path / "whole", executor="serial", quiet=True))
    assert len(resumed) == 160 and not resumed.duplicated(["point_key", "replication"]).any()
    pd.testing.assert_frame_equal(resumed.drop(columns=["run_id"]), whole.drop(columns=["run_id"]))


@pytest.mark.subprocess
def test_the_coordinating_process_never_imports_mesa(tmp_path):
    # Its memory is the sweep's floor beside the workers': Mesa (~145 MB a process) lives in the workers only.
    code = ("import sys, json; from redoubt.studies import sweep; "
            "out = sweep.run_sweep(json.loads(sys.argv[1]), sys.argv[2], executor='processes', jobs=2, quiet=True); "
            "import pyarrow.parquet as pq; "
            "n = sum(pq.ParquetFile(f).metadata.num_rows for f in (out / 'outcomes').glob('part-*.parquet')); "
            "print(n, 'mesa' in sys.modules, 'redoubt.core.model' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, json.dumps(SMALL), str(tmp_path / "lean")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["12", "False", "False"]


@pytest.mark.slow
def test_a_sweep_written_by_an_older_layout_is_not_resumed_into(tmp_path):
    """Parts from before a run ended at its fall describe run-on ends, in another outcome record: never mixed
    with new ones."""
    out = sweep.run_sweep(SMALL, tmp_path / "old", executor="serial", quiet=True)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["outcome_record"]  # as redoubt wrote its manifest before
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ScenarioError, match="older redoubt"):
        sweep.run_sweep(SMALL, out, executor="serial", quiet=True)
    sweep.run_sweep(SMALL, out, executor="serial", quiet=True, force=True)
    assert json.loads((out / "manifest.json").read_text())["outcome_record"] == OUTCOME_RECORD


@pytest.mark.slow
def test_changed_spec_refused_unless_force_and_extension_keeps_runs(tmp_path):
    out = sweep.run_sweep(SMALL, tmp_path / "x", executor="serial", quiet=True)
    first = sweep.load(out)["outcomes"].set_index(["point_key", "replication"])["seconds"]
    changed = json.loads(json.dumps(SMALL))
    changed["sweep"]["seed"] = 10
    with pytest.raises(ScenarioError, match="different spec"):
        sweep.run_sweep(changed, out, executor="serial", quiet=True)
    bigger = json.loads(json.dumps(SMALL))
    bigger["sweep"]["replications"] = 4
    bigger["factors"]["stocks.defender.food_days"]["levels"] = [50, 130, 200]
    sweep.run_sweep(bigger, out, executor="serial", quiet=True)
    after = sweep.load(out)["outcomes"].set_index(["point_key", "replication"])["seconds"]
    assert len(after) == 24
    assert (after.loc[first.index] == first).all()  # kept, not rerun
    sweep.run_sweep(changed, out, executor="serial", quiet=True, force=True)
    assert len(sweep.load(out)["outcomes"]) == 12


@pytest.mark.parametrize("edit,needle", [
    (lambda s: s["sweep"].update(colour="red"), "'sweep.colour': unknown key"),
    (lambda s: s["sweep"].update(design="grid"), "'sweep.design': must be one of"),
    (lambda s: s["sweep"].update(design="sobol", samples=6), "power of two"),
    (lambda s: s["sweep"].update(replications=0), "'sweep.replications': must be >= 1"),
    (lambda s: s["factors"].update({"sides.defender.strenght": {"levels": [1]}}), "unknown key 'strenght'"),
    (lambda s: s["factors"].update({"sides.defender.strength": {"levels": [-5]}}), "must be >= 0"),
    (lambda s: s["sweep"].update(design="lhs", samples=8), "needs range"),
    (lambda s: s["sweep"].update(design="morris", samples=4, morris_levels=1), "'sweep.morris_levels': must be >= 2"),
    (lambda s: s["sweep"].update(design="lhs", samples=10**9), "'sweep.samples': must be <= 1000000"),
    (lambda s: s["sweep"].update(replications=10**9), "'sweep.replications': must be <= 100000"),
    (lambda s: s["sweep"].update(replications=90_000) or s["factors"]["stocks.defender.food_days"].update(
        levels=list(range(50, 110))), "the design plans 10800000 runs, more than 5000000"),
    (lambda s: s["sweep"].update(seed=-1), "'sweep.seed': must be >= 0"),
    (lambda s: s["sweep"].update(series="yes"), "'sweep.series': must be true or false"),
    (lambda s: s["factors"]["stocks.defender.food_days"].update(levels=[50, 130, 50.0]), "levels must be distinct"),
    (lambda s: s["factors"].update({"sides.defender.strength": {"levels": [3000], "colour": 1}}),
     "'factors.sides.defender.strength.colour': unknown key"),
    (lambda s: s["sweep"].update(design="lhs", samples=4) or s.update(factors={
        "sides.defender.strength": {"range": [1000, 9000], "integer": False}}), "integer = false would sample"),
    (lambda s: s["sweep"].update(design="lhs", samples=4) or s.update(factors={
        "sides.defender.strength": {"range": [1000, 9000], "integer": "false"}}), "must be true or false"),
    (lambda s: s["sweep"].update(design="lhs", samples=4) or s.update(factors={
        "resupply.air.enabled": {"range": [0, 1]}}), "cannot be sampled from a range"),
    (lambda s: s.update(factors={"sides.defender.strength": 3000}), "must be a table"),
    (lambda s: s.update(factors={}), "at least one factor"),
    (lambda s: s["sweep"].pop("scenario"), "'sweep.scenario': is required"),
])
def test_bad_sweep_specs(edit, needle):
    spec = json.loads(json.dumps(SMALL))
    edit(spec)
    with pytest.raises(ScenarioError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        sweep.load_spec(spec)


def test_missing_sweep_file_says_so():
    with pytest.raises(ScenarioError, match="no such sweep file"):
        sweep.load_spec("no-such-sweep")


@pytest.mark.subprocess
@pytest.mark.parametrize("extra,needle", [(["--scheduler", "not an address"], "expected a Dask scheduler"),
                                          (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach")])
def test_bad_scheduler_one_line_exit_2_nothing_written(tmp_path, extra, needle):
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "redoubt", "sweep", "tiny", "--out", str(out), *extra], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()


@pytest.mark.subprocess
def test_bad_sweep_file_from_cli_exit_2_nothing_written(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(sweep.to_toml(SMALL).replace('design = "factorial"', 'design = "grid"'))
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "redoubt", "sweep", str(bad), "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and str(bad) in r.stderr and "sweep.design" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("kind,samples", [("lhs", 5), ("sobol", 4), ("morris", 2), ("saltelli", 2)])
def test_designs(kind, samples):
    spec = {"sweep": {"name": "d", "scenario": "panjshir-2021", "design": kind, "samples": samples, "seed": 3},
            "factors": {"stocks.defender.food_days": {"range": [40, 160]},
                        "sides.defender.strength": {"range": [2000, 9000]}}}
    t = sweep.design(sweep.load_spec(spec))
    expected = {"lhs": 5, "sobol": 4, "morris": 2 * 3, "saltelli": 2 * (2 + 2)}[kind]
    assert len(t) == expected
    assert t["stocks.defender.food_days"].between(40, 160).all()
    assert t["sides.defender.strength"].dtype.kind == "i"


@pytest.mark.slow
def test_load_series_and_sensitivity(tmp_path):
    spec = {"sweep": {"name": "m", "scenario": "panjshir-2021", "design": "morris", "samples": 3, "seed": 3,
                      "replications": 2, "series": True},
            "factors": {"stocks.defender.food_days": {"range": [40, 160]},
                        "sides.defender.strength": {"range": [2000, 9000]},
                        "scenario.fighters_per_agent": {"range": [40, 60]}}}
    out = sweep.run_sweep(spec, tmp_path / "m", executor="processes", jobs=2, quiet=True)
    data = sweep.load(out)
    assert {"p_hold", "p_hold_lo95", "p_hold_hi95"} <= set(data["points"].columns)
    s = data["series"]
    assert {"point", "point_key", "replication", "day", "defenders_active"} <= set(s.columns)
    assert s.groupby(["point_key", "replication"]).ngroups == data["outcomes"].shape[0]
    # the light per-point summary (what the CLI prints) equals the one load() makes from every column
    pd.testing.assert_frame_equal(sweep.points(out), data["points"])
    assert sweep.load(out, series=False)["series"] is None
    res = sweep.sensitivity(out, "mean_end_day")
    assert list(res["factor"]) == list(spec["factors"]) and np.isfinite(res["mu_star"]).all()
    m = json.loads((out / "manifest.json").read_text())
    assert {"spec", "spec_hash", "design", "master_seed", "versions", "python", "git", "started"} <= set(m)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios" / "sweeps").glob("*.toml")))
def test_shipped_sweep_files_are_valid(path):
    spec = sweep.load_spec(path)
    assert len(sweep.design(spec)) >= 1


# ---------------------------------------------------------------- sweep files written by a TOML library --
def _roundtrip_cases():
    import datetime as dt
    import tomllib

    from redoubt.inputs.scenario import bundled_dir
    from redoubt.studies import window

    cases = {p.stem: tomllib.loads(p.read_text()) for p in sorted((bundled_dir() / "sweeps").glob("*.toml"))}
    base, design = window.specs("panjshir-2021", "passes", [7, 21], [4.0, 8.0], 10, 1)
    cases.update({"window baseline": base, "window design": design})
    cases["no variant, a date level, numpy levels"] = {
        "sweep": {"name": "dates", "scenario": "panjshir-2021", "variant": None, "replications": 2,
                  "set": {"scenario.fighters_per_agent": np.int64(20)}},
        "factors": {"scenario.start_date": {"levels": [dt.date(2021, 8, 23), dt.date(2021, 9, 6)]},
                    "sides.defender.strength": {"levels": list(np.arange(2000, 5000, 1000))}}}
    return cases


@pytest.mark.parametrize("name", list(_roundtrip_cases()))
def test_to_toml_round_trips_every_sweep_file_and_the_specs_users_build(name, tmp_path):
    import tomllib

    spec = _roundtrip_cases()[name]
    text = sweep.to_toml(spec)
    again = tomllib.loads(text)
    assert "null" not in text and again["sweep"] == {k: sweep.scn.plain(v) for k, v in spec["sweep"].items()
                                                      if v is not None} | (
        {"set": sweep.scn.plain(spec["sweep"]["set"])} if "set" in spec["sweep"] else {})
    path = tmp_path / "s.toml"
    path.write_text(text)
    assert sweep.load_spec(path)["factors"] == sweep.load_spec(spec)["factors"]  # and it loads as a sweep
