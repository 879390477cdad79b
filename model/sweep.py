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

    [factors."stocks.defender.food_days"]   # a dotted scenario key
    levels = [60, 90, 120]                   # factorial
    # range = [40, 150]                      # sampled designs; integer = true to round

Identity: a run is (design point, replication); a point is known by a key hashed from its factor values,
so extending a sweep (more replications, more levels or samples) keeps what is done, and a run's seed,
SeedSequence(master, spawn_key=(point_key, replication)), is the same whatever the order or executor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import scenario as scn
from .engine import (Progress, RunSpec, derive_seed, make_executor, read_parts, run_specs,
                     write_atomic_parquet, write_atomic_text)
from .provenance import git_revision, versions
from .scenario import ScenarioError
from .stats import wilson

if TYPE_CHECKING:  # pandas is imported where DataFrames are made: the sweep's coordinator needs none
    import pandas as pd

DESIGNS = ("factorial", "lhs", "sobol", "morris", "saltelli")
SWEEP_KEYS = {"name": str, "scenario": str, "variant": str, "design": str, "samples": int, "replications": int,
              "seed": int, "series": bool, "morris_levels": int}
FACTOR_KEYS = {"levels": list, "range": list, "integer": bool}
RUNS_DIR = Path(__file__).resolve().parent.parent / "runs"


# ---------------------------------------------------------------- the spec -------------------------------
def load_spec(source: str | Path | dict) -> dict:
    """Read and validate a sweep spec; errors name the file, the key and the rule."""
    if isinstance(source, dict):
        raw, where = json.loads(json.dumps(source, default=str)), "<sweep>"
    else:
        path = Path(source)
        if not path.exists() and not path.suffix:
            path = scn.SCENARIO_DIR / "sweeps" / f"{source}.toml"
        raw, where = scn.read_toml(path), str(path)
    err = lambda key, rule: ScenarioError(where, key, rule)  # noqa: E731
    for k in raw:
        if k not in ("sweep", "factors"):
            raise err(k, "unknown key (a sweep file has [sweep] and [factors.*])")
    sw = raw.get("sweep")
    if not isinstance(sw, dict):
        raise err("sweep", "is required: a [sweep] table")
    for k, v in sw.items():
        if k not in SWEEP_KEYS:
            raise err(f"sweep.{k}", "unknown key")
        t = SWEEP_KEYS[k]
        if not isinstance(v, t) or (t is int and isinstance(v, bool)):
            raise err(f"sweep.{k}", f"must be {'an integer' if t is int else t.__name__} (got {v!r})")
    for k in ("name", "scenario"):
        if k not in sw:
            raise err(f"sweep.{k}", "is required")
    spec = {"name": sw["name"], "scenario": sw["scenario"], "variant": sw.get("variant"),
            "design": sw.get("design", "factorial"), "samples": sw.get("samples", 0),
            "replications": sw.get("replications", 1), "seed": sw.get("seed", 0), "series": sw.get("series", False),
            "morris_levels": sw.get("morris_levels", 4)}
    if spec["design"] not in DESIGNS:
        raise err("sweep.design", f"must be one of {', '.join(DESIGNS)} (got {spec['design']!r})")
    if spec["replications"] < 1:
        raise err("sweep.replications", f"must be >= 1 (got {spec['replications']})")
    if spec["seed"] < 0:
        raise err("sweep.seed", f"must be >= 0 (got {spec['seed']})")
    if not spec["name"] or any(c in spec["name"] for c in "/\\") or spec["name"].startswith("."):
        raise err("sweep.name", f"must be a plain directory name (got {spec['name']!r})")
    sampled = spec["design"] != "factorial"
    if sampled and spec["samples"] < 1:
        raise err("sweep.samples", f"the {spec['design']} design needs samples >= 1")
    if spec["design"] == "sobol" and spec["samples"] & (spec["samples"] - 1):
        raise err("sweep.samples", f"a Sobol design needs a power of two (got {spec['samples']})")
    factors = raw.get("factors") or {}
    if not isinstance(factors, dict) or not factors:
        raise err("factors", "at least one factor is required")
    spec["factors"] = {}
    base = scn.load(spec["scenario"], spec["variant"])  # the base scenario and variant must be valid
    for name, f in factors.items():
        key = f"factors.{name}"
        if not isinstance(f, dict):
            raise err(key, "must be a table with levels = [...] or range = [lo, hi]")
        for k in f:
            if k not in FACTOR_KEYS:
                raise err(f"{key}.{k}", "unknown key")
        if sampled:
            r = f.get("range")
            if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                                for x in r) and r[0] < r[1]):
                raise err(f"{key}.range", f"the {spec['design']} design needs range = [low, high] with low < high")
            integer = f.get("integer", all(isinstance(x, int) for x in r))
            spec["factors"][name] = {"range": [r[0], r[1]], "integer": bool(integer)}
            probe = [r[0], r[1]]
        else:
            lv = f.get("levels")
            if not (isinstance(lv, list) and lv):
                raise err(f"{key}.levels", "a factorial design needs levels = [a, b, ...] (at least one)")
            spec["factors"][name] = {"levels": lv}
            probe = lv
        for value in probe:  # every level (or both ends of a range) must make a valid scenario
            try:
                scn.load(spec["scenario"], spec["variant"], {name: value})
            except ScenarioError as exc:
                raise err(key, f"value {value!r} is not valid for the scenario: {exc.rule}") from None
    spec["scenario_sha256"] = hashlib.sha256(Path(base["_source"]).read_bytes()).hexdigest()
    spec["_source"] = where
    return spec


def identity_hash(spec: dict) -> str:
    """What the runs mean: changing any of it against an existing directory needs --force. Extent
    (replications, samples, levels, ranges) is left out, so a sweep can be extended."""
    ident = {k: spec[k] for k in ("scenario", "variant", "design", "seed", "series", "scenario_sha256")}
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


def design_columns(spec: dict) -> dict[str, list]:
    """The design table as columns of plain values: 'point' (sample order), 'point_key', then one column
    per factor. Plain lists, so the process that coordinates a sweep needs no pandas."""
    names = list(spec["factors"])
    kind, n, seed = spec["design"], spec["samples"], spec["seed"]
    if kind == "factorial":
        rows = list(itertools.product(*[spec["factors"][k]["levels"] for k in names]))
        cols = {k: [row[i] for row in rows] for i, k in enumerate(names)}
        for k, col in cols.items():  # levels mixing ints and floats make a float column, as in a table
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in col)
            if numeric and any(isinstance(v, float) for v in col):
                cols[k] = [float(v) for v in col]
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
        values = np.asarray(values, float)
        cols = {k: (np.round(values[:, i]).astype(np.int64) if spec["factors"][k]["integer"] else values[:, i]).tolist()
                for i, k in enumerate(names)}
    count = len(cols[names[0]])
    keys = [point_key({k: cols[k][i] for k in names}) for i in range(count)]
    return {"point": list(range(count)), "point_key": keys, **cols}


def design(spec: dict) -> pd.DataFrame:
    """The design table as a DataFrame: one row per point (in sample order), factor values as columns."""
    import pandas as pd

    return pd.DataFrame(design_columns(spec))


def point_key(values: dict) -> int:
    """A stable 63-bit identity of a design point from its factor values (no Python hash())."""
    canon = json.dumps({k: (float(v) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else v)
                        for k, v in sorted(values.items())}, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(canon.encode()).digest()[:8], "big") >> 1


def plan(spec: dict, table) -> list[RunSpec]:
    """Every run of the design, in order. `table` holds the design's columns: `design_columns(spec)` or
    `design(spec)`."""
    names = list(spec["factors"])
    specs = []
    reps = spec["replications"]
    scenario = str(scn.resolve_path(spec["scenario"]))
    points, keys = list(table["point"]), list(table["point_key"])
    factor_values = {k: list(table[k]) for k in names}
    for i, (point, key) in enumerate(zip(points, keys)):
        overrides = {k: _plain(factor_values[k][i]) for k in names}
        for r in range(reps):
            specs.append(RunSpec(run_id=int(point) * reps + r, point=int(point), replication=r,
                                 seed=derive_seed(spec["seed"], key, r), scenario=scenario,
                                 variant=spec["variant"], overrides=overrides, series=spec["series"],
                                 point_key=int(key)))
    return specs


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


# ---------------------------------------------------------------- running --------------------------------
def run_sweep(source, out: str | Path | None = None, *, executor: str = "processes", workers: int = 2,
              scheduler: str | None = None, force: bool = False, quiet: bool = False, model_cls=None) -> Path:
    """Run (or resume, or extend) a sweep; returns its directory. From Jupyter, pass a spec dict and, if
    you like, a model class defined in the notebook (use executor='dask' or 'serial' for that)."""
    spec = load_spec(source)
    if model_cls is not None and model_cls.__module__ == "__main__" and executor == "processes":
        raise ValueError("a model class defined in a notebook or script cannot be sent to local process "
                         "workers; use executor='dask' (or 'serial')")
    out = Path(out) if out else RUNS_DIR / spec["name"]
    table = design_columns(spec)
    n_points = len(table["point"])
    manifest_path = out / "manifest.json"
    now = dt.datetime.now().isoformat(timespec="seconds")
    started = now
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("identity") != identity_hash(spec):
            if not force:
                raise ScenarioError(spec["_source"], "sweep", f"{out} holds a sweep with a different spec "
                                    "(scenario, variant, design, seed or factors changed); use --force to "
                                    "start it again, or another name")
            shutil.rmtree(out)
        else:
            started = old.get("started", now)
    elif out.exists() and any(out.iterdir()):
        if not force:
            raise ScenarioError(spec["_source"], "sweep", f"{out} exists, is not empty and holds no sweep; "
                                "use --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"name": spec["name"], "spec": {k: v for k, v in spec.items() if not k.startswith("_")},
                "spec_file": spec["_source"], "spec_hash": spec_hash(spec), "identity": identity_hash(spec),
                "design": {"kind": spec["design"], "points": n_points, "factors": list(spec["factors"]),
                           "replications": spec["replications"], "runs": n_points * spec["replications"]},
                "master_seed": spec["seed"],
                "seeds": "numpy SeedSequence(master_seed, spawn_key=(point_key, replication))",
                "versions": versions(), "python": sys.version, "git": git_revision(), "started": started,
                "updated": now, "command": " ".join(sys.argv)}
    write_atomic_text(json.dumps(manifest, indent=2, default=str), manifest_path)
    write_atomic_parquet(pa.table(table), out / "design.parquet")
    specs = plan(spec, table)
    n_unique = len({s.key for s in specs})
    progress = Progress(n_unique, quiet, desc=spec["name"])
    ex = make_executor(executor, workers, scheduler)
    series_dir = out / "series"
    try:
        run_specs(specs, out / "outcomes", ex, progress=progress, model_cls=model_cls,
                  on_series=(lambda items: _write_series(series_dir, items)) if spec["series"] else None)
    finally:
        ex.close()
        progress.close()
    manifest["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    write_atomic_text(json.dumps(manifest, indent=2, default=str), manifest_path)
    return out


def _write_series(series_dir: Path, items: list[tuple[RunSpec, dict]]) -> None:
    """One Parquet file per chunk and design point, under series/point=N/ (a hive-partitioned dataset)."""
    by_point: dict[int, list] = {}
    for spec, series in items:
        by_point.setdefault(spec.point, []).append((spec, series))
    for point, runs in sorted(by_point.items()):
        cols: dict[str, list] = {"point_key": [], "replication": []}
        for spec, series in runs:
            n = len(series["day"])
            cols["point_key"].append(np.full(n, spec.key[0], np.int64))
            cols["replication"].append(np.full(n, spec.replication, np.int64))
            for k, v in series.items():
                cols.setdefault(k, []).append(np.asarray(v))
        first = runs[0][0]
        part = series_dir / f"point={point}" / f"part-{first.key[0]:020d}-{first.replication:06d}.parquet"
        write_atomic_parquet(pa.table({k: np.concatenate(v) for k, v in cols.items()}), part)


# ---------------------------------------------------------------- loading --------------------------------
def load(out: str | Path) -> dict:
    """A sweep directory as DataFrames: 'outcomes' (joined with factor values), 'design', 'points'
    (P(hold to winter) with its 95% interval per design point), 'series' (long format, if written),
    and 'manifest'."""
    import pandas as pd

    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    table = pq.read_table(out / "design.parquet").to_pandas()
    runs = read_parts(out / "outcomes").to_pandas()
    reps = manifest["design"]["replications"]
    runs = runs[runs["replication"] < reps]
    factors = manifest["design"]["factors"]
    keyed = table.drop_duplicates("point_key")[["point_key", *factors]]
    outcomes = runs.drop(columns=["point"]).merge(keyed, on="point_key", how="inner")
    outcomes = outcomes.sort_values(["point_key", "replication"]).reset_index(drop=True)
    rows = []
    for pk, g in outcomes.groupby("point_key", sort=True):
        ok = g[g["status"] == "ok"]
        p, lo, hi = wilson(int(ok["held_to_winter"].sum()), len(ok))
        rows.append({"point_key": pk, "runs": len(g), "failed": int((g["status"] != "ok").sum()), "p_hold": p,
                     "p_hold_lo95": lo, "p_hold_hi95": hi, "mean_end_day": ok["end_day"].mean(),
                     "mean_km_road_held": ok["km_road_held"].mean()})
    points = table.merge(pd.DataFrame(rows), on="point_key", how="left") if rows else table
    series = None
    if (out / "series").exists():
        import pyarrow.dataset as pads

        series = pads.dataset(out / "series", format="parquet", partitioning="hive").to_table().to_pandas()
    return {"outcomes": outcomes, "design": table, "points": points, "series": series, "manifest": manifest}


def sensitivity(out: str | Path, output: str = "p_hold") -> pd.DataFrame:
    """Sobol indices (saltelli design) or Morris elementary effects (morris design) of a per-point output
    ('p_hold', 'mean_end_day', 'mean_km_road_held'), from the points in their original sample order."""
    import pandas as pd

    data = load(out)
    m = data["manifest"]
    kind = m["design"]["kind"]
    spec = m["spec"]
    points = data["points"].sort_values("point")
    y = points[output].to_numpy(float)
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

        x = points[problem["names"]].to_numpy(float)
        res = morris.analyze(problem, x, y, num_levels=spec["morris_levels"], seed=spec["seed"])
        return pd.DataFrame({"factor": problem["names"], "mu_star": res["mu_star"],
                             "mu_star_conf": res["mu_star_conf"], "sigma": res["sigma"]})
    raise ValueError(f"a {kind} design does not support a sensitivity analysis (use morris or saltelli)")


# ---------------------------------------------------------------- CLI ------------------------------------
def add_sweep_parser(sub, fn, positive_int) -> None:
    s = sub.add_parser("sweep", help="a parameter sweep from a sweep file: resumable Parquet under runs/<name>/",
                       description="Run, resume or extend a sweep (scenarios/sweeps/*.toml) on serial, local "
                                   "processes or Dask. Rerun the same command after an interruption: only "
                                   "missing runs run.")
    s.add_argument("spec", help="sweep file, or a name under scenarios/sweeps/")
    s.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes",
                   help="where runs execute (default: local processes)")
    s.add_argument("--workers", type=positive_int, default=2, help="processes or Dask workers (default 2)")
    s.add_argument("--scheduler", help="join an existing Dask scheduler, e.g. tcp://HOST:8786 (implies dask)")
    s.add_argument("--out", help="output directory (default runs/<name>)")
    s.add_argument("--force", action="store_true", help="start again over a directory with another spec")
    s.add_argument("--quiet", action="store_true", help="no progress bar (batch logs)")
    s.set_defaults(fn=fn)


def run_sweep_cli(args) -> int:
    t0 = time.time()
    executor = "dask" if args.scheduler else args.executor
    out = run_sweep(args.spec, args.out, executor=executor, workers=args.workers, scheduler=args.scheduler,
                    force=args.force, quiet=args.quiet)
    data = load(out)
    o = data["outcomes"]
    print(f"{out}: {len(data['design'])} points, {len(o)} runs ({int((o['status'] != 'ok').sum())} failed) "
          f"in {time.time() - t0:.1f} s")
    cols = ["point", *data["manifest"]["design"]["factors"], "runs", "p_hold", "p_hold_lo95", "p_hold_hi95"]
    print(data["points"][cols].head(20).to_string(index=False))
    return 0
