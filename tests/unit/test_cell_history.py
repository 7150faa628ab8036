"""Heatmap history in a real redis-server: frames, trimming, a cell's series, the API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import h3
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from alerts.crowd.los import LosConfig
from web import guard
from web.auth import TokenTable
from web.cell_history import Frame, HistoryRecorder, HistoryStore, add_routes
from web.server import cancel_and_wait

T0 = 1_790_000_000_000
BRIDGE = h3.latlng_to_cell(23.0258, 113.1166, 9)
NEXT = next(c for c in sorted(h3.cell_to_children(h3.cell_to_parent(BRIDGE, 8), 9)) if c != BRIDGE)


def view(cell: str, people: float, density: float) -> dict:
    return {
        "cell": cell,
        "people": people,
        "area_m2": 400.0,
        "density": density,
        "risk": 0.5,
        "los": "F" if density > 2.15 else "C",
        "tickets_total": 1,
        "alarms": 0,
        "extra": "not kept",
    }


@pytest_asyncio.fixture
async def store(redis_url: str) -> AsyncIterator[HistoryStore]:
    redis = Redis.from_url(redis_url)
    s = HistoryStore(redis, f"test-{time.monotonic_ns()}:", interval_s=10, keep_s=60)
    try:
        yield s
    finally:
        await s.clear()
        await redis.aclose()


def test_a_frame_round_trips_and_refuses_what_is_not_one() -> None:
    frame = Frame.of(T0, [view(BRIDGE, 860, 2.2), {"no": "cell"}])
    again = Frame.decode(frame.encode())
    assert again == frame and again.cells == (BRIDGE,)
    (v,) = again.views()
    assert v["people"] == 860 and v["los"] == "F" and "extra" not in v
    assert (v["lat"], v["lon"]) == tuple(round(x, 6) for x in h3.cell_to_latlng(BRIDGE))
    for bad, reason in [
        (b"{", "not JSON"),
        (b'{"at": "x", "cells": []}', "integer 'at'"),
        (b'{"at": 1, "cells": [1]}', "list of cell ids"),
        (b'{"at": 1, "cells": ["a"], "people": [1, 2]}', "columns must match"),
    ]:
        with pytest.raises(ValueError, match=reason):
            Frame.decode(bad)


@pytest.mark.asyncio
async def test_frames_are_kept_for_their_span_and_found_by_time(store: HistoryStore) -> None:
    for i in range(10):  # every 10 s for 90 s; 60 s are kept
        await store.record(Frame.of(T0 + i * 10_000, [view(BRIDGE, 100 * i, i / 4)]))
    index = await store.index()
    assert index == {"from": T0 + 30_000, "to": T0 + 90_000, "interval_s": 10, "frames": 7}
    found = await store.frame_at(T0 + 55_000)
    assert found is not None and found.at == T0 + 50_000 and found.columns["people"] == [500]
    assert await store.frame_at(T0 + 29_999) is None
    # the same millisecond written again (a second web server) replaces the frame
    await store.record(Frame.of(T0 + 90_000, [view(BRIDGE, 1, 0.1)]))
    assert (await store.index())["frames"] == 7


@pytest.mark.asyncio
async def test_a_cells_series_is_its_own_figures_oldest_first(store: HistoryStore) -> None:
    for i in range(10):
        cells = [view(BRIDGE, 100 * i, i / 4)] + ([view(NEXT, 5, 0.01)] if i % 2 else [])
        await store.record(Frame.of(T0 + i * 10_000, cells))
    series = await store.cell_series(BRIDGE, 1, T0 + 90_000)
    assert [p["t"] for p in series] == [T0 + i * 10_000 for i in range(3, 10)]
    assert series[-1] == {"t": T0 + 90_000, "people": 900, "density": 2.25, "risk": 0.5, "los": "F"}
    assert [p["t"] for p in await store.cell_series(NEXT, 1, T0 + 90_000)] == [
        T0 + i * 10_000 for i in (3, 5, 7, 9)
    ]
    assert await store.cell_series(BRIDGE, 1, T0 + 10 * 60_000) == []  # too old
    await store.redis.rpush(f"{store.key}:cell:{BRIDGE}", b"garbage")
    assert len(await store.cell_series(BRIDGE, 1, T0 + 90_000)) == 7  # skipped, counted


@pytest.mark.asyncio
async def test_the_recorder_writes_a_frame_each_interval(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    store = HistoryStore(redis, f"rec-{time.monotonic_ns()}:", interval_s=0.05, keep_s=60)
    calls = 0

    async def cells() -> list[dict]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("redis away for a moment")  # logged, counted, next one runs
        return [view(BRIDGE, calls, 1.0)]

    task = asyncio.create_task(HistoryRecorder(store, cells).run())
    try:
        for _ in range(100):
            if (await store.index())["frames"] >= 3:
                break
            await asyncio.sleep(0.05)
    finally:  # as the server stops it: a cancel can be lost in redis-py on Python 3.11
        await cancel_and_wait(task)
    assert task.cancelled()
    assert (await store.index())["frames"] >= 3 and calls >= 4
    await store.clear()
    await redis.aclose()


@pytest_asyncio.fixture
async def client(store: HistoryStore) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    guard.setup(app, TokenTable([]), "viewer", 1 << 20)
    add_routes(app, store, 9, LosConfig())
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.mark.asyncio
async def test_the_api_answers_frames_rollups_and_series(
    store: HistoryStore, client: TestClient[web.Request, web.Application]
) -> None:
    now = int(time.time() * 1000)
    await store.record(Frame.of(now - 20_000, [view(BRIDGE, 400, 1.0), view(NEXT, 400, 1.0)]))
    await store.record(Frame.of(now - 10_000, [view(BRIDGE, 860, 2.15), view(NEXT, 40, 0.1)]))
    index = await (await client.get("/api/history/index")).json()
    assert index["frames"] == 2 and index["to"] == now - 10_000
    body = await (await client.get(f"/api/history?at={now - 15_000}")).json()
    assert body["at"] == now - 20_000 and body["resolution"] == 9 and len(body["cells"]) == 2
    coarse = await (await client.get(f"/api/history?at={now}&res=7")).json()
    (parent,) = coarse["cells"]
    assert parent["cell"] == h3.cell_to_parent(BRIDGE, 7) and parent["people"] == 900
    series = await (await client.get(f"/api/cells/{BRIDGE}/history?minutes=5")).json()
    assert [p["people"] for p in series["points"]] == [400, 860]
    for path, status in [
        ("/api/history?at=soon", 400),
        (f"/api/history?at={now}&res=12", 400),
        (f"/api/history?at={now - 3_600_000}", 404),
        ("/api/cells/zzz/history", 400),
        (f"/api/cells/{h3.cell_to_parent(BRIDGE, 8)}/history", 400),
        (f"/api/cells/{BRIDGE}/history?minutes=61", 400),
    ]:
        r = await client.get(path)
        assert r.status == status, path
        assert "error" in await r.json()


@pytest.mark.asyncio
async def test_odd_numbers_in_parameters_are_refused_with_400_not_500(
    client: TestClient[web.Request, web.Application],
) -> None:
    for query in ("at=%C2%B2", "at=" + "9" * 5000, "at=%EF%BC%91%EF%BC%92", "at=1&res=%C2%B2"):
        r = await client.get(f"/api/history?{query}")
        assert r.status == 400 and "error" in await r.json(), query
    r = await client.get(f"/api/cells/{BRIDGE}/history?minutes=%C2%B2")
    assert r.status == 400
