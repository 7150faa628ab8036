"""feeds.sim.city: a reproducible Chancheng-like city inside the real outline."""

from __future__ import annotations

import math
import re

import pytest
from pyproj import Geod

from feeds.sim.city import SENSOR_SPECS, City, build_city
from feeds.sim.places import ALL_PLACES, TONGJI_BRIDGE, TONGJI_CAR_PARK, ZONE_KINDS
from geo import cells, crs
from geo.district import District, load_district

_GEOD = Geod(ellps="WGS84")

# Published coordinate of the Foshan Ancestral Temple (祖庙), 23°02′07″N 113°06′59″E;
# Tongji Bridge lies in the old town a short walk south-east of it.
ZUMIAO = (23.035151, 113.116307)


def metres(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    return float(_GEOD.inv(a_lon, a_lat, b_lon, b_lat)[2])


@pytest.fixture(scope="module")
def district() -> District:
    return load_district("440604")


@pytest.fixture(scope="module")
def city(district: District) -> City:
    return build_city(42, district, 300, 200)


def test_reproducible(district: District, city: City) -> None:
    assert build_city(42, district, 300, 200) == city
    other = build_city(43, district, 300, 200)
    assert other != city
    assert [c.lat for c in other.cameras[3:]] != [c.lat for c in city.cameras[3:]]


def test_counts_ids_and_urls(city: City) -> None:
    assert len(city.cameras) == 300
    assert len(city.sensors) == 200
    cam_ids = [c.id for c in city.cameras]
    assert len(set(cam_ids)) == 300
    assert all(re.fullmatch(r"cam-\d{4}", i) for i in cam_ids)
    assert all(c.stream_url == f"rtsp://video.local/{c.id}" for c in city.cameras)
    sen_ids = [s.id for s in city.sensors]
    assert len(set(sen_ids)) == 200
    assert not set(cam_ids) & set(sen_ids)


def test_every_device_inside_the_outline(district: District, city: City) -> None:
    for dev in (*city.cameras, *city.sensors):
        assert district.contains(dev.lat, dev.lon), dev.id
        # What goes on the wire, decoded as the pipeline will, is inside too.
        w_lat, w_lon = crs.to_wgs84(dev.reported_lat, dev.reported_lon, dev.crs)
        assert district.contains(w_lat, w_lon), dev.id
        assert metres(w_lat, w_lon, dev.lat, dev.lon) < 0.5


def test_some_devices_report_chinese_datums(city: City) -> None:
    gcj = [c for c in city.cameras if c.crs == "gcj02"]
    bd = [s for s in city.sensors if s.crs == "bd09"]
    assert 3 <= len(gcj) <= 30
    assert 3 <= len(bd) <= 20
    assert {c.crs for c in city.cameras} == {"wgs84", "gcj02"}
    assert {s.crs for s in city.sensors} == {"wgs84", "bd09"}
    # Really encoded: the raw reported position is hundreds of metres off.
    for dev in (*gcj, *bd):
        assert metres(dev.reported_lat, dev.reported_lon, dev.lat, dev.lon) > 300.0
    for cam in city.cameras:
        if cam.crs == "wgs84":
            assert metres(cam.reported_lat, cam.reported_lon, cam.lat, cam.lon) < 0.05


def test_bridge_and_car_park(district: District, city: City) -> None:
    assert district.contains(TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon)
    assert district.contains(TONGJI_CAR_PARK.lat, TONGJI_CAR_PARK.lon)
    assert (
        200.0
        <= metres(city.bridge.lat, city.bridge.lon, city.car_park.lat, city.car_park.lon)
        <= 400.0
    )
    # In the old town, south-east of the Ancestral Temple (either datum reading).
    for ref in (ZUMIAO, crs.gcj02_to_wgs84(*ZUMIAO)):
        assert metres(*ref, TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon) < 2500.0
    assert TONGJI_BRIDGE.lat < ZUMIAO[0]

    bridge = [city.camera(i) for i in city.bridge_camera_ids]
    assert len(bridge) == 2
    for cam in bridge:
        assert cam.zone == "bridge"
        assert 300.0 <= cam.area_m2 <= 600.0
        assert metres(cam.lat, cam.lon, TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon) < 50.0
    (park,) = [city.camera(i) for i in city.car_park_camera_ids]
    assert park.zone == "car_park"
    assert metres(park.lat, park.lon, TONGJI_CAR_PARK.lat, TONGJI_CAR_PARK.lon) < 50.0
    assert [c.id for c in city.cameras if c.zone == "bridge"] == list(city.bridge_camera_ids)


def test_bridge_cell_is_the_bridge_only(city: City) -> None:
    bridge_cells = {
        cells.cell_of(city.camera(i).lat, city.camera(i).lon, 9) for i in city.bridge_camera_ids
    }
    assert len(bridge_cells) == 1
    others = {cells.cell_of(c.lat, c.lon, 9) for c in city.cameras if c.zone != "bridge"}
    assert not bridge_cells & others


def test_camera_attributes(city: City) -> None:
    for cam in city.cameras:
        assert cam.zone in ZONE_KINDS
        assert 150.0 <= cam.area_m2 <= 1500.0
        assert 0.0 < cam.base_density < 1.0
    assert {c.zone for c in city.cameras} >= {"street", "square", "park", "station", "mall"}


def test_cameras_cluster_around_busy_places(district: District, city: City) -> None:
    attractors = [p for p in ALL_PLACES if p.weight > 0]
    radius = 600.0
    near = [
        c
        for c in city.cameras
        if any(metres(c.lat, c.lon, p.lat, p.lon) < radius for p in attractors)
    ]
    disc_share = len(attractors) * math.pi * radius**2 / (district.area_km2 * 1e6)
    assert disc_share < 0.15
    # Far more cameras near the places than an even spread would put there.
    assert len(near) / len(city.cameras) > 3 * disc_share


def test_sensors(city: City) -> None:
    assert {s.type for s in city.sensors} == set(SENSOR_SPECS)
    for s in city.sensors:
        assert s.normal_min < s.normal_max < s.alarm_min < s.alarm_max
        assert s.unit
    first = city.sensors[0]
    assert first.type == "noise"
    assert metres(first.lat, first.lon, TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon) < 50.0


@pytest.mark.parametrize(("n_cam", "n_sen"), [(1, 0), (2, 1), (3, 0), (10, 5)])
def test_small_cities(district: District, n_cam: int, n_sen: int) -> None:
    small = build_city(7, district, n_cam, n_sen)
    assert len(small.cameras) == n_cam
    assert len(small.sensors) == n_sen
    assert small.cameras[0].zone == "bridge"


def test_rejects_bad_arguments(district: District) -> None:
    with pytest.raises(ValueError, match="camera"):
        build_city(1, district, 0, 0)
    with pytest.raises(ValueError, match="sensor"):
        build_city(1, district, 5, -1)
    with pytest.raises(ValueError, match="not inside"):
        build_city(1, load_district("440606"), 5, 0)  # Shunde has no Tongji Bridge
