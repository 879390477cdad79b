"""A study's fixed costs (issue 24, item 4): a 400-run sweep on 2 jobs against two bare processes running the
same 400 runs in a plain loop, and a worker's start-up (importing the model in a fresh Python).

- bare: two fresh Python processes, each `ValleyModel(rng=seed).run()` for its half of the seeds, nothing
  written; wall time from starting them to both ending (their start-up included, as a sweep's workers');
- sweep: `redoubt sweep` (`python -m redoubt sweep`, a fresh process) on the same 400 runs (one design
  point, 400 replications, the default resolution, no daily series), 2 local processes, into a temporary
  directory: planning, workers, Parquet parts and the manifest included;
- start-up: a fresh `python -c "import redoubt.core.model"`, median of 5; and what a fresh process's first run
  costs beyond its later ones (loading the compiled kernels from their cache), median of 5.

The runs differ in seed (the sweep derives its seeds from the master seed), not in kind: both are default
Panjshir runs, so the comparison is of throughput (runs a second). Rounds alternate; medians reported.

    .venv/bin/python benchmarks/bench_sweep_overhead.py [--runs 400] [--rounds 3]
Writes benchmarks/results/sweep_overhead.json. Run on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = ("import sys; from redoubt import ValleyModel; "
        "[ValleyModel(rng=s).run() for s in range(int(sys.argv[1]), int(sys.argv[2]))]")


def bare(runs: int) -> float:
    t0 = time.perf_counter()
    half = runs // 2
    procs = [subprocess.Popen([sys.executable, "-c", BARE, str(a), str(b)]) for a, b in ((0, half), (half, runs))]
    for p in procs:
        assert p.wait() == 0
    return time.perf_counter() - t0


def sweep(runs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "overhead.toml"
        spec.write_text(f'[sweep]\nname = "overhead"\nscenario = "panjshir-2021"\ndesign = "factorial"\n'
                        f'replications = {runs}\nseed = 1\n\n[factors."sides.defender.strength"]\nlevels = [6000]\n')
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "redoubt", "sweep", str(spec), "--out", str(Path(tmp) / "out"),
                        "--executor", "processes", "--jobs", "2", "--quiet"], check=True, capture_output=True)
        return time.perf_counter() - t0


def start_up() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import redoubt.core.model"], check=True)
    return time.perf_counter() - t0


FIRST_RUN = """import time
from redoubt import ValleyModel
t = []
for s in (1, 2, 3):
    t0 = time.perf_counter()
    ValleyModel(rng=s).run()
    t.append(time.perf_counter() - t0)
print(t[0] - min(t[1:]))
"""


def first_run_extra() -> float:
    """What a fresh process's first run costs beyond a later one: loading the compiled kernels (fused.py) from
    their cache, and whatever else is done once."""
    out = subprocess.run([sys.executable, "-c", FIRST_RUN], check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    b, s = [], []
    for _ in range(args.rounds):
        b.append(bare(args.runs))
        s.append(sweep(args.runs))
    imports = [start_up() for _ in range(5)]
    first = [first_run_extra() for _ in range(5)]
    out = {
        "runs": args.runs, "jobs": 2, "rounds": args.rounds,
        "bare_two_processes_s": {"median": round(statistics.median(b), 2), "min": round(min(b), 2)},
        "sweep_two_jobs_s": {"median": round(statistics.median(s), 2), "min": round(min(s), 2)},
        "sweep_throughput_over_bare": round(statistics.median(b) / statistics.median(s), 3),
        "worker_start_up_s": round(statistics.median(imports), 3),
        "worker_first_run_extra_s": round(statistics.median(first), 3),
        "python": platform.python_version(), "machine": platform.platform(),
    }
    print(json.dumps(out, indent=2))
    (ROOT / "benchmarks" / "results" / "sweep_overhead.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
