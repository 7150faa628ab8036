"""The Faust app factory: topics, tables and agents.

Agents only decode, call pure code and emit; the pure code between the bytes they read
and the records they send is one driver (:mod:`streams.pipeline.driver`), which the
backtest runs too:

* the input consumer (:mod:`streams.worker.bulk_ingest`, outside Faust's per-record path)
  reads ``events.camera|sensor|hotline`` a fetched batch at a time
  (:meth:`streams.pipeline.driver.Driver.fetch`), validates with
  :mod:`streams.pipeline.decode`, dead-letters bad input and forwards normalised events
  to ``cells.ingest`` keyed by their cell's placement (:mod:`streams.pipeline.placement`:
  coarse H3 parent, zones kept together), one record per key and input record;
  hotline tickets go on with their free text masked (:mod:`streams.pipeline.privacy`), the
  unmasked text only to ``hotline.private``, and as halo copies to the partitions
  whose clusters must count them (:mod:`streams.pipeline.halo`);
* ``actions`` reads people's requests from ``alerts.actions`` (acknowledge,
  assign, resolve; validated by :mod:`alerts.incidents.action_record`) and forwards each
  to ``cells.ingest`` keyed like the incident's anchor cell, so it reaches the
  one partition (and stream) that owns the incident;
* ``cells`` folds each ``cells.ingest`` record (events, camera readings, actions, what
  another partition tells, or a tick) into the changelog-backed tables
  (:meth:`streams.pipeline.driver.Driver.record`) and publishes changed cells to
  ``cells.state``, alerts to ``alerts`` and lifecycle transitions to
  ``alerts.audit``; what the other partitions must know of
  its side of a boundary (clusters opening or closing, incidents, signals for their
  incidents) goes to them as ``{"near": ...}`` records on ``cells.ingest``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import faust
import orjson

from alerts.crowd.cell_metrics import CellBaselines
from alerts.incidents.action_record import decode_action
from alerts.incidents.detect import Track
from alerts.incidents.incident import Incident
from alerts.rules.file import RuleSet
from citybrain.config.settings import Settings
from citybrain.config.topics import (
    ALERTS,
    ALERTS_ACTIONS,
    ALERTS_AUDIT,
    ALERTS_SHADOW,
    CELLS_INGEST,
    CELLS_STATE,
    EVENTS_DEADLETTER,
    EVENTS_UNLOCATED,
    HOTLINE_PRIVATE,
    RULES,
    input_topic,
)
from geo.geocode import load_gazetteer
from streams.io.background import keep_running
from streams.io.broker_watch import BrokerWatch
from streams.pipeline.camera_log import CameraLog
from streams.pipeline.cell_partitions import CellPartitions, RoundPacing
from streams.pipeline.cellfold import CellState
from streams.pipeline.clock import EventClock
from streams.pipeline.config import decode_limits, lateness, pipeline_config, zone_index
from streams.pipeline.device_rate import Ceiling
from streams.pipeline.driver import TICK, Driver, Handled, action_record, late_rejection
from streams.pipeline.events import KINDS, Kind, to_wire
from streams.pipeline.halo import Mark
from streams.pipeline.ingest import Ingest, InputPart, InputRecord, parts_of
from streams.pipeline.lateness import LateEvent
from streams.pipeline.step_data import Stores
from streams.worker import metrics
from streams.worker.bulk_ingest import BulkIngest, ConsumerSettings, run_forever
from streams.worker.deadletter import send_rejections
from streams.worker.faust_store import FaustStore
from streams.worker.fetch_wait import limit_fetch_wait
from streams.worker.health import follow_lag
from streams.worker.health import serve as serve_health
from streams.worker.producer_flush import DurableApp
from streams.worker.rulesource import RuleSource, load_start_rules
from streams.worker.workers_agent import add_workers_agent

log = logging.getLogger(__name__)


def _wall_ms() -> float:
    return time.time() * 1000.0


def create_app(
    settings: Settings,
    *,
    memory_sinks: bool = False,
    rules: RuleSet | None = None,
    wall_ms: Callable[[], float] = _wall_ms,
) -> faust.App:
    """Build a fresh Faust app for ``settings`` (no module-level singletons).

    ``memory_sinks=True`` makes the output topics Faust in-memory channels, for agent
    tests under ``agent.test_context()`` (no broker needed, no rule hot reload).
    ``rules`` is the rule set to start with; by default the rule files of the settings,
    which must be valid (:func:`streams.worker.rulesource.load_start_rules` raises otherwise).
    ``wall_ms`` is the wall clock, epoch ms (tests pass one they set, to be deterministic).
    """
    k, p = settings.kafka, settings.pipeline
    limit_fetch_wait(k.fetch_max_wait_ms)
    app = DurableApp(
        f"{k.topic_prefix}citybrain",
        broker=k.brokers,
        store="memory://",
        # No standby replicas: a memory store drops every key of a partition it does not
        # own when a recovery completes, so a standby holds nothing worth keeping, and
        # Faust's standby consistency check crashed workers during rebalances (issue 16).
        table_standby_replicas=0,
        datadir=str(Path(settings.embedded.data_dir) / "faust" / settings.worker_id),
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication,
        broker_rebalance_timeout=k.rebalance_timeout_s,
        broker_session_timeout=k.session_timeout_s,
        broker_heartbeat_interval=k.heartbeat_interval_s,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        producer_linger=0.005,
    )
    cells_ingest = app.topic(
        k.topic(CELLS_INGEST),
        partitions=k.partitions,
        internal=True,
        key_type=bytes,
        value_type=bytes,
    )

    def sink(name: str) -> Any:
        return (
            app.channel(maxsize=100_000, key_type=bytes, value_type=bytes)
            if memory_sinks
            else app.topic(k.topic(name), key_type=bytes, value_type=bytes)
        )

    ingest_sink = sink(CELLS_INGEST) if memory_sinks else cells_ingest
    deadletter, unlocated = sink(EVENTS_DEADLETTER), sink(EVENTS_UNLOCATED)
    cells_state, alerts_topic = sink(CELLS_STATE), sink(ALERTS)
    shadow_topic = sink(ALERTS_SHADOW)  # shadow-rule incidents: engineers only, no desk
    audit_topic = sink(ALERTS_AUDIT)  # every lifecycle transition, who and when
    private_topic = sink(HOTLINE_PRIVATE)  # unmasked ticket text: the web server only

    def table(name: str) -> Any:
        return app.Table(
            name, default=None, partitions=k.partitions, key_type=bytes, value_type=bytes
        )

    stores = Stores(
        cells=FaustStore[CellState](table("cells"), CellState.from_dict, CellState.to_dict),
        tracks=FaustStore[Track](table("tracks"), Track.from_dict, asdict),
        incidents=FaustStore[Incident](table("incidents"), Incident.from_dict, asdict),
        baselines=FaustStore[CellBaselines](
            table("baselines"), CellBaselines.from_dict, CellBaselines.to_dict
        ),
        halo=FaustStore[CellState](table("halo"), CellState.from_dict, CellState.to_dict),
        marks=FaustStore[Mark](table("marks"), Mark.from_dict, Mark.to_dict),
        ghosts=FaustStore[Incident](table("ghosts"), Incident.from_dict, asdict),
    )

    limits = decode_limits(settings)
    config = pipeline_config(settings, zone_index(settings))
    placed = config.placement
    assert placed is not None  # pipeline_config always places cells
    rules_topic = sink(RULES)

    async def publish_rules(value: bytes) -> None:
        await rules_topic.send(value=value)

    source = RuleSource(settings, rules or load_start_rules(settings), publish_rules)
    gazetteer = load_gazetteer()
    clock = EventClock()

    ingest = Ingest(
        limits, Ceiling(per_s=p.device_max_per_s, burst=p.device_burst), gazetteer, placed
    )
    camera_log = CameraLog(table("camera_log"))
    # Rounds space out when costly (RoundPacing) in a running worker only: under Faust's
    # test context the rounds follow the given wall clock alone, as the backtest's do.
    pacing = None if memory_sinks else RoundPacing(p.round_max_share, time.perf_counter)
    partitions = CellPartitions(
        stores,
        camera_log,
        clock,
        lateness(settings),
        round_every_ms=p.measure_every_ms,
        pacing=pacing,
    )
    driver = Driver(ingest, partitions, config)

    async def ingest_records(parts: list[InputPart]) -> None:
        """Decode a batch of input records, dead-letter what is bad, forward what is good."""
        now = int(wall_ms())
        fetched = driver.fetch(parts, now)
        out = fetched.ingested
        for kind, n in out.records.items():
            metrics.RECORDS_IN.labels(kind).inc(n)
        for record, rejections in out.rejected:
            await send_rejections(
                rejections,
                kind=record.kind,
                topic=record.topic,
                message=record,  # its partition and offset
                sink=deadletter,
                now_ms=now,
            )
        for text in out.private:
            metrics.PRIVATE_TEXTS.inc()
            await private_topic.send(key=text.id.encode(), value=orjson.dumps(text.to_wire()))
        for ticket in out.unlocated:
            metrics.UNLOCATED.inc()
            await unlocated.send(value=orjson.dumps(to_wire(ticket)))
        for precision in out.geocoded:
            metrics.GEOCODED.labels(precision).inc()
        for kind, n in out.events.items():
            metrics.EVENTS_IN.labels(kind).inc(n)
        if fetched.halo:
            metrics.NEAR_SENT.labels("tickets").inc(fetched.halo)
        for key, value in fetched.sends:
            await ingest_sink.send(key=key, value=value)

    async def flush_producer() -> None:
        await app.producer.flush()

    input_topics = {k.topic(input_topic(kind)): kind for kind in KINDS}
    bulk: BulkIngest | None = None
    if memory_sinks:
        # Under Faust's test context there is no broker for the input consumer: one agent
        # per input topic hands each record to the same ingest_records.
        def ingest_agent(name: str, kind: Kind) -> None:
            @app.agent(
                app.topic(name, allow_empty=True, key_type=bytes, value_type=bytes),
                name=f"ingest_{kind}",
            )
            async def ingest_one(stream: Any) -> None:
                async for event in stream.events():
                    m = event.message
                    await ingest_records(
                        parts_of([InputRecord(kind, name, m.partition, m.offset, event.value)])
                    )

        for name, kind in input_topics.items():
            ingest_agent(name, kind)
    else:
        bulk = BulkIngest(
            input_topics,
            ConsumerSettings(
                bootstrap=k.bootstrap_servers(),
                group=f"{app.conf.id}-ingest",
                session_timeout_ms=int(k.session_timeout_s * 1000),
                heartbeat_interval_ms=int(k.heartbeat_interval_s * 1000),
                rebalance_timeout_ms=int(k.rebalance_timeout_s * 1000),
                fetch_max_wait_ms=k.fetch_max_wait_ms,
            ),
            ingest_records,
            flush_producer,
            held=lambda: bool(app.rebalancing or app.tables.recovery.in_recovery),  # type: ignore[attr-defined]
        )

        @app.task
        async def input_consumer() -> None:
            """The input topics, read in bulk (streams/worker/bulk_ingest.py)."""
            assert bulk is not None
            await run_forever(bulk)

    # grid workers' positions: validated, normalised, published as views (not cell events)
    workers_state = add_workers_agent(app, settings, deadletter, memory_sinks=memory_sinks)

    actions_in = app.topic(
        k.topic(ALERTS_ACTIONS), allow_empty=True, key_type=bytes, value_type=bytes
    )

    @app.agent(actions_in, name="actions")
    async def actions(stream: Any) -> None:
        """Validate people's requests and send each to its incident's partition."""
        async for event in stream.events():
            try:
                record = decode_action(event.value)
            except ValueError as exc:
                metrics.ACTIONS_BAD.inc()
                log.warning("refused alerts.actions@%s: %s", event.message.offset, str(exc)[:300])
                continue
            key, body = action_record(record, placed.key(record.anchor))
            await ingest_sink.send(key=key, value=body)

    async def send_late(late: tuple[LateEvent, ...], message: Any) -> None:
        """Dead-letter (and count) the events of a ``cells.ingest`` record that came too
        late for any open window."""
        for item in late:
            await send_rejections(
                [late_rejection(item)],
                kind=item.event.kind,
                topic=k.topic(CELLS_INGEST),
                message=message,
                sink=deadletter,
                now_ms=int(wall_ms()),
            )

    async def publish(handled: Handled, partition: int, key: bytes | None) -> None:
        """Send what one ``cells.ingest`` record of ``partition`` (keyed ``key``) gave."""
        for key_, value in handled.sends:
            await ingest_sink.send(key=key_, value=value)
        for what, n in handled.near_counts.items():
            metrics.NEAR_SENT.labels(what).inc(n)
        for unknown in handled.unknown:
            metrics.ACTIONS_UNKNOWN.inc()
            log.warning(
                "action %s (%s by %s): alert %s is not held by partition %d",
                unknown.id,
                unknown.kind,
                unknown.by,
                unknown.alert,
                partition,
            )
        if handled.state is not None:
            metrics.CELL_UPDATES.inc(len(handled.views))
            await cells_state.send(key=key, value=handled.state)
        if handled.republished is not None:
            log.info(
                "partition %d: %d alerts republished after start", partition, handled.republished
            )
        if (handled.alerts or handled.audit) and not memory_sinks:
            # The tables' changelog first: an alert (or audit entry) people have seen
            # must be in the recovered state if this worker dies right after.
            await app.producer.flush()
        for alert in handled.alerts:
            metrics.ALERTS_OUT.labels(alert.rule, alert.state).inc()
            log.info("alert %s %s %s %s", alert.id, alert.rule, alert.state, alert.title)
            target = shadow_topic if alert.evidence.get("shadow") else alerts_topic
            await target.send(key=alert.id.encode(), value=orjson.dumps(alert.to_dict()))
        for entry in handled.audit:
            metrics.AUDIT_OUT.labels(entry.action).inc()
            log.info("audit %s %s by %s", entry.id, entry.action, entry.by)
            await audit_topic.send(key=entry.alert.encode(), value=orjson.dumps(entry.to_dict()))

    @app.agent(cells_ingest, name="cells")
    async def cells(stream: Any) -> None:
        """Step each ``cells.ingest`` record's partition (streams/pipeline/driver.py) and
        publish what it gave."""
        async for event in stream.events():
            started = time.perf_counter()
            partition = event.message.partition
            handled = driver.record(partition, event.value, wall_ms(), source.current)
            if handled.skipped:
                continue  # a tick of a partition nothing was seen on since start
            await send_late(handled.late, event.message)
            metrics.EVENTS_FOLDED.inc(handled.folded)
            if handled.measured_round:
                metrics.CAMERA_ROUNDS.inc()
            await publish(handled, partition, event.message.key)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # Faust types it too narrowly
    async def drop_revoked(app: Any, revoked: set[Any], **kwargs: Any) -> None:
        """Partitions another worker takes: their camera state is theirs now (if they
        come back, they are restored from the log afresh). Faust sends ``revoked``, the
        topic-partitions, as the first argument after the app."""
        driver.forget({tp.partition for tp in revoked if tp.topic == cells_ingest.get_topic_name()})

    @app.timer(interval=1.0)
    async def tick() -> None:
        """Sweep each partition this worker owns once a second, through Kafka, so that
        table writes happen inside the partition's own stream (changelog stays aligned)."""
        try:
            for tp in app.assignor.assigned_actives():
                if tp.topic == cells_ingest.get_topic_name():
                    await cells_ingest.send(value=TICK, partition=tp.partition)
        except Exception:  # a failed tick must not stop the worker; the next one retries
            log.exception("tick failed")

    if not memory_sinks and settings.worker_http_port:

        @app.task
        async def health() -> None:
            """/healthz, /readyz and /metrics of this worker (streams/worker/health.py), and the
            broker probe they report."""
            broker = BrokerWatch(k.bootstrap_servers())
            runner = await serve_health(
                app, settings.worker_http_host, settings.worker_http_port, broker
            )
            try:
                # until the worker stops and cancels this; a failing probe or lag reading
                # is counted and retried, never a crash of the worker (streams/io/background.py)
                await asyncio.gather(
                    keep_running("broker probe", broker.run),
                    keep_running("consumer lag", lambda: follow_lag(app, k.bootstrap_servers())),
                )
            finally:
                await runner.cleanup()

    if not memory_sinks:

        @app.task
        async def follow_rules() -> None:
            """Hot reload: follow the rules topic and the rule files for the worker's life."""
            while True:
                try:
                    await source.run()
                except asyncio.CancelledError:
                    raise
                except Exception:  # broker trouble: keep the rules in force, retry shortly
                    log.exception("following rule changes failed; retrying in 5 s")
                    await asyncio.sleep(5)

    app.citybrain_rules = source  # type: ignore[attr-defined]
    app.citybrain_ingest = bulk  # type: ignore[attr-defined]
    # what the input consumer calls with each fetch (tests hand it fetches of their own)
    app.citybrain_ingest_records = ingest_records  # type: ignore[attr-defined]
    app.citybrain_topics = {  # type: ignore[attr-defined]
        "cells_ingest": ingest_sink,
        "deadletter": deadletter,
        "cells_state": cells_state,
        "alerts": alerts_topic,
        "alerts_shadow": shadow_topic,
        "alerts_audit": audit_topic,
        "workers_state": workers_state,
        "rules": rules_topic,
        "unlocated": unlocated,
        "hotline_private": private_topic,
    }
    return app
