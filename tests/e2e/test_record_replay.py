"""Record and replay against the real embedded broker (Tansu): produce → ``record`` →
``replay --speed 50`` into another topic prefix → read back, byte for byte (keep-time)
and shifted to now (retime)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from alerts.incidents.labels import Label
from citybrain.config.settings import Settings
from citybrain.stack import broker_argv, free_port, wait_port
from feeds.recording.files import (
    LABELS_TOPIC,
    RecordedRecord,
    RecordingError,
    labels_in,
    read_header,
    read_recording,
    write_recording,
)
from feeds.recording.record import record
from feeds.recording.replay import ReplayError, ReplayStats, replay
from feeds.recording.retime import ts_to_ms
from feeds.sim.producer import KafkaEventProducer
from streams.io.topic_admin import create_topics

pytestmark = [pytest.mark.e2e]
SPEED = 50.0
SPAN_MS = 10_000  # recorded span: 0.2 s of replay at x50


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A Tansu broker with memory storage on a free loopback port, as ``citybrain up``
    starts it; stopped (and reaped) at the end."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        broker_argv(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, 30, proc)
        yield f"kafka://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def settings_for(brokers: str, prefix: str, partitions: int) -> Settings:
    return Settings().with_overrides(
        kafka={"brokers": brokers, "topic_prefix": prefix, "partitions": partitions}
    )


async def consume(settings: Settings, topics: list[str], n: int) -> list[Any]:
    """The first ``n`` records of ``topics`` (logical names), no consumer group."""
    consumer = AIOKafkaConsumer(
        *(settings.kafka.topic(t) for t in topics),
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        out: list[Any] = []
        deadline = time.monotonic() + 10
        while len(out) < n and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()


def test_record_then_replay_through_the_real_broker(broker: str, tmp_path: Path) -> None:
    source = settings_for(broker, "src.", partitions=2)
    same_time = settings_for(broker, "dst.", partitions=1)
    retimed = settings_for(broker, "now.", partitions=2)
    now = int(time.time() * 1000)
    t0 = now - 3_600_000  # recorded an hour ago
    label = Label("l-1", "crowd", t0, t0 + 330_000, 23.0258, 113.1166, 400.0, ("crowd.density",))
    camera = {"id": "c1", "ts": t0, "lat": 23.0258, "lon": 113.1166, "people": 9, "area_m2": 50.0}
    iso = "2025-02-12T19:30:00.250+08:00"
    hotline = [
        {"id": "h1", "ts": t0 + 2_000, "channel": "12345", "category": "traffic", "text": "堵"},
        {"id": "h2", "ts": iso, "channel": "110", "category": "traffic", "text": "困"},
    ]
    sent: list[tuple[str, int, int, bytes | None, bytes]] = [
        ("events.camera", 0, t0, None, orjson.dumps(camera)),
        ("events.hotline", 1, t0 + 5_000, b"k", orjson.dumps(hotline)),
        ("events.sensor", 1, t0 + 7_000, None, b"\xff\xfe not utf-8"),
        ("events.camera", 1, t0 + SPAN_MS, None, orjson.dumps({**camera, "ts": t0 + SPAN_MS})),
    ]
    out = tmp_path / "capture.jsonl.gz"

    async def produce_and_record() -> None:
        await create_topics(source)
        producer = AIOKafkaProducer(bootstrap_servers=source.kafka.bootstrap_servers())
        await producer.start()
        try:
            for topic, partition, ts, key, value in sent:
                await producer.send_and_wait(
                    source.kafka.topic(topic), value, key=key, partition=partition, timestamp_ms=ts
                )
        finally:
            await producer.stop()
        async with KafkaEventProducer(source) as labels:
            await labels.send_labels([label])
        stats = await record(source, out, from_beginning=True, max_records=5, duration_s=15)
        assert (stats.records, stats.reason) == (5, "max records")
        assert stats.per_topic == {
            "events.camera": 2,
            "events.sensor": 1,
            "events.hotline": 1,
            "events.worker": 0,
            LABELS_TOPIC: 1,
        }

    asyncio.run(produce_and_record())

    header = read_header(out)
    assert header.source["topic_prefix"] == "src." and LABELS_TOPIC in header.topics
    records = list(read_recording(out))
    assert {r.topic for r in records} == {"events.camera", "events.sensor", "events.hotline"} | {
        LABELS_TOPIC
    }
    label_ts = next(r.ts_ms for r in records if r.topic == LABELS_TOPIC)
    recorded = {(r.topic, r.partition, r.ts_ms, r.key, r.value) for r in records}
    assert recorded == set(sent) | {
        (LABELS_TOPIC, 0, label_ts, b"l-1", orjson.dumps(label.to_dict()))
    }
    assert labels_in(records) == [label]
    # The label was sent now, the events an hour ago: keep the replay short by leaving it out.
    events = ["events.camera", "events.hotline", "events.sensor"]

    async def replays() -> tuple[ReplayStats, list[Any], ReplayStats, list[Any]]:
        with pytest.raises(ReplayError, match=r"dst\.events\.camera"):
            await replay(same_time, out, speed=SPEED, retime=False, topics=events)
        await create_topics(same_time)
        await create_topics(retimed)
        started = time.monotonic()
        kept = await replay(same_time, out, speed=SPEED, retime=False, topics=events)
        took = time.monotonic() - started
        assert SPAN_MS / SPEED / 1000 - 0.05 <= took < 5.0
        kept_back = await consume(same_time, events, 4)
        moved = await replay(retimed, out, speed=SPEED, retime=True, topics=events)
        moved_back = await consume(retimed, events, 4)
        return kept, kept_back, moved, moved_back

    kept, kept_back, moved, moved_back = asyncio.run(replays())

    # --keep-time: values, keys and Kafka timestamps byte for byte; partition 1 is not on the
    # one-partition destination, so the key decided.
    assert (kept.total, kept.sent, kept.reason) == (4, 4, "done")
    assert {(m.topic, m.timestamp, m.key, m.value) for m in kept_back} == {
        (f"dst.{topic}", ts, key, value) for topic, _, ts, key, value in sent
    }
    assert {m.partition for m in kept_back} == {0}

    # --retime: one shift for the event times, one for the Kafka timestamps; the last
    # record lands "now" and nothing lies in the future.
    assert (moved.sent, moved.retimed, moved.unchanged) == (4, 3, 1)
    after = int(time.time() * 1000)
    shift = moved.event_shift_ms
    assert shift % 1000 == 0 and moved.kafka_shift_ms % 1000 == 0
    by_key = {(m.topic.removeprefix("now."), m.partition): m for m in moved_back}
    assert set(by_key) == {(t, p) for t, p, *_ in sent}  # partitions kept: both exist here
    last = by_key[("events.camera", 1)]
    assert after - 2_000 <= orjson.loads(last.value)["ts"] <= after
    assert orjson.loads(last.value)["ts"] == t0 + SPAN_MS + shift
    assert last.timestamp == t0 + SPAN_MS + moved.kafka_shift_ms <= after
    first = orjson.loads(by_key[("events.camera", 0)].value)
    assert first == {**camera, "ts": t0 + shift}
    batch = orjson.loads(by_key[("events.hotline", 1)].value)
    assert batch[0]["ts"] == t0 + 2_000 + shift
    assert ts_to_ms(batch[1]["ts"]) == ts_to_ms(iso) + shift  # type: ignore[operator]
    assert batch[1]["ts"].endswith(".250+08:00")
    assert by_key[("events.sensor", 1)].value == b"\xff\xfe not utf-8"


def test_record_stops_on_request_and_after_its_duration(broker: str, tmp_path: Path) -> None:
    settings = settings_for(broker, "idle.", partitions=1)

    async def main() -> None:
        await create_topics(settings)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, stop.set)
        stopped = await record(settings, tmp_path / "a.jsonl", stop=stop, duration_s=10)
        assert (stopped.records, stopped.reason) == (0, "stopped")
        timed = await record(settings, tmp_path / "b.parquet", duration_s=0.3)
        assert (timed.records, timed.reason) == (0, "duration")

    asyncio.run(main())
    assert list(read_recording(tmp_path / "a.jsonl")) == []
    assert read_header(tmp_path / "b.parquet").source["topic_prefix"] == "idle."


def test_replay_skips_bad_lines_when_asked_and_stops_on_request(
    broker: str, tmp_path: Path
) -> None:
    settings = settings_for(broker, "stop.", partitions=1)
    t0 = int(time.time() * 1000) - 60_000
    path = tmp_path / "gappy.jsonl"
    write_recording(
        path,
        [
            RecordedRecord("events.camera", 0, 0, t0, None, orjson.dumps({"ts": t0})),
            RecordedRecord("events.camera", 0, 1, t0 + 30_000, None, b"{}"),
        ],
    )
    with path.open("ab") as f:
        f.write(b"not a record\n")

    async def main() -> ReplayStats:
        await create_topics(settings)
        with pytest.raises(RecordingError, match=":4:"):
            await replay(settings, path)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        started = time.monotonic()
        stats = await replay(settings, path, speed=1.0, stop=stop, skip_bad=True)
        assert time.monotonic() - started < 5  # not the 30 s the recording spans
        return stats

    stats = asyncio.run(main())
    assert (stats.total, stats.sent, stats.bad_lines, stats.reason) == (2, 1, 1, "stopped")
