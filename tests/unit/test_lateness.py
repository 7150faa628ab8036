"""Duplicates, order and lateness: replays do not double-count, out-of-order events land
in their own window, and events too late for any window are set apart."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.pipeline.clock import EventClock
from streams.pipeline.lateness import Lateness, arrive, split_late
from tests.unit.pipeline_kit import BRIDGE, CAR_PARK, T0, Run, camera, ticket

LATENESS = Lateness(camera_ms=60_000, sensor_ms=60_000, hotline_ms=600_000)


def test_each_kind_has_its_own_allowed_lateness_and_the_boundary_is_on_time() -> None:
    now = T0 + 1_000_000
    events = [
        replace(camera(0, 10), ts=now - 60_000),  # exactly at the limit: on time
        replace(camera(0, 10), ts=now - 60_001),
        replace(ticket(1, 0), ts=now - 599_000),
        replace(ticket(2, 0), ts=now - 700_000),
        replace(camera(0, 10), ts=now + 5_000),  # ahead of the clock: on time
    ]
    on_time, late = split_late(events, now, LATENESS)
    assert on_time == [events[0], events[2], events[4]]
    assert [(x.index, x.behind_ms, x.allowed_ms) for x in late] == [
        (1, 60_001, 60_000),
        (3, 700_000, 600_000),
    ]
    assert "60 s behind" in late[0].reason and "allowed lateness 60 s" in late[0].reason


events_at = st.lists(
    st.tuples(st.sampled_from(["camera", "ticket"]), st.integers(-2_000, 2_000)),
    max_size=30,
)


@given(events_at, st.integers(0, 1_000))
def test_split_keeps_every_event_exactly_once_in_order(spec: list, now_s: int) -> None:
    events = [camera(t, 5) if k == "camera" else ticket(i, t) for i, (k, t) in enumerate(spec)]
    now = T0 + now_s * 1000
    on_time, late = split_late(events, now, LATENESS)
    position = {id(e): i for i, e in enumerate(events)}
    kept = [position[id(e)] for e in on_time]
    assert sorted(kept + [x.index for x in late]) == list(range(len(events)))
    assert kept == sorted(kept)
    assert all(now - e.ts <= LATENESS.allowed_ms(e.kind) for e in on_time)
    assert all(x.behind_ms > x.allowed_ms and events[x.index] is x.event for x in late)


def _views(run: Run) -> dict[str, dict]:
    """What the map would show of every cell (alerts aside), ignoring the trend series."""
    out = {}
    for cell in run.cells.keys_in_partition(0):
        state = run.cells.get(cell)
        assert state is not None
        out[cell] = {**state.to_dict(), "density": None}
    return out


# A crowd on the bridge (several cameras) and complaints at the car park, in batches.
batches_of_events = st.lists(
    st.lists(
        st.one_of(
            st.builds(
                lambda t, n, c: camera(t, n, cam=f"cam-{c}", where=BRIDGE),
                st.integers(0, 240),
                st.integers(0, 900),
                st.integers(0, 3),
            ),
            st.builds(
                lambda i, t: ticket(i, t, where=CAR_PARK), st.integers(0, 20), st.integers(0, 240)
            ),
        ),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(batches_of_events)
def test_replaying_the_same_events_changes_nothing(batches: list[list]) -> None:
    run = Run()
    for i, batch in enumerate(batches):
        run.feed(batch, 250 + i)
    last = 250 + len(batches) - 1
    # every cell as of ``last`` (a camera may have turned stale since its cell's last
    # measurement: that is the clock's doing, not the replay's)
    run.feed([], last, sweep=True)
    before = _views(run)
    opened = {a.id for a in run.alerts()}
    for batch in batches:  # the whole input again (a replay, a redelivery), at the same time
        run.feed(batch, last)
    assert _views(run) == before
    assert {a.id for a in run.alerts()} == opened


def test_a_reading_late_but_within_lateness_never_overwrites_a_newer_one() -> None:
    run = Run()
    run.feed([camera(100, 800)], 100)
    run.feed([camera(70, 5)], 101)  # the same camera, 30 s older, arriving after
    state = run.cells.get(camera(0, 0).cell)
    assert state is not None and [c.people for c in state.cameras] == [800]


def test_an_out_of_order_ticket_joins_the_window_of_its_own_time() -> None:
    """Five complaints, the first of them typed up five minutes late: all six cluster, and
    the late one leaves the 10-minute window first, by its own time."""
    run = Run()
    run.feed([ticket(i, 300 + i) for i in range(1, 6)], 305)
    run.feed([ticket(0, 0)], 310)  # 310 s behind: within the hotline window
    counts = [s["count"] for s in run.signals("hotline.cluster")]
    assert counts and counts[-1] == 6
    run.feed([], 601, sweep=True)  # ticket 0 is 601 s old now, the others 296-300 s
    remaining = {
        t.id
        for cell in run.cells.keys_in_partition(0)
        for t in (run.cells.get(cell).tickets or ())  # type: ignore[union-attr]
    }
    assert remaining == {f"t{i}" for i in range(1, 6)}


def test_cell_view_of_a_replayed_cell_is_identical() -> None:
    """The published view (what the map shows) is the same after a redelivered batch."""
    run = Run()
    batch = [camera(10, 300), camera(12, 320, cam="cam-2"), ticket(1, 11)]
    run.feed(batch, 12)
    cell = batch[0].cell
    first = run.outputs[-1].cells[cell]
    run.feed(batch, 12)
    assert run.outputs[-1].cells[cell] == first


def test_arrive_advances_the_clock_only_with_events_on_time() -> None:
    clock = EventClock()
    on_time, late = arrive(clock, 0, [camera(100, 5)], T0 + 100_000, LATENESS)
    assert len(on_time) == 1 and late == [] and clock.now(0, T0 + 100_000) == T0 + 100_000
    on_time, late = arrive(clock, 0, [camera(0, 5)], T0 + 100_000, LATENESS)  # 100 s behind
    assert on_time == [] and len(late) == 1 and clock.now(0, T0 + 100_000) == T0 + 100_000
    assert arrive(clock, 1, [], T0, LATENESS) == ([], []) and not clock.knows(1)
