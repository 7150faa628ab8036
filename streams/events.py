"""Normalised events: the one shape every event has inside the pipeline.

Coordinates are WGS-84 degrees, times epoch milliseconds (UTC), ``cell`` the H3
cell id at the configured resolution (``None`` only for hotline tickets that
carry an address instead of coordinates). These are plain frozen dataclasses;
``to_wire``/``from_wire`` are the (internal, trusted) JSON form used on the
``cells.ingest`` topic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["camera", "sensor", "hotline"]
KINDS: tuple[Kind, ...] = ("camera", "sensor", "hotline")


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


def to_wire(event: Event) -> dict[str, Any]:
    """JSON-ready dict of a normalised event (keeps ``kind``)."""
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
