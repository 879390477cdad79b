"""The `redoubt` command: run one scenario, compare variants, run sweeps."""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import signal
import sys
import textwrap
from pathlib import Path

from ..inputs import scenario as scn
from ..inputs.bounded import plain_name, printable
from ..studies.outputs import OutputDir, UserError
from ..studies.parts import write_atomic_text
from ..studies.runs import default_runs_dir, stamp


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of a usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(low: int, high: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number (got {printable(text)!r})") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} (got {value})")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,} (got {value:,})")
        return value

    return parse


_positive_int = _int_at_least(1)
_seed = _int_at_least(0)
_replications = _int_at_least(1, 1_000_000)  # checked before any run is planned: a plan is held in memory
_port = _int_at_least(0, 65535)


def parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE, e.g. --set sides.defender.strength=4000")
        key, value = item.split("=", 1)
        key = key.strip()
        out.update(scn.params_to_overrides({key: scn.parse_value(value.strip())}) if "." not in key
                   else {key: scn.parse_value(value.strip())})
    return out


def out_path(out: str | None, default_name: str) -> Path:
    return Path(out) if out else default_runs_dir() / default_name


def cmd_run(args) -> int:
    overrides = parse_sets(args.set)
    from ..core.model import ValleyModel

    model = ValleyModel(args.scenario, variant=args.variant, overrides=overrides, rng=args.seed)  # validates
    name, variant = plain_name(model.spec["scenario"]["name"]), plain_name(args.variant or "base")
    target = OutputDir(out_path(args.out, f"{name}-{variant}-seed{args.seed}-{stamp()}"), "run")
    target.claim(force=args.force)  # before the run: an unusable --out fails at once
    try:
        outcome = json_safe({**model.run(), "seed": args.seed, "overrides": overrides})
        write_atomic_text(json.dumps(outcome, indent=2, default=str, allow_nan=False) + "\n",
                          target.path / "outcome.json")
        write_atomic_text(csv_for_people(model.daily()), target.path / "daily.csv")
    except BaseException:
        target.abort()
        raise
    target.close()
    width = max(len(k) for k in outcome)
    for k, v in outcome.items():
        if k != "notes":
            print(f"{k:<{width}}  {for_people(v)}" + (f"  ({outcome['notes'][k]})" if k in outcome["notes"] else ""))
    print(f"\nwrote {target.path / 'outcome.json'} and {target.path / 'daily.csv'}")
    return 0


def json_safe(outcome: dict) -> dict:
    """JSON has no Infinity or NaN: such a value becomes null, with the reason under "notes"."""
    out, notes = {}, {}
    for k, v in outcome.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
            notes[k] = ("infinite: no one left to draw on the stock" if k.endswith("_days_left") and v > 0
                        else f"not a finite number ({v})")
        else:
            out[k] = v
    out["notes"] = notes
    return out


def for_people(value) -> str:
    """A value as a person reads it: floats to one decimal (0.0 for float noise)."""
    if isinstance(value, float):
        return f"{value + 0.0:.1f}" if abs(value) >= 0.05 else "0.0"
    return "-" if value is None else str(value)


def csv_for_people(frame) -> str:
    """Floats to 6 decimals (grams, for kg columns): no 1e-16 left over from subtraction, no -0.0."""
    floats = frame.select_dtypes("float").columns
    frame = frame.copy()
    frame[floats] = frame[floats].round(6) + 0.0
    return frame.to_csv(index=False, float_format=_fixed_point)


def _fixed_point(x: float) -> str:
    """6 decimals at most, never exponent notation (0.000055, not 5.5e-05), no trailing zeros (14.4)."""
    text = f"{x:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def variant_list(text: str | None) -> list[str] | None:
    """--variants as a list: comma-separated names, each once, none empty."""
    if text is None:
        return None
    variants = [v.strip() for v in text.split(",")]
    if not any(variants):
        raise UsageError(f"--variants {text!r}: names no variant (e.g. --variants none,air)")
    if "" in variants:
        raise UsageError(f"--variants {text!r}: an empty name between commas")
    twice = sorted({v for v in variants if variants.count(v) > 1})
    if twice:
        raise UsageError(f"--variants {text!r}: names {', '.join(twice)} more than once")
    return variants


def cmd_compare(args) -> int:
    from ..studies.compare import Interrupted, format_table, run_compare

    overrides = parse_sets(args.set)
    path = scn.resolve_path(args.scenario)
    variants = variant_list(args.variants)
    try:  # run_compare checks the scenario, variants and baseline before it writes or runs anything
        result = run_compare(str(path), variants, args.replications, args.seed, args.jobs,
                             Path(args.out) if args.out else None, quiet=args.quiet, force=args.force,
                             overrides=overrides, baseline=args.baseline, fixed=args.fixed,
                             runs_per_draw=args.runs_per_draw)
    except Interrupted as exc:
        print(f"\ninterrupted: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted before any run finished: nothing written", file=sys.stderr)
        return 130
    meta = result["meta"]
    print()
    if meta.get("resumed"):
        print(f"(resumed: {meta['runs_resumed']} runs were already done in {result['out']})")
    print(meta["title"])
    from ..studies.compare import uncertainty_note

    note = uncertainty_note(meta).strip()
    if note:
        print(textwrap.fill(note, 100))
    print(format_table(result["summary"], meta["variant_descriptions"], result["effects"]))
    if result.get("spread") is not None:
        from ..studies.compare import spread_text

        for line in spread_text(result["spread"]).replace("## ", "").splitlines():
            print(line if line.startswith("|") else textwrap.fill(line, 100))
    print(f"\nreport: {result['out'] / 'report.md'}")
    return 0


def _numbers(text: str, flag: str, kind=float) -> list:
    try:
        values = [kind(x) for x in text.split(",")]
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected comma-separated numbers, e.g. {flag} 7,21,35") from None
    if not values or any(v < 0 or (isinstance(v, float) and not math.isfinite(v)) for v in values):
        raise UsageError(f"{flag} {text!r}: numbers must be finite and not negative")
    if len(set(values)) != len(values):
        raise UsageError(f"{flag} {text!r}: a value appears more than once")
    return values


def cmd_window(args) -> int:
    from ..studies import window

    overrides = parse_sets(args.set)
    path = scn.resolve_path(args.scenario)
    scn.load(path, None, overrides)
    days = _numbers(args.start_days, "--start-days", int)
    amounts = _numbers(args.amounts, "--amounts") if args.amounts else list(window.AMOUNTS[args.kind])
    if not 0 < args.effect < 1:
        raise UsageError(f"--effect {args.effect}: a difference of probabilities between 0 and 1 (e.g. 0.05)")
    out = window.run_window(str(path), args.kind, days, amounts, args.replications, args.seed, args.jobs,
                            args.out, quiet=args.quiet, force=args.force, overrides=overrides)
    table = window.effects(out)
    print(window.write_results(out, table, args.effect))
    print(f"\nwritten: {out / 'window.csv'}, {out / 'window.png'}, {out / 'window.md'}")
    return 0


def cmd_check(args) -> int:
    from ..inputs.check import report

    for name in args.scenarios:
        print(report(scn.resolve_path(name)))
    return 0


def cmd_list(args) -> int:
    """Scenarios with their variants, and sweep files: what `run`, `compare` and `sweep` accept by name."""
    found = scn.catalogue()
    print("Scenarios (redoubt run NAME, redoubt compare NAME):")
    for e in found["scenarios"]:
        print(f"  {e['name']}: {e['title']}")
        for v, description in e.get("variants", {}).items():
            print(f"      --variant {v}" + (f": {description}" if description else ""))
    print("\nSweep files (redoubt sweep NAME):")
    for e in found["sweeps"]:
        print(f"  {e['name']}" + (f": {e['title']}" if e["title"] else ""))
    print(f"\nBundled with redoubt in {scn.bundled_dir()}; a file of the same name under ./scenarios/ comes first.")
    return 0


def cmd_viz(args) -> int:
    """Serve the browser page (model/redoubt/interfaces/app.py, Mesa's SolaraViz) until Ctrl-C."""
    import importlib.util
    import subprocess

    path = scn.resolve_path(args.scenario)
    scn.load(path)  # a bad scenario fails here, in one line
    if importlib.util.find_spec("solara") is None:
        raise UsageError("the browser page needs the 'viz' extra: pip install 'redoubt-valley[viz]' "
                         "(or make viz)")
    # Solara keeps a closed browser's session for reconnection for 24 h by default: a page left open and
    # closed by many users would hold every model that long. A minute covers a dropped connection.
    # Python's own allocator keeps an arena while any object in it lives: with C's, the server gives back more
    # of what closed sessions used (30 sessions closed: 38 MB kept, not 48; the models are in a process of
    # their own, page_worker, which ends with the last). A user's own setting wins.
    env = {"SOLARA_KERNEL_CULL_TIMEOUT": "60s", "PYTHONMALLOC": "malloc", **os.environ,
           "REDOUBT_VIZ_SCENARIO": str(path.resolve())}
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"redoubt viz: warning: serving on {args.host}: the page has no authentication, and anyone who "
              f"can reach port {args.port} can run models on this machine", file=sys.stderr)
    print(f"serving {path.name} at http://{args.host}:{args.port} (Ctrl-C stops)", flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "solara", "run", "redoubt.interfaces.app", "--host", args.host,
                             "--port", str(args.port), "--no-open", "--production"], env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 130


def cmd_calibrate(args) -> int:
    from ..studies import calibrate
    from ..studies.runs import default_runs_dir

    cfg = calibrate.load_config(args.config)
    for key in ("samples", "replications"):
        if getattr(args, key):
            cfg[key] = getattr(args, key)
    out = Path(args.out) if args.out else default_runs_dir() / "calibration"
    if args.test:
        calibrate.run_test(cfg, out, jobs=args.jobs, quiet=args.quiet, force=args.force)
        print((out / "test.md").read_text())
        print(f"written: {out / 'test.md'}, {out / 'test.csv'}")
        return 0
    if args.check:
        calibrate.run_check(cfg, out, args.check, jobs=args.jobs, quiet=args.quiet, force=args.force)
        table, report = calibrate.check_results(args.check)
        print((out / report).read_text())
        print(f"written: {out / report}, {out / table}")
        return 0
    fit = calibrate.run(cfg, out, jobs=args.jobs, quiet=args.quiet, force=args.force)
    print(f"{int((fit['weights'] > 0).sum())} of {len(fit['design'])} parameter sets carry weight on "
          f"{', '.join(cfg['episodes'])} (effective sample size {fit['ess']:.1f}); the test episode "
          f"({cfg['test']['episode']}) is run by --test")
    print()
    print((out / "calibration.md").read_text())
    print(f"written: {', '.join(str(out / name) for name in calibrate.RESULTS)}")
    return 0


def cmd_sweep(args) -> int:
    from ..studies.sweep import run_sweep_cli

    return run_sweep_cli(args)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("redoubt-valley")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="redoubt",
        description="How long does a defended valley with one road in hold out, and what does outside "
                    "resupply change? Scenarios are TOML files under scenarios/ (give a path or a name).")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = sub.add_parser("list", help="the scenarios, their variants, and the sweep files, by name",
                        description="List what run, compare and sweep accept by name.")
    ls.set_defaults(fn=cmd_list)

    r = sub.add_parser("run", help="one run: print the outcome, write outcome.json and daily.csv",
                       description="Run a scenario once and write outcome.json and daily.csv.")
    r.add_argument("scenario", help="scenario file or name, e.g. panjshir-2021")
    r.add_argument("--variant", help="a variant of the scenario (e.g. none, air, passes, air+passes)")
    r.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a value by dotted key, e.g. --set sides.defender.strength=4000 (repeatable)")
    r.add_argument("--out", help="output directory (default runs/<scenario>-<variant>-seed<N>-<time>)")
    r.add_argument("--force", action="store_true", help="replace the outputs of an earlier run in --out")
    r.set_defaults(fn=cmd_run)

    c = sub.add_parser("compare", help="every variant, replicated and paired: what resupply changes, report",
                       description="Run each variant of a scenario N times in parallel, with the same seeds "
                                   "in every variant, and report what each changes against the baseline "
                                   "(paired differences with intervals) and each on its own: effects.csv, "
                                   "summary.csv, runs.parquet, figures and report.md. Interrupted, it keeps "
                                   "the finished runs; the same command resumes.")
    c.add_argument("scenario", help="scenario file or name, e.g. panjshir-2021")
    c.add_argument("--variants", help="comma-separated variant names (default: all of the scenario's)")
    c.add_argument("--baseline", help="the variant the others are compared with (default: the first with no "
                   "outside resupply, e.g. none)")
    c.add_argument("--replications", type=_replications, default=200,
                   help="runs per variant (default 200: a 95%% interval of about +-7 points)")
    c.add_argument("--seed", type=_seed, default=2021, help="master seed (default 2021)")
    c.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a value for every variant, e.g. --set sides.defender.strength=4000 (repeatable)")
    c.add_argument("--out", help="output directory (default: the latest interrupted comparison of the same "
                   "plan under runs/, which resumes; else runs/<scenario>-<time>)")
    c.add_argument("--force", action="store_true", help="start over: replace the outputs of an earlier compare "
                   "in --out (without --out: never resume)")
    c.add_argument("--fixed", action="store_true", help="every run at the scenario's own values: no draws of what "
                   "it does not know exactly ([uncertain]), so the intervals are chance alone")
    c.add_argument("--runs-per-draw", type=_int_at_least(1, 1_000_000), default=1, metavar="K",
                   help="K replications share each draw of what the scenario leaves open, with different chance: "
                   "the report then says how much of the spread comes from parameters and how much from chance "
                   "(default 1: a fresh draw for every replication)")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(fn=cmd_compare)

    ch = sub.add_parser("check", help="validate a scenario file with every variant; warn of what is legal but odd",
                        description="Load a scenario file, its base and every variant, with every rule checked; "
                                    "then warn of what runs but is probably not meant: key places outside the "
                                    "valley, a start after the mean winter onset, a defended place with no path "
                                    "round it, a name that differs from the file's.")
    ch.add_argument("scenarios", nargs="+", help="scenario files or names")
    ch.set_defaults(fn=cmd_check)

    w = sub.add_parser("window", help="how late can resupply start and still matter: paired effects by start day",
                       description="Two sweeps with common seeds: resupply carrying nothing (the baseline) and a "
                                   "factorial over the day it starts and what it carries; each point's paired "
                                   "effect on P(hold to winter), with intervals and a fit monotone in the start "
                                   "day, and the latest start day that still gives --effect where the interval "
                                   "supports it. Resumable, like sweeps.")
    w.add_argument("scenario", help="scenario file or name, e.g. panjshir-2021")
    w.add_argument("--kind", choices=("passes", "air"), default="passes", help="the kind of resupply (default passes)")
    w.add_argument("--start-days", default="7,21,35,49,63,77", help="days help starts (default 7,21,35,49,63,77)")
    w.add_argument("--amounts", help="tonnes a day (passes; default 4,8,16) or a sortie (air; default 1,2,3)")
    w.add_argument("--effect", type=float, default=0.05, help="the rise in P(hold to winter) asked for (default 0.05)")
    w.add_argument("--replications", type=_replications, default=100, help="paired runs a point (default 100)")
    w.add_argument("--seed", type=_seed, default=2021, help="master seed (default 2021, as compare)")
    w.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a value for every run (repeatable)")
    w.add_argument("--out", help="output directory (default runs/<scenario>-window-<kind>)")
    w.add_argument("--force", action="store_true", help="start again over a directory with other settings")
    w.add_argument("--quiet", action="store_true", help="no progress bars")
    w.set_defaults(fn=cmd_window)

    v = sub.add_parser("viz", help="the browser page: valley map, charts and controls (Mesa SolaraViz)",
                       description="Serve the interactive page on this machine (loopback unless --host says "
                                   "otherwise). Needs the viz extra (make viz sets it up).")
    v.add_argument("scenario", nargs="?", default=scn.DEFAULT_SCENARIO, help="scenario file or name "
                   f"(default {scn.DEFAULT_SCENARIO})")
    v.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=_port, default=8765, help="port (default 8765; 0: any free port)")
    v.set_defaults(fn=cmd_viz)

    k = sub.add_parser("calibrate", help="fit the unsourced behaviour parameters on earlier episodes (ABC); "
                       "--test: the preregistered test on 2021; --check: another episode",
                       description="Run the calibration of scenarios/history/calibration.toml: a Latin "
                       "hypercube over the priors, each point run on "
                       "every calibration episode, weighted by how often its runs match each episode's observed "
                       "history (approximate Bayesian computation); writes the posterior and its report. With "
                       "--test, run the test episode at the same points and judge it by the file's criterion; with "
                       "--check NAME, an episode of the file's [checks] the same way. "
                       "Resumable (run it again after an interruption).")
    k.add_argument("config", nargs="?", default="history/calibration", help="calibration file (default "
                   "history/calibration)")
    k.add_argument("--samples", type=_int_at_least(2, 10_000), help="design points (default: the file's)")
    k.add_argument("--replications", type=_replications, help="runs per point and episode (default: the file's)")
    k.add_argument("--out", help="output directory (default runs/calibration)")
    judged = k.add_mutually_exclusive_group()
    judged.add_argument("--test", action="store_true", help="the test episode, judged against the posterior of the "
                        "calibration already in --out")
    judged.add_argument("--check", metavar="EPISODE", help="an out-of-sample check (an episode under the file's "
                        "[checks]), judged as the test is, against the calibration already in --out; not "
                        "preregistered")
    k.add_argument("--quiet", action="store_true", help="no progress bars")
    k.add_argument("--force", action="store_true", help="start an episode again when its sweep has changed "
                   "(other priors or sizes, an edited scenario file)")
    k.set_defaults(fn=cmd_calibrate)

    from ..studies.sweep import add_sweep_parser

    for command in (c, w, k, add_sweep_parser(sub, cmd_sweep)):  # one name and one default for parallelism
        command.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1,
                             help=f"runs at once: local processes or Dask workers (default: all cores, "
                                  f"{os.cpu_count() or 1} here)")
    return p


class _QuietPipe:
    """stdout that goes quiet when its reader has gone (`redoubt ... | head`): the rest of the output goes
    to /dev/null, the command finishes its work and exits as it would have, without a traceback."""

    def __init__(self, stream):
        self._stream = stream

    def _gone(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # what is still buffered is flushed there, at exit too
        os.close(devnull)

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (kill, a batch scheduler) stops the command as Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:  # the command itself, not a call from Python (a notebook keeps its own handlers)
        signal.signal(signal.SIGTERM, _terminate)
        sys.stdout = _QuietPipe(sys.stdout)
    try:
        return args.fn(args)
    except (scn.ScenarioError, UsageError, UserError) as exc:
        print(f"redoubt {args.command}: error: {exc}", file=sys.stderr)  # one line, nothing written
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" writing {exc.filename}" if exc.filename else ""
            print(f"redoubt {args.command}: error: no space left on the device{where}; nothing was presented "
                  "as complete (free space and run the same command again)", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
