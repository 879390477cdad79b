"""The valley as a Mesa discrete-space graph: locations (cells) joined by road and mountain-path links."""

from __future__ import annotations

from enum import IntEnum

import networkx as nx
import numpy as np
from mesa.discrete_space import Cell, Network

from . import fused
from .params import Params, Place


class Control(IntEnum):
    """Who holds a location (the values of `Valley.control`)."""

    ATTACKER = -1
    NONE = 0
    DEFENDER = 1

    @classmethod
    def of(cls, side: str) -> Control:
        return cls.ATTACKER if side == "attacker" else cls.DEFENDER

    @classmethod
    def enemy_of(cls, side: str) -> Control:
        return cls.DEFENDER if side == "attacker" else cls.ATTACKER


# Control's values as plain ints, for comparing one place's entry of `Valley.control` (a numpy scalar): numpy takes a
# plain int on its fast path and an IntEnum on its slow one (0.1 us a comparison against 1.6)
ATTACKER_HELD, DEFENDER_HELD = int(Control.ATTACKER), int(Control.DEFENDER)


class Location(Cell):
    """A place in the valley with its terrain. Dynamic state (control, snow) lives in Valley arrays."""

    __slots__ = ["cover", "elevation", "frontage", "idx", "kind", "km", "name"]

    def __repr__(self):
        return f"Location({self.coordinate}, {self.name!r}, {self.kind}, km={self.km:g})"


def default_position(loc: Place) -> tuple[float, float]:
    """Map position when the scenario gives none: road by km along x, others offset by kind."""
    offset = {"road": 0.0, "side": 12.0, "flank": -10.0, "pass": 15.0, "outside": -15.0}[loc.kind]
    return float(loc.km), offset


class Valley:
    """Graph, terrain arrays (indexed 0..n-1 in scenario order) and route finding."""

    def __init__(self, params: Params, random):
        locs = params.locations
        self.n = len(locs)
        self.ids = np.array([loc.id for loc in locs], dtype=np.int64)
        self.index = {int(lid): i for i, lid in enumerate(self.ids)}
        G = nx.Graph()
        positions = {}
        for loc in locs:
            G.add_node(loc.id)
            x, y = default_position(loc)
            positions[loc.id] = (x if loc.x is None else loc.x, y if loc.y is None else loc.y)
        for link in params.links:
            G.add_edge(link.a, link.b, kind=link.kind, km=float(link.km),
                       days=float(link.days), elevation=float(link.elevation))
        self.space = Network(G, random=random, cell_klass=Location, layout=positions)
        self.xy = np.array([positions[loc.id] for loc in locs], dtype=float)  # map position, km
        self.locations: list[Location] = []
        for i, loc in enumerate(locs):
            cell = self.space._cells[loc.id]
            cell.idx, cell.name, cell.kind = i, loc.name, loc.kind
            cell.km, cell.frontage = float(loc.km), int(loc.frontage)
            cell.cover, cell.elevation = float(loc.cover), float(loc.elevation)
            self.locations.append(cell)
        arr = lambda key, dtype=float: np.array([getattr(loc, key) for loc in locs], dtype=dtype)  # noqa: E731
        self.names = [loc.name for loc in locs]
        self.kind = np.array([loc.kind for loc in locs])
        self.km, self.frontage, self.cover = arr("km"), arr("frontage"), arr("cover")
        self.elevation = arr("elevation")
        self.closes_foot_cm = arr("closes_foot_cm")
        self.is_road = self.kind == "road"
        self.is_pass = self.kind == "pass"
        self.is_outside = self.kind == "outside"
        self.passes = self.is_pass.nonzero()[0]
        # Road order from the mouth (lowest km) to the head.
        road = [i for i in np.argsort(self.km, kind="stable") if self.is_road[i]]
        self.road_order = np.array(road, dtype=np.int64)
        self.mouth = int(road[0])
        # Neighbours by index, sorted, with link data (never iterate a set: order must be fixed).
        self.neighbours: list[list[tuple[int, dict]]] = [[] for _ in range(self.n)]
        for a, b, data in sorted(G.edges(data=True)):
            ia, ib = self.index[a], self.index[b]
            self.neighbours[ia].append((ib, data))
            self.neighbours[ib].append((ia, data))
        for nb in self.neighbours:
            nb.sort(key=lambda t: t[0])
        # The same links as arrays, for the compiled route search: place u's run from first_link[u] to
        # first_link[u + 1] in link_to (and in travel_days' answer), in the order of neighbours[u].
        self.first_link = np.cumsum([0] + [len(nb) for nb in self.neighbours]).astype(np.int64)
        self.link_to = np.array([v for nb in self.neighbours for v, _ in nb], np.int64)
        self.link_from = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.first_link))
        self._no_penalty = np.zeros(self.n)
        self.links_version = 0  # bumped when a link opens or closes: the day's travel times are found again
        self._travel: dict[tuple[float, float], tuple] = {}  # per speed: ((snow slowdown, version), days per link)
        self._base_days: dict[tuple[float, float], tuple] = {}  # per speed: (version, days per link without snow)
        self._routes: dict[tuple, tuple[float, tuple[int, ...]]] = {}  # route()'s answers for today's ground
        self._routes_for: tuple[bytes, int] | None = None  # the snow and links those answers were found on
        self.hops = self._hop_matrix()
        self._road_legs = np.diff(self.km[self.road_order])  # km between consecutive road places (fixed)
        self.adjacency = (self.hops == 1).astype(float)  # for contagion between neighbouring places
        held_by = {"defender": Control.DEFENDER, "attacker": Control.ATTACKER, "none": Control.NONE}
        self.control = np.array([held_by[loc.held_by] for loc in locs], dtype=np.int8)
        self.snow_cm = np.zeros(self.n)

    @property
    def graph(self) -> nx.Graph:
        return self.space.G

    def _hop_matrix(self) -> np.ndarray:
        open_ground = np.zeros(self.n, bool)
        return np.stack([self.hops_from(s, open_ground) for s in range(self.n)])

    def hops_from(self, src: int, blocked: np.ndarray) -> np.ndarray:
        """Hops from src to every location without passing through a blocked one (unreached: large)."""
        return fused.hops(int(src), np.asarray(blocked, bool), self.first_link, self.link_to)

    def reachable(self, sources: np.ndarray, blocked: np.ndarray) -> np.ndarray:
        """Places reachable from any of `sources` (bool array) without passing through a blocked one."""
        return fused.reachable(np.asarray(sources, bool), np.asarray(blocked, bool), self.first_link, self.link_to)

    def cell(self, idx: int) -> Location:
        return self.locations[idx]

    def by_id(self, lid: int) -> int:
        return self.index[int(lid)]

    def next_up_road(self, idx: int) -> int | None:
        """The next road location towards the head, or None at the head (or off the road)."""
        if not self.is_road[idx]:
            return None
        pos = int((self.road_order == idx).nonzero()[0][0])
        return int(self.road_order[pos + 1]) if pos + 1 < len(self.road_order) else None

    @staticmethod
    def link_days(data: dict, a: int, b: int, speed_km_per_day: float, path_slowdown: float, snow_slow) -> float:
        """Travel days over one link today (snow slows; a closed path returns inf). A path with no
        `days` of its own takes `path_slowdown` times as long per km as the road."""
        if not data.get("open", True):
            return np.inf
        if data["kind"] == "road":
            base = data["km"] / speed_km_per_day
        else:
            base = data["days"] if data["days"] > 0 else data["km"] / (speed_km_per_day / path_slowdown)
        return base * max(snow_slow[a], snow_slow[b])

    def travel_days(self, speed_km_per_day: float, path_slowdown: float, snow_slow) -> np.ndarray:
        """Today's travel days over each link from each place (inf: closed), in the order of `link_to`: found
        again for a speed when the snow's slowdown or a link (`links_version`) has changed."""
        key = (speed_km_per_day, path_slowdown)
        ground = (np.asarray(snow_slow).tobytes(), self.links_version)
        cached = self._travel.get(key)
        if cached is not None and cached[0] == ground:
            return cached[1]
        snow_slow = np.asarray(snow_slow, float)
        # link_days for every link at once (the same products, element by element)
        days = self._days_without_snow(key) * np.maximum(snow_slow[self.link_from], snow_slow[self.link_to])
        self._travel[key] = (ground, days)
        return days

    def _days_without_snow(self, key: tuple[float, float]) -> np.ndarray:
        """Each link's days at a speed on a day without snow (inf: closed), until a link opens or closes."""
        cached = self._base_days.get(key)
        if cached is None or cached[0] != self.links_version:
            no_snow = np.ones(self.n)
            base = np.array([self.link_days(data, u, v, *key, no_snow)
                             for u, nb in enumerate(self.neighbours) for v, data in nb], float)
            cached = self._base_days[key] = (self.links_version, base)
        return cached[1]

    def route(self, src: int, dst: int, speed_km_per_day: float, path_slowdown: float, snow_slow,
              blocked, penalty: np.ndarray | None = None) -> tuple[float, list]:
        """Quickest route (Dijkstra, ties by index: `fused.quickest`) avoiding `blocked` locations (bool array)
        and closed links, each place entered costing `penalty` days more if given; returns (days, path) or
        (inf, []). Hand-written rather than networkx's: the tie order must be fixed (reproducibility), and it
        runs many times a day on a small graph. The answer depends on nothing else, so it is kept until the snow
        or a link changes: a stalled front asks the same each day."""
        ground = (np.asarray(snow_slow).tobytes(), self.links_version)
        if ground != self._routes_for:
            self._routes.clear()
            self._routes_for = ground
        blocked = np.asarray(blocked, bool)
        penalty = self._no_penalty if penalty is None else np.asarray(penalty, float)
        key = (src, dst, speed_km_per_day, path_slowdown, blocked.tobytes(), penalty.tobytes())
        known = self._routes.get(key)
        if known is None:
            days, path = fused.quickest(src, dst, self.first_link, self.link_to,
                                        self.travel_days(speed_km_per_day, path_slowdown, snow_slow), blocked,
                                        penalty)
            known = self._routes[key] = (float(days), tuple(path.tolist()))
        return known[0], list(known[1])

    def road_lost_share(self) -> float:
        """Share of the road's places the attacker holds."""
        held = int(np.count_nonzero(self.control[self.road_order] == ATTACKER_HELD))
        return held / len(self.road_order)  # what np.mean gives (a sum of ones is exact), without its overhead

    def road_km_held(self) -> float:
        """Road length (km) between consecutive road locations neither of which the attacker holds."""
        return float(fused.km_held(self.control, self.road_order, self._road_legs, ATTACKER_HELD))
