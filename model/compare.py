"""`redoubt compare`: the same valley with and without outside resupply, replicated, summarised.

A comparison is a small sweep (variants x replications) run by the shared engine. Replication r of every
variant uses the same seed (common random numbers), so differences between variants are not noise in
the weather draw or the first engagements.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import scenario as scn
from .engine import (
    OutputDir,
    Progress,
    RunSpec,
    derive_seed,
    make_executor,
    read_parts,
    run_specs,
    write_atomic_parquet,
    write_atomic_text,
)
from .outcome import CAUSES
from .provenance import git_revision, versions
from .stats import cumulative_incidence, p_hold


def plan(scenario: str, variants: list[str], replications: int, seed: int,
         overrides: dict | None = None) -> list[RunSpec]:
    specs = []
    for vi, variant in enumerate(variants):
        for r in range(replications):
            specs.append(RunSpec(run_id=vi * replications + r, point=vi, replication=r,
                                 seed=derive_seed(seed, 0, r),  # common random numbers across variants
                                 scenario=scenario, variant=variant, overrides=dict(overrides or {}),
                                 series=True))
    return specs


def run_compare(scenario: str, variants: list[str] | None, replications: int, seed: int, jobs: int,
                out: Path, quiet: bool = False, executor: str = "processes", force: bool = False,
                overrides: dict | None = None) -> dict:
    """Run the comparison into `out` (new or empty; with force, one an earlier compare wrote). Returns the
    summary and paths. Interrupted or failed, it takes back everything it wrote."""
    t0 = time.time()
    path = scn.resolve_path(scenario)
    overrides = dict(overrides or {})
    spec0 = scn.load(path, None, overrides)  # validates before anything is written
    variants = scn.check_variants(path, variants, overrides)
    specs = plan(str(path), variants, replications, seed, overrides)
    target = OutputDir(out, "compare").claim(force=force)
    try:
        result = _compare_into(target.path, path, spec0, variants, specs, replications, seed, jobs, quiet,
                               executor, t0)
    except BaseException:
        target.abort()
        raise
    target.close()
    return result


def _compare_into(out: Path, path: Path, spec0: dict, variants: list[str], specs: list[RunSpec],
                  replications: int, seed: int, jobs: int, quiet: bool, executor: str, t0: float) -> dict:
    parts = out / ".parts"
    series: dict[str, list] = defaultdict(list)
    progress = Progress(len(specs), quiet)
    try:
        run_specs(specs, parts, make_executor(executor, jobs), progress=progress,
                  on_series=lambda items: [series[s.variant].append((s.replication, ser)) for s, ser in items])
    finally:
        progress.close()
    table = read_parts(parts).sort_by("run_id")
    if table.num_rows != len(specs):
        raise RuntimeError(f"{parts}: {table.num_rows} results for {len(specs)} runs")
    write_atomic_parquet(table, out / "runs.parquet")
    runs = table.to_pandas()
    summary = summarise(runs, variants)
    write_atomic_text(summary.round(4).to_csv(index=False), out / "summary.csv")
    start = spec0["scenario"]["start_date"]
    names = {"attacker": spec0["sides"]["attacker"]["name"], "defender": spec0["sides"]["defender"]["name"]}
    figures = {
        "outcomes": plot_outcomes(runs, summary, variants, start, out / "outcomes.png"),
        "falls": plot_falls(runs, variants, start, out / "falls.png"),
        "stocks": plot_bands(series, variants, start, out / "stocks.png",
                             [("food_days_left", "days of food left"), ("ammo_days_left", "days of ammunition left")],
                             "Defender stocks (stores + carried) in days of supply"),
        "forces": plot_bands(series, variants, start, out / "forces.png",
                             [("defenders_active", f"{names['defender']} fighters"),
                              ("attackers_active", f"{names['attacker']} fighters")], "Fighters per side"),
    }
    meta = {"scenario": str(path), "scenario_name": spec0["scenario"]["name"], "title": spec0["scenario"]["title"],
            "variants": variants, "variant_descriptions": {v: spec0["variants"].get(v, {}).get("description", "")
                                                            for v in variants},
            "replications": replications, "master_seed": seed, "jobs": jobs, "versions": versions(),
            "git": git_revision(), "command": " ".join(sys.argv), "seconds": round(time.time() - t0, 1),
            "created": dt.datetime.now().isoformat(timespec="seconds"), "start_date": start.isoformat(),
            "overrides": specs[0].overrides if specs else {}}
    write_atomic_text(report_md(summary, meta, figures), out / "report.md")  # the last file: the run is complete
    shutil.rmtree(parts, ignore_errors=True)
    return {"summary": summary, "out": out, "meta": meta}


def fell(runs: pd.DataFrame) -> pd.Series:
    """The runs in which the valley fell (did not hold, and has a collapse day)."""
    return ~runs["held_to_winter"].astype(bool) & runs["collapse_day"].notna()


def summarise(runs: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    rows = []
    for v in variants:
        r = runs[runs["variant"] == v]
        ok = r[r["status"] == "ok"]
        falls = ok[fell(ok)]
        q = (pd.to_datetime(falls["collapse_date"]).quantile([0.25, 0.5, 0.75]).dt.date.astype(str).tolist()
             if len(falls) else [None] * 3)
        row = {"variant": v, **p_hold(r), "fell": len(falls),
               "collapse_q25": q[0], "collapse_median": q[1], "collapse_q75": q[2]}
        for c in CAUSES:
            row[f"cause_{c}"] = float((falls["cause"] == c).mean()) if len(falls) else np.nan
        # What "fell" means, beside the rule of held_to_winter: the floor lost, organised resistance ended.
        row["p_floor_lost"] = float(ok["floor_lost_day"].notna().mean()) if len(ok) else np.nan
        row["p_resistance_ended"] = float(ok["resistance_ended_day"].notna().mean()) if len(ok) else np.nan
        row["food_days_left_median"] = float(ok["food_days_left"].median())
        row["ammo_days_left_median"] = float(ok["ammo_days_left"].median())
        row["resupply_t_median"] = float(ok["resupply_delivered_kg"].median() / 1000)
        row["resupply_food_t_median"] = float(ok["resupply_food_kg"].median() / 1000)
        row["resupply_ammo_t_median"] = float(ok["resupply_ammo_kg"].median() / 1000)
        row["km_road_held_median"] = float(ok["km_road_held"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def _day_month(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%d %b").lstrip("0")


def _percent(p: float) -> str:
    return f"{p * 100:.0f}%"


def _interval(lo: float, hi: float) -> str:
    """'[20-48%]': the table and the sentences say it the same way."""
    return f"[{lo * 100:.0f}-{_percent(hi)}]"


def table_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as people read it (terminal and report): fits 100 columns; COLUMN_KEY says what each is."""
    return pd.DataFrame({
        "variant": summary["variant"],
        "runs": summary["runs"],
        "P(hold) [95% CI]": ["-" if np.isnan(p) else f"{_percent(p)} {_interval(lo, hi)}" for p, lo, hi in
                             zip(summary["p_hold"], summary["p_hold_lo95"], summary["p_hold_hi95"])],
        "falls: median (IQR)": [f"{_day_month(m)} ({_day_month(a)}-{_day_month(b)})" if isinstance(m, str) else "-"
                                for m, a, b in zip(summary["collapse_median"], summary["collapse_q25"],
                                                   summary["collapse_q75"])],
        "cause %": ["-" if np.isnan(row["cause_combat"]) else "/".join(f"{100 * row[f'cause_{c}']:.0f}" for c in CAUSES)
                    for _, row in summary.iterrows()],
        "left d f/a": [f"{f:.0f}/{a:.0f}" for f, a in
                       zip(summary["food_days_left_median"], summary["ammo_days_left_median"])],
        "resupply t f/a": [f"{f:.0f}/{a:.0f}" for f, a in
                                 zip(summary["resupply_food_t_median"], summary["resupply_ammo_t_median"])],
    })


COLUMN_KEY = (
    ("runs", "runs of the variant (each from its own seed; the same seeds for every variant)"),
    ("P(hold) [95% CI]", ("share of runs in which the valley held to winter (or repulsed the offensive), "
                          "with its 95% Wilson interval")),
    ("falls: median (IQR)", ("over the runs in which the valley fell: the median date of the fall, and the "
                             "dates between which the middle half of the falls came")),
    ("cause %", ("over the runs that fell, % that fell to combat losses / for lack of food or ammunition / as "
                 "cohesion cracked (desertion, surrender, places breaking) / as encircled places surrendered / to "
                 "local commanders' pacts")),
    ("left d f/a", ("medians over runs, at each run's end (fall, winter or horizon), of the defenders' "
                    "food / ammunition (stores + carried) in days of that day's draw")),
    ("resupply t f/a", ("medians over runs of the tonnes of food / ammunition that outside resupply "
                        "delivered to the defenders")),
)

_CAUSE_WORDS = {"combat": "to combat losses", "supply": "for lack of food or ammunition",
                "cohesion": "as its cohesion cracks (fighters desert or surrender, places break)",
                "encirclement": "as encircled places surrender", "pacts": "to local commanders' pacts"}


def answer(row, description: str = "") -> str:
    """One variant's result in one sentence."""
    who = f"{row['variant']} ({description[:1].lower() + description[1:]})" if description else row["variant"]
    ok = row["runs"] - row["failed"]
    if ok == 0:
        return f"{who}: no run finished; see the errors in runs.parquet."
    text = (f"{who}: the valley holds to winter in {_percent(row['p_hold'])} of runs "
            f"{_interval(row['p_hold_lo95'], row['p_hold_hi95'])}")
    if not row["fell"]:
        return text + f"; it did not fall in any of the {ok} runs."
    shares = {c: row[f"cause_{c}"] for c in CAUSES}
    cause = max(shares, key=shares.get)
    how = "always" if shares[cause] == 1 else ("mostly" if shares[cause] >= 0.5 else "most often")
    text += (f"; when it falls, it falls around {_day_month(row['collapse_median'])} (half of the falls "
             f"between {_day_month(row['collapse_q25'])} and {_day_month(row['collapse_q75'])}), {how} "
             f"{_CAUSE_WORDS[cause]}" + ("." if how == "always" else f" ({shares[cause]:.0%} of falls)."))
    if "p_floor_lost" in row and np.isfinite(row["p_floor_lost"]):
        text += (f" The valley floor is lost in {_percent(row['p_floor_lost'])} of runs; organised resistance ends "
                 f"in {_percent(row['p_resistance_ended'])}.")
    return text


def answers(summary: pd.DataFrame, descriptions: dict) -> list[str]:
    return [answer(row, descriptions.get(row["variant"], "")) for _, row in summary.iterrows()]


WIDTH = 100  # the terminal's columns


def format_table(summary: pd.DataFrame, descriptions: dict | None = None) -> str:
    """The terminal's result: the table, what its columns mean, one sentence per variant."""
    key = [textwrap.fill(f"{name}: {meaning}", WIDTH, initial_indent="  ", subsequent_indent="    ")
           for name, meaning in COLUMN_KEY]
    said = [textwrap.fill(a, WIDTH, initial_indent="- ", subsequent_indent="  ")
            for a in answers(summary, descriptions or {})]
    return "\n".join([table_frame(summary).to_string(index=False), "", *key, "", *said])


def _markdown_table(summary: pd.DataFrame) -> str:
    t = table_frame(summary)
    out = ["| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in t.itertuples(index=False)]
    return "\n".join(out)


def _dates(start: dt.date, days) -> list:
    return [start + dt.timedelta(days=float(d)) for d in days]


def _figure(**kw):
    """A figure of its own (matplotlib.figure.Figure): no pyplot, so a notebook's backend and open
    figures are left alone."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def _date_axis(ax, maxticks: int) -> None:
    """Dates on the x axis, concise ticks."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=maxticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def end_points(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each run's end as a competing event: (day, 1) the valley fell, (day, 2) it held (winter came or the
    offensive was repulsed), (day, 0) censored (the horizon came first)."""
    falls = fell(runs).to_numpy()
    held = runs["held_to_winter"].astype(bool).to_numpy()
    day = np.where(falls, runs["collapse_day"].fillna(0), runs["end_day"]).astype(float)
    return day, np.where(falls, 1, np.where(held, 2, 0))


def plot_outcomes(runs: pd.DataFrame, summary: pd.DataFrame, variants: list[str], start: dt.date,
                  path: Path) -> str:
    """The headline figure: when runs fall and when winter saves them (cumulative incidence), and
    P(hold to winter) with its interval, per variant."""

    fig = _figure(figsize=(11, 4.8), dpi=110)
    ax, dots = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.3, 1]})
    ok = runs[runs["status"] == "ok"]
    first, last = np.inf, -np.inf
    for v in variants:
        day, cause = end_points(ok[ok["variant"] == v])
        if not len(day):
            continue
        t, cif = cumulative_incidence(day, cause, n_causes=2)
        first, last = min(first, t[1] if len(t) > 1 else np.inf), max(last, t[-1])
        x = _dates(start, np.r_[t, t[-1] + 400])  # carried flat past the last event, cropped below
        (line,) = ax.step(x, np.r_[cif[0], cif[0][-1]], where="post", lw=2, label=f"{v}: fell")
        ax.step(x, np.r_[cif[1], cif[1][-1]], where="post", lw=2, ls="--", color=line.get_color(),
                label=f"{v}: held to winter")
    if np.isfinite(first):
        span = max(last - first, 10)
        ax.set_xlim(_dates(start, [max(0, first - 0.08 * span), last + 0.08 * span]))
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"date ({start.year})")
    ax.set_ylabel("share of runs ended by then")
    ax.set_title("When runs end: the valley falls (solid) or winter comes first (dashed)", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    ax.grid(alpha=0.3)
    _date_axis(ax, maxticks=8)

    rows = summary.set_index("variant").loc[variants]
    y = np.arange(len(variants))[::-1]
    p = rows["p_hold"].to_numpy(float)
    err = np.vstack([p - rows["p_hold_lo95"].to_numpy(float), rows["p_hold_hi95"].to_numpy(float) - p])
    dots.errorbar(p, y, xerr=err, fmt="o", color="black", capsize=4)
    for yi, pi in zip(y, p):
        if np.isfinite(pi):
            dots.annotate(f"{pi:.0%}", (pi, yi), textcoords="offset points", xytext=(0, 7), ha="center",
                          fontsize=8)
    dots.set_yticks(y, variants)
    dots.set_ylim(-0.7, len(variants) - 0.3)
    dots.set_xlim(0, 1)
    dots.set_xlabel("P(hold to winter), 95% interval")
    dots.set_title("The answer", fontsize=10)
    dots.grid(alpha=0.3, axis="x")
    n = int(rows["runs"].min()) if len(rows) else 0
    fig.text(0.01, 0.01, f"Left: Aalen-Johansen cumulative incidence over {n} runs per variant; a run ends when "
             "the valley falls or when winter halts the offensive, so the dashed curve ends at P(hold to winter). "
             "Right: that share with its 95% Wilson interval.", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    _save(fig, path)
    return path.name


def plot_falls(runs: pd.DataFrame, variants: list[str], start: dt.date, path: Path) -> str:
    """The whole distribution of the falls with their causes: per variant, the cumulative incidence of the
    fall by each cause, stacked (Aalen-Johansen; a run that held to winter competes as its own end)."""

    ok = runs[runs["status"] == "ok"]
    fig = _figure(figsize=(11, 2.6 * ((len(variants) + 1) // 2) + 0.6), dpi=110)
    axes = np.atleast_1d(fig.subplots((len(variants) + 1) // 2, min(2, len(variants)), sharex=True,
                                      sharey=True, squeeze=False)).ravel()
    colours = {"combat": "#d62728", "supply": "#8c564b", "cohesion": "#9467bd", "encirclement": "#ff7f0e",
               "pacts": "#17becf"}
    for ax, v in zip(axes, variants):
        r = ok[ok["variant"] == v]
        day, end = end_points(r)
        code = {c: i + 1 for i, c in enumerate(CAUSES)}
        cause = np.where(end == 1, r["cause"].map(code).fillna(1).to_numpy(), np.where(end == 2, len(CAUSES) + 1, 0))
        if len(day):
            t, cif = cumulative_incidence(day, cause.astype(int), n_causes=len(CAUSES) + 1)
            x = _dates(start, np.r_[t, t[-1] + 1])
            ax.stackplot(x, np.c_[cif[: len(CAUSES)], cif[: len(CAUSES), -1]], step="post",
                         colors=[colours[c] for c in CAUSES], labels=list(CAUSES), alpha=0.85)
        ax.set_title(f"{v}: fell by ({len(r)} runs)", fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        _date_axis(ax, maxticks=6)
    for ax in axes[len(variants):]:
        ax.set_visible(False)
    axes[0].set_ylabel("share of runs fallen by then")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.text(0.01, 0.01, "Stacked cumulative incidence of the fall by cause; the top of the stack is the share of "
             "runs fallen by that date (the rest held to winter or were still going).", fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _save(fig, path)
    return path.name


def plot_bands(series: dict, variants: list[str], start: dt.date, path: Path, panels, title: str) -> str:
    fig = _figure(figsize=(12, 4.5), dpi=110)
    axes = fig.subplots(1, len(panels))
    for ax, (col, label) in zip(np.atleast_1d(axes), panels):
        for v in variants:
            runs = [s for _, s in sorted(series.get(v, []), key=lambda t: t[0])]
            if not runs:
                continue
            length = max(len(s[col]) for s in runs)
            m = np.full((len(runs), length), np.nan)
            for i, s in enumerate(runs):
                m[i, : len(s[col])] = s[col]
            alive = np.sum(~np.isnan(m), axis=0)
            keep = alive >= max(1, 0.1 * len(runs))  # bands over runs still going; stop below 10%
            m = m[:, keep]
            with np.errstate(all="ignore"):
                med = np.nanmedian(m, axis=0)
                lo, hi = np.nanpercentile(m, 10, axis=0), np.nanpercentile(m, 90, axis=0)
            x = _dates(start, np.arange(length)[keep])
            (line,) = ax.plot(x, med, lw=2, label=v)
            ax.fill_between(x, lo, hi, alpha=0.18, color=line.get_color())
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        for lab in ax.get_xticklabels():
            lab.set_rotation(30)
            lab.set_ha("right")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"{title}: median and 10-90% band over runs still going")
    fig.tight_layout()
    _save(fig, path)
    return path.name


def _save(fig, path: Path) -> None:
    """Atomic: a temp name of this process's own, then rename."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, path)


def _overrides_text(overrides: dict) -> str:
    return f"`{json.dumps(overrides, sort_keys=True)}`" if overrides else "none"


def report_md(summary: pd.DataFrame, meta: dict, figures: dict) -> str:
    desc = "\n".join(f"- **{v}**: {d or '(no description)'}" for v, d in meta["variant_descriptions"].items())
    vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    return f"""# Does the valley hold to winter? {meta['scenario_name']}

{meta['title']}

Each variant was run {meta['replications']} times from {meta['start_date']} until the valley fell, winter
halted the offensive, or the horizon. P(hold to winter) is given with a 95% Wilson interval; collapse dates
are over the runs that fell; causes are shares of those runs.

## Variants
{desc}

## Results
{_markdown_table(summary)}

{chr(10).join(f"- **{name}**: {meaning}" for name, meaning in COLUMN_KEY)}

![When the valley falls, when winter saves it, and P(hold to winter)]({figures['outcomes']})

![The falls by cause, over time]({figures['falls']})

![Stocks]({figures['stocks']})

![Forces]({figures['forces']})

Per-run outcomes: `runs.parquet`; the table above as numbers: `summary.csv`.

## Provenance
- Scenario file: `{meta['scenario']}`; overrides: {_overrides_text(meta['overrides'])}
- Master seed: {meta['master_seed']}; run seeds from numpy `SeedSequence(master, spawn_key=(0, replication))`,
  the same for every variant (common random numbers); each run's seed is in `runs.parquet`.
- Command: `{meta['command']}` ({meta['jobs']} jobs, {meta['seconds']} s)
- Versions: {vers}
- Git revision: {meta['git']}
- Created: {meta['created']}

## The answer
{chr(10).join(f"- {a}" for a in answers(summary, meta['variant_descriptions']))}
"""
