"""geo.crs: published reference pairs, round trips, out-of-China identity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo import crs

_GEOD = Geod(ellps="WGS84")


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Geodesic distance in metres between two (lat, lon) points."""
    _, _, dist = _GEOD.inv(a[1], a[0], b[1], b[0])
    return float(dist)


# (WGS-84, GCJ-02) pairs published with the widely used open-source
# implementations of the GCJ-02 formula (eviltransform's test table and
# coordtransform's README example), both as (lat, lon).
WGS_GCJ_PAIRS = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
    ((39.915, 116.404), (39.91640428150164, 116.41024449916938)),  # Beijing, Tiananmen
]

# Points in China, where the offsets apply (degrees).
china_lat = st.floats(min_value=18.0, max_value=53.0)
china_lon = st.floats(min_value=74.0, max_value=134.0)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    got = crs.wgs84_to_gcj02(*wgs)
    assert metres(got, gcj) < 0.01


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ_PAIRS)
def test_gcj02_to_wgs84_is_exact_not_one_step(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    # The one-step approximation is off by 0.3-1.9 m on these pairs; the
    # iterative inverse must land within a centimetre.
    assert metres(crs.gcj02_to_wgs84(*gcj), wgs) < 0.01


def test_gcj02_bd09_published_pair() -> None:
    # coordtransform README: gcj02tobd09(116.404, 39.915) -> [116.41036949371029, 39.92133699351021]
    assert (
        metres(crs.gcj02_to_bd09(39.915, 116.404), (39.92133699351021, 116.41036949371029)) < 0.01
    )
    # ... and bd09togcj02(116.404, 39.915) -> [116.39762729119315, 39.90865673957631] with
    # Baidu's closed-form approximate inverse; the iterative inverse agrees within 0.1 m.
    assert metres(crs.bd09_to_gcj02(39.915, 116.404), (39.90865673957631, 116.39762729119315)) < 0.1


def test_offset_at_foshan_is_hundreds_of_metres() -> None:
    # The shipped outlines' provenance note: about 600 m at Chancheng.
    wgs = (23.02, 113.11)
    assert 500.0 < metres(crs.wgs84_to_gcj02(*wgs), wgs) < 700.0
    assert 500.0 < metres(crs.bd09_to_wgs84(*wgs), wgs) < 1500.0


@settings(max_examples=300, deadline=None)
@given(lat=china_lat, lon=china_lon)
def test_gcj02_round_trip_within_half_metre(lat: float, lon: float) -> None:
    there = crs.wgs84_to_gcj02(lat, lon)
    assert metres(crs.gcj02_to_wgs84(*there), (lat, lon)) < 0.5
    back = crs.gcj02_to_wgs84(lat, lon)
    assert metres(crs.wgs84_to_gcj02(*back), (lat, lon)) < 0.5


@settings(max_examples=300, deadline=None)
@given(lat=china_lat, lon=china_lon)
def test_bd09_round_trip_within_half_metre(lat: float, lon: float) -> None:
    bd = crs.gcj02_to_bd09(lat, lon)
    assert metres(crs.bd09_to_gcj02(*bd), (lat, lon)) < 0.5
    bd_from_wgs = crs.wgs84_to_bd09(lat, lon)
    assert metres(crs.bd09_to_wgs84(*bd_from_wgs), (lat, lon)) < 0.5
    assert metres(crs.to_wgs84(*bd_from_wgs, "bd09"), (lat, lon)) < 0.5


@pytest.mark.parametrize(
    "point",
    [(35.6812, 139.7671), (51.5074, -0.1278), (-33.8688, 151.2093), (40.7128, -74.0060)],
    ids=["tokyo", "london", "sydney", "new-york"],
)
def test_out_of_china_identity(point: tuple[float, float]) -> None:
    assert crs.out_of_china(*point)
    assert crs.wgs84_to_gcj02(*point) == point
    assert crs.gcj02_to_wgs84(*point) == point
    assert crs.to_wgs84(point[0], point[1], "gcj02") == point
    lat_a, lon_a = crs.gcj02_to_wgs84_array(np.array([point[0]]), np.array([point[1]]))
    assert (float(lat_a[0]), float(lon_a[0])) == point


def test_to_wgs84_dispatch_and_unknown() -> None:
    gcj = WGS_GCJ_PAIRS[1][1]
    assert crs.to_wgs84(*gcj, "wgs84") == gcj
    assert metres(crs.to_wgs84(*gcj, "gcj02"), WGS_GCJ_PAIRS[1][0]) < 0.01
    for bad in ("WGS84", "epsg:4326", ""):
        with pytest.raises(ValueError, match="unknown crs"):
            crs.to_wgs84(*gcj, bad)
        with pytest.raises(ValueError, match="unknown crs"):
            crs.to_wgs84_array(np.array([gcj[0]]), np.array([gcj[1]]), bad)


@settings(max_examples=50, deadline=None)
@given(
    points=st.lists(
        st.tuples(
            st.floats(min_value=-60.0, max_value=60.0), st.floats(min_value=60.0, max_value=150.0)
        ),
        min_size=1,
        max_size=20,
    )
)
def test_array_variants_agree_with_scalar(points: list[tuple[float, float]]) -> None:
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    pairs = [
        (crs.wgs84_to_gcj02_array, crs.wgs84_to_gcj02),
        (crs.gcj02_to_wgs84_array, crs.gcj02_to_wgs84),
        (crs.gcj02_to_bd09_array, crs.gcj02_to_bd09),
        (crs.bd09_to_gcj02_array, crs.bd09_to_gcj02),
        (crs.bd09_to_wgs84_array, crs.bd09_to_wgs84),
        (crs.wgs84_to_bd09_array, crs.wgs84_to_bd09),
    ]
    for array_fn, scalar_fn in pairs:
        got_lat, got_lon = array_fn(lat, lon)
        for i, (p_lat, p_lon) in enumerate(points):
            assert metres((float(got_lat[i]), float(got_lon[i])), scalar_fn(p_lat, p_lon)) < 1e-3


def test_array_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        crs.gcj02_to_wgs84_array(np.zeros(3), np.zeros(2))


def test_empty_arrays() -> None:
    lat, lon = crs.gcj02_to_wgs84_array(np.zeros(0), np.zeros(0))
    assert lat.shape == (0,)
    assert lon.shape == (0,)
