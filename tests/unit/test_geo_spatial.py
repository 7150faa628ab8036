"""geo.spatial: the grid point index against brute force (haversine, shapely), incl. properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

from geo.measure import distance_m, offset_m
from geo.spatial import PointIndex, haversine_m, nearest_k

BRIDGE = (23.0258, 113.1166)
_GEOD = Geod(ellps="WGS84")


def cloud(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Points over Chancheng: half uniform, half clustered, some exact duplicates."""
    rng = np.random.default_rng(seed)
    lat = np.concatenate(
        [rng.uniform(22.92, 23.07, n // 2), BRIDGE[0] + rng.normal(0, 0.004, n - n // 2)]
    )
    lon = np.concatenate(
        [rng.uniform(112.97, 113.17, n // 2), BRIDGE[1] + rng.normal(0, 0.004, n - n // 2)]
    )
    lat[:20], lon[:20] = lat[20:40], lon[20:40]  # duplicates
    return lat, lon


def brute_circle(
    lat: np.ndarray, lon: np.ndarray, c_lat: float, c_lon: float, r: float
) -> tuple[list[int], list[float]]:
    dist = [distance_m(c_lat, c_lon, float(a), float(b)) for a, b in zip(lat, lon, strict=True)]
    inside = sorted((d, i) for i, d in enumerate(dist) if d <= r)
    return [i for _, i in inside], [d for d, _ in inside]


def test_circle_equals_brute_force_in_order() -> None:
    lat, lon = cloud(4000)
    index = PointIndex.build(lat, lon)
    rng = np.random.default_rng(7)
    for _ in range(40):
        c_lat, c_lon = rng.uniform(22.93, 23.06), rng.uniform(112.98, 113.16)
        radius = float(rng.choice([1.0, 50.0, 500.0, 2000.0, 5000.0]))
        idx, dist = index.within_circle(c_lat, c_lon, radius)
        want_idx, want_dist = brute_circle(lat, lon, c_lat, c_lon, radius)
        assert idx.tolist() == want_idx
        np.testing.assert_allclose(dist, want_dist, rtol=1e-9, atol=1e-6)


def test_circle_at_the_bridge_finds_the_cluster_and_the_edge_point() -> None:
    lat, lon = cloud(2000)
    index = PointIndex.build(lat, lon)
    idx, dist = index.within_circle(*BRIDGE, 500.0)
    assert idx.size > 100 and np.all(np.diff(dist) >= 0)
    # A radius equal to a point's own distance includes that point (closed disc).
    far = int(idx[-1])
    d = float(haversine_m(BRIDGE[0], BRIDGE[1], lat[far : far + 1], lon[far : far + 1])[0])
    assert far in index.within_circle(*BRIDGE, d)[0]


def test_polygon_equals_shapely_and_includes_the_boundary() -> None:
    lat, lon = cloud(3000)
    ring = [offset_m(*BRIDGE, e, n)[::-1] for e, n in [(-800, -600), (900, -500), (300, 700)]]
    hole = [offset_m(*BRIDGE, e, n)[::-1] for e, n in [(-50, -50), (50, -50), (0, 50)]]
    other = shapely.box(113.0, 22.95, 113.02, 22.97)
    shape = MultiPolygon([Polygon(ring, [hole]), other])
    lon = np.append(lon, [ring[0][0], 113.01])  # a vertex and a point on an edge
    lat = np.append(lat, [ring[0][1], 22.95])
    index = PointIndex.build(lat, lon)
    got = index.within_polygon(shape)
    want = [i for i in range(lat.size) if shape.intersects(shapely.Point(lon[i], lat[i]))]
    assert got.tolist() == want
    assert {lat.size - 2, lat.size - 1} <= set(got.tolist())


def test_nearest_equals_brute_force() -> None:
    lat, lon = cloud(3000)
    index = PointIndex.build(lat, lon)
    for c_lat, c_lon, k, max_r in [
        (*BRIDGE, 5, 500.0),
        (22.93, 112.99, 10, 3000.0),
        (23.0, 113.05, 3, 20.0),
        (23.3, 113.3, 4, 100.0),  # nothing that close
        (*BRIDGE, 50_000, 1e6),  # every point
    ]:
        idx, dist = index.nearest(c_lat, c_lon, k, max_r)
        want_idx, want_dist = brute_circle(lat, lon, c_lat, c_lon, max_r)
        assert idx.tolist() == want_idx[:k]
        np.testing.assert_allclose(dist, want_dist[:k], rtol=1e-9, atol=1e-6)


def test_nearest_k_keeps_ties_in_index_order() -> None:
    idx = np.array([9, 4, 7, 1, 3], dtype=np.int64)
    dist = np.array([5.0, 1.0, 5.0, 5.0, 0.5])
    top, top_dist = nearest_k(idx, dist, 3)
    assert top.tolist() == [3, 4, 1] and top_dist.tolist() == [0.5, 1.0, 5.0]


def test_empty_index_and_zero_k() -> None:
    index = PointIndex.build([], [])
    assert len(index) == 0
    assert index.within_circle(*BRIDGE, 1000)[0].size == 0
    assert index.within_polygon(shapely.box(113, 23, 113.1, 23.1)).size == 0
    assert index.nearest(*BRIDGE, 3, 1000)[0].size == 0
    assert PointIndex.build([23.0], [113.0]).nearest(23.0, 113.0, 0, 10)[0].size == 0


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        ([23.0, math.nan], [113.0, 113.0], "point 1"),
        ([23.0], [113.0, 113.1], "equal"),
        ([95.0], [113.0], "point 0"),
    ],
)
def test_bad_points_are_refused(lat: list[float], lon: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PointIndex.build(lat, lon)


def test_bad_queries_are_refused() -> None:
    index = PointIndex.build([23.0], [113.0])
    with pytest.raises(ValueError, match="radius"):
        index.within_circle(23.0, 113.0, -1.0)
    with pytest.raises(ValueError, match="latitude"):
        index.within_circle(math.nan, 113.0, 10.0)
    with pytest.raises(ValueError, match="k must be"):
        index.nearest(23.0, 113.0, -1, 10.0)
    with pytest.raises(ValueError, match="Polygon"):
        index.within_polygon(shapely.Point(113.0, 23.0))


def test_points_spread_over_a_continent_get_coarser_buckets() -> None:
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(18, 53, 5000), rng.uniform(74, 134, 5000)
    index = PointIndex.build(lat, lon, cell_m=10.0)
    assert index.rows * index.cols <= 1 << 22
    idx, _ = index.within_circle(30.0, 100.0, 300_000.0)
    assert idx.tolist() == brute_circle(lat, lon, 30.0, 100.0, 300_000.0)[0]


def test_haversine_is_within_half_a_percent_of_the_ellipsoid() -> None:
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(22.9, 23.1, 500), rng.uniform(112.9, 113.2, 500)
    ours = haversine_m(BRIDGE[0], BRIDGE[1], lat, lon)
    _, _, geodesic = _GEOD.inv(np.full(500, BRIDGE[1]), np.full(500, BRIDGE[0]), lon, lat)
    assert np.all(np.abs(ours - geodesic) <= 0.005 * geodesic + 1e-6)


coordinate = st.tuples(
    st.floats(22.95, 23.05, allow_nan=False), st.floats(113.0, 113.15, allow_nan=False)
)


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(coordinate, max_size=120),
    centre=coordinate,
    radius=st.floats(0.0, 6000.0, allow_nan=False),
    cell_m=st.sampled_from([5.0, 100.0, 250.0, 3000.0]),
)
def test_circle_property(
    points: list[tuple[float, float]], centre: tuple[float, float], radius: float, cell_m: float
) -> None:
    lat = np.array([p[0] for p in points], dtype=np.float64)
    lon = np.array([p[1] for p in points], dtype=np.float64)
    index = PointIndex.build(lat, lon, cell_m=cell_m)
    idx, dist = index.within_circle(*centre, radius)
    assert idx.tolist() == brute_circle(lat, lon, *centre, radius)[0]
    k = 1 + len(points) // 3
    assert index.nearest(*centre, k, radius)[0].tolist() == idx[:k].tolist()
    loose, loose_dist = index.within_circle(*centre, radius, sort=False)
    assert sorted(loose.tolist()) == sorted(idx.tolist())
    for n in (0, 1, k, len(points) + 1):
        top, top_dist = nearest_k(loose, loose_dist, n)
        assert top.tolist() == idx[:n].tolist()
        np.testing.assert_array_equal(top_dist, dist[:n])


@settings(max_examples=100, deadline=None)
@given(
    points=st.lists(coordinate, max_size=120),
    corners=st.lists(coordinate, min_size=3, max_size=8),
    cell_m=st.sampled_from([5.0, 250.0, 3000.0]),
)
def test_polygon_property(
    points: list[tuple[float, float]], corners: list[tuple[float, float]], cell_m: float
) -> None:
    shape = shapely.convex_hull(shapely.MultiPoint([(lon, lat) for lat, lon in corners]))
    if not isinstance(shape, Polygon):
        return  # degenerate corners: a point or a line
    lat = np.array([p[0] for p in points], dtype=np.float64)
    lon = np.array([p[1] for p in points], dtype=np.float64)
    got = PointIndex.build(lat, lon, cell_m=cell_m).within_polygon(shape)
    want = [i for i in range(len(points)) if shape.intersects(shapely.Point(lon[i], lat[i]))]
    assert got.tolist() == want
