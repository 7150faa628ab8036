"""Normalised events: the one shape every event has inside the pipeline.

Coordinates are WGS-84 degrees, times epoch milliseconds (UTC), ``cell`` the H3
cell id at the configured resolution (``None`` only for hotline tickets that
carry an address instead of coordinates). These are plain frozen dataclasses;
``to_wire``/``from_wire`` are their (internal, trusted) JSON objects, and
``rows_body``/``events_of_body`` the compact form of a list of them on the
``cells.ingest`` topic.

Grid worker reports (:class:`WorkerReport`, input kind ``worker``) are normalised
the same way but are not an :data:`Event`: they never enter the cell pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from operator import attrgetter
from typing import Any, Literal

import orjson

Kind = Literal["camera", "sensor", "hotline"]
#: Input kinds of the cell pipeline: each has an ingest agent feeding ``cells.ingest``
#: (streams/worker/app.py) and is a backtest input (citybrain/tools/backtest/runner.py).
KINDS: tuple[Kind, ...] = ("camera", "sensor", "hotline")
InputKind = Literal["camera", "sensor", "hotline", "worker"]
#: Every input kind, ``events.<kind>`` each; ``worker`` has its own agent
#: (streams/worker/workers_agent.py) and stays out of the cell pipeline.
INPUT_KINDS: tuple[InputKind, ...] = (*KINDS, "worker")
WorkerStatus = Literal["online", "offline"]


@dataclass(frozen=True, slots=True)
class CameraReading:
    id: str
    ts: int
    lat: float
    lon: float
    cell: str
    camera: str  # camera id; the event id when the feed gives none
    people: int  # persons in view, ≥ 0
    area_m2: float  # ground area the count covers, > 0
    flow_in: float | None = None  # persons/min across the counting line
    flow_out: float | None = None
    kind: Literal["camera"] = "camera"


@dataclass(frozen=True, slots=True)
class SensorReading:
    id: str
    ts: int
    lat: float
    lon: float
    cell: str
    sensor: str  # device id; the event id when the feed gives none
    type: str
    value: float
    alarm: bool | None = None  # the device's own alarm flag, when it sends one
    unit: str | None = None
    kind: Literal["sensor"] = "sensor"


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    ts: int
    channel: Literal["12345", "110"]
    category: str
    text: str
    lat: float | None
    lon: float | None
    cell: str | None
    address: str | None = None
    caller: str | None = None  # already masked, e.g. 138****1234
    precision: str = "exact"  # "exact" when sent with coordinates, else the geocoder's
    uncertainty_m: float | None = None  # geocoding uncertainty radius, m
    kind: Literal["hotline"] = "hotline"


Event = CameraReading | SensorReading | Ticket


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """One position report of a grid worker (网格员), WGS-84."""

    id: str  # the report's id, unique per report
    ts: int
    lat: float
    lon: float
    worker: str  # grid worker id
    status: WorkerStatus
    grid: str  # grid id, e.g. G-001
    name: str | None = None
    kind: Literal["worker"] = "worker"


def to_wire(event: Event) -> dict[str, Any]:
    """JSON-ready dict of a normalised event (keeps ``kind``). ``orjson.dumps`` of the
    event itself gives the same JSON, an order of magnitude faster (tests/unit/test_events.py):
    hot paths serialise lists of events that way."""
    return asdict(event)


def from_wire(data: dict[str, Any]) -> Event:
    """Inverse of :func:`to_wire`; trusts its input (internal topic only)."""
    kind = data.get("kind")
    if kind == "camera":
        return CameraReading(**data)
    if kind == "sensor":
        return SensorReading(**data)
    if kind == "hotline":
        return Ticket(**data)
    raise ValueError(f"unknown event kind {kind!r}")


_ROW = {
    cls: attrgetter(*(f.name for f in fields(cls)))
    for cls in (CameraReading, SensorReading, Ticket)
}
_OF_KIND: dict[str, type[CameraReading] | type[SensorReading] | type[Ticket]] = {
    "camera": CameraReading,
    "sensor": SensorReading,
    "hotline": Ticket,
}


def rows_of(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """Each event as a row: its field values in declaration order (``kind`` last)."""
    return [_ROW[type(e)](e) for e in events]


def rows_body(events: Sequence[Event]) -> bytes:
    """The ``cells.ingest`` body of ``events``: a JSON array of their rows
    (:func:`rows_of`). Half the bytes of the objects' form, and read back without
    matching keys (:func:`events_of_body`)."""
    return orjson.dumps(rows_of(events))


def events_of_body(body: bytes) -> list[Event]:
    """Inverse of :func:`rows_body`; also reads a JSON array of :func:`to_wire` objects (the
    earlier form, which records written before an upgrade still hold). Trusts its input
    (internal topic only)."""
    return [
        _OF_KIND[item[-1]](*item) if isinstance(item, list) else from_wire(item)
        for item in orjson.loads(body)
    ]
