"""feeds.sim.layers_gen: simulated layers inside the real outline, deterministic, cameras equal to
the simulator's, grids numbered as the grid workers'; files, manifest and the CLI command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
import typer
from typer.testing import CliRunner

from citybrain.cli.layers import register
from citybrain.config.settings import Settings, SimSettings
from feeds.sim.city import build_city
from feeds.sim.gridworkers import grid_areas
from feeds.sim.layers_gen import (
    INDUSTRIES,
    OLD_TOWN,
    LayerGenConfig,
    build_layers,
    camera_registry,
    generate_buildings,
    generate_enterprises,
    generate_layers,
    grid_layer,
    grid_outlines,
)
from geo.district import District, load_district
from geo.layers import OutlineLayer, PointLayer
from geo.measure import geodesic_area_m2
from geo.spatial import PointIndex
from web.query_api import load_layers

SMALL = LayerGenConfig(seed=7, buildings=3000, enterprises=400, residents_total=250_000)


@pytest.fixture(scope="module")
def district() -> District:
    return load_district()


@pytest.fixture(scope="module")
def layers(district: District) -> dict[str, PointLayer | OutlineLayer]:
    return {layer.id: layer for layer in build_layers(SMALL, district)}


def points(layers: dict[str, PointLayer | OutlineLayer], layer_id: str) -> PointLayer:
    layer = layers[layer_id]
    assert isinstance(layer, PointLayer)
    return layer


def test_every_point_lies_inside_the_district(
    layers: dict[str, PointLayer | OutlineLayer], district: District
) -> None:
    for layer_id in ("buildings", "enterprises", "cameras"):
        layer = points(layers, layer_id)
        assert layer.count > 0
        assert shapely.intersects_xy(district.geometry, layer.lon, layer.lat).all(), layer_id


def test_same_seed_same_layers_other_seed_other_layers(district: District) -> None:
    a = generate_buildings(district, 7, 2000, 100_000)
    b = generate_buildings(district, 7, 2000, 100_000)
    c = generate_buildings(district, 8, 2000, 100_000)
    for name in ("lat", "lon"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in a.numbers:
        np.testing.assert_array_equal(a.numbers[name], b.numbers[name])
    assert not np.array_equal(a.lat, c.lat)
    ea, eb = generate_enterprises(a, 7, 300), generate_enterprises(b, 7, 300)
    assert ea.texts["name"].tolist() == eb.texts["name"].tolist()


def test_buildings(layers: dict[str, PointLayer | OutlineLayer], district: District) -> None:
    b = points(layers, "buildings")
    assert b.count == SMALL.buildings and b.kind == "building"
    residents = b.numbers["residents"]
    assert residents.sum() == SMALL.residents_total  # exactly, by largest remainder
    assert np.all(residents == np.round(residents)) and residents.min() >= 0
    assert np.all(b.numbers["floors"] >= 1) and np.all(b.numbers["footprint_m2"] > 0)
    assert set(b.texts["use"]) <= {"residential", "commercial", "industrial", "public"}
    assert residents[b.texts["use"] == "industrial"].sum() == 0
    # Denser around the old town than over the district as a whole.
    index = PointIndex.build(b.lat, b.lon)
    near_old_town = index.within_circle(*OLD_TOWN, 1000.0)[0].size / (np.pi * 1.0)
    assert near_old_town > 5 * b.count / district.area_km2


def test_enterprises(layers: dict[str, PointLayer | OutlineLayer]) -> None:
    e, b = points(layers, "enterprises"), points(layers, "buildings")
    assert e.count == SMALL.enterprises and e.kind == "enterprise"
    names = e.texts["name"].tolist()
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"佛山\w{2}\w+有限公司", n) for n in names)
    assert set(e.texts["industry"]) == set(INDUSTRIES)
    for n, industry in zip(names, e.texts["industry"], strict=True):
        assert INDUSTRIES[industry][0] in n
    assert np.all(e.numbers["employees"] >= 1)
    at = [int(x.removeprefix("bld-")) - 1 for x in e.texts["building"]]
    np.testing.assert_array_equal(e.lat, b.lat[at])
    assert "public" not in set(b.texts["use"][at])


def test_the_camera_registry_is_the_simulators_cameras(
    layers: dict[str, PointLayer | OutlineLayer], district: District
) -> None:
    cams = points(layers, "cameras")
    city = build_city(SMALL.seed, district, SMALL.cameras, SMALL.sensors)
    assert cams.ids.tolist() == [c.id for c in city.cameras]
    np.testing.assert_array_equal(cams.lat, [c.lat for c in city.cameras])
    np.testing.assert_array_equal(cams.lon, [c.lon for c in city.cameras])
    assert cams.text("stream_url", 0) == f"rtsp://video.citybrain.local/live/{city.cameras[0].id}"
    assert cams.text("name", 0) == "通济桥·桥面 cam-0001"
    assert all(cams.texts["name"])


def test_default_generation_matches_the_default_simulator(district: District) -> None:
    sim = SimSettings()
    assert (LayerGenConfig().cameras, LayerGenConfig().sensors) == (sim.cameras, sim.sensors)
    city = build_city(sim.seed, district, sim.cameras, sim.sensors)
    cams = camera_registry(city, "http://cams.local/{camera_id}/index.m3u8")
    assert cams.text("stream_url", 5) == f"http://cams.local/{city.cameras[5].id}/index.m3u8"
    with pytest.raises(ValueError, match="camera_id"):
        camera_registry(city, "rtsp://x/{id}")


def test_grids_tile_the_district_as_the_grid_workers_number_them(district: District) -> None:
    grids = grid_outlines(district)
    assert [(g.id, g.cell) for g in grids] == grid_areas(district)
    assert grids[0].name == f"网格 {grids[0].id}"
    union = shapely.union_all([g.geometry for g in grids])
    assert sum(g.area_m2 for g in grids) == pytest.approx(geodesic_area_m2(union), rel=1e-6)
    assert geodesic_area_m2(union) / 1e6 == pytest.approx(district.area_km2, rel=1e-3)


def test_grid_layer_counts_buildings_and_residents(
    layers: dict[str, PointLayer | OutlineLayer],
) -> None:
    grids = layers["grids"]
    assert isinstance(grids, OutlineLayer) and grids.kind == "grid"
    props = grids.properties
    assert all(p["synthetic"] is True for p in props)
    b = points(layers, "buildings")
    assert sum(int(p["buildings"]) for p in props) == b.count  # every building in one grid
    assert sum(int(p["residents"]) for p in props) == SMALL.residents_total
    bare = grid_layer(grid_outlines(load_district()))
    assert "buildings" not in bare.properties[0]


def test_written_layers_load_back(tmp_path: Path, district: District) -> None:
    entries = generate_layers(tmp_path / "out", SMALL)
    assert [e.id for e in entries] == ["buildings", "enterprises", "cameras", "grids", "district"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["seed"] == SMALL.seed and manifest["synthetic"] is True
    assert [x["count"] for x in manifest["layers"]] == [
        3000,
        400,
        300,
        len(grid_areas(district)),
        1,
    ]
    loaded = load_layers([], tmp_path / "out")
    memory = {x.id: x for x in build_layers(SMALL, district)}
    for layer in loaded.points:
        original = memory[layer.id]
        assert isinstance(original, PointLayer)
        assert layer.ids.tolist() == original.ids.tolist()
        np.testing.assert_allclose(layer.lat, original.lat, atol=1e-7)
        np.testing.assert_allclose(layer.lon, original.lon, atol=1e-7)
    assert [o.id for o in loaded.outlines] == ["grids", "district"]


def test_cli_command(tmp_path: Path) -> None:
    app = typer.Typer()
    sim = typer.Typer()
    app.add_typer(sim, name="sim")
    settings = Settings().with_overrides(sim={"seed": 5, "cameras": 40})
    register(sim, lambda: settings)
    out = tmp_path / "layers"
    runner = CliRunner(env={"COLUMNS": "500"})  # rich wraps errors at the terminal width
    ok = runner.invoke(app, ["sim", "layers", "--out", str(out), "--buildings", "500"])
    assert ok.exit_code == 0, ok.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["cameras"] == 40
    assert [x["count"] for x in manifest["layers"][:3]] == [500, 6000, 40]
    bad = runner.invoke(app, ["sim", "layers", "--out", str(out), "--stream-url", "rtsp://x/"])
    assert bad.exit_code == 2 and "camera_id" in bad.output
    (tmp_path / "file").write_text("")
    bad = runner.invoke(app, ["sim", "layers", "--out", str(tmp_path / "file")])
    assert bad.exit_code == 2 and "not a directory" in bad.output
