"""A partition's camera table made durable as snapshots plus deltas (pure: bytes in, out).

Instead of one keyed changelog write per cell per measurement, the table is written to
its changelog partition as a sequence of chunks, each under the broker's record limit:

* a **snapshot**: every held reading and every cell's ``updated_at``, cut into chunks;
* then **deltas**: what changed since the previous snapshot or delta (readings written,
  readings expired, cells' ``updated_at`` set or dropped).

Every chunk carries ``base``: in a delta, the log offset of the first chunk of the
snapshot it builds on; in a snapshot's ``k``-th chunk (from 0), ``-1 - k`` (the chunks of
one change are written one after the other by the partition's one writer, so the
snapshot starts ``k`` offsets earlier). And ``offsets``, the input offsets the state
covers once this chunk is applied (``[topic, partition, next offset]``). So a worker
taking the partition over reads the partition's last record, seeks to
:func:`snapshot_start` and applies everything from there (:func:`restore`), then
replays its input from the covered offsets. The writer commits input offsets only
after the chunk that covers them is acknowledged; the fold is idempotent (newest
reading wins), so a replay of input the state already covers changes nothing.

Encoding: msgpack (msgspec) with the numeric columns as little-endian array bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np

from streams.pipeline.columnar.camera_columns import (
    Cells,
    Int64s,
    from_little_endian,
    little_endian,
)
from streams.pipeline.columnar.camera_state import CameraRows, CameraTable

ChunkKind = Literal["snapshot", "delta"]
#: Bytes of one chunk at most: under the producer's 1 MiB request limit.
CHUNK_BYTES = 900_000
_ROW_BYTES = 6 * 8 + 8  # numeric columns of a reading, and msgpack's framing of its id


@dataclass(frozen=True, slots=True)
class TableChange:
    """Readings written (``readings``), readings removed (``removed_camera``/
    ``removed_cell``), cells whose ``updated_at`` is set (``cells``/``updated_at``) or
    dropped (``dropped``). ``full``: a snapshot (the table is exactly this), else a delta
    on the previous state."""

    full: bool
    readings: CameraRows
    removed_camera: list[str]
    removed_cell: Cells
    cells: Cells
    updated_at: Int64s
    dropped: Cells

    @property
    def empty(self) -> bool:
        """Whether the change changes nothing (a delta of a table nothing wrote to)."""
        return not (
            self.full
            or len(self.readings.camera)
            or len(self.removed_camera)
            or len(self.cells)
            or len(self.dropped)
        )


def take_change(table: CameraTable, *, full: bool) -> TableChange:
    """What ``table`` wrote since the last change taken (``full``: all it holds), and
    start tracking afresh."""
    rows = np.flatnonzero(table.used if full else table.dirty)
    if full:
        cells = sorted(table.updated_at)
        removed: list[tuple[str, int]] = []
        dropped: list[int] = []
    else:
        cells = sorted(table.cells_changed)
        removed, dropped = table.removed, sorted(table.cells_dropped)
    change = TableChange(
        full=full,
        readings=table.readings_at(rows),
        removed_camera=[c for c, _ in removed],
        removed_cell=np.array([cell for _, cell in removed], np.uint64),
        cells=np.array(cells, np.uint64),
        updated_at=np.array([table.updated_at[c] for c in cells], np.int64),
        dropped=np.array(dropped, np.uint64),
    )
    table.clear_tracking()
    return change


def apply_change(table: CameraTable, change: TableChange) -> None:
    """Make ``table`` what ``change`` says (a snapshot replaces everything)."""
    r = change.readings
    if change.full:
        table.reset(capacity=max(1024, len(r.camera)))
    removed = zip(change.removed_camera, change.removed_cell.tolist(), strict=True)
    # a reading written and expired twice between two changes is listed twice
    held = sorted({row for key in removed if (row := table.rows.get(key)) is not None})
    table.release(np.array(held, np.int64))
    rows = np.array(
        [table.row_of(c, cell) for c, cell in zip(r.camera, r.cell.tolist(), strict=True)],
        np.int64,
    )
    table.ts[rows] = r.ts
    table.people[rows] = r.people
    table.area_m2[rows] = r.area_m2
    table.flow_in[rows] = r.flow_in
    table.flow_out[rows] = r.flow_out
    for cell, ts in zip(change.cells.tolist(), change.updated_at.tolist(), strict=True):
        table.updated_at[cell] = ts
    for cell in change.dropped.tolist():
        table.updated_at.pop(cell, None)
    table.clear_tracking()


class Chunk(msgspec.Struct, array_like=True, frozen=True):
    """One record of a table's changelog partition (see the module docstring)."""

    kind: ChunkKind
    base: int  # offset of the snapshot's first chunk; -1 in that chunk itself
    offsets: list[tuple[str, int, int]]  # (topic, partition, next offset) covered
    camera: list[str]
    cell: bytes
    ts: bytes
    people: bytes
    area_m2: bytes
    flow_in: bytes
    flow_out: bytes
    removed_camera: list[str]
    removed_cell: bytes
    cells: bytes
    updated_at: bytes
    dropped: bytes


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Chunk)


def encode_chunks(
    change: TableChange,
    *,
    base: int,
    offsets: Iterable[tuple[str, int, int]],
    max_bytes: int = CHUNK_BYTES,
) -> list[bytes]:
    """``change`` as chunks of at most about ``max_bytes`` each. ``base``: the offset of
    the snapshot a delta builds on (unused for a snapshot, whose chunks count back to
    their first); the offsets go into every chunk (the last applied is what counts)."""
    covered = list(offsets)
    kind: ChunkKind = "snapshot" if change.full else "delta"
    r = change.readings
    n = len(r.camera)
    longest = max((len(c.encode()) for c in r.camera), default=0)
    per_chunk = max(1, max_bytes // (_ROW_BYTES + longest) - 1)
    out = []
    for k, start in enumerate(range(0, max(n, 1), per_chunk)):
        part = slice(start, min(n, start + per_chunk))
        first = start == 0
        out.append(
            _ENCODER.encode(
                Chunk(
                    kind=kind,
                    base=-1 - k if change.full else base,
                    offsets=covered,
                    camera=r.camera[part],
                    cell=little_endian(r.cell[part], "<u8"),
                    ts=little_endian(r.ts[part], "<i8"),
                    people=little_endian(r.people[part], "<i8"),
                    area_m2=little_endian(r.area_m2[part], "<f8"),
                    flow_in=little_endian(r.flow_in[part], "<f8"),
                    flow_out=little_endian(r.flow_out[part], "<f8"),
                    # removals and cells ride in the first chunk (they are few)
                    removed_camera=change.removed_camera if first else [],
                    removed_cell=little_endian(change.removed_cell, "<u8") if first else b"",
                    cells=little_endian(change.cells, "<u8") if first else b"",
                    updated_at=little_endian(change.updated_at, "<i8") if first else b"",
                    dropped=little_endian(change.dropped, "<u8") if first else b"",
                )
            )
        )
    return out


def decode_chunk(raw: bytes) -> Chunk:
    """One chunk; ``msgspec.DecodeError`` (a ValueError) for bytes that are not one."""
    return _DECODER.decode(raw)


def change_of(chunk: Chunk, *, first_of_snapshot: bool) -> TableChange:
    """The table change a chunk carries (a snapshot's later chunks add to its first)."""
    return TableChange(
        full=chunk.kind == "snapshot" and first_of_snapshot,
        readings=CameraRows(
            cell=from_little_endian(chunk.cell, "<u8"),
            camera=list(chunk.camera),
            ts=from_little_endian(chunk.ts, "<i8"),
            people=from_little_endian(chunk.people, "<i8"),
            area_m2=from_little_endian(chunk.area_m2, "<f8"),
            flow_in=from_little_endian(chunk.flow_in, "<f8"),
            flow_out=from_little_endian(chunk.flow_out, "<f8"),
        ),
        removed_camera=list(chunk.removed_camera),
        removed_cell=from_little_endian(chunk.removed_cell, "<u8"),
        cells=from_little_endian(chunk.cells, "<u8"),
        updated_at=from_little_endian(chunk.updated_at, "<i8"),
        dropped=from_little_endian(chunk.dropped, "<u8"),
    )


def snapshot_start(offset: int, chunk: Chunk) -> int:
    """Where the snapshot that the chunk at ``offset`` builds on (or belongs to) starts."""
    return chunk.base if chunk.base >= 0 else offset + chunk.base + 1


def restore(chunks: Iterable[bytes]) -> tuple[CameraTable, list[tuple[str, int, int]]]:
    """The table and covered input offsets from a partition's chunks, read from the
    ``base`` of its last record to its end (a snapshot's first chunk first)."""
    table = CameraTable()
    covered: list[tuple[str, int, int]] = []
    for raw in chunks:
        chunk = decode_chunk(raw)
        apply_change(table, change_of(chunk, first_of_snapshot=chunk.base == -1))
        covered = list(chunk.offsets)
    return table, covered
