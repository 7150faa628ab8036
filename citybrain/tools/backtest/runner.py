"""Backtest: run a rule set over a recording with the worker's own code, faster than real time.

The recording's input records are taken in file order, each at its Kafka timestamp
(its arrival time), and go through exactly what the worker does with a fetch of
records: the input consumer's stage (:class:`streams.pipeline.ingest.Ingest`: decoding with the
same limits, the devices' ceilings, geocoding, camera readings in columns, grouping by
``cells.ingest`` key), the partition the Kafka default partitioner would pick for that
key, and the cells agent's step of that partition
(:class:`streams.pipeline.cell_partitions.CellPartitions`: event clock, lateness, camera rounds
every ``pipeline.measure_every_ms`` of arrival time, the per-object step for the rest)
on in-memory stores. Records arriving within ``FETCH_MS`` of each other (and before the
next tick) are taken as one fetch, as the worker's consumer takes them. Halo tickets
and cluster marks reach their partitions after the fetch that caused them, as the
worker's own records do. Between fetches, every partition is swept once per second of
recording time, as the worker's tick does. Only the speed differs: no broker, no
changelog, no waiting.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

from alerts.incidents.detect import SEVERITY_RANK, worse
from alerts.rules.file import RuleSet, RuleSpec, rules_version
from citybrain.config.settings import Settings
from citybrain.tools.backtest.signal import Fired
from feeds.recording.format import RecordedRecord
from geo.cells import cell_center
from geo.geocode import load_gazetteer
from geo.zone_index import ZoneIndex
from streams.pipeline.cell_partitions import CellPartitions
from streams.pipeline.clock import EventClock
from streams.pipeline.columnar.camera_body import decode_body
from streams.pipeline.config import decode_limits, lateness, pipeline_config
from streams.pipeline.device_rate import Ceiling
from streams.pipeline.events import KINDS
from streams.pipeline.halo import Near
from streams.pipeline.ingest import Ingest, InputRecord
from streams.pipeline.placement import partition_of
from streams.pipeline.step_data import Output, Stores

#: The worker sweeps each partition once a second (streams/worker/app.py ``tick``).
TICK_MS: Final = 1000
#: Records arriving within this many ms of each other are one fetch (the worker's
#: consumer waits up to ``kafka.fetch_max_wait_ms``, 100 ms, for a fetch to fill).
FETCH_MS: Final = 100
INPUT_TOPICS: Final = {f"events.{kind}": kind for kind in KINDS}


@dataclass(frozen=True, slots=True)
class BacktestRun:
    """What one rule set did over one recording.

    ``fired``: every signal at its final version; ``start_ms``/``end_ms``: arrival
    times (epoch ms) of the first and last input record; ``events``: valid events
    replayed; ``rejected``: events or records the worker would dead-letter;
    ``unlocated``: tickets no address placed; ``wall_s``: seconds the run took.
    """

    rules: RuleSet
    fired: tuple[Fired, ...]
    records: int
    events: int
    rejected: int
    unlocated: int
    start_ms: int
    end_ms: int
    wall_s: float

    @property
    def speedup(self) -> float:
        """Recording time per second of run time (how much faster than real time)."""
        return (self.end_ms - self.start_ms) / 1000 / self.wall_s if self.wall_s > 0 else 0.0


def rule_fingerprint(spec: RuleSpec) -> str:
    """A hash of one rule's meaning (the rule-set version of a set of just this rule)."""
    return rules_version([spec])


class _Signals:
    """The newest version of every signal seen in the alerts of a run."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[dict[str, Any], str]] = {}  # id -> (signal, incident id)
        self.severity: dict[str, str] = {}

    def collect(self, out: Output) -> None:
        for alert in out.alerts.values():
            for sig in alert.evidence["signals"]:
                sig_id = sig["id"]
                self.latest[sig_id] = (sig, alert.id)
                self.severity[sig_id] = worse(self.severity.get(sig_id), sig["severity"]) or ""

    def fired(self, rules: RuleSet) -> tuple[Fired, ...]:
        """The signals as :class:`Fired`; ``rule_version`` is the hash of the rule alone
        (:func:`rule_fingerprint`), so that comparing two sets shows which rules differ."""
        prints = {spec.id: rule_fingerprint(spec) for spec in rules.rules}
        out = []
        for sig_id, (sig, incident) in self.latest.items():
            lat, lon = cell_center(sig["cell"])
            severity = self.severity[sig_id]
            out.append(
                Fired(
                    id=sig_id,
                    rule=sig["rule"],
                    rule_version=prints.get(sig["rule"], sig["rule_version"]),
                    subject=sig.get("dedupe") or sig["cell"],
                    cell=sig["cell"],
                    lat=lat,
                    lon=lon,
                    severity=severity if severity in SEVERITY_RANK else "warning",
                    desks=tuple(sig["desks"]),
                    shadow=bool(sig["shadow"]),
                    opened_at=sig["opened_at"],
                    closed_at=sig["updated_at"] if sig["state"] == "closed" else None,
                    incident=incident,
                )
            )
        return tuple(sorted(out, key=lambda f: (f.opened_at, f.id)))


def run_backtest(
    records: Iterable[RecordedRecord],
    rules: RuleSet,
    settings: Settings,
    *,
    zones: ZoneIndex | None = None,
    progress: Callable[[RecordedRecord], None] | None = None,
) -> BacktestRun:
    """Replay the input records of ``records`` through the pipeline under ``rules``.

    ``settings`` gives everything else the worker would use (resolutions, windows,
    LOS bands, decoding limits, ``kafka.partitions``); ``zones`` the zone index
    (build it once with :func:`streams.pipeline.config.zone_index` when running several
    rule sets). Records of other topics (labels, outputs) are skipped.
    """
    started = time.perf_counter()
    p = settings.pipeline
    config = replace(pipeline_config(settings, zones), rules=rules)
    placed = config.placement
    assert placed is not None  # pipeline_config always places cells
    ingest = Ingest(
        decode_limits(settings),
        Ceiling(per_s=p.device_max_per_s, burst=p.device_burst),
        load_gazetteer(),
        placed,
    )
    clock = EventClock()
    cells = CellPartitions(
        Stores.in_memory(), None, clock, lateness(settings), round_every_ms=p.measure_every_ms
    )
    signals = _Signals()
    partitions = settings.kafka.partitions
    n_records = n_events = rejected = unlocated = 0
    first_ms: int | None = None
    last_ms = 0
    next_tick: int | None = None
    # What partitions tell each other, on its way, in send order (the worker sends each
    # as a cells.ingest record of its own: streams/pipeline/halo.py).
    pending: deque[tuple[str, Near]] = deque()
    fetch: list[InputRecord] = []
    fetch_wall = 0

    def step(partition: int, wall: int, **what: Any) -> int:
        """A cells.ingest record (or a sweep) of ``partition``; returns its late events."""
        stepped = cells.step(partition, wall_ms=wall, config=config, **what)
        signals.collect(stepped.out)
        pending.extend(stepped.out.near.items())
        return len(stepped.late)

    def deliver(wall: int) -> None:
        while pending:
            key, near = pending.popleft()
            step(partition_of(key, partitions), wall, events=[], cameras=None, near=near)

    def sweep(wall: int) -> None:
        for partition in range(partitions):
            if clock.knows(partition):
                step(partition, wall, events=[], cameras=None, sweep=True)
        deliver(wall)

    def take(wall: int) -> None:
        """The fetch, as the input consumer and then the cells agent take it."""
        nonlocal n_events, rejected, unlocated
        out = ingest.take(fetch, wall)
        fetch.clear()
        rejected += sum(len(refused) for _, refused in out.rejected)
        n_events += sum(out.events.values())
        unlocated += len(out.unlocated)
        for key, group in out.groups.items():
            rejected += step(partition_of(key, partitions), wall, events=group, cameras=None)
        for key, body in out.camera_bodies:
            cameras = decode_body(body)
            rejected += step(partition_of(key, partitions), wall, events=[], cameras=cameras)
        pending.extend((key, Near(tickets=tickets)) for key, tickets in out.halo.items())
        deliver(wall)

    for record in records:
        if progress is not None:
            progress(record)
        kind = INPUT_TOPICS.get(record.topic)
        if kind is None:
            continue
        wall = record.ts_ms
        first_ms = wall if first_ms is None else first_ms
        last_ms = max(last_ms, wall)
        next_tick = wall + TICK_MS if next_tick is None else next_tick
        if fetch and (wall >= next_tick or wall - fetch_wall >= FETCH_MS):
            take(fetch_wall)
        while next_tick <= wall:  # the ticks the worker would have run meanwhile
            sweep(next_tick)
            next_tick += TICK_MS
        n_records += 1
        fetch.append(InputRecord(kind, record.topic, 0, n_records, record.value))
        fetch_wall = wall
    if fetch:
        take(fetch_wall)
    return BacktestRun(
        rules=rules,
        fired=signals.fired(rules),
        records=n_records,
        events=n_events,
        rejected=rejected,
        unlocated=unlocated,
        start_ms=first_ms or 0,
        end_ms=last_ms,
        wall_s=time.perf_counter() - started,
    )
