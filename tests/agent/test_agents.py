"""The Faust agents under Faust's own test context (no broker): decode, route, emit."""

import asyncio
import time
from collections.abc import AsyncIterator

import faust
import orjson
import pytest
import pytest_asyncio

from citybrain.config.settings import Settings
from geo.cells import cell_of, parent
from streams.pipeline.columnar.camera_body import decode_body
from streams.pipeline.config import placement, zone_index
from streams.pipeline.events import Ticket, events_of_body
from streams.pipeline.placement import partition_of
from streams.worker.app import create_app

pytestmark = [
    pytest.mark.asyncio,
]
NOW = int(time.time() * 1000)
SETTINGS = Settings()
CAM = {"id": "r1", "ts": NOW, "lat": 23.0262, "lon": 113.1158, "people": 1800, "area_m2": 400.0}


@pytest_asyncio.fixture
async def app(tmp_path) -> AsyncIterator[faust.App]:
    settings = SETTINGS.with_overrides(embedded={"data_dir": str(tmp_path)})
    app = create_app(settings, memory_sinks=True)
    app.finalize()
    app.flow_control.resume()
    # Subscribe to every in-memory sink before the agents emit into it.
    app.readers = {name: channel.__aiter__() for name, channel in app.citybrain_topics.items()}
    yield app
    # Faust's consumer makes a thread event loop when the app is built; nothing started it,
    # so nothing closes it.
    thread_loop = app.consumer._thread.thread_loop  # noqa: SLF001 (no public handle on it)
    if not thread_loop.is_closed():
        thread_loop.close()


async def drain(channel, n: int) -> list:
    return [await asyncio.wait_for(channel.get(), 5) for _ in range(n)]


async def test_ingest_routes_good_events_by_parent_and_dead_letters_bad_ones(app) -> None:
    sinks = app.readers
    batch = [CAM, {**CAM, "id": "r2", "people": -1}, {**CAM, "id": "r3", "lat": 23.10}]
    async with app.agents["ingest_camera"].test_context() as agent:
        await agent.put(orjson.dumps(batch))
        await agent.put(b"\xff not json")
    letters = [orjson.loads(e.value) for e in await drain(sinks["deadletter"], 2)]
    assert [(d["error"], d["index"]) for d in letters] == [("validation", 1), ("encoding", None)]
    assert "people" in letters[0]["reason"] and letters[0]["topic"] == "events.camera"
    # camera readings travel as one columnar body per partition, keyed for that partition
    place = placement(SETTINGS, zone_index(SETTINGS))
    spots = {"r1": cell_of(23.0262, 113.1158, 9), "r3": cell_of(23.10, 113.1158, 9)}
    partitions = {i: place.partition(c) for i, c in spots.items()}
    forwarded = await drain(sinks["cells_ingest"], len(set(partitions.values())))
    got = {
        r.id: partition_of(e.key.decode(), place.partitions)
        for e in forwarded
        for r in decode_body(e.value).readings()
    }
    assert got == partitions


async def test_hotline_address_is_geocoded_or_else_goes_to_unlocated(app) -> None:
    ticket = {
        "id": "t1",
        "ts": NOW,
        "channel": "12345",
        "category": "traffic",
        "text": "车辆被困出不去",
        "address": "佛山市禅城区普澜二路通济桥停车场",
        "caller": "13900001111",
    }
    nowhere = {**ticket, "id": "t2", "address": "某某小区门口", "text": "噪音扰民"}
    async with app.agents["ingest_hotline"].test_context() as agent:
        await agent.put(orjson.dumps([ticket, nowhere]))
    (forwarded,) = await drain(app.readers["cells_ingest"], 1)
    (located,) = events_of_body(forwarded.value)
    assert isinstance(located, Ticket)
    assert located.id == "t1" and located.precision == "poi"
    assert located.uncertainty_m is not None and located.uncertainty_m <= 500
    assert located.cell is not None and located.caller == "139****1111"
    (event,) = await drain(app.readers["unlocated"], 1)
    body = orjson.loads(event.value)
    assert body["id"] == "t2" and body["caller"] == "139****1111"


async def test_ticket_text_goes_on_masked_and_unmasked_only_to_hotline_private(app) -> None:
    text = "车辆被困出不去，回电13812345678，身份证44060419900101123X"
    located = {
        "id": "p1",
        "ts": NOW,
        "channel": "12345",
        "category": "traffic",
        "text": text,
        "lat": 23.0262,
        "lon": 113.1158,
        "caller": "13900001111",
    }
    nowhere = {**located, "id": "p2", "address": "某某小区 13712345678", "lat": None, "lon": None}
    bad = {**located, "id": "p3", "channel": "911"}
    async with app.agents["ingest_hotline"].test_context() as agent:
        await agent.put(orjson.dumps([located, nowhere, bad]))
        await agent.put(text.encode("gb18030"))  # not UTF-8: cannot be redacted, so withheld
    private = [orjson.loads(e.value) for e in await drain(app.readers["hotline_private"], 2)]
    assert private == [
        {"id": "p1", "channel": "12345", "ts": NOW, "text": text},
        {"id": "p2", "channel": "12345", "ts": NOW, "text": text},
    ]
    masked = "车辆被困出不去，回电138****5678，身份证**************123X"
    (forwarded,) = await drain(app.readers["cells_ingest"], 1)
    assert [t.text for t in events_of_body(forwarded.value) if isinstance(t, Ticket)] == [masked]
    (unlocated,) = await drain(app.readers["unlocated"], 1)
    body = orjson.loads(unlocated.value)
    assert body["text"] == masked and body["address"] == "某某小区 137****5678"
    letters = [orjson.loads(e.value) for e in await drain(app.readers["deadletter"], 2)]
    assert [(d["error"], d["redacted"]) for d in letters] == [
        ("validation", True),
        ("encoding", True),
    ]
    assert orjson.loads(letters[0]["original"])["text"] == masked
    assert letters[1]["original"].startswith("withheld: ") and letters[1]["original_b64"] is None
    for letter in letters:
        assert "13812345678" not in str(letter) and "13900001111" not in str(letter)


async def test_cells_agent_publishes_views_and_one_cluster_alert(app) -> None:
    sinks = app.readers
    cell = cell_of(23.029, 113.1185, 9)
    tickets = [
        {
            "kind": "hotline",
            "id": f"t{i}",
            "ts": NOW + i,
            "channel": "12345",
            "category": "traffic",
            "text": "停车场车辆被困",
            "lat": 23.029,
            "lon": 113.1185,
            "cell": cell,
            "address": None,
            "caller": "138****0000",
        }
        for i in range(7)
    ]
    async with app.agents["cells"].test_context() as agent:
        for t in tickets:
            await agent.put(orjson.dumps([t]), key=parent(cell, 6).encode())
    views = [orjson.loads(e.value) for e in await drain(sinks["cells_state"], 7)]
    assert views[-1]["cells"][0]["tickets"] == {"traffic": 7}
    alerts = [orjson.loads(e.value) for e in await drain(sinks["alerts"], 3)]  # open, 6, 7
    assert len({a["id"] for a in alerts}) == 1
    assert [a["evidence"]["signals"][0]["count"] for a in alerts] == [5, 6, 7]
    assert alerts[-1]["evidence"]["rules"] == ["hotline.cluster"]
