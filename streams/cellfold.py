"""Per-cell windowed state as a fold: ``initial``, ``add``, ``expire``, ``view`` (pure).

A cell keeps the latest reading of each camera and sensor in it, and its
hotline tickets, each only while fresh (event time, windows from settings).
``view`` turns a state into the cell view of docs/protocol.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from alerts.los import FRUIN_WALKWAY
from alerts.rules import sensor_in_alarm
from alerts.scoring import RiskInputs, risk_score
from geo.cells import cell_center, cell_resolution
from streams.events import CameraReading, Event, SensorReading, Ticket


@dataclass(frozen=True, slots=True)
class Windows:
    """How long a reading stays fresh, ms."""

    crowd_ms: int = 120_000
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


@dataclass(frozen=True, slots=True)
class CellState:
    cell: str
    partition: int = 0  # Kafka partition whose changelog holds this cell
    cameras: tuple[CameraObs, ...] = ()
    sensors: tuple[SensorObs, ...] = ()
    tickets: tuple[TicketObs, ...] = ()
    updated_at: int = 0  # newest event ts folded in, ms

    def is_empty(self) -> bool:
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
        )


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
            event.id, event.ts, event.channel, event.category, event.text, event.caller
        )
        state = replace(state, tickets=(*state.tickets, ticket))
    return replace(state, updated_at=max(state.updated_at, event.ts))


def expire(state: CellState, now_ms: int, windows: Windows) -> CellState:
    """Drop readings older than their window at event time ``now_ms``."""
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


@dataclass(frozen=True, slots=True)
class CrowdFigures:
    people: int
    area_m2: float
    density: float  # persons/m²


def crowd(state: CellState) -> CrowdFigures | None:
    """Pooled crowd figures of the fresh cameras: Σ people / Σ area (None without cameras).

    Cameras in one cell are assumed to cover disjoint ground; overlap-aware
    fusion is part of the risk model (docs/risk-model.md).
    """
    if not state.cameras:
        return None
    people = sum(c.people for c in state.cameras)
    area = sum(c.area_m2 for c in state.cameras)
    return CrowdFigures(people, area, people / area)


def view(state: CellState) -> dict[str, Any]:
    """The cell view of docs/protocol.md (call after :func:`expire`)."""
    lat, lon = cell_center(state.cell)
    figures = crowd(state)
    sensors: dict[str, dict[str, Any]] = {}
    for s in sorted(state.sensors, key=lambda s: s.ts):
        prev = sensors.get(s.type)
        sensors[s.type] = {
            "value": s.value,
            "unit": s.unit,
            "ts": s.ts,
            "alarm": s.alarm or bool(prev and prev["alarm"]),
        }
    alarms = sum(1 for s in state.sensors if s.alarm)
    tickets: dict[str, int] = {}
    for t in state.tickets:
        tickets[t.category] = tickets.get(t.category, 0) + 1
    density = round(figures.density, 3) if figures else None
    return {
        "cell": state.cell,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "resolution": cell_resolution(state.cell),
        "people": figures.people if figures else None,
        "area_m2": round(figures.area_m2, 1) if figures else None,
        "density": density,
        "los": FRUIN_WALKWAY.classify(figures.density) if figures else None,
        "cameras": len(state.cameras),
        "sensors": sensors,
        "alarms": alarms,
        "tickets": tickets,
        "tickets_total": len(state.tickets),
        "risk": risk_score(
            RiskInputs(figures.density if figures else None, alarms, len(state.tickets))
        ),
        "updated_at": state.updated_at,
    }
