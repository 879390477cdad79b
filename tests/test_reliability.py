"""Sweeps and compares never mix, lose or duplicate results: one writer per directory, a run counts only
when all it writes is on disk, identity by point key, corrupt files named and rerun, workers that die
with their parent."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import psutil
import pytest
from redoubt.interfaces.cli import main
from redoubt.studies import sweep

ROOT = Path(__file__).resolve().parent.parent

SPEC = {"sweep": {"name": "r", "scenario": "panjshir-2021", "variant": "passes", "design": "factorial",
                  "replications": 3, "seed": 4, "series": True},
        "factors": {"scenario.fighters_per_agent": {"levels": [50]},
                    "stocks.defender.food_days": {"levels": [60, 120]}}}


def spec_with(**changes):
    s = json.loads(json.dumps(SPEC))
    for k, v in changes.items():
        if k == "levels":
            s["factors"]["stocks.defender.food_days"]["levels"] = v
        else:
            s["sweep"][k] = v
    return s


def results(out):
    """Outcomes and series of a sweep as comparable frames (no timings, no row numbers)."""
    data = sweep.load(out)
    o = data["outcomes"].drop(columns=["seconds", "run_id", "point"], errors="ignore")
    o = o.sort_values(["point_key", "replication"]).reset_index(drop=True)
    s = data["series"].drop(columns=["point"]).sort_values(["point_key", "replication", "day"])
    return o, s.reset_index(drop=True)


def assert_same(out_a, out_b):
    (oa, sa), (ob, sb) = results(out_a), results(out_b)
    pd.testing.assert_frame_equal(oa, ob, check_dtype=False)  # a column with nulls may read as float
    pd.testing.assert_frame_equal(sa, sb, check_dtype=False)


def wait_for(path_glob: Path, proc) -> None:
    """Until a file matching the glob exists, or the process has ended (no clock)."""
    import time

    while proc.poll() is None and not list(path_glob.parent.glob(path_glob.name)):
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else "ended too soon"


# ---------------------------------------------------------------- one writer ------------------------------
@pytest.mark.subprocess
def test_a_second_sweep_into_the_same_directory_is_refused_and_a_killed_one_leaves_no_stale_lock(tmp_path):
    spec_file = tmp_path / "big.toml"
    spec_file.write_text(sweep.to_toml(spec_with(replications=200)))
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "redoubt", "sweep", str(spec_file), "--out", str(out), "--jobs", "2", "--quiet"]
    first = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    wait_for(out / "outcomes" / "part-*.parquet", first)
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 2, second.stderr
    assert f"PID {first.pid}" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    small = tmp_path / "small.toml"  # the same sweep, fewer replications: runs at once, lock or not
    small.write_text(sweep.to_toml(spec_with(replications=3)))
    third = subprocess.run([*cmd[:4], str(small), *cmd[5:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr
    assert_same(out, sweep.run_sweep(spec_with(replications=3), tmp_path / "ref", executor="serial", quiet=True))


@pytest.mark.subprocess
def test_a_second_compare_into_the_same_out_is_refused(tmp_path):
    out = tmp_path / "c"
    cmd = [sys.executable, "-m", "redoubt", "compare", "panjshir-2021", "--variants", "none", "--replications",
           "400", "--jobs", "2", "--quiet", "--out", str(out)]
    first = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    wait_for(out / ".parts" / "outcomes" / "part-*.parquet", first)
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    os.killpg(first.pid, signal.SIGINT)
    _, err = first.communicate(timeout=600)
    assert second.returncode == 2 and f"PID {first.pid}" in second.stderr, second.stderr
    assert first.returncode == 130 and "Traceback" not in err, err  # workers print nothing on Ctrl-C
    # the first kept its finished runs, marked incomplete; the second wrote nothing
    assert sorted(p.name for p in out.iterdir()) == [".parts", ".redoubt", "INCOMPLETE.txt"]


# ---------------------------------------------------------------- commit and resume -----------------------
KILLER = textwrap.dedent("""
    import json, os, sys
    import redoubt.studies.parts as parts
    from redoubt.studies import sweep
    die_at, count = int(sys.argv[3]), [0]
    real_write, real_replace = parts.pq.write_table, parts.os.replace

    def tick():
        count[0] += 1
        return count[0] == die_at

    def write_table(table, where, **kw):
        if tick():  # die with half a file written, as a SIGKILL mid-write would leave it
            real_write(table, where, **kw)
            size = os.path.getsize(where)
            with open(where, "r+b") as fh:
                fh.truncate(size // 2)
            os._exit(9)
        real_write(table, where, **kw)

    def replace(a, b):
        if tick():
            os._exit(9)
        real_replace(a, b)

    parts.pq.write_table, parts.os.replace = write_table, replace
    sweep.run_sweep(json.loads(sys.argv[1]), sys.argv[2], executor="serial", quiet=True)
    print("finished", count[0])
""")


@pytest.mark.slow
def test_killed_at_every_write_point_then_resumed_equals_uninterrupted(tmp_path):
    spec = spec_with(replications=2)
    ref = sweep.run_sweep(spec, tmp_path / "ref", executor="serial", quiet=True)
    # the writes of the set-up (design, manifest) and of the first two chunks: every kind of write point
    for k in range(1, 15):
        out = tmp_path / f"k{k}"
        r = subprocess.run([sys.executable, "-c", KILLER, json.dumps(spec), str(out), str(k)], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 9, (k, r.stdout, r.stderr)
        sweep.run_sweep(spec, out, executor="serial", quiet=True)
        assert_same(out, ref)


@pytest.mark.slow
def test_full_disk_at_every_write_point_then_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    import redoubt.studies.parts as parts

    spec = spec_with(replications=2)
    ref = sweep.run_sweep(spec, tmp_path / "ref", executor="serial", quiet=True)
    real = parts.pq.write_table
    for k in range(1, 8):
        count = [0]

        def full(table, where, k=k, count=count, **kw):
            count[0] += 1
            if count[0] == k:
                Path(where).write_bytes(b"PAR1 half")  # what a full disk leaves: a short file
                raise OSError(errno.ENOSPC, "No space left on device", str(where))
            return real(table, where, **kw)

        out = tmp_path / f"full{k}"
        monkeypatch.setattr(parts.pq, "write_table", full)
        with pytest.raises(OSError):
            sweep.run_sweep(spec, out, executor="serial", quiet=True)
        monkeypatch.setattr(parts.pq, "write_table", real)
        assert not list(out.rglob(".*.tmp"))  # no temp file left behind
        sweep.run_sweep(spec, out, executor="serial", quiet=True)
        assert_same(out, ref)


def test_full_disk_is_one_line_and_exit_1(tmp_path, monkeypatch, capsys):
    import redoubt.studies.parts as parts

    def full(table, where, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    monkeypatch.setattr(parts.pq, "write_table", full)
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(sweep.to_toml(SPEC))
    assert main(["sweep", str(spec_file), "--out", str(tmp_path / "o"), "--executor", "serial", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left" in err[0]


@pytest.mark.slow
def test_extending_and_shrinking_keeps_every_run_with_its_own_values(tmp_path):
    out = tmp_path / "x"
    sweep.run_sweep(spec_with(levels=[60, 120], replications=2), out, executor="serial", quiet=True)
    sweep.run_sweep(spec_with(levels=[60, 90, 120], replications=3), out, executor="serial", quiet=True)
    final = spec_with(levels=[90, 120], replications=2)
    sweep.run_sweep(final, out, executor="serial", quiet=True)
    fresh = sweep.run_sweep(final, tmp_path / "fresh", executor="serial", quiet=True)
    assert_same(out, fresh)
    data = sweep.load(out)
    series = data["series"].merge(data["design"][["point", "stocks.defender.food_days"]], on="point")
    first_day = series[series["day"] == 0]  # every run's series sits with its own food stock
    assert set(first_day["stocks.defender.food_days"]) == {90, 120}
    assert len(first_day) == 4 and len(data["outcomes"]) == 4


@pytest.mark.slow
def test_corrupt_parts_are_named_skipped_at_load_and_rerun(tmp_path, capsys):
    out = sweep.run_sweep(spec_with(replications=4), tmp_path / "c", executor="serial", quiet=True)
    parts = sorted((out / "outcomes").glob("part-*.parquet"))
    assert len(parts) >= 3
    data = parts[0].read_bytes()
    parts[0].write_bytes(data[: len(data) // 2])  # truncated
    parts[1].write_bytes(b"garbage" * 50)  # garbled
    (out / "outcomes" / "part-99999999999999999999-000000.parquet").write_bytes(b"")  # empty
    series = sorted((out / "series").glob("part-*.parquet"))
    series[2].write_bytes(series[2].read_bytes()[:100])  # a series part truncated
    capsys.readouterr()
    loaded = sweep.load(out)["outcomes"]  # skips what it cannot read, says so
    err = capsys.readouterr().err
    for bad in (parts[0], parts[1]):
        assert str(bad) in err
    assert len(loaded) < 8
    sweep.run_sweep(spec_with(replications=4), out, executor="serial", quiet=True)  # reruns them
    err = capsys.readouterr().err
    assert str(parts[0]) in err and str(series[2]) in err
    assert_same(out, sweep.run_sweep(spec_with(replications=4), tmp_path / "ref", executor="serial", quiet=True))


def test_garbled_manifest_is_one_line_exit_2(tmp_path, capsys):
    out = tmp_path / "g"
    out.mkdir()
    (out / "manifest.json").write_text("{not json")
    (out / "design.parquet").write_bytes(b"x")
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(sweep.to_toml(SPEC))
    assert main(["sweep", str(spec_file), "--out", str(out), "--executor", "serial", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.json" in err[0]
    assert (out / "manifest.json").read_text() == "{not json"  # left as it was


# ---------------------------------------------------------------- workers ---------------------------------
@pytest.mark.subprocess
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_workers_die_with_their_parent(tmp_path, sig):
    spec_file = tmp_path / "big.toml"
    spec_file.write_text(sweep.to_toml(spec_with(replications=200)))
    out = tmp_path / "w"
    p = subprocess.Popen([sys.executable, "-m", "redoubt", "sweep", str(spec_file), "--out", str(out),
                          "--jobs", "2", "--quiet"], cwd=ROOT, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(out / "outcomes" / "part-*.parquet", p)
    children = psutil.Process(p.pid).children(recursive=True)
    assert len(children) >= 2
    os.kill(p.pid, sig)  # the parent alone, not its process group
    _, err = p.communicate(timeout=600)
    gone, alive = psutil.wait_procs(children, timeout=60)  # a bound against a hang, not a timing
    assert not alive, [c.pid for c in alive]
    if sig != signal.SIGKILL:  # stopped as Ctrl-C stops it: quietly, exit 130
        assert p.returncode == 130 and "Traceback" not in err, err


def test_a_worker_killed_mid_result_never_hangs_the_exit():
    """A sweep stopped by SIGTERM hung at exit once: a worker killed while writing its chunk's result left half
    a message in the pool's result pipe, and the pool's manager thread (which the interpreter joins at exit)
    waited for the rest forever. Half a message is put in the pipe here, then the executor is killed."""
    import struct
    import time

    from redoubt.studies.executors import ProcessExecutor

    ex = ProcessExecutor(1)
    ex.pool.submit(time.sleep, 3600)
    manager = ex.pool._executor_manager_thread
    # the pipe's framing: a 4-byte length, then the bytes; a million announced, ten sent
    os.write(ex.pool._result_queue._writer.fileno(), struct.pack("!i", 1_000_000) + b"x" * 10)
    ex.close(kill=True)
    manager.join(timeout=120)  # a bound against a hang, not a timing
    assert not manager.is_alive()


class _Item:
    def __init__(self, key, marker):
        self.key, self.marker = key, marker


def _die_once(chunk, on_run=None):
    """A worker's work that kills its worker the first time (as the OOM killer would)."""
    marker = Path(chunk[0].marker)
    if not marker.exists():
        marker.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return [item.key for item in chunk]


def test_a_worker_killed_mid_result_never_hangs_the_sweep(tmp_path):
    """The same half message, and then a worker dies: the pool's manager thread, stuck on the half message,
    never notices, so its futures would wait forever (a sweep hung). The executor sees a dead worker the pool
    has not noticed, ends the pool, and runs the chunk again in a fresh one."""
    import struct

    from redoubt.studies.executors import ProcessExecutor

    ex = ProcessExecutor(1)
    got = []

    def sweep():
        got.extend(r for _, r in ex.map_unordered(_die_once, [[_Item(7, tmp_path / "marker")]]))

    os.write(ex.pool._result_queue._writer.fileno(), struct.pack("!i", 1_000_000) + b"x" * 10)
    t = threading.Thread(target=sweep, daemon=True)
    t.start()
    t.join(timeout=300)  # a bound against a hang, not a timing
    assert not t.is_alive() and got == [[7]] and (tmp_path / "marker").exists()
    ex.close()

