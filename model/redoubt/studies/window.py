"""The resupply window: how late can outside help start and still change the answer? (`redoubt window`)

Two sweeps with common seeds (run r of every point uses the seed of replication r, as `redoubt compare`
does): the baseline, resupply switched on but carrying nothing (run for run the same as no resupply: each
random process has its own stream, tests/test_streams.py), and a factorial design over the day help starts
and how much it carries. Each point is then compared with the baseline pair by pair: the paired difference
in P(hold to winter) with Newcombe's interval, the runs it saves and loses, and a fit that is monotone in the
start day (help that comes later never does more; pooled adjacent violators, weighted by pairs). The latest
start day that still gives a stated effect is named only where the interval supports it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..inputs import scenario as scn
from ..inputs.bounded import plain_name
from .parts import write_atomic_text
from .runs import default_runs_dir, drawing
from .stats import mcnemar_exact, newcombe_paired, paired_counts, pairs_needed

AMOUNT = {"passes": ("t_per_day", "t a day"), "air": ("payload_t", "t a sortie")}
START_DAYS = (7, 21, 35, 49, 63, 77)
AMOUNTS = {"passes": (4.0, 8.0, 16.0), "air": (1.0, 2.0, 3.0)}


def specs(scenario: str, kind: str, start_days, amounts, replications: int, seed: int,
          overrides: dict | None = None) -> tuple[dict, dict]:
    """The baseline and design sweeps (spec dicts for `sweep.run_sweep`)."""
    if kind not in AMOUNT:
        raise ValueError(f"kind must be one of {', '.join(AMOUNT)} (got {kind!r})")
    key, _ = AMOUNT[kind]
    name = plain_name(Path(str(scenario)).stem)
    fixed = {**(overrides or {}), f"resupply.{kind}.enabled": True}
    common = {"scenario": str(scenario), "replications": int(replications), "seed": int(seed), "common_seeds": True,
              "design": "factorial", "series": False}
    baseline = {"sweep": {**common, "name": f"{name}-window-{kind}-baseline",
                          "set": {**fixed, f"resupply.{kind}.start_day": int(min(start_days))}},
                "factors": {f"resupply.{kind}.{key}": {"levels": [0.0]}}}
    design = {"sweep": {**common, "name": f"{name}-window-{kind}", "set": fixed},
              "factors": {f"resupply.{kind}.start_day": {"levels": [int(d) for d in start_days]},
                          f"resupply.{kind}.{key}": {"levels": [float(a) for a in amounts]}}}
    return baseline, design


def run_window(scenario: str = "panjshir-2021", kind: str = "passes", start_days=START_DAYS, amounts=None,
               replications: int = 100, seed: int = 2021, jobs: int | None = None, out: str | Path | None = None,
               quiet: bool = False, force: bool = False, overrides: dict | None = None,
               executor: str = "processes") -> Path:
    """Run (or resume) both sweeps under `out` (default runs/<scenario>-window-<kind>/): `baseline/` and
    `design/`. Returns `out`; read it with `effects(out)`."""
    from .sweep import run_sweep

    path = scn.resolve_path(scenario)
    amounts = AMOUNTS[kind] if amounts is None else amounts
    overrides = drawing(scn.load(path, None, overrides), dict(overrides or {}))  # drawn per replication, paired
    baseline, design = specs(str(path), kind, start_days, amounts, replications, seed, overrides)
    out = Path(out) if out else default_runs_dir() / design["sweep"]["name"]
    for spec, sub in ((baseline, "baseline"), (design, "design")):
        run_sweep(spec, out / sub, executor=executor, jobs=jobs, force=force, quiet=quiet)
    return out


def monotone_decreasing(y, w) -> np.ndarray:
    """The weighted least-squares fit to y that never increases (pool adjacent violators)."""
    blocks = []  # [mean, weight, count]
    for yi, wi in zip(np.asarray(y, float), np.asarray(w, float)):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([[m] * n for m, _, n in blocks]) if blocks else np.zeros(0)


def effects(out: str | Path) -> pd.DataFrame:
    """Per design point (start day, amount): the pairs, P(hold) with and without help, the paired
    difference with Newcombe's 95% interval, runs saved and lost, the exact McNemar p, the pairs a McNemar
    test would need for a difference of that size, and the fit monotone in the start day."""
    from .sweep import load

    out = Path(out)
    base = load(out / "baseline", series=False)["outcomes"]
    data = load(out / "design", series=False)
    runs, factors = data["outcomes"], data["manifest"]["design"]["factors"]
    start_key, amount_key = factors
    held_base = base[base["status"] == "ok"].set_index("replication")["held_to_winter"].astype(bool)
    rows = []
    for (day, amount), g in runs.groupby([start_key, amount_key], sort=True):
        held = g[g["status"] == "ok"].set_index("replication")["held_to_winter"].astype(bool)
        pairs = held.index.intersection(held_base.index).sort_values()
        both, better, worse, neither = paired_counts(held_base.loc[pairs], held.loc[pairs])
        diff, lo, hi = newcombe_paired(both, better, worse, neither)
        n = len(pairs)
        rows.append({"start_day": int(day), "amount": float(amount), "pairs": n,
                     "p_hold_baseline": (both + worse) / n if n else math.nan,
                     "p_hold": (both + better) / n if n else math.nan, "effect": diff, "effect_lo95": lo,
                     "effect_hi95": hi, "better": better, "worse": worse, "mcnemar_p": mcnemar_exact(better, worse),
                     "pairs_needed": pairs_needed(better, worse, n)})
    table = pd.DataFrame(rows)
    table["effect_monotone"] = np.nan
    for amount, g in table.groupby("amount"):
        g = g.sort_values("start_day")
        table.loc[g.index, "effect_monotone"] = monotone_decreasing(g["effect"], g["pairs"])
    table.attrs.update(kind=start_key.split(".")[1], start_key=start_key, amount_key=amount_key)
    return table.sort_values(["amount", "start_day"]).reset_index(drop=True)


def latest_start(table: pd.DataFrame, amount: float, effect: float) -> str:
    """The latest start day at which help of `amount` still raises P(hold to winter) by at least `effect`,
    said only where the interval supports it (its lower end at or above `effect`)."""
    g = table[table["amount"] == amount].sort_values("start_day")
    n = int(g["pairs"].min()) if len(g) else 0
    unit = AMOUNT.get(table.attrs.get("kind", "passes"), ("", "t"))[1]
    what = f"{amount:g} {unit}"
    sure = g[g["effect_lo95"] >= effect]
    if len(sure):
        day = int(sure["start_day"].max())
        later = g[g["start_day"] > day]
        after = (f"; from day {int(later['start_day'].min())} on it is not shown at {n} runs" if len(later) else
                 " (the latest day tried)")
        return (f"{what}: starting by day {day}, help raises P(hold to winter) by at least {effect * 100:.0f} points "
                f"(95% interval){after}.")
    best = g.loc[g["effect"].idxmax()] if len(g) else None
    if best is None:
        return f"{what}: no runs."
    if best["effect"] >= effect:
        return (f"{what}: the estimates reach +{effect * 100:.0f} points (up to {_points(best['effect'])} at day "
                f"{int(best['start_day'])}), but no interval supports it at {n} runs a point: the effect of the start "
                f"day is not distinguishable at this many runs.")
    return (f"{what}: no start day gives +{effect * 100:.0f} points (the largest estimate is "
            f"{_points(best['effect'])} at day {int(best['start_day'])}, 95% interval "
            f"{_points(best['effect_lo95'])} to {_points(best['effect_hi95'])}).")


def _points(x: float) -> str:
    v = round(x * 100)
    return f"{v:+d}" if v else "0"


def format_window(table: pd.DataFrame, effect: float) -> str:
    """The terminal's answer: the effect per point, then one sentence per amount."""
    unit = AMOUNT.get(table.attrs.get("kind", "passes"), ("", "t"))[1]
    shown = pd.DataFrame({
        "start day": table["start_day"], f"{unit}": table["amount"].map(lambda a: f"{a:g}"),
        "pairs": table["pairs"],
        "P(hold) none/with": [f"{b:.0%} / {p:.0%}" for b, p in zip(table["p_hold_baseline"], table["p_hold"])],
        "effect, pts [95% CI]": [f"{_points(d)} [{_points(lo)} to {_points(hi)}]" for d, lo, hi in
                                 zip(table["effect"], table["effect_lo95"], table["effect_hi95"])],
        "better/worse": [f"{b}/{w}" for b, w in zip(table["better"], table["worse"])],
        "monotone fit": table["effect_monotone"].map(_points),
    })
    import textwrap

    key = ("effect: P(hold to winter) with help minus without, over the same seeds, in percentage points, with "
           "Newcombe's 95% interval for paired proportions; better/worse: runs it saves / loses; monotone fit: "
           "the effect constrained never to grow with a later start")
    lines = [shown.to_string(index=False), "", textwrap.fill(key, 100, initial_indent="  ", subsequent_indent="  "),
             ""]
    lines += [textwrap.fill(f"- {latest_start(table, a, effect)}", 100, subsequent_indent="  ")
              for a in sorted(table["amount"].unique())]
    return "\n".join(lines)


def plot_window(table: pd.DataFrame, path: Path, effect: float) -> Path:
    """The effect of help against its start day, one panel per amount: points with their intervals, the
    monotone fit, zero and the effect asked for."""
    from .compare import _figure, _save

    amounts = sorted(table["amount"].unique())
    fig = _figure(figsize=(3.6 * len(amounts) + 0.8, 3.8), dpi=110)
    axes = np.atleast_1d(fig.subplots(1, len(amounts), sharey=True))
    unit = AMOUNT.get(table.attrs.get("kind", "passes"), ("", "t"))[1]
    for ax, a in zip(axes, amounts):
        g = table[table["amount"] == a].sort_values("start_day")
        x = g["start_day"].to_numpy()
        mid, lo, hi = (g[c].to_numpy() * 100 for c in ("effect", "effect_lo95", "effect_hi95"))
        ax.errorbar(x, mid, yerr=[mid - lo, hi - mid], fmt="o", color="black", capsize=3, label="paired effect, 95% CI")
        ax.plot(x, g["effect_monotone"] * 100, color="#2e86c1", lw=2, label="monotone fit")
        ax.axhline(0, color="black", lw=0.8)
        ax.axhline(effect * 100, color="#c0392b", ls="--", lw=1, label=f"+{effect * 100:.0f} points asked for")
        ax.set_title(f"{a:g} {unit}", fontsize=10)
        ax.set_xlabel("help starts on day (since the start date)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("change in P(hold to winter)\n(percentage points)")
    axes[0].legend(fontsize=7, loc="best")
    n = int(table["pairs"].min()) if len(table) else 0
    fig.suptitle(f"What help changes, by the day it starts ({n} paired runs a point)", fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    return path


def write_results(out: Path, table: pd.DataFrame, effect: float) -> str:
    """window.csv, window.png and window.md under `out`; returns the terminal text."""
    text = format_window(table, effect)
    write_atomic_text(table.round(4).to_csv(index=False), out / "window.csv")
    plot_window(table, out / "window.png", effect)
    write_atomic_text(f"# The resupply window\n\n![effect by start day](window.png)\n\n```\n{text}\n```\n",
                      out / "window.md")
    return text
