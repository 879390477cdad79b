"""Instructions per default Panjshir run, counted by valgrind's callgrind: a speed meter that a busy or shared
machine does not move (wall-clock figures here vary by 10-30% from one minute to the next, more than most single
changes save; the instruction count of the same code is the same to 0.1%).

Runs in a child process under `valgrind --tool=callgrind --instr-atstart=no`: the child imports the model and
makes a warm-up run at native speed, collects garbage, switches counting on (`callgrind_control -i on`), makes
`--runs` default runs (seeds 0, 1, ...) and leaves with os._exit, so neither the imports nor the interpreter's
shutdown are counted. NUMBA_CPU_NAME=generic, in the warm-up outside valgrind and in the child: the compiled
kernels are then the ones cached for that name, loaded rather than compiled under valgrind (whose CPU is not the
host's). Instructions are not time: a compiled loop retires several an instruction cycle, the interpreter fewer,
so a change to the Python side is worth more in seconds than its share of instructions says.

    .venv/bin/python benchmarks/bench_instructions.py [--runs 3] [--tree PATH] [--fighters-per-agent N]

`--tree`: another checkout (its `model/` first on the path) to compare with: a change's before and after. Writes
benchmarks/results/instructions.json. Needs valgrind (Debian: valgrind); about a
minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import gc, os, subprocess, sys
from redoubt import ValleyModel
KW = {KW}
ValleyModel(rng=99, **KW).run()
if len(sys.argv) > 1:
    gc.collect()
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=True)
    for seed in range(int(sys.argv[1])):
        ValleyModel(rng=seed, **KW).run()
    os._exit(0)
"""


def count(tree: Path, runs: int, fighters_per_agent: int | None = None) -> int:
    """Instructions callgrind counted over `runs` default runs of the model in `tree` (at another resolution if
    `fighters_per_agent` is given)."""
    env = {**os.environ, "NUMBA_CPU_NAME": "generic", "PYTHONPATH": str(tree / "model")}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        kw = {} if fighters_per_agent is None else {"fighters_per_agent": fighters_per_agent}
        script.write_text(CHILD.replace("{KW}", repr(kw)))
        subprocess.run([sys.executable, str(script)], env=env, cwd=tmp, check=True)  # warm the generic cache
        done = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                               f"--callgrind-out-file={tmp}/callgrind.out", sys.executable, str(script), str(runs)],
                              env=env, cwd=tmp, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if not found:
        raise SystemExit(f"bench_instructions: no count in callgrind's report:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tree", type=Path, help="another checkout to count beside this one")
    ap.add_argument("--fighters-per-agent", type=int, help="count runs at this resolution (not written to results/)")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("bench_instructions: valgrind is not installed (Debian: apt-get install valgrind)")
    here = Path(__file__).resolve().parents[1]
    fpa = args.fighters_per_agent
    result = {"instructions_per_default_run_millions": round(count(here, args.runs, fpa) / args.runs / 1e6, 1),
              "runs": args.runs, "seeds": f"0-{args.runs - 1}", "python": platform.python_version(),
              "machine": platform.platform()}
    if args.tree:
        other = count(args.tree.resolve(), args.runs, fpa) / args.runs / 1e6
        commit = subprocess.run(["git", "-C", str(args.tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        result["other_tree"] = {"path": str(args.tree), "commit": commit or None,
                                "instructions_per_default_run_millions": round(other, 1),
                                "this_over_other": round(result["instructions_per_default_run_millions"] / other, 3)}
    if fpa is not None:  # another resolution: reported, the default run's figure in results/ kept
        result = {"fighters_per_agent": fpa, **{k.replace("_default_run", "_run"): v for k, v in result.items()}}
        if "other_tree" in result:
            result["other_tree"] = {k.replace("_default_run", "_run"): v for k, v in result["other_tree"].items()}
        print(json.dumps(result, indent=2))
        return
    print(json.dumps(result, indent=2))
    (here / "benchmarks" / "results" / "instructions.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
