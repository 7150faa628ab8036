"""Folding several events into a cell at once is folding them one by one."""

from __future__ import annotations

from functools import reduce

from hypothesis import given
from hypothesis import strategies as st

from streams.pipeline.cellfold import add, add_all, initial
from streams.pipeline.events import CameraReading, Event, SensorReading, Ticket

CELL = "89411d783afffff"
ts = st.integers(1_000, 1_060)  # few distinct times: ties and late readings are common
cameras = st.builds(
    lambda i, t, n: CameraReading(f"r{t}{n}", t, 23.0, 113.1, CELL, f"cam-{i}", n, 400.0),
    st.integers(0, 3), ts, st.integers(0, 500),
)  # fmt: skip
sensors = st.builds(
    lambda i, t, v, a: SensorReading(f"s{t}", t, 23.0, 113.1, CELL, f"dev-{i}", "smoke", v, a),
    st.integers(0, 2), ts, st.floats(0, 100), st.none() | st.booleans(),
)  # fmt: skip
tickets = st.builds(
    lambda i, t: Ticket(f"t-{i}", t, "12345", "noise", "吵", 23.0, 113.1, CELL),
    st.integers(0, 4), ts,
)  # fmt: skip


@given(st.lists(cameras | sensors | tickets, max_size=30), st.lists(cameras, max_size=5))
def test_add_all_is_add_one_by_one(events: list[Event], before: list[Event]) -> None:
    start = reduce(add, before, initial(CELL, 2))
    assert add_all(start, events) == reduce(add, events, start)
