"""The ingest ceiling per device: floods are cut at the burst, honest devices (even a
backlog replayed at full speed) always pass."""

from __future__ import annotations

from dataclasses import replace

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.pipeline.decode import Limits
from streams.pipeline.device_rate import Ceiling, DeviceBuckets, admit, take
from streams.pipeline.records import decode_record
from tests.unit.pipeline_kit import T0, camera, ticket

CEILING = Ceiling(per_s=2.0, burst=5)
NOW = T0 + 10_000


def test_a_flood_in_one_second_is_cut_at_the_burst() -> None:
    buckets = DeviceBuckets(CEILING)
    flood = [replace(camera(0, n), id=f"r{n}") for n in range(12)]  # all stamped T0
    passed, refused = buckets.admit(flood)
    assert passed == [0, 1, 2, 3, 4] and refused == list(range(5, 12))


def test_a_backlog_with_honest_timestamps_passes_at_any_speed() -> None:
    buckets = DeviceBuckets(CEILING)
    backlog = [camera(t, 10) for t in range(0, 600)]  # ten minutes at 1 Hz, sent at once
    passed, refused = buckets.admit(backlog)
    assert refused == [] and len(passed) == 600


def test_devices_have_their_own_buckets_and_tickets_are_not_limited() -> None:
    buckets = DeviceBuckets(CEILING)
    events = [camera(0, 1, cam=f"c{i % 3}") for i in range(15)] + [ticket(i, 0) for i in range(9)]
    passed, refused = buckets.admit(events)
    assert refused == [] and len(passed) == 24


def test_older_readings_refill_nothing() -> None:
    b, ok = take(None, T0, CEILING)
    for _ in range(4):
        b, ok = take(b, T0, CEILING)
    assert ok and b.tokens == 0
    b, ok = take(b, T0 - 60_000, CEILING)  # a minute older: no refill
    assert not ok
    b, ok = take(b, T0 + 500, CEILING)  # half a second later: one token
    assert ok and b.tokens == 0


def test_the_store_forgets_the_least_recently_seen_device() -> None:
    buckets = DeviceBuckets(CEILING, max_devices=3)
    buckets.admit([camera(0, 1, cam=f"c{i}") for i in range(5)])
    assert len(buckets) == 3


@given(st.lists(st.integers(0, 20_000), min_size=1, max_size=200))
def test_never_more_than_burst_plus_rate_times_span(offsets_ms: list[int]) -> None:
    buckets = DeviceBuckets(CEILING)
    events = [replace(camera(0, 1), ts=T0 + o) for o in offsets_ms]
    passed, _ = buckets.admit(events)
    span_s = (max(offsets_ms) - min(offsets_ms)) / 1000
    assert len(passed) <= CEILING.burst + CEILING.per_s * span_s + 1e-9


@given(st.integers(500, 5_000), st.integers(1, 300))
def test_a_device_within_its_rate_is_never_refused(spacing_ms: int, n: int) -> None:
    buckets = DeviceBuckets(CEILING)  # 2 per s: anything spaced 500 ms or more passes
    events = [replace(camera(0, 1), ts=T0 + i * spacing_ms) for i in range(n)]
    assert buckets.admit(events)[1] == []


def test_admit_names_the_device_and_the_place_in_the_record() -> None:
    raw = orjson.dumps(
        [{"id": f"f{i}", "ts": NOW, "lat": 23.02, "lon": 113.11, "people": 3, "area_m2": 9.0,
          "camera": "cam-flood"} for i in range(8)] + ["not an event"]
    )  # fmt: skip
    decoded = decode_record("camera", raw, NOW, Limits())
    within, refused = admit(decoded, DeviceBuckets(CEILING))
    assert [e.id for e in within] == [f"f{i}" for i in range(5)]
    assert [(r.error, r.index) for r in refused] == [("rate", 5), ("rate", 6), ("rate", 7)]
    assert "camera:cam-flood is over its ceiling of 5 readings" in refused[0].reason
    assert b'"f5"' in refused[0].original
