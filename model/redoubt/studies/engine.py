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
import re
import signal
import sys
import threading
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

from ..core.outcome import OUTCOME_SCHEMA, PARAMETER_SCHEMA, SWEEP_SERIES

# The engine's own columns: which run this was and how it went. The model's columns (outcome record and
# parameters) come from model/redoubt/core/outcome.py; a row field known to neither is an error, never dropped.
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


_RUN_FINISHED = None  # in a local worker: the write end of a pipe on which it reports each finished run


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
        elif _RUN_FINISHED is not None:
            try:
                _RUN_FINISHED.send_bytes(b"1")  # a few bytes: one atomic write to the pipe, no lock needed
            except OSError:  # the parent is gone; this worker is about to be killed
                pass
    return results


def rows_to_table(rows: list[dict], schema: pa.Schema = TABLE_SCHEMA) -> pa.Table:
    """Run rows as a table of the declared schema. A field the schema does not know is an error."""
    names = set(schema.names)
    unknown = sorted({k for r in rows for k in r} - names)
    if unknown:
        raise ValueError(f"run rows carry fields no table column is declared for: {', '.join(unknown)} "
                         "(declare them in model/redoubt/core/outcome.py)")
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.Table.from_pydict(cols, schema=schema)


def _atomic(write, path: Path) -> None:
    """Write through a hidden temp name of this process's own (ignored by dataset discovery), then
    rename into place: a reader never sees a half-written file. A failed write leaves no temp behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic_parquet(table: pa.Table, path: Path) -> None:
    _atomic(lambda tmp: pq.write_table(table, tmp), path)


def write_atomic_text(text: str, path: Path) -> None:
    _atomic(lambda tmp: tmp.write_text(text), path)


def warn(message: str) -> None:
    """One line on stderr, for what a user should know but that does not stop the work."""
    print(f"redoubt: warning: {message}", file=sys.stderr)


def readable_parts(parts_dir: Path) -> list[Path]:
    """The part files of a directory whose Parquet footer reads; an unreadable one (truncated, garbled,
    empty) is named in a warning and skipped."""
    good = []
    for f in sorted(parts_dir.glob("part-*.parquet")) if parts_dir.exists() else []:
        try:
            pq.ParquetFile(f).metadata  # noqa: B018 - reading the footer is the check
        except Exception as exc:  # noqa: BLE001 - any failure to read means the same: skip it
            warn(f"{f}: unreadable part skipped ({type(exc).__name__}: {exc})")
            continue
        good.append(f)
    return good


def read_parts(parts_dir: Path, columns: list[str] | None = None) -> pa.Table:
    """Every outcome row written so far (or only the given columns); unreadable parts are skipped with
    a warning naming them."""
    files = readable_parts(parts_dir)
    if not files:
        empty = TABLE_SCHEMA.empty_table()
        return empty.select(columns) if columns else empty
    return pads.dataset([str(f) for f in files], schema=TABLE_SCHEMA, format="parquet").to_table(columns=columns)


def committed_keys(parts_dir: Path, series_dir: Path | None = None) -> set[tuple[int, int]]:
    """(point_key, replication) of every run whose results are all on disk and readable.

    A chunk's series part is written before its outcome part, so the outcome part is the commit
    record. An outcome part that cannot be read, or whose series part (when series are kept) is missing
    or unreadable, does not count: it is moved aside (renamed `.corrupt-...`, so nothing is deleted) with
    a warning, and its runs run again. Reads two columns per part: cheap at any size."""
    keys: set[tuple[int, int]] = set()
    for f in sorted(parts_dir.glob("part-*.parquet")) if parts_dir.exists() else []:
        problem = None
        try:
            t = pq.read_table(f, columns=["point_key", "replication"])
        except Exception as exc:  # noqa: BLE001
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem is None and series_dir is not None:
            s = series_dir / f.name
            try:
                pq.ParquetFile(s).metadata  # noqa: B018
            except FileNotFoundError:
                problem = f"its series part {s} is missing"
            except Exception as exc:  # noqa: BLE001
                problem = f"its series part {s} is unreadable ({type(exc).__name__})"
        if problem:
            warn(f"{f}: {problem}; its runs will run again")
            for g in (f, series_dir / f.name if series_dir is not None else None):
                if g is not None and g.exists():
                    os.replace(g, g.with_name(f".corrupt-{g.name}"))
            continue
        keys.update(zip(t.column("point_key").to_pylist(), t.column("replication").to_pylist()))
    if series_dir is not None and series_dir.exists():  # series of a chunk that never committed
        for s in sorted(series_dir.glob("part-*.parquet")):
            if not (parts_dir / s.name).exists():
                s.unlink()
    return keys


def series_table(items: list[tuple[RunSpec, dict]]) -> pa.Table:
    """Per-day series of several runs in long format, keyed by (point_key, replication)."""
    cols: dict[str, list] = {"point_key": [np.zeros(0, np.int64)], "replication": [np.zeros(0, np.int64)]}
    for spec, series in items:
        n = len(series["day"])
        cols["point_key"].append(np.full(n, spec.key[0], np.int64))
        cols["replication"].append(np.full(n, spec.replication, np.int64))
        for k, v in series.items():
            cols.setdefault(k, []).append(np.asarray(v))
    return pa.table({k: np.concatenate(v) for k, v in cols.items()})


# ---------------------------------------------------------------- output directories ---------------------
class DirectoryLock:
    """One writer per output directory: an exclusive flock on `<dir>/.lock`, released by the OS when the
    process ends in any way (SIGKILL included), so a lock is never stale. A second writer is refused at
    once with the holder's PID."""

    NAME = ".lock"

    def __init__(self, directory: Path):
        self.path = Path(directory) / self.NAME
        self.fd: int | None = None

    def acquire(self) -> DirectoryLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise InUse(self.path.parent, holder) from None
            try:  # the file may have been removed and re-created by the last holder: lock the live one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self, remove: bool = False) -> None:
        if self.fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class UserError(Exception):
    """Something the user asked for that cannot be done as asked: one line, exit code 2, nothing written."""


class OutputError(UserError):
    """An output directory that cannot be used."""


class InUse(OutputError):
    """Another redoubt process writes into this directory."""

    def __init__(self, directory: Path, pid: str):
        self.directory, self.pid = directory, pid
        super().__init__(f"{directory} is in use by another redoubt process (PID {pid}); wait for it to "
                         "finish, or choose another output directory")


# What each command writes into its output directory: --force replaces these and nothing else.
OUTPUTS = {
    "run": ("outcome.json", "daily.csv"),
    "compare": ("runs.parquet", "summary.csv", "effects.csv", "outcomes.png", "falls.png", "stocks.png", "forces.png",
                "report.md", ".parts", "INCOMPLETE.txt",
                "survival.png"),  # the headline figure's name before 0.2
    "sweep": ("manifest.json", "design.parquet", "outcomes", "series"),
    "calibrate": ("accepted.toml", "hindcast.csv", "hindcast.md"),  # and a sweep per episode, each its own
}
MARK = ".redoubt"  # names the command that made a directory: --force only ever touches such directories


class OutputDir:
    """An output directory owned by this process while it writes (see `DirectoryLock`).

    `claim()` creates it or checks it under the lock: a directory must be new or empty, unless `force`
    (it must then be one redoubt made for the same command: only that command's files are replaced, a
    user's other files stay) or `resume` (a directory of the same command, kept as it is, e.g. a sweep).
    `abort()` takes back everything this process wrote, so "nothing written" is true after Ctrl-C."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = Path(path), kind
        self.lock = DirectoryLock(self.path)
        self.created = False

    def _ours(self) -> bool:
        mark = self.path / MARK
        if mark.is_file():
            return mark.read_text().strip() == self.kind
        if self.kind == "calibrate":  # a calibration made before marks: episode sweeps (and their results) only
            dirs = [p for p in self.path.iterdir() if p.is_dir()]
            files = {p.name for p in self.path.iterdir() if p.is_file()} - {DirectoryLock.NAME}
            sweeps_only = all((p / "manifest.json").is_file() for p in dirs)
            return bool(dirs) and sweeps_only and files <= set(OUTPUTS[self.kind])
        return self.kind == "sweep" and (self.path / "manifest.json").is_file()  # sweeps made before marks

    TEMP = re.compile(r"^\..+\.\d+\.tmp(\.png)?$")  # a temp file of a writer that died mid-write

    def contents(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir()
                      if p.name not in (DirectoryLock.NAME, MARK) and not self.TEMP.match(p.name))

    def claim(self, force: bool = False, resume: bool = False) -> OutputDir:
        path = self.path
        if force and path.resolve() in (Path.cwd().resolve(), Path.home().resolve(), Path("/")):
            raise OutputError(f"--out {path}: --force is refused for the current, home or root directory")
        if path.exists() and not path.is_dir():
            raise OutputError(f"--out {path}: exists and is not a directory")
        self.created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()
        except InUse:
            raise
        except OSError as exc:
            raise OutputError(f"--out {path}: cannot write there ({exc.strerror or exc})") from None
        try:
            existing = self.contents()
            if existing and not (resume and self._ours()):
                if not force:
                    raise OutputError(f"--out {path}: directory exists and is not empty (use --force to "
                                      "replace redoubt's outputs in it, or choose another directory)")
                if not self._ours():
                    raise OutputError(f"--out {path}: --force replaces only an output directory of "
                                      f"'redoubt {self.kind}', and this one is not")
                self.remove_outputs()
            self.remove_temps()  # we hold the lock: any temp file here is a dead writer's
            if not (path / MARK).exists():
                write_atomic_text(self.kind + "\n", path / MARK)
        except BaseException:  # refused: touch nothing that was there
            if self.created:
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            self.lock.release(remove=True)
            raise
        return self

    def remove_outputs(self) -> None:
        """This command's files (and redoubt's hidden temp and aside files) in the directory."""
        import shutil

        for name in OUTPUTS[self.kind]:
            p = self.path / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        self.remove_temps()

    def remove_temps(self) -> None:
        for p in self.path.rglob(".*.tmp*"):
            if self.TEMP.match(p.name):
                p.unlink(missing_ok=True)

    def abort(self) -> None:
        """Take back what this process wrote: the whole directory if it made it, else its outputs."""
        import shutil

        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.remove_outputs()
            (self.path / MARK).unlink(missing_ok=True)
        self.lock.release(remove=True)

    def close(self) -> None:
        self.lock.release(remove=True)


# ---------------------------------------------------------------- progress -------------------------------
class Progress:
    """A progress bar (a widget in Jupyter via tqdm.auto) of runs done and failed, with ETA. It moves as
    each run finishes (`run_finished`, from the workers) and never shows less than is committed
    (`update_done`, per chunk written: an executor that reports no single runs still moves it)."""

    def __init__(self, total: int, quiet: bool = False, desc: str = "runs"):
        self.failed = self.finished = self.committed = 0
        self.bar = None
        self._lock = threading.Lock()
        if not quiet:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="run", dynamic_ncols=True)

    def run_finished(self) -> None:
        with self._lock:
            self.finished += 1
            self._show()

    def update_done(self, n: int, failed: int) -> None:
        with self._lock:
            self.committed += n
            self.failed += failed
            if self.bar is not None and self.failed:
                self.bar.set_postfix(failed=self.failed, refresh=False)
            self._show()

    def _show(self) -> None:
        shown = max(self.finished, self.committed)
        if self.bar is not None and shown > self.bar.n:
            self.bar.update(shown - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- executors ------------------------------
class SerialExecutor:
    """In-process, one chunk at a time: the reference, and debuggable."""

    workers = 1
    on_run: Callable | None = None  # called as each run finishes (set by run_specs)

    def map_unordered(self, fn: Callable, chunks: Iterable):
        from functools import partial

        for chunk in chunks:
            yield chunk, (partial(fn, on_run=self.on_run) if self.on_run else fn)(chunk)

    def close(self, kill: bool = False):
        pass


def _worker_init(parent_pid: int, run_finished=None) -> None:
    """In each local worker: Ctrl-C is the parent's to handle (a worker prints nothing), and the worker
    dies with its parent however the parent ends (SIGKILL included), never left running as an orphan.
    `run_finished`: the pipe on which the worker reports each finished run."""
    global _RUN_FINISHED
    _RUN_FINISHED = run_finished
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


class ProcessExecutor:
    """Local worker processes (spawned: no state inherited from the parent), a bounded number of chunks
    in flight. A chunk whose worker died is retried once in a fresh pool."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self.on_run: Callable | None = None  # called (in a thread of this process) as each run finishes
        # Workers report finished runs on one pipe: each report is a single write of a few bytes, atomic
        # on a pipe, so workers need no shared lock (one dying mid-report cannot block the others).
        self._reports, self._report_to = get_context("spawn").Pipe(duplex=False)
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_reports, daemon=True, name="run-reports")
        self._reader.start()
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=_worker_init,
                                   initargs=(os.getpid(), self._report_to))

    def _read_reports(self) -> None:
        while not self._closed.is_set():
            try:
                if self._reports.poll(0.2):
                    self._read_waiting_reports()
            except (OSError, EOFError):
                return

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
                self.pool = self._new_pool()

    def close(self, kill: bool = False):
        """Shut the pool down; kill=True (on Ctrl-C, SIGTERM or an error) stops the workers at once
        instead of waiting for the chunks they are running."""
        if kill:
            for proc in list((self.pool._processes or {}).values()):
                proc.kill()
        self.pool.shutdown(wait=not kill, cancel_futures=True)
        self._closed.set()
        self._reader.join()
        if not kill:  # the workers have exited: every report they sent is in the pipe
            self._read_waiting_reports()
        self._reports.close()
        self._report_to.close()

    def _read_waiting_reports(self) -> None:
        while self._reports.poll(0):
            self._reports.recv_bytes()
            if self.on_run is not None:
                self.on_run()


class DaskExecutor:
    """Dask distributed: a LocalCluster, or an existing scheduler (`tcp://host:port`, e.g. from
    dask-jobqueue). Submitted with pure=False so identical-looking tasks are never deduplicated; the
    chunk is one positional argument. Dask reschedules a chunk whose worker died."""

    def __init__(self, workers: int, scheduler: str | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the install
            raise UserError("the dask executor needs the 'dask' extra: pip install 'redoubt-valley[dask]'") from None
        if scheduler:
            self.cluster = None
            if not re.fullmatch(r"(tcp|tls|ucx)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}", scheduler):
                raise UserError(f"--scheduler {scheduler!r}: expected a Dask scheduler address such as "
                                "tcp://HOST:8786")
            try:
                self.client = Client(scheduler, timeout="15s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise UserError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None
        else:
            # Loopback only (scheduler, workers, dashboard), any free port: clusters may run side by side, and
            # nothing of a run is offered to the network.
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address="127.0.0.1:0")
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

    def close(self, kill: bool = False):
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


def run_specs(specs: list[RunSpec], parts_dir: Path, executor, *, series_dir: Path | None = None,
              progress=None, on_series: Callable | None = None, model_cls=None) -> tuple[int, int]:
    """Run every spec that has no committed result yet; each finished chunk becomes one part. Returns
    (runs run now, runs found already done).

    With `series_dir`, a chunk's daily series are written there first and its outcome part last, under the
    same name: a run counts as done only when both are on disk (see `committed_keys`). `on_series` gets
    (spec, series) of every run with series, once per chunk. The executor is closed here; on an error or
    an interrupt its workers are stopped at once."""
    from functools import partial

    done = committed_keys(parts_dir, series_dir)
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
        executor.on_run = progress.run_finished
    fn = execute_chunk if model_cls is None else partial(execute_chunk, model_cls=model_cls)
    try:
        for chunk, results in executor.map_unordered(fn, chunked(todo, executor.workers)):
            rows = [r for r, _ in results]
            with_series = [(spec, series) for spec, (_, series) in zip(chunk, results) if series is not None]
            # named by its first run, which had no result before: never overwrites another part
            pk, rep = chunk[0].key
            name = f"part-{pk:020d}-{rep:06d}.parquet"
            if series_dir is not None:  # even if empty (all runs failed): its presence is part of the commit
                write_atomic_parquet(series_table(with_series), series_dir / name)
            write_atomic_parquet(rows_to_table(rows), parts_dir / name)  # the commit record, last
            if on_series is not None:
                on_series(with_series)
            if progress is not None:
                progress.update_done(len(rows), sum(r["status"] == "failed" for r in rows))
    except BaseException:
        executor.close(kill=True)
        raise
    executor.close()
    return len(todo), already
