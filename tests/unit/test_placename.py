"""Place names of cells (geo/placename.py, geo/places.py) on the shipped Foshan data."""

from __future__ import annotations

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from geo.cells import cell_center, cell_of
from geo.geocode import load_gazetteer
from geo.layers import OutlineLayer
from geo.placename import Landmark, Name, Outline, PlaceNamer, fold, rounded_m
from geo.places import place_namer, street_outlines
from geo.zone_index import build_zone_index
from geo.zones import default_zones

RES = 9
DECK = (23.02540, 113.11680)  # on Tongji Bridge's deck (zone tongji-bridge-deck)


@pytest.fixture(scope="module")
def namer() -> PlaceNamer:
    return place_namer(RES, build_zone_index(default_zones(), RES))


def square(lat: float, lon: float, half: float) -> Polygon:
    return Polygon(
        [(lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half),
         (lon - half, lat + half)]
    )  # fmt: skip


def test_the_bridge_deck_is_named_by_its_zone_and_district(namer: PlaceNamer) -> None:
    place = namer.at(*DECK)
    # the cell meets the deck, the north plaza and three streets: the places first
    assert {z.id for z in place.zones} == {"tongji-bridge-deck", "tongji-bridge-north-plaza"}
    assert place.district is not None and place.district.name == Name(
        "禅城区", "Chancheng District"
    )
    assert place.street is None  # no 街道 outline is shipped: none is invented
    label = place.label()
    assert "通济桥桥面" in label.zh and label.zh.endswith(" · 禅城区")
    assert "Tongji Bridge deck" in label.en and label.en.endswith(" · Chancheng District")
    wire = place.to_dict()
    assert wire["zh"] == label.zh and wire["zones"][0]["id"] == place.zones[0].id
    assert wire["nearest"]["zh"] == "通济桥" and wire["nearest"]["distance_m"] < 300


def test_a_cell_without_zones_is_named_by_its_nearest_landmark_and_distance(
    namer: PlaceNamer,
) -> None:
    # 400 m north of 祖庙 and outside every shipped zone
    cell = cell_of(23.0390, 113.1160, RES)
    place = namer.at_cell(cell)
    assert place.zones == ()
    assert place.nearest is not None
    lat, lon = cell_center(cell)
    mark = place.nearest.landmark
    exact = h3.great_circle_distance((lat, lon), (mark.lat, mark.lon), unit="m")
    assert abs(place.nearest.distance_m - exact) <= 5.0  # rounded to 10 m
    for other in load_gazetteer().entries:  # and it is the nearest one of its levels
        if other.level in ("poi", "road"):
            assert h3.great_circle_distance((lat, lon), (other.lat, other.lon), unit="m") >= (
                exact - 1e-6
            )
    label = place.label()
    assert label.zh.startswith(f"距{mark.name.zh}约 ") and label.zh.endswith("· 禅城区")
    assert label.en.endswith(f"from {mark.name.en} · Chancheng District")


def test_far_from_every_landmark_only_the_district_names_it(namer: PlaceNamer) -> None:
    place = namer.at(22.75, 113.25)  # in Shunde, far from the gazetteer's points
    assert place.nearest is None and place.zones == ()
    assert place.label() == Name("顺德区", "Shunde District")


def test_outside_foshan_nothing_names_a_cell(namer: PlaceNamer) -> None:
    place = namer.at(31.23, 121.47)  # Shanghai
    assert place.label() == Name("", "")
    assert place.to_dict()["district"] is None


def test_a_street_layer_names_the_street_and_takes_the_districts_place() -> None:
    deck = square(*DECK, 0.01)
    layer = OutlineLayer(
        "jiedao", "street", "街道", "jiedao.geojson",
        (deck, square(*DECK, 0.001).exterior, square(22.0, 113.0, 0.01)),
        ({"name": "祖庙街道", "name_en": "Zumiao Subdistrict", "id": "zm"},
         {"name": "a line names nothing"}, {"id": "no-name"}),
    )  # fmt: skip
    outlines = street_outlines([layer])
    assert [(o.id, o.name) for o in outlines] == [
        ("jiedao:zm", Name("祖庙街道", "Zumiao Subdistrict"))
    ]
    namer = place_namer(RES, build_zone_index(default_zones(), RES), [layer])
    place = namer.at(*DECK)
    assert place.street is not None and place.street.id == "jiedao:zm"
    label = place.label()
    assert label.zh.endswith(" · 祖庙街道") and label.en.endswith(" · Zumiao Subdistrict")
    assert namer.search("zumiao sub")[0].kind == "street"


def test_search_finds_by_chinese_or_english_name_prefix_first(namer: PlaceNamer) -> None:
    hits = namer.search("通济桥")
    assert [h.id for h in hits[:2]] == ["tongji-bridge-deck", "tongji-bridge-north-plaza"]
    assert {h.kind for h in hits} >= {"zone", "landmark"}
    assert all("通济桥" in h.name.zh for h in hits)
    english = namer.search("  TONGJI bridge ")
    assert {h.id for h in english} == {h.id for h in hits}
    chancheng = namer.search("chancheng")
    assert chancheng[0].kind == "district" and chancheng[0].bbox is not None
    assert namer.search("") == [] and namer.search("不存在的地方") == []
    assert len(namer.search("路", limit=3)) == 3


def test_zones_meeting_a_cell_come_by_the_area_they_cover() -> None:
    lat, lon = 23.0, 113.1
    cell = cell_of(lat, lon, RES)
    big, small = square(lat, lon, 0.002), square(lat + 0.0008, lon, 0.0003)
    outline = Outline("district", "d", Name("区", "District"), square(lat, lon, 0.1))
    from geo.zones import Zone

    zones = [
        Zone("a-small", "小", "square", "static", True, None, small),
        Zone("b-big", "大", "square", "static", True, None, big),
    ]
    namer = PlaceNamer(RES, zones=build_zone_index(zones, RES), outlines=[outline])
    assert [z.id for z in namer.at_cell(cell).zones] == ["b-big", "a-small"]
    # no English names: the Chinese ones stand in
    assert namer.at_cell(cell).label() == Name("大、小 · 区", "大, 小 · District")


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 20_000, allow_nan=False))
def test_rounded_distances_stay_within_half_a_step(d: float) -> None:
    r = rounded_m(d)
    assert abs(r - d) <= (5.0 if d < 1000 else 50.0) + 1e-6
    assert r % (10 if d < 1000 else 100) == 0


def test_fold_ignores_width_case_and_spaces() -> None:
    assert fold(" Ｔｏｎｇｊｉ  Bridge ") == "tongjibridge"


def test_landmarks_of_area_levels_do_not_name_cells() -> None:
    area = Landmark(Name("某街道", "Some Subdistrict"), "street", 23.0, 113.1)
    namer = PlaceNamer(RES, landmarks=[area])
    assert namer.at(23.0, 113.1).nearest is None
    assert namer.search("某街道")[0].kind == "landmark"  # but search finds it
