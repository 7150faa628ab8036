"""The worker's own HTTP endpoints: liveness, readiness and Prometheus metrics.

A Faust worker runs without Faust's web server (``web_enabled=False``); this
small aiohttp site on ``worker_http_port`` (loopback by default) serves:

* ``GET /healthz`` — 200 while the process runs;
* ``GET /readyz`` — 200 when the broker answers (streams/io/broker_watch.py), the
  worker has joined its consumer group, is not rebalancing and its tables are
  recovered from their changelogs; otherwise
  503 with which check fails (``{"status", "checks": {name: bool}}``);
* ``GET /metrics`` — the worker's counters (events in by kind, dead letters by
  reason, alerts, audit entries, batch time …) in Prometheus text format.

:func:`follow_lag` keeps ``citybrain_consumer_lag`` (:mod:`streams.io.lag`) current for
the partitions the worker's agents consume: the high watermark minus the offset
the consumer group has committed. Faust commits an offset only once the agents
have processed the records before it (every few seconds), so this counts records
fetched but still waiting in Faust's buffers too.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.io.broker_watch import BrokerWatch
from streams.io.lag import PartitionOffsets, refresh_forever

log = logging.getLogger(__name__)


def readiness(app: Any, broker: BrokerWatch) -> dict[str, bool]:
    """The checks of ``/readyz`` for a Faust ``app`` (each True when passing); the input
    consumer (``app.citybrain_ingest``, streams/worker/bulk_ingest.py) must be in its group."""
    recovery = app.tables.recovery
    ingest = app.citybrain_ingest
    return {
        "broker": broker.up,
        "assigned": bool(app.assignor.assigned_actives()),
        "not_rebalancing": not app.rebalancing,
        "tables_recovered": recovery.completed.is_set() and not recovery.in_recovery,
        "input_consumer": ingest is None or ingest.running,
    }


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def build_site(app: Any, broker: BrokerWatch) -> web.Application:
    """The aiohttp application of the endpoints for Faust ``app``."""

    async def healthz(_request: web.Request) -> web.Response:
        return _json(200, {"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        checks = readiness(app, broker)
        ready = all(checks.values())
        return _json(
            200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks}
        )

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    site = web.Application()
    site.router.add_get("/healthz", healthz)
    site.router.add_get("/readyz", readyz)
    site.router.add_get("/metrics", metrics)
    return site


async def serve(app: Any, host: str, port: int, broker: BrokerWatch) -> web.AppRunner:
    """Start the endpoints; the caller cleans the returned runner up."""
    runner = web.AppRunner(build_site(app, broker), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("worker health and metrics on http://%s:%d/", host, port)
    return runner


async def group_offsets(app: Any, admin: AIOKafkaAdminClient) -> list[PartitionOffsets]:
    """High watermark and committed offset of each partition of Faust ``app``'s agents'
    topics that this worker is assigned (not table changelogs, which are not committed),
    and of the input partitions its input consumer holds."""
    ingest = app.citybrain_ingest
    inputs = await ingest.offsets() if ingest is not None else []
    tps = sorted(
        tp for tp in app.assignor.assigned_actives() if app.topics.acks_enabled_for(tp.topic)
    )
    if not tps:
        return inputs  # the agents are not assigned yet (starting, rebalancing)
    wanted = [TopicPartition(tp.topic, tp.partition) for tp in tps]
    committed = await admin.list_consumer_group_offsets(app.conf.id, partitions=wanted)
    highwaters = await app.consumer.highwaters(*tps)
    next_offsets = {
        (tp.topic, tp.partition): (meta.offset if meta.offset >= 0 else None)
        for tp, meta in committed.items()
    }
    never = [tp for tp in tps if next_offsets.get((tp.topic, tp.partition)) is None]
    starts = await app.consumer.earliest_offsets(*never) if never else {}
    return inputs + [
        PartitionOffsets(
            tp.topic,
            tp.partition,
            highwater=highwaters.get(tp),
            next_offset=next_offsets.get((tp.topic, tp.partition)),
            log_start=starts.get(tp) or 0,
        )
        for tp in tps
    ]


async def follow_lag(app: Any, bootstrap_servers: list[str]) -> None:
    """Refresh the worker's consumer-lag gauge until cancelled (see the module docstring).

    The admin client (for the committed offsets) connects on the first refresh; a
    broker that is not there yet fails that refresh only, and the next one tries again.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    started = False

    async def read() -> list[PartitionOffsets]:
        nonlocal started
        if not started:
            await admin.start()
            started = True
        return await group_offsets(app, admin)

    try:
        await refresh_forever(read)
    finally:
        await admin.close()
