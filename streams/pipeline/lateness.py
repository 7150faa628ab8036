"""Allowed lateness: which events of a batch still have a window to land in (pure).

Events reach a cell's partition out of order (devices buffer, links drop, hotline
operators type tickets up after the call). An event is *on time* while its window is
still open at the partition's event time: a camera reading is placed by its own ``ts``
(an older reading never overwrites a newer one of the same camera) and a ticket joins
the clusters of its own time. An event older than its kind's allowed lateness could
only be expired at once: it is *late*, and the worker dead-letters and counts it
instead of letting it vanish silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streams.pipeline.clock import EventClock
from streams.pipeline.events import Event, Kind


@dataclass(frozen=True, slots=True)
class Lateness:
    """How far behind the partition's event time an event of each kind may arrive, ms."""

    camera_ms: int = 300_000
    sensor_ms: int = 300_000
    hotline_ms: int = 600_000

    def allowed_ms(self, kind: Kind) -> int:
        if kind == "camera":
            return self.camera_ms
        if kind == "sensor":
            return self.sensor_ms
        return self.hotline_ms


@dataclass(frozen=True, slots=True)
class LateEvent:
    """An event that came too late: its place in the batch, how late it was, ms."""

    event: Event
    index: int
    behind_ms: int
    allowed_ms: int

    @property
    def reason(self) -> str:
        return (
            f"{self.event.kind} event ts {self.event.ts} is {self.behind_ms / 1000:.0f} s behind "
            f"the partition's event time; allowed lateness {self.allowed_ms / 1000:.0f} s"
        )


def split_late(
    events: Iterable[Event], now_ms: int, lateness: Lateness
) -> tuple[list[Event], list[LateEvent]]:
    """``events`` split into those on time at event time ``now_ms`` and those too late.

    An event exactly at its allowed lateness is still on time. Order is kept.
    """
    on_time: list[Event] = []
    late: list[LateEvent] = []
    for index, event in enumerate(events):
        allowed = lateness.allowed_ms(event.kind)
        behind = now_ms - event.ts
        if behind > allowed:
            late.append(LateEvent(event, index, behind, allowed))
        else:
            on_time.append(event)
    return on_time, late


def arrive(
    clock: EventClock, partition: int, events: list[Event], wall_ms: float, lateness: Lateness
) -> tuple[list[Event], list[LateEvent]]:
    """``events`` reaching ``partition`` at ``wall_ms``, split by the partition's event
    time before them (:func:`split_late`); the clock takes the newest of them when any is
    on time. The worker and the backtest place events alike through this."""
    if not events:
        return [], []
    newest = max(e.ts for e in events)
    on_time, late = split_late(events, clock.now(partition, wall_ms, default=newest), lateness)
    if on_time:
        clock.observe(partition, newest, wall_ms)
    return on_time, late
