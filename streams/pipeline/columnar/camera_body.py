"""Camera columns between processes: routing by placement, and the ``cells.ingest`` body
that carries them (edge code: bytes in, columns out).

:class:`ColumnRouter` gives each reading the partition that holds its cell's state
(:meth:`streams.pipeline.placement.Placement.partition`, remembered per cell) and its
``cells.ingest`` key, so a fetched batch is cut into one body per partition.
:func:`encode_bodies` writes a partition's readings as msgpack with the numeric
columns as little-endian array bytes, cut under the producer's request limit;
:func:`decode_body` reads one back. A body starts with :data:`MAGIC`, which no JSON
body of :func:`streams.pipeline.events.rows_body` can (those start with ``[``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import h3
import msgspec
import numpy as np

from streams.pipeline.columnar.camera_columns import (
    CameraColumns,
    from_little_endian,
    little_endian,
    take,
)
from streams.pipeline.placement import Placement

#: First bytes of a columnar camera body on ``cells.ingest``.
MAGIC = b"CB1\x00"
#: Bytes of one body at most: under the producer's 1 MiB request limit.
BODY_BYTES = 900_000
_ROW_BYTES = 8 * 8 + 16  # numeric columns of a reading, and msgpack's framing of its ids


class _Body(msgspec.Struct, array_like=True, frozen=True):
    ids: list[str]
    camera: list[str]
    columns: bytes  # record, ts, lat, lon, cell, people, area_m2, flow_in, flow_out


_ENCODE = msgspec.msgpack.Encoder()
_DECODE = msgspec.msgpack.Decoder(_Body)
_LAYOUT = (
    ("record", "<i8"),
    ("ts", "<i8"),
    ("lat", "<f8"),
    ("lon", "<f8"),
    ("cell", "<u8"),
    ("people", "<i8"),
    ("area_m2", "<f8"),
    ("flow_in", "<f8"),
    ("flow_out", "<f8"),
)


def is_camera_body(body: bytes) -> bool:
    """Whether a ``cells.ingest`` body is a columnar camera body."""
    return body[: len(MAGIC)] == MAGIC


def encode_bodies(columns: CameraColumns, max_bytes: int = BODY_BYTES) -> Iterator[bytes]:
    """``columns`` as bodies of at most about ``max_bytes``, in order."""
    n = len(columns)
    longest = max(map(len, columns.ids), default=0) + max(map(len, columns.camera), default=0)
    per_body = max(1, (max_bytes - 64) // (_ROW_BYTES + 2 * longest))
    for start in range(0, n, per_body):
        end = min(n, start + per_body)
        part = columns if (start, end) == (0, n) else take(columns, np.arange(start, end))
        packed = b"".join(little_endian(getattr(part, name), code) for name, code in _LAYOUT)
        yield MAGIC + _ENCODE.encode(_Body(part.ids, part.camera, packed))


def decode_body(body: bytes) -> CameraColumns:
    """Inverse of :func:`encode_bodies` for one body (internal topic: trusted, but a
    body that is not one raises ``msgspec.DecodeError`` / ``ValueError``)."""
    if not is_camera_body(body):
        raise ValueError("not a columnar camera body")
    decoded = _DECODE.decode(body[len(MAGIC) :])
    n = len(decoded.ids)
    if len(decoded.camera) != n or len(decoded.columns) != 8 * n * len(_LAYOUT):
        raise ValueError("columnar camera body: columns of different lengths")

    def column(k: int) -> Any:
        return from_little_endian(decoded.columns, _LAYOUT[k][1], n, offset=8 * n * k)

    record, ts, lat, lon, cell, people, area, flow_in, flow_out = (
        column(k) for k in range(len(_LAYOUT))
    )
    return CameraColumns(
        record=record, ids=list(decoded.ids), camera=list(decoded.camera), ts=ts, lat=lat,
        lon=lon, cell=cell, people=people, area_m2=area, flow_in=flow_in, flow_out=flow_out,
    )  # fmt: skip


class ColumnRouter:
    """Partition and ``cells.ingest`` key of each reading's cell, remembered per cell."""

    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        self.known: dict[int, tuple[int, str]] = {}

    def split(self, columns: CameraColumns) -> list[tuple[int, str, CameraColumns]]:
        """``(partition, key, readings)`` for each partition the readings' cells are
        placed on, by partition; readings keep their order within a partition. The key
        is one of the partition's cells' keys (Kafka's partitioner maps it there)."""
        if not len(columns):
            return []
        if self.placement.partitions == 1:  # no split: the first reading's key
            _, key = self._placed(int(columns.cell[0]))
            return [(0, key, columns)]
        # one look-up per distinct cell, in the order the cells first appear
        cells, first, inverse = np.unique(columns.cell, return_index=True, return_inverse=True)
        placed = [self._placed(cell) for cell in cells.tolist()]
        partitions = np.array([p for p, _ in placed], np.int64)[inverse]
        keys: dict[int, str] = {}
        for j in np.argsort(first, kind="stable").tolist():
            keys.setdefault(*placed[j])
        return [(p, keys[p], take(columns, np.flatnonzero(partitions == p))) for p in sorted(keys)]

    def _placed(self, cell: int) -> tuple[int, str]:
        found = self.known.get(cell)
        if found is None:
            name = h3.int_to_str(cell)
            found = (self.placement.partition(name), self.placement.key(name))
            self.known[cell] = found
        return found
