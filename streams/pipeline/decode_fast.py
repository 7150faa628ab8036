"""Camera and sensor records decoded with msgspec:
:func:`streams.pipeline.decode.decode_record_pydantic`, faster.

Contract: :func:`decode_record_fast` returns exactly what
:func:`streams.pipeline.decode.decode_record_pydantic` returns for the same arguments (events,
rejections, indexes). The msgspec types here mirror ``CameraIn`` and ``SensorIn`` field
for field but are stricter (no numeric strings, no bools for numbers), so msgspec may
only *accept*: whatever it refuses, and whatever is doubtful after it, goes to the
pydantic models, which give the authoritative acceptance or rejection.

Three steps, each falling back to the next for what it is not sure of:

1. the whole record value in one msgspec call (:data:`CAMERA_RECORD`, :data:`SENSOR_RECORD`);
2. the record parsed with orjson, as the pydantic path parses it, and each event object
   checked with ``msgspec.convert``;
3. the pydantic models, for the events that step 2 leaves.

Step 1 refuses unknown fields although the contract ignores them: msgspec skips their
values more leniently than orjson reads them (it skips ``1e400``, and nestings deeper than
orjson's 1024 levels when Python's recursion limit allows, where orjson refuses the whole
record), so such records take step 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Literal, TypeAlias

import msgspec

from geo.cells import cell_of
from geo.crs import to_wgs84
from streams.pipeline.decode import (
    Decoded,
    Limits,
    Rejection,
    _out_of_time,
    _unreadable,
    decided,
    decode_event,
    parse_ts,
    parsed_items,
)
from streams.pipeline.events import CameraReading, Event, SensorReading

FastKind = Literal["camera", "sensor"]

_Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
_Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
_Crs = Literal["wgs84", "gcj02", "bd09"]
# What parse_ts takes (JSON's bool, null, arrays and objects are refused here).
_Ts = int | float | str

# orjson reads JSON integers in this range as int and all others as float, so pydantic's
# ts of a bigger integer is a rounded float: msgspec keeps it exact and must not decide.
_ORJSON_INT_MIN = -(2**63)
_ORJSON_INT_MAX = 2**64 - 1


class CameraMsg(msgspec.Struct, kw_only=True, gc=False):
    """``CameraIn`` in msgspec: same fields, defaults and bounds; unknown fields ignored.

    ``ts`` is raw (parse it with ``parse_ts``); the finiteness of ``flow_in``/``flow_out``
    is checked after decoding (``msgspec.Meta`` has no such constraint).
    """

    id: _Ident
    ts: _Ts
    crs: _Crs = "wgs84"
    kind: Literal["camera"] | None = None
    lat: _Latitude
    lon: _Longitude
    people: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    area_m2: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
    camera: _Ident | None = None
    flow_in: Annotated[float, msgspec.Meta(ge=0)] | None = None
    flow_out: Annotated[float, msgspec.Meta(ge=0)] | None = None


class SensorMsg(msgspec.Struct, kw_only=True, gc=False):
    """``SensorIn`` in msgspec: same fields, defaults and bounds; unknown fields ignored.

    ``ts`` is raw (parse it with ``parse_ts``); the finiteness of ``value`` is checked
    after decoding.
    """

    id: _Ident
    ts: _Ts
    crs: _Crs = "wgs84"
    kind: Literal["sensor"] | None = None
    lat: _Latitude
    lon: _Longitude
    type: _ShortText
    value: float
    unit: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    alarm: bool | None = None
    sensor: _Ident | None = None


class _CameraJson(CameraMsg, forbid_unknown_fields=True):
    """:class:`CameraMsg` refusing unknown fields: for raw JSON only (module docstring)."""


class _SensorJson(SensorMsg, forbid_unknown_fields=True):
    """:class:`SensorMsg` refusing unknown fields: for raw JSON only (module docstring)."""


#: One record value (an event object or an array of them) in one msgspec call, refusing
#: unknown fields: what it accepts, ``decode_record_pydantic`` accepts alike once each
#: message passes the checks after decoding (ts, finite numbers, a placeable point).
CAMERA_RECORD = msgspec.json.Decoder(list[_CameraJson] | _CameraJson)
SENSOR_RECORD = msgspec.json.Decoder(list[_SensorJson] | _SensorJson)

_Msg: TypeAlias = CameraMsg | SensorMsg
_Reading: TypeAlias = CameraReading | SensorReading


def decode_record_fast(kind: FastKind, raw: bytes | None, now_ms: int, limits: Limits) -> Decoded:
    """Decode one camera or sensor record value; equal to ``decode_record_pydantic``.

    The record-level checks (null, size, UTF-8) come first, as on the pydantic path.
    """
    unreadable = _unreadable(raw, limits)
    if unreadable is not None:
        return Decoded(rejections=[unreadable])
    assert raw is not None  # _unreadable refuses a null value
    readings = _whole_record(kind, raw, now_ms, limits)
    if readings is not None:
        return Decoded(events=readings, indexes=list(range(len(readings))))
    return _item_by_item(kind, raw, now_ms, limits)


def _whole_record(kind: FastKind, raw: bytes, now_ms: int, limits: Limits) -> list[Event] | None:
    """Every event of a readable record when one msgspec call and the checks after it
    accept them all; None when anything is left to decide (then no result is kept)."""
    try:
        doc = CAMERA_RECORD.decode(raw) if kind == "camera" else SENSOR_RECORD.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        # Not a record msgspec can accept whole (it is stricter than pydantic, refuses
        # unknown fields here, and raises RecursionError on deep nesting): item by item
        # decides.
        return None
    msgs: Sequence[_Msg] = doc if isinstance(doc, list) else [doc]
    if not msgs:
        return None  # an empty batch: its rejection comes from item by item
    readings: list[Event] = []
    for msg in msgs:
        ts = _ts(msg)
        # The out-of-time rejection needs the event as orjson reads it: item by item
        # builds it. Here only whether there is one matters (None stands in for the event).
        if ts is None or _out_of_time(ts, None, 0, now_ms, limits) is not None:
            return None
        reading = _reading(msg, ts, limits.resolution)
        if reading is None:
            return None
        readings.append(reading)
    return readings


def _item_by_item(kind: FastKind, raw: bytes, now_ms: int, limits: Limits) -> Decoded:
    """The record parsed as the pydantic path parses it; each event through msgspec when
    it accepts it, through ``decode_event`` (pydantic) otherwise."""
    items = parsed_items(raw)
    if isinstance(items, Rejection):
        return Decoded(rejections=[items])
    struct = CameraMsg if kind == "camera" else SensorMsg

    def decide(i: int, item: object) -> Event | Rejection:
        fast = _item(struct, item, i, now_ms, limits)
        return fast if fast is not None else decode_event(kind, item, i, now_ms, limits)

    return decided(items, decide)


def _item(
    struct: type[_Msg], item: object, index: int, now_ms: int, limits: Limits
) -> _Reading | Rejection | None:
    """One parsed event: its reading, its out-of-time rejection, or None for pydantic."""
    if not isinstance(item, dict):
        return None  # pydantic's path words the shape rejection
    try:
        msg = msgspec.convert(item, struct)
    except msgspec.ValidationError:
        # pydantic may still accept it (a numeric string, a bool for a number) or word
        # the rejection: it decides.
        return None
    ts = _ts(msg)
    if ts is None:
        return None
    late = _out_of_time(ts, item, index, now_ms, limits)
    if late is not None:
        return late  # what decode_event gives: pydantic accepts the event with this ts
    return _reading(msg, ts, limits.resolution)


def _ts(msg: _Msg) -> int | None:
    """The event's epoch milliseconds as the pydantic model computes them, or None
    when pydantic has to decide (it rejects the value, or reads it otherwise)."""
    raw = msg.ts
    if isinstance(raw, int) and not _ORJSON_INT_MIN <= raw <= _ORJSON_INT_MAX:
        return None
    try:
        return parse_ts(raw)
    except ValueError:
        return None  # a validation rejection, worded by pydantic


def _reading(msg: _Msg, ts: int, resolution: int) -> _Reading | None:
    """The normalised reading, built as ``streams.pipeline.decode._normalise`` builds it, or None
    when pydantic has to decide (a non-finite number, a point that cannot be placed)."""
    if isinstance(msg, CameraMsg):
        if not (_finite(msg.flow_in) and _finite(msg.flow_out)):
            return None
    elif not math.isfinite(msg.value):
        return None
    try:
        if msg.lat and msg.lon:  # not ±0.0: the cache would not keep the zero's sign
            lat, lon, cell = place_point(msg.lat, msg.lon, msg.crs, resolution)
        else:
            lat, lon = to_wgs84(msg.lat, msg.lon, msg.crs)
            cell = cell_of(lat, lon, resolution)
    except ValueError:
        return None  # decode_event's "cannot place event" rejection
    if isinstance(msg, CameraMsg):
        return CameraReading(
            id=msg.id,
            ts=ts,
            lat=lat,
            lon=lon,
            cell=cell,
            camera=msg.camera or msg.id,
            people=msg.people,
            area_m2=msg.area_m2,
            flow_in=msg.flow_in,
            flow_out=msg.flow_out,
        )
    return SensorReading(
        id=msg.id,
        ts=ts,
        lat=lat,
        lon=lon,
        cell=cell,
        sensor=msg.sensor or msg.id,
        type=msg.type,
        value=msg.value,
        alarm=msg.alarm,
        unit=msg.unit,
    )


@lru_cache(maxsize=262_144)
def place_point(lat: float, lon: float, crs: str, resolution: int) -> tuple[float, float, str]:
    """WGS-84 ``(lat, lon)`` and H3 cell of a point sent in ``crs``. Cameras and sensors
    stand still, so most readings repeat a point seen before (a few hundred thousand
    devices fit the cache); ValueError as :func:`to_wgs84` / :func:`cell_of`."""
    wgs_lat, wgs_lon = to_wgs84(lat, lon, crs)
    return wgs_lat, wgs_lon, cell_of(wgs_lat, wgs_lon, resolution)


def _finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)
