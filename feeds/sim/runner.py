"""Run the simulator against Kafka in (scaled) real time.

Simulated time runs at ``settings.sim.speed`` x wall time from ``start_ms``
(default: now). Every tick (0.5 s wall) the events of the simulated interval
elapsed since the previous tick are sent. Note that with ``speed`` > 1 and the
default start, simulated time runs ahead of the wall clock; the pipeline rejects
events more than ``pipeline.max_future_skew_s`` in the future, so fast runs
should start in the past (``start_ms``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from alerts.incidents.labels import Label
from citybrain.config.settings import Settings
from feeds.sim.city import build_city
from feeds.sim.producer import KafkaEventProducer, LabelPublisher, Publisher
from feeds.sim.simulator import KINDS, Simulator
from geo.district import load_district

log = logging.getLogger(__name__)

TICK_S: Final = 0.5
LOG_EVERY_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class SimStats:
    """Counts so far: events per kind, Kafka records and bytes (events only), labels
    announced; ``sim_ms`` is the simulated epoch-ms time reached (exclusive),
    ``wall_s`` the seconds run."""

    camera: int = 0
    sensor: int = 0
    hotline: int = 0
    worker: int = 0  # grid-worker position reports
    records: int = 0
    bytes: int = 0
    labels: int = 0
    start_ms: int = 0
    sim_ms: int = 0
    wall_s: float = 0.0

    @property
    def events(self) -> int:
        """All events sent."""
        return self.camera + self.sensor + self.hotline + self.worker

    def summary(self) -> str:
        """One log line."""
        return (
            f"sim +{(self.sim_ms - self.start_ms) / 1000:.0f}s in {self.wall_s:.0f}s wall: "
            f"camera={self.camera} sensor={self.sensor} hotline={self.hotline} "
            f"worker={self.worker} "
            f"records={self.records} bytes={self.bytes}"
        )


async def run_simulator(
    settings: Settings,
    *,
    duration_s: float | None = None,
    start_ms: int | None = None,
    stop: asyncio.Event | None = None,
    progress: Callable[[SimStats], None] | None = None,
) -> SimStats:
    """Simulate Chancheng and send its events to Kafka until ``duration_s`` simulated
    seconds have been sent or ``stop`` is set; flush and return the counts. The
    incident's labels go to ``events.labels`` as it starts."""
    async with KafkaEventProducer(settings) as producer:
        return await run_with_publisher(
            settings,
            producer,
            duration_s=duration_s,
            start_ms=start_ms,
            stop=stop,
            progress=progress,
            labels=producer,
        )


async def run_with_publisher(
    settings: Settings,
    publisher: Publisher,
    *,
    duration_s: float | None = None,
    start_ms: int | None = None,
    stop: asyncio.Event | None = None,
    progress: Callable[[SimStats], None] | None = None,
    tick_s: float = TICK_S,
    labels: LabelPublisher | None = None,
) -> SimStats:
    """The loop of :func:`run_simulator` with any :class:`Publisher` (tests use a fake);
    labels are announced only when a ``labels`` publisher is given."""
    sim_settings = settings.sim
    city = build_city(
        sim_settings.seed, load_district(), sim_settings.cameras, sim_settings.sensors
    )
    begin_ms = start_ms if start_ms is not None else time.time_ns() // 1_000_000
    sim = Simulator(city, sim_settings, begin_ms)
    end_ms = None if duration_s is None else begin_ms + round(duration_s * 1000.0)
    loop = asyncio.get_running_loop()
    wall0 = loop.time()
    next_log = wall0 + LOG_EVERY_S
    stats = SimStats(start_ms=begin_ms, sim_ms=begin_ms)
    log.info(
        "simulator: %d cameras, %d sensors, incident at +%.0fs, speed x%g",
        len(city.cameras),
        len(city.sensors),
        sim_settings.incident_at_s,
        sim_settings.speed,
    )
    stop_wait = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while True:
            elapsed = loop.time() - wall0
            target = begin_ms + int(elapsed * sim_settings.speed * 1000.0)
            if end_ms is not None:
                target = min(target, end_ms)
            if target > stats.sim_ms:
                stats = await _send_interval(sim, publisher, stats, target, labels)
            stats = replace(stats, wall_s=loop.time() - wall0)
            if progress is not None:
                progress(stats)
            if loop.time() >= next_log:
                log.info("simulator: %s", stats.summary())
                next_log += LOG_EVERY_S
            if end_ms is not None and stats.sim_ms >= end_ms:
                break
            if stop_wait is not None:
                await asyncio.wait({stop_wait}, timeout=tick_s)
                if stop_wait.done():
                    break
            else:
                await asyncio.sleep(tick_s)
        await publisher.flush()
    finally:
        if stop_wait is not None and not stop_wait.done():
            stop_wait.cancel()
    log.info("simulator stopped: %s", stats.summary())
    return stats


async def _send_interval(
    sim: Simulator,
    publisher: Publisher,
    stats: SimStats,
    target_ms: int,
    label_publisher: LabelPublisher | None = None,
) -> SimStats:
    """Send the labels and events of ``[stats.sim_ms, target_ms)``; return the updated
    counts."""
    labels: list[Label] = []
    if label_publisher is not None:
        labels = sim.labels_between(stats.sim_ms, target_ms)
        if labels:
            await label_publisher.send_labels(labels)
            log.info("simulator: incident starts; labels %s", ", ".join(x.id for x in labels))
    by_kind = sim.events_between(stats.sim_ms, target_ms)
    counts = {
        "camera": stats.camera,
        "sensor": stats.sensor,
        "hotline": stats.hotline,
        "worker": stats.worker,
    }
    records = stats.records
    size = stats.bytes
    for kind in KINDS:
        events = by_kind[kind]
        if not events:
            continue
        sent = await publisher.send_events(kind, events)
        counts[kind] += sent.events
        records += sent.records
        size += sent.bytes
    return replace(
        stats,
        camera=counts["camera"],
        sensor=counts["sensor"],
        hotline=counts["hotline"],
        worker=counts["worker"],
        records=records,
        bytes=size,
        labels=stats.labels + len(labels),
        sim_ms=target_ms,
    )
