"""Kafka edge of recording: consume the input topics into a recording file.

The recorder is a plain aiokafka consumer with no consumer group: it reads
every partition of the topics, commits nothing and so never disturbs the
workers' offsets. Records are written in the order they arrive; within one
fetch, the partitions' records are merged by timestamp (each partition stays
in offset order). The format is :mod:`feeds.recording.files`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiokafka import AIOKafkaConsumer

from citybrain.config.settings import Settings
from citybrain.config.topics import EVENTS_LABELS, INPUT_TOPICS
from feeds.recording.files import RecordedRecord, RecordingWriter

log = logging.getLogger(__name__)

DEFAULT_TOPICS: Final = (*INPUT_TOPICS.values(), EVENTS_LABELS)
"""Logical topics recorded unless told otherwise: the inputs and the labels."""
POLL_MS: Final = 200
"""Longest wait for records before the stop conditions are checked again."""


@dataclass(frozen=True, slots=True)
class RecordStats:
    """Counts so far: ``records`` and ``bytes`` (uncompressed) written, records per
    logical topic, ``elapsed_s`` wall seconds since the consumer started; ``reason``
    says why recording ended ('' while it runs)."""

    path: Path
    records: int = 0
    bytes: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    reason: str = ""


async def record(
    settings: Settings,
    out: Path,
    *,
    topics: Sequence[str] = DEFAULT_TOPICS,
    duration_s: float | None = None,
    max_records: int | None = None,
    from_beginning: bool = False,
    stop: asyncio.Event | None = None,
    progress: Callable[[RecordStats], None] | None = None,
    overwrite: bool = False,
) -> RecordStats:
    """Record ``topics`` (logical names; ``kafka.topic_prefix`` is added) to ``out``.

    Starts at the end of each partition (``from_beginning``: at its start) and
    stops after ``duration_s`` wall seconds, ``max_records`` records, or when
    ``stop`` is set, whichever comes first. The file is created once the broker
    answered and is flushed and closed in every case, also on errors.
    ``progress`` is called about every :data:`POLL_MS` ms. Raises
    FileExistsError if ``out`` exists and not ``overwrite``.
    """
    if max_records is not None and max_records < 0:
        raise ValueError(f"max_records must be >= 0, got {max_records}")
    k = settings.kafka
    logical = {k.topic(t): t for t in topics}
    source = {
        "brokers": k.bootstrap_servers(),
        "topic_prefix": k.topic_prefix,
        "start": "beginning" if from_beginning else "now",
    }
    consumer = AIOKafkaConsumer(
        *logical,
        bootstrap_servers=k.bootstrap_servers(),
        client_id=f"citybrain-record-{settings.worker_id}",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    per_topic = dict.fromkeys(topics, 0)
    try:
        await consumer.start()
        # Opened once the broker answered, so a failed start leaves no empty file behind.
        writer = RecordingWriter(out, topics=list(topics), source=source, overwrite=overwrite)
    except BaseException:
        await consumer.stop()
        raise
    try:
        existing = await consumer.topics()
        missing = [name for name in logical if name not in existing]
        if missing:
            log.warning("topics not on the broker (yet): %s", ", ".join(missing))
        deadline = None if duration_s is None else started + duration_s
        while True:
            if stop is not None and stop.is_set():
                reason = "stopped"
                break
            if max_records is not None and writer.records >= max_records:
                reason = "max records"
                break
            timeout_ms = POLL_MS
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    reason = "duration"
                    break
                timeout_ms = max(1, min(POLL_MS, int(left * 1000)))
            batches = await consumer.getmany(timeout_ms=timeout_ms)
            # One fetch holds records of several partitions; merge them by timestamp so a
            # backlog (--from-beginning) is not written partition after partition. Each
            # partition keeps its offset order.
            merged = heapq.merge(*batches.values(), key=lambda m: m.timestamp)
            for m in itertools.islice(merged, _room(max_records, writer.records)):
                topic = logical.get(m.topic, m.topic)
                # A record without a value (a tombstone) is kept with an empty one; the
                # pipeline dead-letters both alike. Timestamp -1 (none set) reads as 0.
                writer.write(
                    RecordedRecord(
                        topic=topic,
                        partition=m.partition,
                        offset=m.offset,
                        ts_ms=max(0, m.timestamp),
                        key=m.key,
                        value=m.value if m.value is not None else b"",
                    )
                )
                per_topic[topic] = per_topic.get(topic, 0) + 1
            writer.flush_if_due()
            if progress is not None:
                progress(_stats(out, writer, per_topic, loop.time() - started, ""))
        stats = _stats(out, writer, per_topic, loop.time() - started, reason)
    finally:
        try:
            await consumer.stop()
        finally:
            writer.close()
    log.info(
        "recorded %d records (%s) to %s in %.1f s",
        stats.records,
        stats.reason,
        out,
        stats.elapsed_s,
    )
    return stats


def _room(max_records: int | None, written: int) -> int | None:
    """How many more records may be written (None: no limit)."""
    return None if max_records is None else max(0, max_records - written)


def _stats(
    out: Path, writer: RecordingWriter, per_topic: dict[str, int], elapsed_s: float, reason: str
) -> RecordStats:
    return RecordStats(
        path=out,
        records=writer.records,
        bytes=writer.bytes,
        per_topic=dict(per_topic),
        elapsed_s=elapsed_s,
        reason=reason,
    )
