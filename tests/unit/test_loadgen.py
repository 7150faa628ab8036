"""feeds.sim.loadgen: the load's cameras, its open-loop timetable and its events."""

from __future__ import annotations

import random

import orjson
import pytest

from feeds.sim.loadgen import CAMERA_PREFIX, Timetable, batch_events, camera_fleet
from geo import cells
from geo.crs import to_wgs84
from geo.district import load_district
from streams.pipeline.decode import Limits
from streams.pipeline.records import decode_record


@pytest.fixture(scope="module")
def fleet() -> tuple:
    return camera_fleet(400, seed=7, resolution=9)


def test_timetable_counts_records_and_due_times() -> None:
    t = Timetable.for_rate(20_000, 200, 300)
    assert (t.records_per_s, t.records) == (100.0, 30_000)
    assert t.due_at_s(0) == 0.0 and t.due_at_s(150) == 1.5
    assert t.due_by(-0.1) == 0
    assert t.due_by(0.0) == 1  # the first record goes at once
    assert t.due_by(0.999) == 100 and t.due_by(1.0) == 101
    assert t.due_by(10_000.0) == 30_000  # never more than the run holds
    offered = t.offered_per_second()
    assert len(offered) == 300 and set(offered) == {20_000}


def test_timetable_with_a_rate_that_is_not_a_multiple_of_the_batch() -> None:
    t = Timetable.for_rate(500, 200, 10)  # 2.5 records per second
    assert t.records == 25
    assert t.offered_per_second() == (600, 400) * 5
    assert sum(t.offered_per_second()) == t.records * t.batch == 5_000


def test_timetable_catch_up_skips_slots_too_far_behind() -> None:
    t = Timetable.for_rate(1_000, 100, 10)  # 10 records per second
    # on time: nothing skipped, what is due goes
    assert t.catch_up(0, 0.0, 1.0) == (0, 1)
    assert t.catch_up(5, 0.55, 1.0) == (5, 6)
    # 0.5 s behind (within the tolerance): catch up on all of it
    assert t.catch_up(10, 1.5, 1.0) == (10, 16)
    # stalled for 4 s after record 10: slots up to 1 s back are sent, older ones skipped
    first, due = t.catch_up(10, 5.0, 1.0)
    assert (first, due) == (41, 51)
    assert first - 10 == 31  # the shortfall: records 10 … 40 never sent
    # already past what is due (nothing to do)
    assert t.catch_up(51, 5.0, 1.0) == (51, 51)
    # past the end of the run: only the remaining records count
    assert t.catch_up(95, 20.0, 1.0) == (100, 100)


def test_timetable_refuses_nonsense() -> None:
    for args in [(0.0, 10.0, 1), (1.0, 0.0, 1), (1.0, 1.0, 0), (float("nan"), 1.0, 1)]:
        with pytest.raises(ValueError):
            Timetable(*args)
    with pytest.raises(ValueError, match="batch"):
        Timetable.for_rate(100, 0, 10)


def test_fleet_lies_inside_chancheng_and_is_reproducible(fleet: tuple) -> None:
    district = load_district()
    assert len(fleet) == 400
    assert len({c.id for c in fleet}) == 400
    assert all(c.id.startswith(CAMERA_PREFIX) for c in fleet)
    for cam in fleet:
        lat, lon = to_wgs84(cam.lat, cam.lon, cam.crs)
        assert district.contains(lat, lon), cam
        assert cells.cell_of(lat, lon, 9) == cam.cell or cam.crs != "wgs84"
        assert cam.area_m2 > 0 and cam.people >= 0
    assert {c.crs for c in fleet} == {"wgs84", "gcj02"}
    assert camera_fleet(400, seed=7, resolution=9) == fleet
    assert len({c.cell for c in fleet}) > 20  # spread over the district, not one spot
    with pytest.raises(ValueError, match="at least one"):
        camera_fleet(0)


def test_batch_events_pass_the_input_contract(fleet: tuple) -> None:
    ts = 1_765_000_000_000
    rng = random.Random(1)
    events = batch_events(fleet, 390, 20, ts, "load-x-", rng)  # wraps round the fleet
    assert [e["camera"] for e in events] == [fleet[k % 400].id for k in range(390, 410)]
    assert [e["id"] for e in events] == [f"load-x-{k}" for k in range(390, 410)]
    assert {e["ts"] for e in events} == {ts}
    decoded = decode_record("camera", orjson.dumps(events), ts, Limits(resolution=9))
    assert decoded.rejections == []
    assert len(decoded.events) == 20
    wgs = [(e, fleet[k % 400]) for e, k in zip(decoded.events, range(390, 410), strict=True)]
    assert all(e.cell == cam.cell for e, cam in wgs if cam.crs == "wgs84")
