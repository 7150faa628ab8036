"""geo.district: the shipped Chancheng outline, converted from GCJ-02 to WGS-84."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import shape

from geo import cells, crs
from geo.district import District, district_geojson, load_district, load_district_gcj02

_GEOD = Geod(ellps="WGS84")

# Foshan Ancestral Temple (祖庙), Zumiao Road, Chancheng: the coordinate published
# with its encyclopedia article, 23°02′07″N 113°06′59″E. Whether that value was
# taken in WGS-84 or GCJ-02 is not stated, so both readings are checked.
ZUMIAO = (23.035151, 113.116307)
# Canton Tower, Guangzhou (published 23.1065 N, 113.3245 E): outside Foshan.
CANTON_TOWER = (23.1065, 113.3245)
# Daliang, Shunde district centre: in Foshan but not in Chancheng.
SHUNDE_DALIANG = (22.8400, 113.2500)


@pytest.fixture(scope="module")
def chancheng() -> District:
    return load_district("440604")


def test_identity(chancheng: District) -> None:
    assert chancheng.adcode == "440604"
    assert chancheng.name == "禅城区"
    assert chancheng.city == "佛山市"
    assert load_district() is chancheng  # default adcode, cached


def test_area_about_155_km2(chancheng: District) -> None:
    # Published area of Chancheng district: about 154 km².
    assert 155 * 0.9 < chancheng.area_km2 < 155 * 1.1
    assert chancheng.geometry.is_valid


def test_res9_cell_count(chancheng: District) -> None:
    n = len(cells.cells_covering(chancheng.geometry, 9))
    assert 1490 * 0.9 < n < 1490 * 1.1
    # Cross-check: area / published average res-9 hexagon area (0.1053 km²).
    assert abs(n - chancheng.area_km2 / 0.1053325) < 0.1 * n


def test_outline_is_shifted_from_gcj02(chancheng: District) -> None:
    gcj = load_district_gcj02("440604")
    raw = np.asarray(gcj.geoms[0].exterior.coords)
    wgs = np.asarray(chancheng.geometry.geoms[0].exterior.coords)
    assert raw.shape == wgs.shape
    _, _, dist = _GEOD.inv(raw[:, 0], raw[:, 1], wgs[:, 0], wgs[:, 1])
    assert 500.0 < float(dist.min()) <= float(dist.max()) < 700.0
    # Every converted vertex maps forward onto the shipped GCJ-02 vertex.
    for lon, lat in wgs[::25]:
        g_lat, g_lon = crs.wgs84_to_gcj02(float(lat), float(lon))
        _, _, back = _GEOD.inv(g_lon, g_lat, *_find(raw, wgs, lon, lat))
        assert back < 0.5


def _find(raw: np.ndarray, wgs: np.ndarray, lon: float, lat: float) -> tuple[float, float]:
    i = int(np.flatnonzero((wgs[:, 0] == lon) & (wgs[:, 1] == lat))[0])
    return float(raw[i, 0]), float(raw[i, 1])


def test_known_points(chancheng: District) -> None:
    assert chancheng.contains(*ZUMIAO)
    assert chancheng.contains(*crs.gcj02_to_wgs84(*ZUMIAO))
    assert not chancheng.contains(*CANTON_TOWER)
    assert not chancheng.contains(*SHUNDE_DALIANG)
    assert chancheng.contains(*chancheng.centroid)


def test_bbox_and_centroid(chancheng: District) -> None:
    min_lon, min_lat, max_lon, max_lat = chancheng.bbox
    assert 112.9 < min_lon < max_lon < 113.2
    assert 22.9 < min_lat < max_lat < 23.1
    lat, lon = chancheng.centroid
    assert min_lat < lat < max_lat
    assert min_lon < lon < max_lon


def test_district_geojson_round_trips(chancheng: District) -> None:
    fc = district_geojson(chancheng)
    text = json.dumps(fc, ensure_ascii=False)
    parsed = json.loads(text)
    assert parsed["type"] == "FeatureCollection"
    (feature,) = parsed["features"]
    assert feature["properties"] == {"adcode": "440604", "name": "禅城区", "city": "佛山市"}
    geom = shape(feature["geometry"])
    assert geom.equals_exact(chancheng.geometry, 1e-12)


def test_other_districts_and_unknown() -> None:
    nanhai = load_district("440605")
    assert nanhai.name == "南海区"
    assert not nanhai.geometry.intersection(load_district("440604").geometry).area > 1e-6
    city = load_district("440600")
    assert city.name == "佛山市"
    assert 3797.72 * 0.95 < city.area_km2 < 3797.72 * 1.05  # published city area
    with pytest.raises(ValueError, match="unknown adcode"):
        load_district("999999")
