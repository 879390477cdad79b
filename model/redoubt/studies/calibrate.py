"""Calibration on the valley's earlier offensives by approximate Bayesian computation (`redoubt calibrate`), the
preregistered out-of-sample test on 2021 (`redoubt calibrate --test`), and out-of-sample checks on other episodes
(`redoubt calibrate --check NAME`: judged by the test's criterion, not preregistered).

The method (docs/validation.md gives the reasons and references):
1. a Latin hypercube of `samples` points over the behaviour parameters' prior ranges (the sweep engine's lhs
   design: resumable, parallel, on Dask for a cluster); the same points for every episode;
2. every point run `replications` times on each episode; each run draws the episode's own uncertain inputs
   (its file's [uncertain] table: strength, morale, build-up) from its seed, so they are integrated out;
3. a run matches an episode when all of the episode's patterns (observed.toml) fall inside their observation
   windows in that run: the joint history, not pattern by pattern;
4. a point's likelihood is the share of its runs that match, multiplied over the episodes (an unbiased estimate
   of the ABC likelihood with an indicator kernel); the posterior is the design weighted by it (importance
   sampling with the prior as proposal). Reported: the effective sample size, each parameter's posterior
   against its prior (shrinkage), the episode inputs' posteriors, leave-one-episode-out predictions, and the
   recovery of known parameters from data the model made itself.
Outputs under the out directory: posterior.toml (the weighted sets: `[uncertain] parameters` of a scenario),
parameters.csv, hindcast.csv, recovery.csv and calibration.md; with --test, test.csv and test.md; with --check
NAME, check-NAME.csv and check-NAME.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..inputs import scenario as scn
from ..inputs.bounded import plain_name
from ..inputs.scenario import ScenarioError
from .parts import write_atomic_text

CONFIG = "history/calibration"
PATTERNS = ("floor_lost_day", "resistance_survives", "road_held_share")
USES = ("calibrate", "test", "check", "none")
RESULTS = ("posterior.toml", "parameters.csv", "hindcast.csv", "recovery.csv", "calibration.md")
TEST_RESULTS = ("test.csv", "test.md")


# ---------------------------------------------------------------- the files ------------------------------
def load_config(name: str | Path = CONFIG) -> dict:
    """The calibration settings, priors and test criterion, checked: errors name the file, the key and the rule."""
    path = scn.resolve_path(name)
    raw = scn.read_toml(path, "calibration file")
    err = lambda key, rule: ScenarioError(path, key, rule)  # noqa: E731
    schema = {
        "calibration": {
            "episodes": scn.Field(list), "samples": scn.Field(int, 200, min=2, max=100_000),
            "replications": scn.Field(int, 30, min=1, max=10_000), "seed": scn.Field(int, 2026, min=0),
            "fighters_per_agent": scn.Field(int, 20, min=1, max=1000),
            "recovery_truths": scn.Field(int, 10, min=0, max=1000)},
        "test": {
            "episode": scn.Field(str), "interval": scn.Field(scn.NUM, 0.9, min=0.5, max=0.999),
            "min_probability": scn.Field(scn.NUM, 0.05, min=0, max=1)},
        "checks": {"episodes": scn.Field(list, [])}}
    for table in ("calibration", "test"):
        if table not in raw:
            raise err(table, f"is required: a [{table}] table")
    cfg = scn.walk(schema, {k: raw.get(k, {}) for k in schema}, str(path))
    cfg = {**cfg["calibration"], "test": cfg["test"], "checks": cfg["checks"]["episodes"]}
    priors = raw.get("priors") or {}
    if not isinstance(priors, dict) or not priors:
        raise err("priors", "at least one prior is required: [priors.\"dotted.key\"] range = [low, high]")
    cfg["priors"] = {}
    for key, table in priors.items():
        r = table.get("range") if isinstance(table, dict) else None
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                            and math.isfinite(x) for x in r) and r[0] < r[1]):
            raise err(f"priors.{key}.range", "must be [low, high], finite, with low < high")
        try:
            field = scn.field_at(scn.SCHEMA, key)
        except (KeyError, TypeError):
            raise err(f"priors.{key}", "is not a scenario key") from None
        if field.type not in (scn.NUM, int):
            raise err(f"priors.{key}", "is not a number, so it cannot be calibrated")
        cfg["priors"][key] = [float(r[0]), float(r[1])]
    named = [(f"calibration.episodes.{i}", e) for i, e in enumerate(cfg["episodes"])]
    named += [("test.episode", cfg["test"]["episode"])] + [(f"checks.episodes.{i}", e) for i, e in
                                                           enumerate(cfg["checks"])]
    for key, episode in named:
        if not isinstance(episode, str) or plain_name(episode, "") != episode:
            raise err(key, f"an episode is a plain name (got {episode!r})")
        if not scn.resolve_path(f"history/{episode}").is_file():
            raise err(key, f"no such episode under scenarios/history/ ({episode!r})")
    if not cfg["episodes"]:
        raise err("calibration.episodes", "at least one calibration episode is required")
    if cfg["test"]["episode"] in cfg["episodes"]:
        raise err("test.episode", "the test episode is never a calibration episode")
    for i, episode in enumerate(cfg["checks"]):
        if episode in cfg["episodes"] or episode == cfg["test"]["episode"] or cfg["checks"].index(episode) != i:
            raise err(f"checks.episodes.{i}", f"{episode} is named twice (a check is neither a calibration episode "
                      "nor the test, and is listed once)")
    cfg["patterns"] = load_patterns(path.with_name("observed.toml"))
    for episode in cfg["episodes"]:
        if not [p for p in cfg["patterns"] if p["episode"] == episode and p["use"] == "calibrate"]:
            raise err("calibration.episodes", f"episode {episode} has no calibration pattern in observed.toml")
    if not [p for p in cfg["patterns"] if p["episode"] == cfg["test"]["episode"] and p["use"] == "test"]:
        raise err("test.episode", f"{cfg['test']['episode']} has no test pattern in observed.toml")
    for i, episode in enumerate(cfg["checks"]):
        if not [p for p in cfg["patterns"] if p["episode"] == episode and p["use"] == "check"]:
            raise err(f"checks.episodes.{i}", f"{episode} has no check pattern in observed.toml")
    cfg["_source"] = str(path)
    return cfg


def load_patterns(path: str | Path) -> list[dict]:
    """The observed patterns (observed.toml), checked."""
    path = Path(path)
    raw = scn.read_toml(path, "patterns file")
    items = raw.get("pattern")
    if not isinstance(items, list) or not items:
        raise ScenarioError(path, "pattern", "at least one [[pattern]] is required")
    schema = {"episode": scn.Field(str), "pattern": scn.Field(str, choices=PATTERNS),
              "within": scn.Field(list, optional=True), "value": scn.Field(scn.NUM, optional=True),
              "day": scn.Field(int, 0, min=0), "observed": scn.Field(bool, optional=True),
              "use": scn.Field(str, choices=USES), "recorded": scn.Field(dt.date), "error": scn.Field(str, ""),
              "source": scn.Field(str)}
    out = []
    for i, item in enumerate(items):
        p = scn.walk(schema, item, str(path), f"pattern.{i}.")
        key = f"pattern.{i}"
        if p["pattern"] == "resistance_survives":
            if p.get("observed") is None:
                raise ScenarioError(path, f"{key}.observed", "resistance_survives needs observed = true or false")
        else:
            w = p.get("within")
            if not (isinstance(w, list) and len(w) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                                 and not math.isnan(x) for x in w) and w[0] <= w[1]):
                raise ScenarioError(path, f"{key}.within", f"{p['pattern']} needs within = [low, high], the "
                                    "observation window (inf for 'never')")
            p["within"] = [float(w[0]), float(w[1])]
            if p["pattern"] == "road_held_share" and (p["day"] <= 0 or w[0] < 0 or w[1] > 1):
                raise ScenarioError(path, f"{key}", "road_held_share needs day > 0 and a window within [0, 1]")
        out.append(p)
    return out


# ---------------------------------------------------------------- patterns in runs -----------------------
def pattern_values(outcomes: pd.DataFrame, series: pd.DataFrame | None, pattern: dict) -> pd.Series:
    """Per run (indexed like `outcomes`): the pattern's value in that run (floor: the day, inf for never;
    resistance: survived or not; road: the share of the road's km not held by the attacker on the day). The
    record runs to winter, so the run-on after a fall counts (its `run_on_` fields; its days in the series)."""
    if pattern["pattern"] == "floor_lost_day":
        return outcomes["run_on_floor_lost_day"].astype(float).fillna(np.inf)
    if pattern["pattern"] == "resistance_survives":
        return outcomes["run_on_resistance_ended_day"].isna()
    if series is None or series.empty:
        raise ValueError("road_held_share needs the runs' daily series")
    s = series[["point_key", "replication", "day", "km_road_held"]]
    total = s[s["day"] == 0].set_index(["point_key", "replication"])["km_road_held"]
    on_day = (s[s["day"] <= pattern["day"]].sort_values("day")
              .groupby(["point_key", "replication"])["km_road_held"].last())  # a run over before the day: its end
    share = (on_day / total.reindex(on_day.index)).rename("share")
    keys = pd.MultiIndex.from_frame(outcomes[["point_key", "replication"]])
    return pd.Series(share.reindex(keys).to_numpy(), index=outcomes.index)


def as_observed(values: pd.Series, pattern: dict) -> pd.Series:
    """Per run: does the pattern fall inside its observation window (or, for survival, as observed)?"""
    if pattern["pattern"] == "resistance_survives":
        return values == pattern["observed"]
    lo, hi = pattern["within"]
    return (values >= lo) & (values <= hi)


def all_as_observed(values: list[pd.Series], patterns: list[dict], index) -> pd.Series:
    """Per run: every one of the patterns as observed, in the same run (the joint history)."""
    ok = pd.Series(True, index=index)
    for v, p in zip(values, patterns):
        ok &= as_observed(v, p)
    return ok


class EpisodeRuns(NamedTuple):
    """One episode's runs, with each pattern's value in every run read once (the road's share needs the daily
    series: the costly part) and whether the whole history was as observed."""

    outcomes: pd.DataFrame
    patterns: list[dict]
    values: list[pd.Series]  # per pattern, indexed like outcomes
    match: pd.Series


def episode_runs(outcomes: pd.DataFrame, series: pd.DataFrame | None, patterns: list[dict]) -> EpisodeRuns:
    values = [pattern_values(outcomes, series, p) for p in patterns]
    return EpisodeRuns(outcomes, patterns, values, all_as_observed(values, patterns, outcomes.index))


def point_likelihood(outcomes: pd.DataFrame, match: pd.Series, keys) -> pd.Series:
    """Per design point (in the order of `keys`): the share of its finished runs that match."""
    done = outcomes["status"] == "ok"
    return match[done].groupby(outcomes.loc[done, "point_key"]).mean().reindex(keys).fillna(0.0)


# ---------------------------------------------------------------- weighted summaries ---------------------
def weighted_quantiles(values, weights, qs) -> np.ndarray:
    """Quantiles of a weighted sample (the inverse of its step CDF): the smallest value with at least q of the
    weight at or below it."""
    v, w = np.asarray(values, float), np.asarray(weights, float)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w) / w.sum()
    return np.array([v[min(int(np.searchsorted(cum, q - 1e-12)), len(v) - 1)] for q in qs])


def ess(weights) -> float:
    """Kish's effective sample size of importance weights."""
    w = np.asarray(weights, float)
    return float(w.sum() ** 2 / (w ** 2).sum()) if (w > 0).any() else 0.0


def summarise_parameters(design: pd.DataFrame, weights: np.ndarray, priors: dict) -> pd.DataFrame:
    """Per parameter: prior and posterior 5/50/95% and the shrinkage (posterior 90% width over the prior's)."""
    rows = []
    flat = np.ones(len(design))
    for key, (lo, hi) in priors.items():
        prior = weighted_quantiles(design[key], flat, (0.05, 0.5, 0.95))
        post = weighted_quantiles(design[key], weights, (0.05, 0.5, 0.95)) if weights.sum() > 0 else [np.nan] * 3
        rows.append({"parameter": key, "prior_low": lo, "prior_high": hi, "prior_q05": prior[0],
                     "prior_q95": prior[2], "posterior_q05": post[0], "posterior_median": post[1],
                     "posterior_q95": post[2],
                     "shrinkage": (post[2] - post[0]) / (prior[2] - prior[0]) if weights.sum() > 0 else np.nan})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the sweeps -----------------------------
def sweep_spec(cfg: dict, episode: str) -> dict:
    """One episode's sweep: the same design (seed, priors, size) for every episode, so the same points."""
    return {"sweep": {"name": f"calibration-{episode}", "scenario": f"history/{episode}", "design": "lhs",
                      "samples": cfg["samples"], "replications": cfg["replications"], "seed": cfg["seed"],
                      "series": True, "set": {"scenario.fighters_per_agent": cfg["fighters_per_agent"],
                                              "switches.uncertain": True}},
            "factors": {k: {"range": r, "integer": False} for k, r in cfg["priors"].items()}}


def _run_episodes(cfg: dict, out: Path, episodes: list[str], jobs, quiet, executor, force) -> dict:
    from .sweep import another_sweep, load, load_spec, run_sweep

    specs = {}
    for episode in episodes:  # every episode's sweep is checked before anything is written
        try:
            specs[episode] = sweep_spec(cfg, episode)
            loaded = load_spec(specs[episode])
        except ScenarioError as exc:
            raise ScenarioError(cfg["_source"], f"calibration ({episode}): {exc.key}", exc.rule) from None
        if not force and another_sweep(out / episode, loaded):
            raise ScenarioError(cfg["_source"], f"calibration.episodes ({episode})",
                                f"{out / episode} holds a sweep of another design (priors, sizes, seed or the "
                                "episode's scenario changed); use --force to start it again")
    results = {}
    for episode in episodes:
        try:
            where = run_sweep(specs[episode], out / episode, executor=executor, jobs=jobs, quiet=quiet, force=force)
        except ScenarioError as exc:
            if exc.key != "sweep":
                raise
            raise ScenarioError(cfg["_source"], f"calibration.episodes ({episode})", exc.rule) from None
        results[episode] = load(where, series=True)
    return results


def run(cfg: dict, out: Path, jobs: int | None = None, quiet: bool = False, executor: str = "processes",
        force: bool = False) -> dict:
    """Run the calibration episodes and write the posterior and its report under `out`. Resumes what `out`
    already holds; `force` starts again an episode whose sweep has changed. The test episode is not run."""
    from .outputs import OutputDir

    target = OutputDir(out, "calibrate").claim(force=force, resume=True)  # one writer; a user's folder is refused
    try:
        checks = [p.name for p in target.path.glob("check-*.*")]  # any check's, listed in the file or not now
        for name in (*RESULTS, *TEST_RESULTS, *checks):  # derived from the sweeps: never left beside a newer design
            (target.path / name).unlink(missing_ok=True)
        results = _run_episodes(cfg, out, cfg["episodes"], jobs, quiet, executor, force)
        fit = fit_posterior(cfg, results)
        _write_calibration(cfg, out, fit)
        return fit
    finally:
        target.close()


def fit_posterior(cfg: dict, results: dict, with_recovery: bool = True) -> dict:
    """The design's weights from the calibration episodes, and everything reported about them (the recovery
    test, the costly part, only if asked: judging the test episode needs the weights alone)."""
    design = next(iter(results.values()))["design"]
    keys = design["point_key"].to_numpy()
    per_episode, runs = {}, {}
    for episode in cfg["episodes"]:
        data = results[episode]
        patterns = [p for p in cfg["patterns"] if p["episode"] == episode and p["use"] == "calibrate"]
        runs[episode] = episode_runs(data["outcomes"], data["series"], patterns)
        per_episode[episode] = point_likelihood(data["outcomes"], runs[episode].match, keys).to_numpy()
    likelihood = np.prod(list(per_episode.values()), axis=0)
    weights = likelihood / likelihood.sum() if likelihood.sum() > 0 else np.zeros(len(design))
    return {"design": design, "weights": weights, "likelihood": likelihood, "per_episode": per_episode,
            "ess": ess(weights), "parameters": summarise_parameters(design, weights, cfg["priors"]),
            "hindcast": hindcast(cfg, runs, weights, keys), "inputs": episode_inputs(cfg, runs, per_episode, keys),
            "loo": leave_one_out(per_episode),
            "recovery": recovery(cfg, design, runs) if with_recovery else pd.DataFrame()}


def _run_weights(outcomes: pd.DataFrame, keys, point_weights) -> np.ndarray:
    """Each finished run's weight: its point's, shared among the point's runs."""
    done = (outcomes["status"] == "ok").to_numpy()
    w = pd.Series(point_weights, index=keys).reindex(outcomes["point_key"]).fillna(0.0).to_numpy()
    n = outcomes[done].groupby("point_key").size().reindex(outcomes["point_key"]).fillna(1).to_numpy()
    return np.where(done, w / n, 0.0)


def hindcast(cfg: dict, runs: dict, weights: np.ndarray, keys) -> pd.DataFrame:
    """Per episode and pattern (and the joint history): P(as observed) and the value's median and 90% interval,
    over the prior (every point alike) and the posterior."""
    rows = []
    flat = np.full(len(keys), 1.0 / len(keys))
    for episode, (o, patterns, values, m) in runs.items():
        for label, pw in (("prior", flat), ("posterior", weights)):
            rw = _run_weights(o, keys, pw)
            if rw.sum() <= 0:
                continue
            for p, v in zip(patterns, values):
                seen = as_observed(v, p).to_numpy()
                row = {"episode": episode, "pattern": describe(p), "sets": label,
                       "p_as_observed": float((rw * seen).sum() / rw.sum())}
                if p["pattern"] != "resistance_survives":
                    q = weighted_quantiles(v.to_numpy(float), rw, (0.05, 0.5, 0.95))
                    row.update(lo90=q[0], median=q[1], hi90=q[2])
                rows.append(row)
            rows.append({"episode": episode, "pattern": "all of them in the same run", "sets": label,
                         "p_as_observed": float((rw * m.to_numpy()).sum() / rw.sum())})
    return pd.DataFrame(rows)


def episode_inputs(cfg: dict, runs: dict, per_episode: dict, keys) -> pd.DataFrame:
    """Each episode's drawn inputs: their prior range, and their posterior (the runs that matched the episode,
    weighted by how well their point did on the other episodes)."""
    rows = []
    for episode, (o, _, _, m) in runs.items():
        others = np.prod([per_episode[e] for e in per_episode if e != episode] or [np.ones(len(keys))], axis=0)
        rw = _run_weights(o, keys, others) * m.to_numpy()
        drawn = pd.DataFrame([json.loads(d or "{}") for d in o["drawn"].fillna("{}")], index=o.index)
        ranges = scn.load(f"history/{episode}")["uncertain"]["inputs"]
        for key, (lo, hi) in ranges.items():
            if key not in drawn:
                continue
            q = weighted_quantiles(drawn[key], rw, (0.05, 0.5, 0.95)) if rw.sum() > 0 else [np.nan] * 3
            rows.append({"episode": episode, "input": key, "prior_low": lo, "prior_high": hi,
                         "posterior_q05": q[0], "posterior_median": q[1], "posterior_q95": q[2],
                         "shrinkage": (q[2] - q[0]) / (0.9 * (hi - lo)) if rw.sum() > 0 else np.nan})
    return pd.DataFrame(rows)


def leave_one_out(per_episode: dict) -> pd.DataFrame:
    """Each episode predicted from the others: P(its whole history as observed) under the prior and under the
    posterior fitted without it."""
    rows = []
    for episode, lik in per_episode.items():
        others = np.prod([per_episode[e] for e in per_episode if e != episode] or [np.ones(len(lik))], axis=0)
        rows.append({"episode": episode, "prior": float(lik.mean()),
                     "posterior_without_it": float((others * lik).sum() / others.sum()) if others.sum() > 0
                     else np.nan, "effective_sets_without_it": ess(others)})
    return pd.DataFrame(rows)


def synthetic_patterns(patterns: list[dict], values: dict) -> list[dict]:
    """Patterns as a run made them (for recovery): windows of the same kinds around that run's values (floor:
    +-3 days, or never; road: +-0.1)."""
    out = []
    for p in patterns:
        v = values[id(p)]
        q = dict(p)
        if p["pattern"] == "resistance_survives":
            q["observed"] = bool(v)
        elif p["pattern"] == "floor_lost_day":
            q["within"] = [np.inf, np.inf] if np.isinf(v) else [v - 3, v + 3]
        else:
            q["within"] = [max(0.0, v - 0.1), min(1.0, v + 0.1)]
        out.append(q)
    return out


def recovery(cfg: dict, design: pd.DataFrame, runs: dict) -> pd.DataFrame:
    """Data made by the model at known parameters (a design point's first run on each episode), calibrated with
    the point's other runs and every other point: is each known value inside the posterior's 90% interval, and
    how much narrower than the prior is it?"""
    n = cfg["recovery_truths"]
    if n <= 0 or len(design) < 3:
        return pd.DataFrame()
    keys = design["point_key"].to_numpy()
    truths = np.linspace(0, len(design) - 1, min(n, len(design))).round().astype(int)
    rows = []
    for t in truths:
        truth_key = keys[t]
        lik = np.ones(len(design))
        for episode, (o, patterns, values, _) in runs.items():
            first = (o["point_key"] == truth_key) & (o["replication"] == 0)
            if not first.any() or o.loc[first, "status"].iloc[0] != "ok":
                lik[:] = 0
                break
            seen = {id(p): v[first].iloc[0] for p, v in zip(patterns, values)}
            # the data's own run left out
            m = all_as_observed(values, synthetic_patterns(patterns, seen), o.index) & ~first
            lik *= point_likelihood(o[~first], m[~first], keys).to_numpy()
        w = lik / lik.sum() if lik.sum() > 0 else lik
        for key, (lo, hi) in cfg["priors"].items():
            value = float(design.loc[t, key])
            if w.sum() > 0:
                q = weighted_quantiles(design[key], w, (0.05, 0.95))
                inside, shrink = bool(q[0] <= value <= q[1]), (q[1] - q[0]) / (0.9 * (hi - lo))
            else:
                inside, shrink = False, np.nan
            rows.append({"truth": int(t), "parameter": key, "value": value, "inside90": inside,
                         "shrinkage": shrink, "effective_sets": ess(w)})
    return pd.DataFrame(rows)


def describe(p: dict) -> str:
    if p["pattern"] == "resistance_survives":
        return "organised resistance survives to winter" if p["observed"] else "organised resistance ends"
    lo, hi = p["within"]
    if p["pattern"] == "floor_lost_day":
        if math.isinf(lo):
            return "valley floor never lost"
        return f"valley floor lost on day {lo:g}-{hi:g}" if math.isfinite(hi) else f"floor not lost by day {lo - 1:g}"
    return f"road held (share of km) on day {p['day']}: {lo:g}-{hi:g}"


# ---------------------------------------------------------------- writing --------------------------------
def posterior_toml(cfg: dict, fit: dict) -> str:
    """The weighted parameter sets (only those with weight), for a scenario's [uncertain] parameters, and
    their weighted medians (the file's own values for a run that does not draw)."""
    design, w = fit["design"], fit["weights"]
    lines = ["# Written by `redoubt calibrate` (model/redoubt/studies/calibrate.py) from " + cfg["_source"] + ".",
             f"# {int((w > 0).sum())} of {len(design)} parameter sets carry weight (effective sample size "
             f"{fit['ess']:.1f}). A scenario draws one per run: [uncertain] parameters = \"history/posterior\".",
             "", "[medians]"]
    if w.sum() > 0:
        lines += [f'"{k}" = {weighted_quantiles(design[k], w, (0.5,))[0]:.4g}' for k in cfg["priors"]]
    for i in np.nonzero(w > 0)[0]:
        lines += ["", "[[set]]", f"weight = {w[i]:.6g}"]
        lines += [f'"{k}" = {float(design.iloc[i][k]):.6g}' for k in cfg["priors"]]
    return "\n".join(lines) + "\n"


def _write_calibration(cfg: dict, out: Path, fit: dict) -> None:
    write_atomic_text(fit["parameters"].to_csv(index=False), out / "parameters.csv")
    write_atomic_text(fit["hindcast"].to_csv(index=False), out / "hindcast.csv")
    write_atomic_text(fit["recovery"].to_csv(index=False), out / "recovery.csv")
    write_atomic_text(posterior_toml(cfg, fit), out / "posterior.toml")
    write_atomic_text(report(cfg, fit), out / "calibration.md")


def _f(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "never"
    return f"{x:.{digits}g}"


def report(cfg: dict, fit: dict) -> str:
    """calibration.md: what was run, how much the data constrained, and how well it can learn."""
    w, design = fit["weights"], fit["design"]
    lines = [f"Design: {len(design)} points (Latin hypercube over {len(cfg['priors'])} behaviour parameters, seed "
             f"{cfg['seed']}), {cfg['replications']} runs per point on each of {', '.join(cfg['episodes'])} "
             f"(fighters_per_agent {cfg['fighters_per_agent']}; each run draws its episode's uncertain inputs).",
             f"Points with weight: {int((w > 0).sum())}; effective sample size {fit['ess']:.1f}.", "",
             "## Parameters: prior and posterior", "",
             "| parameter | prior | posterior 5% | median | 95% | 90% width / prior's |", "|---|---|---|---|---|---|"]
    for _, r in fit["parameters"].iterrows():
        lines.append(f"| `{r['parameter']}` | {r['prior_low']:g}-{r['prior_high']:g} | {_f(r['posterior_q05'])} | "
                     f"{_f(r['posterior_median'])} | {_f(r['posterior_q95'])} | {_f(r['shrinkage'], 2)} |")
    lines += ["", "## Episode inputs (drawn per run): prior range and posterior", "",
              "| episode | input | prior | posterior 5% | median | 95% | 90% width / prior's |",
              "|---|---|---|---|---|---|---|"]
    for _, r in fit["inputs"].iterrows():
        lines.append(f"| {r['episode']} | `{r['input']}` | {r['prior_low']:g}-{r['prior_high']:g} | "
                     f"{_f(r['posterior_q05'])} | {_f(r['posterior_median'])} | {_f(r['posterior_q95'])} | "
                     f"{_f(r['shrinkage'], 2)} |")
    lines += ["", "## Hindcast: each pattern and the whole history, prior and posterior", "",
              "| episode | pattern | sets | P(as observed) | median [90%] |", "|---|---|---|---|---|"]
    for _, r in fit["hindcast"].iterrows():
        span = "-" if pd.isna(r.get("median")) else f"{_f(r['median'])} [{_f(r['lo90'])}-{_f(r['hi90'])}]"
        lines.append(f"| {r['episode']} | {r['pattern']} | {r['sets']} | {r['p_as_observed']:.0%} | {span} |")
    lines += ["", "## Leave one episode out: each predicted from the others", "",
              "| episode | P(its history as observed): prior | posterior without it | effective sets without it |",
              "|---|---|---|---|"]
    for _, r in fit["loo"].iterrows():
        lines.append(f"| {r['episode']} | {r['prior']:.1%} | {_f(r['posterior_without_it'] * 100, 3)}% | "
                     f"{r['effective_sets_without_it']:.1f} |")
    rec = fit["recovery"]
    if len(rec):
        lines += ["", f"## Recovery: {rec['truth'].nunique()} known parameter sets, data made by the model", "",
                  "| parameter | known value inside the 90% interval | median 90% width / prior's |", "|---|---|---|"]
        for key, g in rec.groupby("parameter", sort=False):
            lines.append(f"| `{key}` | {g['inside90'].sum()} of {len(g)} | {_f(g['shrinkage'].median(), 2)} |")
        per_truth = rec.groupby('truth')['effective_sets'].first()
        lines.append(f"\nEffective sets per recovery: median {per_truth.median():.1f}.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the test and the checks ----------------
def check_results(episode: str) -> tuple[str, str]:
    return f"check-{episode}.csv", f"check-{episode}.md"


def run_test(cfg: dict, out: Path, jobs: int | None = None, quiet: bool = False, executor: str = "processes",
         force: bool = False) -> dict:
    """The preregistered test: the test episode run at the calibration's design points, its patterns under the
    prior and the posterior predictive, and the criterion of the calibration file, pass or fail. Needs the
    calibration's sweeps in `out` (run `redoubt calibrate` first)."""
    return _run_judged(cfg, out, cfg["test"]["episode"], "test", TEST_RESULTS, jobs, quiet, executor, force)


def run_check(cfg: dict, out: Path, episode: str, jobs: int | None = None, quiet: bool = False,
              executor: str = "processes", force: bool = False) -> dict:
    """An out-of-sample check: another episode (listed under [checks]) run and judged as the test is, by the same
    criterion, against its "check" patterns. Not preregistered: say so wherever its result is read."""
    if episode not in cfg["checks"]:
        known = ", ".join(cfg["checks"]) or "(none)"
        raise ScenarioError(cfg["_source"], "checks.episodes", f"{plain_name(episode, '?')!r} is not a check "
                            f"episode here; listed: {known}")
    return _run_judged(cfg, out, episode, "check", check_results(episode), jobs, quiet, executor, force)


def _run_judged(cfg: dict, out: Path, episode: str, use: str, names: tuple[str, str], jobs, quiet, executor,
                force) -> dict:
    from .outputs import OutputDir
    from .sweep import load

    missing = [e for e in cfg["episodes"] if not (out / e / "manifest.json").exists()]
    if missing:
        raise ScenarioError(cfg["_source"], use, f"the calibration has not been run into {out} (no sweep for "
                            f"{', '.join(missing)}): run `redoubt calibrate` first")
    target = OutputDir(out, "calibrate").claim(force=force, resume=True)
    try:
        results = {e: load(out / e, series=True) for e in cfg["episodes"]}
        fit = fit_posterior(cfg, results, with_recovery=False)
        data = _run_episodes(cfg, out, [episode], jobs, quiet, executor, force)[episode]
        result = judge(cfg, fit, data, episode, use)
        write_atomic_text(result["table"].to_csv(index=False), out / names[0])
        write_atomic_text(verdict_report(cfg, fit, result, episode, use), out / names[1])
        return result
    finally:
        target.close()


def judge(cfg: dict, fit: dict, data: dict, episode: str | None = None, use: str = "test") -> dict:
    """The episode's patterns of this use (the test's, or a check's) under the prior and posterior predictive, and
    the test's criterion: the observed value inside the central `interval` of the posterior predictive, and
    P(inside the observation window) >= min_probability."""
    episode, crit = episode or cfg["test"]["episode"], cfg["test"]
    keys = fit["design"]["point_key"].to_numpy()
    o, series = data["outcomes"], data["series"]
    flat = np.full(len(keys), 1.0 / len(keys))
    weights = {label: _run_weights(o, keys, pw) for label, pw in (("prior", flat), ("posterior", fit["weights"]))}
    judged = [p for p in cfg["patterns"] if p["episode"] == episode and p["use"] == use]
    values = [pattern_values(o, series, p) for p in judged]
    rows, passed = [], True
    tail = (1 - crit["interval"]) / 2
    for p, v in zip(judged, values):
        seen = as_observed(v, p).to_numpy()
        for label, rw in weights.items():
            if rw.sum() <= 0:
                rows.append({"pattern": describe(p), "sets": label, "runs": 0})
                passed = False
                continue
            prob = float((rw * seen).sum() / rw.sum())
            row = {"pattern": describe(p), "sets": label, "runs": int((rw > 0).sum()), "p_in_window": prob}
            if p["pattern"] != "resistance_survives":
                q = weighted_quantiles(v.to_numpy(float), rw, (tail, 0.5, 1 - tail))
                value = p.get("value", (p["within"][0] + p["within"][1]) / 2)
                row.update(lo=q[0], median=q[1], hi=q[2], observed=value, inside=bool(q[0] <= value <= q[2]))
            else:
                row.update(observed=p["observed"], inside=prob >= crit["min_probability"])
            row["passes"] = bool(row["inside"] and prob >= crit["min_probability"])
            if label == "posterior":
                passed &= row["passes"]
            rows.append(row)
    if len(judged) > 1:  # beside the criterion (pattern by pattern): how often the whole history came in one run
        together = all_as_observed(values, judged, o.index).to_numpy()
        for label, rw in weights.items():
            rows.append({"pattern": "all of them in the same run", "sets": label, "runs": int((rw > 0).sum()),
                         "p_in_window": float((rw * together).sum() / rw.sum()) if rw.sum() > 0 else math.nan})
    return {"table": pd.DataFrame(rows), "passed": bool(passed), "outcomes": o}


def _observed(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    return "-" if value is None or pd.isna(value) else _f(value)


def verdict_report(cfg: dict, fit: dict, result: dict, episode: str | None = None, use: str = "test") -> str:
    crit = cfg["test"]
    episode = episode or crit["episode"]
    criterion = (f"the observed value inside the central {crit['interval']:.0%} of the posterior predictive, and "
                 f"P(inside the observation window) at least {crit['min_probability']:.0%}")
    if use == "test":
        head = [f"Test episode: {episode}, run at the calibration's {len(fit['design'])} points × "
                f"{cfg['replications']} runs (each drawing the episode's uncertain inputs).",
                f"Criterion (preregistered in {cfg['_source']}): {criterion}."]
    else:
        head = [f"Out-of-sample check: {episode}, run at the calibration's {len(fit['design'])} points × "
                f"{cfg['replications']} runs (each drawing the episode's uncertain inputs), judged against its "
                f"\"check\" patterns (observed.toml) by the test's criterion ({cfg['_source']}): {criterion}.",
                "Not preregistered: the model had been run on this episode before its patterns were scored. It "
                "was not used to fit anything."]
    lines = [*head, "",
             f"**Result: {'PASS' if result['passed'] else 'FAIL'}**", "",
             "| pattern | predictive | P(in the observation window) | median | central interval | observed | "
             "inside |", "|---|---|---|---|---|---|---|"]
    for _, r in result["table"].iterrows():
        span = "-" if pd.isna(r.get("median", np.nan)) else f"{_f(r['lo'])}-{_f(r['hi'])}"
        lines.append(f"| {r['pattern']} | {r['sets']} | {r.get('p_in_window', float('nan')):.1%} | "
                     f"{_f(r.get('median', np.nan))} | {span} | {_observed(r.get('observed'))} | "
                     f"{'-' if pd.isna(r.get('inside', np.nan)) else 'yes' if r['inside'] else 'no'} |")
    return "\n".join(lines) + "\n"
