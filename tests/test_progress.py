"""The progress bar moves as each run finishes, not as each chunk of runs is committed."""

import pytest
from redoubt.inputs import scenario as scn
from redoubt.studies.compare import plan
from redoubt.studies.executors import ProcessExecutor, Progress, SerialExecutor, run_specs
from redoubt.studies.runs import execute_chunk

SHORT = {"scenario.horizon_days": 25, "scenario.fighters_per_agent": 50}


def specs(n):
    return plan(str(scn.resolve_path("panjshir-2021")), ["none"], n, seed=5, overrides=SHORT)


@pytest.mark.parametrize("make", [SerialExecutor, lambda: ProcessExecutor(2)], ids=["serial", "processes"])
def test_every_run_of_a_chunk_is_reported_as_it_ends(make):
    executor, seen = make(), []
    executor.on_run = lambda: seen.append(len(seen))
    chunk = specs(5)
    try:
        for _, results in executor.map_unordered(execute_chunk, [chunk]):
            assert len(results) == 5 and all(r["status"] == "ok" for r, _ in results)
    finally:
        executor.close()
    assert len(seen) == 5  # one report per run, not one per chunk


@pytest.mark.slow
def test_run_specs_counts_every_run_once(tmp_path):
    progress = Progress(24, quiet=True)
    run_specs(specs(24), tmp_path / "parts", ProcessExecutor(2), progress=progress)
    assert progress.finished == 24 and progress.committed == 24 and progress.failed == 0
