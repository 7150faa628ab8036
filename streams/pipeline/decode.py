"""Decode and validate raw Kafka records into normalised events (pure).

A record holds one event object or a JSON array of them (see docs/protocol.md).
Every problem becomes a :class:`Rejection` with a plain reason; one bad event
never spoils the others in its batch. :func:`decode_record` decodes the kinds of
the cell pipeline, :func:`decode_worker_record` grid worker reports (``worker``).

The pydantic models here are the contract. Camera and sensor records first take a
faster msgspec path (:mod:`streams.pipeline.decode_fast`) that gives the same results and hands
everything it is not sure of back to these models.

A hotline caller's number is masked here (:func:`streams.pipeline.privacy.mask_phone`): the
full number goes no further than this module (data minimisation). Ticket text is
returned as sent; the ingest agent splits it off (:func:`streams.pipeline.privacy.split_private`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from geo.cells import cell_of
from geo.crs import to_wgs84
from streams.pipeline.events import CameraReading, Event, Kind, SensorReading, Ticket, WorkerReport
from streams.pipeline.privacy import mask_phone

ErrorKind = Literal["size", "encoding", "json", "shape", "validation", "time", "late", "rate"]

Finite = Annotated[float, Field(allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Ident = Annotated[StrictStr, Field(min_length=1, max_length=128)]
ShortText = Annotated[StrictStr, Field(min_length=1, max_length=64)]


def parse_ts(value: object) -> int:
    """Epoch milliseconds from an int/float in ms or an ISO-8601 string with offset."""
    if isinstance(value, bool):
        raise ValueError("ts must be epoch milliseconds or ISO-8601, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("ts must be finite")
        return int(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"ts {value[:40]!r} is not ISO-8601") from exc
        if parsed.tzinfo is None:
            raise ValueError("ts in ISO-8601 needs a UTC offset, e.g. +08:00")
        return int(parsed.timestamp() * 1000)
    raise ValueError("ts must be epoch milliseconds or an ISO-8601 string")


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Ident
    ts: int
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"

    @field_validator("ts", mode="before")
    @classmethod
    def _ts(cls, v: object) -> int:
        return parse_ts(v)


class CameraIn(_Common):
    kind: Literal["camera"] | None = None  # optional; must match the topic when given
    lat: Latitude
    lon: Longitude
    people: Annotated[StrictInt, Field(ge=0, le=1_000_000)]
    area_m2: Annotated[Finite, Field(gt=0, le=1_000_000)]
    camera: Ident | None = None
    flow_in: Annotated[Finite, Field(ge=0)] | None = None
    flow_out: Annotated[Finite, Field(ge=0)] | None = None


class SensorIn(_Common):
    kind: Literal["sensor"] | None = None
    lat: Latitude
    lon: Longitude
    type: ShortText
    value: Finite
    unit: Annotated[StrictStr, Field(max_length=32)] | None = None
    alarm: StrictBool | None = None
    sensor: Ident | None = None


class HotlineIn(_Common):
    kind: Literal["hotline"] | None = None
    channel: Literal["12345", "110"]
    category: ShortText
    text: Annotated[StrictStr, Field(max_length=4000)]
    lat: Latitude | None = None
    lon: Longitude | None = None
    address: Annotated[StrictStr, Field(min_length=1, max_length=500)] | None = None
    caller: Annotated[StrictStr, Field(max_length=32)] | None = None

    @field_validator("lon")
    @classmethod
    def _pair(cls, v: float | None, info: Any) -> float | None:
        if (v is None) != (info.data.get("lat") is None):
            raise ValueError("lat and lon come together")
        return v


class WorkerIn(_Common):
    kind: Literal["worker"] | None = None
    lat: Latitude
    lon: Longitude
    worker: Ident
    status: Literal["online", "offline"]
    grid: Ident
    name: ShortText | None = None


_MODELS: dict[Kind, type[_Common]] = {"camera": CameraIn, "sensor": SensorIn, "hotline": HotlineIn}
_Model = TypeVar("_Model", bound=_Common)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied while decoding."""

    resolution: int = 9  # H3 resolution of the fine cells
    max_record_bytes: int = 8 * 1024 * 1024
    max_future_ms: int = 300_000  # events stamped further ahead of now are rejected
    max_age_ms: int = 86_400_000  # events older than this are rejected


@dataclass(frozen=True, slots=True)
class Rejection:
    """One bad event (``index`` ≥ 0) or a whole bad record (``index`` is None)."""

    error: ErrorKind
    reason: str
    index: int | None
    original: bytes


@dataclass(frozen=True, slots=True)
class Decoded:
    events: list[Event] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # each event's place in its record


@dataclass(frozen=True, slots=True)
class DecodedWorkers:
    """What one ``events.worker`` record held: valid reports (WGS-84) and rejections."""

    reports: list[WorkerReport] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "event"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _normalise(kind: Kind, model: _Common, resolution: int) -> Event:
    if isinstance(model, CameraIn):
        lat, lon = to_wgs84(model.lat, model.lon, model.crs)
        return CameraReading(
            id=model.id,
            ts=model.ts,
            lat=lat,
            lon=lon,
            cell=cell_of(lat, lon, resolution),
            camera=model.camera or model.id,
            people=model.people,
            area_m2=model.area_m2,
            flow_in=model.flow_in,
            flow_out=model.flow_out,
        )
    if isinstance(model, SensorIn):
        lat, lon = to_wgs84(model.lat, model.lon, model.crs)
        return SensorReading(
            id=model.id,
            ts=model.ts,
            lat=lat,
            lon=lon,
            cell=cell_of(lat, lon, resolution),
            sensor=model.sensor or model.id,
            type=model.type,
            value=model.value,
            alarm=model.alarm,
            unit=model.unit,
        )
    assert isinstance(model, HotlineIn), kind
    located = model.lat is not None and model.lon is not None
    if located:
        lat, lon = to_wgs84(model.lat, model.lon, model.crs)  # type: ignore[arg-type]
    return Ticket(
        id=model.id,
        ts=model.ts,
        channel=model.channel,
        category=model.category,
        text=model.text,
        lat=lat if located else None,
        lon=lon if located else None,
        cell=cell_of(lat, lon, resolution) if located else None,
        address=model.address,
        caller=mask_phone(model.caller) if model.caller else None,
    )


def _validated(model: type[_Model], item: object, index: int) -> _Model | Rejection:
    """``item`` checked against ``model``: the model, or a ``shape``/``validation`` rejection."""
    if not isinstance(item, dict):
        return Rejection(
            "shape",
            f"event must be a JSON object, got {type(item).__name__}",
            index,
            orjson.dumps(item),
        )
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        return Rejection("validation", _reason(exc), index, orjson.dumps(item))


def _out_of_time(
    ts: int, item: object, index: int, now_ms: int, limits: Limits
) -> Rejection | None:
    """A ``time`` rejection when ``ts`` is too far ahead of or behind ``now_ms``."""
    if ts > now_ms + limits.max_future_ms:
        return Rejection(
            "time", f"ts {ts} is {(ts - now_ms) // 1000} s in the future", index, orjson.dumps(item)
        )
    if ts < now_ms - limits.max_age_ms:
        return Rejection(
            "time", f"ts {ts} is {(now_ms - ts) // 1000} s old", index, orjson.dumps(item)
        )
    return None


def decode_event(
    kind: Kind, item: object, index: int, now_ms: int, limits: Limits
) -> Event | Rejection:
    """Validate one event object; returns the normalised event or why not."""
    model = _validated(_MODELS[kind], item, index)
    if isinstance(model, Rejection):
        return model
    if kind == "hotline" and model.lat is None and model.address is None:  # type: ignore[attr-defined]
        return Rejection(
            "validation", "hotline ticket needs lat/lon or address", index, orjson.dumps(item)
        )
    late = _out_of_time(model.ts, item, index, now_ms, limits)
    if late is not None:
        return late
    try:
        return _normalise(kind, model, limits.resolution)
    except ValueError as exc:  # e.g. a coordinate H3 or the CRS maths cannot place
        return Rejection("validation", f"cannot place event: {exc}", index, orjson.dumps(item))


def decode_worker_event(
    item: object, index: int, now_ms: int, limits: Limits
) -> WorkerReport | Rejection:
    """Validate one grid worker report; returns it in WGS-84 or why not.

    The name defaults to the worker id. Same rejections as :func:`decode_event`.
    """
    model = _validated(WorkerIn, item, index)
    if isinstance(model, Rejection):
        return model
    late = _out_of_time(model.ts, item, index, now_ms, limits)
    if late is not None:
        return late
    try:
        lat, lon = to_wgs84(model.lat, model.lon, model.crs)
    except ValueError as exc:  # the CRS maths cannot place it
        return Rejection("validation", f"cannot place event: {exc}", index, orjson.dumps(item))
    return WorkerReport(
        id=model.id,
        ts=model.ts,
        lat=lat,
        lon=lon,
        worker=model.worker,
        status=model.status,
        grid=model.grid,
        name=model.name or model.worker,
    )


def _unreadable(raw: bytes | None, limits: Limits) -> Rejection | None:
    """Why a record value cannot be parsed at all (null, too big, not UTF-8), or None."""
    if raw is None:
        return Rejection("shape", "empty record (null value)", None, b"")
    if len(raw) > limits.max_record_bytes:
        return Rejection(
            "size",
            f"record of {len(raw)} bytes exceeds {limits.max_record_bytes}",
            None,
            raw[:1024],
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("encoding", f"not UTF-8: {exc.reason} at byte {exc.start}", None, raw)
    return None


def _record_items(raw: bytes | None, limits: Limits) -> list[object] | Rejection:
    """The event objects of one Kafka record value, or why the whole record is bad."""
    unreadable = _unreadable(raw, limits)
    if unreadable is not None:
        return unreadable
    assert raw is not None  # _unreadable refuses a null value
    return parsed_items(raw)


def parsed_items(raw: bytes) -> list[object] | Rejection:
    """The event objects of a UTF-8 record value, or its ``json``/``shape`` rejection."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection("json", f"invalid JSON: {exc}", None, raw)
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list):
        return doc if doc else Rejection("shape", "empty batch", None, raw)
    return Rejection(
        "shape",
        f"record must be an event object or an array, got {type(doc).__name__}",
        None,
        raw,
    )


def decode_record_pydantic(kind: Kind, raw: bytes | None, now_ms: int, limits: Limits) -> Decoded:
    """:func:`decode_record` by the pydantic models alone: the reference for every result."""
    items = _record_items(raw, limits)
    if isinstance(items, Rejection):
        return Decoded(rejections=[items])
    return decided(items, lambda i, item: decode_event(kind, item, i, now_ms, limits))


def decided(items: list[object], decide: Callable[[int, object], Event | Rejection]) -> Decoded:
    """The events and rejections ``decide(index, item)`` gives for each item of a record."""
    out = Decoded()
    for i, item in enumerate(items):
        result = decide(i, item)
        if isinstance(result, Rejection):
            out.rejections.append(result)
        else:
            out.events.append(result)
            out.indexes.append(i)
    return out


def decode_worker_record(raw: bytes | None, now_ms: int, limits: Limits) -> DecodedWorkers:
    """Decode one ``events.worker`` record value (a report or a JSON array of reports)."""
    items = _record_items(raw, limits)
    if isinstance(items, Rejection):
        return DecodedWorkers(rejections=[items])
    out = DecodedWorkers()
    for i, item in enumerate(items):
        result = decode_worker_event(item, i, now_ms, limits)
        if isinstance(result, Rejection):
            out.rejections.append(result)
        else:
            out.reports.append(result)
    return out


def dead_letter(
    rejection: Rejection, *, topic: str, partition: int | None, offset: int | None, at_ms: int
) -> dict[str, Any]:
    """The dead-letter record for a rejection (see docs/protocol.md)."""
    try:
        original: str | None = rejection.original.decode("utf-8")
        original_b64 = None
    except UnicodeDecodeError:
        original, original_b64 = None, base64.b64encode(rejection.original).decode("ascii")
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "index": rejection.index,
        "error": rejection.error,
        "reason": rejection.reason,
        "original": original,
        "original_b64": original_b64,
        "redacted": False,  # streams.pipeline.privacy.redact_dead_letter: hotline records
        "at": at_ms,
    }
