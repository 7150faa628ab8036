"""The ingest stage over a batch of input records (pure): what the worker does with every
record of ``events.camera``, ``events.sensor`` and ``events.hotline``.

Each record is decoded and validated (:func:`streams.pipeline.records.decode_record`), held to its
devices' ceilings (:mod:`streams.pipeline.device_rate`), its tickets' text masked
(:func:`streams.pipeline.privacy.split_private`); then the good events of the whole batch are
located and routed at once (:func:`streams.pipeline.locate.route`). Camera records, the bulk of
the input, take the columnar stage instead (:mod:`streams.pipeline.columnar.camera_ingest`: the
same decisions, in columns) and travel on as columnar bodies. A batch is whatever the
worker's input consumer fetched at once (:mod:`streams.worker.bulk_ingest`), so a key's events
of many input records travel on in a few ``cells.ingest`` records
(:func:`bodies`) and the cells agent measures each cell once per batch, not once per
input record: one event per input record costs what a batched record costs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, NamedTuple

import orjson

from geo.geocode import Gazetteer
from streams.pipeline.columnar.camera_ingest import CameraIngest
from streams.pipeline.decode import Limits, Rejection
from streams.pipeline.device_rate import Ceiling, DeviceBuckets, admit
from streams.pipeline.events import Event, Kind, Ticket, rows_of
from streams.pipeline.locate import route
from streams.pipeline.placement import Placement
from streams.pipeline.privacy import PrivateText, split_private
from streams.pipeline.records import decode_record

#: Bytes of one ``cells.ingest`` record at most: under the producer's 1 MiB request limit
#: (about 7,000 camera readings).
BODY_BYTES = 900_000


class InputRecord(NamedTuple):
    """One input record: its kind, where it was read (full topic name, partition and
    offset: dead letters name them) and its value. A named tuple: one is made per Kafka
    record, and a frozen dataclass costs several times as much to make."""

    kind: Kind
    topic: str
    partition: int
    offset: int
    value: bytes | None


@dataclass(frozen=True, slots=True)
class InputPart:
    """The records one fetch read from one input partition, as two columns (offsets and
    values, in offset order): the input consumer makes no object per record, only the
    few records the checks refuse become :class:`InputRecord` s (dead letters name them)."""

    kind: Kind
    topic: str
    partition: int
    offsets: Sequence[int]
    values: Sequence[bytes | None]

    def __len__(self) -> int:
        return len(self.values)

    def record(self, index: int) -> InputRecord:
        """The ``index``-th record."""
        return InputRecord(
            self.kind, self.topic, self.partition, self.offsets[index], self.values[index]
        )


def parts_of(records: Iterable[InputRecord]) -> list[InputPart]:
    """``records`` as parts: each run of records of one topic and partition, in order."""
    parts: list[InputPart] = []
    offsets: list[int] = []
    values: list[bytes | None] = []
    for r in records:
        last = parts[-1] if parts else None
        if last is None or (last.kind, last.topic, last.partition) != (
            r.kind,
            r.topic,
            r.partition,
        ):
            offsets, values = [], []
            parts.append(InputPart(r.kind, r.topic, r.partition, offsets, values))
        offsets.append(r.offset)
        values.append(r.value)
    return parts


@dataclass(slots=True)
class Ingested:
    """What a batch of input records becomes.

    ``groups``/``halo``: ``cells.ingest`` key → events / halo tickets (streams/pipeline/halo.py);
    ``camera_bodies``: (``cells.ingest`` key, columnar body) of the camera readings
    (:mod:`streams.pipeline.columnar.camera_ingest`);
    ``rejected``: each input record with its rejections; ``private``: unmasked ticket
    texts (for ``hotline.private``); ``unlocated``: tickets no address could place;
    ``geocoded``: the precision of each ticket located from its address; ``records``
    and ``events``: input records and valid events by kind.
    """

    groups: dict[str, list[Event]] = field(default_factory=dict)
    halo: dict[str, list[Ticket]] = field(default_factory=dict)
    camera_bodies: list[tuple[str, bytes]] = field(default_factory=list)
    rejected: list[tuple[InputRecord, list[Rejection]]] = field(default_factory=list)
    private: list[PrivateText] = field(default_factory=list)
    unlocated: list[Ticket] = field(default_factory=list)
    geocoded: list[str] = field(default_factory=list)
    records: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)


class Ingest:
    """The ingest stage of one worker process. Holds the devices' rate buckets, so one
    instance serves every batch (the ceiling is per process: a device's records may
    reach another worker too)."""

    def __init__(
        self,
        limits: Limits,
        ceiling: Ceiling,
        gazetteer: Gazetteer,
        placement: Placement,
    ) -> None:
        self.limits, self.gazetteer, self.placement = limits, gazetteer, placement
        self.buckets = DeviceBuckets(ceiling)
        self.cameras = CameraIngest(limits, ceiling, placement)

    def take(self, records: Iterable[InputRecord], now_ms: int) -> Ingested:
        """Decode, check and route a batch; ``now_ms`` is the wall clock (for the
        decoder's bounds on event times)."""
        return self.take_parts(parts_of(records), now_ms)

    def take_parts(self, parts: Iterable[InputPart], now_ms: int) -> Ingested:
        """:meth:`take` for a batch given as parts (records in part order)."""
        out = Ingested()
        valid: list[Event] = []
        cameras: list[InputPart] = []
        for part in parts:
            out.records[part.kind] += len(part)
            if part.kind == "camera":
                cameras.append(part)
            else:
                valid.extend(self._take_one_by_one(part, now_ms, out))
        if cameras:
            self._take_cameras(cameras, now_ms, out)
        routed = route(valid, self.gazetteer, self.limits.resolution, self.placement)
        out.groups, out.halo = routed.groups, routed.halo
        out.unlocated, out.geocoded = routed.unlocated, routed.geocoded
        return out

    def _take_one_by_one(self, part: InputPart, now_ms: int, out: Ingested) -> list[Event]:
        """The exact path for a part of sensor or hotline records: its valid events."""
        valid: list[Event] = []
        for index, value in enumerate(part.values):
            decoded = decode_record(part.kind, value, now_ms, self.limits)
            within, flooding = admit(decoded, self.buckets)
            if decoded.rejections or flooding:
                out.rejected.append((part.record(index), [*decoded.rejections, *flooding]))
            # From here on tickets carry masked text; the unmasked text goes its own way.
            events, private = split_private(within)
            out.private.extend(private)
            out.events[part.kind] += len(events)
            valid.extend(events)
        return valid

    def _take_cameras(self, parts: list[InputPart], now_ms: int, out: Ingested) -> None:
        """The camera records of a batch, in columns
        (streams/pipeline/columnar/camera_ingest.py)."""
        values = parts[0].values if len(parts) == 1 else [v for p in parts for v in p.values]
        batch = self.cameras.take(values, now_ms)
        out.camera_bodies = batch.bodies
        out.events["camera"] += batch.readings
        if batch.rejected:
            starts = list(accumulate((len(p) for p in parts), initial=0))
            for i in sorted(batch.rejected):
                at = bisect_right(starts, i) - 1
                out.rejected.append((parts[at].record(i - starts[at]), batch.rejected[i]))


def bodies(events: Sequence[Event], max_bytes: int = BODY_BYTES) -> Iterator[bytes]:
    """``cells.ingest`` bodies (:func:`streams.pipeline.events.rows_body`) of ``events``, in order,
    each at most ``max_bytes`` long, as few as that allows: the cells agent measures a
    cell at most once per record. (An event longer than ``max_bytes`` alone would go
    alone; the decoder's limits keep events far shorter.)"""
    rows = rows_of(events)
    yield from _fit(rows, orjson.dumps(rows), max_bytes)


def _fit(rows: list[tuple[Any, ...]], body: bytes, max_bytes: int) -> Iterator[bytes]:
    """``body`` (the JSON of ``rows``) if it fits, else ``rows`` cut into enough parts."""
    if len(body) <= max_bytes or len(rows) < 2:
        yield body
        return
    parts = -(-len(body) // max_bytes) + 1  # one more than the bytes need: rows differ
    step = -(-len(rows) // parts)
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        yield from _fit(part, orjson.dumps(part), max_bytes)
