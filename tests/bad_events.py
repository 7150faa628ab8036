"""A corpus of malformed input: what devices and integrators really send, and what the
worker must say about each (dead-letter ``error`` and a fragment of the reason).

Used by the decoder's unit tests and by the end-to-end test that sends the whole corpus
through Kafka next to valid events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

TEN_MIB = 10 * 1024 * 1024
DAY_MS = 86_400_000


@dataclass(frozen=True)
class BadEvent:
    """One bad event, sent inside a batch of good ones: only it is dead-lettered."""

    name: str
    kind: str  # the input kind: the record goes to events.<kind>
    event: Any  # the JSON value of the event
    error: str  # expected dead-letter error
    fragment: str  # expected in the reason


@dataclass(frozen=True)
class BadRecord:
    """A whole record that cannot be read: dead-lettered whole (``index`` null)."""

    name: str
    kind: str
    raw: bytes
    error: str
    fragment: str


def good_camera(now_ms: int, n: int, where: tuple[float, float], tag: str) -> dict[str, Any]:
    lat, lon = where
    return {
        "id": f"{tag}-good-{n}",
        "ts": now_ms,
        "lat": lat,
        "lon": lon + n * 0.002,  # a cell each
        "people": 10 + n,
        "area_m2": 100.0,
        "camera": f"{tag}-cam-{n}",
    }


def bad_events(now_ms: int, tag: str) -> list[BadEvent]:
    """Bad events of every sort, each with an id starting with ``tag``."""
    cam = {
        "ts": now_ms,
        "lat": 22.93,
        "lon": 113.02,
        "people": 5,
        "area_m2": 50.0,
    }
    sensor = {"ts": now_ms, "lat": 22.93, "lon": 113.02, "type": "water_level", "value": 1.0}
    ticket = {
        "ts": now_ms,
        "channel": "12345",
        "category": "traffic",
        "text": "路口拥堵",
        "lat": 22.93,
        "lon": 113.02,
    }

    def c(name: str, change: dict[str, Any], error: str, fragment: str) -> BadEvent:
        return BadEvent(name, "camera", {**cam, "id": f"{tag}-{name}", **change}, error, fragment)

    def without(event: dict[str, Any], key: str) -> dict[str, Any]:
        return {k: v for k, v in event.items() if k != key}

    return [
        c("wrong-type", {"people": "many"}, "validation", "people"),
        c("float-count", {"people": 2.5}, "validation", "people"),
        c("bool-count", {"people": True}, "validation", "people"),
        c("lat-range", {"lat": 91.0}, "validation", "lat"),
        c("lon-range", {"lon": -180.5}, "validation", "lon"),
        c("unknown-crs", {"crs": "utm50n"}, "validation", "crs"),
        c("negative-count", {"people": -3}, "validation", "people"),
        c("zero-area", {"area_m2": 0}, "validation", "area_m2"),
        c("inf-area-string", {"area_m2": "Infinity"}, "validation", "area_m2"),
        c("future", {"ts": now_ms + DAY_MS}, "time", "in the future"),
        c("past", {"ts": now_ms - 30 * DAY_MS}, "time", "old"),
        c("huge-ts", {"ts": 1e40}, "time", "in the future"),
        c("ts-garbage", {"ts": "yesterday"}, "validation", "ts"),
        c("unknown-kind", {"kind": "drone"}, "validation", "kind"),
        c("id-empty", {"id": ""}, "validation", "id"),
        c("id-long", {"id": tag + "x" * 300}, "validation", "id"),
        BadEvent(
            "missing-area",
            "camera",
            without({**cam, "id": f"{tag}-missing-area"}, "area_m2"),
            "validation",
            "area_m2",
        ),
        BadEvent("not-an-object", "camera", [f"{tag}-not-an-object"], "shape", "JSON object"),
        BadEvent(
            "sensor-nan",
            "sensor",
            {**sensor, "id": f"{tag}-sensor-nan", "value": "NaN"},
            "validation",
            "value",
        ),
        BadEvent(
            "sensor-kind-mismatch",
            "sensor",
            {**sensor, "id": f"{tag}-sensor-kind", "kind": "camera"},
            "validation",
            "kind",
        ),
        BadEvent(
            "hotline-channel",
            "hotline",
            {**ticket, "id": f"{tag}-hotline-channel", "channel": "999"},
            "validation",
            "channel",
        ),
        BadEvent(
            "hotline-nowhere",
            "hotline",
            without(without({**ticket, "id": f"{tag}-hotline-nowhere"}, "lat"), "lon"),
            "validation",
            "lat/lon or address",
        ),
        BadEvent(
            "hotline-long-text",
            "hotline",
            {**ticket, "id": f"{tag}-hotline-long", "text": "堵" * 4001},
            "validation",
            "text",
        ),
    ]


def bad_records(kind: str, tag: str) -> list[BadRecord]:
    """Records that are unreadable as a whole (each mentions ``tag`` where it can)."""
    t = tag.encode()
    nested = b"[" * 2000 + b"]" * 2000
    big = b'[{"id": "' + t + b'", "pad": "' + b"x" * TEN_MIB + b'"}]'
    # fmt: off
    return [
        BadRecord("not-utf8", kind, b"\xff\xfe" + t + b"\xc3\x28", "encoding", "UTF-8"),
        BadRecord("invalid-json", kind, b'{"id": "' + t + b'", ', "json", "JSON"),
        BadRecord("nan-literal", kind, b'{"id": "' + t + b'", "x": NaN}', "json", "JSON"),
        BadRecord("infinity", kind, b'[{"id": "' + t + b'", "x": -Infinity}]', "json", "JSON"),
        BadRecord("deep-nesting", kind, nested, "json", "JSON"),
        BadRecord("scalar", kind, orjson.dumps(tag), "shape", "object or an array"),
        BadRecord("empty-batch", kind, b"[]", "shape", "empty batch"),
        BadRecord("ten-mib", kind, big, "size", "exceeds"),
    ]
    # fmt: on
