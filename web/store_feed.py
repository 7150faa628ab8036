"""The web server's Kafka → Redis copy, made to ride out Redis outages and restarts.

* A record whose Redis writes fail is retried (0.5 s, doubling to 5 s) until Redis
  answers again; the feed waits meanwhile, so nothing is skipped and the websocket
  clients simply see no change until then. One warning when it starts, one line when
  it ends.
* Read positions live in Redis next to the data (web/feed_offsets.py). On partition
  assignment the feed resumes from them (from the beginning where Redis has none:
  an empty Redis is rebuilt from the topics).
* When Redis is back after an outage, or restarted (its ``run_id`` changed) or wiped
  (the stored positions vanished) while the feed was idle, the feed re-reads whatever
  Redis lost (:func:`web.feed_offsets.rewinds`) and every websocket client is sent a
  fresh snapshot, so no map keeps showing something Redis no longer holds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from web.feed_offsets import FeedOffsets, FeedPositions, rewinds

log = logging.getLogger(__name__)

REDIS_OUTAGES = Counter(
    "citybrain_web_redis_outages_total", "Times the Kafka feed had to wait for Redis"
)
REWOUND = Counter(
    "citybrain_web_feed_rewinds_total", "Partitions re-read because Redis had lost records"
)
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
SAVE_INTERVAL_S = 0.5
WATCH_INTERVAL_S = 5.0
StoreErrors = (RedisError, OSError)  # redis-py's ConnectionError is a RedisError
T = TypeVar("T")


class StoreFeed:
    """Runs :meth:`run` (the copy), :meth:`save_loop` and :meth:`watch_loop` as tasks."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        redis: Redis,
        offsets: FeedOffsets,
        *,
        on_recovered: Callable[[], Awaitable[None]],
        stopping: Callable[[], bool],
    ) -> None:
        self.consumer = consumer
        self.redis = redis
        self.offsets = offsets
        self.positions = FeedPositions()
        self.listener = _ResumeFromStore(self)
        self._on_recovered = on_recovered
        self._stopping = stopping
        self._run_id: str | None = None
        self._had_positions = False  # the stored positions were valid at the last watch

    async def run(self, apply: Callable[[ConsumerRecord[Any, Any]], Awaitable[None]]) -> None:
        """Copy records with ``apply`` (which writes to Redis) until the server stops."""
        try:
            await self._copy(apply)
        except StoppedWaiting as stopped:
            log.info("kafka feed: stopping while waiting for Redis at %s", stopped)

    async def _copy(self, apply: Callable[[ConsumerRecord[Any, Any]], Awaitable[None]]) -> None:
        async for record in self.consumer:
            if self._stopping():  # stop() cancelled us, but the cancellation was lost
                log.info("kafka feed: stopping between records (its cancellation was lost)")
                return
            where = f"{record.topic}[{record.partition}]@{record.offset}"
            outage_s = await self._until_done(functools.partial(apply, record), where)
            self.positions.done(record.topic, record.partition, record.offset)
            if outage_s is not None:
                await self.recovered(f"after {outage_s:.1f} s away")

    async def _until_done(self, step: Callable[[], Awaitable[Any]], what: str) -> float | None:
        """Run ``step`` until Redis lets it finish; the outage's length in s, if any."""
        started: float | None = None
        delay = RETRY_FIRST_S
        while True:
            try:
                await step()
                return None if started is None else time.monotonic() - started
            except StoreErrors as exc:
                if self._stopping():
                    # the server is stopping: give up waiting for Redis (the rebalance
                    # listener runs in the Kafka client, where stop() cannot cancel it)
                    raise StoppedWaiting(what) from None
                if started is None:
                    started = time.monotonic()
                    REDIS_OUTAGES.inc()
                    log.warning(
                        "Redis unavailable (%r) at %s; the Kafka feed waits, retrying", exc, what
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _retrying(self, read: Callable[[], Awaitable[T]], what: str) -> T:
        box: list[T] = []

        async def step() -> None:
            box.append(await read())

        await self._until_done(step, what)
        return box[-1]

    async def resume(self, assigned: set[TopicPartition]) -> None:
        """Seek newly assigned partitions to the positions stored in Redis."""
        stored = await self._retrying(self.offsets.load, "reading the stored positions")
        fresh = [tp for tp in assigned if (tp.topic, tp.partition) not in stored]
        for tp in assigned:
            if (tp.topic, tp.partition) in stored:
                self.consumer.seek(tp, stored[tp.topic, tp.partition])
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)
        await self._retrying(self._mark_epoch, "marking the stored positions valid")
        self._run_id = await self._retrying(self._redis_run_id, "reading Redis's run id")
        log.info(
            "kafka feed resumes %d partitions from positions stored in Redis, %d from the start",
            len(assigned) - len(fresh),
            len(fresh),
        )

    async def recovered(self, why: str) -> None:
        """Redis is back: re-read what it lost, then give every client a fresh snapshot."""
        stored = await self._retrying(self.offsets.load, "reading the stored positions")
        reading: dict[tuple[str, int], int] = {}
        for tp in self.consumer.assignment():
            key = (tp.topic, tp.partition)
            held = self.positions.next_offset.get(key)
            reading[key] = held if held is not None else await self.consumer.position(tp)
        moves = rewinds(stored, reading)
        for (topic, partition), offset in moves.items():
            tp = TopicPartition(topic, partition)
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
        REWOUND.inc(len(moves))
        await self._retrying(self._mark_epoch, "marking the stored positions valid")
        self._had_positions = True
        self._run_id = await self._retrying(self._redis_run_id, "reading Redis's run id")
        log.info(
            "Redis is back (%s); %d partitions re-read from the positions it holds; "
            "clients get a fresh snapshot",
            why,
            len(moves),
        )
        await self._until_done(self._on_recovered, "sending clients a fresh snapshot")

    async def save_loop(self) -> None:
        """Store the read positions every SAVE_INTERVAL_S (always after the writes)."""
        failing = False
        while True:
            await asyncio.sleep(SAVE_INTERVAL_S)
            changed = self.positions.changed()
            if not changed:
                continue
            try:
                await self.offsets.save(changed)
            except StoreErrors as exc:
                if not failing:
                    log.warning("feed positions not stored (Redis: %r); retrying", exc)
                failing = True
                continue
            failing = False
            self.positions.saved(changed)

    async def watch_loop(self) -> None:
        """Notice a Redis restart or wipe while the feed is idle (no write fails then)."""
        failing = False
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                run_id = await self._redis_run_id()
                has_positions = await self.offsets.valid()
            except StoreErrors as exc:
                if not failing:  # also in /readyz; checked again when it answers
                    log.warning("Redis not answering (%r)", exc)
                failing = True
                continue
            if failing:
                log.info("Redis answers again")
                failing = False
            wiped, self._had_positions = self._had_positions and not has_positions, has_positions
            if self._run_id is not None and run_id != self._run_id:
                await self.recovered("Redis restarted")
            elif wiped:
                await self.recovered("the stored feed positions are gone")

    async def _mark_epoch(self) -> None:
        await self.offsets.mark_epoch(str(int(time.time() * 1000)))

    async def _redis_run_id(self) -> str:
        info = await self.redis.info("server")
        return str(info.get("run_id", ""))


class StoppedWaiting(Exception):
    """The server began to stop while this waited for Redis (at the step named)."""


class _ResumeFromStore(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, feed: StoreFeed) -> None:
        self.feed = feed

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            await self.feed.resume(assigned)
        except StoppedWaiting as stopped:  # stopping: the positions do not matter any more
            log.info("kafka feed: stopping while waiting for Redis at %s", stopped)
