"""The browser page: Mesa's SolaraViz controls (play, step, reset, the parameters) in the sidebar; the valley
map as the largest element with the outcome in words over it and NetLogo-style monitors beside it; the daily
charts against the date under it. Controls apply when you press Reset.

    redoubt viz [SCENARIO] [--host 127.0.0.1] [--port 8765]    # `make viz` sets up first
    In Jupyter, evaluate in a cell:   from redoubt.interfaces.app import page; page

The scenario is `panjshir-2021` unless REDOUBT_VIZ_SCENARIO names another (redoubt viz sets it).
Needs the `viz` extra: pip install 'redoubt-valley[viz]'.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import solara
import solara.lab
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import ModelController, ModelCreator, ShowSteps
from mesa.visualization.utils import update_counter

from ..core.model import ValleyModel
from ..inputs.scenario import DEFAULT_SCENARIO, variant_names
from .drawing import MapView, TimelineView, date_of, status_words

SCENARIO = os.environ.get("REDOUBT_VIZ_SCENARIO") or DEFAULT_SCENARIO
PLAY_INTERVAL_MS = 10
MAP_SIZE_IN, TIMELINE_SIZE_IN, DPI = (9.6, 5.4), (11.0, 5.6), 80  # about as shown at 1400 px wide
RELEASE_DELAY_S = 1.0  # after a session's kernel is closed, so its objects are gone when the memory is given back


def give_back_memory() -> None:
    """Collect what closed sessions left and hand the C allocator's free pages back to the system: the
    models' arrays and the figures' buffers are freed by Python, but glibc keeps the pages of its per-thread
    arenas (measured: 10 sessions closed, 106 MB kept without this, 45 MB with it, and no further growth)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): Python's own release is all there is
        pass


# One thread builds, steps and draws every session's model, in the order asked. Sessions playing at once take
# turns (each gets a fair share of the machine: with a thread each, one session ran at 11 days a second and
# four others at 1.3-4.5), and the models' and figures' memory stays in that thread's allocator arena, which
# give_back_memory trims when a session closes.
_PAGE_THREAD = "redoubt-page"
_PAGE_WORK = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_PAGE_THREAD)


def on_page_thread(fn, *args, **kwargs):
    """fn(*args, **kwargs) on the page's thread, waiting for its turn (directly if already there)."""
    if threading.current_thread().name.startswith(_PAGE_THREAD):
        return fn(*args, **kwargs)
    return _PAGE_WORK.submit(fn, *args, **kwargs).result()


class PageModel(ValleyModel):
    """ValleyModel as the page runs it: built and stepped on the page's thread (see on_page_thread); the
    same model, day for day (Mesa's Reset builds another of this class)."""

    @functools.wraps(ValleyModel.__init__)  # its signature: SolaraViz's Reset reads the parameters from it
    def __init__(self, *args, **kwargs):
        on_page_thread(super().__init__, *args, **kwargs)

    def step(self) -> None:
        on_page_thread(super().step)


@solara.lab.on_kernel_start
def _release_on_close():
    """Each browser session's kernel, when it closes, gives its memory back (see give_back_memory)."""
    def cleanup():
        threading.Timer(RELEASE_DELAY_S, give_back_memory).start()
    return cleanup

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
    never lands half-way through a drawing), on the page's thread; a failure is one line in this card, never
    the whole page."""
    return on_page_thread(_draw, model, view, words)


def _draw(model, view, words: bool):
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
    """Where things stand: the status in words over the map, the numbers beside it (they wrap below it on a
    narrow screen)."""
    update_counter.get()
    view = solara.use_memo(lambda: on_page_thread(lambda: MapView(model, Figure(figsize=MAP_SIZE_IN, dpi=DPI))),
                           dependencies=[model])
    png, said, error, numbers = _snapshot(model, view, words=True)
    with solara.Column(gap="4px"):  # plain text: solara.Markdown would fetch KaTeX from a CDN
        if error:
            solara.Error(error)
            return
        solara.Text(said, style={"font-weight": "bold", "font-size": "15px"})
        with solara.Row(gap="16px", style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            with solara.Column(style={"flex": "4 1 640px", "min-width": "0"}):
                solara.Image(png, width="100%")
            # the monitors: a column beside the map, rows under it when the window is narrow
            with solara.Row(gap="10px", style={"flex": "1 0 200px", "flex-wrap": "wrap",
                                               "align-content": "flex-start"}):
                for label, value in numbers:
                    with solara.Column(gap="0px", style={"border": "1px solid #ccd1d1", "padding": "4px 8px",
                                                         "flex": "1 1 180px"}):
                        solara.Text(label, style={"font-size": "12px", "color": "#566573"})
                        solara.Text(value, style={"font-size": "17px", "font-weight": "bold"})


@solara.component
def Timeline(model):
    update_counter.get()
    view = solara.use_memo(
        lambda: on_page_thread(lambda: TimelineView(model, Figure(figsize=TIMELINE_SIZE_IN, dpi=DPI))),
        dependencies=[model])
    png, _, error, _ = _snapshot(model, view)
    if error:
        solara.Error(error)
    else:
        solara.Image(png, width="100%")


@solara.component
def ValleyPage(scenario_file=SCENARIO, params: dict | None = None):
    """The page: Mesa's SolaraViz controls (ModelController, ModelCreator, ShowSteps) in the sidebar, as
    SolaraViz lays them out, and the map as the largest element, full width with its monitors, the daily
    charts under it. (SolaraViz itself gives every component a half-width card.) Each browser session (and
    each notebook cell showing it) gets a model of its own, built from the controls' starting values and
    `params`."""
    c = solara.use_memo(lambda: controls(scenario_file), dependencies=[scenario_file])
    start = {k: v["value"] if isinstance(v, dict) else v for k, v in c.items()}
    built = solara.use_memo(lambda: PageModel(**{**start, **(params or {})}), dependencies=[scenario_file])
    model = solara.use_reactive(built)
    chosen = solara.use_reactive({})
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)  # Mesa's threaded drawing: not needed, the page thread draws
    with solara.AppBar():
        solara.AppBarTitle(f"redoubt: {model.value.spec['scenario']['title']}")
        solara.lab.ThemeToggle()
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            solara.SliderInt("Play interval (ms)", value=play_interval, min=1, max=500, step=10)
            solara.SliderInt("Render every (days)", value=render_interval, min=1, max=30)
            ModelController(model, model_parameters=chosen, play_interval=play_interval,
                            render_interval=render_interval, use_threads=use_threads)
        with solara.Card("Model parameters (apply on Reset)"):
            ModelCreator(model, c, model_parameters=chosen)
        with solara.Card("Information"):
            ShowSteps(model.value)
    with solara.Column(style={"padding": "8px 12px", "max-width": "1400px"}):
        ValleyMap(model.value)
        Timeline(model.value)


def make_page(scenario_file=SCENARIO, **params):
    """The page for a scenario, to show in Jupyter (keyword parameters start the model as the controls would)."""
    return ValleyPage(scenario_file, params)


page = make_page()
