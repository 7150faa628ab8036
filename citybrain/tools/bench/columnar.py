"""The columnar camera path (streams/pipeline/columnar/), stage by stage, on the benchmark's input:
in one process, without a broker, beside :mod:`citybrain.tools.bench.profile`'s stages of the
per-object path, so the two compare in one run.

Stages, each timed over the whole input (µs per event):

* ``decode`` — :func:`streams.pipeline.columnar.camera_columns.decode_camera_batch` over each
  fetch of ``fetch`` input records (msgspec, the checks, cached placement);
* ``fold`` — :meth:`CameraHotPath.fold` of each fetch (latest reading per camera and
  cell);
* ``rounds`` — :meth:`CameraHotPath.round` once per ``round_ms`` of event time (the
  input runs at :data:`citybrain.tools.bench.data.EVENTS_PER_S`): every due cell measured in
  one call (fusion, trend, baselines, levels, risk, with the district's zone layers),
  its ``cells.state`` view built, the views that changed counted as published.

Like the per-object profile, every camera is folded once before timing, so cells hold
their full state (a running worker's steady state).
"""

from __future__ import annotations

import gc
import time

from citybrain.config.settings import Settings
from citybrain.tools.bench.data import CAMERAS, EVENTS_PER_S, records
from citybrain.tools.bench.profile import Stage, StageTimer
from streams.pipeline.columnar.camera_columns import CameraColumns, PlaceCache, decode_camera_batch
from streams.pipeline.columnar.camera_round import ContextTable
from streams.pipeline.columnar.hot_path import CameraHotPath
from streams.pipeline.config import decode_limits, pipeline_config, zone_index
from streams.pipeline.step import context_of


def profile_columnar(
    events: int, per_record: int, *, fetch: int = 1, round_ms: int = 250
) -> list[Stage]:
    """Time the columnar stages over ``events`` readings in records of ``per_record``,
    ``fetch`` records at a time, measuring every ``round_ms`` of event time."""
    # What the per-object profile left on the heap (its stores, ~18,000 cell states) is
    # no part of this path: freeze it, so the collector does not walk it again and again.
    gc.collect()
    gc.freeze()
    try:
        return _profile(events, per_record, fetch, round_ms)
    finally:
        gc.unfreeze()


def _profile(events: int, per_record: int, fetch: int, round_ms: int) -> list[Stage]:
    settings = Settings()
    limits = decode_limits(settings)
    config = pipeline_config(settings, zone_index(settings))
    now = int(time.time() * 1000)
    raw = [value for _, value in records(events, per_record, now)]
    warm = [value for _, value in records(CAMERAS, per_record, now - 1000)]
    places = PlaceCache(limits.resolution)
    contexts = ContextTable(lambda cell: context_of(cell, config.zones))
    path = CameraHotPath(config.metrics, config.windows, contexts)
    for i in range(0, len(warm), 1000):  # every camera once, and measured
        path.fold(decode_camera_batch(warm[i : i + 1000], now, limits, places)[0])
    path.round(now)
    timer = StageTimer(events)
    fetches = [raw[i : i + fetch] for i in range(0, len(raw), fetch)]
    decoded: list[CameraColumns] = timer.timed(
        "decode", lambda: [decode_camera_batch(f, now, limits, places)[0] for f in fetches]
    )
    if sum(len(d) for d in decoded) != events:
        raise RuntimeError("the columnar decoder left records of the benchmark's input")
    per_round = max(1, EVENTS_PER_S * round_ms // 1000)
    fold_s = round_s = 0.0
    seen = published = 0
    for batch in decoded:  # fold each fetch; a round once a round's worth of events is in
        started = time.perf_counter()
        path.fold(batch)
        fold_s += time.perf_counter() - started
        seen += len(batch)
        if seen >= per_round or batch is decoded[-1]:
            started = time.perf_counter()
            published += len(path.round(int(batch.ts.max())).views)
            round_s += time.perf_counter() - started
            seen = 0
    per_event = 1e6 / events
    return [
        *timer.stages,
        Stage("fold", fold_s * per_event),
        Stage(
            f"rounds every {round_ms} ms: measure, views ({published:,} published)",
            round_s * per_event,
        ),
    ]
