"""feeds.sim.simulator: determinism, interval splitting, the input contract, the incident."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from citybrain.config.settings import SimSettings
from feeds.sim.city import City, build_city
from feeds.sim.simulator import Simulator
from geo import crs
from geo.district import District, load_district

_GEOD = Geod(ellps="WGS84")
CST = timezone(timedelta(hours=8))
# A holiday evening: Lantern Festival 2025, 19:30 China Standard Time.
START_MS = int(datetime(2025, 2, 12, 19, 30, tzinfo=CST).timestamp() * 1000)

# ---------------------------------------------------------------------------
# An independent checker of the input contract (docs/protocol.md, "Input events").

_COMMON = {"id", "ts", "lat", "lon", "crs"}
_ALLOWED = {
    "camera": _COMMON | {"people", "area_m2", "camera", "flow_in", "flow_out"},
    "sensor": _COMMON | {"type", "value", "unit", "alarm", "sensor"},
    "hotline": _COMMON | {"channel", "category", "text", "address", "caller"},
    "worker": _COMMON | {"worker", "status", "grid", "name"},
}
_REQUIRED = {
    "camera": {"id", "ts", "lat", "lon", "people", "area_m2"},
    "sensor": {"id", "ts", "lat", "lon", "type", "value"},
    "hotline": {"id", "ts", "channel", "category", "text"},
    "worker": {"id", "ts", "lat", "lon", "worker", "status", "grid"},
}


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def contract_errors(kind: str, e: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    missing = _REQUIRED[kind] - e.keys()
    if missing:
        errors.append(f"missing {sorted(missing)}")
    extra = e.keys() - _ALLOWED[kind]
    if extra:
        errors.append(f"unknown {sorted(extra)}")
    if not (isinstance(e.get("id"), str) and e["id"]):
        errors.append("id must be a non-empty string")
    ts = e.get("ts")
    if not (isinstance(ts, int) and not isinstance(ts, bool) and 1e12 < ts < 1e13):
        errors.append("ts must be epoch milliseconds")
    if "crs" in e and e["crs"] not in ("wgs84", "gcj02", "bd09"):
        errors.append("bad crs")
    has_lat, has_lon = "lat" in e, "lon" in e
    if has_lat != has_lon:
        errors.append("lat and lon come together")
    if has_lat and not (_is_number(e["lat"]) and -90 <= e["lat"] <= 90):
        errors.append("bad lat")
    if has_lon and not (_is_number(e["lon"]) and -180 <= e["lon"] <= 180):
        errors.append("bad lon")
    if kind == "camera":
        people = e.get("people")
        if not (isinstance(people, int) and not isinstance(people, bool) and people >= 0):
            errors.append("people must be an int >= 0")
        if not (_is_number(e.get("area_m2")) and e["area_m2"] > 0):
            errors.append("area_m2 must be > 0")
        for flow in ("flow_in", "flow_out"):
            if flow in e and not (_is_number(e[flow]) and e[flow] >= 0):
                errors.append(f"bad {flow}")
        if "camera" in e and not isinstance(e["camera"], str):
            errors.append("camera must be a string")
    elif kind == "sensor":
        if not (isinstance(e.get("type"), str) and e["type"]):
            errors.append("type must be a string")
        if not _is_number(e.get("value")):
            errors.append("value must be a number")
        if "alarm" in e and not isinstance(e["alarm"], bool):
            errors.append("alarm must be a bool")
        for key in ("unit", "sensor"):
            if key in e and not isinstance(e[key], str):
                errors.append(f"{key} must be a string")
    elif kind == "worker":
        if e.get("status") not in ("online", "offline"):
            errors.append("status must be online or offline")
        for key in ("worker", "grid", "name"):
            if key in e and not (isinstance(e[key], str) and e[key]):
                errors.append(f"{key} must be a non-empty string")
    else:
        if e.get("channel") not in ("12345", "110"):
            errors.append("channel must be 12345 or 110")
        for key in ("category", "text"):
            if not (isinstance(e.get(key), str) and e[key]):
                errors.append(f"{key} must be a non-empty string")
        if not has_lat and not (isinstance(e.get("address"), str) and e["address"]):
            errors.append("needs lat/lon or an address")
        if "caller" in e and not isinstance(e["caller"], str):
            errors.append("caller must be a string")
    return errors


def test_checker_catches_bad_events() -> None:
    good = {"id": "c-1", "ts": START_MS, "lat": 23.0, "lon": 113.1, "people": 3, "area_m2": 10.0}
    assert contract_errors("camera", good) == []
    assert contract_errors("camera", {**good, "people": -1})
    assert contract_errors("camera", {**good, "people": 2.5})
    assert contract_errors("camera", {**good, "area_m2": 0})
    assert contract_errors("camera", {**good, "crs": "epsg:4326"})
    assert contract_errors("sensor", {"id": "s", "ts": START_MS, "lat": 23.0, "lon": 113.1})
    ticket = {"id": "h", "ts": START_MS, "channel": "12345", "category": "noise", "text": "吵"}
    assert contract_errors("hotline", ticket)  # neither coordinates nor address
    assert contract_errors("hotline", {**ticket, "address": "佛山市禅城区祖庙路1号"}) == []
    assert contract_errors("hotline", {**ticket, "address": "x", "channel": "120"})


# ---------------------------------------------------------------------------


def metres(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    return float(_GEOD.inv(a_lon, a_lat, b_lon, b_lat)[2])


def wgs84_of(e: dict[str, Any]) -> tuple[float, float]:
    return crs.to_wgs84(e["lat"], e["lon"], e.get("crs", "wgs84"))


@pytest.fixture(scope="module")
def district() -> District:
    return load_district("440604")


@pytest.fixture(scope="module")
def city(district: District) -> City:
    return build_city(42, district, 300, 200)


@pytest.fixture(scope="module")
def sim(city: City) -> Simulator:
    return Simulator(city, SimSettings(), START_MS)


@pytest.fixture(scope="module")
def ten_minutes(sim: Simulator) -> dict[str, list[dict[str, Any]]]:
    return sim.events_between(START_MS, START_MS + 600_000)


def test_deterministic(city: City, sim: Simulator) -> None:
    a = sim.events_between(START_MS + 10_000, START_MS + 70_000)
    b = sim.events_between(START_MS + 10_000, START_MS + 70_000)
    assert a == b
    fresh = Simulator(build_city(42, load_district(), 300, 200), SimSettings(), START_MS)
    assert fresh.events_between(START_MS + 10_000, START_MS + 70_000) == a
    other_seed = Simulator(city, SimSettings(seed=7), START_MS)
    assert other_seed.events_between(START_MS + 10_000, START_MS + 70_000) != a


@pytest.fixture(scope="module")
def small_sim(district: District) -> Simulator:
    small = build_city(5, district, 40, 30)
    return Simulator(small, SimSettings(seed=5, hotline_per_min=30.0, incident_at_s=20.0), START_MS)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=400_000), max_size=8))
def test_interval_splitting(small_sim: Simulator, cuts: list[int]) -> None:
    t0, t1 = START_MS - 5_000, START_MS + 400_000
    whole = small_sim.events_between(t0, t1)
    bounds = [t0, *sorted(START_MS + c for c in cuts), t1]
    merged: dict[str, list[dict[str, Any]]] = {
        "camera": [],
        "sensor": [],
        "hotline": [],
        "worker": [],
    }
    for a, b in itertools.pairwise(bounds):
        for kind, events in small_sim.events_between(a, b).items():
            merged[kind].extend(events)
    assert merged == whole
    assert sum(map(len, whole.values())) > 0


def test_empty_and_reversed_intervals(sim: Simulator) -> None:
    for t0, t1 in ((START_MS, START_MS), (START_MS + 5_000, START_MS)):
        empty: dict[str, list[Any]] = {"camera": [], "sensor": [], "hotline": [], "worker": []}
        assert sim.events_between(t0, t1) == empty


def test_window_bounds_and_unique_ids(ten_minutes: dict[str, list[dict[str, Any]]]) -> None:
    ids: list[str] = []
    for events in ten_minutes.values():
        for e in events:
            assert START_MS <= e["ts"] < START_MS + 600_000
            ids.append(e["id"])
        assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert len(ids) == len(set(ids))


def test_every_event_meets_the_contract(ten_minutes: dict[str, list[dict[str, Any]]]) -> None:
    for kind, events in ten_minutes.items():
        assert events, kind
        for e in events:
            assert contract_errors(kind, e) == [], e
            assert orjson.loads(orjson.dumps(e)) == e  # plain JSON values


def test_report_rates(sim: Simulator, ten_minutes: dict[str, list[dict[str, Any]]]) -> None:
    per_camera = Counter(e["camera"] for e in ten_minutes["camera"])
    assert len(per_camera) == 300
    assert set(per_camera.values()) == {120}  # every 5 s for 600 s
    per_sensor = Counter(e["sensor"] for e in ten_minutes["sensor"])
    assert set(per_sensor.values()) == {20}  # every 30 s
    background = [e for e in ten_minutes["hotline"] if not e["id"].startswith("hl-inc-")]
    assert 30 <= len(background) <= 95  # 6 per minute on average


def test_everything_inside_the_district(
    district: District, ten_minutes: dict[str, list[dict[str, Any]]]
) -> None:
    datums: Counter[str] = Counter()
    for events in ten_minutes.values():
        for e in events:
            if "lat" not in e:
                continue
            datums[e.get("crs", "wgs84")] += 1
            assert district.contains(*wgs84_of(e)), e
    assert set(datums) == {"wgs84", "gcj02", "bd09"}


def test_address_only_tickets(sim: Simulator) -> None:
    tickets = sim.hotline_events(START_MS, START_MS + 30 * 60_000)
    address_only = [t for t in tickets if "lat" not in t]
    assert 5 <= len(address_only) <= len(tickets) // 3
    for t in address_only:
        assert "lon" not in t
        assert t["address"].startswith("广东省佛山市禅城区")
    categories = {t["category"] for t in tickets}
    assert {"noise", "parking", "traffic", "crowd", "fire"} <= categories


def _bridge_density(city: City, events: list[dict[str, Any]]) -> float:
    people = sum(e["people"] for e in events if e["camera"] in city.bridge_camera_ids)
    area = sum(e["area_m2"] for e in events if e["camera"] in city.bridge_camera_ids)
    return people / area


def test_bridge_crowd_incident(city: City, sim: Simulator) -> None:
    t_inc = sim.incident_start_ms
    before = sim.camera_events(t_inc - 120_000, t_inc)
    peak = sim.camera_events(t_inc + 95_000, t_inc + 200_000)
    after = sim.camera_events(t_inc + 340_000, t_inc + 600_000)
    assert _bridge_density(city, before) < 1.0
    assert _bridge_density(city, peak) > 4.0
    assert _bridge_density(city, after) < 1.0
    deck = city.bridge_camera_ids[0]
    for e in peak:
        if e["camera"] == deck:
            assert e["people"] / e["area_m2"] > 4.0
    for e in before:
        if e["camera"] in city.bridge_camera_ids:
            assert e["people"] / e["area_m2"] < 1.0
    ramp = [e for e in sim.camera_events(t_inc + 20_000, t_inc + 60_000) if e["camera"] == deck]
    assert all(e["flow_in"] > e["flow_out"] for e in ramp)
    assert all("flow_in" not in e for e in before if e["camera"] not in city.bridge_camera_ids)


def test_background_crowd_mostly_below_one(city: City, sim: Simulator) -> None:
    events = sim.camera_events(START_MS - 1_200_000, START_MS)  # evening peak, no incident
    others = [e for e in events if e["camera"] not in city.bridge_camera_ids]
    dense = [e for e in others if e["people"] / e["area_m2"] >= 1.0]
    assert len(dense) / len(others) < 0.02


def _traffic_12345_near_car_park(city: City, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        t
        for t in tickets
        if t["channel"] == "12345"
        and t["category"] == "traffic"
        and "lat" in t
        and metres(*wgs84_of(t), city.car_park.lat, city.car_park.lon) <= 150.0
    ]


def test_hotline_cluster_alone(city: City) -> None:
    quiet = Simulator(city, SimSettings(hotline_per_min=0.0), START_MS)
    tickets = quiet.hotline_events(START_MS, START_MS + 900_000)
    traffic = [t for t in tickets if t["channel"] == "12345" and t["category"] == "traffic"]
    assert len(traffic) >= 12
    assert traffic[-1]["ts"] - traffic[0]["ts"] <= 180_000
    assert traffic[0]["ts"] - quiet.incident_start_ms >= 55_000
    for t in traffic:
        assert metres(*wgs84_of(t), city.car_park.lat, city.car_park.lon) <= 150.0
    assert len([t for t in tickets if t["channel"] == "110"]) == 2
    assert sum("药" in t["text"] for t in tickets) == 1


def test_hotline_cluster_with_background(city: City, sim: Simulator) -> None:
    t_inc = sim.incident_start_ms
    tickets = sim.hotline_events(t_inc + 55_000, t_inc + 55_000 + 180_000)
    assert len(_traffic_12345_near_car_park(city, tickets)) >= 12


def test_sensor_alarms_are_rare(sim: Simulator) -> None:
    hour = sim.sensor_events(START_MS, START_MS + 3_600_000)
    alarms = [e for e in hour if e["alarm"]]
    assert 5 <= len(alarms) <= 80
    assert len({e["sensor"] for e in alarms}) >= 3
    for e in hour:
        sensor = next(s for s in sim.city.sensors if s.id == e["sensor"])
        if e["alarm"]:
            assert e["value"] >= sensor.alarm_min
        else:
            assert e["value"] < sensor.alarm_min
