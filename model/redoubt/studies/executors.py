"""Runs carried out on an executor (serial, local processes, Dask) in chunks, with a progress bar that
moves per run, results committed per chunk (`run_specs`), and Ctrl-C taken cleanly."""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from . import runs
from .outputs import UserError
from .parts import committed_keys, rows_to_table, series_table, write_atomic_parquet
from .runs import RunSpec, execute_chunk


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


WATCH_S = 1.0  # how often a waiting sweep checks that its pool has noticed a dead worker


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
        return ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=runs.worker_init,
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
        unseen = 0  # waits in a row that ended with a worker dead and the pool unaware of it
        while pending or in_flight:
            broken = False
            while pending and len(in_flight) < 2 * self.workers and not broken:
                chunk = pending.pop()
                try:
                    in_flight[self.pool.submit(fn, chunk)] = chunk
                except BrokenProcessPool:  # a worker died while we were yielding: the pool refuses work
                    pending.append(chunk)
                    broken = True
            if broken:  # keep what finished before the pool broke
                done = {fut for fut in in_flight if fut.done()}
            else:
                done = wait(in_flight, timeout=WATCH_S, return_when=FIRST_COMPLETED)[0]
                unseen = unseen + 1 if not done and self._a_worker_died_unseen() else 0
                if unseen >= 2:  # a worker dead and the pool still unaware a whole WATCH_S later: it is stuck
                    self._end_pool()  # its chunks in flight fail as a broken pool's, and are retried below
                    unseen = 0
                    continue
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
            self._end_pool()
        self.pool.shutdown(wait=not kill, cancel_futures=True)
        self._closed.set()
        self._reader.join()
        if not kill:  # the workers have exited: every report they sent is in the pipe
            self._read_waiting_reports()
        self._reports.close()
        self._report_to.close()

    def _workers(self) -> list:
        return list((self.pool._processes or {}).values())

    def _a_worker_died_unseen(self) -> bool:
        """A worker of the pool has died and the pool has not noticed (it notices within milliseconds unless
        its manager thread is stuck on half a result: see _end_pool)."""
        return not self.pool._broken and any(proc.exitcode is not None for proc in self._workers())

    def _end_pool(self) -> None:
        """Kill the pool's workers and end its result pipe. A worker killed while writing its chunk's result
        (SIGTERM to the sweep, the OOM killer) leaves half a message in that pipe: the pool's manager thread
        then waits for the rest forever, never noticing a dead worker (a sweep would hang), and the
        interpreter waits for that thread at exit (a SIGTERM'd sweep hung there). With every worker dead,
        closing this process's copy of the pipe's write end ends the pipe: the thread sees the end, the pool
        breaks, and its chunks in flight fail as a broken pool's."""
        workers = self._workers()
        for proc in workers:
            proc.kill()
        for proc in workers:
            proc.join()
        results = self.pool._result_queue
        if results is not None:
            results._writer.close()
        manager = self.pool._executor_manager_thread
        if manager is not None:
            manager.join(timeout=60)  # a bound against a hang: it ends as soon as it reads the pipe's end

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
    """Chunks of consecutive runs: enough chunks to balance load, each big enough to amortise a task. The last
    round of them shrinks (each a share of what is left, down to an eighth of a chunk): the workers finish
    together instead of one running a whole chunk while the others wait."""
    if not specs:
        return []
    n = len(specs)
    size = max(1, min(max_chunk, math.ceil(n / (workers * target_chunks_per_worker))))
    smallest = max(1, math.ceil(size / 8))
    chunks, i = [], 0
    while i < n - workers * size:
        chunks.append(specs[i:i + size])
        i += size
    while i < n:
        step = max(smallest, min(size, math.ceil((n - i) / (2 * workers))))
        chunks.append(specs[i:i + step])
        i += step
    return chunks


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
