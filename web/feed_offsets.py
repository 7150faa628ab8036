"""Where the web server's Kafka feed has got to, kept in Redis next to what it wrote.

The web server copies Kafka records (cell views, alerts, audit entries, worker views)
into Redis. Its read position is stored in Redis too, *after* the writes it covers, so
the two cannot disagree in the way that loses data: Redis with AOF replays a prefix of
its writes after a crash, and any position in that prefix covers only writes that are
in it as well. After Redis comes back (or the web server restarts), the feed resumes
from the stored position, re-reading at most what Redis lost; an empty Redis (no AOF, or
a new one) is rebuilt from the start of the topics. Every write is an idempotent
overwrite keyed by id, so reading a record twice changes nothing.

Kafka group commits are not relied on for this; they only show the feed's lag.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.asyncio import Redis

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class FeedPositions:
    """The next offset to read per (topic, partition), and which changed since the last
    save (pure bookkeeping)."""

    next_offset: dict[TopicPartition, int] = field(default_factory=dict)
    _changed: set[TopicPartition] = field(default_factory=set)

    def done(self, topic: str, partition: int, offset: int) -> None:
        """The record at ``offset`` is written to Redis."""
        tp = (topic, partition)
        if offset + 1 > self.next_offset.get(tp, -1):
            self.next_offset[tp] = offset + 1
            self._changed.add(tp)

    def changed(self) -> dict[TopicPartition, int]:
        """The positions that moved since they were last :meth:`saved`."""
        return {tp: self.next_offset[tp] for tp in self._changed}

    def saved(self, positions: Mapping[TopicPartition, int]) -> None:
        """``positions`` (from :meth:`changed`) are stored; those that moved on meanwhile
        stay changed."""
        for tp, offset in positions.items():
            if self.next_offset.get(tp) == offset:
                self._changed.discard(tp)


def rewinds(
    stored: Mapping[TopicPartition, int], reading: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int | None]:
    """Where to move the feed after Redis came back: for each partition being read at
    ``reading`` (next offset), the stored position if Redis is behind it, or ``None``
    (from the beginning) when Redis holds no position for it at all. Partitions that
    need no move are left out."""
    out: dict[TopicPartition, int | None] = {}
    for tp, position in reading.items():
        if tp not in stored:
            out[tp] = None
        elif stored[tp] < position:
            out[tp] = stored[tp]
    return out


class FeedOffsets:
    """The stored positions of one web server instance (a Redis hash).

    The hash also holds an ``epoch`` field, written when the feed (re)starts from it. A
    hash without one was re-created by a position save after Redis had been emptied:
    its positions do not describe what Redis holds, so :meth:`load` ignores them.
    """

    EPOCH = "epoch"

    def __init__(self, redis: Redis, prefix: str, instance: str) -> None:
        self.redis = redis
        self.key = f"{prefix}feed-offsets:{instance}"

    async def load(self) -> dict[TopicPartition, int]:
        """The stored positions; empty when there are none or they cannot be trusted."""
        raw = {
            (k.decode() if isinstance(k, bytes) else str(k)): v
            for k, v in (await self.redis.hgetall(self.key)).items()
        }
        if self.EPOCH not in raw:
            if raw:
                log.warning("%s has positions but no epoch (Redis was emptied): ignored", self.key)
            return {}
        out: dict[TopicPartition, int] = {}
        for name, value in raw.items():
            if name == self.EPOCH:
                continue
            topic, _, partition = name.rpartition(":")
            if topic and partition.isdigit() and value.isdigit():
                out[topic, int(partition)] = int(value)
            else:  # not written by us: read from the start of that partition instead
                log.warning("ignoring bad feed offset %r=%r in %s", name, value, self.key)
        return out

    async def mark_epoch(self, epoch: str) -> None:
        """Declare the positions from now on valid for what Redis holds."""
        await self.redis.hset(self.key, self.EPOCH, epoch)

    async def valid(self) -> bool:
        """Whether the stored positions can be trusted (the epoch is there)."""
        return bool(await self.redis.hexists(self.key, self.EPOCH))

    async def save(self, positions: Mapping[TopicPartition, int]) -> None:
        if positions:
            await self.redis.hset(
                self.key, mapping={f"{t}:{p}": str(o) for (t, p), o in positions.items()}
            )
