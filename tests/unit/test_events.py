"""The internal wire form of events: ``orjson.dumps`` of an event is its ``to_wire`` JSON (the
hot paths rely on it), and ``from_wire`` gives the event back; ``cells.ingest`` bodies in
rows read back the same events, and bodies in the earlier form still read."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.pipeline.events import (
    CameraReading,
    Event,
    SensorReading,
    Ticket,
    events_of_body,
    from_wire,
    rows_body,
    to_wire,
)

text = st.text(min_size=1, max_size=20)
ts = st.integers(0, 2**45)
lat, lon = st.floats(-90, 90), st.floats(-180, 180)
maybe_float = st.none() | st.floats(0, 1e6)
cameras = st.builds(
    CameraReading, text, ts, lat, lon, text, text, st.integers(0, 10**6), st.floats(1, 1e6),
    maybe_float, maybe_float,
)  # fmt: skip
sensors = st.builds(
    SensorReading, text, ts, lat, lon, text, text, text, st.floats(-1e6, 1e6),
    st.none() | st.booleans(), st.none() | text,
)  # fmt: skip
tickets = st.builds(
    Ticket, text, ts, st.sampled_from(["12345", "110"]), text, st.text(max_size=200),
    st.none() | lat, st.none() | lon, st.none() | text, st.none() | text, st.none() | text,
)  # fmt: skip


@given(st.lists(cameras | sensors | tickets, max_size=5))
def test_orjson_of_events_is_their_wire_form_and_reads_back(events: list[Event]) -> None:
    raw = orjson.dumps(events)
    assert raw == orjson.dumps([to_wire(e) for e in events])
    assert [from_wire(d) for d in orjson.loads(raw)] == events


@given(st.lists(cameras | sensors | tickets, max_size=5))
def test_rows_body_reads_back_as_the_same_events(events: list[Event]) -> None:
    assert events_of_body(rows_body(events)) == events
    assert events_of_body(orjson.dumps(events)) == events  # the objects' form, as before
