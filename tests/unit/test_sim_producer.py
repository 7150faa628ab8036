"""feeds.sim.producer batching and the runner loop, with an in-memory publisher (no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pytest

from citybrain.config.settings import Settings
from feeds.sim.city import build_city
from feeds.sim.producer import KafkaEventProducer, Sent, encode_batches
from feeds.sim.runner import SimStats, run_with_publisher
from feeds.sim.simulator import Simulator
from geo.district import load_district

START_MS = 1_739_359_800_000  # 2025-02-12 19:30 China Standard Time


def test_encode_batches_chunks_in_order() -> None:
    events = [{"id": f"e{i}", "ts": START_MS + i} for i in range(1201)]
    records = encode_batches(events, 500)
    decoded = [orjson.loads(r) for r in records]
    assert [len(d) for d in decoded] == [500, 500, 201]
    assert [e for batch in decoded for e in batch] == events
    assert encode_batches([], 500) == []
    assert len(encode_batches(events[:3], 1)) == 3
    with pytest.raises(ValueError, match="batch_max"):
        encode_batches(events, 0)


def test_kafka_producer_topics_use_prefix() -> None:
    settings = Settings().with_overrides(kafka={"topic_prefix": "cb."})
    producer = KafkaEventProducer(settings)
    assert producer.topic_for("camera") == "cb.events.camera"
    assert producer.topic_for("hotline") == "cb.events.hotline"
    with pytest.raises(KeyError):
        producer.topic_for("video")


class FakePublisher:
    def __init__(self, batch_max: int) -> None:
        self.batch_max = batch_max
        self.records: dict[str, list[bytes]] = {
            "camera": [],
            "sensor": [],
            "hotline": [],
            "worker": [],
        }
        self.flushed = 0

    async def send_events(self, kind: str, events: Sequence[Mapping[str, Any]]) -> Sent:
        records = encode_batches(events, self.batch_max)
        self.records[kind].extend(records)
        return Sent(len(events), len(records), sum(map(len, records)))

    async def flush(self) -> None:
        self.flushed += 1

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for r in self.records[kind] for e in orjson.loads(r)]


def test_runner_sends_exactly_the_simulated_interval() -> None:
    settings = Settings().with_overrides(
        sim={"cameras": 30, "sensors": 10, "speed": 600.0, "batch_max": 50}
    )
    publisher = FakePublisher(settings.sim.batch_max)
    seen: list[SimStats] = []
    stats = asyncio.run(
        run_with_publisher(
            settings,
            publisher,
            duration_s=300.0,
            start_ms=START_MS,
            progress=seen.append,
            tick_s=0.02,
        )
    )
    assert stats.sim_ms == START_MS + 300_000
    assert publisher.flushed == 1
    assert seen
    assert [s.sim_ms for s in seen] == sorted(s.sim_ms for s in seen)

    city = build_city(settings.sim.seed, load_district(), 30, 10)
    expected = Simulator(city, settings.sim, START_MS).events_between(START_MS, START_MS + 300_000)
    for kind in ("camera", "sensor", "hotline", "worker"):
        assert publisher.events(kind) == expected[kind]
        assert all(len(orjson.loads(r)) <= 50 for r in publisher.records[kind])
    assert (stats.camera, stats.sensor, stats.hotline, stats.worker) == tuple(
        len(expected[k]) for k in ("camera", "sensor", "hotline", "worker")
    )
    assert stats.records == sum(len(r) for r in publisher.records.values())


def test_runner_stops_when_asked() -> None:
    settings = Settings().with_overrides(sim={"cameras": 5, "sensors": 0})
    publisher = FakePublisher(500)

    async def main() -> SimStats:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_with_publisher(settings, publisher, start_ms=START_MS, stop=stop, tick_s=0.02)
        )
        await asyncio.sleep(0.2)
        stop.set()
        return await asyncio.wait_for(task, timeout=5.0)

    stats = asyncio.run(main())
    assert START_MS <= stats.sim_ms < START_MS + 5_000
    assert publisher.flushed == 1
