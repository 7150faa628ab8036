"""The grid-worker agent: ``events.worker`` reports → grid worker views on ``workers.state``.

Grid worker (网格员) reports stay out of the cell pipeline. The agent decodes each
record with the worker's decode limits (:func:`streams.pipeline.config.decode_limits`),
dead-letters bad input exactly as the ingest agents do (same record, same
counters, kind ``worker``), and publishes each valid report, in WGS-84, as one
grid worker view keyed by the worker id (so one worker's views stay in order on
one partition). It keeps no state: consumers keep the newest view per worker
(``updated_at``), see :mod:`web.workers`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import faust
import orjson

from citybrain.config.settings import Settings
from citybrain.config.topics import EVENTS_WORKER, WORKERS_STATE
from streams.pipeline.config import decode_limits
from streams.pipeline.decode import decode_worker_record
from streams.pipeline.events import WorkerReport
from streams.worker import metrics
from streams.worker.deadletter import send_rejections

log = logging.getLogger(__name__)

INPUT_TOPIC: Final = EVENTS_WORKER
STATE_TOPIC: Final = WORKERS_STATE
KIND: Final = "worker"
AGENT_NAME: Final = "ingest_worker"


def worker_view(report: WorkerReport) -> dict[str, Any]:
    """The grid worker view of a report (docs/protocol.md, "Grid workers").

    ``{"id": worker id, "name", "grid", "lat", "lon" (WGS-84 degrees, 7 decimals ≈ 1 cm),
    "status": "online"|"offline", "updated_at": the report's ts, epoch ms}``.
    """
    return {
        "id": report.worker,
        "name": report.name or report.worker,
        "grid": report.grid,
        "lat": round(report.lat, 7),
        "lon": round(report.lon, 7),
        "status": report.status,
        "updated_at": report.ts,
    }


def add_workers_agent(
    app: faust.App, settings: Settings, deadletter: Any, *, memory_sinks: bool = False
) -> Any:
    """Add the ``ingest_worker`` agent to ``app``; returns its ``workers.state`` sink.

    ``deadletter`` is the app's dead-letter sink (topic or, in agent tests, channel).
    ``memory_sinks=True`` makes ``workers.state`` an in-memory channel, as
    :func:`streams.worker.app.create_app` does for its sinks. Call before ``app.finalize()``.
    """
    k = settings.kafka
    sink: Any = (
        app.channel(key_type=bytes, value_type=bytes, maxsize=100_000)
        if memory_sinks
        else app.topic(k.topic(STATE_TOPIC), key_type=bytes, value_type=bytes)
    )
    source = app.topic(k.topic(INPUT_TOPIC), key_type=bytes, value_type=bytes, allow_empty=True)
    limits = decode_limits(settings)

    async def ingest_record(event: Any) -> None:
        msg = event.message
        now = int(time.time() * 1000)
        metrics.RECORDS_IN.labels(KIND).inc()
        decoded = decode_worker_record(event.value, now, limits)
        await send_rejections(
            decoded.rejections,
            kind=KIND,
            topic=k.topic(INPUT_TOPIC),
            message=msg,
            sink=deadletter,
            now_ms=now,
        )
        metrics.EVENTS_IN.labels(KIND).inc(len(decoded.reports))
        for report in decoded.reports:
            await sink.send(key=report.worker.encode(), value=orjson.dumps(worker_view(report)))

    @app.agent(source, name=AGENT_NAME)
    async def ingest_worker(stream: Any) -> None:
        async for event in stream.events():
            await ingest_record(event)

    return sink
