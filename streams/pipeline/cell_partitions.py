"""The cells agent's partitions: one columnar partition path each, rounds, the camera log.

What the ``cells`` agent (streams/worker/app.py) does with a decoded ``cells.ingest`` record
once it knows its partition: place its events and camera readings in event time
(too-late ones come back, to be dead-lettered), step the partition's
:class:`streams.pipeline.columnar.partition_path.PartitionPath` — with a camera round when one
is due (``round_every_ms`` of wall time since the last, or a sweep; spaced further
when rounds grow costly, see :class:`RoundPacing`) — and write what
the step changed in the camera state to the partition's log
(:mod:`streams.pipeline.camera_log`; a backtest keeps none). A partition seen for the
first time since it was assigned is restored from that log first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alerts.incidents.lifecycle import Action
from streams.pipeline.camera_log import CameraLog
from streams.pipeline.clock import EventClock
from streams.pipeline.columnar.camera_columns import CameraColumns, columns_of, concat, take
from streams.pipeline.columnar.partition_path import PartitionPath
from streams.pipeline.events import CameraReading, Event
from streams.pipeline.halo import Near
from streams.pipeline.lateness import LateEvent, Lateness, arrive
from streams.pipeline.step_data import Output, PipelineConfig, Stores


@dataclass(slots=True)
class Stepped:
    """A record's step: its output, the events that came too late, how many readings
    and events were folded, and whether a camera round ran."""

    out: Output
    late: list[LateEvent]
    folded: int
    measured_round: bool


@dataclass(frozen=True, slots=True)
class RoundPacing:
    """Rounds may take at most ``share`` of a partition's wall time: after a step with a
    round that took ``c`` ms (by ``seconds``, a monotonic clock in seconds), the next
    round waits at least ``c / share`` ms, however short ``round_every_ms`` is.

    A round measures every cell that changed since the last, so its cost grows with the
    cells a busy partition touches (~1.7 µs a cell): with short rounds and tens of
    thousands of cells in play, rounds alone would take most of the worker. At district
    rates rounds cost a few ms and ``round_every_ms`` rules; under overload rounds space
    out and the fold keeps the input's pace. The backtest runs without pacing (its
    rounds must not depend on the machine's speed)."""

    share: float
    seconds: Callable[[], float]


class CellPartitions:
    """The partitions the worker's cells agent holds (see the module docstring)."""

    def __init__(
        self,
        stores: Stores,
        camera_log: CameraLog | None,
        clock: EventClock,
        lateness: Lateness,
        round_every_ms: int,
        pacing: RoundPacing | None = None,
    ) -> None:
        self.stores, self.camera_log, self.clock = stores, camera_log, clock
        self.lateness, self.round_every_ms = lateness, round_every_ms
        self.pacing = pacing
        self.paths: dict[int, PartitionPath] = {}
        self.last_round: dict[int, float] = {}
        self.round_gap_ms: dict[int, float] = {}  # paced: least ms to the next round

    def path(self, partition: int, config: PipelineConfig) -> PartitionPath:
        """The partition's path, restored from its camera log on first use."""
        path = self.paths.get(partition)
        if path is None:
            records = self.camera_log.records(partition) if self.camera_log else []
            path = PartitionPath.restored(self.stores, partition, config, records)
            self.paths[partition] = path
        return path

    def forget(self, partitions: set[int]) -> None:
        """Partitions given to another worker: drop what this one held of them."""
        for partition in partitions:
            self.paths.pop(partition, None)
            self.last_round.pop(partition, None)
            self.round_gap_ms.pop(partition, None)
            if self.camera_log is not None:
                self.camera_log.forget(partition)

    def step(
        self,
        partition: int,
        *,
        events: list[Event],
        cameras: CameraColumns | None,
        wall_ms: float,
        config: PipelineConfig,
        sweep: bool = False,
        actions: list[Action] | None = None,
        near: Near | None = None,
    ) -> Stepped:
        """One ``cells.ingest`` record of ``partition`` (or a sweep) at wall time
        ``wall_ms``."""
        on_time, late = arrive(self.clock, partition, events, wall_ms, self.lateness)
        readings = [e for e in on_time if isinstance(e, CameraReading)]
        if readings:  # readings sent as objects (none are since cameras travel in columns)
            on_time = [e for e in on_time if not isinstance(e, CameraReading)]
            cameras = _joined(cameras, columns_of(readings, [0] * len(readings)))
        if cameras is not None and len(cameras):
            cameras, late_readings = self._arrive_columns(partition, cameras, wall_ms)
            late.extend(late_readings)
        path = self.path(partition, config)
        since = wall_ms - self.last_round.get(partition, -1e18)
        due = sweep or since >= max(self.round_every_ms, self.round_gap_ms.get(partition, 0.0))
        pacing = self.pacing
        started = pacing.seconds() if pacing is not None and due else 0.0
        out = path.step(
            on_time,
            cameras,
            now_ms=self.clock.now(partition, wall_ms, default=int(wall_ms)),
            config=config,
            camera_round=due,
            sweep=sweep,
            actions=actions,
            near=near,
        )
        if due:
            self.last_round[partition] = wall_ms
            if pacing is not None:
                cost_ms = (pacing.seconds() - started) * 1000.0
                self.round_gap_ms[partition] = cost_ms / pacing.share
        if self.camera_log is None:
            path.log.discard()  # nothing to make durable (a backtest)
        else:
            full = self.camera_log.snapshot_due(partition, wall_ms)
            records = path.log_records(full=full)
            if records:
                self.camera_log.write(partition, records, full=full, wall_ms=wall_ms)
        folded = len(on_time) + (len(cameras) if cameras is not None else 0)
        return Stepped(out, late, folded, due)

    def _arrive_columns(
        self, partition: int, cameras: CameraColumns, wall_ms: float
    ) -> tuple[CameraColumns, list[LateEvent]]:
        """:func:`streams.pipeline.lateness.arrive` for readings in columns."""
        newest = int(cameras.ts.max())
        now = self.clock.now(partition, wall_ms, default=newest)
        allowed = self.lateness.camera_ms
        behind = now - cameras.ts
        too_late = behind > allowed
        late: list[LateEvent] = []
        if too_late.any():
            rows = np.flatnonzero(too_late)
            for row, reading in zip(rows.tolist(), take(cameras, rows).readings(), strict=True):
                late.append(LateEvent(reading, row, int(behind[row]), allowed))
            cameras = take(cameras, ~too_late)
        if len(cameras):
            self.clock.observe(partition, newest, wall_ms)
        return cameras, late


def _joined(a: CameraColumns | None, b: CameraColumns) -> CameraColumns:
    """The rows of ``a`` (if any) then those of ``b``."""
    return b if a is None or not len(a) else concat(a, b)
