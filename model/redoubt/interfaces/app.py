"""The browser page: Mesa's SolaraViz controls (play, step, reset, the parameters) in the sidebar; the valley
map as the largest element with the outcome in words over it and NetLogo-style monitors beside it; the daily
charts against the date under it. Controls apply when you press Reset.

    redoubt viz [SCENARIO] [--host 127.0.0.1] [--port 8765]    # `make viz` sets up first
    In Jupyter, evaluate in a cell:   from redoubt.interfaces.app import page; page

The scenario is `panjshir-2021` unless REDOUBT_VIZ_SCENARIO names another (redoubt viz sets it).
Needs the `viz` extra: pip install 'redoubt-valley[viz]'.
"""

from __future__ import annotations

import copy
import ctypes
import functools
import gc
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

import solara
import solara.lab
from mesa.visualization.solara_viz import ModelController, ModelCreator, ShowSteps
from mesa.visualization.utils import update_counter

from ..core.model import ValleyModel
from ..inputs.scenario import DEFAULT_SCENARIO, resolve_path, variant_names
from .page_worker import ModelReleased, PageWorker, make_view, picture

SCENARIO = os.environ.get("REDOUBT_VIZ_SCENARIO") or DEFAULT_SCENARIO
PLAY_INTERVAL_MS = 10
RELEASE_DELAY_S = 1.0  # after a session's kernel is closed, so its objects are gone when the memory is given back


# One thread talks to the page's model process (and draws a notebook's own models), in the order asked:
# sessions playing at once take turns (each gets a fair share of the machine: with a thread each, one session
# ran at 11 days a second and four others at 1.3-4.5).
_PAGE_THREAD = "redoubt-page"
_PAGE_WORK = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_PAGE_THREAD)
WORKER = PageWorker()


def on_page_thread(fn, *args, **kwargs):
    """fn(*args, **kwargs) on the page's thread, waiting for its turn (directly if already there)."""
    if threading.current_thread().name.startswith(_PAGE_THREAD):
        return fn(*args, **kwargs)
    try:
        future = _PAGE_WORK.submit(fn, *args, **kwargs)
    except RuntimeError as exc:  # the server is exiting (Ctrl-C) and its executor takes no more work
        raise ServerStopping("the page's server is stopping") from exc
    return future.result()


class ServerStopping(RuntimeError):
    """The server is exiting: a session still playing stops quietly."""


_SESSION_MODELS: dict[str, list] = {}  # a browser session's kernel id -> the handles of the models built in it


def _session_id() -> str | None:
    """The Solara kernel (browser session) this thread works for, if any."""
    from solara.server import kernel_context

    return kernel_context.get_current_context().id if kernel_context.has_current_context() else None


def give_back_memory(session: str | None = None) -> None:
    """What a closed session left goes: the model process drops its models (and ends when it holds none,
    giving all their memory back), and the server's own garbage is collected and the C allocator's free pages
    handed back (Solara's widgets; glibc keeps the pages of its arenas otherwise)."""
    on_page_thread(WORKER.release, _SESSION_MODELS.pop(session, []))
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): Python's own release is all there is
        pass


class PageModel:
    """ValleyModel as the page runs it: the model lives in the page's model process (page_worker), and this is
    its handle on the page: Mesa's controller steps it, the map and charts come back drawn. The same model, day
    for day (its constructor takes ValleyModel's parameters; Mesa's Reset builds another of this class)."""

    @functools.wraps(ValleyModel.__init__)  # its signature: SolaraViz's Reset reads the parameters from it
    def __init__(self, *args, **kwargs):
        self._handle, built = on_page_thread(WORKER.build, args, kwargs)
        _SESSION_MODELS.setdefault(_session_id(), []).append(self._handle)  # released when the session closes
        self.spec = built["spec"]
        self._update(built["state"])
        weakref.finalize(self, WORKER.drop, self._handle).atexit = False  # a Reset's old model, dropped

    def _update(self, state: dict) -> None:
        self.running, self.time, self.steps, self.day = state["running"], state["time"], state["steps"], state["day"]

    def step(self) -> None:
        try:
            self._update(on_page_thread(WORKER.call, "step", self._handle))
        except (ServerStopping, ModelReleased):  # the server is exiting, or this page's session has closed
            self.running = False  # Mesa's play loop ends here, without a traceback in the terminal

    def picture(self, kind: str, words: bool = False):
        """(png, status line, error, monitors) of the "map" or the "timeline", drawn in the model process."""
        try:
            return on_page_thread(WORKER.call, "picture", self._handle, kind, words)
        except Exception as exc:  # noqa: BLE001 - one line in the card; the rest of the page goes on
            return None, "", f"{kind} could not be drawn: {type(exc).__name__}: {exc}".splitlines()[0], []


@solara.lab.on_kernel_start
def _release_on_close():
    """Each browser session's kernel, when it closes, gives its memory back (see give_back_memory)."""
    session = _session_id()

    def cleanup():
        threading.Timer(RELEASE_DELAY_S, give_back_memory, args=(session,)).start()
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
    path = resolve_path(scenario_file)
    changed = path.stat().st_mtime_ns if path.exists() else None  # an edited file is read again
    return copy.deepcopy(_controls(str(scenario_file), changed))


@functools.lru_cache(maxsize=16)
def _controls(scenario_file: str, changed: int | None) -> dict:
    # once a scenario file (as last changed): the server builds no model per session
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


def _snapshot(model, view, words: bool = False):
    """A model of this process (a notebook's own) drawn on the page's thread: see page_worker.picture."""
    return on_page_thread(picture, model, view, words)


def _shown(model, kind: str, words: bool = False):
    """(png, status line, error, monitors) of a page model (drawn in the model process) or of a model of
    this process (a view made once per model, drawn here)."""
    remote = isinstance(model, PageModel)
    view = solara.use_memo(lambda: None if remote else on_page_thread(make_view, model, kind), dependencies=[model])
    return model.picture(kind, words) if remote else _snapshot(model, view, words)


@solara.component
def ValleyMap(model):
    """Where things stand: the status in words over the map, the numbers beside it (they wrap below it on a
    narrow screen)."""
    update_counter.get()
    png, said, error, numbers = _shown(model, "map", words=True)
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
    png, _, error, _ = _shown(model, "timeline")
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
