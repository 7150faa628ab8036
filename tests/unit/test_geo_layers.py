"""geo.layers and geo.layer_files: point and outline layers from GeoJSON/GeoPackage, CRS
handling, clear errors, the manifest of a layer directory."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point, Polygon

from geo import crs
from geo.layer_files import (
    ManifestEntry,
    default_id,
    load_layer_dir,
    load_layer_file,
    load_outline_layer,
    load_point_layer,
    read_manifest,
    write_manifest,
)
from geo.layers import LayerError, Layers, OutlineLayer, PointLayer
from geo.measure import offset_m

BRIDGE = (23.0258, 113.1166)
_GEOD = Geod(ellps="WGS84")


def feature(geometry: dict[str, Any] | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def point(lat: float, lon: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def write(path: Path, *features: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def rect(lat: float, lon: float, east_m: float, north_m: float) -> Polygon:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    return Polygon([offset_m(lat, lon, e * east_m / 2, n * north_m / 2)[::-1] for e, n in corners])


@dataclass(frozen=True)
class FileSpec:
    """A configured layer file, as citybrain.config.settings.LayerFileSettings gives one."""

    path: Path
    crs: str | None = None
    kind: str | None = None
    id: str | None = None
    title: str | None = None
    geometry: Literal["point", "outline"] = "point"


def gcj02_xy(lat: float, lon: float) -> list[float]:
    """WGS-84 degrees → GCJ-02 ``[lon, lat]`` as a GeoJSON position."""
    g_lat, g_lon = crs.wgs84_to_gcj02(lat, lon)
    return [g_lon, g_lat]


def test_points_with_numbers_texts_and_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path / "shops.geojson",
        feature(point(*BRIDGE), id="s1", name="凉茶铺", staff=3, open=True),
        feature(point(23.03, 113.11), id="s2", name=None, staff=None, open=False),
    )
    layer = load_point_layer(path, kind="enterprise")
    assert (layer.id, layer.kind, layer.count, layer.source) == (
        "shops",
        "enterprise",
        2,
        path.name,
    )
    assert layer.ids.tolist() == ["s1", "s2"]
    np.testing.assert_allclose(layer.lat, [BRIDGE[0], 23.03])
    np.testing.assert_allclose(layer.lon, [BRIDGE[1], 113.11])
    assert layer.number("staff", 0) == 3.0 and layer.number("staff", 1) is None
    assert layer.number("open", 0) == 1.0 and layer.number("open", 1) == 0.0
    assert layer.text("name", 0) == "凉茶铺" and layer.text("name", 1) is None
    assert layer.properties(0) == {"id": "s1", "staff": 3, "open": 1, "name": "凉茶铺"}
    assert layer.shapes is None  # plain points: nothing more to draw
    assert layer.total("staff", np.array([0, 1])) == 3.0


def test_without_an_id_property_ids_are_numbered(tmp_path: Path) -> None:
    path = write(
        tmp_path / "Some Cameras.geojson", feature(point(*BRIDGE)), feature(point(23.0, 113.0))
    )
    layer = load_point_layer(path)
    assert layer.id == "some-cameras" and layer.kind == "user"
    assert layer.ids.tolist() == ["some-cameras-1", "some-cameras-2"]


def test_polygons_become_points_inside_with_their_footprint(tmp_path: Path) -> None:
    l_shape = shapely.difference(
        rect(*BRIDGE, 100, 100), rect(BRIDGE[0] + 0.0002, BRIDGE[1] + 0.0002, 80, 80)
    )
    block = rect(23.03, 113.11, 100, 50)
    frame = geopandas.GeoDataFrame({"id": ["a", "b"]}, geometry=[l_shape, block], crs="EPSG:4326")
    frame.to_file(tmp_path / "blocks.gpkg", driver="GPKG")
    layer = load_point_layer(tmp_path / "blocks.gpkg", kind="building")
    for i, shape in enumerate([l_shape, block]):
        assert shape.covers(Point(layer.lon[i], layer.lat[i]))  # not the centroid of an L
        area = abs(_GEOD.geometry_area_perimeter(shape)[0])
        assert layer.number("footprint_m2", i) == pytest.approx(area, rel=1e-6)
    assert layer.number("footprint_m2", 1) == pytest.approx(5000.0, rel=0.005)
    assert layer.shapes is not None
    drawn = layer.geojson()["features"][1]
    assert drawn["geometry"]["type"] == "Polygon" and drawn["properties"]["id"] == "b"


def test_a_footprint_property_is_kept(tmp_path: Path) -> None:
    geometry = json.loads(shapely.to_geojson(rect(*BRIDGE, 10, 10)))
    layer = load_point_layer(write(tmp_path / "b.geojson", feature(geometry, footprint_m2=123.0)))
    assert layer.number("footprint_m2", 0) == 123.0


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_chinese_datums_by_option_or_file_name(tmp_path: Path, datum: str) -> None:
    r_lat, r_lon = crs.from_wgs84(*BRIDGE, datum)
    raw = feature(point(r_lat, r_lon), id="p")
    by_option = load_point_layer(write(tmp_path / "a.geojson", raw), crs=datum)
    by_name = load_point_layer(write(tmp_path / f"a.{datum}.geojson", raw))
    as_wgs = load_point_layer(write(tmp_path / "c.geojson", raw))
    for layer in (by_option, by_name):
        assert layer.lat[0] == pytest.approx(BRIDGE[0], abs=1e-8)
        assert layer.lon[0] == pytest.approx(BRIDGE[1], abs=1e-8)
    assert abs(as_wgs.lon[0] - BRIDGE[1]) > 0.003  # hundreds of metres off, unconverted


def test_a_declared_projected_crs_is_reprojected(tmp_path: Path) -> None:
    frame = geopandas.GeoDataFrame(
        {"id": ["p"]}, geometry=[Point(BRIDGE[1], BRIDGE[0])], crs="EPSG:4326"
    ).to_crs("EPSG:32649")  # UTM 49N metres
    frame.to_file(tmp_path / "utm.gpkg", driver="GPKG")
    layer = load_point_layer(tmp_path / "utm.gpkg")
    assert (layer.lat[0], layer.lon[0]) == pytest.approx(BRIDGE, abs=1e-8)
    with pytest.raises(LayerError, match=r"utm\.gpkg: crs gcj02 given, but the file declares"):
        load_point_layer(tmp_path / "utm.gpkg", crs="gcj02")


def test_a_configured_spec_sets_id_kind_title_and_crs(tmp_path: Path) -> None:
    path = write(tmp_path / "x.geojson", feature(point(*crs.wgs84_to_gcj02(*BRIDGE))))
    layer = load_layer_file(FileSpec(path, "gcj02", "camera", "my-cams", "My cameras"))
    assert isinstance(layer, PointLayer)
    assert (layer.id, layer.kind, layer.title) == ("my-cams", "camera", "My cameras")
    assert layer.lat[0] == pytest.approx(BRIDGE[0], abs=1e-8)
    assert load_layer_file(path).id == "x"


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([feature(None, id="a")], "feature 0: missing or empty geometry"),
        ([feature(point(113.1, 23.0), id="a")], "feature 0: (113.100000, 23.000000) lies outside"),
        ([feature(point(*BRIDGE), id="a"), feature(point(*BRIDGE), id="a")], "id 'a' used 2 times"),
        ([feature(point(*BRIDGE), id="")], "feature 0: empty id"),
        (
            [
                feature(
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [[113, 23], [113.01, 23.01], [113.01, 23], [113, 23.01], [113, 23]]
                        ],
                    }
                )
            ],
            "feature 0: invalid Polygon: Self-intersection",
        ),
    ],
)
def test_bad_features_are_named(
    tmp_path: Path, features: list[dict[str, Any]], message: str
) -> None:
    path = write(tmp_path / "bad.geojson", *features)
    with pytest.raises(LayerError) as err:
        load_point_layer(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"missing\.geojson: cannot read the file"):
        load_point_layer(tmp_path / "missing.geojson")
    (tmp_path / "junk.geojson").write_text("this is not GeoJSON")
    with pytest.raises(LayerError, match=r"junk\.geojson: cannot read the file"):
        load_point_layer(tmp_path / "junk.geojson")
    with pytest.raises(LayerError, match="unknown crs 'wgs'"):
        load_point_layer(tmp_path / "junk.geojson", crs="wgs")


def test_a_geopackage_with_two_layers_is_refused(tmp_path: Path) -> None:
    frame = geopandas.GeoDataFrame(
        {"id": ["p"]}, geometry=[Point(BRIDGE[1], BRIDGE[0])], crs="EPSG:4326"
    )
    frame.to_file(tmp_path / "two.gpkg", layer="a", driver="GPKG")
    frame.to_file(tmp_path / "two.gpkg", layer="b", driver="GPKG")
    with pytest.raises(LayerError, match=r"two\.gpkg: holds 2 layers \['a', 'b'\]"):
        load_point_layer(tmp_path / "two.gpkg")


def test_many_problems_are_listed_up_to_a_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "many.geojson", *[feature(None) for _ in range(30)])
    with pytest.raises(LayerError) as err:
        load_point_layer(path)
    assert len(err.value.problems) == 30
    assert "feature 19:" in str(err.value) and "feature 20:" not in str(err.value)
    assert str(err.value).endswith("… and 10 more problem(s)")


def test_outline_layers(tmp_path: Path) -> None:
    square = json.loads(shapely.to_geojson(rect(*BRIDGE, 200, 200)))
    path = write(tmp_path / "zones.gcj02.geojson", feature(square, id="z", name="桥", width=3))
    layer = load_outline_layer(path, layer_id="zones", kind="zone", title="Zones", source="test")
    assert layer.count == 1 and layer.properties[0] == {"id": "z", "name": "桥", "width": 3}
    converted = layer.shapes[0].centroid  # the file name said GCJ-02: converted to WGS-84
    assert (converted.y, converted.x) == pytest.approx(crs.gcj02_to_wgs84(*BRIDGE), abs=1e-6)
    drawn = layer.geojson()
    assert drawn["type"] == "FeatureCollection" and drawn["features"][0]["properties"]["id"] == "z"
    with pytest.raises(LayerError, match="feature 0: a Point, expected Polygon, MultiPolygon, Li"):
        load_outline_layer(
            write(tmp_path / "p.geojson", feature(point(*BRIDGE))),
            layer_id="p",
            kind="zone",
            title="p",
            source="p",
        )


def test_a_user_outline_file_is_an_outline_layer(tmp_path: Path) -> None:
    """Street (街道) boundaries and lines in GCJ-02: drawn on the basemap in WGS-84."""
    street = rect(*BRIDGE, 400, 300)
    road = [offset_m(*BRIDGE, -300.0, 0.0), offset_m(*BRIDGE, 300.0, 100.0)]
    path = write(
        tmp_path / "Streets.geojson",
        feature(
            {
                "type": "Polygon",
                "coordinates": [[gcj02_xy(y, x) for x, y in street.exterior.coords]],
            },
            name="祖庙街道",
        ),
        feature({"type": "LineString", "coordinates": [gcj02_xy(*p) for p in road]}, name="升平路"),
    )
    spec = FileSpec(path, crs="gcj02", kind="street", geometry="outline")
    layer = load_layer_file(spec)
    assert isinstance(layer, OutlineLayer)
    assert (layer.id, layer.kind, layer.title, layer.source) == (
        "streets",
        "street",
        "Streets.geojson",
        "Streets.geojson",
    )
    assert layer.properties == ({"name": "祖庙街道"}, {"name": "升平路"})  # nothing added
    polygon, line = layer.shapes
    for got, want in zip(polygon.exterior.coords, street.exterior.coords, strict=True):
        assert got == pytest.approx(want, abs=1e-8)  # back to WGS-84
    assert line.coords[0] == pytest.approx(road[0][::-1], abs=1e-8)
    assert [x["geometry"] for x in Layers((), (layer,)).summary()] == ["outline"]
    dots = write(tmp_path / "dots.geojson", feature(point(*BRIDGE)), feature(point(*BRIDGE)))
    with pytest.raises(LayerError) as err:
        load_layer_file(dataclasses.replace(spec, path=dots))
    assert str(err.value).startswith(f"{dots}: feature 0: a Point, expected Polygon")
    assert len(err.value.problems) == 2


def test_point_layer_arrays_are_copied_and_read_only() -> None:
    lat = np.array([BRIDGE[0]])
    layer = PointLayer(
        "a", "camera", "A", "test", np.array(["c1"], dtype=object), lat, np.array([BRIDGE[1]])
    )
    lat[0] = 0.0
    assert layer.lat[0] == BRIDGE[0]
    with pytest.raises(ValueError, match="read-only"):
        layer.lat[0] = 1.0
    with pytest.raises(ValueError, match="every column must hold 1 values"):
        PointLayer(
            "a", "camera", "A", "t", np.array(["c1"], dtype=object), lat, np.array([1.0, 2.0])
        )
    with pytest.raises(ValueError, match="layer id 'Bad Id'"):
        PointLayer(
            "Bad Id", "camera", "A", "t", np.array([], dtype=object), np.array([]), np.array([])
        )


def test_layers_refuse_a_repeated_id_and_summarise() -> None:
    empty = np.array([], dtype=object)
    a = PointLayer("a", "building", "A", "one.geojson", empty, np.array([]), np.array([]))
    b = OutlineLayer("a", "grid", "B", "two.geojson", (), ())
    with pytest.raises(LayerError, match=r"two\.geojson: layer id 'a' also used by one\.geojson"):
        Layers((a,), (b,))
    c = OutlineLayer("c", "grid", "C", "three", (), ())
    layers = Layers((a,), (c,))
    assert layers.get("c") is c and layers.get("x") is None and layers.of_kind("building") == (a,)
    assert [x["geometry"] for x in layers.summary()] == ["point", "outline"]


def test_default_id() -> None:
    assert default_id(Path("/x/My Shops.gcj02.gpkg")) == "my-shops"
    assert default_id(Path("___.geojson")) == "layer"


def test_manifest_round_trip_and_loading(tmp_path: Path) -> None:
    write(tmp_path / "cams.geojson", feature(point(*BRIDGE), id="c1", name="桥"))
    square = json.loads(shapely.to_geojson(rect(*BRIDGE, 200, 200)))
    write(tmp_path / "grids.geojson", feature(square, id="G-001"))
    entries = [
        ManifestEntry("cams", "camera", "Cameras", "test", 1, "cams.geojson", "point"),
        ManifestEntry("grids", "grid", "Grids", "test", 1, "grids.geojson", "outline"),
    ]
    write_manifest(tmp_path, entries, seed=7)
    assert read_manifest(tmp_path) == tuple(entries)
    assert json.loads((tmp_path / "manifest.json").read_text())["seed"] == 7
    points, outlines = load_layer_dir(tmp_path)
    assert [p.id for p in points] == ["cams"] and [o.id for o in outlines] == ["grids"]
    assert points[0].kind == "camera" and points[0].text("name", 0) == "桥"


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("nope", "not a layer manifest"),
        ([{"id": "a"}], "layer 0:"),
        (
            [
                {
                    "id": "a",
                    "kind": "k",
                    "title": "",
                    "source": "",
                    "count": 1,
                    "file": "../x.geojson",
                    "geometry": "point",
                }
            ],
            "file '../x.geojson'",
        ),
        (
            [
                {
                    "id": "a",
                    "kind": "k",
                    "title": "",
                    "source": "",
                    "count": 1,
                    "file": "x",
                    "geometry": "line",
                }
            ],
            "geometry 'line'",
        ),
        (
            [
                {
                    "id": "a",
                    "kind": "k",
                    "title": "",
                    "source": "",
                    "count": -1,
                    "file": "x",
                    "geometry": "point",
                }
            ],
            "bad count -1",
        ),
    ],
)
def test_bad_manifests(tmp_path: Path, layers: object, message: str) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"layers": layers}))
    with pytest.raises(LayerError, match=r"manifest\.json: ") as err:
        read_manifest(tmp_path)
    assert message in str(err.value)


def test_a_manifest_count_that_does_not_match_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "cams.geojson", feature(point(*BRIDGE)))
    write_manifest(
        tmp_path, [ManifestEntry("cams", "camera", "C", "t", 2, "cams.geojson", "point")]
    )
    with pytest.raises(LayerError, match="1 features, manifest says 2"):
        load_layer_dir(tmp_path)
    with pytest.raises(LayerError, match="not a layer manifest"):
        load_layer_dir(tmp_path / "elsewhere")
