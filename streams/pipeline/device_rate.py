"""Ingest ceiling per device: a camera or sensor that floods is cut off, not believed.

A device in trouble (firmware loop, a gateway replaying its buffer in a tight loop, a
misconfigured integrator) can send far more readings than it could have made. Each
camera and sensor gets a token bucket measured in *event time* — ``burst`` readings at
once, then ``per_s`` per second of its own timestamps — so a device catching up on a
backlog with honest timestamps passes at any speed, while one stamping hundreds of
readings into the same second is refused beyond its burst. Hotline tickets are not
limited here (a channel legitimately sends many; a ticket id counts once anyway).

:func:`take` is the pure rule; :class:`DeviceBuckets` holds one bucket per device,
bounded (least recently seen forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from streams.pipeline.decode import Decoded, Rejection
from streams.pipeline.events import CameraReading, Event, SensorReading, to_wire


@dataclass(frozen=True, slots=True)
class Ceiling:
    per_s: float = 5.0  # readings per second of the device's own event time
    burst: int = 30  # readings at once


class Bucket(NamedTuple):
    """A device's tokens and the newest event time it has seen (ms). A named tuple: two
    are made per reading, and a frozen dataclass costs several times as much to make."""

    tokens: float
    ts: int


def take(bucket: Bucket | None, ts: int, ceiling: Ceiling) -> tuple[Bucket, bool]:
    """The bucket after a reading stamped ``ts`` (ms), and whether it may pass.

    Time only moves forward: an older reading refills nothing. A new device starts full.
    """
    if bucket is None:
        bucket = Bucket(float(ceiling.burst), ts)
    elif ts > bucket.ts:
        refill = (ts - bucket.ts) / 1000 * ceiling.per_s
        bucket = Bucket(min(float(ceiling.burst), bucket.tokens + refill), ts)
    if bucket.tokens >= 1.0:
        return Bucket(bucket.tokens - 1.0, bucket.ts), True
    return bucket, False


def device_of(event: Event) -> str | None:
    """The device an event came from, or None when it is not limited."""
    if isinstance(event, CameraReading):
        return f"camera:{event.camera}"
    if isinstance(event, SensorReading):
        return f"sensor:{event.sensor}"
    return None


class DeviceBuckets:
    """One bucket per device, at most ``max_devices`` (LRU)."""

    def __init__(self, ceiling: Ceiling, max_devices: int = 200_000) -> None:
        self.ceiling = ceiling
        self.max_devices = max_devices
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def get(self, device: str) -> Bucket | None:
        """The device's bucket (``camera:<id>`` / ``sensor:<id>``), None if not held."""
        return self._buckets.get(device)

    def admit(self, events: list[Event]) -> tuple[list[int], list[int]]:
        """Indexes of ``events`` that pass and of those over their device's ceiling."""
        passed: list[int] = []
        refused: list[int] = []
        for i, event in enumerate(events):
            device = device_of(event)
            if device is None:
                passed.append(i)
                continue
            bucket, ok = take(self._buckets.pop(device, None), event.ts, self.ceiling)
            self._buckets[device] = bucket  # most recently seen last
            if len(self._buckets) > self.max_devices:
                self._buckets.popitem(last=False)
            (passed if ok else refused).append(i)
        return passed, refused


def admit(decoded: Decoded, buckets: DeviceBuckets) -> tuple[list[Event], list[Rejection]]:
    """The events of a decoded record within their devices' ceilings, and a ``rate``
    rejection (with the event's place in the record) for each one over it."""
    passed, refused = buckets.admit(decoded.events)
    rejections = [
        rate_rejection(decoded.events[i], decoded.indexes[i], buckets.ceiling) for i in refused
    ]
    return [decoded.events[i] for i in passed], rejections


def rate_rejection(event: Event, index: int, ceiling: Ceiling) -> Rejection:
    """The ``rate`` rejection of ``event``, at place ``index`` in its record, refused by
    its device's ``ceiling``."""
    return Rejection(
        "rate",
        f"{device_of(event)} is over its ceiling of {ceiling.burst} readings at once and "
        f"{ceiling.per_s:g} per second of event time",
        index,
        orjson.dumps(to_wire(event)),
    )
