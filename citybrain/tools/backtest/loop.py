"""The backtest's stand-in for the broker: when fetches and ticks happen, and a loop that
delivers ``cells.ingest`` records to the worker's driver (streams/pipeline/driver.py).

:func:`schedule` turns a recording into what the worker would see, in order: fetches
of input records (records arriving within ``FETCH_MS`` of each other, and before the
next tick, are one fetch, as the worker's input consumer takes them) and a tick each
second of recording time (the worker's ``tick`` timer). :class:`MemoryBroker` runs each
through the driver: the records a fetch or a step sends go, as bytes, to the
partition Kafka's default partitioner gives their key, in send order, at the wall
time of what caused them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from alerts.incidents.alert import Alert
from alerts.rules.file import RuleSet
from feeds.recording.format import RecordedRecord
from streams.pipeline.driver import TICK, Driver, Record
from streams.pipeline.events import KINDS
from streams.pipeline.ingest import InputRecord, parts_of
from streams.pipeline.placement import partition_of

#: The worker sweeps each partition once a second (streams/worker/app.py ``tick``).
TICK_MS: Final = 1000
#: Records arriving within this many ms of each other are one fetch (the worker's
#: consumer waits up to ``kafka.fetch_max_wait_ms`` for a fetch to fill).
FETCH_MS: Final = 100
INPUT_TOPICS: Final = {f"events.{kind}": kind for kind in KINDS}


@dataclass(frozen=True, slots=True)
class Fetch:
    """Input records taken at once: ``first_ms`` and ``wall_ms`` are the arrival times
    (epoch ms) of the first and the last; the fetch is taken at ``wall_ms``."""

    records: tuple[InputRecord, ...]
    first_ms: int
    wall_ms: int


@dataclass(frozen=True, slots=True)
class Tick:
    """The worker's tick at ``wall_ms`` (epoch ms): every partition is swept."""

    wall_ms: int


def schedule(
    records: Iterable[RecordedRecord],
    progress: Callable[[RecordedRecord], None] | None = None,
) -> Iterator[Fetch | Tick]:
    """The fetches and ticks of the input records of ``records`` (file order, each at
    its Kafka timestamp); records of other topics are skipped. ``progress`` is called
    with every record read."""
    fetch: list[InputRecord] = []
    first = wall = 0
    next_tick: int | None = None
    n = 0
    for record in records:
        if progress is not None:
            progress(record)
        kind = INPUT_TOPICS.get(record.topic)
        if kind is None:
            continue
        arrived = record.ts_ms
        next_tick = arrived + TICK_MS if next_tick is None else next_tick
        if fetch and (arrived >= next_tick or arrived - wall >= FETCH_MS):
            yield Fetch(tuple(fetch), first, wall)
            fetch = []
        while next_tick <= arrived:  # the ticks the worker would have run meanwhile
            yield Tick(next_tick)
            next_tick += TICK_MS
        n += 1
        if not fetch:
            first = arrived
        fetch.append(InputRecord(kind, record.topic, 0, n, record.value))
        wall = arrived
    if fetch:
        yield Fetch(tuple(fetch), first, wall)


class MemoryBroker:
    """The worker's ``cells.ingest`` topic and agents, in memory (module docstring).

    Keeps what a backtest reports: every alert published (``on_alert``), the newest
    version of each (``alerts``), the final ``cells.state`` view of every cell
    (``views``; removed cells dropped), valid events, rejections (dead letters and late
    events) and unlocated tickets."""

    def __init__(
        self,
        driver: Driver,
        partitions: int,
        rules: RuleSet,
        on_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.driver, self.partitions, self.rules = driver, partitions, rules
        self.on_alert = on_alert
        self.alerts: dict[str, Alert] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.events = self.rejected = self.unlocated = 0

    def run(self, item: Fetch | Tick) -> None:
        """One fetch or tick, and everything it causes."""
        if isinstance(item, Tick):
            self.deliver([(p, TICK) for p in range(self.partitions)], item.wall_ms)
            return
        fetched = self.driver.fetch(parts_of(item.records), item.wall_ms)
        out = fetched.ingested
        self.rejected += sum(len(refused) for _, refused in out.rejected)
        self.events += sum(out.events.values())
        self.unlocated += len(out.unlocated)
        self.deliver(self.routed(fetched.sends), item.wall_ms)

    def routed(self, sends: Iterable[Record]) -> list[tuple[int, bytes]]:
        """``sends`` as (partition, value), each keyed record on its key's partition."""
        return [(partition_of(key.decode(), self.partitions), value) for key, value in sends]

    def deliver(self, records: list[tuple[int, bytes]], wall_ms: int) -> None:
        """``records``, then what they send, in send order, at wall time ``wall_ms``."""
        queue = deque(records)
        while queue:
            partition, value = queue.popleft()
            handled = self.driver.record(partition, value, wall_ms, self.rules)
            self.rejected += len(handled.late)
            for alert in handled.alerts:
                self.alerts[alert.id] = alert
                if self.on_alert is not None:
                    self.on_alert(alert)
            self.views.update(handled.views)
            for cell in handled.removed:
                self.views.pop(cell, None)
            queue.extend(self.routed(handled.sends))
