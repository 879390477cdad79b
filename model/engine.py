"""The run engine shared by `redoubt compare` and sweeps: run specs with derived seeds, chunked execution
on an executor (serial, local processes, Dask), outcome rows written as atomic Parquet parts as they
arrive, and resume from the parts already written.

A run's seed depends only on the master seed and its (design point, replication), through numpy's
SeedSequence with an explicit spawn key, so results are the same whatever the executor, worker count,
order, chunking or resume.
"""

from __future__ import annotations

import json
import math
import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from .outcome import OUTCOME_SCHEMA, PARAMETER_SCHEMA, SWEEP_SERIES

# The engine's own columns: which run this was and how it went. The model's columns (outcome record and
# parameters) come from model/outcome.py; a row field known to neither is an error, never dropped.
RUN_SCHEMA = pa.schema([
    ("run_id", pa.int64()), ("point", pa.int64()), ("point_key", pa.int64()), ("replication", pa.int64()),
    ("seed", pa.uint64()), ("variant", pa.string()), ("overrides", pa.string()), ("status", pa.string()),
    ("error", pa.string()), ("seconds", pa.float64()),
    ("parameters", pa.string()),  # the variant's and the run's overrides, as JSON
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


def default_runs_dir() -> Path:
    """Where outputs go unless told otherwise: ./runs of the current directory."""
    return Path.cwd() / "runs"


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

    @property
    def key(self) -> tuple[int, int]:
        return (self.point if self.point_key is None else self.point_key, self.replication)


def execute(spec: RunSpec, model_cls=None) -> tuple[dict, dict | None]:
    """Run one spec (with ValleyModel unless another model class is given). A model that raises gives a
    row with status 'failed' and its traceback."""
    if model_cls is None:  # imported here, not at the top: a sweep's coordinating process never loads Mesa
        from .model import ValleyModel as model_cls
    t0 = time.perf_counter()
    row = {"run_id": spec.run_id, "point": spec.point, "point_key": spec.key[0], "replication": spec.replication,
           "seed": spec.seed,
           "variant": spec.variant or "base", "overrides": json.dumps(spec.overrides, sort_keys=True, default=str)}
    series = None
    try:
        m = model_cls(spec.scenario, variant=spec.variant, overrides=dict(spec.overrides), rng=spec.seed)
        row.update(m.parameters())
        variant = {k: v for k, v in m.spec["variants"].get(spec.variant or "", {}).items() if k != "description"}
        row["parameters"] = json.dumps({**variant, **spec.overrides}, sort_keys=True, default=str)
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


def execute_chunk(specs: list[RunSpec], model_cls=None) -> list[tuple[dict, dict | None]]:
    """The unit of work sent to an executor: several runs, so each task lasts long enough to be cheap."""
    return [execute(s, model_cls) for s in specs]


def rows_to_table(rows: list[dict], schema: pa.Schema = TABLE_SCHEMA) -> pa.Table:
    """Run rows as a table of the declared schema. A field the schema does not know is an error."""
    names = set(schema.names)
    unknown = sorted({k for r in rows for k in r} - names)
    if unknown:
        raise ValueError(f"run rows carry fields no table column is declared for: {', '.join(unknown)} "
                         "(declare them in model/outcome.py)")
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.Table.from_pydict(cols, schema=schema)


def write_atomic_parquet(table: pa.Table, path: Path) -> None:
    """Write to a hidden temp name (ignored by dataset discovery), then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def write_atomic_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_parts(parts_dir: Path, columns: list[str] | None = None) -> pa.Table:
    """Every outcome row written so far (or only the given columns)."""
    files = sorted(parts_dir.glob("part-*.parquet")) if parts_dir.exists() else []
    if not files:
        empty = TABLE_SCHEMA.empty_table()
        return empty.select(columns) if columns else empty
    return pads.dataset([str(f) for f in files], schema=TABLE_SCHEMA, format="parquet").to_table(columns=columns)


def done_keys(parts_dir: Path) -> set[tuple[int, int]]:
    """(point_key, replication) of every run that has a row already. Reads those two columns only, so
    resuming a sweep of hundreds of thousands of runs does not load their tables (and tracebacks)."""
    t = read_parts(parts_dir, ["point_key", "replication"])
    return set(zip(t.column("point_key").to_pylist(), t.column("replication").to_pylist()))


# ---------------------------------------------------------------- progress -------------------------------
class Progress:
    """A progress bar (a widget in Jupyter via tqdm.auto) of runs done and failed, with ETA."""

    def __init__(self, total: int, quiet: bool = False, desc: str = "runs"):
        self.failed = 0
        self.bar = None
        if not quiet:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="run", dynamic_ncols=True)

    def update_done(self, n: int, failed: int) -> None:
        self.failed += failed
        if self.bar is not None:
            self.bar.update(n)
            if self.failed:
                self.bar.set_postfix(failed=self.failed)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- executors ------------------------------
class SerialExecutor:
    """In-process, one chunk at a time: the reference, and debuggable."""

    workers = 1

    def map_unordered(self, fn: Callable, chunks: Iterable):
        for chunk in chunks:
            yield chunk, fn(chunk)

    def close(self):
        pass


class ProcessExecutor:
    """Local worker processes (spawned: no state inherited from the parent), a bounded number of chunks
    in flight. A chunk whose worker died is retried once in a fresh pool."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))

    def map_unordered(self, fn: Callable, chunks: Iterable):
        from concurrent.futures.process import BrokenProcessPool

        pending = list(chunks)[::-1]
        in_flight, tries = {}, {}
        while pending or in_flight:
            while pending and len(in_flight) < 2 * self.workers:
                chunk = pending.pop()
                in_flight[self.pool.submit(fn, chunk)] = chunk
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                chunk = in_flight.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken = True
                    key = tuple(s.key for s in chunk)
                    tries[key] = tries.get(key, 0) + 1
                    if tries[key] >= 3:  # it keeps killing its worker: give up loudly
                        raise
                    pending.append(chunk)
                else:
                    yield chunk, result
            if broken:  # every chunk still in flight died with the pool: run them again in a fresh one
                for fut, chunk in list(in_flight.items()):
                    del in_flight[fut]
                    pending.append(chunk)
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"))

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Dask distributed: a LocalCluster, or an existing scheduler (`tcp://host:port`, e.g. from
    dask-jobqueue). Submitted with pure=False so identical-looking tasks are never deduplicated; the
    chunk is one positional argument. Dask reschedules a chunk whose worker died."""

    def __init__(self, workers: int, scheduler: str | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("the dask executor needs the 'dask' extra: pip install 'redoubt-valley[dask]'") from exc
        if scheduler:
            self.cluster, self.client = None, Client(scheduler)
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=":0")  # any free port: clusters may run side by side
            self.client = Client(self.cluster)
        self.workers = max(1, len(self.client.scheduler_info()["workers"]))

    def map_unordered(self, fn: Callable, chunks: Iterable):
        from dask.distributed import as_completed

        pending = list(chunks)[::-1]
        futs = {}
        ac = as_completed()
        while pending and len(futs) < 2 * self.workers:
            chunk = pending.pop()
            f = self.client.submit(fn, chunk, pure=False)
            futs[f.key] = chunk
            ac.add(f)
        for f in ac:
            chunk = futs.pop(f.key)
            yield chunk, f.result()
            f.release()
            if pending:
                nxt = pending.pop()
                g = self.client.submit(fn, nxt, pure=False)
                futs[g.key] = nxt
                ac.add(g)

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(kind: str, workers: int, scheduler: str | None = None):
    if kind == "serial" or (kind == "processes" and workers <= 1):
        return SerialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    raise ValueError(f"unknown executor {kind!r}")


def chunked(specs: list[RunSpec], workers: int, target_chunks_per_worker: int = 8,
            max_chunk: int = 100) -> list[list[RunSpec]]:
    """Chunks of consecutive runs: enough chunks to balance load, each big enough to amortise a task."""
    if not specs:
        return []
    size = max(1, min(max_chunk, math.ceil(len(specs) / (workers * target_chunks_per_worker))))
    return [specs[i:i + size] for i in range(0, len(specs), size)]


def run_specs(specs: list[RunSpec], parts_dir: Path, executor, *, progress=None,
              on_series: Callable | None = None, model_cls=None) -> None:
    """Run every spec whose run_id has no row in parts_dir yet; each finished chunk becomes one part."""
    from functools import partial

    done = done_keys(parts_dir)
    todo, seen, already = [], set(), 0
    for s in specs:  # a design may repeat a point (Morris): run each (point, replication) once
        if s.key in seen:
            continue
        seen.add(s.key)
        if s.key in done:
            already += 1
        else:
            todo.append(s)
    if progress is not None:
        progress.update_done(already, 0)
    fn = execute_chunk if model_cls is None else partial(execute_chunk, model_cls=model_cls)
    for chunk, results in executor.map_unordered(fn, chunked(todo, executor.workers)):
        rows = [r for r, _ in results]
        # named by its first run, which had no row before: never overwrites another part
        pk, rep = chunk[0].key
        write_atomic_parquet(rows_to_table(rows), parts_dir / f"part-{pk:020d}-{rep:06d}.parquet")
        if on_series is not None:  # once per chunk: (spec, series) of every run that has series
            on_series([(spec, series) for spec, (_, series) in zip(chunk, results) if series is not None])
        if progress is not None:
            progress.update_done(len(rows), sum(r["status"] == "failed" for r in rows))
