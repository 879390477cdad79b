"""The browser page (model/redoubt/interfaces/app.py): controls that apply on Reset, Step, the map and charts, offline.

A fast test drives Mesa's own controller and parameter components (what SolaraViz's sidebar holds) with
solara.render; an end-to-end test serves the page with `redoubt viz` and uses it in headless Chromium."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

import pytest

solara = pytest.importorskip("solara", reason="the viz extra is not installed (make viz or make setup)")
import ipyvuetify as v  # noqa: E402
from mesa.visualization.solara_viz import ModelController, ModelCreator  # noqa: E402
from redoubt.core.model import ValleyModel  # noqa: E402
from redoubt.interfaces.app import SLIDERS, Timeline, ValleyMap, controls  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OFFLINE_PINS = {"solara-assets": "1.58.2", "ipyvue": "1.13.0", "ipyvuetify": "1.12.0"}


def test_offline_front_end_pins_are_locked_and_installed():
    lock = dict(line.strip().lower().replace("_", "-").split("==") for line in
                (ROOT / "requirements.lock").read_text().splitlines() if "==" in line)
    for name, pinned in OFFLINE_PINS.items():
        assert lock[name] == pinned and version(name) == pinned, name


def test_controls_start_at_the_scenario_values():
    c = controls("panjshir-2021")
    assert c["variant"]["values"] == ["none", "air", "passes", "air+passes"]
    assert c["defender_strength"]["value"] == 6000 and c["rng"]["type"] == "SliderInt"
    assert c["attacker_committed"]["value"] == 12000  # the waves' total, not the scenario's 0 ("as the waves say")
    start = {k: c[k]["value"] for k, *_ in SLIDERS}
    assert ValleyModel(rng=3, **start).run() == ValleyModel(rng=3).run()  # untouched controls change nothing
    assert {k for k, *_ in SLIDERS} <= set(c)


def render_sidebar(model):
    """What SolaraViz puts in its sidebar, wired the same way, with the map and charts of `model` (a reactive):
    the render context, to find and click its widgets."""
    @solara.component
    def Sidebar():
        params = solara.use_reactive({})
        ModelController(model, model_parameters=params, play_interval=solara.use_reactive(10),
                        render_interval=solara.use_reactive(1), use_threads=solara.use_reactive(False))
        ModelCreator(model, controls(), model_parameters=params)
        ValleyMap(model.value)
        Timeline(model.value)

    return solara.render(Sidebar(), handle_error=False)[1]


def test_reset_applies_the_controls_and_step_advances():
    model = solara.reactive(ValleyModel(rng=1, fighters_per_agent=50))
    rc = render_sidebar(model)
    rc.find(v.Select, label="Resupply (variant)").widget.v_model = "air+passes"
    rc.find(v.Slider, label="Defenders").widget.v_model = 3500
    rc.find(v.Slider, label="Fighters per agent").widget.v_model = 20
    rc.find(v.Slider, label="Seed").widget.v_model = 7
    first = model.value
    rc.find(v.Btn, children=["Reset"]).widget.click()
    m = model.value
    assert m is not first and m.day == 0
    assert m.spec["_variant"] == "air+passes" and m.spec["sides"]["defender"]["strength"] == 3500
    assert m.fighters_per_agent == 20 and m.scenario.rng == 7
    for _ in range(3):
        rc.find(v.Btn, children=["Step"]).widget.click()
    assert model.value is m and m.day == 3
    settings = {k: c["value"] if isinstance(c, dict) else c for k, c in controls().items()}
    settings.update(variant="air+passes", defender_strength=3500, fighters_per_agent=20, rng=7)
    reference = ValleyModel(**settings)
    for _ in range(3):
        reference.step()
    assert m.datacollector.model_vars["food_days_left"] == reference.datacollector.model_vars["food_days_left"]
    shown = [w for w in rc.find(v.Sheet).widgets if "day 3 (air+passes)" in repr(w.children)]
    assert shown, "the page shows the new day"


# ---------------------------------------------------------------- in a real browser ---------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHROMIUM = "/usr/bin/chromium"
SHOWN_DAY = "() => +document.body.innerText.match(/day (\\d+) \\(/)[1]"
# day n reached, or the run already over (the valley fell, or winter came)
DAY_AT_LEAST = ("n => { const t = document.body.innerText; const m = t.match(/day (\\d+) \\(/); "
                "return (m && +m[1] >= n) || /fell on|halted|repulsed|horizon came/.test(t); }")


class _Server:
    """`redoubt viz` on a free port, started in its own session (so that the test can stop it and its workers),
    its output read as it comes: a pipe no one reads fills, and a server writing to a full pipe stalls, with
    every session it serves."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "redoubt", "viz", "--port", str(self.port)], cwd=tmp_path,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", start_new_session=True)  # a stray byte never ends the reader
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.append(line)

    def log(self) -> str:
        return "".join(self._lines)

    def stop(self) -> str:
        """Stops the server (and its model process); its whole output."""
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=60)
        return self.log()


def _chromium_and_server(tmp_path):
    """Skip (or, in CI, fail) without Debian's chromium; else playwright and a started `_Server`."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium (scripts/bootstrap.sh installs it when CI=true)")
        pytest.skip("no headless Chromium here (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    return playwright, _Server(tmp_path)


def _open(page, server, playwright) -> None:
    for _ in range(600):  # the server is starting: a guard, not a timing
        try:
            page.goto(f"http://127.0.0.1:{server.port}/", timeout=10_000)
            return
        except playwright.Error:
            assert server.proc.poll() is None, server.log()
            time.sleep(0.2)


def _local(url: str) -> bool:
    """Served by this machine: data: and blob: URLs of the page, or anything from 127.0.0.1."""
    from urllib.parse import urlsplit

    if url.startswith("data:"):
        return True
    return urlsplit(url.removeprefix("blob:")).hostname == "127.0.0.1"


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.browser
def test_page_in_headless_chromium(tmp_path, record_property):
    playwright, server = _chromium_and_server(tmp_path)
    requests = []
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            _open(page, server, playwright)
            page.get_by_text("23 August 2021, day 0").first.wait_for(timeout=120_000)
            chart = page.locator("img").nth(1)
            before = chart.get_attribute("src")

            page.get_by_label("Resupply (variant)").click(force=True)
            page.get_by_role("option", name="air+passes").click()
            page.get_by_role("button", name="Reset").click()
            page.get_by_text("day 0 (air+passes)").first.wait_for(timeout=60_000)
            step_seconds = []
            for day in range(1, 11):
                t0 = time.perf_counter()
                page.get_by_role("button", name="Step").click()
                page.get_by_text(f"day {day} (air+passes)").first.wait_for(timeout=60_000)
                step_seconds.append(time.perf_counter() - t0)
            assert page.get_by_text("02 September 2021, day 10").count() >= 1
            assert chart.get_attribute("src") != before, "the charts moved on"
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            if os.environ.get("REDOUBT_SCREENSHOT"):
                shutil.copy(tmp_path / "page.png", os.environ["REDOUBT_SCREENSHOT"])

            t0 = time.perf_counter()  # Play: how many days a second (measured, not asserted)
            page.get_by_role("button", name="▶").click()
            page.get_by_role("button", name="❚❚").wait_for(timeout=60_000)  # playing: the button turned
            try:
                page.wait_for_function(DAY_AT_LEAST, arg=40, timeout=240_000)  # a day shows only briefly
            except playwright.Error:
                page.screenshot(path=str(tmp_path / "play-stuck.png"), full_page=True)
                raise AssertionError(f"Play did not reach day 40: {page.inner_text('body')[-600:]!r}") from None
            played = time.perf_counter() - t0
            reached = int(page.evaluate(SHOWN_DAY))
            pause = page.get_by_role("button", name="❚❚")
            if pause.is_enabled():  # still running (it may have reached the end already)
                pause.click()
            browser.close()
        record_property("step_click_to_shown_s_median", round(sorted(step_seconds)[len(step_seconds) // 2], 3))
        record_property("play_days_per_second", round((reached - 10) / played, 1))
    finally:
        log = server.stop()
    assert "Could not load URL" not in log, log  # the server fetched nothing from a CDN either
    outside = sorted({u for u in requests if not _local(u)})
    assert requests and not outside, outside  # offline: every asset from the installed packages


def test_the_page_renders_as_a_notebook_shows_it():
    """`from redoubt.interfaces.app import page; page` in a cell: each rendering gets a model of its own."""
    import ipywidgets
    from redoubt.interfaces.app import make_page

    box, rc = solara.render(make_page(fighters_per_agent=50, rng=3), handle_error=False)
    assert "23 August 2021, day 0 (none): the offensive goes on" in repr(box)
    images = rc.find(ipywidgets.Image).widgets
    assert len(images) == 2 and all(bytes(w.value[:4]) == b"\x89PNG" for w in images)  # the map and the charts


@pytest.mark.subprocess
def test_viz_with_a_bad_scenario_exits_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "redoubt", "viz", "no-such-valley"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no such scenario file" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_page_says_the_fall_on_the_day_it_happens_and_stops_there():
    from redoubt.interfaces.app import _snapshot
    from redoubt.interfaces.drawing import MapView, TimelineView, status_words

    c = controls("panjshir-2021")
    assert c["collapse__run_on_after_fall"]["value"] is False  # the run stops at the fall unless asked
    m = ValleyModel(rng=1, variant="none", collapse__run_on_after_fall=False)
    timeline = TimelineView(m)
    while m.running:
        m.step()
        if m.collapse_day is not None:
            assert m.collapse_day == m.day and "the valley fell on" in status_words(m)  # that very day
    assert m.end_reason == "fell" and m.day == m.collapse_day
    timeline.update()
    assert "fell" in timeline.marks  # the charts mark it
    png, said, error, numbers = _snapshot(m, MapView(m), words=True)
    assert error is None and png[:4] == b"\x89PNG" and "fell on" in said and m.fell_by in said
    assert dict(numbers)["km of road held"] == f"{m.valley.road_km_held():.0f}" and len(numbers) == 6


def test_the_page_follows_a_run_on_when_asked_and_says_so():
    """With the run-on asked for, the page plays on past the fall: the status says the run follows what is left
    of the resistance, the charts go on drawing its days, and the outcome stays the fall's."""
    from redoubt.interfaces.drawing import TimelineView, status_words

    m = ValleyModel(rng=0, variant="none", collapse__run_on_after_fall=True)  # falls on day 82, followed to 97
    timeline = TimelineView(m)
    while m.running and (m.collapse_day is None or m.day < m.collapse_day + 3):
        m.step()
    assert m.running_on and m.end_reason == "fell", (m.day, m.collapse_day)
    assert "the valley fell on" in status_words(m) and "following what is left" in status_words(m)
    timeline.update()
    ((x, _), *_) = [line.get_data() for _, _, line in timeline.lines]
    assert len(x) == m.day + 1  # the run's days and the run-on's so far
    o = m.outcome()
    assert o["end_day"] == m.collapse_day and o["run_on_end_day"] == m.day
    m.run()
    assert "followed to" in status_words(m) and not m.running_on


def test_views_draw_a_whole_day_while_another_thread_steps():
    """Drawing reads the model under its lock: no half-stepped state (a shape mismatch, a stale mask)."""
    import threading

    from redoubt.interfaces.app import _snapshot
    from redoubt.interfaces.drawing import MapView, TimelineView

    m = ValleyModel(rng=2, fighters_per_agent=20, horizon_days=30)
    views = [MapView(m), TimelineView(m)]
    done = threading.Event()

    def play():
        while m.running and not done.is_set():
            m.step()
        done.set()

    t = threading.Thread(target=play)
    t.start()
    errors, drawn = [], 0
    while not done.is_set() or drawn < 4:
        for view in views:
            _, _, error, _ = _snapshot(m, view)
            errors += [error] if error else []
            drawn += 1
            time.sleep(0.001)  # as a page between redraws: the stepping thread gets the lock (not a timing test)
    t.join()
    assert errors == [] and drawn >= 4


@pytest.mark.parametrize("scenario", ["panjshir-2021", "swat-2009", "history/panjshir-1996"])
def test_map_names_never_overlap_each_other_or_a_place_at_the_page_size(scenario):
    """Every name finds a free spot on the page's map (and on draw_map's default size), checked in the drawn
    figure: no two names overlap and none covers a place."""
    import itertools

    from matplotlib.figure import Figure
    from redoubt.interfaces.drawing import MapView
    from redoubt.interfaces.page_worker import DPI, MAP_SIZE_IN

    for size in (MAP_SIZE_IN, (10, 4.4)):
        model = ValleyModel(scenario, rng=1)
        view = MapView(model, Figure(figsize=size, dpi=DPI))
        assert view.crowded == [], (scenario, size)
        renderer = view.fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in view._labels]
        assert not [pair for pair in itertools.combinations(boxes, 2) if pair[0].overlaps(pair[1])]
        places = view.ax.transData.transform(model.valley.xy)
        assert not [(b, xy) for b in boxes for xy in places if b.x0 < xy[0] < b.x1 and b.y0 < xy[1] < b.y1]


@pytest.mark.parametrize("scenario", ["panjshir-2021", "swat-2009", "history/panjshir-1982"])
def test_map_counts_never_overlap_each_other_or_a_name_as_a_run_goes_on(scenario):
    """Places a few km apart (Chakdara and Barikot in Swat, Rukha and Bazarak in 1982) have their counts
    moved out of each other's way, day by day, in the drawn figure at the page's size; the title fits."""
    import itertools

    from matplotlib.figure import Figure
    from redoubt.interfaces.drawing import MapView
    from redoubt.interfaces.page_worker import DPI, MAP_SIZE_IN

    model = ValleyModel(scenario, rng=1)
    view = MapView(model, Figure(figsize=MAP_SIZE_IN, dpi=DPI))
    renderer = view.fig.canvas.get_renderer()
    names = [t.get_window_extent(renderer) for t in view._labels]
    width = view.fig.bbox.width
    while model.running and model.day < 40:
        model.step()
        view.update()
        counts = [t.get_window_extent(renderer) for ts in view.counts.values() for t in ts if t.get_text()]
        assert not [p for p in itertools.combinations(counts, 2) if p[0].overlaps(p[1])], model.day
        assert not [(c, n) for c in counts for n in names if c.overlaps(n)], model.day
        title = view.title.get_window_extent(renderer)
        assert 0 <= title.x0 and title.x1 <= width, (model.day, view.title.get_text())


def test_a_view_that_fails_is_one_line_in_its_card():
    from redoubt.interfaces.app import _snapshot

    class Broken:
        def update(self):
            raise ValueError("shape mismatch\nsecond line")

    png, _, error, _ = _snapshot(ValleyModel(rng=1), Broken())
    assert png is None and error == "Broken could not be drawn: ValueError: shape mismatch"


def _turns(pages, rounds=5):
    """Days each playing page goes in the same stretch of time: (days gone, what each round saw). A round
    lasts until one page has gone 10 days; one cut short because a page's run ended (it started seconds ahead
    of the others: on a busy machine the five clicks on Play come seconds apart, and a run on its own goes
    several days a second) is set aside, and the next measures the pages still playing."""
    ended = lambda page: page.evaluate(DAY_AT_LEAST, 10**6)  # noqa: E731
    playing, seen = list(pages), []
    for _ in range(rounds):
        playing = [page for page in playing if not ended(page)]
        if len(playing) < 2:
            break
        t0, start = time.perf_counter(), [int(page.evaluate(SHOWN_DAY)) for page in playing]
        for _ in range(3000):  # a guard, 0.1 s a turn
            gone = [int(page.evaluate(SHOWN_DAY)) - d for page, d in zip(playing, start)]
            if max(gone) >= 10 or any(ended(page) for page in playing):
                break
            playing[0].wait_for_timeout(100)
        seen.append({"pages": [pages.index(page) for page in playing], "start": start, "gone": gone,
                     "seconds": round(time.perf_counter() - t0, 1)})
        if max(gone) >= 10:
            return gone, seen
    return [0], seen  # no full round: the assertion shows what each round saw


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.browser
def test_five_sessions_playing_at_once_never_break(tmp_path, record_property):
    """Five browser sessions play at once until one has gone 10 days (`_turns`): none is left far behind (they
    take turns), no exception in the server's log, every page still has its controls. Each session's days a
    second are recorded."""
    playwright, server = _chromium_and_server(tmp_path)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            pages = [browser.new_page(viewport={"width": 1400, "height": 1000}) for _ in range(5)]
            for page in pages:
                _open(page, server, playwright)
                page.get_by_text("23 August 2021, day 0").first.wait_for(timeout=120_000)
            for page in pages:
                page.get_by_role("button", name="▶").click()
            for page in pages:  # every session playing
                page.wait_for_function(DAY_AT_LEAST, arg=1, timeout=300_000)
            gone, seen = _turns(pages)
            # Fair shares: the sessions take turns on the page's thread, so none falls far behind, however
            # busy the machine (a ratio of days over the same stretch of time, not a timing)
            assert max(gone) >= 10 and min(gone) >= max(gone) / 3, seen
            for page in pages:
                assert page.get_by_role("button", name="Reset").count() == 1  # the page is whole
                assert "could not be drawn" not in page.inner_text("body")
            browser.close()
        record_property("days_per_second_per_session", [round(g / seen[-1]["seconds"], 2) for g in gone])
    finally:
        log = server.stop()
    assert "Traceback" not in log and "raised exception" not in log, log[-3000:]


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_viz_warns_off_loopback_and_keeps_a_closed_session_a_minute(monkeypatch, capsys, host, warned):
    """`redoubt viz --host` off loopback warns that the page has no authentication; the server it starts keeps
    a closed browser's session for a minute (Solara's default is 24 h), unless the user set it."""
    import subprocess as sp

    from redoubt.interfaces.cli import main

    seen = {}

    class Server:
        def __init__(self, argv, env):
            seen.update(argv=argv, env=env)

        def wait(self):
            return 0

    monkeypatch.setattr(sp, "Popen", Server)
    monkeypatch.delenv("SOLARA_KERNEL_CULL_TIMEOUT", raising=False)
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    assert main(["viz", "--host", host, "--port", "8799"]) == 0
    assert ("no authentication" in capsys.readouterr().err) == warned
    assert seen["env"]["SOLARA_KERNEL_CULL_TIMEOUT"] == "60s" and host in seen["argv"]
    assert seen["env"]["PYTHONMALLOC"] == "malloc"  # the server gives back more of what sessions used
    monkeypatch.setenv("SOLARA_KERNEL_CULL_TIMEOUT", "2h")
    main(["viz", "--host", host, "--port", "8799"])
    assert seen["env"]["SOLARA_KERNEL_CULL_TIMEOUT"] == "2h"


# ---------------------------------------------------------------- the page's model process -----------------
def test_page_models_run_in_a_process_of_their_own_day_for_day_and_it_ends_with_the_last():
    """Issue 26 (6): the page's models live in a process that ends when the last is released, so that their
    memory goes back to the system; a page model is the same model, day for day, as one built here."""
    from redoubt.interfaces.app import WORKER, PageModel, _snapshot, give_back_memory, make_view

    page, here = PageModel(rng=3, fighters_per_agent=50), ValleyModel(rng=3, fighters_per_agent=50)
    proc = WORKER._proc
    assert proc is not None and proc.pid != os.getpid() and proc.poll() is None
    for _ in range(4):
        page.step()
        here.step()
    assert (page.day, page.steps, page.running) == (here.day, here.steps, here.running) == (4, 4, True)
    for kind, words in (("map", True), ("timeline", False)):
        remote, local = page.picture(kind, words), _snapshot(here, make_view(here, kind), words)
        assert remote[2] is None and remote[1:] == local[1:], kind  # status line and monitors
        assert remote[0][:4] == b"\x89PNG" and remote[0] == local[0], kind  # the same picture, byte for byte
    give_back_memory(None)  # as when its session closes: the models built outside a session (this test's)
    assert not WORKER.running and proc.wait(timeout=60) == 0  # a bound against a hang, not a timing
    page.step()  # released (its session closed): a play loop still stepping it stops there, quietly
    assert page.running is False and page.day == 4
    assert "press Reset" in page.picture("map")[2]  # and a page that still shows it says so, in one line
    again = PageModel(rng=3, fighters_per_agent=50)
    assert WORKER.running and again.day == 0
    give_back_memory(None)


def test_a_lost_model_process_is_one_line_and_a_new_model_starts_another():
    from redoubt.interfaces.app import WORKER, PageModel, give_back_memory
    from redoubt.interfaces.page_worker import WorkerStopped

    page = PageModel(rng=1, fighters_per_agent=50)
    WORKER._proc.kill()  # killed from outside (out of memory, an operator)
    with pytest.raises(WorkerStopped, match="press Reset"):
        page.step()
    png, _, error, _ = page.picture("map", True)
    assert png is None and "press Reset" in error and "\n" not in error
    fresh = PageModel(rng=1, fighters_per_agent=50)
    fresh.step()
    assert fresh.day == 1
    with pytest.raises(Exception, match="no such variant"):  # a bad control: the model's own error, here
        PageModel(rng=1, variant="nope")
    give_back_memory(None)
    assert not WORKER.running


def test_the_controls_follow_an_edited_scenario_file(tmp_path):
    """The controls are read once a scenario file (the server builds no model per session), and again when
    the file changes: a user who edits it and reloads the page sees the new starting values."""
    f = tmp_path / "mine.toml"
    f.write_text('extends = "panjshir-2021"\n[changes]\n"sides.defender.strength" = 4000\n')
    assert controls(f)["defender_strength"]["value"] == 4000
    f.write_text('extends = "panjshir-2021"\n[changes]\n"sides.defender.strength" = 3000\n')
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))  # a later edit, whatever the clock
    assert controls(f)["defender_strength"]["value"] == 3000


def test_a_page_still_playing_when_the_server_stops_ends_quietly(monkeypatch):
    """Ctrl-C while a session plays: the server's executor takes no more work, and the play loop ends without
    a traceback in the terminal (Mesa's loop prints any exception's)."""
    from concurrent.futures import ThreadPoolExecutor

    from redoubt.interfaces import app

    page = app.PageModel(rng=1, fighters_per_agent=50)
    stopped = ThreadPoolExecutor(1)
    stopped.shutdown()
    monkeypatch.setattr(app, "_PAGE_WORK", stopped)  # as at the interpreter's exit
    page.step()
    assert page.running is False and page.day == 0
    monkeypatch.undo()
    app.give_back_memory(None)


def test_reset_applies_the_controls_to_a_page_model_in_the_model_process():
    """As the page serves it (PageModel: the model in the model process), wired as SolaraViz wires the sidebar:
    Reset applies the controls, the run-on checkbox included, Step advances, and what is shown is the same
    model's, built here."""
    from redoubt.interfaces.app import PageModel, give_back_memory

    model = solara.reactive(PageModel(rng=1, fighters_per_agent=50))
    rc = render_sidebar(model)
    rc.find(v.Select, label="Resupply (variant)").widget.v_model = "air"
    rc.find(v.Slider, label="Defenders").widget.v_model = 4000
    rc.find(v.Slider, label="Seed").widget.v_model = 9
    rc.find(v.Checkbox, label="Follow the resistance after the fall").widget.v_model = True
    first = model.value
    rc.find(v.Btn, children=["Reset"]).widget.click()
    m = model.value
    assert isinstance(m, PageModel) and m is not first and m.day == 0
    assert m.spec["_variant"] == "air" and m.spec["sides"]["defender"]["strength"] == 4000
    assert m.spec["collapse"]["run_on_after_fall"] is True
    for _ in range(3):
        rc.find(v.Btn, children=["Step"]).widget.click()
    assert model.value is m and m.day == 3
    settings = {k: c["value"] if isinstance(c, dict) else c for k, c in controls().items()}
    settings.update(variant="air", defender_strength=4000, rng=9, collapse__run_on_after_fall=True)
    reference = ValleyModel(**settings)
    for _ in range(3):
        reference.step()
    shown = [w for w in rc.find(v.Sheet).widgets if "day 3 (air)" in repr(w.children)]
    assert shown, "the page shows the new day"
    text = " ".join(repr(w.children) for w in rc.find(v.Sheet).widgets)
    assert f"{reference.defenders.strength():,}" in text and f"{reference.attackers.strength():,}" in text
    rc.close()
    give_back_memory(None)
