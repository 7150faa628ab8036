"""Operational metrics of the web server that are measured rather than counted.

- ``citybrain_live_alerts{severity,state}``: alerts in the live view (Redis hash
  ``<prefix>alerts``, what the map and ``GET /api/alerts`` show), recounted every
  ``REFRESH_S`` seconds by :func:`follow_alert_counts`. Every known severity and
  state pair is always present (0 when none); values no rule produces are counted
  as ``other``, so a bad record cannot add labels without bound.
- ``citybrain_broadcast_lag_seconds{type}``: for each ``cells.state`` (``cells``) and
  ``alerts`` (``alert``) record, the seconds from its Kafka timestamp to the moment
  the server handed the message carrying it to the websocket clients (cells
  coalesced once per ``web.broadcast_interval_s``; alerts at once). Records replayed
  after a restart are measured too, and show as the catching up they are.
- ``citybrain_consumer_lag{topic,partition}`` (:mod:`streams.io.lag`) for the server's
  Kafka feed: :func:`feed_offsets` reads the high watermark and the consumer's
  position, which advances as the feed takes each record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import orjson
from aiokafka import AIOKafkaConsumer
from prometheus_client import Gauge, Histogram
from redis.exceptions import RedisError

from alerts.incidents.lifecycle import LIFECYCLE_STATES
from alerts.rules.spec import SEVERITIES
from streams.io.lag import PartitionOffsets
from web.snapshot import Snapshot

log = logging.getLogger(__name__)

REFRESH_S = 5.0
OTHER = "other"

LIVE_ALERTS = Gauge(
    "citybrain_live_alerts",
    "Alerts in the live view (Redis) by severity and lifecycle state",
    ["severity", "state"],
)
BROADCAST_LAG = Histogram(
    "citybrain_broadcast_lag_seconds",
    "Seconds from a cells.state or alerts record's Kafka timestamp to its broadcast",
    ["type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)

BroadcastType = Literal["cells", "alert"]


def count_alerts(alerts: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], int]:
    """Alerts by (severity, state): every known pair (0 when none), plus ``other`` for
    values outside :data:`alerts.rules.spec.SEVERITIES` / lifecycle states."""
    counts: dict[tuple[str, str], int] = {
        (sev, state): 0 for sev in SEVERITIES for state in LIFECYCLE_STATES
    }
    for alert in alerts:
        sev, state = alert.get("severity"), alert.get("state")
        key = (
            sev if isinstance(sev, str) and sev in SEVERITIES else OTHER,
            state if isinstance(state, str) and state in LIFECYCLE_STATES else OTHER,
        )
        counts[key] = counts.get(key, 0) + 1
    return counts


def broadcast_lags_s(record_ms: Iterable[int | None], sent_ms: int) -> list[float]:
    """Seconds from each record's Kafka timestamp (epoch ms; None or negative: the record
    has none) to ``sent_ms``; never negative (clocks of two hosts may differ a little)."""
    return [max(0.0, (sent_ms - ms) / 1000.0) for ms in record_ms if ms is not None and ms >= 0]


def observe_broadcast(kind: BroadcastType, record_ms: Iterable[int | None], sent_ms: int) -> None:
    """Record the broadcast lag of the records a message sent at ``sent_ms`` carried."""
    histogram = BROADCAST_LAG.labels(kind)
    for lag in broadcast_lags_s(record_ms, sent_ms):
        histogram.observe(lag)


async def follow_alert_counts(snapshot: Snapshot, interval_s: float = REFRESH_S) -> None:
    """Recount the live alerts every ``interval_s`` seconds until cancelled; a failed
    recount is logged and the gauge keeps its last values."""
    shown: set[tuple[str, str]] = set()
    while True:
        try:
            counts = count_alerts(await snapshot.alerts())
        except (OSError, RedisError, orjson.JSONDecodeError) as exc:
            log.warning("live alert counts not refreshed (next try in %g s): %r", interval_s, exc)
        else:
            for key in shown - set(counts):  # an 'other' pair that is gone again
                counts[key] = 0
            for (sev, state), n in counts.items():
                LIVE_ALERTS.labels(sev, state).set(n)
            shown = set(counts)
        await asyncio.sleep(interval_s)


async def feed_offsets(consumer: AIOKafkaConsumer | None) -> list[PartitionOffsets]:
    """High watermark and position of each partition the web server's feed is assigned
    (none before the feed's consumer exists)."""
    if consumer is None:
        return []
    # high watermarks first, without awaiting: the assignment cannot change in between
    highwaters = {tp: consumer.highwater(tp) for tp in consumer.assignment()}
    out = []
    for tp, hw in sorted(highwaters.items()):
        if tp not in consumer.assignment():  # a rebalance took it during an await below
            continue
        position = await consumer.position(tp)
        out.append(PartitionOffsets(tp.topic, tp.partition, highwater=hw, next_offset=position))
    return out
