"""Play by the ecosystem's rules: numpy parameters, Mesa's own Scenario, batch_run rows that hold the
answer, a grid Mesa tools can read, plain-number outcomes and an EMA Workbench adapter, Dask on loopback."""

import math
import subprocess
import sys
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest
from mesa.experimental.scenarios import Scenario
from redoubt import ValleyModel
from redoubt.core.agents import ResupplySource, SupplyStore
from redoubt.core.fighters import Contingent
from redoubt.core.model import run_once
from redoubt.core.outcome import CAUSES, as_numbers
from redoubt.interfaces.cli import main
from redoubt.studies import sweep as sw

ROOT = Path(__file__).resolve().parent.parent
FAST = {"fighters_per_agent": 50}


# ---------------------------------------------------------------- numpy scalars -------------------------
@pytest.mark.parametrize("kind,value,key,expected", [
    ("int64", np.int64(4000), "defender_strength", 4000),
    ("int32", np.int32(4000), "defender_strength", 4000),
    ("float64", np.float64(45.5), "food_days", 45.5),
    ("float32", np.float32(45.5), "food_days", 45.5),
    ("int as float", np.int64(45), "food_days", 45),
    ("bool_", np.bool_(True), "air", True),
])
def test_numpy_scalars_through_keywords_and_overrides(kind, value, key, expected):
    from redoubt.inputs.scenario import SHORTCUTS

    dotted = SHORTCUTS[key]
    for m in (ValleyModel(rng=np.int64(1), **{key: value}), ValleyModel(rng=1, overrides={dotted: value})):
        node = m.spec
        for part in dotted.split("."):
            node = node[part]
        assert node == expected and type(node) is type(expected), (kind, node, type(node))
    a = ValleyModel(rng=np.int64(2), **FAST, **{key: value}).run()
    b = ValleyModel(rng=2, **FAST, **{key: expected}).run()
    assert a == b


def test_numpy_bool_is_not_an_integer():
    from redoubt.inputs.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="must be an integer"):
        ValleyModel(defender_strength=np.bool_(True))


def test_numpy_levels_in_a_sweep_spec(tmp_path):
    spec = {"sweep": {"name": "np", "scenario": "panjshir-2021", "design": "factorial", "replications": 1,
                      "seed": np.int64(3)},
            "factors": {"scenario.fighters_per_agent": {"levels": [np.int64(50)]},
                        "sides.defender.strength": {"levels": np.arange(3000, 5001, 2000)},
                        "resupply.air.enabled": {"levels": [np.bool_(False), np.bool_(True)]}}}
    loaded = sw.load_spec(spec)
    assert loaded["factors"]["sides.defender.strength"]["levels"] == [3000, 5000]
    assert loaded["factors"]["resupply.air.enabled"]["levels"] == [False, True]
    out = sw.run_sweep(spec, tmp_path / "np", executor="serial", quiet=True)
    assert (sw.load(out, series=False)["outcomes"]["status"] == "ok").all()


def test_set_on_the_command_line_takes_each_kind(tmp_path):
    assert main(["run", "panjshir-2021", "--set", "defender_strength=4000", "--set", "food_days=45.5",
                 "--set", "air=true", "--set", "fighters_per_agent=50", "--out", str(tmp_path / "o")]) == 0


# ---------------------------------------------------------------- Mesa's Scenario -----------------------
def test_mesa_scenario_carries_seed_and_parameters():
    s = Scenario(rng=3, defender_strength=np.int64(4000), fighters_per_agent=50)
    m = ValleyModel(scenario=s)
    assert m.scenario is s and m.spec["sides"]["defender"]["strength"] == 4000
    assert m.run() == ValleyModel(rng=3, defender_strength=4000, fighters_per_agent=50).run()
    assert ValleyModel("panjshir-2021", variant="air", rng=1).spec["resupply"]["air"]["enabled"]
    assert ValleyModel(scenario_file="scenarios/panjshir-2021.toml", rng=1).spec["scenario"]["name"] == \
        "panjshir-2021"
    with pytest.raises(TypeError, match="Mesa's Scenario"):
        ValleyModel(scenario="panjshir-2021")


def test_solara_reset_path_rebuilds_the_model():
    """What SolaraViz's Reset does: split the controls' values with Mesa's own function, then rebuild."""
    solara_viz = pytest.importorskip("mesa.visualization.solara_viz")
    model = ValleyModel(rng=1, **FAST)
    params = {"rng": 7, "variant": "air", "defender_strength": 3500, **FAST}
    kwargs = solara_viz._build_model_init_kwargs(model, params, add_scenario_when_empty=True,
                                                 require_model_accepts_scenario=True)
    assert isinstance(kwargs.get("scenario"), Scenario)
    again = type(model)(**kwargs)
    assert again.spec["sides"]["defender"]["strength"] == 3500 and again.spec["_variant"] == "air"
    assert again.scenario.rng == 7
    assert again.run() == ValleyModel(rng=7, variant="air", defender_strength=3500, **FAST).run()


# ---------------------------------------------------------------- batch_run -----------------------------
def test_batch_run_rows_hold_the_answer():
    rows = pd.DataFrame(mesa.batch_run(ValleyModel, parameters={"defender_strength": [3000, 7000], **FAST},
                                       rng=[1, 2], number_processes=1, data_collection_period=-1,
                                       display_progress=False))
    assert len(rows) == 4
    raw = mesa.batch_run(ValleyModel, parameters={"defender_strength": [7000], **FAST}, rng=[2], number_processes=1,
                         data_collection_period=-1, display_progress=False)
    assert {r["cause"] for r in raw} <= {None, *CAUSES}  # run() says None for "no cause", and so does the row
    for _, row in rows.iterrows():
        o = ValleyModel(rng=row["rng"], defender_strength=row["defender_strength"], **FAST).run()
        assert row["held_to_winter"] == o["held_to_winter"] and row["end_reason"] == o["end_reason"]
        assert row["days_held"] == o["days_held"] and row["winter_onset_day"] == o["winter_onset_day"]
        assert row["cause"] == o["cause"] if o["cause"] else pd.isna(row["cause"])  # None in the raw row
        held = o["collapse_day"] is None
        assert math.isnan(row["collapse_day"]) if held else row["collapse_day"] == o["collapse_day"]


# ---------------------------------------------------------------- the grid ------------------------------
def test_grid_cells_hold_the_fighters_stores_and_sources():
    m = ValleyModel(rng=4, variant="air+passes")
    for _ in range(25):
        m.step()
    assert m.grid is m.valley.space and m.day == m.steps == 25
    for side, force in (("attacker", m.attackers), ("defender", m.defenders)):
        counts = force.counts()
        for cell in m.valley.locations:
            (c,) = [a for a in cell.agents if isinstance(a, Contingent) and a.side == side]
            assert c.fighters == counts[cell.idx]
            assert sum(g.size for g in c.groups) == c.fighters
    assert sum(a.fighters for a in m.agents_by_type[Contingent] if a.side == "defender") == m.defenders.counts().sum()
    assert list(m.stores) == list(m.agents_by_type[SupplyStore]) and len(m.stores) == 7
    assert {s.kind for s in m.agents_by_type[ResupplySource]} == {"air", "passes"}
    for store in m.stores:
        assert store in store.cell.agents


# ---------------------------------------------------------------- external drivers ----------------------
def test_run_once_is_plain_numbers():
    o = run_once(seed=2, defender_strength=8000, food_days=200.0, **FAST)
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in o.values()), o
    assert o["days_held"] >= 0 and o["held_to_winter"] in (0, 1)
    if o["held_to_winter"]:
        assert math.isnan(o["collapse_day"])
    none_left = as_numbers(ValleyModel(rng=1, defender_strength=0).run())
    assert math.isnan(none_left["ammo_days_left"])  # infinite: nobody left to draw on it


EMA_SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from ema_workbench import MultiprocessingEvaluator, SequentialEvaluator, perform_experiments
from ema_workbench.analysis import prim
from redoubt.interfaces.ema import ema_model, prim_inputs

if __name__ == "__main__":
    m = ema_model({"defender_strength": (1500, 9000), "food_days": (40.0, 200.0), "air": (False, True),
                   "fighters_per_agent": (50, 50)})
    kw = dict(uncertainty_sampling_kwargs={"rng": 42})
    exp1, out1 = perform_experiments(m, 20, evaluator=SequentialEvaluator(m), **kw)
    with MultiprocessingEvaluator(m, n_processes=2) as ev:
        exp2, out2 = perform_experiments(m, 20, evaluator=ev, **kw)
    order = np.argsort(exp2["scenario"].to_numpy())
    assert np.array_equal(out1["held_to_winter"], out2["held_to_winter"][order]), "evaluators disagree"
    x = exp1[["defender_strength", "food_days", "air"]]  # as the EMA docs write it: no conversion
    y = out1["held_to_winter"].astype(bool)
    assert 0 < y.sum() < len(y), y
    box = prim.Prim(x, y, mass_min=0.1).find_box()
    box.inspect(style="data")  # pandas 3: fails if a box restricts a boolean or integer column; ours are floats
    stats = box.peeling_trajectory.iloc[-1]
    assert prim_inputs(exp1, m).columns.tolist() == ["defender_strength", "food_days", "air", "fighters_per_agent"]
    for name, values in out1.items():  # finite numbers only: straight to feature scoring
        assert np.isfinite(np.asarray(values, float)).all(), name
    from ema_workbench.analysis import feature_scoring
    scores = feature_scoring.get_feature_scores_all(exp1[["defender_strength", "food_days", "air"]], out1)
    assert scores.shape[0] == 3
    assert len(set(out1["winter_onset_day"])) > 1, "every experiment drew the same winter: the same seeds"
    print(f"OK {len(exp1)} {y.sum()} coverage={stats['coverage']:.2f} density={stats['density']:.2f}")
    rep = ema_model({"defender_strength": (1500, 9000), "fighters_per_agent": (50, 50)}, replications=3)
    exp3, out3 = perform_experiments(rep, 2, evaluator=SequentialEvaluator(rep), **kw)
    assert ((0 <= out3["held_to_winter"]) & (out3["held_to_winter"] <= 1)).all()
"""


@pytest.mark.slow
@pytest.mark.subprocess
def test_ema_workbench_runs_experiments_and_prim(tmp_path):
    pytest.importorskip("ema_workbench")
    script = tmp_path / "ema_run.py"
    script.write_text(EMA_SCRIPT)
    r = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and "OK 20" in r.stdout, r.stdout + r.stderr[-3000:]


# ---------------------------------------------------------------- sweeps and Dask -----------------------
@pytest.mark.subprocess
def test_sweep_rerun_with_nothing_left_says_so(tmp_path):
    cmd = [sys.executable, "-m", "redoubt", "sweep", "tiny", "--out", str(tmp_path / "t"), "--quiet", "--jobs", "2"]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == again.returncode == 0
    assert "nothing to do" not in first.stdout
    assert "nothing to do: 12 of 12 runs done" in again.stdout.splitlines()[0]


LISTEN_SCRIPT = """
import psutil
from redoubt.studies.executors import DaskExecutor

if __name__ == "__main__":
    ex = DaskExecutor(2)
    me = psutil.Process()
    found = []
    for p in [me] + me.children(recursive=True):
        found += [c.laddr.ip for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    ex.close()
    print(" ".join(found))
"""


@pytest.mark.slow
@pytest.mark.subprocess
def test_own_dask_cluster_listens_on_loopback_only(tmp_path):
    script = tmp_path / "listen.py"
    script.write_text(LISTEN_SCRIPT)
    r = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    addresses = r.stdout.split()
    assert r.returncode == 0 and len(addresses) >= 4, r.stdout + r.stderr[-2000:]  # scheduler, dashboard, 2 workers
    assert set(addresses) == {"127.0.0.1"}, addresses


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_readmes_batch_run_example_runs_as_written_with_two_processes(tmp_path):
    """The README's batch_run block, verbatim, as a script (Mesa spawns its workers: the guard matters)."""
    import re

    readme = (ROOT / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "mesa.batch_run" in b]
    assert "number_processes=2" in block and 'if __name__ == "__main__":' in block
    script = tmp_path / "batch.py"
    script.write_text(block + "\n    print(len(rows), sorted({r['end_reason'] for r in rows}))\n")
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("12 "), r.stdout


@pytest.mark.parametrize("run_on", [True, False])
def test_batch_rows_describe_the_run_at_its_fall_with_or_without_a_run_on(run_on):
    """A fallen run's batch_run row is its fall day, and every column it shares with run() says the same,
    whether or not the scenario follows the resistance on after the fall (the run-on is run()'s `run_on_`
    fields and the later days of daily(), never the row)."""
    rows = pd.DataFrame(mesa.batch_run(ValleyModel, parameters={"collapse__run_on_after_fall": [run_on], **FAST},
                                       rng=[4, 5, 6], number_processes=1, data_collection_period=-1,
                                       display_progress=False))
    fallen = followed = 0
    for _, row in rows.iterrows():
        m = ValleyModel(rng=row["rng"], collapse__run_on_after_fall=run_on, **FAST)
        o = m.run()
        assert row["Step"] == o["end_day"]
        fallen += o["collapse_day"] is not None
        if o["collapse_day"] is not None:
            assert row["Step"] == o["collapse_day"] and o["end_reason"] == "fell"
            assert (o["run_on_end_day"] is not None) == run_on
        if o["run_on_end_day"] is not None:
            followed += o["run_on_end_day"] > o["end_day"]
            assert len(m.daily()) == o["run_on_end_day"] + 1  # the run-on's days follow the run's
        else:
            assert len(m.daily()) == o["end_day"] + 1
        for k in set(row.index) & set(o) - {"cause", "collapse_day"}:
            assert row[k] == o[k] or (pd.isna(row[k]) and o[k] is None), k
    assert fallen  # the check above met a fall
    assert bool(followed) == run_on  # and, with a run-on, a fall followed for days
