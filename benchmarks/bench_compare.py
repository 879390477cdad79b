"""Wall time of `redoubt compare` on the default scenario, 2 variants x 200 replications, 2 jobs.

    .venv/bin/python benchmarks/bench_compare.py
Writes benchmarks/results/compare.json (the run's own output goes to a temporary directory).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "redoubt", "compare", "panjshir-2021", "--variants", "none,air+passes",
               "--replications", "200", "--jobs", "2", "--quiet", "--out", str(Path(tmp) / "cmp")]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
    out = {"command": "redoubt compare panjshir-2021 --variants none,air+passes --replications 200 --jobs 2",
           "runs": 400, "wall_seconds": round(wall, 1), "cores": os.cpu_count()}
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/compare.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
