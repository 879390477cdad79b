"""Sweep throughput and peak memory: serial, 2 local processes, Dask LocalCluster (2 workers) and
mesa.batch_run (2 processes) on the same design; and the peak memory of a 10,000-run sweep.

    .venv/bin/python benchmarks/bench_sweep.py            # throughput table (~3 minutes)
    .venv/bin/python benchmarks/bench_sweep.py --memory   # 10,000 runs, peak resident memory (~10 minutes)
    .venv/bin/python benchmarks/bench_sweep.py --batch-run-growth 200 800   # batch_run with per-day rows
    .venv/bin/python benchmarks/bench_sweep.py --scale 40000   # both, per-day series, a data-farming size
    .venv/bin/python benchmarks/bench_sweep.py --scale 40000 --side redoubt   # one side again
Peak memory is the largest sum of resident set sizes of the measured process and all its children,
sampled every 50 ms; the scale mode also gives the largest sum of proportional set sizes (PSS), and runs
each side as a fresh process (`python -m redoubt sweep`, and a script calling batch_run). Writes
benchmarks/results/sweep.json, sweep_memory.json, batch_run_growth.json or sweep_scale.json.
"""

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import psutil

FOOD, STRENGTH, FPA = [60, 120], [4000, 7000], 20
SCALE_FPA = 100  # the scale comparison's resolution: fast runs, so a data-farming size fits in an hour or so
ROOT = Path(__file__).resolve().parent.parent


class PeakRSS:
    """Peak memory of a process (by default this one) and all its children: the sum of resident set sizes (`peak`, every
    50 ms; shared library pages count once per process) and the sum of proportional set sizes
    (`peak_pss`, every 0.5 s; shared pages split between the processes that map them)."""

    def __init__(self, root: psutil.Process | None = None):
        self.root = root or psutil.Process()
        self.peak, self.peak_pss, self._stop = 0, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me, tick = self.root, 0
        while not self._stop.is_set():
            try:
                procs = [p for p in (me, *me.children(recursive=True)) if p.is_running()]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
                if tick % 10 == 0:
                    self.peak_pss = max(self.peak_pss, sum(p.memory_full_info().pss for p in procs))
            except psutil.Error:
                pass
            tick += 1
            time.sleep(0.05)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def spec(reps, series=False):
    return {"sweep": {"name": "bench", "scenario": "panjshir-2021", "design": "factorial", "replications": reps,
                      "seed": 1, "series": series},
            "factors": {"scenario.fighters_per_agent": {"levels": [FPA]}, "stocks.defender.food_days": {"levels": FOOD},
                        "sides.defender.strength": {"levels": STRENGTH}}}


def bench_redoubt(executor, reps, tmp):
    from redoubt.studies import sweep

    with PeakRSS() as mem:
        t0 = time.perf_counter()
        sweep.run_sweep(spec(reps), Path(tmp) / executor, executor=executor, jobs=2, quiet=True)
        secs = time.perf_counter() - t0
    return secs, mem.peak


def _batch_run(reps: int, fighters_per_agent: int, data_collection_period: int) -> list[dict]:
    """mesa.batch_run with 2 processes on the bench design (food days x defender strength)."""
    import mesa
    from redoubt.core.model import ValleyModel

    return mesa.batch_run(ValleyModel, parameters={"fighters_per_agent": fighters_per_agent, "food_days": FOOD,
                                                   "defender_strength": STRENGTH},
                          rng=list(range(reps)), max_steps=400, number_processes=2,
                          data_collection_period=data_collection_period, display_progress=False)


def bench_batch_run(reps):
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        rows = _batch_run(reps, FPA, data_collection_period=-1)
        secs = time.perf_counter() - t0
    assert len(rows) == reps * 4
    return secs, mem.peak


def batch_run_growth(sizes):
    """Peak memory of mesa.batch_run keeping per-day rows (data_collection_period=1) as the design grows;
    redoubt writes the same series to Parquet as it goes, so its memory stays flat."""
    out = {}
    for n in sizes:
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            rows = _batch_run(n // 4, 50, data_collection_period=1)
            secs = time.perf_counter() - t0
        out[str(n)] = {"rows": len(rows), "seconds": round(secs, 1), "peak_rss_mb": round(mem.peak / 2**20)}
        print(n, out[str(n)], flush=True)
    Path("benchmarks/results/batch_run_growth.json").write_text(json.dumps(out, indent=2))


def _watch(cmd: list[str]) -> tuple[float, PeakRSS]:
    """Run a command as a fresh process and measure it with its children (not this monitoring process)."""
    import subprocess

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    with PeakRSS(psutil.Process(proc.pid)) as mem:
        if proc.wait() != 0:
            raise SystemExit(f"{cmd} failed with exit code {proc.returncode}")
    return time.perf_counter() - t0, mem


def batch_run_child(n: int, out: str) -> None:
    """The batch_run side of `scale`, in its own process: per-day rows kept (data_collection_period=1)."""
    rows = _batch_run(n // 4, SCALE_FPA, data_collection_period=1)
    Path(out).write_text(json.dumps({"rows": len(rows)}))


def scale(n, sides=("redoubt", "batch_run")):
    """The same design at data-farming size, per-day series on both sides, each side as a user runs it in
    a fresh process: `redoubt sweep` (python -m redoubt sweep) streams series to Parquet (series = true);
    a script calling mesa.batch_run keeps them as rows (data_collection_period=1). With one side only,
    the other side's figures are kept from benchmarks/results/sweep_scale.json (same number of runs)."""
    import sys

    from redoubt.studies.provenance import git_revision
    from redoubt.studies.sweep import to_toml

    def figures(secs, mem):
        return {"seconds": round(secs, 1), "runs_per_second": round(n / secs, 2),
                "peak_rss_mb": round(mem.peak / 2**20), "peak_pss_mb": round(mem.peak_pss / 2**20),
                "git": git_revision()}

    result_file = ROOT / "benchmarks/results/sweep_scale.json"
    out = {"runs": n,
           "design": f"2x2 points, fighters_per_agent={SCALE_FPA}, per-day series; each side a fresh process"}
    if result_file.exists() and len(sides) == 1:
        old = json.loads(result_file.read_text())
        if old.get("runs") == n:
            out.update({k: v for k, v in old.items() if k in ("redoubt_sweep_processes_2", "mesa_batch_run_2")})
    s = spec(n // 4, series=True)
    s["factors"]["scenario.fighters_per_agent"] = {"levels": [SCALE_FPA]}
    with tempfile.TemporaryDirectory() as tmp:
        if "redoubt" in sides:
            spec_file = Path(tmp) / "scale.toml"
            spec_file.write_text(to_toml(s))
            secs, mem = _watch([sys.executable, "-m", "redoubt", "sweep", str(spec_file), "--out",
                                str(Path(tmp) / "scale"), "--executor", "processes", "--jobs", "2", "--quiet"])
            out["redoubt_sweep_processes_2"] = figures(secs, mem)
            print(out, flush=True)
        if "batch_run" in sides:
            rows_file = Path(tmp) / "rows.json"
            secs, mem = _watch([sys.executable, __file__, "--batch-run-child", str(n), str(rows_file)])
            out["mesa_batch_run_2"] = {**figures(secs, mem), **json.loads(rows_file.read_text())}
    if "redoubt_sweep_processes_2" in out and "mesa_batch_run_2" in out:
        ours, theirs = out["redoubt_sweep_processes_2"], out["mesa_batch_run_2"]
        for kind in ("rss", "pss"):
            out[f"memory_ratio_batch_run_over_redoubt_{kind}"] = round(theirs[f"peak_{kind}_mb"]
                                                                       / ours[f"peak_{kind}_mb"], 1)
        out["throughput_ratio_redoubt_over_batch_run"] = round(ours["runs_per_second"] / theirs["runs_per_second"], 2)
    result_file.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, metavar="RUNS")
    ap.add_argument("--side", choices=("redoubt", "batch_run"), help="with --scale: measure one side only")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--batch-run-growth", type=int, nargs="+", metavar="RUNS")
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--batch-run-child", nargs=2, metavar=("RUNS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.batch_run_child:
        batch_run_child(int(args.batch_run_child[0]), args.batch_run_child[1])
        return
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    if args.scale:
        scale(args.scale, (args.side,) if args.side else ("redoubt", "batch_run"))
        return
    if args.batch_run_growth:
        batch_run_growth(args.batch_run_growth)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.memory:
            from redoubt.studies import sweep

            s = spec(2500)
            s["factors"]["scenario.fighters_per_agent"] = {"levels": [50]}
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                sweep.run_sweep(s, Path(tmp) / "mem", executor="processes", jobs=2, quiet=True)
                secs = time.perf_counter() - t0
            out = {"runs": 10_000, "seconds": round(secs, 1), "peak_rss_mb": round(mem.peak / 2**20)}
            Path("benchmarks/results/sweep_memory.json").write_text(json.dumps(out, indent=2))
            print(json.dumps(out, indent=2))
            return
        n = args.reps * 4
        out = {"runs": n, "design": f"{len(FOOD)}x{len(STRENGTH)} points x {args.reps} replications, "
                                    f"fighters_per_agent={FPA}"}
        for label, fn in (("serial", lambda: bench_redoubt("serial", args.reps, tmp)),
                          ("processes_2", lambda: bench_redoubt("processes", args.reps, tmp)),
                          ("dask_2_workers", lambda: bench_redoubt("dask", args.reps, tmp)),
                          ("mesa_batch_run_2", lambda: bench_batch_run(args.reps))):
            secs, peak = fn()
            out[label] = {"seconds": round(secs, 2), "runs_per_second": round(n / secs, 2),
                          "peak_rss_mb": round(peak / 2**20)}
            print(label, out[label], flush=True)
        base = out["serial"]["runs_per_second"]
        for k in ("processes_2", "dask_2_workers", "mesa_batch_run_2"):
            out[k]["speedup_vs_serial"] = round(out[k]["runs_per_second"] / base, 2)
        Path("benchmarks/results/sweep.json").write_text(json.dumps(out, indent=2))
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
