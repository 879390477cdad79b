"""Parameter sweeps (data farming): a design over factors x replications, run by the shared engine on
serial, local-process or Dask executors, written as resumable Parquet under runs/<sweep>/.

Sweep file (TOML):

    [sweep]
    name = "stocks"              # output directory runs/<name>/
    scenario = "panjshir-2021"   # file or name
    variant = "none"             # optional
    design = "factorial"         # factorial | lhs | sobol | morris | saltelli
    samples = 16                 # points for lhs/sobol (sobol: a power of two), N for morris/saltelli
    replications = 10
    seed = 1                     # master seed
    series = false               # also write per-day series
    set = { "scenario.fighters_per_agent" = 20 }   # fixed values for every run (optional)

    [factors."stocks.defender.food_days"]   # a dotted scenario key
    levels = [60, 90, 120]                   # factorial
    # range = [40, 150]                      # sampled designs; integer = true to round

Identity: a run is (design point, replication); a point is known by a key hashed from its factor values,
so extending a sweep (more replications, more levels or samples) keeps what is done, and a run's seed,
SeedSequence(master, spawn_key=(point_key, replication)), is the same whatever the order or executor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.outcome import OUTCOME_RECORD
from ..inputs import scenario as scn
from ..inputs.bounded import plain_name
from ..inputs.scenario import Field, ScenarioError
from .executors import Progress, make_executor, run_specs
from .outputs import OutputDir
from .parts import read_parts, readable_parts, write_atomic_parquet, write_atomic_text
from .provenance import git_revision, versions
from .runs import RunSpec, default_runs_dir, derive_seed
from .stats import p_hold

DESIGNS = ("factorial", "lhs", "sobol", "morris", "saltelli")
# A sweep file is checked by the same machinery as a scenario (types, ranges, unknown keys).
SWEEP_SCHEMA = {
    "sweep": {
        "name": Field(str, doc="output directory runs/<name>/"),
        "scenario": Field(str, doc="scenario file or name"),
        "variant": Field(str, optional=True),
        "design": Field(str, "factorial", choices=DESIGNS),
        "samples": Field(int, 0, min=0, max=1_000_000, doc="points for lhs/sobol; N for morris/saltelli"),
        "replications": Field(int, 1, min=1, max=100_000),
        "seed": Field(int, 0, min=0, doc="master seed"),
        "common_seeds": Field(bool, False, doc="the same seeds at every point (common random numbers): run r of "
                              "every point uses the seed of replication r, so points are compared run for run"),
        "series": Field(bool, False, doc="also write per-day series"),
        "morris_levels": Field(int, 4, min=2, max=100),
        "set": Field(dict, {}, doc="fixed values for every run, by dotted key (e.g. a coarser fighters_per_agent)"),
    },
    "factors": None,  # free-form: dotted scenario key -> FACTOR_SCHEMA table
}
MAX_RUNS = 5_000_000  # a sweep's planned runs: ~260 B each in the coordinating process
FACTOR_SCHEMA = {
    "levels": Field(list, optional=True, doc="factorial: the values"),
    "range": Field(list, optional=True, doc="sampled designs: [low, high]"),
    "integer": Field(bool, optional=True, doc="round sampled values to whole numbers"),
}


# ---------------------------------------------------------------- the spec -------------------------------
def load_spec(source: str | Path | dict) -> dict:
    """Read and validate a sweep spec; errors name the file, the key and the rule."""
    if isinstance(source, dict):
        raw, where = _as_read(source), "<sweep>"
    else:
        path = scn.resolve_path(source, kind="sweeps")
        raw, where = scn.read_toml(path, "sweep file"), str(path)
    err = lambda key, rule: ScenarioError(where, key, rule)  # noqa: E731
    if "sweep" not in raw:
        raise err("sweep", "is required: a [sweep] table")
    spec = scn.walk(SWEEP_SCHEMA, raw, where)["sweep"]
    if plain_name(spec["name"], "") != spec["name"]:
        raise err("sweep.name", f"must be a plain directory name: letters, digits and . _ + - (got "
                  f"{spec['name']!r}; {plain_name(spec['name'])!r} would do)")
    if where != "<sweep>" and scn.is_path_like(spec["scenario"]):  # relative to the sweep file, not to here
        spec["scenario"] = str(scn.resolve_from(spec["scenario"], where))
    spec.setdefault("variant", None)
    sampled = spec["design"] != "factorial"
    if sampled and spec["samples"] < 1:
        raise err("sweep.samples", f"the {spec['design']} design needs samples >= 1")
    if spec["design"] == "sobol" and spec["samples"] & (spec["samples"] - 1):
        raise err("sweep.samples", f"a Sobol design needs a power of two (got {spec['samples']})")
    factors = raw.get("factors") or {}
    if not isinstance(factors, dict) or not factors:
        raise err("factors", "at least one factor is required")
    spec["factors"] = {}
    try:
        base = scn.load(spec["scenario"], spec["variant"], spec["set"])  # scenario, variant and set must be valid
    except ScenarioError as exc:
        if not spec["set"] or exc.key not in spec["set"]:
            raise
        raise err(f"sweep.set.{exc.key}", exc.rule) from None
    for name in spec["set"]:
        if name in factors:
            raise err(f"sweep.set.{name}", "is also a factor: a key is either fixed or varied")
    for name, f in factors.items():
        key = f"factors.{name}"
        if not isinstance(f, dict):
            raise err(key, "must be a table with levels = [...] or range = [lo, hi]")
        f = scn.walk(FACTOR_SCHEMA, f, where, key + ".")
        if sampled:
            r = f.get("range")
            if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                                for x in r) and r[0] < r[1]):
                raise err(f"{key}.range", f"the {spec['design']} design needs range = [low, high] with low < high")
            kind = _key_type(name, where)
            if kind not in (int, scn.NUM):
                raise err(key, "is not a number, so it cannot be sampled from a range: use a factorial design "
                          "with levels = [...]")
            if kind is int and f.get("integer") is False:
                raise err(f"{key}.integer", "the key takes whole numbers: integer = false would sample fractions "
                          "that every run refuses")
            integer = f.get("integer", kind is int or all(isinstance(x, int) for x in r))
            spec["factors"][name] = {"range": [r[0], r[1]], "integer": bool(integer)}
            probe = [r[0], r[1]]
        else:
            lv = f.get("levels")
            if not (isinstance(lv, list) and lv):
                raise err(f"{key}.levels", "a factorial design needs levels = [a, b, ...] (at least one)")
            canon = [json.dumps(_canonical(v), sort_keys=True, default=str) for v in lv]  # dates too
            dup = next((v for v, c in zip(lv, canon) if canon.count(c) > 1), None)
            if dup is not None:
                raise err(f"{key}.levels", f"levels must be distinct ({dup!r} appears more than once)")
            spec["factors"][name] = {"levels": lv}
            probe = lv
        for value in probe:  # every level (or both ends of a range) must make a valid scenario
            try:
                scn.load(spec["scenario"], spec["variant"], {**spec["set"], name: value})
            except ScenarioError as exc:
                raise err(key, f"value {value!r} is not valid for the scenario: {exc.rule}") from None
    runs = n_points(spec) * spec["replications"]
    if runs > MAX_RUNS:
        raise err("sweep.replications", f"the design plans {runs} runs, more than {MAX_RUNS}: split the sweep "
                  "or use fewer points or replications")
    if spec["design"] in ("morris", "saltelli"):
        try:
            import SALib  # noqa: F401
        except ImportError:
            raise err("sweep.design", f"the {spec['design']} design needs SALib: pip install "
                      "'redoubt-valley[sensitivity]'") from None
    # what the runs depend on: the scenario file and any it extends (a change to either is a new sweep)
    spec["scenario_sha256"] = scn.files_digest(base)
    spec["_source"] = where
    return spec


def _as_read(value):
    """A spec dict as if read from a file: numpy values as Python's, tuples as lists, None left out (TOML has
    no null: `variant = None` is no variant). Dates stay dates."""
    if isinstance(value, dict):
        return {str(k): _as_read(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_as_read(v) for v in value]
    return scn.plain(value)


def _key_type(name: str, where: str):
    try:
        return scn.field_at(scn.SCHEMA, name).type
    except (KeyError, TypeError):
        raise ScenarioError(where, f"factors.{name}", "is not a scenario key") from None


def _canonical(v):
    """A level as a point key sees it: 60 and 60.0 are the same point."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def n_points(spec: dict) -> int:
    """Design points the spec makes, without building the design."""
    k = len(spec["factors"])
    if spec["design"] == "factorial":
        return math.prod(len(f["levels"]) for f in spec["factors"].values())
    return spec["samples"] * {"lhs": 1, "sobol": 1, "morris": k + 1, "saltelli": k + 2}[spec["design"]]


def to_toml(spec: dict) -> str:
    """A spec dict (as `load_spec` takes it: 'sweep' and 'factors' tables) as the text of a sweep file, written
    by a TOML library (tomli-w): whatever loads as a spec is written so that it loads again. A key whose value
    is None (no variant) is left out, as TOML has no null; numpy values are written as Python's."""
    import tomli_w

    return tomli_w.dumps({"sweep": _as_read(spec["sweep"]), "factors": _as_read(spec["factors"])})


def identity_hash(spec: dict) -> str:
    """What the runs mean: changing any of it against an existing directory needs --force. Extent
    (replications, samples, levels, ranges) is left out, so a sweep can be extended."""
    ident = {k: spec[k] for k in ("scenario", "variant", "design", "seed", "series", "scenario_sha256")}
    if spec.get("set"):  # only when used: sweeps made before `set` existed keep their identity
        ident["set"] = spec["set"]
    if spec.get("common_seeds"):  # likewise
        ident["common_seeds"] = True
    ident["factors"] = sorted(spec["factors"])
    if spec["design"] != "factorial":
        ident["ranges"] = {k: v for k, v in sorted(spec["factors"].items())}
        if spec["design"] in ("lhs",):
            ident["samples"] = spec["samples"]  # an LHS of another size is another design
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in spec.items() if not k.startswith("_")},
                                     sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------- designs --------------------------------
def salib_problem(spec: dict) -> dict:
    names = list(spec["factors"])
    return {"num_vars": len(names), "names": names, "bounds": [spec["factors"][n]["range"] for n in names]}


def design(spec: dict) -> pd.DataFrame:
    """The design table: one row per point (in sample order), factor values as columns."""
    names = list(spec["factors"])
    kind, n, seed = spec["design"], spec["samples"], spec["seed"]
    if kind == "factorial":
        rows = list(itertools.product(*[spec["factors"][k]["levels"] for k in names]))
        df = pd.DataFrame(rows, columns=names)
    else:
        if kind in ("lhs", "sobol"):
            from scipy.stats import qmc

            d = len(names)
            if kind == "lhs":
                unit = qmc.LatinHypercube(d=d, seed=seed).random(n)
            else:
                unit = qmc.Sobol(d=d, scramble=True, seed=seed).random_base2(int(math.log2(n)))
            lo = np.array([spec["factors"][k]["range"][0] for k in names], float)
            hi = np.array([spec["factors"][k]["range"][1] for k in names], float)
            values = qmc.scale(unit, lo, hi)
        elif kind == "morris":
            from SALib.sample import morris

            values = morris.sample(salib_problem(spec), n, num_levels=spec["morris_levels"], seed=seed)
        else:  # saltelli
            from SALib.sample import sobol as sobol_sample

            values = sobol_sample.sample(salib_problem(spec), n, calc_second_order=False, seed=seed)
        df = pd.DataFrame(values, columns=names)
        for k in names:
            if spec["factors"][k]["integer"]:
                df[k] = np.round(df[k]).astype(int)
    df.insert(0, "point", np.arange(len(df)))
    df.insert(1, "point_key", [point_key(row) for row in df[names].to_dict("records")])
    return df


def point_key(values: dict) -> int:
    """A stable 63-bit identity of a design point from its factor values (no Python hash())."""
    canon = json.dumps({k: _canonical(scn.plain(v)) for k, v in sorted(values.items())}, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(canon.encode()).digest()[:8], "big") >> 1


def run_seed(spec: dict, key: int, replication: int) -> int:
    """A run's seed: from (point key, replication), or with common_seeds from the replication alone (the seeds
    `redoubt compare` gives its variants, for the same master seed)."""
    return derive_seed(spec["seed"], 0 if spec.get("common_seeds") else key, replication)


def plan(spec: dict, table: pd.DataFrame) -> list[RunSpec]:
    names = list(spec["factors"])
    specs = []
    reps = spec["replications"]
    scenario = str(scn.resolve_path(spec["scenario"]))
    for rec in table.to_dict("records"):
        overrides = {**spec["set"], **{k: scn.plain(rec[k]) for k in names}}
        for r in range(reps):
            specs.append(RunSpec(run_id=int(rec["point"]) * reps + r, point=int(rec["point"]), replication=r,
                                 seed=run_seed(spec, rec["point_key"], r), scenario=scenario,
                                 variant=spec["variant"], overrides=overrides, series=spec["series"],
                                 point_key=int(rec["point_key"])))
    return specs


# ---------------------------------------------------------------- running --------------------------------
FORMAT = 2  # the directory layout: 2 = series/part-*.parquet beside outcomes/part-*.parquet, by point key


def run_sweep(source, out: str | Path | None = None, *, executor: str = "processes", jobs: int | None = None,
              scheduler: str | None = None, force: bool = False, quiet: bool = False, model_cls=None) -> Path:
    """Run (or resume, or extend) a sweep; returns its directory. From Jupyter, pass a spec dict and, if
    you like, a model class defined in the notebook (use executor='dask' or 'serial' for that).

    One writer at a time: a second sweep into the same directory is refused (`outputs.InUse`)."""
    spec = load_spec(source)
    if model_cls is not None and model_cls.__module__ == "__main__" and executor == "processes":
        raise ValueError("a model class defined in a notebook or script cannot be sent to local process "
                         "workers; use executor='dask' (or 'serial')")
    out = Path(out) if out else default_runs_dir() / spec["name"]
    table = design(spec)
    specs = plan(spec, table)
    # default: all cores; connects first, so a bad scheduler writes nothing
    ex = make_executor(executor, jobs or os.cpu_count() or 1, scheduler)
    try:
        target = OutputDir(out, "sweep")
        target.claim(resume=True)
        try:
            _prepare(target, spec, force)
            _run_into(out, spec, table, specs, ex, quiet, model_cls)
        finally:
            target.close()
    except BaseException:
        ex.close(kill=True)
        raise
    return out


def _read_manifest(out: Path) -> dict:
    path = out / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScenarioError(path, "(file)", f"not a readable sweep manifest ({exc}); move it aside to start "
                            "the sweep again") from None
    if not isinstance(manifest, dict) or "design" not in manifest:
        raise ScenarioError(path, "(file)", "not a sweep manifest")
    return manifest


def another_sweep(out: Path, spec: dict) -> str | None:
    """Why `out` holds a sweep other than `spec` (a loaded spec), or None if it holds none or this one (resume
    or extend)."""
    if not (out / "manifest.json").exists():
        return None
    old = _read_manifest(out)
    if old.get("format") != FORMAT or old.get("outcome_record") != OUTCOME_RECORD:  # runs not to mix with new ones
        return "was written by an older redoubt (another layout or outcome record)"
    if old.get("identity") != identity_hash(spec):
        return "holds a sweep with a different spec (scenario, variant, design, seed or factors changed)"
    return None


def _prepare(target, spec: dict, force: bool) -> None:
    """Decide what an existing directory means: the same sweep (resume or extend), or another one."""
    why = another_sweep(target.path, spec)
    if why is None:
        return
    if not force:
        raise ScenarioError(spec["_source"], "sweep", f"{target.path} {why}; use --force to start it again, or "
                            "another name")
    target.remove_outputs()


def _run_into(out: Path, spec: dict, table: pd.DataFrame, specs: list[RunSpec], ex, quiet: bool, model_cls) -> None:
    now = dt.datetime.now().isoformat(timespec="seconds")
    manifest_path = out / "manifest.json"
    started = _read_manifest(out).get("started", now) if manifest_path.exists() else now
    manifest = {"name": spec["name"], "format": FORMAT, "outcome_record": OUTCOME_RECORD,
                "spec": {k: v for k, v in spec.items() if not k.startswith("_")},
                "spec_file": spec["_source"], "spec_hash": spec_hash(spec), "identity": identity_hash(spec),
                "design": {"kind": spec["design"], "points": len(table), "factors": list(spec["factors"]),
                           "replications": spec["replications"], "runs": len(table) * spec["replications"]},
                "master_seed": spec["seed"],
                "seeds": ("numpy SeedSequence(master_seed, spawn_key=(0, replication)): common to every point"
                          if spec.get("common_seeds") else
                          "numpy SeedSequence(master_seed, spawn_key=(point_key, replication))"),
                "versions": versions(), "python": sys.version, "git": git_revision(), "started": started,
                "updated": now, "command": " ".join(sys.argv)}
    write_atomic_parquet(pa.Table.from_pandas(table, preserve_index=False), out / "design.parquet")
    write_atomic_text(json.dumps(manifest, indent=2, default=str), manifest_path)
    n_unique = len({s.key for s in specs})
    progress = Progress(n_unique, quiet, desc=spec["name"])
    try:
        ran, already = run_specs(specs, out / "outcomes", ex, progress=progress, model_cls=model_cls,
                                 series_dir=out / "series" if spec["series"] else None)
    finally:
        progress.close()
    manifest["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    manifest["last_command"] = {"ran": ran, "already_done": already}
    write_atomic_text(json.dumps(manifest, indent=2, default=str), manifest_path)


# ---------------------------------------------------------------- loading --------------------------------
POINT_INPUTS = ["point_key", "replication", "status", "held_to_winter", "end_day", "km_road_held"]


def load(out: str | Path, series: bool = True) -> dict:
    """A sweep directory as DataFrames: 'outcomes' (joined with factor values), 'design', 'points'
    (P(hold to winter) with its 95% interval per design point), 'series' (long format, if written and
    asked for; None otherwise), and 'manifest'."""
    out = Path(out)
    manifest, table = _manifest_and_design(out)
    outcomes = _outcomes(out, manifest, table)
    data = {"outcomes": outcomes, "design": table, "points": _points(table, outcomes), "series": None,
            "manifest": manifest}
    if series and (out / "series").exists():
        data["series"] = _series(out, manifest, table)
    return data


def _series(out: Path, manifest: dict, table: pd.DataFrame) -> pd.DataFrame:
    """Daily series of the runs of the design as it stands, joined to their points by point key (never by
    row number: extending or shrinking a sweep keeps every run with its own factor values)."""
    import pyarrow.dataset as pads

    files = readable_parts(out / "series")
    if not files:
        return pd.DataFrame(columns=["point", "point_key", "replication"])
    s = pads.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()
    s = s[s["replication"] < manifest["design"]["replications"]]
    keyed = table.drop_duplicates("point_key")[["point", "point_key"]]
    s = s.merge(keyed, on="point_key", how="inner")
    first = ["point", "point_key", "replication"]
    cols = first + [c for c in s.columns if c not in first]
    return s[cols].sort_values(["point", "replication", "day"]).reset_index(drop=True)


def points(out: str | Path) -> pd.DataFrame:
    """The design with P(hold to winter) and its 95% interval per point. Reads only the outcome columns
    it needs, so it stays cheap on a sweep of hundreds of thousands of runs."""
    return _manifest_and_points(Path(out))[1]


def _manifest_and_points(out: Path) -> tuple[dict, pd.DataFrame]:
    manifest, table = _manifest_and_design(out)
    return manifest, _points(table, _outcomes(out, manifest, table, columns=POINT_INPUTS))


def _manifest_and_design(out: Path):
    if not (out / "manifest.json").exists():
        raise ScenarioError(out, "(directory)", "holds no sweep (no manifest.json)")
    manifest = _read_manifest(out)
    try:
        design_table = pq.read_table(out / "design.parquet").to_pandas()
    except Exception as exc:  # noqa: BLE001 - any failure to read it means the same to the user
        raise ScenarioError(out / "design.parquet", "(file)", f"unreadable ({type(exc).__name__}); run the "
                            "sweep command again to rewrite it") from None
    return manifest, design_table


def _outcomes(out: Path, manifest: dict, table: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Outcome rows of the design as it stands (a sweep cut back keeps its extra runs on disk), with the
    factor values joined on."""
    runs = read_parts(out / "outcomes", columns).to_pandas()
    runs = runs[runs["replication"] < manifest["design"]["replications"]]
    keyed = table.drop_duplicates("point_key")[["point_key", *manifest["design"]["factors"]]]
    outcomes = runs.drop(columns=["point"], errors="ignore").merge(keyed, on="point_key", how="inner")
    return outcomes.sort_values(["point_key", "replication"]).reset_index(drop=True)


def _points(table: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for pk, g in outcomes.groupby("point_key", sort=True):
        ok = g[g["status"] == "ok"]
        summary = p_hold(g)
        rows.append({"point_key": pk, **{k: summary[k] for k in ("runs", "failed", "p_hold", "p_hold_lo95",
                                                                  "p_hold_hi95")},
                     "mean_end_day": ok["end_day"].mean(), "mean_km_road_held": ok["km_road_held"].mean()})
    columns = ["point_key", "runs", "failed", "p_hold", "p_hold_lo95", "p_hold_hi95", "mean_end_day",
               "mean_km_road_held"]
    per_point = pd.DataFrame(rows, columns=columns).astype({"point_key": "int64", "runs": "int64", "failed": "int64"})
    return table.merge(per_point, on="point_key", how="left")


def sensitivity(out: str | Path, output: str = "p_hold") -> pd.DataFrame:
    """Sobol indices (saltelli design) or Morris elementary effects (morris design) of a per-point output
    ('p_hold', 'mean_end_day', 'mean_km_road_held'), from the points in their original sample order."""
    m, table = _manifest_and_points(Path(out))
    kind = m["design"]["kind"]
    spec = m["spec"]
    table = table.sort_values("point")
    y = table[output].to_numpy(float)
    if np.isnan(y).any():
        raise ValueError("some design points have no finished runs yet: finish the sweep first")
    problem = salib_problem(spec)
    if kind == "saltelli":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=spec["seed"])
        return pd.DataFrame({"factor": problem["names"], "S1": res["S1"], "S1_conf": res["S1_conf"],
                             "ST": res["ST"], "ST_conf": res["ST_conf"]})
    if kind == "morris":
        from SALib.analyze import morris

        x = table[problem["names"]].to_numpy(float)
        res = morris.analyze(problem, x, y, num_levels=spec["morris_levels"], seed=spec["seed"])
        return pd.DataFrame({"factor": problem["names"], "mu_star": res["mu_star"],
                             "mu_star_conf": res["mu_star_conf"], "sigma": res["sigma"]})
    raise ValueError(f"a {kind} design does not support a sensitivity analysis (use morris or saltelli)")


# ---------------------------------------------------------------- CLI ------------------------------------
def add_sweep_parser(sub, fn) -> argparse.ArgumentParser:
    s = sub.add_parser("sweep", help="a parameter sweep from a sweep file: resumable Parquet under runs/<name>/",
                       description="Run, resume or extend a sweep (scenarios/sweeps/*.toml) on serial, local "
                                   "processes or Dask. Rerun the same command after an interruption: only "
                                   "missing runs run.")
    s.add_argument("spec", help="sweep file, or a name under scenarios/sweeps/")
    s.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes",
                   help="where runs execute (default: local processes)")
    s.add_argument("--scheduler", help="join an existing Dask scheduler, e.g. tcp://HOST:8786 (implies dask)")
    s.add_argument("--out", help="output directory (default runs/<name>)")
    s.add_argument("--force", action="store_true", help="start again over a directory with another spec")
    s.add_argument("--quiet", action="store_true", help="no progress bar (batch logs)")
    s.set_defaults(fn=fn)
    return s


def run_sweep_cli(args) -> int:
    t0 = time.time()
    executor = "dask" if args.scheduler else args.executor
    out = run_sweep(args.spec, args.out, executor=executor, jobs=args.jobs, scheduler=args.scheduler,
                    force=args.force, quiet=args.quiet)
    manifest, table = _manifest_and_points(out)  # not load(): a few columns, not every row and series
    factors = manifest["design"]["factors"]
    last = manifest.get("last_command", {})
    if last.get("ran") == 0:
        print(f"{out}: nothing to do: {last['already_done']} of {last['already_done']} runs done")
    else:
        print(f"{out}: {len(table)} points, {int(table['runs'].sum())} runs ({int(table['failed'].sum())} failed) "
              f"in {time.time() - t0:.1f} s" + (f"; {last['ran']} run now, {last['already_done']} were done"
                                               if last.get("already_done") else ""))
    cols = ["point", *factors, "runs", "p_hold", "p_hold_lo95", "p_hold_hi95"]
    print(table[cols].head(20).round(3).to_string(index=False))
    return 0
