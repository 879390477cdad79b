"""Historical hindcasts: calibrate the unsourced behaviour parameters on earlier offensives against the valley,
then test on 2021 (`redoubt calibrate`).

The procedure (docs/validation.md), reproducible from the seed in scenarios/history/calibration.toml:
1. a Latin hypercube over the prior ranges (the sweep engine's lhs design: resumable, parallel, Parquet);
2. every design point run `replications` times on each calibration episode (scenarios/history/*.toml);
3. rejection (history matching with a plausibility cut): a point is accepted when every calibration pattern
   of observed.toml, as observed, holds in at least `min_probability` of its runs;
4. the same design run on the test episode (2021), reported for all points (prior) and for the accepted
   ones (calibrated), never used to choose.
Outputs under the out directory: accepted.toml (the accepted sets and their medians), hindcast.csv and
hindcast.md (episode, pattern, observed, model median and 90% interval, inside or not).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..inputs import scenario as scn
from ..inputs.bounded import plain_name
from ..inputs.scenario import ScenarioError
from .parts import write_atomic_text

CONFIG = "history/calibration"
PATTERNS = ("floor_lost_within", "resistance_survives")
USES = ("calibrate", "test", "none")


def load_config(name: str | Path = CONFIG) -> dict:
    """The calibration settings and priors, checked: errors name the file, the key and the rule."""
    path = scn.resolve_path(name)
    raw = scn.read_toml(path, "calibration file")
    err = lambda key, rule: ScenarioError(path, key, rule)  # noqa: E731
    schema = {"calibration": {
        "episodes": scn.Field(list), "test": scn.Field(list, []), "samples": scn.Field(int, 40, min=2, max=10000),
        "replications": scn.Field(int, 10, min=1, max=10000), "seed": scn.Field(int, 2026, min=0),
        "min_probability": scn.Field(scn.NUM, 0.2, min=0, max=1)}}
    if "calibration" not in raw:
        raise err("calibration", "is required: a [calibration] table")
    cfg = scn.walk(schema, {"calibration": raw["calibration"]}, str(path))["calibration"]
    priors = raw.get("priors") or {}
    if not isinstance(priors, dict) or not priors:
        raise err("priors", "at least one prior is required: [priors.\"dotted.key\"] range = [low, high]")
    cfg["priors"] = {}
    for key, table in priors.items():
        r = table.get("range") if isinstance(table, dict) else None
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                            for x in r) and r[0] < r[1]):
            raise err(f"priors.{key}.range", "must be [low, high] with low < high")
        try:
            field = scn.field_at(scn.SCHEMA, key)
        except (KeyError, TypeError):
            raise err(f"priors.{key}", "is not a scenario key") from None
        if field.type not in (scn.NUM, int):
            raise err(f"priors.{key}", "is not a number, so it cannot be calibrated")
        cfg["priors"][key] = [float(r[0]), float(r[1])]
    for group in ("episodes", "test"):
        for i, episode in enumerate(cfg[group]):
            if not isinstance(episode, str) or plain_name(episode, "") != episode:
                raise err(f"calibration.{group}.{i}", f"an episode is a plain name (got {episode!r})")
            if not scn.resolve_path(f"history/{episode}").is_file():
                raise err(f"calibration.{group}.{i}", f"no such episode under scenarios/history/ ({episode!r})")
    if not cfg["episodes"]:
        raise err("calibration.episodes", "at least one calibration episode is required")
    cfg["patterns"] = load_patterns(path.with_name("observed.toml"))
    for episode in cfg["episodes"]:
        if not [p for p in cfg["patterns"] if p["episode"] == episode and p["use"] == "calibrate"]:
            raise err("calibration.episodes", f"episode {episode} has no calibration pattern in observed.toml")
    cfg["_source"] = str(path)
    return cfg


def load_patterns(path: str | Path) -> list[dict]:
    """The observed patterns (observed.toml), checked."""
    path = Path(path)
    raw = scn.read_toml(path, "patterns file")
    items = raw.get("pattern")
    if not isinstance(items, list) or not items:
        raise ScenarioError(path, "pattern", "at least one [[pattern]] is required")
    schema = {"episode": scn.Field(str), "pattern": scn.Field(str, choices=PATTERNS), "day": scn.Field(int, 0, min=0),
              "observed": scn.Field(bool), "use": scn.Field(str, choices=USES), "source": scn.Field(str)}
    out = [scn.walk(schema, item, str(path), f"pattern.{i}.") for i, item in enumerate(items)]
    for i, p in enumerate(out):
        if p["pattern"] == "floor_lost_within" and p["day"] <= 0:
            raise ScenarioError(path, f"pattern.{i}.day", "floor_lost_within needs day = the days it was lost within")
    return out


def holds(outcomes: pd.DataFrame, pattern: dict) -> pd.Series:
    """Per run: does the pattern hold as written (before comparing with what was observed)?"""
    if pattern["pattern"] == "floor_lost_within":
        return outcomes["floor_lost_day"].notna() & (outcomes["floor_lost_day"] <= pattern["day"])
    return outcomes["resistance_ended_day"].isna()


def sweep_spec(cfg: dict, episode: str) -> dict:
    """The sweep for one episode: the same design (same seed, same priors, so the same points) for each."""
    return {"sweep": {"name": f"calibration-{episode}", "scenario": f"history/{episode}", "design": "lhs",
                      "samples": cfg["samples"], "replications": cfg["replications"], "seed": cfg["seed"]},
            "factors": {k: {"range": r, "integer": False} for k, r in cfg["priors"].items()}}


def as_observed(outcomes: pd.DataFrame, pattern: dict) -> pd.Series:
    """Per run: is the pattern as it was observed?"""
    return holds(outcomes, pattern) == pattern["observed"]


def point_probability(outcomes: pd.DataFrame, pattern: dict) -> pd.Series:
    """Per design point (point_key): the share of its runs in which the pattern is as observed."""
    ok = outcomes[outcomes["status"] == "ok"]
    return as_observed(ok, pattern).groupby(ok["point_key"]).mean()


def accept(probabilities: pd.DataFrame, min_probability: float) -> pd.Series:
    """A point is accepted when every pattern, as observed, has at least min_probability."""
    return (probabilities >= min_probability).all(axis=1)


def summarise(outcomes: pd.DataFrame, pattern: dict, keys) -> dict:
    """The model against one pattern over the runs of the given points: P(as observed), and for the floor the
    median and 90% interval of the day it was lost (never: beyond the run)."""
    ok = outcomes[(outcomes["status"] == "ok") & outcomes["point_key"].isin(keys)]
    p = float(as_observed(ok, pattern).mean()) if len(ok) else math.nan
    row = {"runs": len(ok), "p_as_observed": p}
    if pattern["pattern"] == "floor_lost_within":
        day = ok["floor_lost_day"].fillna(np.inf)
        q = np.quantile(day, [0.05, 0.5, 0.95], method="inverted_cdf") if len(day) else [math.nan] * 3
        row.update(median=q[1], lo90=q[0], hi90=q[2])
        seen = pattern["day"] if pattern["observed"] else np.inf
        row["inside"] = bool(q[0] <= seen <= q[2])
    else:
        row.update(median=math.nan, lo90=math.nan, hi90=math.nan)
        row["inside"] = bool(p >= 0.05)  # the observed outcome is not in the model's outer 5%
    return row


def run(cfg: dict, out: Path, jobs: int, quiet: bool = False, executor: str = "processes",
        force: bool = False) -> dict:
    """Run the calibration and the test; write accepted.toml, hindcast.csv and hindcast.md under `out`.
    Resumes what `out` already holds; `force` starts again an episode whose sweep has changed (new priors or
    sizes, or an edited scenario file)."""
    from .outputs import OutputDir
    from .sweep import another_sweep, load, load_spec, run_sweep

    episodes = [*cfg["episodes"], *cfg["test"]]
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
    target = OutputDir(out, "calibrate").claim(force=force, resume=True)  # one writer; a user's folder is refused
    try:
        for name in RESULTS:  # derived from the sweeps: never left beside a newer, partial design
            (target.path / name).unlink(missing_ok=True)
        patterns = cfg["patterns"]
        results, design = {}, None
        for episode in episodes:
            try:
                where = run_sweep(specs[episode], out / episode, executor=executor, jobs=jobs, quiet=quiet,
                                  force=force)
            except ScenarioError as exc:
                if exc.key != "sweep":
                    raise
                raise ScenarioError(cfg["_source"], f"calibration.episodes ({episode})", exc.rule) from None
            data = load(where, series=False)
            results[episode], design = data["outcomes"], data["design"]
        return _results(cfg, out, results, design, patterns)
    finally:
        target.close()


RESULTS = ("accepted.toml", "hindcast.csv", "hindcast.md")


def _results(cfg: dict, out: Path, results: dict, design: pd.DataFrame, patterns: list) -> dict:
    calibration = [p for p in patterns if p["use"] == "calibrate" and p["episode"] in cfg["episodes"]]
    probs = pd.DataFrame({f"p{i}": point_probability(results[p["episode"]], p) for i, p in enumerate(calibration)})
    accepted_mask = accept(probs, cfg["min_probability"])
    accepted = design[design["point_key"].isin(accepted_mask[accepted_mask].index)]
    table = []
    for p in patterns:
        if p["episode"] not in results:
            continue
        outcomes = results[p["episode"]]
        for label, keys in (("prior", design["point_key"]), ("calibrated", accepted["point_key"])):
            table.append({"episode": p["episode"], "pattern": _pattern_text(p), "use": p["use"],
                          "observed": p["observed"], "sets": label, **summarise(outcomes, p, keys)})
    hindcast = pd.DataFrame(table)
    write_atomic_text(hindcast.to_csv(index=False), out / "hindcast.csv")
    write_atomic_text(hindcast_markdown(hindcast, cfg, len(design), len(accepted)), out / "hindcast.md")
    write_atomic_text(accepted_toml(accepted, cfg), out / "accepted.toml")
    return {"design": design, "accepted": accepted, "hindcast": hindcast, "probabilities": probs}


def _pattern_text(p: dict) -> str:
    return f"valley floor lost within {p['day']} days" if p["pattern"] == "floor_lost_within" \
        else "organised resistance survives to winter"


def posterior_medians(accepted: pd.DataFrame, cfg: dict) -> dict:
    return {k: float(np.median(accepted[k])) for k in cfg["priors"]} if len(accepted) else {}


def accepted_toml(accepted: pd.DataFrame, cfg: dict) -> str:
    said = ("medians are what panjshir-2021.toml uses" if len(accepted) else
            "none accepted, so panjshir-2021.toml keeps its assumed values (docs/validation.md)")
    lines = ["# Written by `redoubt calibrate` (model/redoubt/studies/calibrate.py) from " + cfg["_source"],
             f"# {len(accepted)} accepted parameter sets; {said}.", "", "[medians]"]
    lines += [f'"{k}" = {v:.4g}' for k, v in posterior_medians(accepted, cfg).items()]
    for _, row in accepted.iterrows():
        lines += ["", "[[accepted]]", f"point_key = {int(row['point_key'])}"]
        lines += [f'"{k}" = {float(row[k]):.6g}' for k in cfg["priors"]]
    return "\n".join(lines) + "\n"


def hindcast_markdown(h: pd.DataFrame, cfg: dict, n_points: int, n_accepted: int) -> str:
    fmt = lambda x: "never" if x == np.inf else ("-" if not np.isfinite(x) else f"{x:.0f}")  # noqa: E731
    lines = [f"Design: {n_points} points (Latin hypercube, seed {cfg['seed']}), {cfg['replications']} runs per "
             f"point and episode; accepted: {n_accepted} (every calibration pattern as observed in at least "
             f"{cfg['min_probability']:.0%} of a point's runs).", "",
             "| episode | pattern | use | observed | sets | runs | P(as observed) | floor lost: median [90%] "
             "| inside |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in h.iterrows():
        days = "-" if pd.isna(r["median"]) else f"{fmt(r['median'])} [{fmt(r['lo90'])}-{fmt(r['hi90'])}]"
        p = "-" if pd.isna(r["p_as_observed"]) else f"{r['p_as_observed']:.0%}"
        lines.append(f"| {r['episode']} | {r['pattern']} | {r['use']} | {'yes' if r['observed'] else 'no'} | "
                     f"{r['sets']} | {r['runs']} | {p} | {days} | {'yes' if r['inside'] else 'no'} |")
    return "\n".join(lines) + "\n"
