"""geo.zones: loading and validating zone layers, walkable area per H3 cell, grid zones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas
import h3
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape

from geo import cells, crs
from geo.district import District, load_district
from geo.measure import geodesic_area_m2, offset_m
from geo.zone_index import ZoneIndex, build_zone_index, cells_intersecting
from geo.zones import (
    DEFAULT_CROWD,
    Zone,
    ZoneLayerError,
    default_zones,
    grid_zones,
    load_zones,
    zones_geojson,
)

_GEOD = Geod(ellps="WGS84")
BRIDGE = (23.0258, 113.1166)  # WGS-84 centre of the Tongji Bridge deck
DECK_M2 = 32.0 * 9.9


def rect(lat: float, lon: float, east_m: float, north_m: float, rotation: float = 0.0) -> Polygon:
    """A rectangle ``east_m`` x ``north_m`` metres centred on WGS-84 ``(lat, lon)``."""
    local = affinity.rotate(
        shapely.box(-east_m / 2, -north_m / 2, east_m / 2, north_m / 2), rotation, origin=(0, 0)
    )
    ring = [offset_m(lat, lon, e, n)[::-1] for e, n in local.exterior.coords]
    return Polygon(ring)


def zone(
    zid: str,
    geometry: Polygon | MultiPolygon,
    kind: str = "square",
    *,
    crowd: str | None = None,
    walkable: bool = True,
    width_m: float | None = None,
) -> Zone:
    return Zone(zid, zid, kind, crowd or DEFAULT_CROWD[kind], walkable, width_m, geometry)  # type: ignore[arg-type]


def brute_force_cells(geometry: Polygon | MultiPolygon, res: int = 9, k: int = 4) -> set[str]:
    """Cells near the geometry whose intersection with it has positive area (shapely)."""
    centre = geometry.representative_point()
    near = h3.grid_disk(cells.cell_of(centre.y, centre.x, res), k)
    return {c for c in near if shapely.intersection(cells.cell_polygon(c), geometry).area > 0}


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def feature(props: dict[str, Any], geometry: Any) -> dict[str, Any]:
    geom = mapping(geometry) if isinstance(geometry, shapely.Geometry) else geometry
    return {"type": "Feature", "properties": props, "geometry": geom}


@pytest.fixture(scope="module")
def chancheng() -> District:
    return load_district("440604")


@pytest.fixture(scope="module")
def packaged() -> tuple[Zone, ...]:
    return default_zones()


@pytest.fixture(scope="module")
def packaged_index(packaged: tuple[Zone, ...]) -> ZoneIndex:
    return build_zone_index(packaged)


def by_id(zones: tuple[Zone, ...]) -> dict[str, Zone]:
    return {z.id: z for z in zones}


# ---------------------------------------------------------------------------
# The packaged layer


def test_packaged_layer(packaged: tuple[Zone, ...], chancheng: District) -> None:
    assert default_zones() is packaged  # cached
    zones = by_id(packaged)
    assert len(zones) == len(packaged)
    deck = zones["tongji-bridge-deck"]
    assert (deck.kind, deck.crowd, deck.walkable, deck.width_m) == ("bridge", "moving", True, 9.9)
    assert zones["tongji-car-park"].kind == "car_park"
    assert zones["lingnan-tiandi"].crowd == "moving"  # property overrides the mall default
    assert {"zumiao", "lingnan-tiandi", "nanfeng-kiln"} <= zones.keys()
    for z in packaged:
        assert chancheng.geometry.contains(z.geometry), z.id
    size = (Path(__file__).parents[2] / "geo" / "data" / "chancheng_zones.gcj02.geojson").stat()
    assert size.st_size < 50_000


def test_packaged_zones_have_english_names(packaged: tuple[Zone, ...]) -> None:
    for z in packaged:
        assert z.name_en is not None and z.name_en.strip() and z.name_en.isascii(), z.id
    zones = by_id(packaged)
    assert zones["tongji-bridge-deck"].name_en == "Tongji Bridge deck"
    assert zones["tongji-road"].name_en == "Tongji Road (Tongji Bridge section)"
    assert zones["foshan-station-forecourt"].name_en == "Foshan Railway Station forecourt"


def test_bridge_deck_is_converted_from_gcj02(packaged: tuple[Zone, ...]) -> None:
    deck = by_id(packaged)["tongji-bridge-deck"].geometry
    centre = deck.centroid
    _, _, dist = _GEOD.inv(centre.x, centre.y, BRIDGE[1], BRIDGE[0])
    assert dist < 0.5  # back at the WGS-84 position, not ~600 m off


def test_bridge_deck_area_and_its_cell(packaged: tuple[Zone, ...]) -> None:
    deck = by_id(packaged)["tongji-bridge-deck"]
    area = geodesic_area_m2(deck.geometry)
    assert abs(area - 317.0) <= 10.0
    assert area == pytest.approx(DECK_M2, rel=0.01)  # 32 m x 9.9 m
    alone = build_zone_index([deck])
    (cell,) = alone.cells_of_zone[deck.id]  # the deck lies in one res-9 cell
    assert cell == cells.cell_of(*BRIDGE, 9)
    assert alone.walkable(cell) == pytest.approx(area, rel=1e-9)
    assert alone.width_m(cell) == 9.9
    assert alone.crowd_kind(cell) == "moving"


def test_bridge_cell_in_the_packaged_index(
    packaged: tuple[Zone, ...], packaged_index: ZoneIndex
) -> None:
    cell = cells.cell_of(*BRIDGE, 9)
    ids = packaged_index.zones_of_cell[cell]
    assert {"tongji-bridge-deck", "tongji-bridge-north-plaza", "tongji-road"} <= set(ids)
    union = shapely.union_all([z.geometry for z in packaged if z.walkable])
    expected = geodesic_area_m2(union.intersection(cells.cell_polygon(cell)))
    assert packaged_index.walkable(cell) == pytest.approx(expected, rel=1e-9)
    # A static plaza meets the moving bridge: moving wins; the deck is the bottleneck.
    assert packaged_index.crowd_kind(cell) == "moving"
    assert packaged_index.width_m(cell) == 9.9


def test_packaged_cells_match_shapely(
    packaged: tuple[Zone, ...], packaged_index: ZoneIndex
) -> None:
    for z in packaged:
        k = 6 if geodesic_area_m2(z.geometry) > 50_000 else 4
        assert set(packaged_index.cells_of_zone[z.id]) == brute_force_cells(z.geometry, k=k), z.id
    walkable_total = sum(packaged_index.walkable_m2.values())
    union = shapely.union_all([z.geometry for z in packaged if z.walkable])
    # Geod reads each edge as a geodesic, shapely as straight in degrees: cutting a
    # 500 m edge at cell boundaries moves the area by under a square metre.
    assert walkable_total == pytest.approx(geodesic_area_m2(union), rel=1e-5)
    assert walkable_total < sum(geodesic_area_m2(z.geometry) for z in packaged)  # overlaps


# ---------------------------------------------------------------------------
# Index: table-driven cases


@pytest.mark.parametrize(
    ("crowds", "expected"),
    [
        ([], None),
        (["static"], "static"),
        (["moving"], "moving"),
        (["static", "static"], "static"),
        (["static", "moving"], "moving"),
        (["moving", "static"], "moving"),
    ],
)
def test_crowd_kind_precedence(crowds: list[str], expected: str | None) -> None:
    zones = [
        zone(f"z{i}", rect(*BRIDGE, 20, 10, rotation=30 * i), crowd=c) for i, c in enumerate(crowds)
    ]
    # A non-walkable grid zone never decides the crowd kind.
    zones.append(zone("g", rect(*BRIDGE, 100, 100), "grid", walkable=False))
    index = build_zone_index(zones)
    cell = cells.cell_of(*BRIDGE, 9)
    assert index.crowd_kind(cell) == expected
    assert (index.walkable(cell) is None) == (not crowds)
    assert [z.id for z in index.zones_at(cell)] == sorted(z.id for z in zones)


@pytest.mark.parametrize(
    ("widths", "expected"),
    [([None], None), ([9.9], 9.9), ([16.0, 9.9], 9.9), ([None, 14.0], 14.0)],
)
def test_width_is_the_narrowest(widths: list[float | None], expected: float | None) -> None:
    zones = [
        zone(f"s{i}", rect(*BRIDGE, 10, 40), "street", width_m=w) for i, w in enumerate(widths)
    ]
    assert build_zone_index(zones).width_m(cells.cell_of(*BRIDGE, 9)) == expected


def test_overlapping_zones_are_counted_once() -> None:
    a = rect(*BRIDGE, 60, 40)
    shifted = offset_m(*BRIDGE, 30, 0)
    b = rect(*shifted, 60, 40)
    cell = cells.cell_of(*BRIDGE, 9)
    one = build_zone_index([zone("a", a)]).walkable(cell)
    twice = build_zone_index([zone("a", a), zone("a2", a)]).walkable(cell)
    both = build_zone_index([zone("a", a), zone("b", b)])
    assert one is not None and twice == pytest.approx(one, rel=1e-12)
    total = sum(both.walkable_m2.values())
    assert total == pytest.approx(geodesic_area_m2(a.union(b)), rel=1e-9)
    assert total == pytest.approx(90 * 40, rel=0.01)  # not 2 x 60 x 40


def test_cells_without_a_layer_and_wrong_resolution(packaged_index: ZoneIndex) -> None:
    far = cells.cell_of(23.06, 113.00, 9)
    assert packaged_index.walkable(far) is None
    assert packaged_index.crowd_kind(far) is None
    assert packaged_index.width_m(far) is None
    assert packaged_index.zones_at(far) == ()
    with pytest.raises(ValueError, match="resolution 9"):
        packaged_index.walkable(cells.cell_of(*BRIDGE, 10))


def test_tiny_zone_gets_its_cell_even_off_centre() -> None:
    lat, lon = cells.cell_polygon(cells.cell_of(*BRIDGE, 9)).exterior.coords[0][::-1]
    kiosk = rect(lat, lon, 6, 6)  # straddles a cell vertex: three cells, no centre inside
    assert cells.cells_covering(kiosk, 9) == []
    assert len(cells_intersecting(kiosk, 9)) == 3
    assert set(cells_intersecting(kiosk, 9)) == brute_force_cells(kiosk)


def test_index_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate zone id 'a'"):
        build_zone_index([zone("a", rect(*BRIDGE, 5, 5)), zone("a", rect(*BRIDGE, 9, 9))])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "plaza"}, "unknown kind"),
        ({"crowd": "running"}, "unknown crowd"),
        ({"width_m": 0.0}, "width_m"),
        ({"width_m": float("nan")}, "width_m"),
        ({"kind": "grid", "walkable": True}, "cannot be walkable"),
        ({"geometry": Point(113.1, 23.0)}, "expected Polygon"),
        ({"geometry": rect(23.0, -113.1, 10, 10)}, "outside the mainland China"),
        ({"id": ""}, "non-empty"),
        ({"name_en": ""}, "name_en is empty"),
        ({"name_en": "  "}, "name_en is empty"),
        ({"name_en": 5}, "name_en must be text"),
    ],
)
def test_zone_validates_itself(change: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "id": "z",
        "name": "z",
        "kind": "square",
        "crowd": "static",
        "walkable": True,
        "width_m": None,
        "geometry": rect(*BRIDGE, 10, 10),
    }
    with pytest.raises(ValueError, match=message):
        Zone(**(fields | change))


# ---------------------------------------------------------------------------
# Index: properties

# (lat, lon, east_m, north_m, rotation, walkable, crowd) of a rectangle in central Chancheng.
_zone_st = st.tuples(
    st.floats(23.00, 23.04),
    st.floats(113.08, 113.12),
    st.floats(2.0, 300.0),
    st.floats(2.0, 300.0),
    st.floats(0.0, 90.0),
    st.booleans(),
    st.sampled_from(["moving", "static"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(_zone_st, min_size=1, max_size=4))
def test_index_properties(
    specs: list[tuple[float, float, float, float, float, bool, str]],
) -> None:
    zones = [
        zone(f"z{i}", rect(lat, lon, e, n, rot), crowd=crowd, walkable=walkable)
        for i, (lat, lon, e, n, rot, walkable, crowd) in enumerate(specs)
    ]
    index = build_zone_index(zones)
    for z in zones:
        assert set(index.cells_of_zone[z.id]) == brute_force_cells(z.geometry), z.id
    # cells_of_zone and zones_of_cell are inverse relations.
    pairs = {(z, c) for z, cs in index.cells_of_zone.items() for c in cs}
    assert pairs == {(z, c) for c, zs in index.zones_of_cell.items() for z in zs}
    for cell, area in index.walkable_m2.items():
        assert 0.0 <= area <= cells.cell_area_m2(cell)
    walkable = [z.geometry for z in zones if z.walkable]
    expected = geodesic_area_m2(shapely.union_all(walkable)) if walkable else 0.0
    # cut along cell edges, the pieces' geodesic areas add up to the whole's to ~1e-5
    # (the cuts add vertices; found at 1.02e-5 by hypothesis): 1e-4 is still 0.01 %
    assert sum(index.walkable_m2.values()) == pytest.approx(expected, rel=1e-4, abs=1e-3)
    walkable_cells = {c for z in zones if z.walkable for c in index.cells_of_zone[z.id]}
    assert set(index.walkable_m2) == walkable_cells == set(index.crowd_of_cell)


@settings(max_examples=25, deadline=None)
@given(lat=st.floats(22.99, 23.05), lon=st.floats(113.02, 113.13))
def test_fully_walkable_cell_never_exceeds_its_area(lat: float, lon: float) -> None:
    cell = cells.cell_of(lat, lon, 9)
    plaza = zone("p", rect(lat, lon, 1500, 1500))
    area = build_zone_index([plaza]).walkable(cell)
    assert area is not None
    assert area <= cells.cell_area_m2(cell)
    assert area == pytest.approx(cells.cell_area_m2(cell), rel=0.005)


# ---------------------------------------------------------------------------
# Loading: formats, coordinate systems, validation


def _frame(zones: tuple[Zone, ...], to: str = "wgs84") -> geopandas.GeoDataFrame:
    def convert(xy: np.ndarray) -> np.ndarray:
        lat, lon = xy[:, 1], xy[:, 0]
        if to == "gcj02":
            lat, lon = crs.wgs84_to_gcj02_array(lat, lon)
        elif to == "bd09":
            lat, lon = crs.wgs84_to_bd09_array(lat, lon)
        return np.column_stack([lon, lat])

    rows = [
        {
            k: getattr(z, k)
            for k in ("id", "name", "name_en", "kind", "crowd", "walkable", "width_m")
        }
        for z in zones
    ]
    geoms = [shapely.transform(z.geometry, convert) for z in zones]
    return geopandas.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


def assert_same_zones(a: tuple[Zone, ...], b: tuple[Zone, ...], tolerance_m: float) -> None:
    assert [(z.id, z.name, z.name_en, z.kind, z.crowd, z.walkable, z.width_m) for z in a] == [
        (z.id, z.name, z.name_en, z.kind, z.crowd, z.walkable, z.width_m) for z in b
    ]
    for za, zb in zip(a, b, strict=True):
        assert za.geometry.hausdorff_distance(zb.geometry) * 111_320 < tolerance_m, za.id


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_formats_give_the_same_zones(
    tmp_path: Path, packaged: tuple[Zone, ...], suffix: str
) -> None:
    path = tmp_path / f"zones.gcj02{suffix}"
    _frame(packaged, to="gcj02").to_file(path, engine="pyogrio")
    assert_same_zones(load_zones(path), packaged, tolerance_m=1e-6)


def test_gcj02_and_wgs84_files_give_the_same_index(
    tmp_path: Path, packaged: tuple[Zone, ...], packaged_index: ZoneIndex
) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(zones_geojson(packaged), ensure_ascii=False), encoding="utf-8")
    wgs = load_zones(path)
    assert_same_zones(wgs, packaged, tolerance_m=1.0)
    index = build_zone_index(wgs)
    assert index.cells_of_zone == packaged_index.cells_of_zone
    assert index.crowd_of_cell == packaged_index.crowd_of_cell
    for cell, area in packaged_index.walkable_m2.items():
        assert index.walkable_m2[cell] == pytest.approx(area, abs=1.0)


@pytest.mark.parametrize(
    ("file_name", "prop", "argument", "datum"),
    [
        ("z.geojson", None, None, "wgs84"),
        ("z.gcj02.geojson", None, None, "gcj02"),
        ("z.BD09.geojson", None, None, "bd09"),
        ("z.gcj02.geojson", "bd09", None, "bd09"),  # property beats file name
        ("z.gcj02.geojson", "bd09", "wgs84", "wgs84"),  # argument beats both
        ("z.geojson", None, "gcj02", "gcj02"),
    ],
)
def test_source_crs_precedence(
    tmp_path: Path, file_name: str, prop: str | None, argument: str | None, datum: str
) -> None:
    deck = by_id(default_zones())["tongji-bridge-deck"]
    frame = _frame((deck,), to=datum)
    if prop is not None:
        frame["crs"] = prop
    path = tmp_path / file_name
    frame.to_file(path, engine="pyogrio")
    (loaded,) = load_zones(path, crs=argument)
    assert loaded.geometry.hausdorff_distance(deck.geometry) * 111_320 < 0.01


_SQUARE = rect(*BRIDGE, 20, 20)
_GOOD = {"id": "ok", "name": "好", "kind": "square"}
_BOWTIE = Polygon(
    [(113.1160, 23.0250), (113.1170, 23.0260), (113.1170, 23.0250), (113.1160, 23.0260)]
)


@pytest.mark.parametrize(
    ("props", "geometry", "label", "message"),
    [
        ({"name": "无编号", "kind": "square"}, _SQUARE, "id None", "missing id"),
        ({"id": "x", "kind": "square"}, _SQUARE, "id 'x'", "missing name"),
        ({"id": "x", "name": "x", "kind": "plaza"}, _SQUARE, "id 'x'", "unknown kind 'plaza'"),
        ({"id": "x", "name": "x", "kind": "bridge", "width_m": -9.9}, _SQUARE, "id 'x'", "width_m"),
        ({"id": "x", "name": "x", "kind": "square"}, _BOWTIE, "id 'x'", "Self-intersection"),
        ({"id": "ok", "name": "x", "kind": "square"}, _SQUARE, "id 'ok'", "duplicate id"),
        ({"id": "x", "name": "x", "kind": "square"}, Point(*BRIDGE[::-1]), "id 'x'", "Point"),
        ({"id": "x", "name": "x", "kind": "square"}, None, "id 'x'", "missing or empty"),
        ({"id": "x", "name": "x", "kind": "square", "crs": "utm"}, _SQUARE, "id 'x'", "crs 'utm'"),
        ({"id": "x", "name": "x", "kind": "grid", "walkable": True}, _SQUARE, "id 'x'", "grid"),
        (
            {"id": "x", "name": "x", "name_en": "", "kind": "square"},
            _SQUARE,
            "id 'x'",
            "name_en is empty",
        ),
        (
            {"id": "x", "name": "x", "name_en": 5, "kind": "square"},
            _SQUARE,
            "id 'x'",
            "name_en must be text",
        ),
        (
            {"id": "x", "name": "x", "kind": "square"},
            Polygon([(y, x) for x, y in _SQUARE.exterior.coords]),  # lon/lat swapped
            "id 'x'",
            "outside the mainland China",
        ),
    ],
)
def test_bad_feature_is_named(
    tmp_path: Path, props: dict[str, Any], geometry: Any, label: str, message: str
) -> None:
    features = [feature(_GOOD, _SQUARE), feature(props, geometry)]
    path = write_geojson(tmp_path / "bad.geojson", features)
    with pytest.raises(ZoneLayerError, match=message) as caught:
        load_zones(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"feature 1 ({label}):")
    assert "bad.geojson" in str(caught.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    features = [
        feature({"id": "a", "name": "a", "kind": "plaza"}, _SQUARE),
        feature(_GOOD, _SQUARE),
        feature({"id": "b", "name": "b", "kind": "street", "width_m": -1}, _BOWTIE),
        feature(_GOOD, Point(*BRIDGE[::-1])),
    ]
    path = write_geojson(tmp_path / "bad.geojson", features)
    with pytest.raises(ZoneLayerError) as caught:
        load_zones(path)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "feature 0 (id 'a')",
        "feature 2 (id 'b')",
        "feature 3 (id 'ok')",
    ]
    assert "width_m" in problems[1] and "Self-intersection" in problems[1]
    assert "Point" in problems[2] and "duplicate id, also feature 1" in problems[2]


def test_name_en_is_read_when_given(tmp_path: Path) -> None:
    features = [
        feature({"id": "a", "name": "甲", "name_en": " Jia Square ", "kind": "square"}, _SQUARE),
        feature({"id": "b", "name": "乙", "kind": "square"}, _SQUARE),
    ]
    a, b = load_zones(write_geojson(tmp_path / "z.geojson", features))
    assert (a.name, a.name_en) == ("甲", "Jia Square")
    assert (b.name, b.name_en) == ("乙", None)
    props = [f["properties"] for f in zones_geojson((a, b))["features"]]
    assert props[0]["name_en"] == "Jia Square" and "name_en" not in props[1]


def test_unreadable_file_and_bad_argument(tmp_path: Path) -> None:
    with pytest.raises(ZoneLayerError, match="cannot read"):
        load_zones(tmp_path / "missing.geojson")
    with pytest.raises(ValueError, match="unknown crs 'utm'"):
        load_zones(tmp_path / "missing.geojson", crs="utm")


def test_geojson_round_trip(tmp_path: Path, packaged: tuple[Zone, ...]) -> None:
    collection = zones_geojson(packaged)
    text = json.dumps(collection, ensure_ascii=False)
    parsed = json.loads(text)
    assert parsed["type"] == "FeatureCollection"
    first = parsed["features"][0]
    assert first["properties"] == {
        "id": "tongji-bridge-deck",
        "name": "通济桥桥面",
        "name_en": "Tongji Bridge deck",
        "kind": "bridge",
        "crowd": "moving",
        "walkable": True,
        "width_m": 9.9,
    }
    assert shape(first["geometry"]).equals_exact(packaged[0].geometry, 1e-12)


# ---------------------------------------------------------------------------
# Grid (网格) zones


@pytest.fixture(scope="module")
def grid(chancheng: District) -> tuple[Zone, ...]:
    return grid_zones(chancheng)


def test_grid_tiles_the_district(grid: tuple[Zone, ...], chancheng: District) -> None:
    geometries = [z.geometry for z in grid]
    union = shapely.union_all(geometries)
    total = sum(g.area for g in geometries)
    assert total == pytest.approx(chancheng.geometry.area, rel=1e-9)  # covered ...
    assert union.area == pytest.approx(total, rel=1e-9)  # ... without overlap
    assert union.symmetric_difference(chancheng.geometry).area < 1e-9 * union.area
    outline = chancheng.geometry.buffer(1e-9)
    assert all(outline.contains(g) for g in geometries)


def test_grid_ids_sizes_and_determinism(grid: tuple[Zone, ...], chancheng: District) -> None:
    assert grid_zones(chancheng) == grid
    assert grid[0].id == "grid-0001" and grid[0].name == "网格 0001"
    assert [z.id for z in grid] == [f"grid-{n:04d}" for n in range(1, len(grid) + 1)]
    assert all(z.kind == "grid" and not z.walkable and z.width_m is None for z in grid)
    areas = np.array([geodesic_area_m2(z.geometry) for z in grid])
    assert float(areas.max()) == pytest.approx(500.0 * 500.0, rel=0.01)
    assert 155e6 / 250_000 < len(grid) < 2 * 155e6 / 250_000
    with pytest.raises(ValueError, match="size_m"):
        grid_zones(chancheng, size_m=0.0)


def test_grid_zones_in_the_index(grid: tuple[Zone, ...], packaged: tuple[Zone, ...]) -> None:
    index = build_zone_index(grid[:200] + packaged)
    cell = cells.cell_of(*BRIDGE, 9)
    kinds = {z.kind for z in index.zones_at(cell)}
    assert "bridge" in kinds
    grid_only = next(
        c for c, ids in index.zones_of_cell.items() if all(i.startswith("grid-") for i in ids)
    )
    assert index.walkable(grid_only) is None  # administrative, not walkable
    assert index.crowd_kind(grid_only) is None
