"""Pictures of one run, for the browser page (`app.py`), notebooks and reports: the valley map and the
daily charts against the date. matplotlib only (no pyplot: a notebook's figures are left alone).

Each picture is a view made once per model and updated in place (`update()` moves markers and lines,
nothing is laid out again), so the page can redraw it several times a second.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, NamedTuple

import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..core.space import Control

SIDE_COLOUR = {"attacker": "#c0392b", "defender": "#2471a3"}
HELD_COLOUR = {Control.ATTACKER: "#f5b7b1", Control.NONE: "#e5e7e9", Control.DEFENDER: "#aed6f1"}
STORE_COLOUR = "#b9770e"


def date_of(model, day: int) -> dt.date:
    return model.start_date + dt.timedelta(days=int(day))


def status_words(model) -> str:
    """Where the run stands, in words, from the day it happens: going on; the valley fell (when, why, by which
    rule), the floor lost, organised resistance ended; held to winter, repulsed."""
    reason = model.end_reason
    on = lambda day: f"{date_of(model, day):%d %b %Y}"  # noqa: E731
    if model.collapse_day is not None:
        said = f"the valley fell on {on(model.collapse_day)} ({model.fell_by}; cause: {model.cause})"
        if model.floor_lost_day is not None:
            said += f"; the valley floor lost on {on(model.floor_lost_day)}"
        if model.resistance_ended_day is not None:
            said += f"; organised resistance ended on {on(model.resistance_ended_day)}"
        if model.running_on:
            said += "; the run goes on, following what is left of the resistance"
        elif model.at_fall is not None and model.day > model.collapse_day:
            said += f"; what was left of the resistance followed to {on(model.day)}"
        return said
    if reason is None:
        return "the offensive goes on"
    if reason == "winter":
        return f"winter halted the offensive on {date_of(model, model.day):%d %b %Y}: the valley held to winter"
    if reason == "repulsed":
        return f"the offensive was repulsed by {date_of(model, model.day):%d %b %Y}: the valley held"
    return f"the horizon came on {date_of(model, model.day):%d %b %Y} with the valley still holding"


class _Box(NamedTuple):
    """A text's box in pixels, as matplotlib's Bbox names its sides (cheaper to make, as counts are each frame)."""
    x0: float
    x1: float
    y0: float
    y1: float


def _overlap_area(box, others, pad_x: float = 0.0) -> float:
    """The area (px^2) by which `box` overlaps `others` (Bbox or _Box), each widened by pad_x on either side."""
    return sum(max(0.0, min(box.x1, o.x1 + pad_x) - max(box.x0, o.x0 - pad_x)) *
               max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0)) for o in others)


def map_title(model) -> str:
    """The date and where the run stands, on one line over the map (the page's status line above it, and the
    charts' marks, carry the floor lost and the end of organised resistance)."""
    head = f"{date_of(model, model.day):%d %B %Y} (day {model.day})"
    if model.collapse_day is None:
        return f"{head}: {status_words(model)}"
    said = f"{head}: the valley fell on {date_of(model, model.collapse_day):%d %b} ({model.fell_by})"
    return said + ("; following what is left of the resistance" if model.running_on else "")


class _View:
    """A figure drawn once, then updated: `png()` restores the drawn background (axes, labels, what does
    not change) and draws only the artists that move, as a browser page needs several times a second.
    `fig` stays an ordinary figure (savefig draws everything)."""

    fig: Figure
    dynamic: list

    def _attach_canvas(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(self.fig)
        self._background = None

    def invalidate(self) -> None:
        """Something in the background changed (limits, a closed link): draw it again next time."""
        self._background = None

    def png(self) -> bytes:
        import io

        from PIL import Image

        canvas = self.fig.canvas
        if self._background is None:
            for a in self.dynamic:
                a.set_animated(True)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            for a in self.dynamic:
                a.set_animated(False)
        else:
            canvas.restore_region(self._background)
        for a in self.dynamic:
            self.fig.draw_artist(a)
        w, h = canvas.get_width_height()
        out = io.BytesIO()
        Image.frombuffer("RGBA", (w, h), bytes(canvas.buffer_rgba()), "raw", "RGBA", 0, 1).save(
            out, format="png", compress_level=1)
        return out.getvalue()


class MapView(_View):
    """The valley at its own coordinates (km along the valley, km across): places coloured by who holds
    them, each side's fighters as a disc sized by their number (with the count), stores sized by what is
    left (x: captured or destroyed), links (dotted red: closed by snow), passes open or closed with their
    snow depth; the date in the title."""

    OFFSET: ClassVar[dict] = {"attacker": (-2.2, 2.8), "defender": (2.2, 2.8)}  # a side's disc beside a place
    TEXT_PT: ClassVar[float] = 8.0  # names, counts and pass states, unless the map is too small for it
    SMALLER_PT: ClassVar[tuple] = (7.5, 7.0, 6.5, 6.0, 5.5)  # tried in turn while a name finds no free spot

    def __init__(self, model, fig: Figure | None = None):
        self.model = model
        v = model.valley
        self.fig = fig or Figure(figsize=(10, 4.4), dpi=80)
        ax = self.ax = self.fig.subplots()
        xy = v.xy
        self.links = []
        for a, b, data in v.graph.edges(data=True):
            i, j = v.index[a], v.index[b]
            (line,) = ax.plot(xy[[i, j], 0], xy[[i, j], 1], color="#7f8c8d", zorder=1,
                              lw=2.5 if data["kind"] == "road" else 1.2, ls="-" if data["kind"] == "road" else "--")
            self.links.append((data, line))
        self.places = {}
        for kind, marker in {"road": "o", "side": "o", "flank": "o", "pass": "^", "outside": "s"}.items():
            idx = np.nonzero(v.kind == kind)[0]
            if len(idx):
                self.places[kind] = (idx, ax.scatter(xy[idx, 0], xy[idx, 1], s=150, marker=marker,
                                                     edgecolors="#34495e", linewidths=1, zorder=2))
        self._labels = [ax.annotate(name.split(" (")[0], (xy[i, 0], xy[i, 1]), fontsize=self.TEXT_PT,
                                    color="#2c3e50")
                        for i, name in enumerate(v.names)]
        self.discs, self.counts, self.count_at = {}, {}, {}
        for side in ("attacker", "defender"):
            dx, dy = self.OFFSET[side]
            self.discs[side] = ax.scatter(xy[:, 0] + dx, xy[:, 1] + dy, s=np.zeros(v.n), color=SIDE_COLOUR[side],
                                          alpha=0.8, zorder=3)
            away = "right" if dx < 0 else "left"  # the two counts of a place grow away from each other
            self.count_at[side] = xy + [dx, dy + 1.8]
            self.counts[side] = [ax.annotate("", tuple(self.count_at[side][i]), fontsize=self.TEXT_PT, ha=away,
                                             color=SIDE_COLOUR[side], weight="bold", zorder=4) for i in range(v.n)]
        stores = list(model.stores)
        sxy = np.array([[xy[s.cell.idx, 0], xy[s.cell.idx, 1] - 1.6] for s in stores]).reshape(-1, 2)
        self.stores = stores
        self.store_dots = ax.scatter(sxy[:, 0], sxy[:, 1], s=np.zeros(len(stores)), marker="s", color=STORE_COLOUR,
                                     edgecolors="black", linewidths=0.5, zorder=3)
        self.store_lost = ax.scatter(sxy[:, 0], sxy[:, 1], s=np.zeros(len(stores)), marker="x", color="black",
                                     zorder=3)
        self.passes = [(i, ax.annotate("", (xy[i, 0], xy[i, 1] + 6.5), fontsize=self.TEXT_PT, ha="center",
                                            color="#1b4f72"))
                       for i in np.nonzero(v.is_pass)[0]]
        # text for the layout; update() sets it
        self.title = ax.set_title("date (day): status", fontsize=self.TEXT_PT + 2)
        ax.set_xlabel("km along the valley from the mouth", fontsize=self.TEXT_PT + 1)
        ax.set_ylabel("km across", fontsize=self.TEXT_PT + 1)
        ax.tick_params(labelsize=self.TEXT_PT)
        ax.set_xlim(xy[:, 0].min() - 8, xy[:, 0].max() + 8)
        ax.set_ylim(xy[:, 1].min() - 8, xy[:, 1].max() + 10)
        ax.legend(handles=[
            Line2D([], [], marker="o", ls="", color=SIDE_COLOUR["attacker"], label=model.attackers.name),
            Line2D([], [], marker="o", ls="", color=SIDE_COLOUR["defender"], label=model.defenders.name),
            Line2D([], [], marker="s", ls="", color=STORE_COLOUR, label="store (size: t left)"),
            Line2D([], [], marker="o", ls="", color=HELD_COLOUR[Control.DEFENDER], markeredgecolor="#34495e",
                   label="held by defenders"),
            Line2D([], [], marker="o", ls="", color=HELD_COLOUR[Control.ATTACKER], markeredgecolor="#34495e",
                   label="held by attackers")], fontsize=self.TEXT_PT, loc="upper center", bbox_to_anchor=(0.5, -0.13),
                  ncol=5, frameon=False)  # below the map: never over a place
        self.fig.tight_layout()  # once: updates move artists, they never re-lay the figure out
        for pt in (self.TEXT_PT, *self.SMALLER_PT):
            self._place_labels(pt)
            if not self.crowded:
                break
        self.dynamic = [dots for _, dots in self.places.values()] + list(self.discs.values()) + [
            t for texts in self.counts.values() for t in texts] + [self.store_dots, self.store_lost] + [
            t for _, t in self.passes] + [self.title]
        self._attach_canvas()
        self._closed = None
        self.update()

    # Where a place's name may go, in points from the place: below, above, right, left, further below/above.
    # at 6.5 pt; scaled with the text
    LABEL_SPOTS: ClassVar[tuple] = tuple(
        ((dx, dy), ha, va) for d in (0, 8, 16, 24, 34, 46, 60) for (dx, dy), ha, va in (
            ((0, -9 - d), "center", "top"), ((0, 16 + d), "center", "bottom"),
            ((9, -2 - d), "left", "center"), ((-9, -2 - d), "right", "center"),
            ((9, 8 + d), "left", "center"), ((-9, 8 + d), "right", "center"),
            ((9 + d, -2), "left", "center"), ((-9 - d, -2), "right", "center")))

    def _place_labels(self, pt: float) -> None:
        """Each place's name, at `pt`, at the first spot around it where it overlaps no name placed before it,
        no place, disc, count, store or pass state (greedy, from the mouth up; measured in the drawn figure);
        where none is free, the spot that overlaps least, and the name is listed in `crowded`."""
        from matplotlib.transforms import Bbox

        canvas = self.fig.canvas if self.fig.canvas is not None else None
        if canvas is None or not hasattr(canvas, "get_renderer"):
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            canvas = FigureCanvasAgg(self.fig)
        renderer = canvas.get_renderer()
        v, ax = self.model.valley, self.ax
        centres = ax.transData.transform(v.xy)
        for text in [*self._labels, *(t for ts in self.counts.values() for t in ts), *(t for _, t in self.passes)]:
            text.set_fontsize(pt)
        k = pt / 6.5  # the room kept around text was laid out for 6.5 pt
        px = self.fig.dpi / 72 * k  # pixels a point, times the text's scale
        r = 7.0 * px  # a place's marker
        taken = [Bbox.from_extents(x - r, y - r, x + r, y + r) for x, y in centres]
        for side, (dx, dy) in self.OFFSET.items():  # each side's disc and its count, above the place
            at = ax.transData.transform(v.xy + [dx, dy])
            grow = (-28 * px, 0) if side == "attacker" else (0, 28 * px)
            taken += [Bbox.from_extents(x + grow[0] - 5 * px, y - 5 * px, x + grow[1] + 5 * px, y + 14 * px)
                      for x, y in at]
        for x, y in ax.transData.transform(v.xy[v.is_pass] + [0, 6.5]):  # "open, snow 0 cm" above each pass
            taken.append(Bbox.from_extents(x - 36 * px, y - 2 * px, x + 36 * px, y + 10 * px))
        for x, y in ax.transData.transform([[v.xy[s.cell.idx, 0], v.xy[s.cell.idx, 1] - 1.6] for s in self.stores]
                                           or np.zeros((0, 2))):
            taken.append(Bbox.from_extents(x - 5 * px, y - 5 * px, x + 5 * px, y + 5 * px))
        first_place, first_name = len(centres), len(taken)
        self.crowded = []  # names that found no free spot (a test keeps this empty for the bundled valleys)
        frame = ax.get_window_extent(renderer)
        def clash(box, others) -> float:  # overlapping area, and any part outside the axes counts double
            inside = frame.containsx(box.x0) and frame.containsx(box.x1) and frame.containsy(box.y0)
            return _overlap_area(box, others) + (0 if inside else 2 * box.width * box.height)

        for i in np.argsort(v.xy[:, 0], kind="stable"):
            label = self._labels[i]
            others = [b for j, b in enumerate(taken) if j != i or j >= first_place]
            best = None
            for (dx, dy), ha, va in self.LABEL_SPOTS:
                spot = ((k * dx, k * dy), ha, va)
                self._put(label, v.xy[i], spot)
                box = label.get_window_extent(renderer).expanded(1.05, 1.1)
                cost = clash(box, others)
                if best is None or cost < best[0]:
                    best = (cost, spot, box)
                if cost == 0:
                    break
            self._put(label, v.xy[i], best[1])  # the first free spot, or the one that clashes least
            taken.append(best[2])
            if best[0] > 0:
                self.crowded.append(label.get_text())
        self.name_boxes = taken[first_name:]  # where the names went, in pixels: counts keep off them

    @staticmethod
    def _put(label, xy, spot) -> None:
        (dx, dy), ha, va = spot
        label.set_position((xy[0], xy[1]))
        label.xyann = (dx, dy)
        label.set_anncoords("offset points")
        label.set_ha(ha)
        label.set_va(va)

    def _stack_counts(self) -> None:
        """Places a few km apart would print their counts over each other: from the mouth up, a count that
        would overlap a name or a count already placed grows the other way, or goes up a line (widths
        estimated from the digits, so nothing is drawn to measure them: the page redraws several times a
        second)."""
        pt = self.counts["attacker"][0].get_fontsize()
        px = self.fig.dpi / 72 * pt  # pixels of one point of text at this size
        line, char = 1.2 * px, 0.62 * px  # a line; a bold digit or comma, about
        to_px = self.ax.transData
        shown = [(side, i) for side, texts in self.counts.items() for i, t in enumerate(texts) if t.get_text()]
        anchors = {(side, i): to_px.transform(self.count_at[side][i]) for side, i in shown}
        placed = list(self.name_boxes)  # in pixels: the names, then the counts as they are placed

        for side, i in sorted(shown, key=lambda key: (anchors[key][0], key[0])):
            text = self.counts[side][i]
            x, y = anchors[(side, i)]
            width = char * len(text.get_text())
            away = "right" if side == "attacker" else "left"  # the way it grows when nothing is in the way

            def box(k, ha):
                x0, x1 = (x - width, x) if ha == "right" else (x, x + width)
                return _Box(x0, x1, y + k * line - 0.2 * px, y + k * line + 0.8 * px)

            # its own line growing away from the place's other count if free; else growing the other way; else
            # a line up, and so on (at most three up: further, it would read as another place's); where none is
            # free, the one of these that overlaps least
            spots = [(k, ha) for k in range(4) for ha in (away, "left" if away == "right" else "right")]
            clash = [_overlap_area(box(*spot), placed, pad_x=2.0) for spot in spots]
            k, ha = spots[min(range(len(spots)), key=lambda j: (clash[j] > 0, clash[j], j))]
            placed.append(box(k, ha))
            text.set_ha(ha)
            text.set_position(self.count_at[side][i] if k == 0 else to_px.inverted().transform((x, y + k * line)))

    def update(self) -> Figure:
        m, v = self.model, self.model.valley
        for idx, dots in self.places.values():
            dots.set_facecolor([HELD_COLOUR[Control(c)] for c in v.control[idx]])
        closed_now = tuple(not data.get("open", True) for data, _ in self.links)
        if closed_now != self._closed:  # links are background: draw it again only when one opens or closes
            self._closed = closed_now
            self.invalidate()
            for (data, line), closed in zip(self.links, closed_now):
                line.set_color("#b03a2e" if closed else "#7f8c8d")
                if data["kind"] != "road":
                    line.set_linestyle(":" if closed else "--")
        for side, force in (("attacker", m.attackers), ("defender", m.defenders)):
            counts = force.counts()
            self.discs[side].set_sizes(np.where(counts > 0, 10 + 2.0 * np.sqrt(counts), 0))
            for text, n in zip(self.counts[side], counts):
                text.set_text(f"{n:,}" if n else "")
        self._stack_counts()
        left = np.array([(s.food + s.ammo) / 1000 if s.open else 0.0 for s in self.stores])
        self.store_dots.set_sizes(np.where(left > 0, 8 + 3 * np.sqrt(np.maximum(left, 0.0)), 0))  # -1e-12 is empty
        self.store_lost.set_sizes(np.array([0 if s.open else 35 for s in self.stores]))
        for i, text in self.passes:
            share = m.weather.pass_open_on_foot(int(i))
            state = "closed" if share <= 0 else ("open" if share >= 1 else f"{share:.0%} open")
            text.set_text(f"{state}, snow {v.snow_cm[i]:.0f} cm")
        self.title.set_text(map_title(m))
        return self.fig


CHARTS = (
    ((("attackers_active", "attackers", SIDE_COLOUR["attacker"]),
      ("defenders_active", "defenders", SIDE_COLOUR["defender"])), "fighters"),
    ((("food_days_at_reference", "food", "#1e8449"), ("ammo_days_at_reference", "ammunition", "#7d3c98")),
     "days of supply\n(start draw)"),
    ((("km_road_held", "road held", "#34495e"),), "km of road held"),
    ((("snow_ref_cm", "snow at the reference elevation", "#5dade2"),), "snow, cm"),
    ((("resupply_delivered_kg", "delivered", STORE_COLOUR),), "resupply, t"),
)


class TimelineView(_View):
    """The daily series against the date as far as the run has gone: fighters per side, days of food and
    ammunition left, road held, snow depth, resupply delivered; the drawn winter onset (dashed blue) and
    any stock-out (dotted brown) marked."""

    def __init__(self, model, fig: Figure | None = None):
        self.model = model
        self.fig = fig or Figure(figsize=(10, 5.8), dpi=80)
        self.axes = self.fig.subplots(len(CHARTS), 1, sharex=True)
        onset = date_of(model, model.winter_onset_day)
        self.lines, self.stockouts = [], {}
        for ax, (series, label) in zip(self.axes, CHARTS):
            for column, name, colour in series:
                (line,) = ax.plot([], [], color=colour, lw=1.6, label=name)
                self.lines.append((ax, column, line))
            ax.set_ylabel(label, fontsize=8)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            ax.axvline(onset, color="#3182bd", ls="--", lw=1)
            if len(series) > 1:
                ax.legend(fontsize=7.5, loc="upper right")
        self.axes[0].set_title("Dashed blue: winter onset (drawn for this run); dotted brown: a stock ran out;\n"
                               "red: the fall (dashed: floor lost); black dotted: organised resistance ended",
                               fontsize=8.5)
        self.marks = {}
        locator = mdates.AutoDateLocator(maxticks=8)
        self.axes[-1].xaxis.set_major_locator(locator)
        self.axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        # The x axis runs to a little past the drawn winter onset (further if the run goes on): axes that
        # change only now and then keep the drawn background valid between changes.
        self.last_day = max(30, model.winter_onset_day + 10)
        self.axes[-1].set_xlim(date_of(model, 0), date_of(model, self.last_day))
        for ax in self.axes:
            ax.set_ylim(0, 1)
        self.fig.tight_layout()
        self.dynamic = [line for _, _, line in self.lines]
        self._attach_canvas()
        self.update()

    def update(self) -> Figure:
        m = self.model
        data = m.series()
        days = np.asarray(data["day"])
        x = mdates.date2num(np.datetime64(m.start_date) + days.astype("timedelta64[D]"))
        top = {}
        for ax, column, line in self.lines:
            y = np.asarray(data[column], float)
            if column == "resupply_delivered_kg":
                y = y / 1000
            y = np.where(np.isfinite(y), y, np.nan)
            line.set_data(x, y)
            top[ax] = max(top.get(ax, 0.0), float(np.nanmax(y)) if np.isfinite(y).any() else 0.0)
        for ax, high in top.items():
            if high > ax.get_ylim()[1]:  # grow with headroom, so it seldom has to grow again
                ax.set_ylim(0, high * 1.3)
                self.invalidate()
        if days[-1] + 2 > self.last_day:
            self.last_day = int(days[-1]) + 30
            self.axes[-1].set_xlim(date_of(m, 0), date_of(m, self.last_day))
            self.invalidate()
        for commodity, day in m.stockout_day.items():
            if day is not None and commodity not in self.stockouts:
                self.stockouts[commodity] = [ax.axvline(date_of(m, day), color=STORE_COLOUR, ls=":", lw=1)
                                             for ax in self.axes]
                self.invalidate()
        for what, day, style in (("fell", m.collapse_day, dict(color=SIDE_COLOUR["attacker"], lw=1.6)),
                                 ("floor", m.floor_lost_day, dict(color=SIDE_COLOUR["attacker"], ls="--", lw=1)),
                                 ("ended", m.resistance_ended_day, dict(color="black", ls=":", lw=1.2))):
            if day is not None and what not in self.marks:  # marked on the day it happens
                self.marks[what] = [ax.axvline(date_of(m, day), **style) for ax in self.axes]
                self.invalidate()
        return self.fig


def draw_map(model, fig: Figure | None = None) -> Figure:
    """The valley map of the model as it stands now (see MapView)."""
    return MapView(model, fig).fig


def draw_timeline(model, fig: Figure | None = None) -> Figure:
    """The daily charts of the model so far (see TimelineView)."""
    return TimelineView(model, fig).fig
