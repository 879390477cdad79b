"""redoubt: how long a defended mountain valley with one road in holds out, and what outside resupply
changes, through to winter. An agent-based model on Mesa.

    from redoubt import ValleyModel
    m = ValleyModel(variant="air", rng=1)   # the Panjshir 2021 scenario, helicopter resupply
    outcome = m.run()                        # one record: held_to_winter, collapse_date, cause, ...
    daily = m.daily()                        # pandas DataFrame, one row per day
"""

from .inputs.scenario import ScenarioError, load, variant_names

__all__ = ["ScenarioError", "ValleyModel", "load", "variant_names"]


def __getattr__(name):
    # ValleyModel (and with it Mesa, ~145 MB) is imported on first use, so a process that only plans
    # and writes a sweep, or reads a scenario, stays small.
    if name == "ValleyModel":
        from .core.model import ValleyModel

        return ValleyModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
