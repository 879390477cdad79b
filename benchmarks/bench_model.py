"""Speed of one Panjshir baseline run, at one fighter per agent and at the default resolution, and the cost
per fighter-day beside Mesa's own cost for an agent taking one random step on a network (same process).
Also the default resolution with issue 13's processes switched off (and the inputs before them), for the
cost of those processes per simulated day, measured in the same run.

    .venv/bin/python benchmarks/bench_model.py [--seeds 5] [--repeats 3]
Writes benchmarks/results/model.json. Run on an otherwise idle machine; one core is used. After a warm-up run
of each configuration, the runs are interleaved seed by seed, each seed's configurations `--repeats` times in
turn, and a seed's time in a configuration is the least of its repeats (as `timeit` advises: the others are the
same run, slowed by whatever else the machine did). The fine run's cost against the default's is also given
paired: `one_per_agent_over_default`, the median over seeds of each seed's ratio, and
`one_per_agent_over_default_total`, the ratio of the two configurations' total times over the same seeds.
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import mesa
import networkx as nx
from mesa.discrete_space import CellAgent, Network
from redoubt.core.model import ValleyModel
from redoubt.core.params import NEEDS

PROCESSES_OFF = {**{f"switches__{k}": False for k in NEEDS},
                 "sides__attacker__waves": [[0, 1000], [4, 3000], [10, 4000], [20, 4000]],
                 "collapse__run_on_after_fall": False}


def time_run(seed: int, fpa: int | None, extra: dict | None = None) -> tuple[float, float, int]:
    kw = {} if fpa is None else {"fighters_per_agent": fpa}
    kw.update(extra or {})
    t0 = time.perf_counter()
    m = ValleyModel(rng=seed, **kw)
    m.run()
    secs = time.perf_counter() - t0
    df = m.daily()
    fighter_days = float((df["attackers_active"] + df["defenders_active"]).iloc[1:].sum())
    return secs, fighter_days, m.day


class Walker(CellAgent):
    def __init__(self, model, cell):
        super().__init__(model)
        self.cell = cell

    def step(self):
        self.cell = self.cell.neighborhood.select_random_cell()


class WalkModel(mesa.Model):
    def __init__(self, n_agents=10_000, rng=None):
        super().__init__(rng=rng)
        g = nx.random_regular_graph(4, 200, seed=1)
        self.space = Network(g, random=self.random, layout=None)
        cells = self.space.all_cells.cells
        Walker.create_agents(self, n_agents, cell=[cells[i % len(cells)] for i in range(n_agents)])

    def step(self):
        self.agents.do("step")


def mesa_random_step_cost(n_agents=10_000, steps=20) -> float:
    m = WalkModel(n_agents, rng=1)
    m.step()  # warm up
    t0 = time.perf_counter()
    for _ in range(steps):
        m.step()
    return (time.perf_counter() - t0) / (n_agents * steps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each seed and configuration (the least counts)")
    args = ap.parse_args()
    out = {"python": platform.python_version(), "mesa": mesa.__version__, "machine": platform.machine()}
    configs = (("one_fighter_per_agent", 1, None), ("default_resolution", None, None),
               ("default_resolution_processes_off", None, PROCESSES_OFF))
    for _, fpa, extra in configs:  # warm-up: a process's first run also loads the compiled kernels
        time_run(99, fpa, extra)
    # interleaved, seed by seed: a change in the machine's load falls on every configuration alike
    runs: dict[str, list] = {label: [] for label, _, _ in configs}
    for s in range(args.seeds):
        tries: dict[str, list] = {label: [] for label, _, _ in configs}
        for _ in range(args.repeats):
            for label, fpa, extra in configs:
                tries[label].append(time_run(s, fpa, extra))
        for label in runs:
            runs[label].append(min(tries[label]))  # the same run each time: the least disturbed one
    for label, _, _ in configs:
        res = runs[label]
        secs = [r[0] for r in res]
        per_fd = [r[0] / r[1] for r in res]
        out[label] = {"median_seconds": statistics.median(secs), "max_seconds": max(secs),
                      "median_days": statistics.median(r[2] for r in res),
                      "ms_per_day": 1e3 * statistics.median(r[0] / r[2] for r in res),
                      "us_per_fighter_day": 1e6 * statistics.median(per_fd)}
    # issue 24's bound, paired: each seed's run at 1 fighter per agent over its default run, made back to back
    fine, default = runs["one_fighter_per_agent"], runs["default_resolution"]
    out["one_per_agent_over_default"] = statistics.median(f[0] / d[0] for f, d in zip(fine, default))
    out["one_per_agent_over_default_total"] = sum(f[0] for f in fine) / sum(d[0] for d in default)
    out["seeds"], out["repeats"] = args.seeds, args.repeats
    out["mesa_random_network_step_us_per_agent"] = mesa_us = 1e6 * mesa_random_step_cost()
    on, off = out["default_resolution"], out["default_resolution_processes_off"]
    out["processes_cost_per_day_ratio"] = on["ms_per_day"] / off["ms_per_day"]
    out["default_run_in_mesa_steps"] = 1e6 * on["median_seconds"] / mesa_us  # a run costs this many agent steps
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/model.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
