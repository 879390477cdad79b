"""EMA Workbench adapter: the valley as an EMA `Model`, for exploratory modelling and scenario discovery.

    from ema_workbench import perform_experiments, MultiprocessingEvaluator
    from redoubt.ema import ema_model
    m = ema_model({"defender_strength": (2000, 9000), "food_days": (40.0, 150.0), "air": (False, True)},
                  replications=5)
    with MultiprocessingEvaluator(m, n_processes=2) as ev:
        experiments, outcomes = perform_experiments(m, 100, evaluator=ev)

Uncertainties are named like `ValleyModel`'s keywords (the shortcuts, or dotted keys with `__`), each
with its (low, high) range; the parameter's kind (integer, real, boolean) comes from the scenario schema.
Booleans are sampled as 0/1 integers and turned back into booleans for the model, so that PRIM's
`box.inspect()` works with pandas 3 (EMA 3.0 fails on a box that restricts a boolean column).
For PRIM, take the inputs through `prim_inputs(experiments, model)` (floats; see there why).
With `replications` > 1, each experiment runs that many seeds (`seed + i`) and each outcome is the mean
over them: `held_to_winter` is then P(hold to winter) at that point.
Install with the `ema` extra: pip install 'redoubt-valley[ema]'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .outcome import as_numbers
from .scenario import DEFAULT_SCENARIO, SCHEMA, ScenarioError, field_at, params_to_overrides

# What a run reports to EMA by default: the answer, when, and why.
OUTCOMES = ("held_to_winter", "days_held", "fell", "cause_supply", "cause_cohesion", "cause_encirclement",
            "cause_pacts", "cause_combat", "winter_onset_day", "food_days_left", "ammo_days_left", "km_road_held")


def _kind(name: str):
    dotted = next(iter(params_to_overrides({name: 0})))
    return field_at(SCHEMA, dotted).type


def run_experiment(scenario_file=DEFAULT_SCENARIO, variant=None, seed=0, _booleans=(), **params) -> dict:
    """One EMA experiment (module level, so process workers can receive it)."""
    from .model import ValleyModel

    for name in _booleans:  # sampled as 0/1 integers
        if name in params:
            params[name] = bool(params[name])
    outcome = ValleyModel(scenario_file, variant=variant, rng=int(seed), **params).run()
    return as_numbers(outcome)


def ema_model(uncertainties: dict[str, tuple], *, replications: int = 1, seed: int = 0,
              scenario_file: str = DEFAULT_SCENARIO, variant: str | None = None,
              outcomes: tuple[str, ...] = OUTCOMES, name: str = "redoubt"):
    """An EMA Workbench model of the valley (a `ReplicatorModel` when replications > 1)."""
    try:
        from ema_workbench import Constant, IntegerParameter, Model, RealParameter, ReplicatorModel, ScalarOutcome
    except ImportError:
        raise ImportError("the EMA Workbench adapter needs the 'ema' extra: pip install 'redoubt-valley[ema]'") \
            from None
    params, booleans = [], []
    for key, bounds in uncertainties.items():
        kind = _kind(key)
        low, high = bounds
        if kind is bool:
            booleans.append(key)
            params.append(IntegerParameter(key, 0, 1))
        elif kind is int:
            params.append(IntegerParameter(key, int(low), int(high)))
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
    model.constants = [Constant("scenario_file", str(scenario_file)), Constant("_booleans", tuple(booleans))] + (
        [Constant("variant", variant)] if variant else []) + ([Constant("seed", seed)] if replications <= 1 else [])
    return model


def prim_inputs(experiments, model) -> pd.DataFrame:
    """The experiments' uncertainty columns as floats, ready for `prim.Prim(x, y)`: with pandas 3, EMA 3.0's
    PRIM pastes fractional bounds into integer columns and fails ("Invalid value '4855.5' for dtype
    'int64'"), and `box.inspect()` fails on boolean ones."""
    names = [u.name for u in model.uncertainties]
    return experiments[names].astype(float)


__all__ = ["OUTCOMES", "ema_model", "prim_inputs", "run_experiment"]
