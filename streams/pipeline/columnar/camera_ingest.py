"""The ingest stage for camera records, in columns (pure): what the worker's input
consumer does with every fetched batch of ``events.camera``.

Contract: for a batch of camera record values, :meth:`CameraIngest.take` passes the
readings, and words the rejections, that the per-object stage
(:class:`streams.pipeline.ingest.Ingest`: :func:`streams.pipeline.records.decode_record` record by
record, then the ceiling per camera, :mod:`streams.pipeline.device_rate`) passes and words for
the same batch — the same rejections in the same order for each record, the same
readings in the same order for each ``cells.ingest`` partition — and hands them on as
columnar bodies (:mod:`streams.pipeline.columnar.camera_body`), one run per partition.

Records msgspec decodes whole go through :func:`decode_camera_batch`; the few it
leaves (malformed, out of bounds, on the zero lines) go through the exact decoder and
join the columns with :func:`columns_of`, so every camera reading of the batch is
held to one :class:`CeilingTable` whichever decoder read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from streams.pipeline.columnar.camera_body import ColumnRouter, encode_bodies
from streams.pipeline.columnar.camera_columns import (
    CameraColumns,
    Int64s,
    PlaceCache,
    columns_of,
    concat,
    decode_camera_batch,
    take,
)
from streams.pipeline.columnar.device_ceiling import CeilingTable
from streams.pipeline.decode import Limits, Rejection
from streams.pipeline.device_rate import Ceiling, rate_rejection
from streams.pipeline.events import CameraReading
from streams.pipeline.placement import Placement
from streams.pipeline.records import decode_record


@dataclass(slots=True)
class CameraBatch:
    """What a batch of camera records becomes.

    ``bodies``: (``cells.ingest`` key, columnar body), every partition's readings in
    record order; ``rejected``: index of a record in the batch → its rejections, in the
    order the per-object stage gives them (decoding first, then the ceiling);
    ``readings``: readings passed on.
    """

    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    rejected: dict[int, list[Rejection]] = field(default_factory=dict)
    readings: int = 0


class CameraIngest:
    """The camera ingest of one worker process: remembers the places of points already
    seen, the cells' partitions and one rate bucket per camera, so one instance serves
    every batch."""

    def __init__(
        self, limits: Limits, ceiling: Ceiling, placement: Placement, max_devices: int = 200_000
    ) -> None:
        self.limits = limits
        self.places = PlaceCache(limits.resolution)
        self.ceiling = CeilingTable(ceiling, max_devices)
        self.router = ColumnRouter(placement)

    def take(self, values: Sequence[bytes | None], now_ms: int) -> CameraBatch:
        """Decode, check and route the camera record ``values`` of one fetched batch;
        ``now_ms`` is the wall clock (for the decoder's bounds on event times)."""
        out = CameraBatch()
        columns, left = decode_camera_batch(values, now_ms, self.limits, self.places)
        items = _items_of_whole_records(columns.record)
        if left:
            columns, items = self._with_exact(columns, items, values, left, now_ms, out)
        passed = self.ceiling.admit(columns)
        if not passed.all():
            self._refuse(columns, items, ~passed, out)
            columns = take(columns, passed)
        out.readings = len(columns)
        for _partition, key, part in self.router.split(columns):
            out.bodies.extend((key, body) for body in encode_bodies(part))
        return out

    def _with_exact(
        self,
        columns: CameraColumns,
        items: Int64s,
        values: Sequence[bytes | None],
        left: list[int],
        now_ms: int,
        out: CameraBatch,
    ) -> tuple[CameraColumns, Int64s]:
        """``columns`` joined by the readings of the records in ``left``, decoded by the
        exact path (whose rejections are the records' first), all in record order."""
        readings: list[CameraReading] = []
        records: list[int] = []
        exact_items: list[int] = []
        for index in left:
            decoded = decode_record("camera", values[index], now_ms, self.limits)
            if decoded.rejections:
                out.rejected[index] = list(decoded.rejections)
            for event, item in zip(decoded.events, decoded.indexes, strict=True):
                assert isinstance(event, CameraReading)  # a camera record holds nothing else
                readings.append(event)
                records.append(index)
                exact_items.append(item)
        if not readings:
            return columns, items
        exact = columns_of(readings, records)
        joined = concat(columns, exact)
        order = np.argsort(joined.record, kind="stable")  # a record's rows come from one path
        all_items = np.concatenate([items, np.asarray(exact_items, np.int64)])
        return take(joined, order), all_items[order]

    def _refuse(
        self,
        columns: CameraColumns,
        items: Int64s,
        refused: npt.NDArray[np.bool_],
        out: CameraBatch,
    ) -> None:
        """A ``rate`` rejection (:func:`streams.pipeline.device_rate.rate_rejection`) for each
        refused reading, after its record's decoding rejections."""
        rows = np.flatnonzero(refused)
        readings = take(columns, rows).readings()
        for row, reading in zip(rows.tolist(), readings, strict=True):
            out.rejected.setdefault(int(columns.record[row]), []).append(
                rate_rejection(reading, int(items[row]), self.ceiling.ceiling)
            )


def _items_of_whole_records(record: Int64s) -> Int64s:
    """Each row's place in its record, for rows of records decoded whole (a record's
    rows are consecutive and all there)."""
    n = len(record)
    if n == 0:
        return np.zeros(0, np.int64)
    rows = np.arange(n, dtype=np.int64)
    starts = np.ones(n, np.bool_)
    starts[1:] = record[1:] != record[:-1]
    return rows - np.maximum.accumulate(np.where(starts, rows, 0))
