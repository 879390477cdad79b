"""The browser page's models in a process of their own: built, stepped and drawn there, every session's in
turn, by a process started with the first model and stopped when the last is released, so that all the
models and their pictures used goes back to the system when the sessions close.

Why a process: the page's server (Solara) lives as long as it serves, and memory that Python frees is not
given back by its allocators while other objects share their arenas (measured, issue 26: after 30 sessions
had closed, every model and figure collected and the C heap trimmed, the server still kept 133 MB). Solara's
own share stays in the server; the models' goes with the worker.

The server side is `PageWorker` (one per server; `WORKER`); `python -m redoubt.interfaces.page_worker` is the
worker. They speak over the worker's stdin and stdout in multiprocessing's framing: (operation, key, args)
one way, (ok, value) the other; a failure comes back as its exception and is raised in the server.
Needs matplotlib (the `viz` extra), not Solara.
"""

from __future__ import annotations

import collections
import os
import pickle
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

MAP_SIZE_IN, TIMELINE_SIZE_IN, DPI = (9.6, 5.4), (11.0, 5.6), 80  # about as shown at 1400 px wide


# ---------------------------------------------------------------- what the page shows --------------------------
def monitors(model) -> list[tuple[str, str]]:
    """The numbers beside the map, as NetLogo users expect them: (label, value)."""
    from .drawing import date_of

    return [("day", f"{model.day} ({date_of(model, model.day):%d %b %Y})"),
            (f"{model.defenders.name} active", f"{model.defenders.strength():,}"),
            (f"{model.attackers.name} active", f"{model.attackers.strength():,}"),
            ("food, days at the start draw", f"{model.days_at_reference('food'):.0f}"),
            ("ammunition, days at the start draw", f"{model.days_at_reference('ammo'):.0f}"),
            ("km of road held", f"{model.valley.road_km_held():.0f}")]


def picture(model, view, words: bool = False):
    """(png, status line, error, monitors): the view updated and drawn from the model between two days (its
    lock: a step never lands half-way through a drawing); a failure is one line, never an exception."""
    from .drawing import date_of, status_words

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


def make_view(model, kind: str):
    from matplotlib.figure import Figure

    from .drawing import MapView, TimelineView

    if kind == "map":
        return MapView(model, Figure(figsize=MAP_SIZE_IN, dpi=DPI))
    return TimelineView(model, Figure(figsize=TIMELINE_SIZE_IN, dpi=DPI))


# ---------------------------------------------------------------- the worker ------------------------------------
def state(model) -> dict:
    """What the page reads of a model between calls (Mesa's controller, its step counter)."""
    return {"running": model.running, "time": model.time, "steps": model.steps, "day": model.day}


class _Models:
    """The worker's models and their views, by the key the server gave each."""

    def __init__(self):
        self.models, self.views = {}, {}

    def build(self, key, args, kwargs):
        from ..core.model import ValleyModel

        model = ValleyModel(*args, **kwargs)
        self.models[key] = model
        return {"spec": model.spec, "state": state(model)}

    def step(self, key):
        model = self.models[key]
        model.step()
        return state(model)

    def picture(self, key, kind, words):
        model = self.models[key]
        view = self.views.get((key, kind))
        if view is None:
            view = self.views[key, kind] = make_view(model, kind)
        return picture(model, view, words)

    def release(self, key):
        self.models.pop(key, None)
        for kind in ("map", "timeline"):
            self.views.pop((key, kind), None)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling both ways, else a RuntimeError that says the same."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any exception type may fail to pickle
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def serve() -> None:
    """The worker: answer the server's calls until it closes the pipe (or dies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's; this process ends with its pipe
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    calls = Connection(os.dup(0), writable=False)
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything printed goes to the server's log, never into the answers
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    models = _Models()
    while True:
        try:
            op, key, args = calls.recv()
        except (EOFError, OSError):
            return
        try:
            answer = (True, getattr(models, op)(key, *args))
        except Exception as exc:  # noqa: BLE001 - raised in the server, where the call was made
            answer = (False, _portable(exc))
        try:
            answers.send(answer)
        except (BrokenPipeError, OSError):
            return


# ---------------------------------------------------------------- the server's side -----------------------------
class WorkerStopped(RuntimeError):
    """The page's model process ended under a model (killed, out of memory): Reset builds another."""


class ModelReleased(WorkerStopped):
    """The model was let go (its session closed, or a Reset replaced it): a play loop that still steps it, for a
    page no one has open any more, stops there."""


class PageWorker:
    """The server's end: starts the worker with the first model, forwards calls to it, and stops it when the
    last model is released. Calls come from the page's thread (app.on_page_thread), in the order asked; `drop`
    from any (it runs when a model's proxy is collected)."""

    def __init__(self):
        self._proc: subprocess.Popen | None = None
        self._calls: Connection | None = None
        self._answers: Connection | None = None
        self._live: set[tuple[int, int]] = set()  # (generation, key) of the models the worker holds
        self._lost: set[int] = set()  # the generations whose worker died under them (each model of the others let go)
        self._generation = 0
        self._next_key = 0
        self._dropped: collections.deque = collections.deque()  # handles of collected proxies (drop())
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._proc is not None

    def _start(self) -> None:
        # In a session of its own: a signal to the server's group (Ctrl-C, a service manager's SIGTERM) stops the
        # server, and the worker ends with its pipe, never under a call in flight
        self._proc = subprocess.Popen([sys.executable, "-m", "redoubt.interfaces.page_worker"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self._calls = Connection(os.dup(self._proc.stdin.fileno()), readable=False)
        self._answers = Connection(os.dup(self._proc.stdout.fileno()), writable=False)
        self._proc.stdin.close()
        self._proc.stdout.close()
        self._generation += 1

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for conn in (self._calls, self._answers):
            conn.close()
        self._live.clear()
        try:
            proc.wait(timeout=30)  # it ends at the end of its pipe, its memory with it
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _call(self, op: str, key, *args):
        try:
            self._calls.send((op, key, args))
            ok, value = self._answers.recv()
        except (EOFError, OSError) as exc:
            self._lost.add(self._generation)
            self._stop()
            raise WorkerStopped("the page's model process stopped; press Reset to start a new model") from exc
        if not ok:
            raise value
        return value

    def build(self, args: tuple, kwargs: dict) -> tuple[tuple[int, int], dict]:
        """A new model in the worker: its handle, and its spec and state."""
        with self._lock:
            if self._proc is None:
                self._start()
            self._next_key += 1
            handle = (self._generation, self._next_key)
            try:
                built = self._call("build", handle[1], args, kwargs)
            except Exception:
                if not self._live:  # a worker started for a model that could not be built
                    self._stop()
                raise
            self._live.add(handle)
            self._release_dropped()  # after the build: a Reset never stops and restarts the worker
            return handle, built

    def call(self, op: str, handle: tuple[int, int], *args):
        with self._lock:
            self._release_dropped()
            if handle not in self._live:
                gone = WorkerStopped if handle[0] in self._lost else ModelReleased
                raise gone("this model is no longer in the page's model process (its session closed, or the "
                           "process stopped); press Reset")
            return self._call(op, handle[1], *args)

    def drop(self, handle: tuple[int, int]) -> None:
        """The model's proxy was collected: the worker drops it at the next call or release(). Only
        queued here, as a collection can run inside any call, on any thread."""
        self._dropped.append(handle)

    def release(self, handles) -> None:
        """The worker drops these models (a closed session's) and those whose proxies were collected, and stops
        when it holds none."""
        with self._lock:
            self._dropped.extend(handles)
            self._release_dropped()

    def _release_dropped(self) -> None:
        while self._dropped:
            handle = self._dropped.popleft()
            if handle not in self._live:
                continue
            self._live.discard(handle)
            if not self._live:
                self._stop()
            else:
                try:
                    self._call("release", handle[1])
                except WorkerStopped:
                    pass


if __name__ == "__main__":
    serve()
