"""The benchmark's input: synthetic camera readings over Chancheng, pre-loaded into a topic.

Every contender reads the same records (docs/benchmarks.md). A reading is what a
camera feed sends (docs/protocol.md): ``id, camera, ts, lat, lon, people, area_m2``.
:data:`CAMERAS` cameras stand at fixed places in the district's bounding box; event
times advance at :data:`EVENTS_PER_S` readings per second of event time, starting
``t0_ms``, each camera reporting in turn. A record holds ``per_record`` readings of
cameras in one coarse H3 parent cell (the record key, as the feeds gateway batches),
or one reading keyed the same way.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from geo.cells import cell_of, parent
from streams.io.topic_admin import started_admin

CAMERAS = 18_000
EVENTS_PER_S = 20_000
#: Chancheng's bounding box (WGS-84), where the cameras stand.
BBOX = (22.96, 113.02, 23.08, 113.16)  # south, west, north, east
KEY_RESOLUTION = 6


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    lat: float
    lon: float
    key: bytes  # coarse parent cell: the record key


def cameras(n: int = CAMERAS, seed: int = 7) -> list[Camera]:
    """``n`` cameras at seeded random places in :data:`BBOX`, ordered by record key."""
    rng = random.Random(seed)
    south, west, north, east = BBOX
    out = []
    for i in range(n):
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        key = parent(cell_of(lat, lon, 9), KEY_RESOLUTION).encode()
        out.append(Camera(f"cam-{i:05d}", round(lat, 6), round(lon, 6), key))
    return sorted(out, key=lambda c: (c.key, c.id))


def records(
    events: int, per_record: int, t0_ms: int, cams: list[Camera] | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """``(key, value)`` of the records holding ``events`` readings, ``per_record`` each
    (the last of a key's run may hold fewer)."""
    cams = cams or cameras()
    batch: list[bytes] = []
    key = b""
    for i in range(events):
        cam = cams[i % len(cams)]
        if batch and (cam.key != key or len(batch) == per_record):
            yield key, _value(batch, per_record)
            batch = []
        key = cam.key
        reading = {
            "id": f"{cam.id}-{i}",
            "camera": cam.id,
            "ts": t0_ms + i * 1000 // EVENTS_PER_S,
            "lat": cam.lat,
            "lon": cam.lon,
            "people": 3 + (i * 7919) % 40,
            "area_m2": 400.0,
        }
        batch.append(orjson.dumps(reading))
    if batch:
        yield key, _value(batch, per_record)


def _value(batch: list[bytes], per_record: int) -> bytes:
    return batch[0] if per_record == 1 else b"[" + b",".join(batch) + b"]"


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create ``topic`` with explicit retention (Quix Streams' stateful steps need it on
    this broker), waiting up to 15 s for the broker."""
    admin = await started_admin(bootstrap)
    try:
        configs = {"retention.ms": str(7 * 86_400_000), "retention.bytes": str(-1)}
        await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=configs)])
    finally:
        await admin.close()


async def preload(
    bootstrap: str,
    topic: str,
    partitions: int,
    events: int,
    per_record: int,
    t0_ms: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Create ``topic`` and fill it; returns the number of records. ``progress`` is
    called with the events sent so far, every few thousand records."""
    await create_topic(bootstrap, topic, partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
        acks=1,
    )
    await producer.start()
    n = sent = 0
    try:
        pending = []
        for key, value in records(events, per_record, t0_ms):
            pending.append(await producer.send(topic, value, key=key))
            n += 1
            sent += 1 if per_record == 1 else value.count(b'"camera"')
            if len(pending) >= 5_000:
                await asyncio.gather(*pending)
                pending.clear()
                if progress is not None:
                    progress(sent)
        await asyncio.gather(*pending)
        if progress is not None:
            progress(sent)
    finally:
        await producer.stop()
    return n
