"""geo.cells: containment, hierarchy and coverage properties of the H3 helpers."""

from __future__ import annotations

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, box

from geo import cells

# Away from the poles and the antimeridian, where a cell's outline in plain
# (lon, lat) degrees would wrap.
lat_st = st.floats(min_value=-70.0, max_value=70.0, allow_nan=False)
lon_st = st.floats(min_value=-170.0, max_value=170.0, allow_nan=False)
res_st = st.integers(min_value=0, max_value=15)


@settings(max_examples=300, deadline=None)
@given(lat=lat_st, lon=lon_st, res=st.integers(min_value=4, max_value=12))
def test_point_lies_in_its_cell(lat: float, lon: float, res: int) -> None:
    cell = cells.cell_of(lat, lon, res)
    poly = cells.cell_polygon(cell)
    # H3 edges are great-circle arcs, the polygon's are straight in degrees: allow
    # a sliver of tolerance proportional to the edge length (about 1e-3 of it).
    tolerance_deg = h3.average_hexagon_edge_length(res, unit="km") / 111.0 * 1e-3
    assert poly.buffer(tolerance_deg).covers(Point(lon, lat))


@settings(max_examples=300, deadline=None)
@given(lat=lat_st, lon=lon_st, res=res_st, data=st.data())
def test_parent_of_parent_is_parent(lat: float, lon: float, res: int, data: st.DataObject) -> None:
    cell = cells.cell_of(lat, lon, res)
    mid = data.draw(st.integers(min_value=0, max_value=res))
    top = data.draw(st.integers(min_value=0, max_value=mid))
    assert cells.parent(cells.parent(cell, mid), top) == cells.parent(cell, top)
    assert cells.parent(cell, res) == cell
    assert cells.cell_resolution(cells.parent(cell, top)) == top
    # The parent's centre child at the fine resolution is the fine cell containing
    # the parent's centre (H3's definition of the centre child).
    coarse = cells.parent(cell, top)
    assert h3.cell_to_center_child(coarse, res) == cells.cell_of(*cells.cell_center(coarse), res)


@settings(max_examples=200, deadline=None)
@given(lat=lat_st, lon=lon_st, res=res_st)
def test_centre_maps_back_to_cell(lat: float, lon: float, res: int) -> None:
    cell = cells.cell_of(lat, lon, res)
    assert cells.cell_of(*cells.cell_center(cell), res) == cell


def test_area_matches_published_average_at_res9() -> None:
    # H3's published average hexagon area at resolution 9: 0.1053325 km².
    cell = cells.cell_of(23.02, 113.11, 9)
    assert 0.07e6 < cells.cell_area_m2(cell) < 0.14e6


def test_cells_covering_is_centre_containment() -> None:
    square = box(113.10, 23.01, 113.13, 23.04)  # (lon, lat)
    got = cells.cells_covering(square, 9)
    assert got == sorted(got)
    # Independent brute force: every res-9 cell near the square whose centre is inside.
    centre_cell = cells.cell_of(23.025, 113.115, 9)
    candidates = h3.grid_disk(centre_cell, 20)
    expected = sorted(c for c in candidates if square.contains(Point(cells.cell_center(c)[::-1])))
    assert got == expected
    # About area / average cell area: 3 km x 3.3 km / 0.105 km².
    assert 80 < len(got) < 120


def test_cells_covering_multipolygon_and_errors() -> None:
    a = box(113.10, 23.01, 113.11, 23.02)
    b = box(113.14, 23.01, 113.15, 23.02)
    both = cells.cells_covering(MultiPolygon([a, b]), 9)
    assert set(both) == set(cells.cells_covering(a, 9)) | set(cells.cells_covering(b, 9))
    with pytest.raises(ValueError, match="Polygon"):
        cells.cells_covering(Point(113.1, 23.0), 9)
    with pytest.raises(ValueError, match="resolution"):
        cells.cells_covering(a, 16)


@pytest.mark.parametrize(
    ("lat", "lon", "res"),
    [(91.0, 0.0, 9), (0.0, 181.0, 9), (float("nan"), 0.0, 9), (0.0, 0.0, -1), (0.0, 0.0, 16)],
)
def test_cell_of_rejects_bad_input(lat: float, lon: float, res: int) -> None:
    with pytest.raises(ValueError):
        cells.cell_of(lat, lon, res)


def test_parent_rejects_finer_resolution() -> None:
    cell = cells.cell_of(23.0, 113.1, 6)
    with pytest.raises(ValueError, match="finer"):
        cells.parent(cell, 9)


def test_is_cell_never_raises() -> None:
    cell = cells.cell_of(23.0259, 113.1164, 9)
    assert cells.is_cell(cell) and cells.is_cell(cell, 9) and cells.is_cell(cell.upper(), 9)
    assert not cells.is_cell(cell, 8)
    # h3 raises OverflowError for these: a hex number beyond 64 bits, a sign
    for text in ("9" * 40, "-1", "", " " + cell, "0x1", "ffffffffffffffff", None, 42):
        assert not cells.is_cell(text), text
