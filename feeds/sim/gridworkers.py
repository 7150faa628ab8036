"""Simulated grid workers (网格员): each walks a grid area and reports where they are.

Grids are the H3 resolution-7 cells that overlap the district, sorted by cell id
and named ``G-001``, ``G-002``, … (:func:`grid_areas`; the grid outline layer
numbers them the same way). A worker walks inside their grid clipped to the
district: around a beat centre that moves every :data:`BEAT_MS`, from waypoint
to waypoint within :data:`BEAT_RADIUS_M` of it, one leg per :data:`LEG_MS`.

Pure and deterministic like :mod:`feeds.sim.simulator`: a worker reports at
``ts = phase + k * period`` while online; where they are and whether they are
online at ``ts`` are hashes of ``(seed, worker, time slot)``, never of call
order, so any split of an interval yields the same events. Per
:data:`STATUS_SLOT_MS` slot a worker is off duty with probability
:data:`OFFLINE_P`; going off duty they send one ``offline`` report, except
:data:`SILENT_P` of the time (a flat battery) when they just fall silent and
the map's staleness rule shows them offline. Workers whose grid lies within
:data:`INCIDENT_RADIUS_M` of an incident point stay online from a slot before
the incident until a slot after it.

Positions are WGS-84 internally; each worker's phone reports in its own
``crs`` (most Chinese map apps use GCJ-02).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import h3
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from feeds.sim.randomness import rng_for
from geo.cells import cell_area_m2, cell_polygon
from geo.crs import CRS, from_wgs84
from geo.district import District
from geo.measure import EARTH_RADIUS_M, distance_m, geodesic_area_m2, offset_m

GRID_RESOLUTION: Final = 7
STATUS_SLOT_MS: Final = 10 * 60_000
OFFLINE_P: Final = 0.12
SILENT_P: Final = 0.3
LEG_MS: Final = 5 * 60_000
BEAT_MS: Final = 60 * 60_000
BEAT_RADIUS_M: Final = 250.0
EDGE_MARGIN_M: Final = 15.0
"""Workers keep this far inside their grid's outline (so inside the district)."""
INCIDENT_RADIUS_M: Final = 1500.0
MIN_GRID_SHARE: Final = 0.2
"""Grids with less of their cell inside the district get no worker (except an incident grid)."""

Status = Literal["online", "offline"]
Event = dict[str, Any]

_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"
_GIVEN: Final = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红"


def grid_id(number: int) -> str:
    """The grid id of the ``number``-th grid (1-based): ``G-001``."""
    return f"G-{number:03d}"


def _grid_cells(district: District) -> list[tuple[str, BaseGeometry]]:
    """Res-7 cells whose hexagon overlaps the district with positive area, by cell id,
    with the hexagon clipped to the district (WGS-84 ``(lon, lat)``)."""
    shape = h3.geo_to_h3shape(district.geometry)
    candidates = h3.h3shape_to_cells_experimental(shape, GRID_RESOLUTION, contain="overlap")
    out = []
    for cell in sorted(candidates):
        clipped = cell_polygon(cell).intersection(district.geometry)
        if clipped.area > 0:  # touching the outline only is not overlapping
            out.append((cell, clipped))
    return out


def grid_areas(district: District) -> list[tuple[str, str]]:
    """``(grid id, H3 res-7 cell)`` of every grid of ``district``: cells overlapping it,
    sorted by cell id, numbered ``G-001``, ``G-002``, …"""
    return [(grid_id(i), cell) for i, (cell, _) in enumerate(_grid_cells(district), 1)]


@dataclass(frozen=True, slots=True)
class GridWorker:
    """One grid worker. ``area`` is where they walk (WGS-84 ``(lon, lat)``, their grid
    clipped to the district, :data:`EDGE_MARGIN_M` inside), None when the grid is too
    thin for that: then they stand at ``anchor`` (``(lat, lon)`` degrees, inside the grid)."""

    id: str
    name: str
    grid: str
    cell: str
    crs: CRS
    near_incident: bool
    anchor: tuple[float, float]
    area: BaseGeometry | None = field(repr=False, compare=False)


def _name(seed: int, index: int) -> str:
    rng = rng_for("gw-name", seed, index)
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _crs(seed: int, worker_id: str) -> CRS:
    r = rng_for("gw-crs", seed, worker_id).random()
    return "gcj02" if r < 0.6 else "wgs84" if r < 0.9 else "bd09"


def _distance_to(area: BaseGeometry, lat: float, lon: float) -> float:
    """Metres from ``(lat, lon)`` to the nearest point of ``area`` (0 inside)."""
    point = Point(lon, lat)
    if area.covers(point):
        return 0.0
    nearest = nearest_points(area, point)[0]
    return distance_m(lat, lon, nearest.y, nearest.x)


def build_grid_workers(
    seed: int,
    district: District,
    count: int,
    incident_points: Sequence[tuple[float, float]] = (),
) -> tuple[GridWorker, ...]:
    """``count`` grid workers ``GW-001``… for ``seed`` (deterministic).

    The grid of each incident point (``(lat, lon)`` WGS-84) gets the first workers,
    one per point; the rest go round the grids with at least :data:`MIN_GRID_SHARE`
    of their cell in the district, in a seeded order.
    """
    if count < 0:
        raise ValueError(f"negative grid worker count {count}")
    grids = _grid_cells(district)
    if count == 0 or not grids:
        return ()
    first = []
    for lat, lon in incident_points:
        here = h3.latlng_to_cell(lat, lon, GRID_RESOLUTION)
        first += [i for i, (cell, _) in enumerate(grids) if cell == here]
    big = [
        i
        for i, (cell, clipped) in enumerate(grids)
        if geodesic_area_m2(clipped) >= MIN_GRID_SHARE * cell_area_m2(cell)
    ]
    rng_for("gw-grids", seed).shuffle(big)
    order = first + [i for i in big if i not in first] or list(range(len(grids)))
    margin_deg = math.degrees(EDGE_MARGIN_M / EARTH_RADIUS_M)
    workers = []
    for n in range(count):
        g = order[n % len(order)]
        cell, clipped = grids[g]
        inner = clipped.buffer(-margin_deg)
        area = None if inner.is_empty else inner
        if area is not None:
            shapely.prepare(area)  # many point-in-area tests follow
        point = (area if area is not None else clipped).representative_point()
        worker_id = f"GW-{n + 1:03d}"
        near = any(
            _distance_to(clipped, lat, lon) <= INCIDENT_RADIUS_M for lat, lon in incident_points
        )
        workers.append(
            GridWorker(
                id=worker_id,
                name=_name(seed, n),
                grid=grid_id(g + 1),
                cell=cell,
                crs=_crs(seed, worker_id),
                near_incident=near,
                anchor=(point.y, point.x),
                area=area,
            )
        )
    return tuple(workers)


def _uniform_in(rng: random.Random, area: BaseGeometry) -> tuple[float, float] | None:
    """A uniform point of ``area`` as ``(lat, lon)``, None if 1,000 draws all missed."""
    min_lon, min_lat, max_lon, max_lat = area.bounds
    for _ in range(1000):
        lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        if shapely.contains_xy(area, lon, lat):
            return lat, lon
    return None


def _walkable(area: BaseGeometry, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the straight line between ``(lat, lon)`` points stays in ``area``."""
    return bool(area.covers(LineString([(a[1], a[0]), (b[1], b[0])])))


def _between(a: tuple[float, float], b: tuple[float, float], frac: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * frac, a[1] + (b[1] - a[1]) * frac


def _ticks(phase_ms: int, period_ms: int, t0_ms: int, t1_ms: int) -> range:
    """Tick indices k with ``t0 <= phase + k * period < t1``."""
    return range(-((phase_ms - t0_ms) // period_ms), -((phase_ms - t1_ms) // period_ms))


class GridWorkers:
    """The grid workers of a simulation and their reports.

    ``incident_ms`` is ``(start, end)`` of the scripted incident (epoch ms); workers
    near ``incident_points`` stay online from a status slot before until one after.
    """

    __slots__ = ("_guard", "_period_ms", "_phase", "_waypoint", "seed", "workers")

    def __init__(
        self,
        seed: int,
        district: District,
        count: int,
        period_s: float,
        incident_ms: tuple[int, int],
        incident_points: Sequence[tuple[float, float]] = (),
    ) -> None:
        self.seed = seed
        self.workers = build_grid_workers(seed, district, count, incident_points)
        self._period_ms = max(1, round(period_s * 1000.0))
        self._phase = {
            w.id: rng_for("phase", seed, w.id).randrange(self._period_ms) for w in self.workers
        }
        self._guard = (incident_ms[0] - STATUS_SLOT_MS, incident_ms[1] + STATUS_SLOT_MS)
        # A waypoint serves every report of two legs: remember the recent ones (pure, so
        # the cache changes nothing but the speed).
        self._waypoint: Callable[[GridWorker, int], tuple[float, float]] = functools.lru_cache(
            maxsize=4096
        )(self._find_waypoint)

    def online_at(self, worker: GridWorker, ts_ms: int) -> bool:
        """Whether ``worker`` is on duty at ``ts_ms``."""
        if worker.near_incident and self._guard[0] <= ts_ms < self._guard[1]:
            return True
        slot = ts_ms // STATUS_SLOT_MS
        return rng_for("gw-status", self.seed, worker.id, slot).random() >= OFFLINE_P

    def _beat_centre(self, worker: GridWorker, beat: int) -> tuple[float, float]:
        if worker.area is None:
            return worker.anchor
        found = _uniform_in(rng_for("gw-beat", self.seed, worker.id, beat), worker.area)
        return found or worker.anchor

    def _find_waypoint(self, worker: GridWorker, leg: int) -> tuple[float, float]:
        centre = self._beat_centre(worker, leg * LEG_MS // BEAT_MS)
        if worker.area is None:
            return centre
        rng = rng_for("gw-waypoint", self.seed, worker.id, leg)
        for _ in range(50):
            r = BEAT_RADIUS_M * math.sqrt(rng.random())
            a = rng.uniform(0.0, 2.0 * math.pi)
            lat, lon = offset_m(*centre, r * math.cos(a), r * math.sin(a))
            if shapely.contains_xy(worker.area, lon, lat):
                return lat, lon
        return centre

    def position_at(self, worker: GridWorker, ts_ms: int) -> tuple[float, float]:
        """Where ``worker`` is at ``ts_ms``: WGS-84 ``(lat, lon)`` inside their area.

        Walks straight from one waypoint to the next; where that line would leave the
        area (a notched outline), by way of the anchor; failing that they stay at one
        waypoint, then the next.
        """
        leg = ts_ms // LEG_MS
        frac = (ts_ms - leg * LEG_MS) / LEG_MS
        a, b = self._waypoint(worker, leg), self._waypoint(worker, leg + 1)
        if worker.area is None or a == b:
            return a
        if _walkable(worker.area, a, b):
            return _between(a, b, frac)
        c = worker.anchor
        if _walkable(worker.area, a, c) and _walkable(worker.area, c, b):
            return _between(a, c, 2 * frac) if frac < 0.5 else _between(c, b, 2 * frac - 1)
        return a if frac < 0.5 else b

    def _report(self, worker: GridWorker, ts_ms: int, status: Status) -> Event:
        lat, lon = self.position_at(worker, ts_ms)
        r_lat, r_lon = from_wgs84(lat, lon, worker.crs)
        event: Event = {
            "id": f"{worker.id}-{ts_ms}",
            "ts": ts_ms,
            "lat": round(r_lat, 7),
            "lon": round(r_lon, 7),
            "worker": worker.id,
            "status": status,
            "grid": worker.grid,
            "name": worker.name,
        }
        if worker.crs != "wgs84":
            event["crs"] = worker.crs
        return event

    def events_between(self, t0_ms: int, t1_ms: int) -> list[Event]:
        """Reports with ``t0_ms <= ts < t1_ms``, sorted by ``(ts, id)``: ``online`` ones
        every period while on duty, one ``offline`` on going off duty (unless silent)."""
        out: list[Event] = []
        period = self._period_ms
        for worker in self.workers:
            phase = self._phase[worker.id]
            for k in _ticks(phase, period, t0_ms, t1_ms):
                ts = phase + k * period
                if self.online_at(worker, ts):
                    out.append(self._report(worker, ts, "online"))
                elif self.online_at(worker, ts - period) and not self._silent(worker, ts):
                    out.append(self._report(worker, ts, "offline"))
        return sorted(out, key=lambda e: (e["ts"], e["id"]))

    def _silent(self, worker: GridWorker, ts_ms: int) -> bool:
        slot = ts_ms // STATUS_SLOT_MS
        return rng_for("gw-silent", self.seed, worker.id, slot).random() < SILENT_P
