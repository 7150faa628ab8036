"""Consumer lag: records on the broker that a process has not processed yet.

For each partition a process consumes, lag = the partition's high watermark (the
offset the next record produced will get) minus the offset of the next record the
process will process. Each process reads those two offsets its own way (the
worker: :mod:`streams.worker.health`; the web server: :mod:`web.telemetry`); this module
turns readings into the gauge ``citybrain_consumer_lag{topic,partition}``, every
``REFRESH_S`` seconds, dropping partitions the process no longer holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

REFRESH_S = 5.0

CONSUMER_LAG = Gauge(
    "citybrain_consumer_lag",
    "Records on the broker not yet processed by this process, per partition it consumes",
    ["topic", "partition"],
)
LAG_ERRORS = Counter(
    "citybrain_consumer_lag_errors_total", "Consumer-lag refreshes that failed (retried)"
)


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """What a process knows of one partition it consumes, as offsets.

    ``highwater``: the offset the next record produced will get (None: not known yet).
    ``next_offset``: the offset of the next record the process will process (None:
    nothing processed or committed yet; then it starts at ``log_start``).
    """

    topic: str
    partition: int
    highwater: int | None
    next_offset: int | None
    log_start: int = 0


def partition_lag(offsets: PartitionOffsets) -> int | None:
    """Records behind for one partition (never negative); None while the high watermark is
    unknown (no fetch answered yet)."""
    if offsets.highwater is None:
        return None
    start = offsets.next_offset if offsets.next_offset is not None else offsets.log_start
    return max(0, offsets.highwater - start)


def lags(readings: Iterable[PartitionOffsets]) -> dict[tuple[str, int], int]:
    """Lag by (topic, partition) for the readings whose lag is known."""
    out = {}
    for offsets in readings:
        lag = partition_lag(offsets)
        if lag is not None:
            out[(offsets.topic, offsets.partition)] = lag
    return out


class LagGauge:
    """Publishes lags to a gauge, removing the partitions that are gone since last time."""

    def __init__(self, gauge: Gauge = CONSUMER_LAG) -> None:
        self.gauge = gauge
        self._shown: set[tuple[str, int]] = set()

    def publish(self, current: Mapping[tuple[str, int], int]) -> None:
        for topic, partition in self._shown - set(current):
            self.gauge.remove(topic, str(partition))
        for (topic, partition), lag in current.items():
            self.gauge.labels(topic, str(partition)).set(lag)
        self._shown = set(current)


Reader = Callable[[], Awaitable[list[PartitionOffsets]]]


async def refresh_forever(read: Reader, interval_s: float = REFRESH_S) -> None:
    """Every ``interval_s`` seconds, ``read()`` the offsets and publish the lags, until
    cancelled. A failed or slow reading (broker away, a rebalance in the middle of the
    read, anything else) is counted in ``citybrain_consumer_lag_errors_total`` and
    retried next time; the first failure of a run of failures is logged as a warning,
    the rest at debug level, and the gauge keeps its last values meanwhile."""
    gauge = LagGauge()
    failing = False
    while True:
        try:
            async with asyncio.timeout(interval_s):
                readings = await read()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a lag reading never stops the process; counted, retried
            LAG_ERRORS.inc()
            if failing:
                log.debug("consumer lag not refreshed again: %r", exc)
            else:
                log.warning(
                    "consumer lag not refreshed (next try in %g s)", interval_s, exc_info=True
                )
            failing = True
        else:
            if failing:
                log.info("consumer lag refreshed again")
            failing = False
            gauge.publish(lags(readings))
        await asyncio.sleep(interval_s)
