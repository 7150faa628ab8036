"""The ingest stage over a batch of input records (pure): what the worker does with every
record of ``events.camera``, ``events.sensor`` and ``events.hotline``.

Each record is decoded and validated (:func:`streams.decode.decode_record`), held to its
devices' ceilings (:mod:`streams.device_rate`), its tickets' text masked
(:func:`streams.privacy.split_private`); then the good events of the whole batch are
located and routed at once (:func:`streams.locate.route`). Camera records, the bulk of
the input, take the columnar stage instead (:mod:`streams.columnar.camera_ingest`: the
same decisions, in columns) and travel on as columnar bodies. A batch is whatever the
worker's input consumer fetched at once (:mod:`streams.bulk_ingest`), so a key's events
of many input records travel on in a few ``cells.ingest`` records
(:func:`bodies`) and the cells agent measures each cell once per batch, not once per
input record: one event per input record costs what a batched record costs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from geo.geocode import Gazetteer
from streams.columnar.camera_ingest import CameraIngest
from streams.decode import Limits, Rejection, decode_record
from streams.device_rate import Ceiling, DeviceBuckets, admit
from streams.events import Event, Kind, Ticket, rows_of
from streams.locate import route
from streams.placement import Placement
from streams.privacy import PrivateText, split_private

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


@dataclass(slots=True)
class Ingested:
    """What a batch of input records becomes.

    ``groups``/``halo``: ``cells.ingest`` key → events / halo tickets (streams/halo.py);
    ``camera_bodies``: (``cells.ingest`` key, columnar body) of the camera readings
    (:mod:`streams.columnar.camera_ingest`);
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
        out = Ingested()
        valid: list[Event] = []
        cameras: list[InputRecord] = []
        for record in records:
            out.records[record.kind] += 1
            if record.kind == "camera":
                cameras.append(record)
                continue
            decoded = decode_record(record.kind, record.value, now_ms, self.limits)
            within, flooding = admit(decoded, self.buckets)
            if decoded.rejections or flooding:
                out.rejected.append((record, [*decoded.rejections, *flooding]))
            # From here on tickets carry masked text; the unmasked text goes its own way.
            events, private = split_private(within)
            out.private.extend(private)
            out.events[record.kind] += len(events)
            valid.extend(events)
        if cameras:
            self._take_cameras(cameras, now_ms, out)
        routed = route(valid, self.gazetteer, self.limits.resolution, self.placement)
        out.groups, out.halo = routed.groups, routed.halo
        out.unlocated, out.geocoded = routed.unlocated, routed.geocoded
        return out

    def _take_cameras(self, records: list[InputRecord], now_ms: int, out: Ingested) -> None:
        """The camera records of a batch, in columns (streams/columnar/camera_ingest.py)."""
        batch = self.cameras.take([r.value for r in records], now_ms)
        out.camera_bodies = batch.bodies
        out.events["camera"] += batch.readings
        out.rejected.extend((records[i], batch.rejected[i]) for i in sorted(batch.rejected))


def bodies(events: Sequence[Event], max_bytes: int = BODY_BYTES) -> Iterator[bytes]:
    """``cells.ingest`` bodies (:func:`streams.events.rows_body`) of ``events``, in order,
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
