"""The spatial-query benchmark: circle and polygon queries over a million static features,
through the code that answers ``POST /api/query`` (web/query_api.py).

The features are the layer generator's buildings inside the real Chancheng outline
(feeds/sim/layers_gen.py, clustered as the simulator's city is), scaled to ``features``; the
enterprises and cameras of the same generator come along, as in the demo. Each query
is centred on a building drawn at random (so busy places are asked about as often as
they are built on), and is timed from the request body to the JSON answer: parse and
validate, index lookups, sums, the nearest items, serialisation. The live crowd part
of the answer reads ``cells`` fine cell views (the district's cells, all live).
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from alerts.crowd.los import LosConfig
from feeds.sim.layers_gen import LayerGenConfig, build_layers
from geo.layers import Layers, PointLayer
from web.query_api import SpatialQueries, answer_json, parse_query

#: (label, radius in metres) of circles (the API allows up to 5 km) ...
CIRCLES = (("200 m", 200.0), ("500 m", 500.0), ("1 km", 1000.0), ("2 km", 2000.0), ("5 km", 5000.0))
#: ... and of polygons of about the same area (the API allows up to 50 km²: 3.3 km at most)
POLYGONS = (
    ("200 m", 200.0),
    ("500 m", 500.0),
    ("1 km", 1000.0),
    ("2 km", 2000.0),
    ("3.3 km", 3300.0),
)


@dataclass(frozen=True, slots=True)
class QueryFigures:
    """Latency of one shape and size over ``n`` queries, milliseconds; ``inside`` is the
    median count of buildings in the answer."""

    shape: str
    size: str
    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    inside: float


def polygon_around(lat: float, lon: float, radius_m: float, rng: random.Random) -> dict[str, Any]:
    """A star-shaped polygon of 24 vertices whose radius wanders between 0.8 and 1.2 times
    ``radius_m`` around ``(lat, lon)``: a hand-drawn area, not a circle in disguise."""
    ring = []
    for i in range(24):
        angle = 2 * math.pi * i / 24
        r = radius_m * rng.uniform(0.8, 1.2)
        dlat = r * math.cos(angle) / 111_320.0
        dlon = r * math.sin(angle) / (111_320.0 * math.cos(math.radians(lat)))
        ring.append([round(lon + dlon, 7), round(lat + dlat, 7)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def build(features: int, seed: int = 42) -> tuple[Layers, PointLayer]:
    """The generated layers with ``features`` buildings; returns them and the buildings."""
    layers = build_layers(LayerGenConfig(seed=seed, buildings=features))
    points = tuple(x for x in layers if isinstance(x, PointLayer))
    outlines = tuple(x for x in layers if not isinstance(x, PointLayer))
    built = Layers(points=points, outlines=outlines)
    return built, next(x for x in points if x.kind == "building")


async def run_queries(
    layers: Layers,
    buildings: PointLayer,
    per_size: int,
    cells: list[dict[str, Any]],
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> list[QueryFigures]:
    """``per_size`` circles and polygons for each of :data:`CIRCLES` and :data:`POLYGONS`."""

    async def live_cells() -> list[dict[str, Any]]:
        return cells

    async def no_workers() -> list[dict[str, Any]]:
        return []

    api = SpatialQueries(layers, live_cells, no_workers, LosConfig())
    rng = random.Random(seed)
    out, done = [], 0
    for shape, sizes in (("circle", CIRCLES), ("polygon", POLYGONS)):
        for label, radius in sizes:
            took, inside = [], []
            for _ in range(per_size):
                i = rng.randrange(buildings.count)
                lat, lon = float(buildings.lat[i]), float(buildings.lon[i])
                body: dict[str, Any] = (
                    {"center": [lon, lat], "radius_m": radius}
                    if shape == "circle"
                    else {"geometry": polygon_around(lat, lon, radius, rng)}
                )
                started = time.perf_counter()
                answer = await api.query(parse_query(body))
                answer_json(answer)
                took.append((time.perf_counter() - started) * 1000)
                inside.append(answer["buildings"]["count"])
                done += 1
                if progress is not None:
                    progress(done)
            ordered = sorted(took)
            out.append(
                QueryFigures(
                    shape=shape,
                    size=label,
                    n=per_size,
                    p50_ms=statistics.median(ordered),
                    p99_ms=ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)],
                    max_ms=ordered[-1],
                    inside=statistics.median(inside),
                )
            )
    return out


def district_cells(buildings: PointLayer, resolution: int = 9) -> list[dict[str, Any]]:
    """A live view for every fine cell with buildings: people and walkable area set."""
    import h3

    cells = {h3.latlng_to_cell(float(a), float(b), resolution) for a, b in
             zip(buildings.lat[::50], buildings.lon[::50], strict=True)}  # fmt: skip
    return [{"cell": c, "people": 40.0, "area_m2": 20_000.0} for c in sorted(cells)]


def figures_json(rows: list[QueryFigures]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def query_markdown(rows: list[QueryFigures]) -> str:
    head = (
        "| shape | size | queries | p50 ms | p99 ms | max ms | buildings inside (median) |\n"
        "|---|---|--:|--:|--:|--:|--:|\n"
    )
    return head + "".join(
        f"| {r.shape} | {r.size} | {r.n} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.1f} "
        f"| {r.inside:,.0f} |\n"
        for r in rows
    )


def run(features: int, per_size: int, progress: Callable[[int], None] | None = None) -> Any:
    """Build, then query; returns (rows, build seconds, cells)."""
    started = time.perf_counter()
    layers, buildings = build(features)
    built_s = time.perf_counter() - started
    cells = district_cells(buildings)
    rows = asyncio.run(run_queries(layers, buildings, per_size, cells, progress=progress))
    return rows, built_s, len(cells)
