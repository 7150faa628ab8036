""" "Draw a circle": what lies inside a circle or polygon, answered from an in-memory index.

* ``POST /api/query`` (role ``viewer``) — ``{"center": [lon, lat], "radius_m": r}``
  (1 m … 5 km) or ``{"geometry": <GeoJSON Polygon|MultiPolygon>}`` (valid, at most
  2,000 vertices and 50 km², inside mainland China's box). Answer: buildings and
  residents, enterprises, cameras (point layers by kind), grid workers and the
  live crowd inside, and ``took_ms``; see docs/layers.md.
* ``GET /api/layers`` — ``{"layers": [{"id","kind","title","count","source","geometry"}]}``;
* ``GET /api/layers/{id}.geojson`` — one layer as GeoJSON (WGS-84).

Static layers (:mod:`geo.layers`) are indexed once (:mod:`geo.spatial`), with prefix
sums of the numbers the answer adds up, so counts and sums take the index buckets
wholly inside a shape whole and test only the points of the buckets its boundary
crosses. The live cells and grid workers are read per query from the callables
given; validating the body and computing the answer run in worker threads
(:func:`asyncio.to_thread`), off the event loop.
Live people inside = the sum of ``people`` of the fine cells whose **centre** lies
inside the shape; density = that sum over those cells' walkable ``area_m2``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import h3
import numpy as np
import numpy.typing as npt
import orjson
import shapely
from aiohttp import web
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from shapely.errors import GEOSException
from shapely.geometry import MultiPolygon, Polygon, shape

from alerts.crowd.los import LosConfig
from geo.cells import is_cell
from geo.crs import out_of_china, out_of_china_array
from geo.layer_files import LayerFileLike, load_layer_dir, load_layer_file
from geo.layers import CORE_KINDS, Layers, PointLayer
from geo.measure import geodesic_area_m2
from geo.spatial import ColumnSums, Hits, PointIndex, haversine_m
from web.guard import ApiError, anonymous, json_body, requires
from web.public_view import public_geojson, public_query

Views = Callable[[], Awaitable[list[dict[str, Any]]]]

MIN_RADIUS_M: Final = 1.0
MAX_RADIUS_M: Final = 5000.0
MAX_VERTICES: Final = 2000
MAX_AREA_M2: Final = 50e6
ENTERPRISE_ITEMS: Final = 50
CAMERA_ITEMS: Final = 200
ITEMS: Final = {"enterprise": ENTERPRISE_ITEMS, "camera": CAMERA_ITEMS}
WORKER_ITEMS: Final = 200
SUMMED: Final = ("residents", "employees")
"""The point-layer numbers an answer adds up (missing ones count as 0)."""

QUERIES = Counter("citybrain_spatial_queries_total", "Spatial queries answered", ["shape"])
QUERY_REJECTED = Counter("citybrain_spatial_queries_rejected_total", "Spatial queries refused")
QUERY_SECONDS = Histogram(
    "citybrain_spatial_query_seconds",
    "Time to answer a spatial query",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
BAD_VIEWS = Counter(
    "citybrain_spatial_query_bad_views_total", "Live views left out of queries", ["kind"]
)

Degrees = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class QueryBody(BaseModel):
    """A circle (``center`` [lon, lat] degrees, ``radius_m`` metres) or a GeoJSON ``geometry``."""

    model_config = ConfigDict(extra="forbid")

    center: tuple[Degrees, Degrees] | None = Field(None, description="[lon, lat], WGS-84 degrees")
    radius_m: float | None = Field(
        None, ge=MIN_RADIUS_M, le=MAX_RADIUS_M, strict=True, allow_inf_nan=False
    )
    geometry: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> QueryBody:
        circle = self.center is not None or self.radius_m is not None
        if circle and self.geometry is not None:
            raise ValueError("give center and radius_m, or geometry, not both")
        if self.geometry is None and (self.center is None or self.radius_m is None):
            raise ValueError("give center [lon, lat] and radius_m, or a GeoJSON geometry")
        if self.center is not None:
            lon, lat = self.center
            if not (math.isfinite(lon) and math.isfinite(lat)) or out_of_china(lat, lon):
                raise ValueError(f"center {[lon, lat]} is not [lon, lat] inside mainland China")
        return self


@dataclass(frozen=True, slots=True)
class Region:
    """A validated query shape: a circle (``radius_m``) or ``polygon``; WGS-84."""

    lat: float  # the circle's centre, or the polygon's representative point
    lon: float
    area_m2: float
    radius_m: float | None = None
    polygon: Polygon | MultiPolygon | None = None

    def select(
        self, index: PointIndex, k: int
    ) -> tuple[Hits, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The points of ``index`` inside (as bucket runs and tested points, not listed)
        and the ``k`` nearest to the centre, nearest first (ties by index), with their
        distances in metres."""
        if self.radius_m is not None:
            hits = index.circle_hits(self.lat, self.lon, self.radius_m)
        else:
            assert self.polygon is not None
            hits = index.polygon_hits(self.polygon)
        return hits, *index.nearest_in(hits, self.lat, self.lon, k)

    def contains(self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> Any:
        """Boolean mask: which of the points lie inside (same rules as :meth:`select`)."""
        if self.radius_m is not None:
            return haversine_m(self.lat, self.lon, lat, lon) <= self.radius_m
        return shapely.intersects_xy(self.polygon, lon, lat)


def parse_query(body: object) -> Region:
    """The region a ``POST /api/query`` body asks about; ApiError 422 with every reason."""
    try:
        q = QueryBody.model_validate(body)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise _reject(reasons) from None
    if q.geometry is None:
        assert q.center is not None and q.radius_m is not None
        lon, lat = q.center
        return Region(lat, lon, math.pi * q.radius_m**2, radius_m=q.radius_m)
    polygon = _polygon(q.geometry)
    point = polygon.representative_point()
    return Region(point.y, point.x, geodesic_area_m2(polygon), polygon=polygon)


def _reject(reason: str) -> ApiError:
    QUERY_REJECTED.inc()
    return ApiError(422, reason)


def _polygon(geometry: dict[str, Any]) -> Polygon | MultiPolygon:
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise _reject(f"geometry must be a GeoJSON Polygon or MultiPolygon, got {kind!r}")
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, GEOSException) as exc:
        raise _reject(f"geometry: malformed {kind} coordinates ({exc})") from None
    if not isinstance(polygon, Polygon | MultiPolygon) or polygon.is_empty:
        raise _reject("geometry: empty polygon")
    xy = shapely.get_coordinates(polygon)
    if len(xy) > MAX_VERTICES:
        raise _reject(f"geometry: {len(xy)} vertices, at most {MAX_VERTICES}")
    if not np.isfinite(xy).all() or out_of_china_array(xy[:, 1], xy[:, 0]).any():
        raise _reject("geometry: coordinates must be [lon, lat] inside mainland China")
    if not polygon.is_valid:
        raise _reject(f"geometry: invalid polygon: {shapely.is_valid_reason(polygon)}")
    area = geodesic_area_m2(polygon)
    if not 0 < area <= MAX_AREA_M2:
        raise _reject(f"geometry: area {area / 1e6:.3f} km², must be > 0 and ≤ 50 km²")
    return shapely.force_2d(polygon)


def _number(value: object) -> float | None:
    """A finite number ≥ 0, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


class _Found:
    """What one kind of point layer has inside a region: count, sums, nearest items."""

    def __init__(self) -> None:
        self.count = 0
        self.sums: dict[str, float] = dict.fromkeys(SUMMED, 0.0)
        self._hits: list[tuple[PointLayer, npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []

    def add(
        self,
        layer: PointLayer,
        hits: Hits,
        sums: dict[str, ColumnSums],
        top: npt.NDArray[np.int64],
        dist: npt.NDArray[np.float64],
    ) -> None:
        """``hits``: every point inside; ``sums``: ``layer``'s prefix sums by name (a
        missing name adds 0); ``top``/``dist``: the nearest ones, nearest first."""
        self.count += hits.count
        for name, column in sums.items():
            self.sums[name] += column.total(hits)
        self._hits.append((layer, top, dist))

    def nearest(self, fields: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` items over every layer, nearest to the region's centre first."""
        items = [
            (float(d), _item(layer, int(i), fields))
            for layer, idx, dist in self._hits
            for i, d in zip(idx[:limit], dist[:limit], strict=True)
        ]
        return _nearest(items, limit)


def _item(layer: PointLayer, i: int, fields: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": layer.ids[i]}
    for name in fields:
        value: Any = layer.text(name, i) if name in layer.texts else layer.number(name, i)
        out[name] = int(value) if isinstance(value, float) and value.is_integer() else value
    return out | {"lat": round(float(layer.lat[i]), 6), "lon": round(float(layer.lon[i]), 6)}


class SpatialQueries:
    """The query endpoints over ``layers`` and the live views the callables return.

    ``live_cells`` returns the current fine cell views (docs/protocol.md "Cell
    view"); ``live_workers`` the grid worker views; ``los`` the bands the
    workers use.
    """

    def __init__(self, layers: Layers, live_cells: Views, live_workers: Views, los: LosConfig):
        self.layers = layers
        self.live_cells = live_cells
        self.live_workers = live_workers
        self.los = los
        self._index = {x.id: PointIndex.build(x.lat, x.lon) for x in layers.points}
        self._sums = {
            x.id: {n: self._index[x.id].sums(x.numbers[n]) for n in SUMMED if n in x.numbers}
            for x in layers.points
        }
        # Read and written by the query threads: single dict operations only.
        self._centres: dict[str, tuple[float, float]] = {}
        self._geojson: dict[tuple[str, bool], bytes] = {}  # (layer id, for the public)

    def routes(self, app: web.Application) -> None:
        """Add the three routes (before any catch-all ``/api/{tail}`` route)."""
        app.router.add_post("/api/query", requires("viewer")(self.post_query))
        app.router.add_get("/api/layers", requires("viewer")(self.get_layers))
        app.router.add_get(
            "/api/layers/{layer_id}.geojson", requires("viewer")(self.get_layer), allow_head=False
        )

    # -- handlers ------------------------------------------------------------------------------
    async def post_query(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        body = await json_body(request)
        # Validating a polygon of 2,000 vertices takes some 5 ms: off the loop too.
        region = await asyncio.to_thread(parse_query, body)
        answer = await self.query(region)
        if anonymous(request):
            answer = public_query(answer)
        took = time.perf_counter() - started
        QUERY_SECONDS.observe(took)
        QUERIES.labels("circle" if region.radius_m is not None else "polygon").inc()
        return web.json_response(answer | {"took_ms": round(took * 1000, 2)}, dumps=answer_json)

    async def get_layers(self, request: web.Request) -> web.Response:
        return web.json_response({"layers": self.layers.summary()}, dumps=answer_json)

    async def get_layer(self, request: web.Request) -> web.Response:
        layer_id = request.match_info["layer_id"]
        layer = self.layers.get(layer_id)
        if layer is None:
            raise ApiError(404, f"no layer {layer_id[:64]!r}; GET /api/layers lists them")
        public = anonymous(request)
        key = (layer_id, public)
        if key not in self._geojson:  # built once, off the event loop (large layers)

            def build() -> bytes:
                collection = layer.geojson()
                return orjson.dumps(public_geojson(collection) if public else collection)

            self._geojson[key] = await asyncio.to_thread(build)
        response = web.Response(
            body=self._geojson[key],
            headers={"Content-Type": "application/geo+json", "Cache-Control": "no-cache"},
        )
        response.enable_compression()
        return response

    # -- answers -------------------------------------------------------------------------------
    async def query(self, region: Region) -> dict[str, Any]:
        """Everything inside ``region`` (the ``POST /api/query`` answer, without took_ms).

        The live views are read on the event loop, the answer is computed in a worker
        thread: up to tens of milliseconds for the largest shapes over a million
        features, during which the loop goes on sending to the websocket clients.
        That is safe because the layers, indexes and prefix sums are read-only once
        built, the views are this query's own, and the cell-centre cache is only used
        through single dict operations.
        """
        cells, workers = await asyncio.gather(self.live_cells(), self.live_workers())
        return await asyncio.to_thread(self.answer, region, cells, workers)

    def answer(
        self, region: Region, cells: list[dict[str, Any]], workers: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The answer for ``region`` given the live cell and worker views (any thread)."""
        found = {kind: _Found() for kind in CORE_KINDS}
        per_layer = []
        for layer in self.layers.points:
            k = ITEMS.get(layer.kind, 0)
            hits, top, dist = region.select(self._index[layer.id], k)
            per_layer.append({"id": layer.id, "kind": layer.kind, "count": hits.count})
            if layer.kind in found:
                found[layer.kind].add(layer, hits, self._sums[layer.id], top, dist)
        b, e, c = (found[k] for k in CORE_KINDS)
        inside_workers = [w for w, _ in self._workers_inside(region, workers)]
        return {
            "area_m2": round(region.area_m2, 1),
            "buildings": {"count": b.count, "residents": round(b.sums["residents"])},
            "enterprises": {
                "count": e.count,
                "employees": round(e.sums["employees"]),
                "items": e.nearest(("name", "industry", "employees"), ENTERPRISE_ITEMS),
            },
            "cameras": {"count": c.count, "items": c.nearest(("name", "stream_url"), CAMERA_ITEMS)},
            "workers": {
                "count": len(inside_workers),
                "online": sum(1 for w in inside_workers if w.get("status") == "online"),
                "items": inside_workers[:WORKER_ITEMS],
            },
            "live": self._live_inside(region, cells),
            "layers": per_layer,
        }

    def _live_inside(self, region: Region, views: list[dict[str, Any]]) -> dict[str, Any]:
        """People, walkable area and density over the cells whose centre is inside."""
        usable = [(v, c) for v in views if (c := self._centre(v)) is not None]
        lat = np.array([c[0] for _, c in usable], dtype=np.float64)
        lon = np.array([c[1] for _, c in usable], dtype=np.float64)
        inside = region.contains(lat, lon) if usable else np.zeros(0, dtype=bool)
        people = walkable = 0.0
        cells = 0
        for (view, _), hit in zip(usable, inside, strict=True):
            if not hit or view.get("people") is None:
                continue  # no live camera covers the cell: no crowd estimate
            p, a = _number(view.get("people")), _number(view.get("area_m2"))
            if p is None or a is None:
                BAD_VIEWS.labels("cell").inc()
                continue
            people, walkable, cells = people + p, walkable + a, cells + 1
        density = people / walkable if walkable > 0 else None
        return {
            "people": round(people, 1),
            "walkable_m2": round(walkable, 1),
            "density": round(density, 3) if density is not None else None,
            "los": self.los.walkway.classify(density) if density is not None else None,
            "cells": cells,
        }

    def _centre(self, view: dict[str, Any]) -> tuple[float, float] | None:
        cell = view.get("cell") if isinstance(view, dict) else None
        if not isinstance(cell, str):  # a list would not even hash
            BAD_VIEWS.labels("cell").inc()
            return None
        # One get and one set: another query thread may clear the cache in between.
        centre = self._centres.get(cell)
        if centre is not None:
            return centre
        if not is_cell(cell):
            BAD_VIEWS.labels("cell").inc()
            return None
        if len(self._centres) > 200_000:  # cells come and go; keep the cache bounded
            self._centres.clear()
        lat, lon = h3.cell_to_latlng(cell)
        centre = (float(lat), float(lon))
        self._centres[cell] = centre
        return centre

    def _workers_inside(
        self, region: Region, views: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], float]]:
        """Worker views inside ``region`` and their distance to its centre in metres,
        online first, then nearest."""
        ok = [w for w in views if _located(w)]
        if len(ok) < len(views):
            BAD_VIEWS.labels("worker").inc(len(views) - len(ok))
        if not ok:
            return []
        lat = np.array([w["lat"] for w in ok], dtype=np.float64)
        lon = np.array([w["lon"] for w in ok], dtype=np.float64)
        dist = haversine_m(region.lat, region.lon, lat, lon)
        inside = region.contains(lat, lon)
        hits = [(w, float(d)) for w, d, h in zip(ok, dist, inside, strict=True) if h]
        hits.sort(key=lambda wd: (wd[0].get("status") != "online", wd[1], str(wd[0].get("id"))))
        return hits

    # -- for other endpoints -------------------------------------------------------------------
    def nearby_cameras(
        self, lat: float, lon: float, radius_m: float, limit: int
    ) -> list[dict[str, Any]]:
        """Cameras of every ``camera`` layer within ``radius_m`` of WGS-84 ``(lat, lon)``,
        nearest first, at most ``limit``:
        ``{"id", "name", "lat", "lon", "distance_m", "stream_url"}``."""
        found: list[tuple[float, dict[str, Any]]] = []
        for layer in self.layers.of_kind("camera"):
            idx, dist = self._index[layer.id].nearest(lat, lon, limit, radius_m)
            for i, d in zip(idx, dist, strict=True):
                item = _item(layer, int(i), ("name",)) | {"distance_m": round(float(d), 1)}
                found.append((float(d), item | {"stream_url": layer.text("stream_url", int(i))}))
        return _nearest(found, limit)

    async def nearby_workers(
        self, lat: float, lon: float, radius_m: float = 3000.0, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Grid worker views within ``radius_m``, online first then nearest, with
        ``distance_m``; at most ``limit``."""
        region = Region(lat, lon, math.pi * radius_m**2, radius_m=radius_m)
        inside = self._workers_inside(region, await self.live_workers())[:limit]
        return [w | {"distance_m": round(d, 1)} for w, d in inside]


def _located(view: object) -> bool:
    """A worker view with a usable WGS-84 position."""
    if not isinstance(view, dict):
        return False
    lat, lon = _coordinate(view.get("lat")), _coordinate(view.get("lon"))
    return lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180


def _coordinate(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _nearest(found: list[tuple[float, dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    found.sort(key=lambda di: (di[0], str(di[1]["id"])))
    return [item for _, item in found[:limit]]


def answer_json(data: Any) -> str:
    return orjson.dumps(data).decode()


def load_layers(paths: Sequence[Path | LayerFileLike], generated_dir: Path | None) -> Layers:
    """The layers of ``generated_dir`` (its manifest.json) and of every user file in
    ``paths``; empty when neither is given. Raises :class:`geo.layers.LayerError`."""
    points, outlines = load_layer_dir(generated_dir) if generated_dir is not None else ([], [])
    for spec in paths:
        layer = load_layer_file(spec)
        if isinstance(layer, PointLayer):
            points.append(layer)
        else:
            outlines.append(layer)
    return Layers(tuple(points), tuple(outlines))
