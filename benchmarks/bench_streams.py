"""What one random stream per process costs (issue 20: at most 5% of a default run).

The same default Panjshir runs, interleaved in one process: with the model's streams
(model/redoubt/core/streams.py), and with every stream replaced by the one Mesa generator (as before issue 20:
the same numpy calls, one generator). The trajectories differ (the draws differ), so the cost is compared per
simulated day, over many seeds, as medians of repeated rounds; and the fixed cost (spawning the generators)
beside a default run.

    .venv/bin/python benchmarks/bench_streams.py [--seeds 30] [--rounds 5]
Writes benchmarks/results/streams.json.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from redoubt.core import streams
from redoubt.core.model import ValleyModel


class OneStream:
    """Every process drawing from the one generator (the model before separate streams)."""

    def __init__(self, rng):
        for name in streams.NAMES:
            setattr(self, name, rng)


def seconds_per_day(seeds, one_stream: bool) -> float:
    original = streams.Streams.of
    if one_stream:
        streams.Streams.of = classmethod(lambda cls, rng, seeded: OneStream(rng))
    try:
        secs = days = 0.0
        for seed in seeds:
            t0 = time.perf_counter()
            m = ValleyModel(rng=seed)
            m.run()
            secs += time.perf_counter() - t0
            days += m.day
        return secs / days
    finally:
        streams.Streams.of = original


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    seconds_per_day(seeds[:3], False)  # warm up imports and caches
    per = {"streams": [], "one_stream": []}
    for _ in range(args.rounds):  # interleaved: a busy spell hits both alike
        per["streams"].append(seconds_per_day(seeds, False))
        per["one_stream"].append(seconds_per_day(seeds, True))
    med = {k: statistics.median(v) for k, v in per.items()}
    import numpy as np

    t0 = time.perf_counter()
    for seed in range(1000):  # the fixed cost: ten generators spawned per run
        streams.Streams.of(np.random.default_rng(seed), seeded=True)
    setup = (time.perf_counter() - t0) / 1000
    t0 = time.perf_counter()
    for seed in seeds[:10]:
        ValleyModel(rng=seed).run()
    run = (time.perf_counter() - t0) / 10
    result = {"ms_per_day_streams": round(med["streams"] * 1e3, 4),
              "ms_per_day_one_stream": round(med["one_stream"] * 1e3, 4),
              "ratio": round(med["streams"] / med["one_stream"], 4),
              "setup_us_per_run": round(setup * 1e6, 1), "default_run_ms": round(run * 1e3, 1),
              "setup_share_of_a_run": round(setup / run, 5),
              "rounds": args.rounds, "seeds": args.seeds, "machine": platform.platform(),
              "python": platform.python_version()}
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "streams.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
