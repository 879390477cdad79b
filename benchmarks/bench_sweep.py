"""Sweep throughput and peak memory: serial, 2 local processes, Dask LocalCluster (2 workers) and
mesa.batch_run (2 processes) on the same design; and the peak memory of a 10,000-run sweep.

    .venv/bin/python benchmarks/bench_sweep.py            # throughput table (~3 minutes)
    .venv/bin/python benchmarks/bench_sweep.py --memory   # 10,000 runs, peak resident memory (~10 minutes)
    .venv/bin/python benchmarks/bench_sweep.py --batch-run-growth 200 800   # batch_run with per-day rows
    .venv/bin/python benchmarks/bench_sweep.py --scale 32000   # both, per-day series, a data-farming size
Peak memory is the largest sum of resident set sizes of this process and all its children, sampled
every 50 ms. Writes benchmarks/results/sweep.json or sweep_memory.json.
"""

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import psutil

FOOD, STRENGTH, FPA = [60, 120], [4000, 7000], 20


class PeakRSS:
    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                procs = [me, *me.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
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
    from model import sweep

    with PeakRSS() as mem:
        t0 = time.perf_counter()
        sweep.run_sweep(spec(reps), Path(tmp) / executor, executor=executor, workers=2, quiet=True)
        secs = time.perf_counter() - t0
    return secs, mem.peak


def bench_batch_run(reps):
    import mesa

    from model.model import ValleyModel

    params = {"fighters_per_agent": FPA, "food_days": FOOD, "defender_strength": STRENGTH}
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        rows = mesa.batch_run(ValleyModel, parameters=params, rng=list(range(reps)), max_steps=400,
                              number_processes=2, data_collection_period=-1, display_progress=False)
        secs = time.perf_counter() - t0
    assert len(rows) == reps * 4
    return secs, mem.peak


def batch_run_growth(sizes):
    """Peak memory of mesa.batch_run keeping per-day rows (data_collection_period=1) as the design grows;
    redoubt writes the same series to Parquet as it goes, so its memory stays flat."""
    import mesa

    from model.model import ValleyModel

    out = {}
    for n in sizes:
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            rows = mesa.batch_run(ValleyModel, parameters={"fighters_per_agent": 50, "food_days": FOOD,
                                                           "defender_strength": STRENGTH},
                                  rng=list(range(n // 4)), max_steps=400, number_processes=2,
                                  data_collection_period=1, display_progress=False)
            secs = time.perf_counter() - t0
        out[str(n)] = {"rows": len(rows), "seconds": round(secs, 1), "peak_rss_mb": round(mem.peak / 2**20)}
        print(n, out[str(n)], flush=True)
    Path("benchmarks/results/batch_run_growth.json").write_text(json.dumps(out, indent=2))


def scale(n):
    """The same design at data-farming size, per-day series on both sides: redoubt streams them to
    Parquet (series = true), batch_run keeps them as rows (data_collection_period=1)."""
    import mesa

    from model import sweep
    from model.model import ValleyModel

    reps = n // 4
    s = spec(reps, series=True)
    s["factors"]["scenario.fighters_per_agent"] = {"levels": [100]}
    out = {"runs": reps * 4, "design": "2x2 points, fighters_per_agent=100, per-day series"}
    with tempfile.TemporaryDirectory() as tmp:
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            sweep.run_sweep(s, Path(tmp) / "scale", executor="processes", workers=2, quiet=True)
            secs = time.perf_counter() - t0
    out["redoubt_processes_2"] = {"seconds": round(secs, 1), "runs_per_second": round(n / secs, 2),
                                  "peak_rss_mb": round(mem.peak / 2**20)}
    print(out, flush=True)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        rows = mesa.batch_run(ValleyModel, parameters={"fighters_per_agent": 100, "food_days": FOOD,
                                                       "defender_strength": STRENGTH},
                              rng=list(range(reps)), max_steps=400, number_processes=2, data_collection_period=1,
                              display_progress=False)
        secs = time.perf_counter() - t0
    out["mesa_batch_run_2"] = {"seconds": round(secs, 1), "runs_per_second": round(n / secs, 2),
                               "peak_rss_mb": round(mem.peak / 2**20), "rows": len(rows)}
    del rows
    out["memory_ratio_batch_run_over_redoubt"] = round(out["mesa_batch_run_2"]["peak_rss_mb"]
                                                       / out["redoubt_processes_2"]["peak_rss_mb"], 1)
    Path("benchmarks/results/sweep_scale.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, metavar="RUNS")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--batch-run-growth", type=int, nargs="+", metavar="RUNS")
    ap.add_argument("--reps", type=int, default=100)
    args = ap.parse_args()
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    if args.scale:
        scale(args.scale)
        return
    if args.batch_run_growth:
        batch_run_growth(args.batch_run_growth)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.memory:
            from model import sweep

            s = spec(2500)
            s["factors"]["scenario.fighters_per_agent"] = {"levels": [50]}
            with PeakRSS() as mem:
                t0 = time.perf_counter()
                sweep.run_sweep(s, Path(tmp) / "mem", executor="processes", workers=2, quiet=True)
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
