"""Simulate straight into a recording file, without a broker and as fast as the CPU goes.

The records are what ``citybrain sim`` would send and ``citybrain record``
capture: every ``tick_ms`` of simulated time, the events of that interval per
kind as JSON-array records of at most ``sim.batch_max`` events (the
producer's own batching), stamped with the end of the interval as their
arrival time; the scripted incident's labels go to ``events.labels`` as it
starts. A recording made this way is a repeatable scenario for backtests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

import orjson

from citybrain.config.settings import Settings
from citybrain.config.topics import EVENTS_LABELS, input_topic
from feeds.recording.files import RecordingWriter
from feeds.recording.format import RecordedRecord
from feeds.sim.city import build_city
from feeds.sim.producer import encode_batches
from feeds.sim.simulator import KINDS, Simulator
from geo.district import load_district

LABELS_TOPIC: Final = EVENTS_LABELS
TOPICS: Final = (*(input_topic(kind) for kind in KINDS), LABELS_TOPIC)


def simulate_to_recording(
    settings: Settings,
    path: Path,
    *,
    start_ms: int,
    duration_s: float,
    tick_ms: int = 500,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``duration_s`` simulated seconds from ``start_ms`` (epoch ms) to ``path``
    (``.jsonl``, ``.jsonl.gz`` or ``.parquet``); returns the number of records.
    ``progress`` is called with the simulated ms reached after each tick."""
    sim_settings = s = settings.sim
    city = build_city(s.seed, load_district(), s.cameras, s.sensors)
    sim = Simulator(city, sim_settings, start_ms)
    end_ms = start_ms + round(duration_s * 1000)
    offsets = dict.fromkeys(TOPICS, 0)
    source = {"simulator": {"seed": sim_settings.seed, "start_ms": start_ms, "end_ms": end_ms}}
    with RecordingWriter(path, topics=TOPICS, source=source, overwrite=overwrite) as out:

        def write(topic: str, value: bytes, at_ms: int, key: bytes | None = None) -> None:
            out.write(RecordedRecord(topic, 0, offsets[topic], at_ms, key, value))
            offsets[topic] += 1

        for t0 in range(start_ms, end_ms, tick_ms):
            t1 = min(t0 + tick_ms, end_ms)
            for label in sim.labels_between(t0, t1):
                write(LABELS_TOPIC, orjson.dumps(label.to_dict()), t1, label.id.encode())
            for kind, events in sim.events_between(t0, t1).items():
                for value in encode_batches(events, sim_settings.batch_max):
                    write(f"events.{kind}", value, t1)
            if progress is not None:
                progress(t1)
        return out.records
