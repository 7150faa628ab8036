"""The columnar camera path (streams/columnar/), stage by stage, on the benchmark's input:
in one process, without a broker, beside :mod:`citybrain.bench_profile`'s stages of the
per-object path, so the two compare in one run.

Stages, each timed over the whole input (µs per event):

* ``decode`` — :func:`streams.columnar.camera_columns.decode_camera_batch` over each
  fetch of ``fetch`` input records (msgspec, the checks, cached placement);
* ``fold`` — :meth:`CameraTable.fold` of each fetch (latest reading per camera and cell);
* ``measure and view`` — once per round of ``round_ms`` of event time (the input runs
  at :data:`citybrain.bench_data.EVENTS_PER_S`): every cell folded into since the last
  round measured in one call (:func:`streams.columnar.camera_round.measure_cameras`:
  fusion, trend, levels, risk, with the district's zone layers) and its
  ``cells.state`` views built (:func:`streams.columnar.camera_views.camera_views`).

Like the per-object profile, every camera is folded once before timing, so cells hold
their full state (a running worker's steady state).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from citybrain.bench_data import CAMERAS, EVENTS_PER_S, records
from citybrain.bench_profile import Stage, StageTimer
from citybrain.settings import Settings
from streams.columnar.camera_columns import CameraColumns, Cells, PlaceCache, decode_camera_batch
from streams.columnar.camera_round import ContextTable, PartitionState, measure_cameras
from streams.columnar.camera_views import camera_views
from streams.config import decode_limits, pipeline_config, zone_index
from streams.pipeline import context_of


def profile_columnar(
    events: int, per_record: int, *, fetch: int = 1, round_ms: int = 250
) -> list[Stage]:
    """Time the columnar stages over ``events`` readings in records of ``per_record``,
    ``fetch`` records at a time, measuring every ``round_ms`` of event time."""
    settings = Settings()
    limits = decode_limits(settings)
    config = pipeline_config(settings, zone_index(settings))
    now = int(time.time() * 1000)
    raw = [value for _, value in records(events, per_record, now)]
    warm = [value for _, value in records(CAMERAS, per_record, now - 1000)]
    places = PlaceCache(limits.resolution)
    state = PartitionState(config.metrics)
    table = state.cameras
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

    contexts = ContextTable(lambda cell: context_of(cell, config.zones))

    def measure_round(cells: Cells) -> list[dict[str, Any]]:
        return _round(state, contexts, cells, now)

    def measure() -> list[dict[str, Any]]:
        out, dirty, seen = [], [], 0
        for batch, cells in zip(decoded, touched, strict=True):
            dirty.append(cells)
            seen += len(batch)
            if seen >= per_round:
                out.extend(measure_round(np.unique(np.concatenate(dirty))))
                dirty, seen = [], 0
        if dirty:
            out.extend(measure_round(np.unique(np.concatenate(dirty))))
        return out

    timed(f"measure and view (every {round_ms} ms)", measure)
    return timer.stages


def _round(
    state: PartitionState, contexts: ContextTable, cells: Cells, now: int
) -> list[dict[str, Any]]:
    """One round: every cell folded into since the last one measured, and its view."""
    table = state.cameras
    held = cells[np.isin(cells, table.cell[table.used])]
    figures = measure_cameras(state, held, contexts.contexts(held), now_ms=now)
    updated = table.updated_at
    return camera_views(figures, [updated[c] for c in held.tolist()])
