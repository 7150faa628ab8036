"""Kafka edge of replay: play a recording back into Kafka at real or accelerated time.

One pass over the file works out the plan (:func:`feeds.recording.files.plan_replay`:
how many records, how long, the retime shifts) and validates every line
before anything is sent; a second pass sends. Records go out in file order,
each to its logical topic under ``kafka.topic_prefix``, to its recorded
partition when the destination topic has it (otherwise the key decides), with
the recorded spacing divided by ``speed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from aiokafka import AIOKafkaProducer

from citybrain.config.settings import Settings
from feeds.recording.files import (
    Pacer,
    RecordedRecord,
    RecordingError,
    ReplayPlan,
    plan_replay,
    read_recording,
    retime_record,
)
from feeds.sim.producer import batch_producer

log = logging.getLogger(__name__)

MAX_IN_FLIGHT: Final = 1000
"""Records sent before their delivery is awaited."""
TICK_S: Final = 0.25
"""Longest sleep between progress reports and stop checks."""


class ReplayError(RuntimeError):
    """The replay cannot start: e.g. a destination topic does not exist."""


@dataclass(frozen=True, slots=True)
class ReplayStats:
    """Progress of a replay.

    ``total`` records are to be sent, ``sent`` were (and acknowledged, once the
    replay returns), ``bytes`` their values. With retiming, ``retimed`` records had
    event times moved and ``unchanged`` had none (not JSON, no ``ts``) and went out
    as recorded. ``position_ms`` is the recorded Kafka timestamp (epoch ms) of the
    last record sent, between ``first_ts_ms`` and ``last_ts_ms``; the shifts are
    what was added to event times and Kafka timestamps (0 without retiming).
    ``bad_lines`` were skipped (only when asked to). ``reason`` is '' while running,
    then 'done' or 'stopped'.
    """

    total: int
    sent: int = 0
    bytes: int = 0
    retimed: int = 0
    unchanged: int = 0
    position_ms: int | None = None
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None
    event_shift_ms: int = 0
    kafka_shift_ms: int = 0
    bad_lines: int = 0
    elapsed_s: float = 0.0
    reason: str = ""


def plan_file(
    path: Path, speed: float, topics: Collection[str] | None = None, *, skip_bad: bool = False
) -> tuple[ReplayPlan, list[RecordingError]]:
    """Read the whole recording once: its replay plan and (with ``skip_bad``) the bad
    lines; without ``skip_bad`` the first bad line raises :class:`RecordingError`."""
    errors: list[RecordingError] | None = [] if skip_bad else None
    result = plan_replay(read_recording(path, errors=errors), speed, topics)
    return result, errors or []


async def replay(
    settings: Settings,
    path: Path,
    *,
    speed: float = 1.0,
    retime: bool = True,
    topics: Collection[str] | None = None,
    stop: asyncio.Event | None = None,
    progress: Callable[[ReplayStats], None] | None = None,
    skip_bad: bool = False,
    planned: tuple[ReplayPlan, list[RecordingError]] | None = None,
) -> ReplayStats:
    """Send the records of the recording at ``path`` (those on logical ``topics``;
    default all) to Kafka and wait for every delivery.

    ``speed``: recorded ms per wall ms, 0 for as fast as possible. ``retime``:
    move event times and Kafka timestamps by the plan's shifts so the replay
    happens "now" and nothing lies in the future (see :mod:`feeds.recording.retime`);
    otherwise values and timestamps go out byte for byte. Stops early when
    ``stop`` is set. Raises :class:`RecordingError` for a bad file (before sending
    anything) and :class:`ReplayError` when a destination topic is missing.
    ``planned``: the result of :func:`plan_file` for the same file, speed and
    topics, if the caller has it (saves reading the file once more).
    """
    the_plan, bad = planned or plan_file(path, speed, topics, skip_bad=skip_bad)
    stats = ReplayStats(
        total=the_plan.records,
        first_ts_ms=the_plan.first_ts_ms,
        last_ts_ms=the_plan.last_ts_ms,
        bad_lines=len(bad),
    )
    if the_plan.records == 0:
        return replace(stats, reason="done")
    k = settings.kafka
    producer = batch_producer(settings, "replay")
    try:
        await producer.start()
        names = {t: k.topic(t) for t in the_plan.topics}
        sender = _Sender(producer, names, await _partitions(producer, names))
        loop = asyncio.get_running_loop()
        started = loop.time()
        if retime:
            start_ms = time.time_ns() // 1_000_000
            stats = replace(
                stats,
                event_shift_ms=the_plan.event_shift_ms(start_ms),
                kafka_shift_ms=the_plan.kafka_shift_ms(start_ms),
            )
        position: int | None = None

        def report() -> None:
            nonlocal stats
            stats = sender.stats(stats, position, loop.time() - started)
            if progress is not None:
                progress(stats)

        pacer = Pacer(speed)
        next_report = started
        reason = "done"
        # The planning pass validated the file and counted its bad lines; met again,
        # they are skipped (skip_bad) or, should the file have changed since, raise.
        for original in read_recording(path, errors=[] if skip_bad else None):
            if topics is not None and original.topic not in topics:
                continue
            wait_s = started + pacer.due_ms(original.ts_ms) / 1000 - loop.time()
            if wait_s > 0:
                await sender.settle()
                stopped = await _sleep(wait_s, stop, report)
            else:
                stopped = stop is not None and stop.is_set()
            if stopped:
                reason = "stopped"
                break
            record = original
            if retime:
                record, moved = retime_record(
                    original,
                    event_shift_ms=stats.event_shift_ms,
                    kafka_shift_ms=stats.kafka_shift_ms,
                )
                sender.counts["retimed" if moved else "unchanged"] += 1
            await sender.send(record)
            position = original.ts_ms
            if loop.time() >= next_report:
                report()
                next_report = loop.time() + TICK_S
        await sender.settle()
        await producer.flush()
        report()
    finally:
        await producer.stop()
    log.info("replayed %d of %d records from %s (%s)", stats.sent, stats.total, path, reason)
    return replace(stats, reason=reason)


async def _partitions(producer: AIOKafkaProducer, names: dict[str, str]) -> dict[str, set[int]]:
    """Partitions of each destination topic; :class:`ReplayError` naming missing ones.

    Asks for all topics' metadata, which (unlike asking for one topic) never makes
    a broker with automatic topic creation create one.
    """
    cluster = await producer.client.fetch_all_metadata()
    found = {t: cluster.partitions_for_topic(full) for t, full in names.items()}
    missing = [names[t] for t, parts in found.items() if not parts]
    if missing:
        raise ReplayError(
            f"topic(s) {', '.join(missing)} not on the broker; create them first "
            "(`citybrain topics create` for the project's topics)"
        )
    return {t: set(parts or ()) for t, parts in found.items()}


class _Sender:
    """Sends records, keeping up to :data:`MAX_IN_FLIGHT` deliveries in flight."""

    def __init__(
        self, producer: AIOKafkaProducer, names: dict[str, str], partitions: dict[str, set[int]]
    ) -> None:
        self._producer = producer
        self._names = names
        self._partitions = partitions
        self._pending: list[asyncio.Future[Any]] = []
        self.counts = {"sent": 0, "bytes": 0, "retimed": 0, "unchanged": 0}

    async def send(self, record: RecordedRecord) -> None:
        """Send ``record`` to its topic: its recorded partition if the topic has it,
        else the partitioner's choice by key."""
        partition = record.partition if record.partition in self._partitions[record.topic] else None
        future = await self._producer.send(
            self._names[record.topic],
            value=record.value,
            key=record.key,
            partition=partition,
            timestamp_ms=record.ts_ms,
        )
        self._pending.append(future)
        self.counts["sent"] += 1
        self.counts["bytes"] += len(record.value)
        if len(self._pending) >= MAX_IN_FLIGHT:
            await self.settle()

    async def settle(self) -> None:
        """Wait for the deliveries in flight; a failed one raises."""
        for future in self._pending:
            await future
        self._pending.clear()

    def stats(self, stats: ReplayStats, position_ms: int | None, elapsed_s: float) -> ReplayStats:
        c = self.counts
        return replace(
            stats,
            sent=c["sent"],
            bytes=c["bytes"],
            retimed=c["retimed"],
            unchanged=c["unchanged"],
            position_ms=position_ms,
            elapsed_s=elapsed_s,
        )


async def _sleep(seconds: float, stop: asyncio.Event | None, report: Callable[[], None]) -> bool:
    """Sleep ``seconds`` in ticks of at most :data:`TICK_S`, reporting progress after
    each; True as soon as ``stop`` is set."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        if stop is not None and stop.is_set():
            return True
        if stop is None:
            await asyncio.sleep(min(left, TICK_S))
        else:
            with contextlib.suppress(TimeoutError):  # the tick passed; stop is checked above
                await asyncio.wait_for(stop.wait(), min(left, TICK_S))
        report()
    return stop is not None and stop.is_set()
