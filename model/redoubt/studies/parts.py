"""Results on disk: outcome rows and daily series written as atomic Parquet parts as they arrive (a reader
never sees half a file), read back skipping what is unreadable, and the runs already committed (resume)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from .runs import TABLE_SCHEMA, RunSpec


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
