"""The worker's orchestration between bytes in and records out (pure, no I/O).

Two entry points, each given everything it needs (records and wall time, in epoch ms):

* :meth:`Driver.fetch` — a fetch of input records (:class:`streams.pipeline.ingest.InputPart`)
  through the ingest stage (:class:`streams.pipeline.ingest.Ingest`): the ``cells.ingest``
  records to send, as (key, value) bytes in send order — event rows, camera bodies, then
  halo tickets — and what goes elsewhere (rejections, unmasked texts, unlocated tickets,
  counts), as :class:`Fetched`;
* :meth:`Driver.record` — one ``cells.ingest`` record of one partition: its payload is
  dispatched here, and only here (people's actions, a ``near`` record of another
  partition, a camera columnar body, event rows, or a tick), stepped with
  :class:`streams.pipeline.cell_partitions.CellPartitions`, and its outcome returned as
  :class:`Handled`: the ``near`` records to send back to ``cells.ingest``, the
  ``cells.state`` body, alerts, audit entries, late events, unknown actions, counts.

The worker's agents (streams/worker/app.py) send what these return through Kafka; the
backtest (citybrain/tools/backtest/runner.py) delivers the same bytes through an
in-memory loop, so the two cannot drift apart (tests/agent/test_backtest_equals_worker.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from alerts.incidents.action_record import ActionRecord
from alerts.incidents.alert import Alert
from alerts.incidents.lifecycle import Action, AuditEntry
from alerts.rules.file import RuleSet
from streams.pipeline.cell_partitions import CellPartitions
from streams.pipeline.columnar.camera_body import decode_body, is_camera_body
from streams.pipeline.columnar.camera_columns import CameraColumns
from streams.pipeline.decode import Rejection
from streams.pipeline.events import Event, events_of_body, to_wire
from streams.pipeline.halo import NEAR, Near
from streams.pipeline.ingest import Ingest, Ingested, InputPart, bodies
from streams.pipeline.lateness import LateEvent
from streams.pipeline.lifecycle_step import republish
from streams.pipeline.step_data import PipelineConfig

#: The ``cells.ingest`` record that asks a partition to sweep (the worker's tick).
TICK = b'{"tick":true}'
#: How a ``cells.ingest`` record of people's requests (not events) begins.
ACTIONS = b'{"actions":'
#: What a ``near`` record counts in (metrics of sent ``near`` records, by what).
NEAR_PARTS = ("tickets", "marks", "incidents", "gone", "signals")

Record = tuple[bytes, bytes]  # a cells.ingest record to send: (key, value)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a fetch of input records becomes: ``sends``, the ``cells.ingest`` records in
    send order; ``ingested``, the ingest stage's outcome (rejections, unmasked texts,
    unlocated tickets, geocoding precisions, records and events by kind); ``halo``, how
    many halo tickets the sends carry."""

    sends: tuple[Record, ...]
    ingested: Ingested
    halo: int


@dataclass(frozen=True, slots=True)
class Handled:
    """What one ``cells.ingest`` record did to its partition.

    ``skipped``: a tick of a partition nothing was seen on since start (no clock to
    sweep with; nothing else is set). ``sends``: ``near`` records for other partitions,
    to send to ``cells.ingest`` (``near_counts`` counts their parts, by
    :data:`NEAR_PARTS`); ``state``: the ``cells.state`` body, or None when no cell
    changed, made of ``views`` (cell id → view) and ``removed`` (cell ids);
    ``alerts`` and ``audit``: to publish, in order; ``late``: events too late for any
    open window (to dead-letter, see :func:`late_rejection`); ``unknown``: actions for
    alerts this partition does not hold; ``folded``: readings and events folded;
    ``measured_round``: whether a camera round ran; ``republished``: how many alerts
    are published again on the partition's first sweep since start (None on every
    other record).
    """

    skipped: bool = False
    sends: tuple[Record, ...] = ()
    near_counts: Counter[str] = field(default_factory=Counter)
    state: bytes | None = None
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    alerts: tuple[Alert, ...] = ()
    audit: tuple[AuditEntry, ...] = ()
    late: tuple[LateEvent, ...] = ()
    unknown: tuple[Action, ...] = ()
    folded: int = 0
    measured_round: bool = False
    republished: int | None = None


class Driver:
    """One worker's (or one backtest's) ingest stage and cell partitions, fed bytes.

    ``config`` is the pipeline configuration; its rules are replaced by those given to
    :meth:`record` when they differ (a hot reload: tables untouched)."""

    def __init__(self, ingest: Ingest, partitions: CellPartitions, config: PipelineConfig) -> None:
        self.ingest, self.partitions, self.config = ingest, partitions, config
        self.republished: set[int] = set()  # partitions whose alerts were republished

    def fetch(self, parts: Iterable[InputPart], wall_ms: int) -> Fetched:
        """The ingest stage over one fetch at wall time ``wall_ms``."""
        out = self.ingest.take_parts(parts, wall_ms)
        sends: list[Record] = []
        for key, group in out.groups.items():
            sends.extend((key.encode(), body) for body in bodies(group))
        sends.extend((key.encode(), body) for key, body in out.camera_bodies)
        halo = 0
        for key, tickets in out.halo.items():
            halo += len(tickets)
            sends.append((key.encode(), Near(tickets=tickets).to_bytes()))
        return Fetched(tuple(sends), out, halo)

    def record(self, partition: int, payload: bytes, wall_ms: float, rules: RuleSet) -> Handled:
        """One ``cells.ingest`` record of ``partition`` at wall time ``wall_ms``, under
        ``rules``. Trusts ``payload``: the workers alone write that topic, and what they
        write was validated on its way in."""
        sweep = payload == TICK
        if sweep and not self.partitions.clock.knows(partition):
            return Handled(skipped=True)
        arrived: list[Event] = []
        columns: CameraColumns | None = None
        requests: list[Action] | None = None
        near: Near | None = None
        if payload.startswith(ACTIONS):  # validated by the actions agent that wrote them
            records = orjson.loads(payload)["actions"]
            requests = [ActionRecord.model_validate(a).to_action() for a in records]
        elif payload.startswith(NEAR):  # written by the ingest stage or a cells step
            near = Near.from_bytes(payload)
        elif is_camera_body(payload):
            columns = decode_body(payload)
        elif not sweep:
            arrived = events_of_body(payload)
        if rules is not self.config.rules:
            self.config = replace(self.config, rules=rules)
        stepped = self.partitions.step(
            partition,
            events=arrived,
            cameras=columns,
            wall_ms=wall_ms,
            config=self.config,
            sweep=sweep,
            actions=requests,
            near=near,
        )
        out = stepped.out
        counts: Counter[str] = Counter()
        sends: list[Record] = []
        for key, told in out.near.items():
            for what in NEAR_PARTS:
                counts[what] += len(getattr(told, what))
            sends.append((key.encode(), told.to_bytes()))
        state = None
        if out.cells or out.removed:
            state = orjson.dumps({"cells": list(out.cells.values()), "removed": out.removed})
        again = None
        if sweep and partition not in self.republished:
            self.republished.add(partition)
            again = republish(out, stores=self.partitions.stores, partition=partition)
        return Handled(
            sends=tuple(sends),
            near_counts=counts,
            state=state,
            views=out.cells,
            removed=tuple(out.removed),
            alerts=tuple(out.alerts.values()),
            audit=tuple(out.audit),
            late=tuple(stepped.late),
            unknown=tuple(out.unknown_actions),
            folded=stepped.folded,
            measured_round=stepped.measured_round,
            republished=again,
        )

    def forget(self, partitions: set[int]) -> None:
        """Partitions given to another worker: drop what this one held of them."""
        self.partitions.forget(partitions)


def action_record(record: ActionRecord, key: str) -> Record:
    """The ``cells.ingest`` record of one validated action, keyed ``key`` (the key of its
    incident's anchor cell, so it reaches the partition that holds the incident)."""
    return key.encode(), ACTIONS + b"[" + record.to_bytes() + b"]}"


def late_rejection(item: LateEvent) -> Rejection:
    """The dead-letter rejection of an event that came too late for any open window
    (``index`` is its place in its ``cells.ingest`` record)."""
    return Rejection("late", item.reason, item.index, orjson.dumps(to_wire(item.event)))
