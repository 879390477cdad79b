"""The browser page: Mesa's SolaraViz with the valley map, the daily charts against the date, the
outcome in words, and controls that apply when you press Reset.

    redoubt viz [SCENARIO] [--host 127.0.0.1] [--port 8765]    # `make viz` sets up first
    In Jupyter, evaluate in a cell:   from redoubt.interfaces.app import page; page

The scenario is `panjshir-2021` unless REDOUBT_VIZ_SCENARIO names another (redoubt viz sets it).
Needs the `viz` extra: pip install 'redoubt-valley[viz]'.
"""

from __future__ import annotations

import os

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from ..core.model import ValleyModel
from ..inputs.scenario import DEFAULT_SCENARIO, variant_names
from .drawing import MapView, TimelineView, date_of, status_words

SCENARIO = os.environ.get("REDOUBT_VIZ_SCENARIO") or DEFAULT_SCENARIO

# Controls: (shortcut, label, kind, low, high, step). Their starting values are the scenario's own.
SLIDERS = (
    ("defender_strength", "Defenders", "SliderInt", 500, 20000, 500),
    ("attacker_committed", "Attacker pool (all waves)", "SliderInt", 1000, 60000, 1000),
    ("food_days", "Food stock, days", "SliderInt", 10, 300, 5),
    ("ammo_days", "Ammunition stock, days", "SliderInt", 10, 300, 5),
    ("air_start_day", "Air resupply from day", "SliderInt", 0, 150, 1),
    ("sorties_per_week", "Helicopter sorties a week", "SliderFloat", 0, 60, 1),
    ("passes_start_day", "Porters over the passes from day", "SliderInt", 0, 150, 1),
    ("porter_t_per_day", "Porters' tonnes a day", "SliderFloat", 0, 40, 1),
    ("winter_doy_mean", "Mean winter onset, day of the year", "SliderInt", 280, 365, 1),
    ("fighters_per_agent", "Fighters per agent", "SliderInt", 1, 50, 1),
)


def controls(scenario_file=SCENARIO) -> dict:
    """SolaraViz model parameters: the variant, the sliders starting at the scenario's values as the model
    resolves them (the attacker pool is the waves' total), and a numeric seed (a text seed would reach
    the model as a string). A slider's value applies over the chosen variant's."""
    start = ValleyModel(scenario_file, rng=0).parameters()
    variants = variant_names(scenario_file) or ["base"]
    params = {
        "scenario_file": str(scenario_file),
        "variant": {"type": "Select", "value": variants[0], "values": variants, "label": "Resupply (variant)"},
    }
    for key, label, kind, low, high, step in SLIDERS:
        value = start[key]
        low, high = min(low, value), max(high, value)  # a scenario outside the usual range still starts as it is
        params[key] = {"type": kind, "value": value, "min": low, "max": high, "step": step, "label": label}
    params["rng"] = {"type": "SliderInt", "value": 1, "min": 0, "max": 999, "step": 1, "label": "Seed"}
    # The run stops at the fall, as the story ends there, unless the user asks to follow the resistance after it
    params["collapse__run_on_after_fall"] = {"type": "Checkbox", "value": False,
                                             "label": "Follow the resistance after the fall"}
    return params


def monitors(model) -> list[tuple[str, str]]:
    """The numbers beside the map, as NetLogo users expect them: (label, value)."""
    return [("day", f"{model.day} ({date_of(model, model.day):%d %b %Y})"),
            (f"{model.defenders.name} active", f"{model.defenders.strength():,}"),
            (f"{model.attackers.name} active", f"{model.attackers.strength():,}"),
            ("food, days at the start draw", f"{model.days_at_reference('food'):.0f}"),
            ("ammunition, days at the start draw", f"{model.days_at_reference('ammo'):.0f}"),
            ("km of road held", f"{model.valley.road_km_held():.0f}")]


def _snapshot(model, view, words: bool = False):
    """The view updated and drawn, and the status line, from the model between two days (its lock: a step
    never lands half-way through a drawing); a failure is one line in this card, never the whole page."""
    try:
        with model.lock:
            view.update()
            png = view.png()
            said = (f"{date_of(model, model.day):%d %B %Y}, day {model.day} ({model.spec['_variant']}): "
                    f"{status_words(model)}.") if words else ""
            numbers = monitors(model) if words else []
        return png, said, None, numbers
    except Exception as exc:  # noqa: BLE001 - shown in the card; the rest of the page goes on
        return None, "", f"{type(view).__name__} could not be drawn: {type(exc).__name__}: {exc}".splitlines()[0], []


@solara.component
def ValleyMap(model):
    """Where things stand, in words, over the map."""
    update_counter.get()
    view = solara.use_memo(lambda: MapView(model, Figure(figsize=(7.6, 4.6), dpi=80)), dependencies=[model])
    png, said, error, numbers = _snapshot(model, view, words=True)
    with solara.Column(gap="0px"):  # plain text: solara.Markdown would fetch KaTeX from a CDN
        if error:
            solara.Error(error)
            return
        solara.Text(said, style={"font-weight": "bold"})
        with solara.Row(gap="18px", style={"flex-wrap": "wrap"}):  # the monitors
            for label, value in numbers:
                solara.Text(f"{label}: {value}", style={"font-size": "13px"})
        solara.Image(png)


@solara.component
def Timeline(model):
    update_counter.get()
    view = solara.use_memo(lambda: TimelineView(model, Figure(figsize=(6.0, 5.2), dpi=80)), dependencies=[model])
    png, _, error, _ = _snapshot(model, view)
    if error:
        solara.Error(error)
    else:
        solara.Image(png)


@solara.component
def ValleyPage(scenario_file=SCENARIO, params: dict | None = None):
    """The SolaraViz page. Each browser session (and each notebook cell showing it) gets a model of its
    own, built from the controls' starting values and `params`."""
    c = solara.use_memo(lambda: controls(scenario_file), dependencies=[scenario_file])
    start = {k: v["value"] if isinstance(v, dict) else v for k, v in c.items()}
    model = solara.use_memo(lambda: ValleyModel(**{**start, **(params or {})}), dependencies=[scenario_file])
    return SolaraViz(model, components=[(ValleyMap, 0), (Timeline, 0)], model_params=c,
                     name=f"redoubt: {model.spec['scenario']['title']}", play_interval=10)


def make_page(scenario_file=SCENARIO, **params):
    """The page for a scenario, to show in Jupyter (keyword parameters start the model as the controls would)."""
    return ValleyPage(scenario_file, params)


page = make_page()
