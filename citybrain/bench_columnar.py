"""The columnar camera path (streams/columnar/), stage by stage, on the benchmark's input:
in one process, without a broker, beside :mod:`citybrain.bench_profile`'s stages of the
per-object path, so the two compare in one run.

Stages, each timed over the whole input (µs per event):

* ``decode`` — :func:`streams.columnar.camera_columns.decode_camera_batch` over each
  fetch of ``fetch`` input records (msgspec, the checks, cached placement);
* ``fold`` — :meth:`CameraTable.fold` of each fetch (latest reading per camera and cell);
* ``measure`` — once per round of ``round_ms`` of event time (the input runs at
  :data:`citybrain.bench_data.EVENTS_PER_S`): the readings of every cell folded into
  since the last round, fused in one call (:func:`streams.columnar.crowd.fuse_cells`).

Like the per-object profile, every camera is folded once before timing, so cells hold
their full state (a running worker's steady state).
"""

from __future__ import annotations

import time

import h3
import numpy as np

from citybrain.bench_data import CAMERAS, EVENTS_PER_S, records
from citybrain.bench_profile import Stage, StageTimer
from citybrain.settings import Settings
from streams.columnar.camera_columns import CameraColumns, PlaceCache, decode_camera_batch
from streams.columnar.camera_state import CameraTable
from streams.columnar.crowd import CrowdColumns, fuse_cells
from streams.config import decode_limits


def profile_columnar(
    events: int, per_record: int, *, fetch: int = 1, round_ms: int = 250
) -> list[Stage]:
    """Time the columnar stages over ``events`` readings in records of ``per_record``,
    ``fetch`` records at a time, measuring every ``round_ms`` of event time."""
    settings = Settings()
    limits = decode_limits(settings)
    stale_ms = settings.pipeline.camera_stale_s * 1000
    now = int(time.time() * 1000)
    raw = [value for _, value in records(events, per_record, now)]
    warm = [value for _, value in records(CAMERAS, per_record, now - 1000)]
    places = PlaceCache(limits.resolution)
    table = CameraTable()
    areas: dict[int, float] = {}
    for i in range(0, len(warm), 1000):
        table.fold(decode_camera_batch(warm[i : i + 1000], now, limits, places)[0])
    timer = StageTimer(events)
    timed = timer.timed
    fetches = [raw[i : i + fetch] for i in range(0, len(raw), fetch)]
    decoded: list[CameraColumns] = timed(
        "decode", lambda: [decode_camera_batch(f, now, limits, places)[0] for f in fetches]
    )
    if sum(len(d) for d in decoded) != events:
        raise RuntimeError("the columnar decoder left records of the benchmark's input")
    touched: list[np.ndarray] = timed("fold", lambda: [table.fold(d) for d in decoded])
    per_round = max(1, EVENTS_PER_S * round_ms // 1000)

    def measure() -> list[CrowdColumns]:
        out, dirty, seen = [], [], 0
        for batch, cells in zip(decoded, touched, strict=True):
            dirty.append(cells)
            seen += len(batch)
            if seen >= per_round:
                out.append(_round(table, np.unique(np.concatenate(dirty)), now, stale_ms, areas))
                dirty, seen = [], 0
        if dirty:
            out.append(_round(table, np.unique(np.concatenate(dirty)), now, stale_ms, areas))
        return out

    timed(f"measure (every {round_ms} ms)", measure)
    return timer.stages


def _round(
    table: CameraTable, cells: np.ndarray, now: int, stale_ms: int, areas: dict[int, float]
) -> CrowdColumns:
    rows = table.rows_in(cells)
    distinct = np.unique(rows.cell)
    for c in distinct.tolist():
        if c not in areas:
            areas[c] = h3.cell_area(h3.int_to_str(c), unit="m^2")
    area = np.array([areas[c] for c in distinct.tolist()])
    no_layer = np.full(len(distinct), np.nan)
    return fuse_cells(rows, now_ms=now, stale_ms=stale_ms, walkable_m2=no_layer, cell_area_m2=area)
