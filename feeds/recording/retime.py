"""Replay timing: pace records by their recorded spacing, shift event times to "now".

Pure. Times are epoch milliseconds (UTC) unless a name says ``_s``.

Pacing: a replay sends records in file order; record *i* is due
``(ts_i - ts_first) / speed`` ms after the replay began (its Kafka timestamp
spacing, sped up), never before the record ahead of it.

Retiming: every event time is moved by one constant shift, the largest that
puts no event later than the wall-clock moment its record is due. The pipeline
rejects events from the future, and at ``speed`` > 1 event time would
otherwise outrun the clock. When event time runs at least as fast as the
replay (the usual case), the binding record is the last one: its events land
exactly "now" as it is sent, and everything before it is in the recent past.
The shift is a whole number of seconds (rounded down), so ISO-8601 times keep
their precision and the result is never in the future.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_ISO: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?P<sep>[Tt ])(?P<hm>\d{2}:\d{2})"
    r"(?P<sec>:\d{2})?(?P<frac>[.,]\d+)?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2}(?::?\d{2}(?:\.\d+)?)?)?)"
)
LABEL_TIMES: Final = ("start_ms", "end_ms")
"""The event-time fields of a label object (``alerts.incidents.labels.Label.to_dict``)."""


class Pacer:
    """When each record of a replay is due, in ms after the replay began.

    ``speed`` is recorded ms per wall ms (2 = twice as fast); 0 means as fast as
    possible, every record due at once. Feed the Kafka timestamps in file order.
    Timestamps in a recording need not grow (several partitions, producer
    clocks); a record stamped earlier than the one before it is due with it.
    """

    __slots__ = ("_first", "_last", "speed")

    def __init__(self, speed: float) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        self.speed = speed
        self._first: int | None = None
        self._last = 0.0

    def due_ms(self, ts_ms: int) -> float:
        """Ms after the start at which the record stamped ``ts_ms`` is due (non-decreasing)."""
        if self._first is None:
            self._first = ts_ms
        if self.speed == 0:
            return 0.0
        self._last = max(self._last, (ts_ms - self._first) / self.speed)
        return self._last


def whole_second_shift(start_ms: int, lead_ms: float | None) -> int:
    """The shift (ms, a multiple of 1000, rounded down) that moves a time stamped
    ``t`` to ``t + shift`` so that the tightest record, due ``lead_ms`` ms after
    its own time stamp (``due - ts``), lands at or before its wall-clock send
    time, for a replay that begins at epoch ms ``start_ms``. 0 when ``lead_ms`` is None."""
    if lead_ms is None:
        return 0
    return math.floor((start_ms + lead_ms) / 1000) * 1000


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    """A replay worked out in advance from one pass over its records.

    ``records`` will be sent, over ``duration_ms`` wall ms at ``speed`` (0 when
    as fast as possible). ``first_ts_ms``/``last_ts_ms``: Kafka timestamps of the
    first and last record in file order (None when empty). ``kafka_lead_ms`` is
    the least ``due_ms - ts_ms`` over the records, ``event_lead_ms`` the same for
    the latest event time in each record (None when no record has one); the
    shift methods turn them into shifts for a start time.
    """

    speed: float
    records: int
    first_ts_ms: int | None
    last_ts_ms: int | None
    duration_ms: float
    kafka_lead_ms: float | None
    event_lead_ms: float | None
    topics: tuple[str, ...] = ()
    """Logical topics of the records, in order of first appearance."""

    def kafka_shift_ms(self, start_ms: int) -> int:
        """Shift for Kafka timestamps of a replay starting at epoch ms ``start_ms``."""
        return whole_second_shift(start_ms, self.kafka_lead_ms)

    def event_shift_ms(self, start_ms: int) -> int:
        """Shift for event times (``ts``, label ``start_ms``/``end_ms``) of that replay."""
        return whole_second_shift(start_ms, self.event_lead_ms)


def ts_to_ms(value: object) -> int | None:
    """Epoch ms of an event ``ts`` as the pipeline reads it (int or float epoch ms,
    or ISO-8601 with a UTC offset); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return (parsed - _EPOCH) // _MS
    return None


def shift_iso(text: str, shift_ms: int) -> str | None:
    """``text`` (ISO-8601 with an offset) moved by ``shift_ms``, written the same way:
    same offset and its spelling (``Z``, ``+08:00``, ``+0800``), same separator,
    same fraction digits. None if ``text`` is not such a time."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    moved = parsed + timedelta(milliseconds=shift_ms)
    m = _ISO.fullmatch(text)
    if m is None:  # a rarer ISO spelling (basic format, week dates): a standard one
        return moved.isoformat()
    frac = m["frac"]
    if frac:
        digits = f"{moved.microsecond:06d}".ljust(len(frac) - 1, "0")[: len(frac) - 1]
        frac = frac[0] + digits
    elif moved.microsecond:
        frac = f".{moved.microsecond // 1000:03d}"
    sec = f":{moved.second:02d}" if (m["sec"] or moved.second or frac) else ""
    return f"{moved:%Y-%m-%d}{m['sep']}{moved:%H:%M}{sec}{frac or ''}{m['tz']}"


def _shift_time(value: object, shift_ms: int) -> object | None:
    """``value`` moved by ``shift_ms`` in its own representation; None if unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value + shift_ms
    if isinstance(value, float):
        return value + shift_ms if math.isfinite(value) else None
    if isinstance(value, str):
        return shift_iso(value, shift_ms)
    return None


def _objects(doc: Any) -> list[dict[str, Any]]:
    items = doc if isinstance(doc, list) else [doc]
    return [o for o in items if isinstance(o, dict)]


def event_time_ms(value: bytes) -> int | None:
    """The latest event ``ts`` (epoch ms) in a record value: one JSON event object or
    an array of them. None if the value is not JSON or no event has a usable ``ts``."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    times = [t for o in _objects(doc) if (t := ts_to_ms(o.get("ts"))) is not None]
    return max(times, default=None)


def retime_value(value: bytes, shift_ms: int, *, label: bool = False) -> bytes | None:
    """``value`` with every event ``ts`` moved by ``shift_ms`` (ms), or for a label
    record (``label``) its ``start_ms``/``end_ms``; each time keeps its form (int,
    float, ISO-8601 string with its offset). Other fields and their order are kept;
    the JSON is re-serialised compactly. Objects without a usable time are left as
    they are. None when nothing was moved (not JSON, or no usable time at all):
    the caller then sends the original bytes."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    fields = LABEL_TIMES if label else ("ts",)
    moved = 0
    for obj in _objects(doc):
        for name in fields:
            if name not in obj:
                continue
            new = _shift_time(obj[name], shift_ms)
            if new is not None:
                obj[name] = new
                moved += 1
    return orjson.dumps(doc) if moved else None
