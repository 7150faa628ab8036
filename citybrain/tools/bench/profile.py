"""Where a worker's time goes, stage by stage, on the benchmark's input — in one process,
without a broker (the pure stages the ingest and cells agents run).

Stages, each timed over the whole input (µs per event):

* ``decode`` — :func:`streams.pipeline.records.decode_record` (parse, validate, normalise, H3);
* ``route`` — :func:`streams.pipeline.locate.route` over each fetch of ``fetch`` input records
  (placement key, halo copies);
* ``to cells.ingest`` — the input consumer's serialisation of each key's events into
  ``cells.ingest`` records (:func:`streams.pipeline.ingest.bodies`);
* ``from cells.ingest`` — the cells agent's parse back into events;
* ``pipeline`` — :func:`streams.pipeline.step.process_batch` on in-memory stores (fold,
  measure, rules, fusion), after a first pass over every camera so that cells hold
  their full state (the steady state of a running worker);
* ``store`` — serialising each changed cell state as the worker's Faust tables do.

Optionally a cProfile of the pipeline stage (its top functions by cumulative time).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from citybrain.config.settings import Settings
from citybrain.tools.bench.data import CAMERAS, records
from geo.geocode import load_gazetteer
from streams.pipeline.config import decode_limits, pipeline_config, zone_index
from streams.pipeline.events import Event, events_of_body
from streams.pipeline.ingest import bodies
from streams.pipeline.locate import route
from streams.pipeline.records import decode_record
from streams.pipeline.step import process_batch
from streams.pipeline.step_data import Stores
from streams.worker.faust_store import encode


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    us_per_event: float


class StageTimer:
    """Runs stages one after the other, each timed over all ``events`` (µs per event)."""

    def __init__(self, events: int) -> None:
        self.events = events
        self.stages: list[Stage] = []

    def timed(self, name: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = work()
        self.stages.append(Stage(name, (time.perf_counter() - started) / self.events * 1e6))
        return result


def profile_stages(
    events: int,
    per_record: int,
    *,
    fetch: int = 1,
    with_cprofile: bool = False,
    top: int = 25,
) -> tuple[list[Stage], str]:
    """Time each stage over ``events`` readings in records of ``per_record``, ``fetch``
    input records at a time; returns the stages and (with ``with_cprofile``) the
    pipeline stage's profile as text."""
    settings = Settings()
    limits = decode_limits(settings)
    config = pipeline_config(settings, zone_index(settings))
    placement = config.placement
    assert placement is not None
    gazetteer = load_gazetteer()
    now = int(time.time() * 1000)
    raw = [value for _, value in records(events, per_record, now)]
    warm = [value for _, value in records(CAMERAS, per_record, now - 1000)]
    timer = StageTimer(events)
    timed, stages = timer.timed, timer.stages
    decoded = timed("decode", lambda: [decode_record("camera", v, now, limits).events for v in raw])
    fetches = [
        [e for evs in decoded[i : i + fetch] for e in evs] for i in range(0, len(decoded), fetch)
    ]
    groups: list[Sequence[Event]] = timed(
        "route",
        lambda: [g for evs in fetches for g in route(evs, gazetteer, 9, placement).groups.values()],
    )
    written = timed("to cells.ingest", lambda: [b for g in groups for b in bodies(g)])
    batches = timed("from cells.ingest", lambda: [events_of_body(b) for b in written])
    stores = Stores.in_memory()
    for value in warm:  # every camera once: cells hold their full state, as in a running worker
        for g in route(decode_record("camera", value, now, limits).events, gazetteer, 9,
                       placement).groups.values():  # fmt: skip
            process_batch(g, stores=stores, partition=0, now_ms=now, config=config)
    changed: list[dict[str, Any]] = []

    def pipeline() -> None:
        for batch in batches:
            out = process_batch(batch, stores=stores, partition=0, now_ms=now + 1000, config=config)
            changed.append(out.cells)

    text = ""
    if with_cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        timed("pipeline (under cProfile)", pipeline)
        profiler.disable()
        sink = io.StringIO()
        pstats.Stats(profiler, stream=sink).sort_stats("cumulative").print_stats(top)
        text = sink.getvalue()
    else:
        timed("pipeline", pipeline)
    cells = [c for views in changed for c in views]
    timed(
        "store",
        lambda: [encode(s.to_dict(), 0) for c in cells if (s := stores.cells.get(c)) is not None],
    )
    return stages, text
