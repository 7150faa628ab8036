"""The worker's input consumer (edge): the input topics read in bulk, outside Faust's
per-record path.

Faust spends tens of microseconds of Python on every Kafka record it hands an agent
(docs/benchmarks.md), whatever the record holds; feeds that send one event per record
would be held to that rate. So the input topics are read by a plain aiokafka consumer,
``getmany`` at a time, in a consumer group of its own (``<app id>-ingest``: the workers
share the input partitions as they share ``cells.ingest``); each fetched batch goes
through :class:`streams.pipeline.ingest.Ingest` at once and on to ``cells.ingest`` and the other
topics through the worker's producer. Only after the producer has flushed what a batch
produced are the batch's offsets committed: a worker that dies in between leaves them
to be read again (at least once; every fold downstream is idempotent — one reading per
device, a ticket id counts once). That wait runs while the next batch is read and handled
(one batch at a time awaits its acknowledgements; commits stay in order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import TopicPartition
from prometheus_client import Counter, Histogram

from streams.io.lag import PartitionOffsets
from streams.pipeline.events import Kind
from streams.pipeline.ingest import InputPart
from streams.worker.lean_records import LeanRecord, install, lean_values

log = logging.getLogger(__name__)

BATCHES = Histogram(
    "citybrain_ingest_batch_records",
    "Input records per batch the input consumer fetched",
    buckets=(1, 10, 100, 1_000, 5_000, 20_000, 50_000),
)
HELD_SECONDS = Counter(
    "citybrain_ingest_held_seconds_total",
    "Seconds the input consumer waited for the worker's tables to be recovered",
)
HOLD_STEP_S = 0.05
HOLD_MAX_S = 30.0
COMMIT_FAILED = Counter(
    "citybrain_ingest_commits_failed_total",
    "Input offsets not committed (a rebalance took the partitions): read again elsewhere",
)


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """``bootstrap``: host:port list; ``group``: the consumer group; times in ms."""

    bootstrap: list[str]
    group: str
    session_timeout_ms: int
    heartbeat_interval_ms: int
    rebalance_timeout_ms: int
    fetch_max_wait_ms: int
    max_records: int = 20_000


class BulkIngest:
    """Reads ``topics`` (full name → kind) and hands each fetched batch to ``handle``;
    ``flush`` must return once everything ``handle`` sent is acknowledged."""

    def __init__(
        self,
        topics: Mapping[str, Kind],
        settings: ConsumerSettings,
        handle: Callable[[list[InputPart]], Awaitable[None]],
        flush: Callable[[], Awaitable[None]],
        held: Callable[[], bool] = lambda: False,
    ) -> None:
        self.topics, self.settings = dict(topics), settings
        self.handle, self.flush, self.held = handle, flush, held
        self.consumer: AIOKafkaConsumer | None = None
        self.committed: dict[TopicPartition, int] = {}

    @property
    def running(self) -> bool:
        """Started and in its group (it may hold no partition: more workers than those)."""
        return self.consumer is not None

    async def run(self) -> None:
        """Consume until cancelled."""
        s = self.settings
        install()
        consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=s.bootstrap,
            group_id=s.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            rebalance_timeout_ms=s.rebalance_timeout_ms,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            value_deserializer=lean_values,  # (offset, value) pairs, no ConsumerRecord
        )
        await consumer.start()
        self.consumer = consumer
        settling: asyncio.Task[None] | None = None
        try:
            while True:
                await self.wait_while_held()
                fetched = await consumer.getmany(timeout_ms=200, max_records=s.max_records)
                if not fetched:
                    continue
                ends = await self._take(fetched)
                # the batch before is acknowledged and committed before this one's settling
                # starts: commits stay in order, and at most two batches (the one settling
                # and the one just handled) are in flight
                if settling is not None:
                    await settling
                settling = asyncio.create_task(self._settle(consumer, ends))
        finally:
            if settling is not None and not settling.done():
                settling.cancel()  # not committed: read again (at least once)
            self.consumer = None
            await consumer.stop()

    async def wait_while_held(self) -> None:
        """Fetch nothing while ``held()`` (the worker's tables are being recovered after a
        rebalance): what would be forwarded could not be folded yet, and its sends would
        hold up the recovery itself (Faust stops delivering changelog records while its
        producer's buffer is full). At most ``HOLD_MAX_S`` at a time, so the consumer
        stays well inside its poll interval and in its group."""
        waited = 0.0
        while self.held() and waited < HOLD_MAX_S:
            HELD_SECONDS.inc(HOLD_STEP_S)
            await asyncio.sleep(HOLD_STEP_S)
            waited += HOLD_STEP_S

    async def _take(
        self, fetched: Mapping[TopicPartition, list[LeanRecord]]
    ) -> dict[TopicPartition, int]:
        """Hand ``fetched`` to ``handle``; the offsets to commit once its sends are
        acknowledged."""
        parts = []
        for tp, batch in fetched.items():
            offsets, values = zip(*batch, strict=True) if batch else ((), ())
            parts.append(InputPart(self.topics[tp.topic], tp.topic, tp.partition, offsets, values))
        BATCHES.observe(sum(len(part) for part in parts))
        await self.handle(parts)
        return {tp: batch[-1][0] + 1 for tp, batch in fetched.items() if batch}

    async def _settle(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        """Commit ``ends`` once everything sent so far is acknowledged. Runs while the
        next batch is read and handled, so the wait for the broker's acknowledgements
        does not stop the input."""
        await self.flush()
        try:
            await consumer.commit(ends)
        except (CommitFailedError, KafkaError) as exc:  # the partitions moved meanwhile
            COMMIT_FAILED.inc()
            log.warning("input offsets not committed (%s): read again by their new owner", exc)
            return
        self.committed.update(ends)

    async def offsets(self) -> list[PartitionOffsets]:
        """High watermark and committed offset of each input partition held (for lag).

        A rebalance may take partitions while the committed offsets are being asked
        for; those are left out (their new owner reports them), never read: aiokafka
        asserts on a partition that is no longer assigned."""
        consumer = self.consumer
        if consumer is None:
            return []
        committed: dict[TopicPartition, int | None] = {}
        for tp in sorted(consumer.assignment()):
            known = self.committed.get(tp)
            committed[tp] = known if known is not None else await consumer.committed(tp)
        held = consumer.assignment()  # now, after the awaits: no await from here on
        return [
            PartitionOffsets(tp.topic, tp.partition, consumer.highwater(tp), offset)
            for tp, offset in committed.items()
            if tp in held
        ]


RESTARTS = Counter(
    "citybrain_ingest_restarts_total", "Input consumer restarts after a failure (see the log)"
)


async def run_forever(ingest: BulkIngest, retry_s: float = 5.0) -> None:
    """Run the consumer for the worker's life. A failure (broker trouble, or a batch that
    could not be handled) restarts it after ``retry_s`` from the last committed offsets,
    so nothing is lost; meanwhile the worker's ``/readyz`` says the input consumer is down."""
    while True:
        try:
            await ingest.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # logged with its traceback and counted; the batch is read again
            RESTARTS.inc()
            log.exception("input consumer failed; starting it again in %.0f s", retry_s)
            await asyncio.sleep(retry_s)
