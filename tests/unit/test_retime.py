"""feeds.recording.retime (via feeds.recording.files): replay pacing and the event-time shift."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.recording.files import (
    LABELS_TOPIC,
    Pacer,
    RecordedRecord,
    event_time_ms,
    plan_replay,
    retime_record,
    retime_value,
    shift_iso,
)
from feeds.recording.retime import ts_to_ms, whole_second_shift

T0 = 1_739_359_800_000  # 2025-02-12T11:30:00Z = 19:30 China Standard Time
HOUR = 3_600_000


def rec(ts_ms: int, value: object, topic: str = "events.camera") -> RecordedRecord:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return RecordedRecord(topic, 0, 0, ts_ms, None, raw)


def test_pacer_keeps_the_recorded_spacing_divided_by_speed() -> None:
    pacer = Pacer(2.0)
    assert [pacer.due_ms(T0 + d) for d in (0, 1000, 3000, 2000, 10_000)] == [
        0.0,
        500.0,
        1500.0,
        1500.0,  # stamped earlier than the one before: due with it, order kept
        5000.0,
    ]
    fast = Pacer(0)
    assert [fast.due_ms(T0 + d) for d in (0, 60_000, 120_000)] == [0.0, 0.0, 0.0]
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="speed"):
            Pacer(bad)


@pytest.mark.parametrize(
    ("text", "shift_ms", "expected"),
    [
        ("2025-02-12T19:30:00+08:00", 5000, "2025-02-12T19:30:05+08:00"),
        ("2025-02-12T19:30:00Z", -HOUR * 20, "2025-02-11T23:30:00Z"),
        ("2025-02-12T19:30:00.123+08:00", 60_000, "2025-02-12T19:31:00.123+08:00"),
        ("2025-02-12T19:30:00.123456-05:00", 1000, "2025-02-12T19:30:01.123456-05:00"),
        ("2025-02-12 19:30:59+0800", 2000, "2025-02-12 19:31:01+0800"),
        ("2025-02-12T19:30+08:00", 60_000, "2025-02-12T19:31+08:00"),
        # Finer than the text's precision: cut to its digits (replays shift whole seconds).
        ("2025-02-12T19:30:00.5+08:00", 250, "2025-02-12T19:30:00.7+08:00"),
        ("2025-02-12T19:30:00+08:00", 250, "2025-02-12T19:30:00.250+08:00"),
        ("2025-02-12T19:30:00", 1000, None),  # no offset: not a usable ts
        ("yesterday", 1000, None),
    ],
)
def test_shift_iso_keeps_the_spelling(text: str, shift_ms: int, expected: str | None) -> None:
    assert shift_iso(text, shift_ms) == expected
    if expected is not None and shift_ms % 1000 == 0:
        assert ts_to_ms(expected) == ts_to_ms(text) + shift_ms  # type: ignore[operator]


def test_ts_to_ms_reads_what_the_pipeline_reads() -> None:
    assert ts_to_ms(T0) == T0
    assert ts_to_ms(float(T0) + 0.5) == T0
    assert ts_to_ms("2025-02-12T19:30:00+08:00") == T0
    assert ts_to_ms("2025-02-12T11:30:00.250Z") == T0 + 250
    for unusable in (True, None, "2025-02-12T19:30:00", math.inf, [T0], {"ms": T0}):
        assert ts_to_ms(unusable) is None


def test_retime_value_moves_ts_in_objects_and_arrays_in_their_own_form() -> None:
    one = {"id": "a", "ts": T0, "lat": 23.02, "people": 4}
    moved = retime_value(orjson.dumps(one), 7000)
    assert moved is not None and orjson.loads(moved) == {**one, "ts": T0 + 7000}
    assert list(orjson.loads(moved)) == ["id", "ts", "lat", "people"]  # field order kept

    batch = [
        {"id": "a", "ts": T0},
        {"id": "b", "ts": "2025-02-12T19:30:00+08:00"},
        {"id": "c", "ts": float(T0)},
        {"id": "d"},  # no ts: left as it is (the pipeline dead-letters it)
        {"id": "e", "ts": "not a time"},
        7,
    ]
    moved = retime_value(orjson.dumps(batch), -HOUR)
    assert moved is not None
    assert orjson.loads(moved) == [
        {"id": "a", "ts": T0 - HOUR},
        {"id": "b", "ts": "2025-02-12T18:30:00+08:00"},
        {"id": "c", "ts": float(T0 - HOUR)},
        {"id": "d"},
        {"id": "e", "ts": "not a time"},
        7,
    ]


@pytest.mark.parametrize(
    "value",
    [b"\xff\xfe not utf-8", b"not json", b"[]", b'{"id": "x"}', b"[1, 2]", b'{"ts": true}'],
)
def test_retime_value_leaves_values_without_a_time_alone(value: bytes) -> None:
    assert retime_value(value, 1000) is None
    assert event_time_ms(value) is None


def test_labels_move_start_and_end_not_ts() -> None:
    label = {"type": "label", "id": "l", "start_ms": T0, "end_ms": T0 + 5000, "ts": 1}
    moved = retime_value(orjson.dumps(label), 3000, label=True)
    assert moved is not None
    assert orjson.loads(moved) == {**label, "start_ms": T0 + 3000, "end_ms": T0 + 8000}


def test_event_time_is_the_latest_ts_of_a_record() -> None:
    batch = [{"ts": T0 + 5}, {"ts": "2025-02-12T19:30:01+08:00"}, {"ts": T0}, {"id": "x"}]
    assert event_time_ms(orjson.dumps(batch)) == T0 + 1000


def test_retime_record_moves_kafka_ts_and_keeps_values_without_time_byte_for_byte() -> None:
    r = rec(T0, {"id": "a", "ts": T0})
    moved, changed = retime_record(r, event_shift_ms=2000, kafka_shift_ms=1000)
    assert changed and moved.ts_ms == T0 + 1000
    assert orjson.loads(moved.value)["ts"] == T0 + 2000
    raw = rec(T0, b"\xff raw")
    same, changed = retime_record(raw, event_shift_ms=2000, kafka_shift_ms=1000)
    assert not changed and same.value == b"\xff raw" and same.ts_ms == T0 + 1000
    label = rec(T0, {"type": "label", "start_ms": T0, "end_ms": T0 + 1}, topic=LABELS_TOPIC)
    moved, changed = retime_record(label, event_shift_ms=2000, kafka_shift_ms=0)
    assert changed and orjson.loads(moved.value)["start_ms"] == T0 + 2000


def test_whole_second_shift_rounds_down() -> None:
    assert whole_second_shift(10_999, 0.0) == 10_000
    assert whole_second_shift(0, -1500.0) == -2000
    assert whole_second_shift(T0, None) == 0


def test_sped_up_replay_puts_the_last_event_at_its_send_time() -> None:
    # Ten minutes recorded, events stamped as they were sent; replayed at x10 from NOW.
    records = [rec(T0 + i * 60_000, {"id": str(i), "ts": T0 + i * 60_000}) for i in range(11)]
    plan = plan_replay(records, 10.0)
    assert (plan.records, plan.duration_ms) == (11, 60_000.0)
    now = T0 + 5 * 24 * HOUR + 123
    shift = plan.event_shift_ms(now)
    last_sent = now + plan.duration_ms
    assert last_sent - 1000 < T0 + 600_000 + shift <= last_sent
    assert shift == plan.kafka_shift_ms(now)
    # Earlier events lie further in the past than their own send times: none in the future.
    pacer = Pacer(10.0)
    for r in records:
        assert r.ts_ms + shift <= now + pacer.due_ms(r.ts_ms)


def test_slowed_replay_is_bound_by_the_first_record() -> None:
    records = [rec(T0 + i * 1000, {"ts": T0 + i * 1000}) for i in range(5)]
    plan = plan_replay(records, 0.5)
    now = T0 + HOUR
    assert plan.event_shift_ms(now) == now - T0  # the first event at its send time
    assert plan_replay(records, 0).event_shift_ms(now) == now - (T0 + 4000)


def test_event_time_and_kafka_time_get_their_own_shift() -> None:
    # A simulator run at x10 that started in the past: event time runs 10x Kafka time.
    records = [rec(T0 + i * 1000, [{"ts": T0 - 240_000 + i * 10_000}]) for i in range(25)]
    plan = plan_replay(records, 1.0)
    now = T0 + HOUR
    assert plan.kafka_shift_ms(now) == HOUR
    last_event = T0 - 240_000 + 24 * 10_000
    assert plan.event_shift_ms(now) == now + 24_000 - last_event


def test_labels_and_timeless_records_do_not_bound_the_shift_and_topics_filter() -> None:
    label = {"type": "label", "id": "l", "start_ms": T0, "end_ms": T0 + HOUR}
    records = [
        rec(T0, {"ts": T0}),
        rec(T0, label, topic=LABELS_TOPIC),
        rec(T0 + 1000, b"\xff"),
        rec(T0 + 2000, {"ts": T0 + 2000}, topic="events.sensor"),
    ]
    plan = plan_replay(records, 1.0)
    assert plan.topics == ("events.camera", LABELS_TOPIC, "events.sensor")
    assert plan.event_shift_ms(T0) == 0
    only = plan_replay(records, 1.0, topics={"events.camera"})
    assert (only.records, only.topics, only.last_ts_ms) == (2, ("events.camera",), T0 + 1000)
    assert plan_replay([], 1.0).records == 0
    assert plan_replay([rec(T0, b"x")], 1.0).event_shift_ms(T0) == 0


@given(
    steps=st.lists(st.integers(-2_000, 60_000), min_size=1, max_size=30),
    skews=st.lists(st.integers(-120_000, 120_000), min_size=30, max_size=30),
    speed=st.sampled_from([0.0, 0.25, 1.0, 3.0, 50.0]),
    now=st.integers(T0, T0 + 400 * 24 * HOUR),
)
def test_no_event_is_ever_in_the_future_and_the_shift_is_tight(
    steps: list[int], skews: list[int], speed: float, now: int
) -> None:
    ts, records = T0, []
    for step, skew in zip(steps, skews, strict=False):
        ts += step
        records.append(rec(ts, [{"ts": ts + skew}, {"ts": ts + skew // 2}]))
    plan = plan_replay(records, speed)
    shift = plan.event_shift_ms(now)
    assert shift % 1000 == 0
    pacer = Pacer(speed)
    slack = []
    for r in records:
        send_at = now + pacer.due_ms(r.ts_ms)
        latest = event_time_ms(r.value)
        assert latest is not None and latest + shift <= send_at
        slack.append(send_at - (latest + shift))
    assert min(slack) < 1000  # not shifted further back than the rounding needs
