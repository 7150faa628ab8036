"""Ingest load for ``citybrain load``: many cameras, an open-loop timetable, a Kafka sender.

The pure parts: :func:`camera_fleet` places the cameras inside the real district
outline the way the simulator does (:func:`feeds.sim.city.build_city`),
:class:`Timetable` says when each Kafka record is due, :func:`batch_events` builds
one record's events. :class:`OpenLoopIngest` is the edge: it sends records on the
timetable with an ``aiokafka`` producer and counts what it could not send instead
of slowing down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from citybrain.config.settings import Settings
from citybrain.config.topics import EVENTS_CAMERA
from feeds.sim.city import build_city
from feeds.sim.producer import batch_producer
from geo import cells
from geo.district import DEFAULT_ADCODE, load_district

log = logging.getLogger(__name__)

CAMERA_PREFIX: Final = "load-"
"""Prepended to the city's camera ids, so load on a shared deployment is recognisable."""
MAX_BEHIND_S: Final = 1.0
"""A record whose slot is this far in the past or further when the sender gets to it is not
sent but counted as skipped: the load stays on its timetable instead of bursting."""
FLUSH_TIMEOUT_S: Final = 10.0
"""How long the sender waits at the end for the broker to acknowledge what it sent."""


@dataclass(frozen=True, slots=True)
class LoadCamera:
    """One camera of the load: ``lat``/``lon`` as reported, in ``crs``; ``cell`` the H3
    cell (at the fleet's resolution) of its true WGS-84 position; ``people`` a typical
    count on its ``area_m2`` (m²) of walkable ground."""

    id: str
    lat: float
    lon: float
    crs: str
    area_m2: float
    people: float
    cell: str


def camera_fleet(
    count: int, *, seed: int = 42, resolution: int = 9, adcode: str = DEFAULT_ADCODE
) -> tuple[LoadCamera, ...]:
    """``count`` (>= 1) cameras placed by the simulator's city builder inside district
    ``adcode`` (clustered around busy places, the rest spread; one in 20 reports GCJ-02).

    Deterministic for equal arguments; ~0.1 ms per camera.
    """
    if count < 1:
        raise ValueError(f"need at least one camera, got {count}")
    city = build_city(seed, load_district(adcode), count, 0)
    return tuple(
        LoadCamera(
            id=CAMERA_PREFIX + cam.id,
            lat=cam.reported_lat,
            lon=cam.reported_lon,
            crs=cam.crs,
            area_m2=cam.area_m2,
            people=cam.base_density * cam.area_m2,
            cell=cells.cell_of(cam.lat, cam.lon, resolution),
        )
        for cam in city.cameras
    )


@dataclass(frozen=True, slots=True)
class Timetable:
    """Open-loop schedule of Kafka records, independent of how fast they are acknowledged.

    Record ``i`` (from 0) is due ``i / records_per_s`` seconds after the start; there are
    :attr:`records` of them, the whole ones that fit in ``duration_s`` (at least one).
    Each record carries ``batch`` events.
    """

    records_per_s: float
    duration_s: float
    batch: int

    def __post_init__(self) -> None:
        if not self.records_per_s > 0 or not math.isfinite(self.records_per_s):
            raise ValueError(f"records per second must be > 0, got {self.records_per_s}")
        if not self.duration_s > 0 or not math.isfinite(self.duration_s):
            raise ValueError(f"duration must be > 0 s, got {self.duration_s}")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1 event, got {self.batch}")

    @classmethod
    def for_rate(cls, events_per_s: float, batch: int, duration_s: float) -> Timetable:
        """The timetable offering ``events_per_s`` in records of ``batch`` events."""
        if batch < 1:
            raise ValueError(f"batch must be >= 1 event, got {batch}")
        return cls(events_per_s / batch, duration_s, batch)

    @property
    def records(self) -> int:
        """Records in the whole run."""
        return max(1, math.floor(self.duration_s * self.records_per_s + 1e-9))

    def due_at_s(self, index: int) -> float:
        """Seconds after the start at which record ``index`` is due."""
        return index / self.records_per_s

    def due_by(self, elapsed_s: float) -> int:
        """How many records are due by ``elapsed_s`` seconds after the start (slot <= it)."""
        if elapsed_s < 0:
            return 0
        return min(self.records, math.floor(elapsed_s * self.records_per_s + 1e-9) + 1)

    def catch_up(self, index: int, elapsed_s: float, max_behind_s: float) -> tuple[int, int]:
        """Where a sender that has dealt with records ``0 … index - 1`` stands at
        ``elapsed_s``: ``(first, due)`` — send records ``first … due - 1`` now; records
        ``index … first - 1`` are ``max_behind_s`` or more past their slot and are
        skipped (the shortfall of an open-loop sender that fell behind)."""
        due = self.due_by(elapsed_s)
        first = max(index, min(due, self.due_by(elapsed_s - max_behind_s)))
        return first, max(due, first)

    def offered_per_second(self) -> tuple[int, ...]:
        """Events due in each whole second ``[k, k+1)`` of the run, ``k`` = 0, 1, …"""
        seconds = Counter(math.floor(self.due_at_s(i)) for i in range(self.records))
        return tuple(seconds.get(k, 0) * self.batch for k in range(max(seconds) + 1))


def batch_events(
    fleet: Sequence[LoadCamera],
    first: int,
    size: int,
    ts_ms: int,
    id_prefix: str,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """``size`` camera events (input contract, docs/protocol.md), all with event time
    ``ts_ms`` (epoch ms), for cameras ``first``, ``first + 1``, … of ``fleet`` (wrapping
    round). Event ids are ``<id_prefix><k>``, ``k`` counting from ``first``: unique as
    long as ``first`` grows. Counts vary ±20 % around each camera's typical count."""
    n = len(fleet)
    events = []
    for k in range(first, first + size):
        cam = fleet[k % n]
        event: dict[str, Any] = {
            "id": f"{id_prefix}{k}",
            "camera": cam.id,
            "ts": ts_ms,
            "lat": cam.lat,
            "lon": cam.lon,
            "people": max(0, round(cam.people * (0.8 + 0.4 * rng.random()))),
            "area_m2": cam.area_m2,
        }
        if cam.crs != "wgs84":
            event["crs"] = cam.crs
        events.append(event)
    return events


@dataclass(slots=True)
class IngestTally:
    """What the sender did so far (mutated by :class:`OpenLoopIngest` only).

    Records: ``offered`` (due by the timetable up to now), ``sent`` (handed to the
    producer), ``acked`` (acknowledged by the broker), ``failed`` (delivery failed),
    ``skipped`` (:data:`MAX_BEHIND_S` or more behind their slot, never sent). Events
    are records × batch. ``acks`` holds (seconds after ``started_at``, events) per
    acknowledged record; ``errors`` counts failures by exception type.
    """

    batch: int
    offered: int = 0
    sent: int = 0
    acked: int = 0
    failed: int = 0
    skipped: int = 0
    acks: list[tuple[float, int]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    started_at: float | None = None  # time.time() of the start, s

    @property
    def in_flight(self) -> int:
        """Records sent but neither acknowledged nor failed."""
        return self.sent - self.acked - self.failed


Marker = Callable[[LoadCamera, int], None]
"""Called with (camera, event time ms) once per second for one event just sent."""


class OpenLoopIngest:
    """Sends camera records on a :class:`Timetable` to ``events.camera``.

    ``ts`` of every event is its send time. When the producer falls behind, records
    :data:`MAX_BEHIND_S` or more late are skipped and counted (open loop: the offered load
    does not adapt to the system). Once a second the first WGS-84 camera of the record
    being sent is handed to ``on_marker`` (end-to-end lag probes).
    """

    def __init__(
        self,
        settings: Settings,
        fleet: Sequence[LoadCamera],
        timetable: Timetable,
        *,
        run_id: str,
        on_marker: Marker | None = None,
        seed: int = 0,
        t0: float | None = None,
    ) -> None:
        """``t0`` (``time.time()`` s, default: when sending starts) is the origin of the
        acknowledgement times, so that they line up with the run's other series."""
        if not fleet:
            raise ValueError("the fleet has no camera")
        self._settings = settings
        self._fleet = fleet
        self._timetable = timetable
        self._topic = settings.kafka.topic(EVENTS_CAMERA)
        self._id_prefix = f"load-{run_id}-"
        self._on_marker = on_marker
        self._rng = random.Random(seed)
        self._last_marker_s = -1
        self._t0 = t0
        self.tally = IngestTally(batch=timetable.batch)

    async def run(self, stop: asyncio.Event) -> IngestTally:
        """Send until the timetable is done or ``stop`` is set, then wait (at most
        :data:`FLUSH_TIMEOUT_S`) for the acknowledgements. Raises ``KafkaError`` when the
        broker cannot be reached at the start."""
        producer = batch_producer(self._settings, "load")
        await producer.start()
        try:
            await self._send_all(producer, stop)
        finally:
            try:
                await asyncio.wait_for(producer.flush(), FLUSH_TIMEOUT_S)
            except TimeoutError:
                log.warning("%d records still unacknowledged at the end", self.tally.in_flight)
            await producer.stop()
        return self.tally

    async def _send_all(self, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        table, tally = self._timetable, self.tally
        start = loop.time()
        tally.started_at = self._t0 if self._t0 is not None else time.time()
        index = 0
        while index < table.records and not stop.is_set():
            elapsed = loop.time() - start
            due = table.due_by(elapsed)
            if due <= index:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), table.due_at_s(index) - elapsed)
                continue
            # When the producer fell behind, slots long past are gone, not postponed.
            first, due = table.catch_up(index, elapsed, MAX_BEHIND_S)
            tally.skipped += first - index
            index = first
            tally.offered = due
            while index < due:
                await self._send(producer, index, loop.time() - start)
                index += 1
        tally.offered = index  # sent or skipped; short of the timetable if stopped early

    async def _send(self, producer: AIOKafkaProducer, index: int, elapsed_s: float) -> None:
        batch = self._timetable.batch
        first = index * batch
        ts_ms = int(time.time() * 1000)
        events = batch_events(self._fleet, first, batch, ts_ms, self._id_prefix, self._rng)
        value = orjson.dumps(events)
        tally = self.tally
        try:
            future = await producer.send(self._topic, value=value, key=None)
        except KafkaError as exc:  # e.g. no metadata for the topic in time
            tally.failed += 1
            tally.sent += 1
            tally.errors[type(exc).__name__] += 1
            log.warning("send failed: %r", exc)
            return
        tally.sent += 1
        future.add_done_callback(self._delivered)
        second = int(elapsed_s)
        if self._on_marker is not None and second > self._last_marker_s:
            cam = next(self._marker_candidates(first, batch), None)
            if cam is not None:
                self._last_marker_s = second
                self._on_marker(cam, ts_ms)

    def _marker_candidates(self, first: int, size: int) -> Iterator[LoadCamera]:
        # WGS-84 cameras only: a GCJ-02 position converted back may land in the next cell
        n = len(self._fleet)
        for k in range(first, first + size):
            if self._fleet[k % n].crs == "wgs84":
                yield self._fleet[k % n]

    def _delivered(self, future: asyncio.Future[Any]) -> None:
        tally = self.tally
        if future.cancelled():
            tally.failed += 1
            tally.errors["cancelled"] += 1
            return
        exc = future.exception()
        if exc is not None:
            tally.failed += 1
            tally.errors[type(exc).__name__] += 1
            log.warning("delivery failed: %r", exc)
            return
        tally.acked += 1
        started = tally.started_at or time.time()
        tally.acks.append((time.time() - started, tally.batch))
