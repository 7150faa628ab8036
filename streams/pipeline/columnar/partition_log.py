"""A partition's columnar camera state as log records, and back (pure: bytes in, out).

What a partition keeps between rounds (:class:`streams.pipeline.columnar.camera_round.
PartitionState`) is made durable as a sequence of records, each under the producer's
request limit: a **snapshot** (everything) and then **deltas** (what changed since the
previous record was taken). A worker taking the partition over applies the last
snapshot and the deltas after it, in order (:func:`restore_state`).

* the camera table: :mod:`streams.pipeline.columnar.camera_durable` chunks, snapshot or delta;
* the ``density`` and ``hotline`` baselines: the (cell, hour-of-week slot) moments
  written since the last record, and each such cell's last sample time — a cell
  takes at most one sample per ``interval_ms`` (a minute), so a delta is small;
* the sensor baselines of the few camera cells with sensors: those replaced since;
* the trend rings: in snapshots only. A ring is rewritten by every round that
  measures its cell, and holds only the last ``rise.window_ms`` (minutes) of
  samples: a worker that takes a partition over from a delta-old snapshot sees the
  rate of rise of the cells measured since with fewer samples for one window.

Records are msgpack (msgspec) with numeric columns as little-endian array bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

import msgspec
import numpy as np

from alerts.crowd.baseline import Baseline
from alerts.crowd.cell_metrics import MetricsConfig
from streams.pipeline.columnar.baseline_table import BaselineTable
from streams.pipeline.columnar.camera_columns import from_little_endian, little_endian
from streams.pipeline.columnar.camera_durable import (
    CHUNK_BYTES,
    apply_change,
    change_of,
    decode_chunk,
    encode_chunks,
    take_change,
)
from streams.pipeline.columnar.camera_round import PartitionState
from streams.pipeline.columnar.trend_ring import TrendRings

PartKind = Literal["cameras", "density", "hotline", "sensors", "rings"]
_BASELINE_ROW_BYTES = 5 * 8
_RING_SLOT_BYTES = 2 * 8


class Record(msgspec.Struct, array_like=True, frozen=True):
    """One log record: which part of the state it carries, whether it is a snapshot's,
    and the part's own encoding."""

    part: PartKind
    full: bool
    body: bytes


class BaselineRows(msgspec.Struct, array_like=True, frozen=True):
    """Moments of (cell, slot) pairs, and the last sample time of cells; ``reset``:
    cells whose row is cleared before (a cell whose series was replaced)."""

    reset: bytes
    cells: bytes
    slots: bytes
    mean: bytes
    var: bytes
    n: bytes
    last_cells: bytes
    last: bytes


class RingRows(msgspec.Struct, array_like=True, frozen=True):
    """Whole rings: per cell, ``slots`` sample times and values (row after row)."""

    slots: int
    cells: bytes
    ts: bytes
    value: bytes


class SensorRows(msgspec.Struct, array_like=True, frozen=True):
    """Sensor baselines: (cell, sensor type, the baseline as a dict)."""

    entries: list[tuple[int, str, dict[str, Any]]]


_ENCODE = msgspec.msgpack.Encoder()
_RECORD = msgspec.msgpack.Decoder(Record)
_BASELINES = msgspec.msgpack.Decoder(BaselineRows)
_RINGS = msgspec.msgpack.Decoder(RingRows)
_SENSORS = msgspec.msgpack.Decoder(SensorRows)


class PartitionLog:
    """Takes the log records of one partition's state as it changes."""

    def __init__(self, state: PartitionState, max_bytes: int = CHUNK_BYTES) -> None:
        self.state, self.max_bytes = state, max_bytes
        self.sensors_taken: dict[tuple[int, str], Baseline] = {}

    def records(self, *, full: bool) -> list[bytes]:
        """What changed since the last call (``full``: everything), as records; empty
        when nothing did."""
        s = self.state
        out: list[Record] = []
        change = take_change(s.cameras, full=full)
        if not change.empty:
            for chunk in encode_chunks(change, base=0, offsets=[], max_bytes=self.max_bytes):
                out.append(Record("cameras", full, chunk))
        for part, table in (("density", s.density), ("hotline", s.hotline)):
            for body in _baseline_parts(table, full=full, max_bytes=self.max_bytes):
                out.append(Record(part, full, body))  # type: ignore[arg-type]
        sensors = [
            (cell, kind, b.to_dict())
            for (cell, kind), b in s.sensor_baselines.items()
            if full or self.sensors_taken.get((cell, kind)) is not b
        ]
        self.sensors_taken = dict(s.sensor_baselines)
        if sensors or full:
            out.append(Record("sensors", full, _ENCODE.encode(SensorRows(sensors))))
        if full:
            for body in _ring_parts(s.rings, self.max_bytes):
                out.append(Record("rings", True, body))
        return [_ENCODE.encode(r) for r in out]

    def discard(self) -> None:
        """Forget what changed (nothing is made durable: a backtest)."""
        s = self.state
        s.cameras.clear_tracking()
        s.density.changed.clear()
        s.hotline.changed.clear()
        self.sensors_taken = dict(s.sensor_baselines)


def restore_state(records: Iterable[bytes], metrics: MetricsConfig) -> PartitionState:
    """The state the records give, read from a snapshot's first record on, in order.
    Raises ``msgspec.DecodeError`` (a ValueError) for bytes that are not records."""
    state = PartitionState(metrics)
    first_cameras = True
    for raw in records:
        record = _RECORD.decode(raw)
        if record.part == "cameras":
            chunk = decode_chunk(record.body)
            apply_change(state.cameras, change_of(chunk, first_of_snapshot=first_cameras))
            first_cameras = False
        elif record.part in ("density", "hotline"):
            table = state.density if record.part == "density" else state.hotline
            _apply_baselines(table, _BASELINES.decode(record.body))
        elif record.part == "sensors":
            for cell, kind, data in _SENSORS.decode(record.body).entries:
                state.sensor_baselines[(cell, kind)] = Baseline.from_dict(data)
        else:
            _apply_rings(state.rings, _RINGS.decode(record.body))
    state.density.changed.clear()
    state.hotline.changed.clear()
    return state


def _baseline_parts(table: BaselineTable, *, full: bool, max_bytes: int) -> Iterator[bytes]:
    """The table's written (cell, slot) moments (``full``: all held), cut to size."""
    if full:
        held = sorted(table.index.values())
        pairs = [(r, int(s)) for r in held for s in np.flatnonzero(table.n[r] > 0).tolist()]
        reset: list[int] = []
    else:
        whole = sorted({r for r, s in table.changed if s < 0})
        pairs = sorted((r, s) for r, s in table.changed if s >= 0)
        pairs += [(r, int(s)) for r in whole for s in np.flatnonzero(table.n[r] > 0).tolist()]
        reset = whole
    table.changed.clear()
    if not pairs and not reset:
        return
    cell_of_row = {row: cell for cell, row in table.index.items()}
    per_part = max(1, max_bytes // _BASELINE_ROW_BYTES - 2)
    for start in range(0, max(len(pairs), 1), per_part):
        part = pairs[start : start + per_part]
        rows = np.array([r for r, _ in part], np.int64)
        slots = np.array([s for _, s in part], np.int64)
        touched = sorted({r for r, _ in part})
        yield _ENCODE.encode(
            BaselineRows(
                reset=little_endian(np.array([cell_of_row[r] for r in reset], np.uint64), "<u8")
                if start == 0
                else b"",
                cells=little_endian(np.array([cell_of_row[r] for r, _ in part], np.uint64), "<u8"),
                slots=little_endian(slots, "<i8"),
                mean=little_endian(table.mean[rows, slots], "<f8"),
                var=little_endian(table.var[rows, slots], "<f8"),
                n=little_endian(table.n[rows, slots].astype(np.int64), "<i8"),
                last_cells=little_endian(
                    np.array([cell_of_row[r] for r in touched], np.uint64), "<u8"
                ),
                last=little_endian(table.last[np.array(touched, np.int64)], "<i8"),
            )
        )


def _apply_baselines(table: BaselineTable, rows: BaselineRows) -> None:
    for cell in from_little_endian(rows.reset, "<u8").tolist():
        table.seed(cell, None)
    cells = from_little_endian(rows.cells, "<u8")
    if len(cells):
        at = table.rows_of(cells)
        slots = from_little_endian(rows.slots, "<i8")
        table.mean[at, slots] = from_little_endian(rows.mean, "<f8")
        table.var[at, slots] = from_little_endian(rows.var, "<f8")
        table.n[at, slots] = from_little_endian(rows.n, "<i8")
    last_cells = from_little_endian(rows.last_cells, "<u8")
    if len(last_cells):
        table.last[table.rows_of(last_cells)] = from_little_endian(rows.last, "<i8")


def _ring_parts(rings: TrendRings, max_bytes: int) -> Iterator[bytes]:
    """Every ring held, cut to size."""
    cells = sorted(rings.index)
    per_part = max(1, max_bytes // (_RING_SLOT_BYTES * rings.slots + 8) - 1)
    for start in range(0, len(cells), per_part):
        part = cells[start : start + per_part]
        rows = np.array([rings.index[c] for c in part], np.int64)
        yield _ENCODE.encode(
            RingRows(
                slots=rings.slots,
                cells=little_endian(np.array(part, np.uint64), "<u8"),
                ts=little_endian(rings.ts[rows].ravel(), "<i8"),
                value=little_endian(rings.value[rows].ravel(), "<f8"),
            )
        )


def _apply_rings(rings: TrendRings, rows: RingRows) -> None:
    cells = from_little_endian(rows.cells, "<u8")
    if rows.slots != rings.slots or not len(cells):
        return  # rings of another window/bucket setting: start afresh
    at = rings.rows_of(cells)
    rings.ts[at] = from_little_endian(rows.ts, "<i8").reshape(len(cells), rings.slots)
    rings.value[at] = from_little_endian(rows.value, "<f8").reshape(len(cells), rings.slots)
