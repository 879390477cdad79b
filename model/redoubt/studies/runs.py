"""One run as plain data and how it is carried out, for `redoubt compare`, sweeps, the window and calibration:
`RunSpec` (picklable, hash-free), its seed (`derive_seed`), `execute` (a run to an outcome row and its daily
series) and the table schema every row is written with.

A run's seed depends only on the master seed and its (design point, replication), through numpy's
SeedSequence with an explicit spawn key, so results are the same whatever the executor, worker count,
order, chunking or resume."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..core.outcome import OUTCOME_SCHEMA, PARAMETER_SCHEMA, SWEEP_SERIES
from ..inputs.uncertain import draws_anything

# A run's own columns: which run this was and how it went. The model's columns (outcome record and
# parameters) come from model/redoubt/core/outcome.py; a row field known to neither is an error, never dropped.
RUN_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("point", pa.int64()), ("point_key", pa.int64()), ("replication", pa.int64()),
    ("seed", pa.uint64()), ("variant", pa.string()), ("overrides", pa.string()), ("status", pa.string()),
    ("error", pa.string()), ("seconds", pa.float64()),
    ("parameters", pa.string()),  # the variant's and the run's overrides, as JSON
    ("drawn", pa.string()),  # the run's draws of the scenario's [uncertain] inputs, as JSON ({} when none)
])


def _union(*schemas: pa.Schema) -> pa.Schema:
    """Fields of every schema in order, each name once (the first declaration wins)."""
    seen, fields = set(), []
    for schema in schemas:
        for f in schema:
            if f.name not in seen:
                seen.add(f.name)
                fields.append(f)
    return pa.schema(fields)


# Declared up front: a part whose optional columns are all null still has these types.
TABLE_SCHEMA = _union(RUN_SCHEMA, OUTCOME_SCHEMA, PARAMETER_SCHEMA)


def drawing(spec: dict, overrides: dict, draw: bool = True) -> dict:
    """A study's overrides: what the scenario leaves open ([uncertain]) drawn per run (`draw`) or not, unless the
    caller set `switches.uncertain` itself."""
    if "switches.uncertain" in overrides or not draws_anything(spec["uncertain"]):
        return overrides
    return {**overrides, "switches.uncertain": draw}


def default_runs_dir() -> Path:
    """Where outputs go unless told otherwise: ./runs of the current directory."""
    return Path.cwd() / "runs"


def stamp() -> str:
    """The time, for a default output directory's name (runs/<name>-<stamp>)."""
    import datetime as dt

    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def derive_seed(master: int, point: int, replication: int) -> int:
    """A 64-bit seed for one run from the master seed and the run's (design point, replication)."""
    ss = np.random.SeedSequence(int(master), spawn_key=(int(point), int(replication)))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


@dataclass(frozen=True)
class RunSpec:
    """One run: everything a worker needs, as plain data (picklable, hash-free)."""

    run_id: int
    point: int
    replication: int
    seed: int
    scenario: str
    variant: str | None
    overrides: dict = field(default_factory=dict)
    series: bool = False
    point_key: int | None = None  # stable identity of the design point (defaults to `point`)
    draw_seed: int | None = None  # the [uncertain] draws' own seed, when runs share a draw (else the run's)

    @property
    def key(self) -> tuple[int, int]:
        return (self.point if self.point_key is None else self.point_key, self.replication)


def execute(spec: RunSpec, model_cls=None) -> tuple[dict, dict | None]:
    """Run one spec (with ValleyModel unless another model class is given). A model that raises gives a
    row with status 'failed' and its traceback."""
    if model_cls is None:  # imported here, not at the top: a sweep's coordinating process never loads Mesa
        from ..core.model import ValleyModel as model_cls
    t0 = time.perf_counter()
    row = {"run_id": spec.run_id, "point": spec.point, "point_key": spec.key[0], "replication": spec.replication,
           "seed": spec.seed,
           "variant": spec.variant or "base", "overrides": json.dumps(spec.overrides, sort_keys=True, default=str)}
    series = None
    try:
        shared = {} if spec.draw_seed is None else {"draw_seed": spec.draw_seed}
        m = model_cls(spec.scenario, variant=spec.variant, overrides=dict(spec.overrides), rng=spec.seed, **shared)
        row.update(m.parameters())
        variant = {k: v for k, v in m.spec["variants"].get(spec.variant or "", {}).items() if k != "description"}
        row["parameters"] = json.dumps({**variant, **spec.overrides}, sort_keys=True, default=str)
        row["drawn"] = json.dumps(getattr(m, "drawn", {}), sort_keys=True)
        row.update(m.run())
        row["variant"] = spec.variant or "base"
        row["status"], row["error"] = "ok", None
        if spec.series:
            df = m.daily()
            series = {c: df[c].to_numpy() for c in SWEEP_SERIES}
    except Exception:  # noqa: BLE001 - a failed run is data, the sweep goes on
        row["status"], row["error"] = "failed", traceback.format_exc(limit=20)
    row["seconds"] = time.perf_counter() - t0
    return row, series


RUN_FINISHED = None  # in a local worker: the write end of a pipe on which it reports each finished run


def worker_init(parent_pid: int, run_finished=None) -> None:
    """In each local worker (executors.ProcessExecutor): Ctrl-C is the parent's to handle (a worker prints
    nothing), and the worker dies with its parent however the parent ends (SIGKILL included), never left running
    as an orphan. `run_finished`: the pipe on which the worker reports each finished run. Here, not beside the
    executor: a worker then imports only this module and the model, not the executors' Parquet writing and
    pyarrow.dataset (0.4 s of each worker's start)."""
    global RUN_FINISHED
    RUN_FINISHED = run_finished
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


def execute_chunk(specs: list[RunSpec], model_cls=None, on_run: Callable | None = None
                  ) -> list[tuple[dict, dict | None]]:
    """The unit of work sent to an executor: several runs, so each task lasts long enough to be cheap.
    Each finished run is reported as it ends (`on_run` in this process, or the worker's pipe), so the
    progress bar moves per run while results are committed per chunk."""
    results = []
    for spec in specs:
        results.append(execute(spec, model_cls))
        if on_run is not None:
            on_run()
        elif RUN_FINISHED is not None:
            try:
                RUN_FINISHED.send_bytes(b"1")  # a few bytes: one atomic write to the pipe, no lock needed
            except OSError:  # the parent is gone; this worker is about to be killed
                pass
    return results
