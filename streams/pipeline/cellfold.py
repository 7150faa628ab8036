"""Per-cell windowed state as a fold: ``initial``, ``add``, ``expire`` (pure).

A cell keeps the latest reading of each camera and sensor in it, its hotline
tickets, and a short series of its fused density (for the rate of rise), each
only while fresh (event time, windows from settings). A camera stays in the
state for the whole crowd window even after it went stale (``camera_stale_ms``
in :class:`alerts.crowd.cell_metrics.MetricsConfig`), so the map can flag it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from alerts.crowd.trend import Series
from alerts.rules.vocabulary import sensor_in_alarm
from streams.pipeline.events import CameraReading, Event, SensorReading, Ticket


@dataclass(frozen=True, slots=True)
class Windows:
    """How long a reading stays fresh, ms."""

    crowd_ms: int = 300_000  # cameras are excluded as stale much sooner, but stay visible
    sensor_ms: int = 300_000
    hotline_ms: int = 600_000


@dataclass(frozen=True, slots=True)
class CameraObs:
    camera: str
    ts: int
    people: int
    area_m2: float
    flow_in: float | None = None
    flow_out: float | None = None


@dataclass(frozen=True, slots=True)
class SensorObs:
    sensor: str
    ts: int
    type: str
    value: float
    alarm: bool
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class TicketObs:
    id: str
    ts: int
    channel: str
    category: str
    text: str
    caller: str | None = None  # masked
    precision: str = "exact"  # "exact" (coordinates sent) or the geocoder's precision
    uncertainty_m: float | None = None  # geocoding uncertainty radius, m; None when exact


@dataclass(frozen=True, slots=True)
class CellState:
    cell: str
    partition: int = 0  # Kafka partition whose changelog holds this cell
    cameras: tuple[CameraObs, ...] = ()
    sensors: tuple[SensorObs, ...] = ()
    tickets: tuple[TicketObs, ...] = ()
    updated_at: int = 0  # newest event ts folded in, ms
    density: Series = field(
        default_factory=Series
    )  # fused density samples, persons/m², for the trend
    stale: tuple[str, ...] = ()  # cameras flagged stale at the last evaluation

    def is_empty(self) -> bool:
        """Nothing fresh left (the density series alone does not keep a cell alive)."""
        return not (self.cameras or self.sensors or self.tickets)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CellState:
        """Inverse of ``orjson.dumps(state)`` (after ``orjson.loads``)."""
        return cls(
            cell=d["cell"],
            partition=d["partition"],
            updated_at=d["updated_at"],
            cameras=tuple(CameraObs(**c) for c in d["cameras"]),
            sensors=tuple(SensorObs(**s) for s in d["sensors"]),
            tickets=tuple(TicketObs(**t) for t in d["tickets"]),
            density=Series.from_list(d.get("density") or []),
            stale=tuple(d.get("stale") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        """The form ``orjson.dumps`` takes (inverse of :meth:`from_dict` after it): the
        observations stay dataclasses, which orjson writes as ``asdict`` would, several
        times faster (round trip: tests/unit/test_pipeline.py)."""
        return {
            "cell": self.cell,
            "partition": self.partition,
            "updated_at": self.updated_at,
            "cameras": self.cameras,
            "sensors": self.sensors,
            "tickets": self.tickets,
            "density": self.density.to_list(),
            "stale": self.stale,
        }


def initial(cell: str, partition: int = 0) -> CellState:
    return CellState(cell=cell, partition=partition)


def _replace_latest(obs: tuple[Any, ...], new: Any, key: str) -> tuple[Any, ...]:
    """Keep one observation per device: the newest by ts (late readings never overwrite)."""
    out = []
    for o in obs:
        if getattr(o, key) == getattr(new, key):
            if o.ts > new.ts:
                return obs
            continue
        out.append(o)
    out.append(new)
    return tuple(out)


def add(state: CellState, event: Event) -> CellState:
    """Fold one event (already indexed to ``state.cell``) into the state."""
    if isinstance(event, CameraReading):
        obs = CameraObs(
            event.camera, event.ts, event.people, event.area_m2, event.flow_in, event.flow_out
        )
        state = replace(state, cameras=_replace_latest(state.cameras, obs, "camera"))
    elif isinstance(event, SensorReading):
        sensor = SensorObs(
            event.sensor,
            event.ts,
            event.type,
            event.value,
            sensor_in_alarm(event.type, event.value, event.alarm),
            event.unit,
        )
        state = replace(state, sensors=_replace_latest(state.sensors, sensor, "sensor"))
    elif isinstance(event, Ticket):
        if any(t.id == event.id for t in state.tickets):
            return state  # the same ticket twice counts once
        ticket = TicketObs(
            event.id,
            event.ts,
            event.channel,
            event.category,
            event.text,
            event.caller,
            event.precision,
            event.uncertainty_m,
        )
        state = replace(state, tickets=(*state.tickets, ticket))
    return replace(state, updated_at=max(state.updated_at, event.ts))


def add_all(state: CellState, events: Iterable[Event]) -> CellState:
    """Fold several events (all indexed to ``state.cell``) into the state at once: the
    same state as :func:`add` one after the other, with one copy of the state instead of
    two per event (tests/unit/test_cellfold.py)."""
    cameras: dict[str, CameraObs] | None = None
    sensors: dict[str, SensorObs] | None = None
    tickets: list[TicketObs] | None = None
    updated_at = state.updated_at
    for event in events:
        if isinstance(event, CameraReading):
            if cameras is None:
                cameras = {c.camera: c for c in state.cameras}
            held = cameras.get(event.camera)
            if held is None or held.ts <= event.ts:  # late readings never overwrite
                cameras.pop(event.camera, None)  # the newest goes last, as add() does
                cameras[event.camera] = CameraObs(
                    event.camera, event.ts, event.people, event.area_m2, event.flow_in,
                    event.flow_out,
                )  # fmt: skip
        elif isinstance(event, SensorReading):
            if sensors is None:
                sensors = {x.sensor: x for x in state.sensors}
            held_s = sensors.get(event.sensor)
            if held_s is None or held_s.ts <= event.ts:
                sensors.pop(event.sensor, None)
                sensors[event.sensor] = SensorObs(
                    event.sensor, event.ts, event.type, event.value,
                    sensor_in_alarm(event.type, event.value, event.alarm), event.unit,
                )  # fmt: skip
        elif isinstance(event, Ticket):
            if tickets is None:
                tickets = list(state.tickets)
            if any(t.id == event.id for t in tickets):
                continue  # the same ticket twice counts once (and leaves updated_at)
            tickets.append(
                TicketObs(
                    event.id, event.ts, event.channel, event.category, event.text,
                    event.caller, event.precision, event.uncertainty_m,
                )
            )  # fmt: skip
        updated_at = max(updated_at, event.ts)
    return replace(
        state,
        cameras=state.cameras if cameras is None else tuple(cameras.values()),
        sensors=state.sensors if sensors is None else tuple(sensors.values()),
        tickets=state.tickets if tickets is None else tuple(tickets),
        updated_at=updated_at,
    )


def _oldest(
    observations: tuple[CameraObs, ...] | tuple[SensorObs, ...] | tuple[TicketObs, ...],
) -> float:
    """The oldest ts among ``observations``; +inf when there are none."""
    return min([o.ts for o in observations]) if observations else float("inf")


def expire(state: CellState, now_ms: int, windows: Windows) -> CellState:
    """Drop readings older than their window at event time ``now_ms``."""
    if (
        _oldest(state.cameras) >= now_ms - windows.crowd_ms
        and _oldest(state.sensors) >= now_ms - windows.sensor_ms
        and _oldest(state.tickets) >= now_ms - windows.hotline_ms
    ):
        return state  # the common case: nothing to drop, nothing to copy
    cameras = tuple(c for c in state.cameras if now_ms - c.ts <= windows.crowd_ms)
    sensors = tuple(s for s in state.sensors if now_ms - s.ts <= windows.sensor_ms)
    tickets = tuple(t for t in state.tickets if now_ms - t.ts <= windows.hotline_ms)
    if (len(cameras), len(sensors), len(tickets)) == (
        len(state.cameras),
        len(state.sensors),
        len(state.tickets),
    ):
        return state
    return replace(state, cameras=cameras, sensors=sensors, tickets=tickets)
