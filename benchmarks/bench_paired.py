"""Wall time of a change, paired: this checkout against another (`--tree`), each run made on both back to back.

On a shared machine whose speed moves 10-30% from one minute to the next, two timings taken minutes apart say
little about a change of a few percent. Here two long-lived worker processes, one per checkout (its `model/` first
on the path, warmed up by a run at each resolution), make the same runs in turn: for each round, seed and
resolution, one run on each, back to back, the order alternating. Each pair gives a ratio (this / other) in nearly
the same conditions; the median of the pairs' ratios is the change, their quartiles its spread. Instructions
(`bench_instructions.py`) are the noise-free meter; this is the one in seconds.

    .venv/bin/python benchmarks/bench_paired.py --tree PATH [--rounds 6] [--seeds 5]

Prints the medians and quartiles for the default resolution and for 1 fighter per agent; writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from redoubt import ValleyModel
ValleyModel(rng=99).run()
ValleyModel(rng=99, fighters_per_agent=1).run()
for line in sys.stdin:
    seed, fpa = map(int, line.split())
    kw = {} if fpa == 0 else {"fighters_per_agent": fpa}
    t = time.perf_counter()
    ValleyModel(rng=seed, **kw).run()
    print(time.perf_counter() - t, flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, required=True, help="the other checkout (its model/ is imported)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[1]
    trees = [args.tree.resolve(), here]  # other, this
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(t / "model")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for t in trees]

    def run(k: int, seed: int, fpa: int) -> float:
        workers[k].stdin.write(f"{seed} {fpa}\n")
        workers[k].stdin.flush()
        return float(workers[k].stdout.readline())

    ratios: dict[int, list[float]] = {0: [], 1: []}
    try:
        for r in range(args.rounds):
            for seed in range(args.seeds):
                for fpa in (0, 1):
                    order = (0, 1) if (r + seed + fpa) % 2 == 0 else (1, 0)
                    took = {k: run(k, seed, fpa) for k in order}
                    ratios[fpa].append(took[1] / took[0])
    finally:
        for w in workers:
            w.stdin.close()
            w.wait()
    print(f"this: {here}\nother: {trees[0]}")
    for fpa, label in ((0, "default resolution"), (1, "1 fighter per agent")):
        q = statistics.quantiles(ratios[fpa], n=4)
        print(f"{label}: this / other {statistics.median(ratios[fpa]):.3f} (quartiles {q[0]:.3f}-{q[2]:.3f}, "
              f"{len(ratios[fpa])} pairs)")


if __name__ == "__main__":
    main()
