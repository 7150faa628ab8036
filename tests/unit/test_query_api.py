"""web.query_api: POST /api/query over generated layers and live views, against brute force;
bad bodies refused with reasons; the layer endpoints; nearby cameras and workers."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from pydantic import ValidationError
from shapely.geometry import Point, Polygon, mapping

from alerts.crowd.los import LosConfig
from citybrain.config.settings import LayerFileSettings, Settings
from feeds.sim.layers_gen import LayerGenConfig, generate_layers
from geo.crs import wgs84_to_gcj02
from geo.layers import LayerError, Layers, PointLayer
from geo.measure import distance_m, offset_m
from web import guard
from web.auth import TokenTable
from web.query_api import SpatialQueries, load_layers, parse_query

BRIDGE = (23.0258, 113.1166)
VIEWER = "viewer-token-0123456789"
LOS = LosConfig.from_mapping({"walkway": {"limits": [0.1, 0.2, 0.3, 0.4, 0.5]}})
Client = TestClient[web.Request, web.Application]


def cell_views() -> list[dict[str, Any]]:
    """Res-9 cells around the bridge with people on 1,000 m² each; some without an estimate."""
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(*BRIDGE, 9), 6))
    views: list[dict[str, Any]] = [
        {"cell": c, "people": float(10 * i) if i % 4 else None, "area_m2": 1000.0}
        for i, c in enumerate(cells)
    ]
    views.append({"cell": "not-a-cell", "people": 5.0, "area_m2": 10.0})
    views.append({"cell": cells[1], "people": "lots", "area_m2": 10.0})  # a bad duplicate
    return views


def worker_views() -> list[dict[str, Any]]:
    """Grid worker views along a line through the bridge, every third offline; one bad."""
    out: list[dict[str, Any]] = []
    for i in range(30):
        lat, lon = offset_m(*BRIDGE, 80.0 * i - 1200.0, 50.0 * (i % 7) - 150.0)
        status = "online" if i % 3 else "offline"
        view = {"id": f"gw-{i:03d}", "name": f"W{i}", "grid": "G-001", "lat": lat, "lon": lon}
        out.append(view | {"status": status, "updated_at": 1})
    out.append({"id": "gw-bad", "lat": "x", "lon": 113.0, "status": "online"})
    return out


async def live_cells() -> list[dict[str, Any]]:
    return cell_views()


async def live_workers() -> list[dict[str, Any]]:
    return worker_views()


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> Layers:
    out = tmp_path_factory.mktemp("layers")
    generate_layers(out, LayerGenConfig(seed=3, buildings=4000, enterprises=600))
    return load_layers([], out)


def build_app(queries: SpatialQueries, anonymous: str | None = "viewer") -> web.Application:
    app = web.Application()
    tokens = TokenTable([("desk", "viewer", VIEWER)])
    guard.setup(app, tokens, anonymous, 1 << 20)  # type: ignore[arg-type]
    queries.routes(app)
    return app


@pytest_asyncio.fixture
async def client(layers: Layers) -> AsyncIterator[Client]:
    queries = SpatialQueries(layers, live_cells, live_workers, LOS)
    async with TestClient(TestServer(build_app(queries))) as c:
        yield c


def layer(layers: Layers, kind: str) -> PointLayer:
    (found,) = layers.of_kind(kind)
    return found


def brute(found: PointLayer, inside: Any) -> list[int]:
    return [i for i in range(found.count) if inside(float(found.lat[i]), float(found.lon[i]))]


def expected(layers: Layers, inside: Any, centre: tuple[float, float]) -> dict[str, Any]:
    """The answer by brute force over every point, cell and worker."""
    b, e, c = (layer(layers, k) for k in ("building", "enterprise", "camera"))
    bi, ei, ci = brute(b, inside), brute(e, inside), brute(c, inside)

    def dist(x: PointLayer, i: int) -> float:
        return distance_m(*centre, float(x.lat[i]), float(x.lon[i]))

    people = area = 0.0
    cells = 0
    for v in cell_views():
        usable = h3.is_valid_cell(v["cell"]) and isinstance(v["people"], float)
        if usable and inside(*h3.cell_to_latlng(v["cell"])):
            people, area, cells = people + v["people"], area + v["area_m2"], cells + 1
    workers = [
        w for w in worker_views() if isinstance(w["lat"], float) and inside(w["lat"], w["lon"])
    ]
    return {
        "buildings": {"count": len(bi), "residents": round(sum(b.numbers["residents"][bi]))},
        "enterprises": (
            len(ei),
            round(sum(e.numbers["employees"][ei])),
            sorted(ei, key=lambda i: dist(e, i))[:50],
        ),
        "cameras": (len(ci), sorted(ci, key=lambda i: dist(c, i))),
        "live": (people, area, cells),
        "workers": (len(workers), sum(1 for w in workers if w["status"] == "online")),
    }


def check(answer: dict[str, Any], want: dict[str, Any], layers: Layers) -> None:
    assert answer["buildings"] == want["buildings"]
    count, employees, nearest = want["enterprises"]
    assert (answer["enterprises"]["count"], answer["enterprises"]["employees"]) == (
        count,
        employees,
    )
    e = layer(layers, "enterprise")
    assert [x["id"] for x in answer["enterprises"]["items"]] == [e.ids[i] for i in nearest]
    count, cams = want["cameras"]
    c = layer(layers, "camera")
    assert answer["cameras"]["count"] == count
    assert [x["id"] for x in answer["cameras"]["items"]] == [c.ids[i] for i in cams]
    people, area, cells = want["live"]
    live = answer["live"]
    assert (live["people"], live["walkable_m2"], live["cells"]) == (people, area, cells)
    density = people / area if area else None
    assert live["density"] == (round(density, 3) if density is not None else None)
    assert live["los"] == (LOS.walkway.classify(density) if density is not None else None)
    assert (answer["workers"]["count"], answer["workers"]["online"]) == want["workers"]
    assert answer["took_ms"] >= 0


@pytest.mark.asyncio
@pytest.mark.parametrize("radius", [1.0, 300.0, 800.0, 2500.0])
async def test_circle_equals_brute_force(client: Client, layers: Layers, radius: float) -> None:
    body = {"center": [BRIDGE[1], BRIDGE[0]], "radius_m": radius}
    signed_in = {"Authorization": f"Bearer {VIEWER}"}
    r = await client.post("/api/query", json=body, headers=signed_in)
    assert r.status == 200, await r.text()
    answer = await r.json()
    public = await (await client.post("/api/query", json=body)).json()  # anonymous viewer
    assert (
        public["workers"]["items"] == []
        and public["cameras"]["count"] == answer["cameras"]["count"]
    )
    assert [c["id"] for c in public["cameras"]["items"]] == [
        c["id"] for c in answer["cameras"]["items"]
    ]
    assert all("stream_url" not in c for c in public["cameras"]["items"])
    assert answer["area_m2"] == pytest.approx(math.pi * radius**2, abs=0.1)

    def inside(lat: float, lon: float) -> bool:
        return distance_m(*BRIDGE, lat, lon) <= radius

    check(answer, expected(layers, inside, BRIDGE), layers)
    if radius >= 800:
        assert answer["buildings"]["count"] > 50 and answer["live"]["people"] > 0
        assert answer["workers"]["online"] > 0
    item = answer["enterprises"]["items"][0] if answer["enterprises"]["items"] else None
    if item is not None:
        assert set(item) == {"id", "name", "industry", "employees", "lat", "lon"}
    for cam in answer["cameras"]["items"]:
        assert cam["stream_url"] == f"rtsp://video.citybrain.local/live/{cam['id']}"
    workers = answer["workers"]["items"]
    assert [w["status"] for w in workers] == sorted(w["status"] for w in workers)[::-1]


@pytest.mark.asyncio
async def test_polygon_equals_brute_force(client: Client, layers: Layers) -> None:
    ring_m = [(-900, -700), (1000, -400), (600, 900), (-700, 500)]  # east, north metres
    hole_m = [(-100, -100), (150, -100), (0, 150)]
    shape = Polygon(
        [offset_m(*BRIDGE, e, n)[::-1] for e, n in ring_m],
        [[offset_m(*BRIDGE, e, n)[::-1] for e, n in hole_m]],
    )
    r = await client.post("/api/query", json={"geometry": mapping(shape)})
    assert r.status == 200, await r.text()
    answer = await r.json()
    assert answer["area_m2"] == pytest.approx(Polygon(ring_m, [hole_m]).area, rel=0.005)

    def inside(lat: float, lon: float) -> bool:
        return bool(shape.intersects(Point(lon, lat)))

    point = shape.representative_point()
    check(answer, expected(layers, inside, (point.y, point.x)), layers)
    assert answer["buildings"]["count"] > 0


@pytest.mark.asyncio
async def test_bad_cell_and_worker_views_are_counted_and_left_out(client: Client) -> None:
    def bad(kind: str) -> float:
        name = "citybrain_spatial_query_bad_views_total"
        return REGISTRY.get_sample_value(name, {"kind": kind}) or 0.0

    before = (bad("cell"), bad("worker"))
    r = await client.post("/api/query", json={"center": [BRIDGE[1], BRIDGE[0]], "radius_m": 5000})
    assert r.status == 200
    assert (bad("cell"), bad("worker")) == (before[0] + 2, before[1] + 1)


@pytest.mark.asyncio
async def test_the_answer_is_computed_off_the_event_loop(layers: Layers) -> None:
    """A large shape takes milliseconds of CPU: the loop must stay free for the websockets."""
    queries = SpatialQueries(layers, live_cells, live_workers, LOS)
    threads: list[int] = []
    answer = queries.answer

    def spy(*args: Any) -> dict[str, Any]:
        threads.append(threading.get_ident())
        return answer(*args)

    queries.answer = spy  # type: ignore[method-assign]
    region = parse_query({"center": [BRIDGE[1], BRIDGE[0]], "radius_m": 2000})
    got = await queries.query(region)
    assert got["buildings"]["count"] > 0
    assert len(threads) == 1 and threads[0] != threading.get_ident()


def test_a_cell_that_is_not_text_is_a_bad_view_not_an_error(layers: Layers) -> None:
    name = "citybrain_spatial_query_bad_views_total"
    before = REGISTRY.get_sample_value(name, {"kind": "cell"}) or 0.0
    queries = SpatialQueries(layers, live_cells, live_workers, LOS)
    region = parse_query({"center": [BRIDGE[1], BRIDGE[0]], "radius_m": 500})
    views = [{"cell": ["89411c1b2a3ffff"], "people": 5.0, "area_m2": 10.0}]
    assert queries.answer(region, views, [])["live"]["cells"] == 0
    assert REGISTRY.get_sample_value(name, {"kind": "cell"}) == before + 1


def polygon_body(coords: list[list[float]]) -> dict[str, Any]:
    return {"geometry": {"type": "Polygon", "coordinates": [coords]}}


SQUARE = [[113.10, 23.02], [113.11, 23.02], [113.11, 23.03], [113.10, 23.03], [113.10, 23.02]]
MANY = [[113.1 + 0.01 * math.cos(a), 23.0 + 0.01 * math.sin(a)] for a in np.linspace(0, 6.28, 2100)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 422, "valid dictionary"),
        (b"{}", 422, "give center [lon, lat] and radius_m, or a GeoJSON geometry"),
        ({"center": [113.1, 23.0]}, 422, "give center"),
        (
            {"center": [113.1, 23.0], "radius_m": 0.5},
            422,
            "radius_m: Input should be greater than or equal to 1",
        ),
        ({"center": [113.1, 23.0], "radius_m": 5001}, 422, "less than or equal to 5000"),
        (
            {"center": [113.1, 23.0], "radius_m": "500"},
            422,
            "radius_m: Input should be a valid number",
        ),
        ({"center": ["113.1", 23.0], "radius_m": 5}, 422, "center.0"),
        ({"center": [113.1], "radius_m": 5}, 422, "center"),
        ({"center": [23.0, 113.1], "radius_m": 5}, 422, "inside mainland China"),
        ({"center": [113.1, 23.0], "radius_m": 5, "colour": "red"}, 422, "colour: Extra inputs"),
        ({"center": [113.1, 23.0], "radius_m": 5} | polygon_body(SQUARE), 422, "not both"),
        ({"geometry": {"type": "Point", "coordinates": [113.1, 23.0]}}, 422, "got 'Point'"),
        (polygon_body([[113.1, 23.0], [113.2]]), 422, "malformed Polygon coordinates"),
        ({"geometry": {"type": "Polygon"}}, 422, "malformed Polygon coordinates"),
        (
            polygon_body(
                [
                    [113.10, 23.02],
                    [113.11, 23.03],
                    [113.11, 23.02],
                    [113.10, 23.03],
                    [113.10, 23.02],
                ]
            ),
            422,
            "invalid polygon: Self-intersection",
        ),
        (polygon_body([*MANY, MANY[0]]), 422, "2101 vertices, at most 2000"),
        (
            polygon_body(
                [[113.0, 23.0], [113.1, 23.0], [113.1, 23.1], [113.0, 23.1], [113.0, 23.0]]
            ),
            422,
            "≤ 50 km²",
        ),
        (
            polygon_body([[-3.0, 51.0], [-2.9, 51.0], [-2.9, 51.1], [-3.0, 51.0]]),
            422,
            "inside mainland China",
        ),
    ],
)
async def test_bad_bodies_are_refused_with_a_reason(
    client: Client, body: Any, status: int, reason: str
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    before = REGISTRY.get_sample_value("citybrain_spatial_queries_rejected_total") or 0.0
    r = await client.post("/api/query", data=data, headers={"Content-Type": "application/json"})
    assert r.status == status
    error = (await r.json())["error"]
    assert reason in error
    after = REGISTRY.get_sample_value("citybrain_spatial_queries_rejected_total") or 0.0
    assert after == before + (1 if status == 422 else 0)


@pytest.mark.asyncio
async def test_only_callers_with_a_role_may_query(layers: Layers) -> None:
    queries = SpatialQueries(layers, live_cells, live_workers, LOS)
    body = {"center": [BRIDGE[1], BRIDGE[0]], "radius_m": 100}
    async with TestClient(TestServer(build_app(queries, anonymous=None))) as c:
        r = await c.post("/api/query", json=body)
        assert r.status == 401 and "viewer" in (await r.json())["error"]
        r = await c.get("/api/layers")
        assert r.status == 401
        r = await c.post("/api/query", json=body, headers={"Authorization": f"Bearer {VIEWER}"})
        assert r.status == 200


@pytest.mark.asyncio
async def test_layer_list_and_geojson(client: Client, layers: Layers) -> None:
    r = await client.get("/api/layers")
    listed = (await r.json())["layers"]
    assert [x["id"] for x in listed] == ["buildings", "enterprises", "cameras", "grids", "district"]
    assert listed[0] | {"count": 0} == {
        "id": "buildings",
        "kind": "building",
        "title": "建筑 Buildings (simulated)",
        "count": 0,
        "source": "simulated, seed 3",
        "geometry": "point",
    }
    assert listed[0]["count"] == 4000
    r = await client.get("/api/layers/cameras.geojson", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.content_type == "application/geo+json"
    assert r.headers.get("Content-Encoding") == "gzip"  # aiohttp decodes it for us
    cams = await r.json(content_type=None)
    c = layer(layers, "camera")
    assert [f["properties"]["id"] for f in cams["features"]] == c.ids.tolist()
    first = cams["features"][0]
    assert first["geometry"] == {
        "type": "Point",
        "coordinates": [round(float(c.lon[0]), 7), round(float(c.lat[0]), 7)],
    }
    r = await client.get("/api/layers/grids.geojson")
    grids = await r.json(content_type=None)
    assert grids["features"][0]["properties"]["id"] == "G-001"
    r = await client.get("/api/layers/nope.geojson")
    assert r.status == 404 and "no layer 'nope'" in (await r.json())["error"]


@pytest.mark.asyncio
async def test_no_layers_configured(tmp_path: Path) -> None:
    queries = SpatialQueries(load_layers([], None), live_cells, live_workers, LOS)
    async with TestClient(TestServer(build_app(queries))) as c:
        assert (await (await c.get("/api/layers")).json()) == {"layers": []}
        r = await c.post("/api/query", json={"center": [BRIDGE[1], BRIDGE[0]], "radius_m": 500})
        answer = await r.json()
    assert answer["buildings"] == {"count": 0, "residents": 0}
    assert answer["enterprises"] == {"count": 0, "employees": 0, "items": []}
    assert answer["cameras"] == {"count": 0, "items": []}
    assert answer["live"]["cells"] > 0  # the live picture does not need layers


@pytest.mark.asyncio
async def test_user_layers_from_settings_add_to_the_counts(tmp_path: Path, layers: Layers) -> None:
    path = tmp_path / "towers.geojson"
    lat, lon = wgs84_to_gcj02(*BRIDGE)
    geometry = {"type": "Point", "coordinates": [lon, lat]}
    feature = {
        "type": "Feature",
        "properties": {"id": "t1", "residents": 1234},
        "geometry": geometry,
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    spec = Settings().with_overrides(
        layers={"paths": [{"path": str(path), "crs": "gcj02", "kind": "building"}]}
    )
    (user,) = load_layers(spec.layers.paths, None).points
    assert (user.id, user.kind) == ("towers", "building")
    assert user.lat[0] == pytest.approx(BRIDGE[0], abs=1e-8)
    merged = Layers((*layers.points, user), layers.outlines)
    region = parse_query({"center": [BRIDGE[1], BRIDGE[0]], "radius_m": 50})
    alone = await SpatialQueries(layers, live_cells, live_workers, LOS).query(region)
    answer = await SpatialQueries(merged, live_cells, live_workers, LOS).query(region)
    assert answer["buildings"]["count"] == alone["buildings"]["count"] + 1
    assert answer["buildings"]["residents"] == alone["buildings"]["residents"] + 1234
    assert {"id": "towers", "kind": "building", "count": 1} in answer["layers"]


def test_nearby_cameras_equal_brute_force(layers: Layers) -> None:
    queries = SpatialQueries(layers, live_cells, live_workers, LOS)
    c = layer(layers, "camera")
    for radius, limit in [(500.0, 20), (3000.0, 5), (10.0, 20)]:
        got = queries.nearby_cameras(*BRIDGE, radius, limit)
        dist = [distance_m(*BRIDGE, float(c.lat[i]), float(c.lon[i])) for i in range(c.count)]
        want = sorted((d, c.ids[i]) for i, d in enumerate(dist) if d <= radius)[:limit]
        assert [x["id"] for x in got] == [i for _, i in want]
        assert [x["distance_m"] for x in got] == [round(d, 1) for d, _ in want]
    first = queries.nearby_cameras(*BRIDGE, 500.0, 1)[0]
    assert set(first) == {"id", "name", "lat", "lon", "distance_m", "stream_url"}
    assert first["id"] == "cam-0001" and first["distance_m"] == 0.0


@pytest.mark.asyncio
async def test_nearby_workers_online_first_then_nearest(layers: Layers) -> None:
    queries = SpatialQueries(layers, live_cells, live_workers, LOS)
    got = await queries.nearby_workers(*BRIDGE, 3000.0, 5)
    views = [w for w in worker_views() if isinstance(w["lat"], float)]
    ranked = sorted(
        (w["status"] != "online", distance_m(*BRIDGE, w["lat"], w["lon"]), w["id"]) for w in views
    )
    assert [w["id"] for w in got] == [i for _, _, i in ranked[:5]]
    assert all(w["status"] == "online" for w in got)
    assert got[0]["distance_m"] <= got[1]["distance_m"]
    assert await queries.nearby_workers(*BRIDGE, 1.0, 5) == []


@pytest.mark.asyncio
async def test_user_outline_layer_is_drawn_on_the_basemap_not_counted(tmp_path: Path) -> None:
    """Street (街道) boundaries the project does not ship: a GCJ-02 polygon file given with
    geometry = "outline" is converted to WGS-84 and served as a basemap outline."""
    corners = [(23.02, 113.11), (23.02, 113.12), (23.03, 113.12), (23.03, 113.11)]
    ring = [list(reversed(wgs84_to_gcj02(lat, lon))) for lat, lon in corners]
    feature = {
        "type": "Feature",
        "properties": {"name": "祖庙街道 (test)"},
        "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
    }
    path = tmp_path / "streets.gcj02.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    spec = Settings().with_overrides(
        layers={"paths": [{"path": str(path), "geometry": "outline", "kind": "street"}]}
    )
    layers = load_layers(spec.layers.paths, None)
    assert layers.points == () and [o.kind for o in layers.outlines] == ["street"]
    (shape,) = layers.outlines[0].shapes
    lon0, lat0 = shape.exterior.coords[0]
    assert (lat0, lon0) == (pytest.approx(23.02, abs=1e-7), pytest.approx(113.11, abs=1e-7))
    queries = SpatialQueries(layers, live_cells, live_workers, LOS)
    async with TestClient(TestServer(build_app(queries))) as c:
        (listed,) = (await (await c.get("/api/layers")).json())["layers"]
        assert (listed["id"], listed["kind"], listed["geometry"]) == (
            "streets",
            "street",
            "outline",
        )
        served = await (await c.get("/api/layers/streets.geojson")).json(content_type=None)
        (drawn,) = served["features"]
        assert drawn["properties"]["name"] == "祖庙街道 (test)"
        assert drawn["geometry"]["coordinates"][0][0] == pytest.approx([113.11, 23.02], abs=1e-7)
        answer = await (
            await c.post("/api/query", json={"center": [113.115, 23.025], "radius_m": 500})
        ).json()
        assert answer["layers"] == []  # an outline is drawn, not indexed or counted
    dots = tmp_path / "dots.geojson"
    dot = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Point", "coordinates": [113.11, 23.02]},
    }
    dots.write_text(json.dumps({"type": "FeatureCollection", "features": [dot]}))
    with pytest.raises(LayerError, match=r"dots\.geojson: feature 0: a Point, expected Polygon"):
        load_layers([LayerFileSettings(path=dots, geometry="outline")], None)
    with pytest.raises(ValidationError, match="geometry"):
        LayerFileSettings.model_validate({"path": str(path), "geometry": "polygon"})
