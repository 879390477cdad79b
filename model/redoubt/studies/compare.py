"""`redoubt compare`: what outside resupply changes, run for run.

A comparison is a small sweep (variants x replications) run by the shared engine. Replication r of every
variant uses the same seed, and every stochastic process draws from its own stream (model/redoubt/core/streams.py), so
run r of two variants sees the same weather, fights and commanders until what the variant changes makes
them differ: the variants are paired, and each is reported as its effect against a baseline (the paired
difference in P(hold to winter), the runs it saves and loses, the change in days held), besides its own
probabilities.

The engine writes each finished chunk of runs to disk as it goes: an interrupted comparison keeps them
(marked INCOMPLETE.txt, never presented as finished) and the same command resumes it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..core.outcome import CAUSES, OUTCOME_RECORD
from ..inputs import scenario as scn
from ..inputs.bounded import plain_name
from .executors import Progress, make_executor, run_specs
from .outputs import OutputDir, OutputError
from .parts import committed_keys, read_parts, readable_parts, write_atomic_parquet, write_atomic_text
from .provenance import git_revision, versions
from .runs import RunSpec, default_runs_dir, derive_seed, drawing, stamp
from .stats import (
    SPLIT_FIELDS,
    clusters_needed,
    cumulative_incidence,
    mcnemar_exact,
    newcombe_paired,
    p_hold,
    paired_counts,
    paired_median_difference,
    pairs_needed,
    sign_flip_p,
    variance_split,
)

PARTS = ".parts"  # the runs committed so far: outcomes/ and series/ parts, and plan.json
INCOMPLETE = "INCOMPLETE.txt"  # beside the parts of an interrupted comparison; gone when it is finished
MAX_RUNS = 5_000_000  # as for sweeps: the plan is held in memory
DRAW_POINT = 2**31  # the point of derive_seed from which shared draws are seeded: no design has that many points


class Interrupted(KeyboardInterrupt):
    """The comparison was stopped (Ctrl-C, SIGTERM) before its last run: the runs finished so far are kept in
    `out`, and the same command resumes."""

    def __init__(self, out: Path, done: int, total: int, cause: BaseException):
        self.out, self.done, self.total, self.cause = out, done, total, cause
        super().__init__(f"{done} of {total} runs kept in {out} ({INCOMPLETE}); run the same command again to "
                         "resume, or add --force to start over")


def plan(scenario: str, variants: list[str], replications: int, seed: int,
         overrides: dict | None = None, runs_per_draw: int = 1) -> list[RunSpec]:
    """The runs: each replication's seed the same in every variant (common random numbers); with
    `runs_per_draw` k > 1, replications r with the same r // k share one draw of what the scenario leaves
    open (draw_seed), their chance differing."""
    specs = []
    for vi, variant in enumerate(variants):
        for r in range(replications):
            shared = derive_seed(seed, DRAW_POINT, r // runs_per_draw) if runs_per_draw > 1 else None
            specs.append(RunSpec(run_id=vi * replications + r, point=vi, replication=r,
                                 seed=derive_seed(seed, 0, r),  # common random numbers across variants
                                 scenario=scenario, variant=variant, overrides=dict(overrides or {}),
                                 series=True, draw_seed=shared))
    return specs


def uncertain_table(spec: dict) -> str:
    """What a scenario draws per run ([uncertain]), in words; '' when nothing."""
    u = spec.get("uncertain") or {}
    said = []
    if u.get("parameters"):
        said.append(f"a parameter set from {Path(u['parameters']).name} (weighted)")
    said += [f"{k} in [{lo:g}, {hi:g}]" for k, (lo, hi) in sorted((u.get("inputs") or {}).items())]
    return "; ".join(said)


def default_baseline(path: Path, variants: list[str], overrides: dict | None = None) -> str:
    """The variant with no outside resupply (the first such), else the first variant."""
    for v in variants:
        spec = scn.load(path, v, overrides)
        if not any(spec["resupply"][kind]["enabled"] for kind in ("air", "passes")):
            return v
    return variants[0]


def identity(path: Path, spec0: dict, variants: list[str], seed: int, overrides: dict,
             runs_per_draw: int = 1) -> dict:
    """What makes two comparisons the same (their runs interchangeable): the scenario's files as they are
    now, the variants in order, the master seed, the overrides, how runs share draws and the outcome record's
    fields. Replications may grow: more runs extend the comparison."""
    ident = {"scenario": str(Path(path).resolve()), "scenario_sha256": scn.files_digest(spec0),
             "variants": list(variants), "master_seed": int(seed),
             "overrides": json.loads(json.dumps(overrides, sort_keys=True, default=str)),
             "outcome_record": OUTCOME_RECORD}
    return ident if runs_per_draw == 1 else {**ident, "runs_per_draw": int(runs_per_draw)}


def _plan_file(out: Path) -> Path:
    return out / PARTS / "plan.json"


def interrupted_here(out: Path) -> dict | None:
    """The identity of the interrupted comparison in `out`, if it holds one."""
    try:
        if (out / "report.md").exists():
            return None
        return json.loads(_plan_file(out).read_text())
    except (OSError, ValueError):
        return None


def find_interrupted(runs_dir: Path, name: str, ident: dict) -> Path | None:
    """The latest interrupted comparison of the same plan under runs_dir (named <name>-<time>)."""
    if not runs_dir.is_dir():
        return None
    found = [d for d in sorted(runs_dir.glob(f"{name}-*")) if d.is_dir() and interrupted_here(d) == ident]
    return found[-1] if found else None


def run_compare(scenario: str, variants: list[str] | None, replications: int, seed: int, jobs: int,
                out: Path | None, quiet: bool = False, executor: str = "processes", force: bool = False,
                overrides: dict | None = None, baseline: str | None = None, fixed: bool = False,
                runs_per_draw: int = 1) -> dict:
    """Run the comparison into `out` and return the summary, effects and paths.

    What the scenario does not know exactly (its [uncertain] inputs and parameter sets) is drawn afresh for
    each replication, the same for every variant, so the answer carries that uncertainty and stays paired;
    `fixed`: every run at the file's own values instead (the spread of chance alone). `runs_per_draw` k > 1:
    k replications share each draw (their chance differs), and the report says how much of the spread comes
    from what is drawn and how much from chance (spread.csv).

    `out`: a new or empty directory; one an interrupted comparison of the same plan left (it resumes); with
    `force`, one an earlier compare wrote (it starts over). None: resume the latest interrupted comparison
    of the same plan under ./runs, else a new runs/<scenario>-<time>. Interrupted, it keeps the runs it
    finished and raises `Interrupted`."""
    t0 = time.time()
    path = scn.resolve_path(scenario)
    overrides = dict(overrides or {})
    spec0 = scn.load(path, None, overrides)  # validates before anything is written
    overrides = drawing(spec0, overrides, draw=not fixed)
    _check_runs_per_draw(runs_per_draw, replications, overrides)
    variants = scn.check_variants(path, variants, overrides)
    if baseline is None:
        baseline = default_baseline(path, variants, overrides)
    elif baseline not in variants:
        raise OutputError(f"--baseline {baseline!r}: not among the variants compared ({', '.join(variants)})")
    ident = identity(path, spec0, variants, seed, overrides, runs_per_draw)
    if len(variants) * replications > MAX_RUNS:
        raise OutputError(f"--replications {replications}: {len(variants)} variants x {replications:,} runs is more "
                          f"than {MAX_RUNS:,}; compare fewer variants or run fewer replications")
    if out is None:
        name = plain_name(spec0["scenario"]["name"])
        found = None if force else find_interrupted(default_runs_dir(), name, ident)
        out = found or default_runs_dir() / f"{name}-{stamp()}"
    specs = plan(str(path), variants, replications, seed, overrides, runs_per_draw)
    target = OutputDir(Path(out), "compare")
    target.claim(force=force, resume=not force)
    try:
        _check_resumable(target, ident, force)
    except BaseException:
        target.close() if not target.created else target.abort()
        raise
    parts, series_dir = target.path / PARTS / "outcomes", target.path / PARTS / "series"
    try:
        write_atomic_text(json.dumps(ident, indent=1) + "\n", _plan_file(target.path))
        (target.path / INCOMPLETE).unlink(missing_ok=True)
        result = _compare_into(target.path, path, spec0, variants, baseline, specs, replications, seed, jobs,
                               quiet, executor, t0, parts, series_dir, runs_per_draw)
    except BaseException as exc:
        done = len(committed_keys(parts, series_dir) & {s.key for s in specs})
        if done == 0:
            target.abort()  # nothing worth keeping: as if it never ran
            raise
        write_atomic_text(f"This comparison was interrupted after {done} of {len(specs)} runs "
                          f"({type(exc).__name__}). The finished runs are kept in {PARTS}/; run the same command "
                          "again to resume (with --out this directory if it was given), or add --force to "
                          "start over. Nothing here is a finished comparison.\n", target.path / INCOMPLETE)
        target.close()
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(target.path, done, len(specs), exc) from exc
        exc.add_note(f"redoubt: {done} of {len(specs)} runs are kept in {target.path}; run the same command "
                     "again to resume")
        raise
    target.close()
    return result


def _check_runs_per_draw(k: int, replications: int, overrides: dict) -> None:
    if k == 1:
        return
    if k < 1:
        raise OutputError(f"--runs-per-draw {k}: must be at least 1")
    if not overrides.get("switches.uncertain"):
        raise OutputError(f"--runs-per-draw {k}: nothing is drawn (the scenario has no [uncertain] table, or "
                          "--fixed or switches.uncertain=false): leave it at 1")
    if replications % k or replications // k < 2:
        raise OutputError(f"--runs-per-draw {k}: must divide --replications ({replications}) into at least two "
                          "draws, e.g. --replications 200 --runs-per-draw 4")


def spread(runs: pd.DataFrame, variants: list[str], baseline: str, runs_per_draw: int,
           seed: int = 0) -> pd.DataFrame:
    """Per variant, P(hold) and its effect against the baseline split into the variance from the draws of what
    the scenario leaves open and from chance (stats.variance_split; replication r drew draw r // k)."""
    ok = runs[runs["status"] == "ok"].set_index("replication")
    held = {v: ok[ok["variant"] == v]["held_to_winter"].astype(float) for v in variants}
    rows = []
    for v in variants:
        what = [("P(hold)", held[v])]
        if v != baseline:
            pairs = held[v].index.intersection(held[baseline].index)
            what.append((f"effect vs {baseline}", held[v].loc[pairs] - held[baseline].loc[pairs]))
        for measure, y in what:
            draw = y.index.to_numpy() // runs_per_draw
            complete = pd.Series(draw).map(pd.Series(draw).value_counts()).to_numpy() == runs_per_draw
            try:
                split = variance_split(y.to_numpy()[complete], draw[complete], seed=seed)
            except ValueError:  # failed runs left fewer than two whole draws: said, never a crash after the runs
                split = {**dict.fromkeys(SPLIT_FIELDS, math.nan), "draws": len(set(draw[complete])),
                         "runs_per_draw": runs_per_draw}
            if measure.startswith("effect") and split["draws"] >= 2:  # tested over draws, the independent units
                means = pd.Series(y.to_numpy()[complete]).groupby(draw[complete]).mean().to_numpy()
                split["p_draws"] = sign_flip_p(means, seed=seed)
                split["runs_needed_draws"] = clusters_needed(means) * runs_per_draw
            else:
                split["p_draws"] = split["runs_needed_draws"] = math.nan
            rows.append({"variant": v, "measure": measure, **split})
    return pd.DataFrame(rows)


def by_draws(effect_table: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """The effects' 95% intervals and verdicts from the draws' mean differences (spread), when runs share draws:
    runs of one draw are not independent, and Newcombe's interval over runs would be too narrow."""
    e = effect_table.copy()
    e["p_draws"] = math.nan  # a sign-flip test over the draws' mean differences, in place of McNemar's over runs
    for i, row in e.iterrows():
        got = split[(split["variant"] == row["variant"]) & (split["measure"] == f"effect vs {row['baseline']}")]
        if len(got) and np.isfinite(got["mean"].iloc[0]):
            lo, hi = float(got["mean_lo95"].iloc[0]), float(got["mean_hi95"].iloc[0])
            e.loc[i, ["diff_lo95", "diff_hi95"]] = [lo, hi]
            e.loc[i, "distinguishable"] = bool(lo > 0 or hi < 0)
            e.loc[i, "p_draws"] = float(got["p_draws"].iloc[0])
            e.loc[i, "pairs_needed"] = float(got["runs_needed_draws"].iloc[0])
    return e


def spread_text(table: pd.DataFrame) -> str:
    """The spread's split, as the report says it."""
    if table is None or not len(table):
        return ""
    k, g = int(table["runs_per_draw"].iloc[0]), int(table["draws"].max())
    lines = [f"\n## Where the spread comes from\n\nEach of {g} draws of what the scenario leaves open was run "
             f"{k} times with different chance (`--runs-per-draw {k}`). Per variant, the share of the variance "
             "between runs that comes from the draws (parameters and inputs) rather than from chance, with a 90% "
             "bootstrap interval over draws; in a comparison that draws afresh for every run, it is also the "
             "share of the interval's variance that parameters contribute. The 95% intervals here count draws, "
             "not runs, as independent, as do the effects' intervals, p-values (a sign-flip test over the draws' "
             "mean differences) and verdicts above (runs needed: the draws a paired test would need, times "
             f"{k}).\n",
             "| variant | measure | estimate [95%] | from parameters [90%] | from chance |",
             "|---|---|---|---|---|"]
    for r in table.itertuples():
        if not math.isfinite(r.mean):
            lines.append(f"| {r.variant} | {r.measure} | n/a (fewer than two whole draws ran) | n/a | n/a |")
            continue
        share = (f"{r.share_parameters:.0%} [{r.share_lo90:.0%}, {r.share_hi90:.0%}]"
                 if math.isfinite(r.share_parameters) else "n/a (no spread)")
        chance = f"{1 - r.share_parameters:.0%}" if math.isfinite(r.share_parameters) else "n/a"
        est = (f"{_points(r.mean)} points [{_points(r.mean_lo95)}, {_points(r.mean_hi95)}]"
               if r.measure.startswith("effect") else
               f"{r.mean:.0%} [{max(r.mean_lo95, 0):.0%}, {min(r.mean_hi95, 1):.0%}]")
        lines.append(f"| {r.variant} | {r.measure} | {est} | {share} | {chance} |")
    return "\n".join(lines) + "\n"


def _check_resumable(target: OutputDir, ident: dict, force: bool) -> None:
    """A directory claimed with resume: empty (new), or the interrupted comparison of this same plan."""
    if force or not target.contents():
        return
    found = interrupted_here(target.path)
    if found is None:
        raise OutputError(f"--out {target.path}: directory exists and is not empty (use --force to replace "
                          "redoubt's outputs in it, or choose another directory)")
    if found != ident:
        differs = ", ".join(k for k in ident if ident[k] != found.get(k))
        raise OutputError(f"--out {target.path}: holds an interrupted comparison of another plan ({differs} "
                          "differ); run that command to resume it, or add --force to start over")


def read_series(series_dir: Path, specs: list[RunSpec]) -> dict[str, list]:
    """Per variant, (replication, {column: array}) of each planned run whose series are on disk."""
    by_key = {s.key: s for s in specs}
    series: dict[str, list] = defaultdict(list)
    for f in readable_parts(series_dir):
        frame = pq.read_table(f).to_pandas()
        for (pk, rep), g in frame.groupby(["point_key", "replication"], sort=True):
            spec = by_key.get((int(pk), int(rep)))
            if spec is not None:
                cols = g.drop(columns=["point_key", "replication"])
                series[spec.variant].append((int(rep), {c: cols[c].to_numpy() for c in cols.columns}))
    return series


def _compare_into(out: Path, path: Path, spec0: dict, variants: list[str], baseline: str, specs: list[RunSpec],
                  replications: int, seed: int, jobs: int, quiet: bool, executor: str, t0: float,
                  parts: Path, series_dir: Path, runs_per_draw: int = 1) -> dict:
    progress = Progress(len(specs), quiet)
    try:
        _, already = run_specs(specs, parts, make_executor(executor, jobs), series_dir=series_dir,
                                 progress=progress)
    finally:
        progress.close()
    keys = {s.key for s in specs}
    table = read_parts(parts).sort_by("run_id")
    wanted = [(pk, rep) in keys for pk, rep in zip(table.column("point_key").to_pylist(),
                                                    table.column("replication").to_pylist())]
    table = table.filter(wanted)  # a comparison resumed with fewer replications uses the first ones
    if table.num_rows != len(specs):
        raise RuntimeError(f"{parts}: {table.num_rows} results for {len(specs)} runs")
    write_atomic_parquet(table, out / "runs.parquet")
    runs = table.to_pandas()
    summary = summarise(runs, variants)
    effect_table = effects(runs, variants, baseline, seed)
    split = spread(runs, variants, baseline, runs_per_draw, seed) if runs_per_draw > 1 else None
    if split is not None:
        effect_table = by_draws(effect_table, split)
        write_atomic_text(split.round(4).to_csv(index=False), out / "spread.csv")
    write_atomic_text(summary.round(4).to_csv(index=False), out / "summary.csv")
    write_atomic_text(effect_table.round(4).to_csv(index=False), out / "effects.csv")
    series = read_series(series_dir, specs)
    start = spec0["scenario"]["start_date"]
    names = {"attacker": spec0["sides"]["attacker"]["name"], "defender": spec0["sides"]["defender"]["name"]}
    ends = {v: _ends(runs[runs["variant"] == v]) for v in variants}
    figures = {
        "outcomes": plot_outcomes(summary, effect_table, variants, baseline, out / "outcomes.png"),
        "falls": plot_falls(runs, variants, start, out / "falls.png"),
        "stocks": plot_panels(series, ends, variants, start, out / "stocks.png",
                              [("defender_food_t", "food", "tonnes"), ("defender_ammo_t", "ammunition", "tonnes")],
                              f"{names['defender']} stocks (stores + carried)"),
        "forces": plot_panels(series, ends, variants, start, out / "forces.png",
                              [("defenders_active", names["defender"], "fighters"),
                               ("attackers_active", names["attacker"], "fighters")],
                              "Fighters in the fight"),
    }
    meta = {"scenario": str(path), "scenario_name": spec0["scenario"]["name"], "title": spec0["scenario"]["title"],
            "variants": variants, "baseline": baseline,
            "variant_descriptions": {v: spec0["variants"].get(v, {}).get("description", "") for v in variants},
            "replications": replications, "master_seed": seed, "jobs": jobs, "versions": versions(),
            "git": git_revision(), "command": " ".join(sys.argv), "seconds": round(time.time() - t0, 1),
            "created": dt.datetime.now().isoformat(timespec="seconds"), "start_date": start.isoformat(),
            "overrides": specs[0].overrides if specs else {}, "resumed": bool(already), "runs_resumed": already,
            "uncertain": uncertain_table(spec0) if (specs and specs[0].overrides.get("switches.uncertain")) else "",
            "could_draw": uncertain_table(spec0), "runs_per_draw": runs_per_draw}
    write_atomic_text(report_md(summary, effect_table, meta, figures, split), out / "report.md")  # last: complete
    shutil.rmtree(out / PARTS, ignore_errors=True)
    return {"summary": summary, "effects": effect_table, "out": out, "meta": meta, "spread": split}


def _ends(runs: pd.DataFrame) -> dict[int, int]:
    """replication -> the last day a run counts as going on: the day it fell, or its end."""
    ok = runs[runs["status"] == "ok"]
    return dict(zip(ok["replication"].astype(int), last_day(ok).astype(int)))


def fell(runs: pd.DataFrame) -> pd.Series:
    """The runs in which the valley fell (did not hold, and has a collapse day)."""
    return ~runs["held_to_winter"].astype(bool) & runs["collapse_day"].notna()


def last_day(runs: pd.DataFrame) -> np.ndarray:
    """Each run's last day as the story goes: the day the valley fell, else the day the run ended."""
    return np.where(fell(runs), runs["collapse_day"].fillna(0), runs["end_day"]).astype(float)


def days_held_to_winter(runs: pd.DataFrame) -> np.ndarray:
    """Days the valley held: to the fall; to the run's winter onset if it held (repulsed or winter halted:
    either way it stands until winter); to the end of the run at the horizon. Paired runs share the winter
    onset (the weather has its own stream), so a difference is the fall coming earlier or later, or not at
    all."""
    held = runs["held_to_winter"].astype(bool).to_numpy()
    day = last_day(runs)
    return np.where(held, np.maximum(runs["winter_onset_day"].to_numpy(float), day), day)


def summarise(runs: pd.DataFrame, variants: list[str]) -> pd.DataFrame:
    rows = []
    for v in variants:
        r = runs[runs["variant"] == v]
        ok = r[r["status"] == "ok"]
        falls = ok[fell(ok)]
        q = (pd.to_datetime(falls["collapse_date"]).quantile([0.25, 0.5, 0.75]).dt.date.astype(str).tolist()
             if len(falls) else [None] * 3)
        row = {"variant": v, **p_hold(r), "fell": len(falls),
               "p_repulsed": float((ok["end_reason"] == "repulsed").mean()) if len(ok) else np.nan,
               "p_winter": float((ok["end_reason"] == "winter").mean()) if len(ok) else np.nan,
               "p_fell": float(len(falls) / len(ok)) if len(ok) else np.nan,
               "collapse_q25": q[0], "collapse_median": q[1], "collapse_q75": q[2]}
        for c in CAUSES:
            row[f"cause_{c}"] = float((falls["cause"] == c).mean()) if len(falls) else np.nan
        # What "fell" means, beside the rule of held_to_winter: the floor lost, organised resistance ended (a
        # run-on after the fall, where the scenario follows one, counts).
        row["p_floor_lost"] = float(ok["run_on_floor_lost_day"].notna().mean()) if len(ok) else np.nan
        row["p_resistance_ended"] = float(ok["run_on_resistance_ended_day"].notna().mean()) if len(ok) else np.nan
        row["days_held_median"] = float(np.median(days_held_to_winter(ok))) if len(ok) else np.nan
        row["food_t_left_median"] = float(ok["food_t_left"].median())
        row["ammo_t_left_median"] = float(ok["ammo_t_left"].median())
        row["resupply_t_median"] = float(ok["resupply_delivered_kg"].median() / 1000)
        row["resupply_food_t_median"] = float(ok["resupply_food_kg"].median() / 1000)
        row["resupply_ammo_t_median"] = float(ok["resupply_ammo_kg"].median() / 1000)
        row["km_road_held_median"] = float(ok["km_road_held"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def effects(runs: pd.DataFrame, variants: list[str], baseline: str, seed: int = 0) -> pd.DataFrame:
    """Each variant against the baseline, over the pairs (same replication, so the same seed) in which both
    runs finished: the paired difference in P(hold to winter) with Newcombe's interval, the runs it saves
    (better: held where the baseline's fell) and loses (worse), the exact McNemar p, the change in median
    days held with a paired-bootstrap interval, and the pairs a McNemar test would need to tell a difference
    of the size seen (80% power, 5% two-sided)."""
    ok = runs[runs["status"] == "ok"].set_index("replication")
    base = ok[ok["variant"] == baseline]
    rows = []
    for v in variants:
        if v == baseline:
            continue
        other = ok[ok["variant"] == v]
        pairs = base.index.intersection(other.index).sort_values()
        b, o = base.loc[pairs], other.loc[pairs]
        held_b, held_o = b["held_to_winter"].astype(bool), o["held_to_winter"].astype(bool)
        both, better, worse, neither = paired_counts(held_b, held_o)
        diff, lo, hi = newcombe_paired(both, better, worse, neither)
        days_b, days_o = days_held_to_winter(b), days_held_to_winter(o)
        days = paired_median_difference(days_b, days_o, seed=seed)
        n = len(pairs)
        rows.append({"variant": v, "baseline": baseline, "pairs": n,
                     "p_hold_baseline": held_b.mean() if n else np.nan, "p_hold": held_o.mean() if n else np.nan,
                     "diff": diff, "diff_lo95": lo, "diff_hi95": hi, "better": better, "worse": worse,
                     "mcnemar_p": mcnemar_exact(better, worse),
                     "concordant_share": (both + neither) / n if n else np.nan,
                     "days_held_median_baseline": float(np.median(days_b)) if n else np.nan,
                     "days_held_median": float(np.median(days_o)) if n else np.nan,
                     "days_diff": days[0], "days_diff_lo95": days[1], "days_diff_hi95": days[2],
                     "pairs_needed": pairs_needed(better, worse, n),
                     "distinguishable": bool(n and (lo > 0 or hi < 0))})
    columns = ["variant", "baseline", "pairs", "p_hold_baseline", "p_hold", "diff", "diff_lo95", "diff_hi95",
               "better", "worse", "mcnemar_p", "concordant_share", "days_held_median_baseline", "days_held_median",
               "days_diff", "days_diff_lo95", "days_diff_hi95", "pairs_needed", "distinguishable"]
    return pd.DataFrame(rows, columns=columns)


def _day_month(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%d %b").lstrip("0")


def _percent(p: float) -> str:
    return f"{p * 100:.0f}%"


def _interval(lo: float, hi: float) -> str:
    """'[20-48%]': the table and the sentences say it the same way."""
    return f"[{lo * 100:.0f}-{_percent(hi)}]"


def _points(x: float) -> str:
    """A difference of probabilities in percentage points, signed: '+3', '-12', '0'."""
    v = round(x * 100)
    return f"{v:+d}" if v else "0"


def _signed(x: float) -> str:
    v = round(x)
    return f"{v:+d}" if v else "0"


def judged(row) -> str:
    """How an effect stands at its runs: 'real' when its P(hold) interval excludes zero and the paired test
    rejects at 5% (`paired_test_p`), 'borderline' when only one of the two does (they can differ at the margin:
    the interval is Newcombe's score interval, the test exact), 'noise' when neither does, 'none' when no pair
    ended differently (or as many saved as lost)."""
    real, rejects = bool(row["distinguishable"]), paired_test_p(row) < 0.05
    if real and rejects:
        return "real"
    if real or rejects:
        return "borderline"
    return "noise" if math.isfinite(row["pairs_needed"]) else "none"


def paired_test_p(row) -> float:
    """The effect's paired test: the sign-flip test over the draws' mean differences when runs share draws,
    else the exact McNemar test over runs."""
    return float(row["p_draws"]) if _by_draws(row) else float(row["mcnemar_p"])


def _by_draws(row) -> bool:
    """The effect was judged over draws (runs share draws: `by_draws` set its p_draws)."""
    p = row.get("p_draws", math.nan)
    return isinstance(p, float) and math.isfinite(p)


def _verdict(row) -> str:
    """`judged`, with the runs a variant that would tell a difference of the size seen when it is not real."""
    said = judged(row)
    if said == "real":
        return "real"
    if said == "none":
        return "no difference"
    needed = row["pairs_needed"]
    return f"{said}: need ~{int(needed):,}" if needed < 1e7 else f"{said}: need >10 million"


def effects_frame(effect_table: pd.DataFrame) -> pd.DataFrame:
    """The effects as people read them (terminal and report); EFFECT_KEY says what each column is."""
    e = effect_table
    return pd.DataFrame({
        "variant": e["variant"],
        "vs": e["baseline"],
        "P(hold) change, CI": [f"{_points(d)} pts [{_points(lo)} to {_points(hi)}]"
                                    for d, lo, hi in zip(e["diff"], e["diff_lo95"], e["diff_hi95"])],
        "better/worse": [f"{b}/{w}" for b, w in zip(e["better"], e["worse"])],
        **({"p (draws)": [f"{p:.2g}" for p in e["p_draws"]]} if "p_draws" in e else
           {"McNemar p": [f"{p:.2g}" for p in e["mcnemar_p"]]}),
        "days held change": [f"{_signed(d)} [{_signed(lo)} to {_signed(hi)}]"
                                      for d, lo, hi in zip(e["days_diff"], e["days_diff_lo95"], e["days_diff_hi95"])],
        "verdict": [_verdict(row) for _, row in e.iterrows()],
    })


EFFECT_KEY = (
    ("P(hold) change, CI", ("the variant's P(hold to winter) minus the baseline's, in percentage points, over the same "
                        "seeds, with Newcombe's 95% interval for paired proportions (hybrid score, method 10); with "
                        "--runs-per-draw, a 95% interval from the draws' mean differences instead (runs that share a "
                        "draw are not independent)")),
    ("better/worse", ("pairs in which the valley held with the variant and fell without it / fell with it and held "
                      "without it (the other pairs ended alike)")),
    ("McNemar p", "exact two-sided McNemar test of better against worse"),
    ("p (draws)", ("with --runs-per-draw: two-sided sign-flip test of the draws' mean differences (runs that "
                   "share a draw are not independent, so McNemar's test over runs would overstate)")),
    ("days held change", ("change (and its 95% interval) in the median days the valley held (to the fall, or to "
                          "the run's winter onset if "
                          "it held), with a 95% paired-bootstrap interval")),
    ("verdict", ("'real' when the P(hold) interval excludes zero and the paired test (McNemar's; with "
                 "--runs-per-draw the sign-flip test) rejects at 5%, at this many runs; 'borderline' when only one "
                 "of the two does; otherwise noise; each with the runs a variant a McNemar test would need to tell "
                 "a difference of the size seen (80% power; with --runs-per-draw, the draws a paired test over "
                 "draws would need, times the runs a draw); 'no difference' when no pair ended differently")),
)


def effect_key(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """EFFECT_KEY for the columns an effects_frame shows."""
    return [(name, meaning) for name, meaning in EFFECT_KEY if name in frame.columns]


def table_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary as people read it (terminal and report): fits 100 columns; COLUMN_KEY says what each is."""
    return pd.DataFrame({
        "variant": summary["variant"],
        "runs": summary["runs"],
        "P(hold), CI": ["-" if np.isnan(p) else f"{_percent(p)} {_interval(lo, hi)}" for p, lo, hi in
                             zip(summary["p_hold"], summary["p_hold_lo95"], summary["p_hold_hi95"])],
        "rep/win/fell": ["-" if np.isnan(r) else f"{100 * r:.0f}/{100 * w:.0f}/{100 * f:.0f}" for r, w, f in
                           zip(summary["p_repulsed"], summary["p_winter"], summary["p_fell"])],
        "fell: median (IQR)": [f"{_day_month(m)} ({_day_month(a)}-{_day_month(b)})" if isinstance(m, str) else "-"
                                for m, a, b in zip(summary["collapse_median"], summary["collapse_q25"],
                                                   summary["collapse_q75"])],
        "cause %": ["-" if np.isnan(row["cause_combat"]) else "/".join(f"{100 * row[f'cause_{c}']:.0f}" for c in CAUSES)
                    for _, row in summary.iterrows()],
        "left t": [f"{f:.0f}/{a:.0f}" for f, a in zip(summary["food_t_left_median"], summary["ammo_t_left_median"])],
        "resup. t": [f"{f:.0f}/{a:.0f}" for f, a in
                           zip(summary["resupply_food_t_median"], summary["resupply_ammo_t_median"])],
    })


COLUMN_KEY = (
    ("runs", "runs of the variant (each from its own seed; the same seeds for every variant)"),
    ("P(hold), CI", ("share of runs in which the valley held to winter, whether winter halted the offensive "
                          "or the offensive was repulsed before it, with its 95% Wilson interval")),
    ("rep/win/fell", ("% of runs that ended: the offensive repulsed (no attacker left in the valley, all waves "
                        "come) / winter halted it with the valley still holding / the valley fell")),
    ("fell: median (IQR)", ("over the runs in which the valley fell: the median date of the fall, and the "
                             "dates between which the middle half of the falls came")),
    ("cause %", ("over the runs that fell, % that fell to combat losses / for lack of food or ammunition / as "
                 "cohesion cracked (desertion, surrender, places breaking) / as encircled places surrendered / to "
                 "local commanders' pacts")),
    ("left t", ("medians over runs, at each run's end (the fall, winter or the horizon), of the defenders' "
                "food / ammunition in tonnes (stores + carried)")),
    ("resup. t", ("medians over runs of the tonnes of food / ammunition that outside resupply "
                        "delivered to the defenders")),
)

_CAUSE_WORDS = {"combat": "to combat losses", "supply": "for lack of food or ammunition",
                "cohesion": "as its cohesion cracks (fighters desert or surrender, places break)",
                "encirclement": "as encircled places surrender", "pacts": "to local commanders' pacts"}


def _who(variant: str, description: str = "") -> str:
    return f"{variant} ({description[:1].lower() + description[1:]})" if description else variant


def answer(row, description: str = "") -> str:
    """One variant's result in one sentence."""
    who = _who(row["variant"], description)
    ok = row["runs"] - row["failed"]
    if ok == 0:
        return f"{who}: no run finished; see the errors in runs.parquet."
    text = (f"{who}: the valley holds to winter in {_percent(row['p_hold'])} of runs "
            f"{_interval(row['p_hold_lo95'], row['p_hold_hi95'])}")
    if "p_repulsed" in row and np.isfinite(row["p_repulsed"]):
        text += (f" (the offensive repulsed in {_percent(row['p_repulsed'])}, halted by winter in "
                 f"{_percent(row['p_winter'])})")
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


def effect_answer(row, description: str = "") -> str:
    """What one variant changes against the baseline, in one or two sentences, with the verdict on noise."""
    who = _who(row["variant"], description)
    n = int(row["pairs"])
    if n == 0:
        return f"{who}: no pair of runs finished in both variants; nothing to compare."
    pts = lambda x: f"{x * 100:+.1f}" if round(x * 1000) else "0"  # noqa: E731 - one decimal: 50.0% to 56.5%
    text = (f"{who} against {row['baseline']}: P(hold to winter) {pts(row['diff'])} points "
            f"[{pts(row['diff_lo95'])} to {pts(row['diff_hi95'])}], from {row['p_hold_baseline'] * 100:.1f}% "
            f"to {row['p_hold'] * 100:.1f}%; it saves the valley in {row['better']} of {n} paired runs and loses it in "
            f"{row['worse']} ({_test_words(row)}); the median days held change by "
            f"{_signed(row['days_diff'])} [{_signed(row['days_diff_lo95'])} to {_signed(row['days_diff_hi95'])}].")
    lo, hi = row["days_diff_lo95"], row["days_diff_hi95"]
    if lo > 0 or hi < 0:
        text += f" The valley holds {'longer' if lo > 0 else 'less long'} with it: that change is real."
    said, needed = judged(row), row["pairs_needed"]
    if said == "real":
        return text + f" The difference in P(hold) is real at {n} runs a variant."
    if said == "none":
        return text + f" The {n} pairs show no difference in P(hold) at all."
    if said == "borderline":
        which = ("its interval excludes zero but the test does not reject" if row["distinguishable"] else
                 "the test rejects but its interval does not exclude zero")
        more = f"about {int(needed):,} runs a variant would" if n < needed < 1e7 else "more runs would"
        return text + (f" The difference in P(hold) is borderline at {n} runs a variant ({which}, p = "
                       f"{paired_test_p(row):.2g}): {more} settle it (80% power).")
    return text + (f" That is within noise at {n} runs a variant: a difference of this size would need about "
                   f"{int(needed):,} runs a variant to tell (80% power).")


def _test_words(row) -> str:
    if _by_draws(row):
        return f"a sign-flip test over the draws' mean differences: p = {row['p_draws']:.2g}"
    return f"exact McNemar p = {row['mcnemar_p']:.2g}"


def answers(summary: pd.DataFrame, descriptions: dict) -> list[str]:
    return [answer(row, descriptions.get(row["variant"], "")) for _, row in summary.iterrows()]


def effect_answers(effect_table: pd.DataFrame, descriptions: dict) -> list[str]:
    return [effect_answer(row, descriptions.get(row["variant"], "")) for _, row in effect_table.iterrows()]


WIDTH = 100  # the terminal's columns


def _key(items) -> list[str]:
    return [textwrap.fill(f"{name}: {meaning}", WIDTH, initial_indent="  ", subsequent_indent="    ")
            for name, meaning in items]


def _bullets(lines) -> list[str]:
    return [textwrap.fill(a, WIDTH, initial_indent="- ", subsequent_indent="  ") for a in lines]


def format_table(summary: pd.DataFrame, descriptions: dict | None = None,
                 effect_table: pd.DataFrame | None = None) -> str:
    """The terminal's result: what each variant changes against the baseline (first), then each variant's
    own outcomes, what the columns mean, and the answer in sentences."""
    descriptions = descriptions or {}
    out = []
    if effect_table is not None and len(effect_table):
        frame = effects_frame(effect_table)
        out += ["What each variant changes (paired: the same seeds in every variant)",
                frame.to_string(index=False), "", *_key(effect_key(frame)), "",
                *_bullets(effect_answers(effect_table, descriptions)), "", "Each variant on its own"]
    out += [table_frame(summary).to_string(index=False), "", *_key(COLUMN_KEY), "",
            *_bullets(answers(summary, descriptions))]
    return "\n".join(out)


def _markdown(frame: pd.DataFrame) -> str:
    out = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(out)


def _dates(start: dt.date, days) -> list:
    return [start + dt.timedelta(days=float(d)) for d in days]


def _figure(**kw):
    """A figure of its own (matplotlib.figure.Figure): no pyplot, so a notebook's backend and open
    figures are left alone."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def _date_axis(ax, maxticks: int = 6) -> None:
    """Dates on the x axis as day and month ('1 Oct'); the year is said once, in the axis label."""
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=maxticks))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%-d %b"))


def _year_label(ax) -> None:
    """The year (or years) the x axis spans, once, as its label."""
    import matplotlib.dates as mdates

    first, last = (mdates.num2date(x).year for x in ax.get_xlim())
    ax.set_xlabel(str(first) if first == last else f"{first}-{last}")


def end_points(runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each run's end as a competing event: (day, 1) the valley fell, (day, 2) the offensive was repulsed,
    (day, 3) winter halted it, (day, 0) censored (the horizon came first)."""
    falls = fell(runs).to_numpy()
    reason = runs["end_reason"].to_numpy()
    return last_day(runs), np.where(falls, 1, np.where(reason == "repulsed", 2, np.where(reason == "winter", 3, 0)))


ENDING_COLOURS = {"repulsed": "#2e86c1", "winter": "#85c1e9", "fell": "#c0392b"}
CAUSE_COLOURS = {"combat": "#c0392b", "supply": "#8c564b", "cohesion": "#8e44ad", "encirclement": "#e67e22",
                 "pacts": "#17a2b8"}


def plot_outcomes(summary: pd.DataFrame, effect_table: pd.DataFrame, variants: list[str], baseline: str,
                  path: Path) -> str:
    """The answer figure: how each variant's runs end (repulsed, winter halted, fell) with P(hold to winter)
    and its interval; beside it, what each variant changes against the baseline (paired differences in
    P(hold) and in days held, with their intervals)."""
    others = [v for v in variants if v != baseline]
    fig = _figure(figsize=(12 if others else 7, 1.2 + 0.75 * len(variants) + 1.0), dpi=110)
    if others:
        bars, dp, dd = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.5, 1, 1]})
    else:  # one variant: nothing to compare it with
        bars, dp, dd = fig.subplots(1, 1), None, None
    rows = summary.set_index("variant").loc[variants]
    y = np.arange(len(variants))[::-1]
    left = np.zeros(len(variants))
    for key, label in (("repulsed", "repulsed"), ("winter", "winter halted"), ("fell", "fell")):
        share = rows[f"p_{key}"].to_numpy(float)
        bars.barh(y, share, left=left, color=ENDING_COLOURS[key], label=label, height=0.6)
        for yi, x0, w in zip(y, left, share):
            if w >= 0.06:
                bars.text(x0 + w / 2, yi, f"{w:.0%}", ha="center", va="center", fontsize=8,
                          color="white" if key != "winter" else "black")
        left = left + np.nan_to_num(share)
    p = rows["p_hold"].to_numpy(float)
    err = np.vstack([p - rows["p_hold_lo95"].to_numpy(float), rows["p_hold_hi95"].to_numpy(float) - p])
    bars.errorbar(p, y + 0.38, xerr=err, fmt="v", color="black", capsize=3, ms=5,
                  label="P(hold to winter), 95% CI")
    bars.set_yticks(y, [f"{v}\n(baseline)" if v == baseline else v for v in variants])
    bars.set_xlim(0, 1)
    bars.set_ylim(-0.6, len(variants) - 0.1)
    bars.set_xlabel("share of runs")
    bars.set_title("How the runs end", fontsize=10, pad=18)
    bars.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.07), ncol=4, frameon=False)

    e = effect_table.set_index("variant").loc[others] if others else effect_table
    ye = np.arange(len(others))[::-1]
    panels = ((dp, "diff", 100.0, f"Change in P(hold) vs {baseline}"),
              (dd, "days_diff", 1.0, f"Change in days held vs {baseline}")) if others else ()
    for ax, col, unit, title in panels:
        if len(others):
            mid = e[col].to_numpy(float) * unit
            lo, hi = e[f"{col}_lo95"].to_numpy(float) * unit, e[f"{col}_hi95"].to_numpy(float) * unit
            real = (lo > 0) | (hi < 0)
            for yi, m, a, b, r in zip(ye, mid, lo, hi, real):
                ax.errorbar([m], [yi], xerr=[[m - a], [b - m]], fmt="o", capsize=4,
                            color="black" if r else "grey", mfc="black" if r else "white")
                ax.annotate(f"{_signed(m)} [{_signed(a)}, {_signed(b)}]", (m, yi), textcoords="offset points",
                            xytext=(0, 8),
                            ha="center", fontsize=8)
            span = max(5.0, float(np.nanmax(np.abs(np.r_[lo, hi]))) * 1.25)
            ax.set_xlim(-span, span)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(ye, others)
        ax.set_ylim(-0.6, max(len(others), 1) - 0.1)
        ax.set_xlabel("percentage points" if col == "diff" else "days")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    n = int(rows["runs"].min()) if len(rows) else 0
    fig.text(0.01, 0.01, f"{n} runs per variant, the same seeds in every variant. Left: endings; the triangle is "
             "P(hold to winter) (repulsed + winter halted) with its 95% Wilson interval." + (
                 " Middle and right: paired differences with 95% intervals (Newcombe; paired bootstrap of the median "
                 "days held, to the fall or to winter); filled: the interval excludes zero; hollow: within noise."
                 if others else ""), fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    _save(fig, path)
    return path.name


def plot_falls(runs: pd.DataFrame, variants: list[str], start: dt.date, path: Path) -> str:
    """When and how runs end, per variant: the cumulative incidence of the fall by each cause, of the offensive
    repulsed and of winter halting it, stacked (Aalen-Johansen: each ending competes with the others)."""
    ok = runs[runs["status"] == "ok"]
    ncol = min(2, len(variants))
    nrow = (len(variants) + ncol - 1) // ncol
    fig = _figure(figsize=(11, 2.9 * nrow + 0.7), dpi=110)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False)).ravel()
    code = {c: i + 1 for i, c in enumerate(CAUSES)}
    k = len(CAUSES)
    first, last = np.inf, -np.inf
    for ax, v in zip(axes, variants):
        r = ok[ok["variant"] == v]
        day, end = end_points(r)
        cause = np.where(end == 1, r["cause"].map(code).fillna(1).to_numpy(), np.where(end > 1, end + k - 1, 0))
        if len(day):
            t, cif = cumulative_incidence(day, cause.astype(int), n_causes=k + 2)
            first, last = min(first, day.min()), max(last, day.max())
            x = _dates(start, np.r_[t, t[-1] + 400])
            ax.stackplot(x, np.c_[cif, cif[:, -1]], step="post", alpha=0.9,
                         colors=[CAUSE_COLOURS[c] for c in CAUSES] + [ENDING_COLOURS["repulsed"],
                                                                     ENDING_COLOURS["winter"]],
                         labels=[f"fell: {c}" for c in CAUSES] + ["repulsed", "winter halted"])
        fell_share = float(fell(r).mean()) if len(r) else 0.0
        ax.set_title(f"{v}: {fell_share:.0%} of {len(r)} runs fell", fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        _date_axis(ax)
    if np.isfinite(first):
        span = max(last - first, 10)
        axes[0].set_xlim(_dates(start, [max(0, first - 0.05 * span), last + 0.05 * span]))
    for ax in axes[len(variants):]:
        ax.set_visible(False)
    for ax in axes[::ncol]:
        ax.set_ylabel("share of runs")
    for ax in axes[max(0, len(variants) - ncol):len(variants)]:
        _year_label(ax)
    axes[0].legend(fontsize=7, loc="upper left", ncol=2)
    fig.text(0.01, 0.01, "How many runs had ended by each date, and how (Aalen-Johansen cumulative incidence, "
             "stacked): the valley fallen, by cause (reds, browns, purple), the offensive repulsed (blue), halted by "
             "winter with the valley holding (light blue). White: runs still going.", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _save(fig, path)
    return path.name


def plot_panels(series: dict, ends: dict, variants: list[str], start: dt.date, path: Path, rows, title: str) -> str:
    """Daily series, one row of panels per quantity and one column per variant (shared axes): the median
    and the 10-90% band over the runs still going that day (a run that fell stops counting on the day of
    its fall); the band stops when fewer than a tenth of the runs are still going."""
    fig = _figure(figsize=(max(3.1 * len(variants) + 1.2, 8.0), 2.6 * len(rows) + 0.8), dpi=110)
    axes = np.atleast_2d(fig.subplots(len(rows), len(variants), sharex=True, sharey="row", squeeze=False))
    colours = ("#1e8449", "#7d3c98", "#2471a3", "#b9770e")
    last_day = 0
    for j, v in enumerate(variants):
        runs = [(rep, s) for rep, s in sorted(series.get(v, []), key=lambda t: t[0])]
        for i, (col, label, unit) in enumerate(rows):
            ax = axes[i, j]
            if runs:
                length = max(len(s[col]) for _, s in runs)
                m = np.full((len(runs), length), np.nan)
                for k, (rep, s) in enumerate(runs):
                    stop = min(len(s[col]), ends.get(v, {}).get(rep, len(s[col])) + 1)
                    m[k, :stop] = s[col][:stop]
                alive = np.sum(~np.isnan(m), axis=0)
                keep = alive >= max(1, 0.1 * len(runs))
                with np.errstate(all="ignore"):
                    med = np.nanmedian(m[:, keep], axis=0)
                    lo, hi = np.nanpercentile(m[:, keep], [10, 90], axis=0)
                x = _dates(start, np.arange(length)[keep])
                ax.fill_between(x, lo, hi, alpha=0.25, color=colours[i % len(colours)], lw=0)
                ax.plot(x, med, lw=2, color=colours[i % len(colours)])
                last_day = max(last_day, int(np.arange(length)[keep].max()) if keep.any() else 0)
            if i == 0:
                ax.set_title(v, fontsize=10)
            if j == 0:
                ax.set_ylabel(f"{textwrap.fill(label, 24)}\n({unit})", fontsize=9)
            ax.grid(alpha=0.3)
            _date_axis(ax, maxticks=4)
    for i in range(len(rows)):  # shared per row: from zero to the highest band of any variant
        top = max((line.get_ydata().max() for ax in axes[i] for line in ax.lines if len(line.get_ydata())),
                  default=1.0)
        top = max([top] + [float(np.nanmax(c.get_paths()[0].vertices[:, 1])) for ax in axes[i]
                           for c in ax.collections if c.get_paths()])
        axes[i, 0].set_ylim(0, top * 1.05 if top > 0 else 1.0)
    for ax in axes[-1]:
        _year_label(ax)
    fig.suptitle(textwrap.fill(f"{title}: median (line) and 10-90% of runs (band), over the runs still going",
                               int(fig.get_figwidth() * 11)), fontsize=11)
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


def _resumed_text(meta: dict) -> str:
    return f"; resumed: {meta['runs_resumed']} runs were already done" if meta.get("resumed") else ""


def uncertainty_note(meta: dict) -> str:
    """What the intervals include: chance only, or also what the scenario does not know."""
    k = meta.get("runs_per_draw", 1)
    if meta.get("uncertain"):
        when = ("afresh for each replication" if k == 1 else
                f"once for every {k} replications (which differ in chance alone: see where the spread comes from)")
        return (f"\nWhat the scenario does not know exactly was drawn {when}, the same in every "
                f"variant: {meta['uncertain']}. The intervals below include that uncertainty as well as chance; "
                "`--fixed` runs every replication at the file's own values (chance alone).\n")
    if meta.get("could_draw"):
        return ("\nEvery run took the file's own values (`--fixed`): the intervals below are chance alone, not what "
                f"the scenario does not know ({meta['could_draw']}).\n")
    return ""


def _draw_seeds_text(meta: dict) -> str:
    k = meta.get("runs_per_draw", 1)
    return "" if k == 1 else (f"\n  Draws of what the scenario leaves open: shared by {k} replications, seeded from "
                              f"`SeedSequence(master, spawn_key=({DRAW_POINT}, replication // {k}))`.")


def report_md(summary: pd.DataFrame, effect_table: pd.DataFrame, meta: dict, figures: dict,
              split: pd.DataFrame | None = None) -> str:
    desc = "\n".join(f"- **{v}**: {d or '(no description)'}" + (" (the baseline)" if v == meta["baseline"] else "")
                     for v, d in meta["variant_descriptions"].items())
    vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    said = "\n".join(f"- {a}" for a in effect_answers(effect_table, meta["variant_descriptions"]))
    alone = "\n".join(f"- {a}" for a in answers(summary, meta["variant_descriptions"]))
    frame = effects_frame(effect_table)
    effects_md = (_markdown(frame) + "\n\n" +
                  "\n".join(f"- **{name}**: {meaning}" for name, meaning in effect_key(frame))) \
        if len(effect_table) else "(one variant only: nothing to compare it with)"
    return f"""# What outside resupply changes: {meta['scenario_name']}

{meta['title']}. Each variant was run {meta['replications']} times from {meta['start_date']}, with the same seeds in
every variant (each random process has its own stream, so paired runs differ only by what the variant
changes), until the valley fell, winter halted the offensive, the offensive was repulsed, or the horizon.
{uncertainty_note(meta)}

## The answer
{said}

{effects_md}

![How the runs end, and what each variant changes]({figures['outcomes']})
{spread_text(split)}
## Each variant on its own
{alone}

{_markdown(table_frame(summary))}

{chr(10).join(f"- **{name}**: {meaning}" for name, meaning in COLUMN_KEY)}

![When the runs end: the falls by cause, the offensive repulsed, winter]({figures['falls']})

![Stocks]({figures['stocks']})

![Forces]({figures['forces']})

Per-run outcomes: `runs.parquet`; the tables above as numbers: `effects.csv`, `summary.csv`{
    ", `spread.csv`" if split is not None else ""}.

## Variants
{desc}

## Provenance
- Scenario file: `{meta['scenario']}`; overrides: {_overrides_text(meta['overrides'])}
- Master seed: {meta['master_seed']}; run seeds from numpy `SeedSequence(master, spawn_key=(0, replication))`,
  the same for every variant (common random numbers); each run's seed is in `runs.parquet`.{_draw_seeds_text(meta)}
- Command: `{meta['command']}` ({meta['jobs']} jobs, {meta['seconds']} s{_resumed_text(meta)})
- Versions: {vers}
- Git revision: {meta['git']}
- Created: {meta['created']}
"""
