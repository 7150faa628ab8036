"""feeds.sim.gridworkers: the grids, determinism, interval splitting, the input contract,
walking inside the grid, going off and on duty, staying on duty near the incident."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import h3
import orjson
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.config.settings import SimSettings
from feeds.sim.city import build_city
from feeds.sim.gridworkers import (
    GRID_RESOLUTION,
    STATUS_SLOT_MS,
    GridWorkers,
    build_grid_workers,
    grid_areas,
)
from feeds.sim.places import TONGJI_BRIDGE, TONGJI_CAR_PARK
from feeds.sim.simulator import Simulator
from geo import crs
from geo.cells import cell_polygon
from geo.district import District, load_district
from geo.measure import distance_m
from streams.pipeline.decode import Limits, decode_worker_record

CST = timezone(timedelta(hours=8))
START_MS = int(datetime(2025, 2, 12, 19, 30, tzinfo=CST).timestamp() * 1000)
INCIDENT = (START_MS + 30_000, START_MS + 360_000)
POINTS = [(TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon), (TONGJI_CAR_PARK.lat, TONGJI_CAR_PARK.lon)]
HOUR = 3_600_000


@pytest.fixture(scope="module")
def district() -> District:
    return load_district("440604")


@pytest.fixture(scope="module")
def crew(district: District) -> GridWorkers:
    return GridWorkers(42, district, 40, 30.0, INCIDENT, POINTS)


@pytest.fixture(scope="module")
def six_hours(crew: GridWorkers) -> list[dict[str, Any]]:
    return crew.events_between(START_MS - 3 * HOUR, START_MS + 3 * HOUR)


def wgs84_of(e: dict[str, Any]) -> tuple[float, float]:
    return crs.to_wgs84(e["lat"], e["lon"], e.get("crs", "wgs84"))


def test_grids_are_the_res7_cells_overlapping_the_district(district: District) -> None:
    areas = grid_areas(district)
    assert [g for g, _ in areas] == [f"G-{i:03d}" for i in range(1, len(areas) + 1)]
    cells = [c for _, c in areas]
    assert cells == sorted(cells) and all(h3.get_resolution(c) == GRID_RESOLUTION for c in cells)
    # Brute force: every res-7 cell whose centre lies in the district's bounding box grown by
    # two cell widths, kept when its hexagon and the district share some area.
    min_lon, min_lat, max_lon, max_lat = district.bbox
    box = shapely.box(min_lon - 0.05, min_lat - 0.05, max_lon + 0.05, max_lat + 0.05)
    candidates = h3.h3shape_to_cells(h3.geo_to_h3shape(box), GRID_RESOLUTION)
    expected = sorted(
        c for c in candidates if cell_polygon(c).intersection(district.geometry).area > 0
    )
    assert cells == expected
    assert h3.latlng_to_cell(TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon, GRID_RESOLUTION) in cells
    assert 30 <= len(cells) <= 80  # Chancheng is about 154 km², a res-7 cell about 5 km²


def test_workers_are_deterministic_and_seeded(district: District) -> None:
    a = build_grid_workers(42, district, 40, POINTS)
    assert a == build_grid_workers(42, district, 40, POINTS)
    assert a != build_grid_workers(7, district, 40, POINTS)
    assert [w.id for w in a] == [f"GW-{i:03d}" for i in range(1, 41)]
    assert len({w.grid for w in a}) >= 25  # spread over the district, not piled up
    assert build_grid_workers(42, district, 0, POINTS) == ()
    with pytest.raises(ValueError, match="negative"):
        build_grid_workers(42, district, -1)


def test_events_are_deterministic(district: District, crew: GridWorkers) -> None:
    again = GridWorkers(42, district, 40, 30.0, INCIDENT, POINTS)
    window = (START_MS, START_MS + 600_000)
    assert crew.events_between(*window) == again.events_between(*window)
    other = GridWorkers(5, district, 40, 30.0, INCIDENT, POINTS)
    assert other.events_between(*window) != crew.events_between(*window)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=900_000), max_size=6))
def test_interval_splitting(crew: GridWorkers, cuts: list[int]) -> None:
    t0, t1 = START_MS - 5_000, START_MS + 900_000
    bounds = [t0, *sorted(START_MS + c for c in cuts), t1]
    merged = [e for a, b in itertools.pairwise(bounds) for e in crew.events_between(a, b)]
    assert merged == crew.events_between(t0, t1)
    assert crew.events_between(t1, t0) == []


def test_reports_meet_the_input_contract(six_hours: list[dict[str, Any]]) -> None:
    for e in six_hours:
        out = decode_worker_record(orjson.dumps(e), e["ts"], Limits())
        assert out.rejections == [], (e, out.rejections)
        (report,) = out.reports
        assert (report.worker, report.grid, report.status) == (e["worker"], e["grid"], e["status"])
    assert len({e["id"] for e in six_hours}) == len(six_hours)
    assert [e["ts"] for e in six_hours] == sorted(e["ts"] for e in six_hours)
    assert set(Counter(e.get("crs", "wgs84") for e in six_hours)) == {"wgs84", "gcj02", "bd09"}


def test_workers_stay_inside_their_grid_and_the_district(
    district: District, six_hours: list[dict[str, Any]]
) -> None:
    cell_of_grid = dict(grid_areas(district))
    for e in six_hours:
        lat, lon = wgs84_of(e)
        assert district.contains(lat, lon), e
        assert cell_polygon(cell_of_grid[e["grid"]]).covers(shapely.Point(lon, lat)), e


def test_workers_walk_at_a_walking_pace(six_hours: list[dict[str, Any]]) -> None:
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for e in six_hours:
        by_worker.setdefault(e["worker"], []).append(e)
    speeds, moved = [], set()
    for worker, reports in by_worker.items():
        for a, b in itertools.pairwise(reports):
            metres = distance_m(*wgs84_of(a), *wgs84_of(b))
            speeds.append(metres / ((b["ts"] - a["ts"]) / 1000))
            if metres > 1.0:
                moved.add(worker)
    assert len(moved) == len(by_worker) == 40
    assert 0.3 < statistics.median(speeds) < 2.0  # m/s
    assert statistics.quantiles(speeds, n=100)[98] < 10.0


def test_reporting_period(crew: GridWorkers, six_hours: list[dict[str, Any]]) -> None:
    per_worker = Counter(e["worker"] for e in six_hours)
    assert max(per_worker.values()) <= 6 * 120 + 1  # every 30 s at most
    online = [e for e in six_hours if e["status"] == "online"]
    gaps = Counter(
        b["ts"] - a["ts"]
        for w in per_worker
        for a, b in itertools.pairwise(e for e in online if e["worker"] == w)
    )
    assert gaps.most_common(1)[0][0] == 30_000


def test_workers_go_off_and_on_duty(crew: GridWorkers, six_hours: list[dict[str, Any]]) -> None:
    offline = [e for e in six_hours if e["status"] == "offline"]
    assert 10 <= len(offline) <= 200
    # Some come back: an online report after an offline one of the same worker.
    back = {
        e["worker"]
        for e in six_hours
        if e["status"] == "online"
        and any(o["worker"] == e["worker"] and o["ts"] < e["ts"] for o in offline)
    }
    assert len(back) >= 5
    # Some fall silent without saying so (the web's staleness rule shows them offline).
    silent = 0
    for worker in crew.workers:
        reports = [e for e in six_hours if e["worker"] == worker.id]
        for a, b in itertools.pairwise(reports):
            if a["status"] == "online" and b["ts"] - a["ts"] >= STATUS_SLOT_MS:
                silent += 1
    assert silent >= 3


def test_workers_near_the_incident_stay_on_duty(crew: GridWorkers) -> None:
    near = [w for w in crew.workers if w.near_incident]
    bridge_grid = h3.latlng_to_cell(TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon, GRID_RESOLUTION)
    assert sum(w.cell == bridge_grid for w in near) >= 1
    assert 2 <= len(near) < len(crew.workers)
    during = crew.events_between(*INCIDENT)
    for worker in near:
        reports = [e for e in during if e["worker"] == worker.id]
        assert len(reports) == (INCIDENT[1] - INCIDENT[0]) // 30_000
        assert {e["status"] for e in reports} == {"online"}
    # Outside the incident the same workers do go off duty sometimes.
    later = range(INCIDENT[1] + HOUR, INCIDENT[1] + 25 * HOUR, STATUS_SLOT_MS)
    assert any(not crew.online_at(w, t) for w in near for t in later)


def test_simulator_carries_the_worker_kind(district: District) -> None:
    city = build_city(3, district, 20, 5)
    sim = Simulator(city, SimSettings(seed=3, grid_workers=12, worker_period_s=60.0), START_MS)
    window = sim.events_between(START_MS, START_MS + 600_000)
    assert set(window) == {"camera", "sensor", "hotline", "worker"}
    workers = window["worker"]
    assert {e["worker"] for e in workers} <= {f"GW-{i:03d}" for i in range(1, 13)}
    assert len(workers) <= 12 * 10 and len({e["worker"] for e in workers}) >= 10
    near = {w.id for w in sim.grid_workers.workers if w.near_incident}
    assert near  # the bridge's grid has its worker
    incident = sim.worker_events(sim.incident_start_ms, sim.incident_start_ms + 300_000)
    assert {e["worker"] for e in incident} >= near
    none = Simulator(city, SimSettings(seed=3, grid_workers=0), START_MS)
    assert none.events_between(START_MS, START_MS + 600_000)["worker"] == []
