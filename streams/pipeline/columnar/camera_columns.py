"""A batch of camera records decoded into columns (pure).

Contract: for a batch of ``events.camera`` record values,
:func:`decode_camera_batch` gives the readings that
:func:`streams.pipeline.records.decode_record` gives record by record, in the same order, as
columns; plus the indexes of the records it left to that exact path, which decides
their readings and words their rejections. A record is decoded here only when
msgspec accepts it whole and every reading in it passes the checks (an integer ``ts``
within the time bounds, finite flows, a point away from the zero meridian and
equator, whose zero sign the exact path keeps); anything else in a record sends the
whole record to the exact path, so no rejection ever loses its reason.

Costs per reading (docs/benchmarks.md): one msgspec struct, a few list items, and a
dictionary look-up for its place (devices stand still: the WGS-84 point and H3 cell
of a point already seen are remembered, :class:`PlaceCache`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import h3
import msgspec
import numpy as np
import numpy.typing as npt

from streams.pipeline.decode import Limits
from streams.pipeline.decode_fast import CAMERA_RECORD, CameraMsg, place_point
from streams.pipeline.events import CameraReading

Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Cells = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class CameraColumns:
    """Camera readings as columns; row ``i`` is one reading, all arrays of one length.

    ``record``: index of the input record in its batch; ``ts``: epoch ms; ``lat``/``lon``:
    WGS-84 degrees; ``cell``: H3 index (int form) at the fine resolution; ``camera``:
    the camera id (the event id when the feed gives none); ``people``: persons in view;
    ``area_m2``: m²; ``flow_in``/``flow_out``: persons/min, NaN when not sent.
    """

    record: Int64s
    ids: list[str]
    camera: list[str]
    ts: Int64s
    lat: Floats
    lon: Floats
    cell: Cells
    people: Int64s
    area_m2: Floats
    flow_in: Floats
    flow_out: Floats

    def __len__(self) -> int:
        return len(self.ts)

    def readings(self) -> list[CameraReading]:
        """The rows as the exact path's objects (for the reference and the rare edge)."""
        return [
            CameraReading(
                id=self.ids[i],
                ts=int(self.ts[i]),
                lat=float(self.lat[i]),
                lon=float(self.lon[i]),
                cell=h3.int_to_str(int(self.cell[i])),
                camera=self.camera[i],
                people=int(self.people[i]),
                area_m2=float(self.area_m2[i]),
                flow_in=None if math.isnan(self.flow_in[i]) else float(self.flow_in[i]),
                flow_out=None if math.isnan(self.flow_out[i]) else float(self.flow_out[i]),
            )
            for i in range(len(self))
        ]


def columns_of(readings: Sequence[CameraReading], records: Sequence[int]) -> CameraColumns:
    """Columns of readings the exact path decoded (``records[i]``: reading i's record)."""
    return CameraColumns(
        record=np.asarray(records, dtype=np.int64),
        ids=[r.id for r in readings],
        camera=[r.camera for r in readings],
        ts=np.fromiter((r.ts for r in readings), np.int64, len(readings)),
        lat=np.fromiter((r.lat for r in readings), np.float64, len(readings)),
        lon=np.fromiter((r.lon for r in readings), np.float64, len(readings)),
        cell=np.fromiter((h3.str_to_int(r.cell) for r in readings), np.uint64, len(readings)),
        people=np.fromiter((r.people for r in readings), np.int64, len(readings)),
        area_m2=np.fromiter((r.area_m2 for r in readings), np.float64, len(readings)),
        flow_in=_nan_for_none(r.flow_in for r in readings),
        flow_out=_nan_for_none(r.flow_out for r in readings),
    )


def take(
    columns: CameraColumns, rows: npt.NDArray[np.intp] | npt.NDArray[np.bool_]
) -> CameraColumns:
    """The rows ``rows`` (indexes or a mask) of ``columns``, in that order."""
    index = np.flatnonzero(rows) if rows.dtype == np.bool_ else rows
    return CameraColumns(
        record=columns.record[index],
        ids=[columns.ids[i] for i in index],
        camera=[columns.camera[i] for i in index],
        ts=columns.ts[index],
        lat=columns.lat[index],
        lon=columns.lon[index],
        cell=columns.cell[index],
        people=columns.people[index],
        area_m2=columns.area_m2[index],
        flow_in=columns.flow_in[index],
        flow_out=columns.flow_out[index],
    )


def concat(a: CameraColumns, b: CameraColumns) -> CameraColumns:
    """The rows of ``a`` then those of ``b``."""
    return CameraColumns(
        record=np.concatenate([a.record, b.record]),
        ids=[*a.ids, *b.ids],
        camera=[*a.camera, *b.camera],
        ts=np.concatenate([a.ts, b.ts]),
        lat=np.concatenate([a.lat, b.lat]),
        lon=np.concatenate([a.lon, b.lon]),
        cell=np.concatenate([a.cell, b.cell]),
        people=np.concatenate([a.people, b.people]),
        area_m2=np.concatenate([a.area_m2, b.area_m2]),
        flow_in=np.concatenate([a.flow_in, b.flow_in]),
        flow_out=np.concatenate([a.flow_out, b.flow_out]),
    )


#: The native numpy type of each little-endian column code bodies and chunks carry.
_NATIVE = {"<i8": np.int64, "<u8": np.uint64, "<f8": np.float64}


def little_endian(values: npt.NDArray[Any], code: str) -> bytes:
    """A column's bytes on the wire: ``code`` is ``<i8``, ``<u8`` or ``<f8``."""
    return values.astype(code).tobytes()


def from_little_endian(raw: bytes, code: str, count: int = -1, offset: int = 0) -> Any:
    """Inverse of :func:`little_endian`: a native array (``count`` items from byte
    ``offset``; all by default)."""
    return np.frombuffer(raw, code, count, offset=offset).astype(_NATIVE[code])


class PlaceCache:
    """WGS-84 point and H3 cell (int) of each ``(lat, lon, crs)`` sent, computed once by
    the exact path's own placement (:func:`streams.pipeline.decode_fast.place_point`, so the
    figures are the same to the bit).
    Bounded: cleared when it passes ``max_points`` (a moving fleet cannot grow it)."""

    def __init__(self, resolution: int, max_points: int = 500_000) -> None:
        self.resolution, self.max_points = resolution, max_points
        self.points: dict[tuple[float, float, str], tuple[float, float, int]] = {}

    def place(self, lat: float, lon: float, crs: str) -> tuple[float, float, int] | None:
        """The point's WGS-84 ``(lat, lon)`` and cell, or None when it cannot be placed."""
        key = (lat, lon, crs)
        found = self.points.get(key)
        if found is None:
            try:
                wlat, wlon, cell = place_point(lat, lon, crs, self.resolution)
            except ValueError:  # what the exact path rejects as "cannot place event"
                return None
            found = (wlat, wlon, h3.str_to_int(cell))
            if len(self.points) >= self.max_points:
                self.points.clear()
            self.points[key] = found
        return found


def _nan_for_none(values: Iterable[float | None]) -> Floats:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def decode_camera_batch(
    values: Sequence[bytes | None], now_ms: int, limits: Limits, places: PlaceCache
) -> tuple[CameraColumns, list[int]]:
    """Decode the camera record ``values`` of one fetched batch.

    Returns the readings of the records decided here, as columns in record order, and
    the indexes (into ``values``) of the records left to the exact path
    (:func:`streams.pipeline.records.decode_record`), in order.
    """
    msgs: list[CameraMsg] = []
    owner: list[int] = []
    left: set[int] = set()
    too_big = limits.max_record_bytes
    decode = CAMERA_RECORD.decode
    for index, raw in enumerate(values):
        # msgspec refuses what is not UTF-8 (strings are checked; any other non-ASCII
        # byte is not JSON), so only null and size need a look first
        if raw is None or len(raw) > too_big:
            left.add(index)  # the exact path words the record's rejection
            continue
        try:
            doc = decode(raw)
        except (msgspec.DecodeError, RecursionError):
            left.add(index)
            continue
        if type(doc) is list:
            if not doc:
                left.add(index)
                continue
            msgs.extend(doc)
            owner.extend([index] * len(doc))
        else:
            msgs.append(doc)  # type: ignore[arg-type]
            owner.append(index)
    rows = _rows(msgs, owner, now_ms, limits, places, left)
    return rows, sorted(left)


def _rows(
    msgs: list[CameraMsg],
    owner: list[int],
    now_ms: int,
    limits: Limits,
    places: PlaceCache,
    left: set[int],
) -> CameraColumns:
    """Columns of ``msgs`` (``owner[i]``: msg i's record); records with any msg that
    the checks refuse are added to ``left`` and their msgs dropped."""
    n = len(msgs)
    owners = np.asarray(owner, dtype=np.int64)
    ok = np.ones(n, np.bool_)
    # ts: integers only (a float, ISO or out-of-range one is the exact path's to read)
    ts_any = np.array([m.ts for m in msgs])
    if ts_any.dtype == np.int64:
        ts = ts_any
    else:
        readable = [type(t) is int and -(2**62) < t < 2**62 for t in ts_any.tolist()]
        ts = np.array(
            [t if r else 0 for t, r in zip(ts_any.tolist(), readable, strict=True)], np.int64
        )
        ok &= np.array(readable, np.bool_)
    ok &= (ts >= now_ms - limits.max_age_ms) & (ts <= now_ms + limits.max_future_ms)
    flow_in = _nan_for_none([m.flow_in for m in msgs])
    flow_out = _nan_for_none([m.flow_out for m in msgs])
    ok &= ~(np.isinf(flow_in) | np.isinf(flow_out))
    # places: remembered per point sent; a point on the zero lines is the exact path's
    # (it keeps the zero's sign, which a remembered point would not), so it is never
    # remembered, and a miss for it stays a miss
    keys = [(m.lat, m.lon, m.crs) for m in msgs]
    get = places.points.get
    found = [get(k) for k in keys]
    for i, hit in enumerate(found):
        if hit is None:
            lat_i, lon_i, crs = keys[i]
            found[i] = places.place(lat_i, lon_i, crs) if lat_i and lon_i else None
            if found[i] is None:
                ok[i] = False
    placed = [_NOWHERE if h is None else h for h in found]
    lat = np.array([p[0] for p in placed], np.float64)
    lon = np.array([p[1] for p in placed], np.float64)
    cell = np.array([p[2] for p in placed], np.uint64)
    if not ok.all():
        left.update(owners[~ok].tolist())
        keep = ~np.isin(owners, owners[~ok])
    else:
        keep = ok
    columns = CameraColumns(
        record=owners,
        ids=[m.id for m in msgs],
        camera=[m.camera or m.id for m in msgs],
        ts=ts,
        lat=lat,
        lon=lon,
        cell=cell,
        people=np.array([m.people for m in msgs], np.int64),
        area_m2=np.array([m.area_m2 for m in msgs], np.float64),
        flow_in=flow_in,
        flow_out=flow_out,
    )
    return columns if keep.all() else take(columns, keep)


_NOWHERE = (0.0, 0.0, 0)  # stands in for a point the checks refused (row dropped)
