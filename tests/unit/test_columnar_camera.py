"""The columnar camera path against the per-object reference, on generated input.

Decoding: :func:`decode_camera_batch` plus the exact path for the records it leaves
gives, record by record, what :func:`streams.pipeline.records.decode_record` gives.
Folding and fusion: :class:`CameraTable` and :func:`fuse_cells` give, per cell, the
cameras, ``updated_at`` and crowd figures of :func:`streams.pipeline.cellfold.add_all`,
:func:`streams.pipeline.cellfold.expire` and :func:`alerts.crowd.camera_fusion.fuse` — out-of-order,
duplicate, late and expired readings included.
"""

from __future__ import annotations

import math
from typing import Any

import h3
import numpy as np
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alerts.crowd.camera_fusion import CrowdEstimate, fuse
from streams.pipeline.cellfold import CellState, Windows, add_all, expire, initial
from streams.pipeline.columnar.camera_columns import PlaceCache, columns_of, decode_camera_batch
from streams.pipeline.columnar.camera_durable import (
    decode_chunk,
    encode_chunks,
    restore,
    snapshot_start,
    take_change,
)
from streams.pipeline.columnar.camera_state import CameraTable
from streams.pipeline.columnar.crowd import fuse_cells
from streams.pipeline.decode import Limits
from streams.pipeline.events import CameraReading
from streams.pipeline.records import decode_record

NOW = 1_780_000_000_000
LIMITS = Limits()
POINTS = [(23.0214, 113.1214), (23.0301, 113.1102), (22.9876, 113.0987), (23.0214, 113.1215)]


def camera_event() -> st.SearchStrategy[dict[str, Any]]:
    lat_lon = st.sampled_from(POINTS)
    good = st.fixed_dictionaries(
        {
            "id": st.sampled_from(["r1", "r2", "r3", "r4", "r5"]),
            "ts": st.integers(NOW - 600_000, NOW + 1_000),
            "people": st.integers(0, 3000),
            "area_m2": st.floats(1.0, 5000.0),
        },
        optional={
            "camera": st.sampled_from(["c1", "c2", "c3"]),
            "crs": st.sampled_from(["wgs84", "gcj02", "bd09"]),
            "flow_in": st.none() | st.floats(0, 500),
            "flow_out": st.none() | st.floats(0, 500),
        },
    ).flatmap(lambda d: lat_lon.map(lambda p: {**d, "lat": p[0], "lon": p[1]}))
    odd = st.sampled_from(
        [
            {"ts": NOW + 10_000_000},  # in the future
            {"ts": NOW - 100_000_000},  # too old
            {"ts": "2026-05-28T00:00:00+08:00"},  # ISO: the exact path reads it
            {"ts": float(NOW)},
            {"ts": True},
            {"people": -1},
            {"area_m2": 0},
            {"lat": 0.0},
            {"lat": 91.0},
            {"crs": "utm"},
            {"extra": 1},
            {"people": "12"},
        ]
    )
    return st.one_of(good, st.tuples(good, odd).map(lambda p: {**p[0], **p[1]}))


def record_value() -> st.SearchStrategy[bytes | None]:
    one = camera_event().map(orjson.dumps)
    many = st.lists(camera_event(), min_size=0, max_size=6).map(orjson.dumps)
    broken = st.sampled_from(
        [b"", b"{", b"[1,2]", b"\xff\xfe", b"null", b'{"id": "x"}', b'{"id": "\xff"}']
    )
    return st.one_of(one, many, broken, st.none())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_value(), min_size=1, max_size=12))
def test_batch_decoding_equals_the_exact_path(values: list[bytes | None]) -> None:
    columns, left = decode_camera_batch(values, NOW, LIMITS, PlaceCache(LIMITS.resolution))
    fast = columns.readings()
    by_record: dict[int, list[Any]] = {}
    for row, record in zip(fast, columns.record.tolist(), strict=True):
        by_record.setdefault(record, []).append(row)
    for index, raw in enumerate(values):
        expected = decode_record("camera", raw, NOW, LIMITS)
        if index in left:
            assert index not in by_record
            continue
        assert expected.rejections == [], (raw, expected.rejections)
        assert by_record.get(index, []) == expected.events, raw


def reading(
    camera: str, ts: int, point: int, people: int, area: float, flow: float | None
) -> CameraReading:
    lat, lon = POINTS[point]
    return CameraReading(
        id=f"{camera}-{ts}",
        ts=ts,
        lat=lat,
        lon=lon,
        cell=h3.latlng_to_cell(lat, lon, 9),
        camera=camera,
        people=people,
        area_m2=area,
        flow_in=flow,
        flow_out=None if flow is None else flow / 2,
    )


readings = st.builds(
    reading,
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(NOW - 400_000, NOW),
    st.integers(0, 3),
    st.integers(0, 4000),
    st.floats(1.0, 800.0),
    st.none() | st.floats(0, 100),
)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def same_estimate(got: CrowdEstimate | None, want: CrowdEstimate | None) -> None:
    assert (got is None) == (want is None)
    if got is None or want is None:
        return
    for name in ("density", "density_max", "people", "people_seen", "covered_m2", "walkable_m2"):
        assert close(getattr(got, name), getattr(want, name)), name
    assert (got.flow is None) == (want.flow is None)
    if got.flow is not None and want.flow is not None:
        assert close(got.flow, want.flow)
    assert got.live == want.live and got.stale == want.stale
    assert got.exceeds_layer == want.exceeds_layer
    assert got.walkable_from_layer == want.walkable_from_layer


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(readings, max_size=12), min_size=1, max_size=5),
    st.sampled_from([None, 0.0, 150.0, 3000.0]),
    st.integers(10_000, 120_000),
)
def test_fold_expire_and_fusion_equal_the_reference(
    batches: list[list[CameraReading]], walkable: float | None, stale_ms: int
) -> None:
    windows = Windows(crowd_ms=300_000)
    table = CameraTable(capacity=2)  # small: the table grows while it folds
    states: dict[str, CellState] = {}
    for batch in batches:
        per_cell: dict[str, list[CameraReading]] = {}
        for r in batch:
            per_cell.setdefault(r.cell, []).append(r)
        for cell, events in per_cell.items():
            states[cell] = add_all(states.get(cell, initial(cell)), events)
        table.fold(columns_of(batch, list(range(len(batch)))))
    states = {c: expire(s, NOW, windows) for c, s in states.items()}
    table.expire(NOW, windows.crowd_ms)

    cells = np.array(sorted(h3.str_to_int(c) for c in states), dtype=np.uint64)
    rows = table.rows_in(cells)
    held = sorted({h3.int_to_str(c) for c in rows.cell.tolist()})
    assert held == sorted(c for c, s in states.items() if s.cameras)
    distinct = np.unique(rows.cell)
    areas = np.array([h3.cell_area(h3.int_to_str(c), unit="m^2") for c in distinct.tolist()])
    layer = np.full(len(distinct), np.nan if walkable is None else walkable)
    crowd = fuse_cells(rows, now_ms=NOW, stale_ms=stale_ms, walkable_m2=layer, cell_area_m2=areas)
    for i, cell_int in enumerate(crowd.cell.tolist()):
        cell = h3.int_to_str(cell_int)
        state = states[cell]
        start = int(crowd.starts[i])
        end = int(crowd.starts[i + 1]) if i + 1 < len(crowd.starts) else len(rows.ts)
        got_cams = {
            (rows.camera[j], int(rows.ts[j]), int(rows.people[j])) for j in range(start, end)
        }
        assert got_cams == {(c.camera, c.ts, c.people) for c in state.cameras}
        want = fuse(
            state.cameras,
            now_ms=NOW,
            stale_ms=stale_ms,
            walkable_m2=walkable,
            cell_area_m2=float(areas[i]),
        )
        same_estimate(crowd.estimate(i), want)
    for cell, state in states.items():
        if state.cameras:
            assert table.updated_at[h3.str_to_int(cell)] == state.updated_at


def held(table: CameraTable) -> set[tuple[Any, ...]]:
    """A table's readings as comparable tuples (NaN flows as None)."""
    out = set()
    for (camera, cell), row in table.rows.items():
        flows = (float(table.flow_in[row]), float(table.flow_out[row]))
        out.add(
            (
                camera,
                cell,
                int(table.ts[row]),
                int(table.people[row]),
                float(table.area_m2[row]),
                *(None if math.isnan(f) else f for f in flows),
            )
        )
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(readings, max_size=10),
            st.sampled_from(["nothing", "delta", "snapshot", "expire"]),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([200, 600, 900_000]),
    st.booleans(),
)
@example(  # a reading written and expired twice between two changes (was a KeyError)
    steps=[
        ([reading("a", NOW - 400_000, 0, 0, 1.0, None)] * 3, "nothing"),
        ([], "delta"),
        ([], "expire"),
        ([reading("a", NOW - 400_000, 0, 0, 1.0, None)], "expire"),
    ],
    chunk_bytes=200,
    end_with_snapshot=False,
)
def test_snapshot_plus_deltas_restore_the_table(
    steps: list[tuple[list[CameraReading], str]], chunk_bytes: int, end_with_snapshot: bool
) -> None:
    """What a worker taking a partition over rebuilds from its changelog is the table the
    previous owner held when it wrote its last chunk, whatever was cut into how many
    chunks (small ``chunk_bytes`` cuts every change into several)."""
    table = CameraTable(capacity=2)
    log: list[bytes] = []
    base = -1
    horizon = NOW - 400_000

    def write(full: bool, offset: int) -> None:
        nonlocal base
        change = take_change(table, full=full)
        chunks = encode_chunks(
            change, base=base, offsets=[("events.camera", 0, offset)], max_bytes=chunk_bytes
        )
        if full:
            base = len(log)  # the offset the snapshot's first chunk gets
        log.extend(chunks)
        if full and len(chunks) > 1:  # a later chunk counts back to its snapshot's first
            assert snapshot_start(len(log) - 1, decode_chunk(log[-1])) == base

    write(True, 0)
    for n, (batch, then) in enumerate(steps):
        table.fold(columns_of(batch, list(range(len(batch)))))
        horizon += 60_000
        if then == "expire":
            table.drop_cells(table.expire(horizon, 300_000))
        elif then != "nothing":
            write(then == "snapshot", n + 1)
    write(end_with_snapshot, len(steps) + 1)
    restored, covered = restore(log[snapshot_start(len(log) - 1, decode_chunk(log[-1])) :])
    assert covered == [("events.camera", 0, len(steps) + 1)]
    assert held(restored) == held(table)
    assert restored.updated_at == table.updated_at
