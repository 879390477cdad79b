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
from .stats import kaplan_meier, p_hold


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
    write_atomic_text(summary.to_csv(index=False), out / "summary.csv")
    start = spec0["scenario"]["start_date"]
    names = {"attacker": spec0["sides"]["attacker"]["name"], "defender": spec0["sides"]["defender"]["name"]}
    figures = {
        "survival": plot_survival(runs, variants, start, out / "survival.png"),
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


def summarise(runs: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    rows = []
    for v in variants:
        r = runs[runs["variant"] == v]
        ok = r[r["status"] == "ok"]
        fell = ok[~ok["held_to_winter"].astype(bool) & ok["collapse_day"].notna()]
        q = (pd.to_datetime(fell["collapse_date"]).quantile([0.25, 0.5, 0.75]).dt.date.astype(str).tolist()
             if len(fell) else [None] * 3)
        row = {"variant": v, **p_hold(r), "fell": len(fell),
               "collapse_q25": q[0], "collapse_median": q[1], "collapse_q75": q[2]}
        for c in CAUSES:
            row[f"cause_{c}"] = float((fell["cause"] == c).mean()) if len(fell) else np.nan
        row["food_days_left_median"] = float(ok["food_days_left"].median())
        row["ammo_days_left_median"] = float(ok["ammo_days_left"].median())
        row["resupply_t_median"] = float(ok["resupply_delivered_kg"].median() / 1000)
        row["km_road_held_median"] = float(ok["km_road_held"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def table_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as people read it (terminal and report)."""
    return pd.DataFrame({
        "variant": summary["variant"],
        "runs": summary["runs"],
        "P(hold to winter) [95% CI]": [f"{p:.2f} [{lo:.2f}, {hi:.2f}]" for p, lo, hi in
                                       zip(summary["p_hold"], summary["p_hold_lo95"], summary["p_hold_hi95"])],
        "collapse date median (IQR)": [f"{m} ({a} .. {b})" if isinstance(m, str) else "-" for m, a, b in
                                       zip(summary["collapse_median"], summary["collapse_q25"], summary["collapse_q75"])],
        "cause combat/supply/morale": [
            "-" if np.isnan(c) else f"{c:.0%} / {s:.0%} / {m:.0%}" for c, s, m in
            zip(summary["cause_combat"], summary["cause_supply"], summary["cause_morale"])],
        "food days left": summary["food_days_left_median"].map(lambda x: f"{x:.0f}"),
        "ammo days left": summary["ammo_days_left_median"].map(lambda x: f"{x:.0f}"),
        "resupply t": summary["resupply_t_median"].map(lambda x: f"{x:.0f}"),
    })


def format_table(summary: pd.DataFrame) -> str:
    return table_frame(summary).to_string(index=False)


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


def plot_survival(runs: pd.DataFrame, variants: list[str], start: dt.date, path: Path) -> str:
    fig = _figure(figsize=(9, 5), dpi=110)
    ax = fig.subplots()
    ok = runs[runs["status"] == "ok"]
    for v in variants:
        r = ok[ok["variant"] == v]
        if not len(r):
            continue
        fell = (~r["held_to_winter"].astype(bool)) & r["collapse_day"].notna()
        dur = np.where(fell, r["collapse_day"].fillna(0), r["end_day"])
        t, s, lo, hi = kaplan_meier(dur, fell.to_numpy())
        t_end = float(r["end_day"].max())
        t, s, lo, hi = np.r_[t, t_end], np.r_[s, s[-1]], np.r_[lo, lo[-1]], np.r_[hi, hi[-1]]
        x = _dates(start, t)
        p_hold = float(r["held_to_winter"].mean())
        (line,) = ax.step(x, s, where="post", label=f"{v} (n={len(r)}, held to winter {p_hold:.0%})", lw=2)
        ax.fill_between(x, lo, hi, step="post", alpha=0.18, color=line.get_color())
    onset = pd.to_datetime(ok["winter_onset_date"])
    if len(onset):
        q10, q50, q90 = onset.quantile([0.1, 0.5, 0.9])
        ax.axvspan(q10, q90, color="#9ecae1", alpha=0.25, label="winter onset, 10-90%")
        ax.axvline(q50, color="#3182bd", ls="--", lw=1.2, label=f"winter onset, median {q50.date()}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("P(valley still holds | offensive goes on)")
    ax.set_title("Survival of the defence: Kaplan-Meier, runs that held censored at their winter onset, 95% bands",
                 fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
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

![Survival]({figures['survival']})

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
"""
