"""The grid-worker agent under Faust's own test context (no broker): decode, dead-letter,
publish grid worker views keyed by worker id, nothing into the cell pipeline."""

import asyncio
import time
from collections.abc import AsyncIterator

import faust
import orjson
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from citybrain.config.settings import Settings
from geo.crs import wgs84_to_gcj02
from streams.worker.app import create_app
from streams.worker.workers_agent import AGENT_NAME

pytestmark = [pytest.mark.asyncio]
NOW = int(time.time() * 1000)
REPORT = {
    "id": "gw-1",
    "ts": NOW,
    "lat": 23.0258,
    "lon": 113.1166,
    "worker": "GW-001",
    "status": "online",
    "grid": "G-024",
    "name": "张磊",
}


@pytest_asyncio.fixture
async def app(tmp_path) -> AsyncIterator[faust.App]:
    settings = Settings().with_overrides(embedded={"data_dir": str(tmp_path)})
    app = create_app(settings, memory_sinks=True)
    topics = app.citybrain_topics
    app.finalize()
    app.flow_control.resume()
    # Subscribe to every in-memory sink before the agents emit into it.
    app.readers = {name: channel.__aiter__() for name, channel in topics.items()}
    yield app
    # made when the app is built, never started; Faust offers no public handle on it
    thread_loop = app.consumer._thread.thread_loop  # noqa: SLF001
    if not thread_loop.is_closed():
        thread_loop.close()


async def drain(channel, n: int) -> list:
    return [await asyncio.wait_for(channel.get(), 5) for _ in range(n)]


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_reports_become_views_and_bad_ones_dead_letters(app) -> None:
    lat, lon = wgs84_to_gcj02(23.0300, 113.1200)
    batch = [
        REPORT,
        {**REPORT, "id": "gw-2", "status": "busy"},
        {**REPORT, "id": "gw-3", "worker": "GW-002", "lat": lat, "lon": lon, "crs": "gcj02"},
    ]
    bad_before = counter("citybrain_deadlettered_total", kind="worker", error="validation")
    good_before = counter("citybrain_events_in_total", kind="worker")
    async with app.agents[AGENT_NAME].test_context() as agent:
        await agent.put(orjson.dumps(batch))
        await agent.put(b"\xff not json")
    letters = [orjson.loads(e.value) for e in await drain(app.readers["deadletter"], 2)]
    assert [(d["error"], d["index"]) for d in letters] == [("validation", 1), ("encoding", None)]
    assert letters[0]["topic"] == "events.worker" and letters[0]["reason"].startswith("status")
    views = await drain(app.readers["workers_state"], 2)
    assert [e.key for e in views] == [b"GW-001", b"GW-002"]
    first, second = (orjson.loads(e.value) for e in views)
    assert first == {
        "id": "GW-001",
        "name": "张磊",
        "grid": "G-024",
        "lat": 23.0258,
        "lon": 113.1166,
        "status": "online",
        "updated_at": NOW,
    }
    assert abs(second["lat"] - 23.0300) < 1e-6 and abs(second["lon"] - 113.1200) < 1e-6
    assert counter("citybrain_deadlettered_total", kind="worker", error="validation") == (
        bad_before + 1
    )
    assert counter("citybrain_events_in_total", kind="worker") == good_before + 2
    assert app.readers["cells_ingest"].empty()  # grid workers never reach the cell pipeline
