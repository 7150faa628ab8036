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

from geo.measure import EARTH_RADIUS_M, distance_m, offset_m
from geo.spatial import Hits, PointIndex, haversine_m, nearest_k

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


# -- bucket classification (circle_hits, polygon_hits) against brute force over every point --


def grid_cloud(seed: int, n: int, cell_m: float) -> tuple[np.ndarray, np.ndarray, PointIndex]:
    """Clustered points with duplicates plus points exactly on the grid's bucket edges and
    corners (same grid as without them: they lie inside the original span)."""
    rng = np.random.default_rng(seed)
    lat, lon = cloud(max(n, 40), seed)
    first = PointIndex.build(lat, lon, cell_m=cell_m)
    r = rng.integers(1, max(2, first.rows), 30)
    c = rng.integers(1, max(2, first.cols), 30)
    edge_lat = np.minimum(first.lat0 + r * first.dlat, lat.max())
    edge_lon = np.minimum(first.lon0 + c * first.dlon, lon.max())
    lat = np.concatenate([lat, edge_lat, edge_lat, rng.uniform(lat.min(), lat.max(), 30)])
    lon = np.concatenate([lon, edge_lon, rng.uniform(lon.min(), lon.max(), 30), edge_lon])
    index = PointIndex.build(lat, lon, cell_m=cell_m)
    assert (index.lat0, index.dlat, index.lon0, index.dlon) == (
        first.lat0,
        first.dlat,
        first.lon0,
        first.dlon,
    )
    return lat, lon, index


def check_hits(
    index: PointIndex,
    hits: Hits,
    want: np.ndarray,
    points: tuple[np.ndarray, np.ndarray],
    centre: tuple[float, float],
) -> None:
    """``hits`` are exactly the points (``(lat, lon)`` arrays) of mask ``want``; their
    count, membership, sums and nearest points agree with brute force."""
    assert np.sort(index.indices(hits)).tolist() == np.flatnonzero(want).tolist()
    assert hits.count == int(want.sum())
    assert np.array_equal(hits.holds(np.arange(len(index))), want[index.order])
    n = len(index)
    whole = np.arange(n, dtype=np.float64) % 97  # whole numbers: sums are exact
    assert index.sums(whole).total(hits) == float(whole[want].sum())
    frac = np.where(np.arange(n) % 5 == 0, np.nan, np.linspace(0.1, 3.7, n))
    want_frac = float(np.nansum(frac[want]))
    assert index.sums(frac).total(hits) == pytest.approx(want_frac, rel=1e-12, abs=1e-6)
    inside = np.flatnonzero(want).astype(np.int64)
    dist = haversine_m(*centre, points[0][inside], points[1][inside])
    for k in (0, 1, 7, inside.size, inside.size + 3):
        top, top_dist = index.nearest_in(hits, *centre, k)
        want_top, want_dist = nearest_k(inside, dist, k)
        assert top.tolist() == want_top.tolist()
        np.testing.assert_array_equal(top_dist, want_dist)


RADII = st.one_of(
    st.sampled_from([0.0, 1e-6, 0.5, 1.0, 249.9, 250.0, 1000.0, 5000.0, 12_000.0, 30_000.0]),
    st.floats(0.0, 20_000.0, allow_nan=False),
    st.floats(1e6, 2.5e7, allow_nan=False),  # a continent, half the Earth and beyond
)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 2000),
    cell_m=st.sampled_from([50.0, 250.0, 3000.0]),  # up to 134,000 buckets
    where=st.sampled_from(["point", "corner", "edge", "anywhere", "antipode"]),
    radius=RADII,
    on_a_point=st.booleans(),
)
def test_circle_hits_equal_brute_force(
    seed: int, n: int, cell_m: float, where: str, radius: float, on_a_point: bool
) -> None:
    """Circles centred on a point, on a bucket corner or edge, anywhere, or at the antipode
    of the cloud (where the haversine is ill-conditioned); radii from 0 to past half the
    Earth, or exactly some point's distance (that point is inside: a closed disc)."""
    lat, lon, index = grid_cloud(seed, n, cell_m)
    rng = np.random.default_rng(seed + 1)
    j = int(rng.integers(lat.size))
    if where == "point":
        centre = (float(lat[j]), float(lon[j]))
    elif where in ("corner", "edge"):
        r, c = rng.integers(0, index.rows + 1), rng.integers(0, index.cols + 1)
        shift = 0.0 if where == "corner" else float(rng.uniform(0, index.dlon))
        centre = (index.lat0 + r * index.dlat, index.lon0 + c * index.dlon + shift)
    elif where == "antipode":
        centre = (-float(lat[j]), float(lon[j]) - 180.0)
        radius = math.pi * EARTH_RADIUS_M - radius % 20_000.0
    else:
        centre = (float(rng.uniform(-90, 90)), float(rng.uniform(-180, 180)))
    every = haversine_m(*centre, lat, lon)
    if on_a_point:
        radius = float(every[int(rng.integers(lat.size))])
    hits = index.circle_hits(*centre, radius)
    want = every <= radius
    check_hits(index, hits, want, (lat, lon), centre)
    idx, dist = index.within_circle(*centre, radius)
    assert sorted(idx.tolist()) == np.flatnonzero(want).tolist()
    np.testing.assert_array_equal(dist, every[idx])


def star(
    rng: np.random.Generator, lat: float, lon: float, radius_m: float, corners: int
) -> Polygon:
    """A star-shaped polygon (``corners`` >= 4) whose radius wanders between 0.3 and 1.2
    times ``radius_m``; simple, since no two corners are half a turn apart."""
    angle = 2 * np.pi * (np.arange(corners) + rng.uniform(0, 0.5, corners)) / corners
    r = radius_m * rng.uniform(0.3, 1.2, corners)
    ring = [
        offset_m(lat, lon, float(e), float(n))[::-1]
        for e, n in zip(r * np.sin(angle), r * np.cos(angle), strict=True)
    ]
    return Polygon(ring)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 2000),
    cell_m=st.sampled_from([50.0, 250.0, 3000.0]),  # up to 134,000 buckets
    kind=st.sampled_from(["star", "grid box", "holed", "multi", "hull"]),
    radius=st.sampled_from([0.5, 20.0, 300.0, 1000.0, 3300.0, 8000.0]),
)
def test_polygon_hits_equal_brute_force(
    seed: int, n: int, cell_m: float, kind: str, radius: float
) -> None:
    """Stars, boxes whose sides lie on bucket edges (with points on them), stars with a
    hole, two stars, hulls of random points: the same points as shapely over all."""
    lat, lon, index = grid_cloud(seed, n, cell_m)
    rng = np.random.default_rng(seed + 2)
    j = int(rng.integers(lat.size))
    centre = (float(lat[j]), float(lon[j]))
    shape: Polygon | MultiPolygon
    if kind == "grid box":
        r0, c0 = rng.integers(0, index.rows), rng.integers(0, index.cols)
        r1, c1 = r0 + rng.integers(1, 12), c0 + rng.integers(1, 12)
        shape = shapely.box(
            index.lon0 + c0 * index.dlon,
            index.lat0 + r0 * index.dlat,
            index.lon0 + c1 * index.dlon,
            index.lat0 + r1 * index.dlat,
        )
    elif kind == "hull":
        some = rng.integers(lat.size, size=8)
        shape = shapely.convex_hull(shapely.MultiPoint(np.column_stack([lon[some], lat[some]])))
    else:
        shape = star(rng, *centre, radius, int(rng.integers(4, 40)))
        if kind == "holed":
            shape = shape.difference(star(rng, *centre, radius / 3, 6))
        elif kind == "multi":
            k = int(rng.integers(lat.size))
            shape = shape.union(star(rng, float(lat[k]), float(lon[k]), radius, 9))
    if not isinstance(shape, Polygon | MultiPolygon) or shape.is_empty or not shape.is_valid:
        return  # degenerate: a line, a point, or a self-crossing star
    want = np.asarray(shapely.intersects_xy(shape, lon, lat))
    hits = index.polygon_hits(shape)
    point = shape.representative_point()
    check_hits(index, hits, want, (lat, lon), (point.y, point.x))
    assert index.within_polygon(shape).tolist() == np.flatnonzero(want).tolist()


def test_large_shapes_take_most_points_whole() -> None:
    """The point of the classification: a 5 km circle or a 3.3 km polygon over a dense
    cloud tests only the points of the buckets its boundary crosses."""
    lat, lon = cloud(200_000)
    index = PointIndex.build(lat, lon)
    circle = index.circle_hits(*BRIDGE, 5000.0)
    assert circle.count > 100_000 and circle.tested.size < 0.1 * circle.count
    shape = star(np.random.default_rng(4), *BRIDGE, 3300.0, 24)
    polygon = index.polygon_hits(shape)
    assert polygon.count > 100_000 and polygon.tested.size < 0.25 * polygon.count
