"""web.workers: view validation, staleness, the coalescing board, nearest online workers,
the Redis store (a real redis-server) and GET /api/workers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from redis.asyncio import Redis

from citybrain.config.access import Role
from geo.measure import distance_m
from web import guard
from web.auth import TokenTable
from web.workers import (
    WorkerBoard,
    WorkerStore,
    nearest_online,
    routes,
    shown,
    shown_all,
    validate_worker_view,
)

T0 = 1_790_000_000_000
STALE = 120_000
VIEW: dict[str, Any] = {
    "id": "GW-001",
    "name": "张磊",
    "grid": "G-024",
    "lat": 23.0258,
    "lon": 113.1166,
    "status": "online",
    "updated_at": T0,
}


def view(**change: Any) -> dict[str, Any]:
    return {**VIEW, **change}


# -- validation ------------------------------------------------------------------------------
def test_a_good_view_is_kept_and_extra_fields_dropped() -> None:
    assert validate_worker_view({**VIEW, "extra": 1}) == VIEW
    assert validate_worker_view(view(name=None, lat=23, status="offline"))["lat"] == 23.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in VIEW.items() if k != "id"}, "id"),
        (view(id=""), "id"),
        (view(id=7), "id"),
        (view(grid=None), "grid"),
        (view(lat=91.0), "lat"),
        (view(lat="23.0"), "lat"),
        (view(lon=True), "lon"),
        (view(status="busy"), "status"),
        (view(updated_at=1.5), "updated_at"),
        (view(updated_at="1790000000000"), "updated_at"),
        (view(name=12), "name"),
    ],
)
def test_bad_views_are_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^bad grid worker view: {field}: "):
        validate_worker_view(body)


@pytest.mark.parametrize("body", [None, [], "GW-001", 3])
def test_a_view_must_be_an_object(body: object) -> None:
    with pytest.raises(ValueError, match="must be an object"):
        validate_worker_view(body)


# -- staleness and the board -----------------------------------------------------------------
def test_staleness() -> None:
    assert shown(VIEW, T0 + STALE - 1, STALE)["status"] == "online"
    assert shown(VIEW, T0 + STALE, STALE)["status"] == "offline"
    assert shown(view(status="offline"), T0, STALE)["status"] == "offline"
    assert VIEW["status"] == "online"  # the input is not changed
    ordered = shown_all([view(id="b"), view(id="a", updated_at=T0 - STALE)], T0, STALE)
    assert [(v["id"], v["status"]) for v in ordered] == [("a", "offline"), ("b", "online")]


def test_board_coalesces_until_taken() -> None:
    board = WorkerBoard(STALE)
    assert board.take(T0) is None
    for i in range(5):
        assert board.apply(view(updated_at=T0 + i * 1000, lat=23.02 + i / 1000))
    board.apply(view(id="GW-002", updated_at=T0))
    msg = board.take(T0 + 5000)
    assert msg is not None
    assert msg["type"] == "workers" and msg["server_time"] == T0 + 5000 and msg["removed"] == []
    assert [(v["id"], v["lat"]) for v in msg["workers"]] == [
        ("GW-001", 23.024),
        ("GW-002", 23.0258),
    ]
    assert board.take(T0 + 6000) is None  # nothing new
    board.apply(view(id="GW-002", updated_at=T0 + 7000))  # heard again, same place
    (again,) = board.take(T0 + 8000)["workers"]  # type: ignore[index]
    assert again["id"] == "GW-002" and again["updated_at"] == T0 + 7000


def test_board_ignores_views_older_than_the_held_one() -> None:
    board = WorkerBoard(STALE)
    assert board.apply(view(updated_at=T0 + 10_000, status="offline"))
    assert not board.apply(view(updated_at=T0 + 9_999, status="online"))
    assert board.apply(view(updated_at=T0 + 10_000, name="张磊 (new phone)"))  # same time: kept
    (held,) = board.views(T0 + 10_000)
    assert held["name"] == "张磊 (new phone)"
    (sent,) = board.take(T0 + 10_000)["workers"]  # type: ignore[index]
    assert sent == held


def test_board_sends_workers_that_went_stale_once() -> None:
    board = WorkerBoard(STALE)
    board.apply(view())
    board.apply(view(id="GW-002", updated_at=T0 + 60_000))
    assert [v["status"] for v in board.take(T0)["workers"]] == ["online", "online"]  # type: ignore[index]
    assert board.take(T0 + STALE - 1) is None
    (stale,) = board.take(T0 + STALE)["workers"]  # type: ignore[index]
    assert (stale["id"], stale["status"]) == ("GW-001", "offline")
    assert board.take(T0 + STALE + 1000) is None  # said once
    board.apply(view(updated_at=T0 + STALE + 2000))  # back
    (back,) = board.take(T0 + STALE + 3000)["workers"]  # type: ignore[index]
    assert (back["id"], back["status"]) == ("GW-001", "online")
    assert [v["status"] for v in board.views(T0 + 10 * STALE)] == ["offline", "offline"]


# -- nearest online --------------------------------------------------------------------------
_GEOD = Geod(ellps="WGS84")
_points = st.tuples(
    st.floats(min_value=22.95, max_value=23.10), st.floats(min_value=113.00, max_value=113.20)
)


def brute_force(
    workers: list[dict[str, Any]], lat: float, lon: float, limit: int, max_m: float
) -> list[tuple[float, str]]:
    """Every worker's distance, every one filtered, everything sorted: the reference."""
    found = []
    for w in workers:
        d = round(distance_m(lat, lon, w["lat"], w["lon"]), 1)
        if w["status"] == "online" and distance_m(lat, lon, w["lat"], w["lon"]) <= max_m:
            found.append((d, w["id"]))
    return sorted(found)[:limit]


@settings(max_examples=200, deadline=None)
@given(
    spots=st.lists(st.tuples(_points, st.booleans()), max_size=40),
    centre=_points,
    limit=st.integers(min_value=0, max_value=8),
    max_m=st.floats(min_value=0, max_value=20_000),
)
def test_nearest_online_matches_brute_force(
    spots: list[tuple[tuple[float, float], bool]],
    centre: tuple[float, float],
    limit: int,
    max_m: float,
) -> None:
    workers = [
        view(id=f"GW-{i:03d}", lat=lat, lon=lon, status="online" if on else "offline")
        for i, ((lat, lon), on) in enumerate(spots)
    ]
    got = nearest_online(workers, *centre, limit=limit, max_m=max_m)
    assert [(g["distance_m"], g["id"]) for g in got] == brute_force(workers, *centre, limit, max_m)
    by_id = {w["id"]: w for w in workers}
    for g in got:
        assert {k: v for k, v in g.items() if k != "distance_m"} == by_id[g["id"]]
        # The sphere is within 0.5 % of the WGS-84 ellipsoid at city scale.
        ellipsoidal = _GEOD.inv(centre[1], centre[0], g["lon"], g["lat"])[2]
        assert abs(g["distance_m"] - ellipsoidal) <= 0.005 * ellipsoidal + 0.1


def test_nearest_online_examples() -> None:
    here = (23.0258, 113.1166)
    workers = [
        view(id="far", lat=23.0258 + 0.04, lon=113.1166),  # ≈ 4.4 km north
        view(id="off", lat=23.0259, status="offline"),
        view(id="b", lat=23.0258 + 0.009),  # ≈ 1 km
        view(id="a", lat=23.0258 - 0.009),  # ≈ 1 km, same distance: ties by id
        view(id="c", lat=23.0258 + 0.001),
    ]
    got = nearest_online(workers, *here)
    assert [g["id"] for g in got] == ["c", "a", "b"]
    assert 1000 < got[1]["distance_m"] == got[2]["distance_m"] < 1002
    assert [g["id"] for g in nearest_online(workers, *here, limit=1)] == ["c"]
    assert [g["id"] for g in nearest_online(workers, *here, max_m=5000)][-1] == "far"
    assert nearest_online(workers, *here, limit=0) == []
    with pytest.raises(ValueError):
        nearest_online(workers, *here, limit=-1)
    with pytest.raises(ValueError):
        nearest_online(workers, *here, max_m=float("nan"))


# -- Redis store and the API (a real redis-server) -------------------------------------------
@pytest_asyncio.fixture
async def store(redis_url: str) -> AsyncIterator[WorkerStore]:
    redis = Redis.from_url(redis_url)
    store = WorkerStore(redis, f"test-{time.monotonic_ns()}:")
    try:
        yield store
    finally:
        await store.clear()
        await redis.aclose()


@pytest.mark.asyncio
async def test_store_keeps_the_newest_view_per_worker(store: WorkerStore) -> None:
    assert await store.all() == []
    assert await store.put(view(updated_at=T0 + 5000, status="offline"))
    assert not await store.put(view(updated_at=T0 + 4000))  # late: ignored
    assert await store.put(view(id="GW-002", updated_at=T0))
    assert await store.all() == [view(updated_at=T0 + 5000, status="offline"), view(id="GW-002")]
    assert await store.put(view(updated_at=T0 + 5000, name="王伟"))  # same time: replaces
    assert (await store.all())[0]["name"] == "王伟"
    assert store.key.endswith(":workers")
    assert sorted(await store.redis.hkeys(store.key)) == [b"GW-001", b"GW-002"]


TOKEN = "desk-viewer-token-0123456789"


async def _client(app: web.Application) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def _app(store: WorkerStore, anonymous: Role | None) -> web.Application:
    app = web.Application()
    guard.setup(app, TokenTable([("desk", "viewer", TOKEN)]), anonymous, max_body_bytes=1024)
    routes(app, store, STALE)
    return app


@pytest.mark.asyncio
async def test_get_workers_shows_stale_workers_offline(store: WorkerStore) -> None:
    now = int(time.time() * 1000)
    await store.put(view(id="GW-002", updated_at=now - STALE - 1000))  # went quiet
    await store.put(view(updated_at=now))
    client = await _client(_app(store, "viewer"))
    try:
        r = await client.get("/api/workers", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200
        body = await r.json()
        assert [(v["id"], v["status"]) for v in body["workers"]] == [
            ("GW-001", "online"),
            ("GW-002", "offline"),
        ]
        assert (await client.post("/api/workers")).status == 405
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_get_workers_needs_the_viewer_role(store: WorkerStore) -> None:
    client = await _client(_app(store, None))
    try:
        r = await client.get("/api/workers")
        assert r.status == 401 and "error" in await r.json()
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_anonymous_viewers_do_not_get_the_grid_workers(store: WorkerStore) -> None:
    await store.put(view(updated_at=int(time.time() * 1000)))
    client = await _client(_app(store, "viewer"))  # anonymous callers may view the map
    try:
        r = await client.get("/api/workers")
        assert r.status == 401 and "sign in" in (await r.json())["error"]
    finally:
        await client.close()
