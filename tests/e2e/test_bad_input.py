"""End to end: the bad-input corpus (tests/bad_events.py) and late events through the real
broker and worker. Every bad event and record lands in ``events.deadletter`` with its
reason and is counted; the good events in the same batches are processed; the worker
keeps running."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack
from geo.cells import cell_of
from tests.bad_events import TEN_MIB, BadEvent, BadRecord, bad_events, bad_records, good_camera
from tests.e2e.kit import answers, http, metrics, wait_for

pytestmark = [pytest.mark.e2e]
SPOT = (22.93, 113.02)  # far from every other test's spot
LATE_SPOT = (22.935, 113.04)


def deadlettered(settings: Settings) -> dict[tuple[str, str], float]:
    """The worker's dead-letter counters by (kind, error), once it is ready."""
    worker = f"http://127.0.0.1:{settings.worker_http_port}/"
    wait_for(lambda: answers(worker + "readyz"), 60, "worker ready")
    return {
        (dict(labels)["kind"], dict(labels)["error"]): value
        for (name, labels), value in metrics(worker + "metrics").items()
        if name == "citybrain_deadlettered_total"
    }


def good_of(bad: BadEvent, now: int, n: int, tag: str) -> dict[str, Any]:
    """A valid event of the bad one's kind, for its batch."""
    lat, lon = SPOT
    if bad.kind == "sensor":
        return {
            "id": f"{tag}-s{n}",
            "ts": now,
            "lat": lat,
            "lon": lon,
            "type": "noise_db",
            "value": 50.0,
        }
    if bad.kind == "hotline":
        return {
            "id": f"{tag}-h{n}",
            "ts": now,
            "channel": "110",
            "category": "noise",
            "text": "噪音",
            "lat": lat,
            "lon": lon,
        }
    return good_camera(now, n, SPOT, tag)


class Letters:
    """Reads ``events.deadletter`` from its end at the time of :meth:`start`."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.kafka.topic("events.deadletter")
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers())
        self.got: list[dict[str, Any]] = []

    async def start(self) -> None:
        await self.consumer.start()
        parts = [
            TopicPartition(self.topic, p)
            for p in self.consumer.partitions_for_topic(self.topic) or {0}
        ]
        self.consumer.assign(parts)
        await self.consumer.seek_to_end(*parts)
        for p in parts:
            await self.consumer.position(p)  # resolve the end now, before anything is sent

    async def until(self, done: Any, within_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and not done(self.got):
            batch = await self.consumer.getmany(timeout_ms=500)
            self.got += [orjson.loads(m.value) for ms in batch.values() for m in ms]
        return self.got

    async def stop(self) -> None:
        await self.consumer.stop()


def test_corpus_is_dead_lettered_counted_and_the_good_events_processed(
    stack: EmbeddedStack,
) -> None:
    s = stack.live
    tag = f"corpus{int(time.time())}"
    now = int(time.time() * 1000)
    events = bad_events(now, tag)
    records = bad_records("camera", tag)
    before = deadlettered(s)
    worker = next(c for c in stack.children if c.name == "worker").proc

    # one batch per kind: good, bad, good, bad, … (a bad event's index is its place)
    batches: dict[str, list[Any]] = {}
    expected: list[tuple[str, int | None, str, str]] = []  # (topic, index, error, fragment)
    for n, bad in enumerate(events):
        batch = batches.setdefault(bad.kind, [])
        batch.append(good_of(bad, now, n, tag))
        expected.append((f"events.{bad.kind}", len(batch), bad.error, bad.fragment))
        batch.append(bad.event)
    expected += [("events.camera", None, r.error, r.fragment) for r in records]
    # a camera stamping 40 readings into one second: the 10 beyond its burst (30) refused
    flood = [
        {**good_camera(now, 0, SPOT, tag), "id": f"{tag}-flood-{i}", "camera": f"{tag}-flood"}
        for i in range(40)
    ]
    expected += [("events.camera", i, "rate", "ceiling") for i in range(30, 40)]

    def matched(letters: list[dict[str, Any]]) -> list[bool]:
        return [
            any(
                (x["topic"], x["index"], x["error"]) == (topic, index, error)
                and fragment in x["reason"]
                for x in letters
            )
            for topic, index, error, fragment in expected
        ]

    async def run() -> list[dict[str, Any]]:
        letters = Letters(s)
        await letters.start()
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka.bootstrap_servers(), max_request_size=TEN_MIB + 65_536
        )
        await producer.start()
        try:
            for kind, batch in batches.items():
                await producer.send_and_wait(s.kafka.topic(f"events.{kind}"), orjson.dumps(batch))
            for record in records:
                await producer.send_and_wait(s.kafka.topic("events.camera"), record.raw)
            await producer.send_and_wait(s.kafka.topic("events.camera"), orjson.dumps(flood))
            return await letters.until(lambda got: all(matched(got)), 60)
        finally:
            await producer.stop()
            await letters.stop()

    letters = asyncio.run(run())
    missing = [e for e, ok in zip(expected, matched(letters), strict=True) if not ok]
    assert not missing, f"not dead-lettered as expected: {missing}"
    ours = [x for x in letters if x["topic"].startswith("events.")]
    assert all(x["reason"] and x["at"] >= now for x in ours)
    big = next(x for x in ours if x["error"] == "size")
    assert len(big["original"]) == 1024  # only the head of a 10 MiB record is kept

    # counted by kind and error
    after = deadlettered(s)
    assert after.get(("camera", "rate"), 0) - before.get(("camera", "rate"), 0) >= 10
    for (kind, error), n in _counts(events, records).items():
        assert after.get((kind, error), 0) - before.get((kind, error), 0) >= n, (kind, error)

    # the good events of the same batches made it to the live view
    goods = [g for kind, batch in batches.items() if kind == "camera" for g in batch[::2]]
    cells = {cell_of(g["lat"], g["lon"], s.pipeline.h3_resolution) for g in goods}
    api = f"http://127.0.0.1:{s.web.port}/api/cells"
    wait_for(lambda: cells <= {c["cell"] for c in http("GET", api)[1]["cells"]}, 30, "good cells")
    assert worker.poll() is None, "the worker died on bad input"
    assert http("GET", f"http://127.0.0.1:{s.worker_http_port}/healthz")[0] == 200


def _counts(events: list[BadEvent], records: list[BadRecord]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for kind, error in [(e.kind, e.error) for e in events] + [(r.kind, r.error) for r in records]:
        out[kind, error] = out.get((kind, error), 0) + 1
    return out


def test_late_events_are_dead_lettered_and_out_of_order_ones_kept_in_place(
    stack: EmbeddedStack,
) -> None:
    """Behind the partition's event time by more than the crowd window (300 s): late. A
    camera's older reading within the window does not replace its newer one."""
    s = stack.live
    tag = f"late{int(time.time())}"
    cell = cell_of(*LATE_SPOT, s.pipeline.h3_resolution)
    lat, lon = LATE_SPOT

    def reading(suffix: str, ts: int, people: int) -> dict[str, Any]:
        return {
            "id": f"{tag}-{suffix}",
            "ts": ts,
            "lat": lat,
            "lon": lon,
            "people": people,
            "area_m2": 200.0,
            "camera": f"{tag}-cam",
        }

    async def run() -> list[dict[str, Any]]:
        letters = Letters(s)
        await letters.start()
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers())
        await producer.start()
        try:
            now = int(time.time() * 1000)
            topic = s.kafka.topic("events.camera")
            await producer.send_and_wait(topic, orjson.dumps(reading("now", now, 120)))
            await producer.send_and_wait(topic, orjson.dumps(reading("older", now - 100_000, 7)))
            await producer.send_and_wait(topic, orjson.dumps(reading("late", now - 400_000, 9)))
            return await letters.until(
                lambda got: any(x["error"] == "late" and tag in (x["original"] or "") for x in got),
                30,
            )
        finally:
            await producer.stop()
            await letters.stop()

    before = deadlettered(s).get(("camera", "late"), 0)
    letters = asyncio.run(run())
    (late,) = [x for x in letters if x["error"] == "late" and tag in (x["original"] or "")]
    assert late["topic"] == s.kafka.topic("cells.ingest")
    assert f"{tag}-late" in late["original"] and "allowed lateness 300 s" in late["reason"]
    assert deadlettered(s).get(("camera", "late"), 0) >= before + 1
    api = f"http://127.0.0.1:{s.web.port}/api/cells"

    def view() -> dict[str, Any] | None:
        return next((c for c in http("GET", api)[1]["cells"] if c["cell"] == cell), None)

    shown = wait_for(view, 30, "the late spot's cell")
    assert shown["people"] == 120  # the newest reading; neither the older nor the late one
