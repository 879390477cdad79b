"""EMA Workbench adapter: the valley as an EMA `Model`, for exploratory modelling and scenario discovery.

    from ema_workbench import perform_experiments, MultiprocessingEvaluator
    from redoubt.interfaces.ema import ema_model
    m = ema_model({"defender_strength": (2000, 9000), "food_days": (40.0, 150.0), "air": (False, True)},
                  replications=5)
    with MultiprocessingEvaluator(m, n_processes=2) as ev:
        experiments, outcomes = perform_experiments(m, 100, evaluator=ev)

Uncertainties are named like `ValleyModel`'s keywords (the shortcuts, or dotted keys with `__`), each
with its (low, high) range; the parameter's kind (integer, real, boolean) comes from the scenario schema.
Every uncertainty is sampled as a real number, so the experiments table is all floats and goes straight to
PRIM and feature scoring (with pandas 3, EMA 3.0's PRIM fails on integer columns, pasting fractional bounds,
and on boolean ones): an integer is sampled over [low - 0.5, high + 0.5) and rounded for the run (each whole
value equally likely), a boolean over [0, 1) and true from 0.5. `prim_inputs` selects the uncertainty columns.
Every outcome is a finite number (OUTCOMES: `days_to_fall` is the day the valley fell or, if it held, its
winter onset; stocks left in tonnes), so nothing needs cleaning before PRIM or `get_feature_scores_all`.
Each experiment runs from its own seeds, derived from the master `seed`, the replication and the
experiment's values (`common_seeds=True` gives every experiment the same ones). With `replications` > 1,
each outcome is the mean over them: `held_to_winter` is then P(hold to winter) at that point.
Install with the `ema` extra: pip install 'redoubt-valley[ema]'.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from ..core.outcome import as_numbers
from ..inputs.scenario import DEFAULT_SCENARIO, SCHEMA, ScenarioError, field_at, params_to_overrides

# What a run reports to EMA by default: the answer, when, and why.
OUTCOMES = ("held_to_winter", "days_to_fall", "fell", "cause_supply", "cause_cohesion", "cause_encirclement",
            "cause_pacts", "cause_combat", "winter_onset_day", "food_t_left", "ammo_t_left", "km_road_held")


def _kind(name: str):
    dotted = next(iter(params_to_overrides({name: 0})))
    return field_at(SCHEMA, dotted).type


def experiment_seed(seed: int, params: dict) -> int:
    """A run's seed from the master seed (and replication) and the experiment's values: stable across
    processes and sessions (sha256 of the sorted values, never Python's hash())."""
    canon = json.dumps({k: float(v) for k, v in sorted(params.items())}, sort_keys=True)
    digest = int.from_bytes(hashlib.sha256(canon.encode()).digest()[:8], "big")
    return int(np.random.SeedSequence([int(seed), digest]).generate_state(1, dtype=np.uint64)[0])


def run_experiment(scenario_file=DEFAULT_SCENARIO, variant=None, seed=0, _booleans=(), _integers=(),
                   _common_seeds=False, **params) -> dict:
    """One EMA experiment (module level, so process workers can receive it)."""
    from ..core.model import ValleyModel

    params = {k: float(v) for k, v in params.items()}
    rng = int(seed) if _common_seeds else experiment_seed(seed, params)
    for name in _booleans:  # sampled over [0, 1)
        if name in params:
            params[name] = params[name] >= 0.5
    for name in _integers:  # sampled over [low - 0.5, high + 0.5)
        if name in params:
            params[name] = int(round(params[name]))
    outcome = ValleyModel(scenario_file, variant=variant, rng=rng, **params).run()
    return as_numbers(outcome)


def ema_model(uncertainties: dict[str, tuple], *, replications: int = 1, seed: int = 0,
              scenario_file: str = DEFAULT_SCENARIO, variant: str | None = None,
              outcomes: tuple[str, ...] = OUTCOMES, name: str = "redoubt", common_seeds: bool = False):
    """An EMA Workbench model of the valley (a `ReplicatorModel` when replications > 1)."""
    try:
        from ema_workbench import Constant, Model, RealParameter, ReplicatorModel, ScalarOutcome
    except ImportError:
        raise ImportError("the EMA Workbench adapter needs the 'ema' extra: pip install 'redoubt-valley[ema]'") \
            from None
    params, booleans, integers = [], [], []
    for key, bounds in uncertainties.items():
        kind = _kind(key)
        low, high = bounds
        if kind is bool:
            booleans.append(key)
            params.append(RealParameter(key, 0.0, 1.0))
        elif kind is int:
            integers.append(key)
            params.append(RealParameter(key, int(low) - 0.5, int(high) + 0.5 - 1e-9))
        elif kind in ((int, float), float):
            params.append(RealParameter(key, float(low), float(high)))
        else:
            raise ScenarioError("<uncertainties>", key, f"cannot be explored: not a number or a boolean ({kind})")
    if replications > 1:
        model = ReplicatorModel(name, function=run_experiment)
        model.replications = [{"seed": seed + i} for i in range(replications)]
        model.outcomes = [ScalarOutcome(o, function=np.mean) for o in outcomes]
    else:
        model = Model(name, function=run_experiment)
        model.outcomes = [ScalarOutcome(o) for o in outcomes]
    model.uncertainties = params
    model.constants = [Constant("scenario_file", str(scenario_file)), Constant("_booleans", tuple(booleans)),
                       Constant("_integers", tuple(integers)), Constant("_common_seeds", bool(common_seeds))] + (
        [Constant("variant", variant)] if variant else []) + ([Constant("seed", seed)] if replications <= 1 else [])
    return model


def prim_inputs(experiments, model) -> pd.DataFrame:
    """The experiments' uncertainty columns (floats, as sampled), ready for `prim.Prim(x, y)`."""
    names = [u.name for u in model.uncertainties]
    return experiments[names].astype(float)


__all__ = ["OUTCOMES", "ema_model", "prim_inputs", "run_experiment"]
