"""The backtest equals the worker on a recording.

The same input records go through the worker's real agents (Faust's test context: the
input consumer's handler of a fetch, then the ``cells`` agent for every record it and
the agent itself send to ``cells.ingest``, on the partition of its key) and through
``run_backtest``. Both take the fetches and ticks of one schedule
(citybrain/tools/backtest/loop.py) and the wall time of each, so the run is
deterministic; the alerts they publish and the final ``cells.state`` views must be
equal. The recording: a minute and a half of the simulated city (cameras, sensors,
hotline calls) and, on four partitions, a hotline cluster and a crowd on either side of
a partition boundary, so that halo tickets, cluster marks and incidents cross it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import faust
import h3
import orjson
import pytest
import pytest_asyncio

from alerts.rules.file import DEFAULT_RULES, RuleSet, load_rule_files
from citybrain.config.settings import Settings
from citybrain.tools.backtest.loop import Tick, schedule
from citybrain.tools.backtest.runner import run_backtest
from feeds.recording.files import read_recording
from feeds.recording.format import RecordedRecord
from feeds.recording.simulated import simulate_to_recording
from geo.cells import cell_of
from streams.pipeline.config import placement, zone_index
from streams.pipeline.driver import TICK
from streams.pipeline.halo import NEAR
from streams.pipeline.ingest import parts_of
from streams.pipeline.placement import partition_of
from streams.worker.app import create_app

pytestmark = [pytest.mark.asyncio]
T0 = 1_795_000_000_000
PARTITIONS = 4
SIM_S = 90


def boundary(settings: Settings) -> tuple[str, str]:
    """Two neighbouring fine cells placed on different partitions."""
    placed = placement(settings, zone_index(settings))
    centre = cell_of(23.02, 113.10, 9)
    for a in sorted(h3.grid_disk(centre, 40)):
        for b in sorted(h3.grid_ring(a, 1)):
            if placed.partition(a) != placed.partition(b):
                return a, b
    raise AssertionError("no partition boundary near the centre")


def record(topic: str, at_ms: int, body: dict[str, Any]) -> RecordedRecord:
    return RecordedRecord(topic, 0, 0, at_ms, None, orjson.dumps(body))


def across(a: str, b: str) -> list[RecordedRecord]:
    """Tickets on both sides of the boundary, every 7 s, and a crowd on ``b`` (1,100
    people on 400 m², every 2 s) that opens an incident the tickets' cluster joins."""
    out = []
    for i in range(8):
        lat, lon = h3.cell_to_latlng((a, b)[i % 2])
        ts = T0 + 5_000 + i * 7_000
        ticket = {"id": f"x{i}", "ts": ts, "channel": "12345", "category": "traffic"}
        ticket |= {"text": "车辆被困", "lat": lat, "lon": lon}
        out.append(record("events.hotline", ts + 50, ticket))
    lat, lon = h3.cell_to_latlng(b)
    for i in range(30):
        ts = T0 + 2_000 + i * 2_000
        reading = {"id": f"cx-{ts}", "camera": "cx", "ts": ts, "lat": lat, "lon": lon}
        reading |= {"people": 1100, "area_m2": 400.0}
        out.append(record("events.camera", ts + 50, reading))
    return out


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings().with_overrides(
        kafka={"partitions": PARTITIONS},
        sim={"incident_at_s": 5.0},
        embedded={"data_dir": str(tmp_path_factory.mktemp("faust"))},
    )


@pytest.fixture(scope="module")
def recording(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> list[RecordedRecord]:
    path = tmp_path_factory.mktemp("rec") / "city.jsonl"
    simulate_to_recording(settings, path, start_ms=T0, duration_s=SIM_S)
    records = [*read_recording(path), *across(*boundary(settings))]
    return sorted(records, key=lambda r: r.ts_ms)  # stable: file order within a time


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rule_files([DEFAULT_RULES])


class Clock:
    """The wall clock the worker reads, set by the test (epoch ms)."""

    def __init__(self) -> None:
        self.ms = 0.0

    def __call__(self) -> float:
        return self.ms


@pytest_asyncio.fixture
async def worker(settings: Settings, rules: RuleSet) -> AsyncIterator[tuple[faust.App, Clock]]:
    clock = Clock()
    app = create_app(settings, memory_sinks=True, rules=rules, wall_ms=clock)
    app.finalize()
    app.flow_control.resume()
    # Subscribe to every in-memory sink before the agents emit into it.
    app.readers = {name: channel.__aiter__() for name, channel in app.citybrain_topics.items()}
    yield app, clock
    # made when the app is built, never started; Faust offers no public handle on it
    thread_loop = app.consumer._thread.thread_loop  # noqa: SLF001
    if not thread_loop.is_closed():
        thread_loop.close()


def taken(reader: Any) -> list[Any]:
    """What the in-memory sink ``reader`` holds now, in send order."""
    out = []
    while not reader.queue.empty():
        out.append(reader.queue.get_nowait())
    return out


async def run_worker(
    app: faust.App, clock: Clock, records: list[RecordedRecord]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], int, int]:
    """The records through the worker's agents: the newest version of every alert, the
    final view of every cell, how many alert versions were published and how many
    ``near`` records the partitions sent each other."""
    readers = app.readers
    alerts: dict[str, dict[str, Any]] = {}
    views: dict[str, Any] = {}
    versions = near = 0

    def sent() -> list[tuple[int, bytes | None, bytes]]:
        return [
            (partition_of(e.key.decode(), PARTITIONS), e.key, e.value)
            for e in taken(readers["cells_ingest"])
        ]

    async with app.agents["cells"].test_context() as cells:
        for item in schedule(records):
            clock.ms = item.wall_ms
            queue: deque[tuple[int, bytes | None, bytes]] = deque()
            if isinstance(item, Tick):
                queue.extend((p, None, TICK) for p in range(PARTITIONS))
            else:
                await app.citybrain_ingest_records(parts_of(item.records))
                queue.extend(sent())
            while queue:
                partition, key, value = queue.popleft()
                near += value.startswith(NEAR)
                await cells.put(value, key=key, partition=partition)
                queue.extend(sent())
            for event in [*taken(readers["alerts"]), *taken(readers["alerts_shadow"])]:
                alert = orjson.loads(event.value)
                alerts[alert["id"]] = alert
                versions += 1
            for event in taken(readers["cells_state"]):
                body = orjson.loads(event.value)
                views.update((view["cell"], view) for view in body["cells"])
                for cell in body["removed"]:
                    views.pop(cell, None)
    return alerts, views, versions, near


def summary(alerts: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    return sorted((a["id"], a["rule"], a["state"], a["opened_at"]) for a in alerts.values())


async def test_the_backtest_publishes_what_the_worker_publishes(
    worker: tuple[faust.App, Clock],
    settings: Settings,
    rules: RuleSet,
    recording: list[RecordedRecord],
) -> None:
    run = run_backtest(recording, rules, settings, zones=zone_index(settings))
    alerts, views, published, near = await run_worker(*worker, recording)
    backtest = {a.id: a.to_dict() for a in run.alerts}
    fired = {rule for a in backtest.values() for rule in a["evidence"]["rules"]}
    assert fired >= {"crowd.density", "hotline.cluster", "sensor.alarm.gas"}
    assert near > 0  # partitions told each other about the boundary
    assert summary(alerts) == summary(backtest)  # says plainly what differs, if anything
    assert alerts == orjson.loads(orjson.dumps(backtest))
    assert views == orjson.loads(orjson.dumps(run.views))
    assert published > len(alerts)  # alerts were updated, not only opened
