"""geo.geocode: locating hotline tickets from Chinese address text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.sim.city import build_city
from feeds.sim.places import ALL_PLACES, TONGJI_BRIDGE, TONGJI_CAR_PARK
from feeds.sim.scenario import build_incident
from feeds.sim.tickets import ADDRESS_STREETS, TEXTS, background_tickets
from geo.data import build_gazetteer
from geo.district import load_district
from geo.geocode import (
    NEAR_PADDING_M,
    NEAR_WORDS,
    OTHER_CITIES,
    PRECISIONS,
    Gazetteer,
    GazetteerEntry,
    Precision,
    load_gazetteer,
    normalise,
    parse_gazetteer_csv,
    street_variants,
)
from geo.measure import distance_m

FINE: tuple[Precision, ...] = ("poi", "road")


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer()


# (citizen text, expected precision, expected matched name); None: not located.
CASES: list[tuple[str, Precision | None, str | None]] = [
    ("广东省佛山市禅城区祖庙街道同济路12号", "road", "同济路"),
    ("佛山市禅城区祖庙街道同济路12号", "road", "同济路"),
    ("禅城区祖庙街道同济路12号", "road", "同济路"),
    ("同济路12号", "road", "同济路"),
    ("禅城区祖庙街道同济路１２号", "road", "同济路"),  # full-width digits
    ("禅城区　祖庙街道，同济路 12 号。", "road", "同济路"),  # full-width space, punctuation
    ("通济桥附近的停车场出不去了", "poi", "通济桥"),
    ("车被困在通济桥停车场，出口封了", "poi", "通济桥停车场"),  # longest name wins
    ("祖庙门口排队的人太多了", "poi", "祖庙"),
    ("祖庙路18号路灯不亮", "road", "祖庙路"),  # the road, not the temple
    ("季华五路东方广场门口聚集很多人", "poi", "东方广场"),  # a POI beats a road
    ("佛山火车站出站口打不到车", "poi", "佛山火车站"),
    ("石湾镇街道高庙路南风古灶", "poi", "南风古灶"),
    ("佛山市南海区桂城街道南海大道北88号", "street", "南海区桂城街道"),
    ("南海区大沥镇", "street", "南海区大沥镇"),
    ("石湾街", "street", "禅城区石湾镇街道"),  # suffix variants of 石湾镇街道
    ("石湾镇", "street", "禅城区石湾镇街道"),
    ("张槎", "street", "禅城区张槎街道"),
    ("石湾镇和平路3号", "road", "和平路"),
    ("南海区", "district", "南海区"),
    ("顺德这边有人占道经营", "district", "顺德区"),
    ("佛山市", "city", "佛山市"),
    ("广东省佛山", "city", "佛山市"),
    # Inconsistent: a Chancheng road with another district named.
    ("顺德区同济路5号", "district", "顺德区"),
    ("顺德区大良街道同济路5号", "street", "顺德区大良街道"),
    ("南海区祖庙街道", "district", "南海区"),
    ("桂城街道同济路", "street", "南海区桂城街道"),  # the 街道 implies 南海区
    # Another city, Foshan not named: its 人民路 is not ours.
    ("广州市越秀区人民路", None, None),
    ("深圳市南山区南山街道", None, None),
    ("从广州过来，在佛山禅城区人民路堵了一小时", "road", "人民路"),
    # Nothing known.
    ("今天天气不错", None, None),
    ("广东省", None, None),
    ("", None, None),
    ("停车场出口被封了，里面几十辆车动不了", None, None),
]


@pytest.mark.parametrize(("text", "precision", "matched"), CASES)
def test_citizen_texts(
    gaz: Gazetteer, text: str, precision: Precision | None, matched: str | None
) -> None:
    found = gaz.locate(text)
    if precision is None:
        assert found is None
        return
    assert found is not None
    assert (found.precision, found.matched) == (precision, matched)


def test_normalise_folds_full_width_and_drops_punctuation() -> None:
    assert normalise("１２号　祖庙，Ａ座！") == "12号祖庙A座"


def test_street_variants() -> None:
    assert set(street_variants("石湾镇街道")) == {
        "石湾镇街道",
        "石湾街道",
        "石湾镇街",
        "石湾镇",
        "石湾街",
    }
    assert street_variants("南庄镇")[0] == "南庄镇" and "南庄街道" in street_variants("南庄镇")


def test_near_words_widen_the_uncertainty(gaz: Gazetteer) -> None:
    at = gaz.locate("通济桥")
    assert at is not None
    for word in NEAR_WORDS:
        near = gaz.locate(f"通济桥{word}")
        assert near is not None and near.uncertainty_m == at.uncertainty_m + NEAR_PADDING_M


def test_precision_ordering(gaz: Gazetteer) -> None:
    assert PRECISIONS == ("poi", "road", "street", "district", "city")
    chain = ["佛山市", "佛山市禅城区", "佛山市禅城区祖庙街道", "佛山市禅城区祖庙街道同济路"]
    chain.append(chain[-1] + "通济桥")
    found = [gaz.locate(text) for text in chain]
    assert [f.precision if f else None for f in found] == list(reversed(PRECISIONS))
    radii = [f.uncertainty_m for f in found if f]
    assert radii == sorted(radii, reverse=True)  # finer precision, smaller radius


def test_every_simulator_address_is_located_at_road_precision(gaz: Gazetteer) -> None:
    chancheng = load_district("440604")
    streets = {*ADDRESS_STREETS, *(p.street for p in ALL_PLACES)}
    templates = [t for group in TEXTS.values() for t in group]
    for street in sorted(streets):
        for number in range(1, 189):
            address = f"广东省佛山市禅城区{street}{number}号"
            found = gaz.locate(address)
            assert found is not None and found.precision in FINE, address
            assert chancheng.contains(found.lat, found.lon), address
        for template in templates:
            text = template.format(street=f"{street}7号")
            found = gaz.locate(text)
            assert found is not None and found.precision in FINE, text


def test_generated_background_tickets_are_located(gaz: Gazetteer) -> None:
    city = build_city(7, load_district("440604"), cameras=60, sensors=0)
    tickets = [t for slot in range(600) for t in background_tickets(7, city, 120.0, slot)]
    assert sum(t.address is not None for t in tickets) >= 50
    for ticket in tickets:
        for text in (ticket.address, ticket.text):
            found = gaz.locate(text) if text else None
            assert text is None or (found is not None and found.precision in FINE), text


def test_every_simulated_place_is_located_near_where_the_simulator_puts_it(
    gaz: Gazetteer,
) -> None:
    for place in ALL_PLACES:
        found = gaz.locate(place.name)
        assert found is not None, place.name
        assert distance_m(found.lat, found.lon, place.lat, place.lon) <= found.uncertainty_m
        # 张槎 and 南庄 are the simulator's names for whole 街道/镇 areas.
        area = place.key in {"zhangcha", "nanzhuang"}
        assert found.precision == ("street" if area else "poi"), place.name


def test_scripted_calls_are_located_within_their_uncertainty(gaz: Gazetteer) -> None:
    located = 0
    for seed in range(5):
        incident = build_incident(seed, TONGJI_BRIDGE, TONGJI_CAR_PARK)
        for call in incident.tickets:
            found = gaz.locate(call.text)
            if found is None:
                continue  # "停车场出不去" alone names no place
            located += 1
            assert distance_m(found.lat, found.lon, call.lat, call.lon) <= found.uncertainty_m
    assert located >= 10


def test_entries_lie_inside_their_district(gaz: Gazetteer) -> None:
    chancheng = load_district("440604")
    in_chancheng = [e for e in gaz.entries if e.adcode == "440604" and e.level != "district"]
    assert len(in_chancheng) >= 30
    for entry in in_chancheng:
        assert chancheng.contains(entry.lat, entry.lon), entry.name
    for entry in gaz.entries:
        assert load_district(entry.adcode).contains(entry.lat, entry.lon), entry.name


def test_districts_and_streets_are_complete(gaz: Gazetteer) -> None:
    districts = {e.adcode: e.name for e in gaz.entries if e.level == "district"}
    assert districts == {
        "440604": "禅城区",
        "440605": "南海区",
        "440606": "顺德区",
        "440607": "三水区",
        "440608": "高明区",
    }
    chancheng = {e.name for e in gaz.entries if e.level == "street" and e.adcode == "440604"}
    assert chancheng == {"祖庙街道", "石湾镇街道", "张槎街道", "南庄镇"}


def test_every_entry_has_an_english_name(gaz: Gazetteer) -> None:
    names_en = [e.name_en for e in gaz.entries]
    for entry in gaz.entries:
        assert entry.name_en.strip() and entry.name_en.isascii(), entry.name
    assert len(set(names_en)) == len(names_en)  # no two places read the same in English
    english = {e.name: e.name_en for e in gaz.entries}
    assert english["佛山市"] == "Foshan"
    assert english["禅城区"] == "Chancheng District"
    assert english["祖庙"] == "Foshan Ancestral Temple (Zumiao)"
    assert english["季华五路"] == "Jihua 5th Road"
    assert english["石湾镇街道"] == "Shiwanzhen Subdistrict"
    assert english["南庄镇"] == "Nanzhuang Town"


def test_gazetteer_file_is_up_to_date() -> None:
    current = build_gazetteer.GAZETTEER_PATH.read_text(encoding="utf-8")
    assert build_gazetteer.render(current) == current


def test_district_radius_covers_the_district() -> None:
    row = build_gazetteer.admin_row("440604")
    assert (row["name"], row["name_en"]) == ("禅城区", "Chancheng District")
    chancheng = load_district("440604")
    lat, lon = float(row["lat"]), float(row["lon"])
    assert chancheng.contains(lat, lon)
    radius = build_gazetteer.covering_radius_m(chancheng, lat, lon)
    assert radius <= float(row["uncertainty_m"]) < radius + 100.0


def _entry(name: str, level: Precision, adcode: str, lat: float = 23.0) -> GazetteerEntry:
    return GazetteerEntry(name, "Some Place", (), level, adcode, lat, 113.1, 100.0, "test")


def test_a_name_shared_across_districts_needs_the_district() -> None:
    gaz = Gazetteer(
        [
            _entry("禅城区", "district", "440604"),
            _entry("顺德区", "district", "440606", 22.8),
            _entry("人民路", "road", "440604", 23.04),
            _entry("人民路", "road", "440606", 22.84),
        ]
    )
    assert gaz.locate("人民路3号") is None
    found = gaz.locate("顺德区人民路3号")
    assert found is not None and (found.precision, found.lat) == ("road", 22.84)


def test_a_name_twice_in_one_district_is_refused() -> None:
    with pytest.raises(ValueError, match="人民路"):
        Gazetteer([_entry("人民路", "road", "440604"), _entry("人民路", "poi", "440604")])


_HEADER = "name,name_en,aliases,level,adcode,lat,lon,uncertainty_m,source\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,level\n", "header"),
        ("name,aliases,level,adcode,lat,lon,uncertainty_m,source\n", "header"),  # no name_en
        (_HEADER + "x,X,,lane,440604,23,113,1,t\n", "level"),
        (_HEADER + "x,X,,road,440604,a,113,1,t\n", "line 2"),
        (_HEADER + "x,X,,road,440604,23,113,0,t\n", "uncertainty"),
        (_HEADER + "x,X,,road,440604,95,113,1,t\n", "out of range"),
        (_HEADER + "x,,,road,440604,23,113,1,t\n", r"line 2 \('x'\): name_en .* missing or empty"),
        (_HEADER + "x, ,,road,440604,23,113,1,t\n", r"line 2 \('x'\): name_en"),
        (_HEADER + "y,Y,,road,440604,23,113,1,t\nx\n", r"line 3 \('x'\): name_en"),  # short row
    ],
)
def test_bad_gazetteer_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_gazetteer_csv(text)


def test_load_from_a_path_and_cached_default(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        _HEADER + "某桥,Mou Bridge,那座桥,poi,440604,23.02,113.1,80,test\n", encoding="utf-8"
    )
    gaz = load_gazetteer(path)
    assert [(e.name, e.name_en, e.aliases) for e in gaz.entries] == [
        ("某桥", "Mou Bridge", ("那座桥",))
    ]
    found = gaz.locate("那座桥下面")
    assert found is not None and (found.matched, found.uncertainty_m) == ("某桥", 80.0)
    assert gaz.locate("Mou Bridge") is None  # English names are for display, not matching
    assert load_gazetteer() is load_gazetteer()


_FRAGMENTS = st.sampled_from(
    sorted(
        {a for e in load_gazetteer().entries for a in (e.name, *e.aliases)}
        | {*OTHER_CITIES, *NEAR_WORDS, "广东省", "１２号", "，", " "}
    )
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(_FRAGMENTS, st.text(max_size=4))).map("".join)))
def test_locate_never_raises_and_stays_in_foshan(text: str) -> None:
    min_lon, min_lat, max_lon, max_lat = load_district("440600").bbox
    found = load_gazetteer().locate(text)
    if found is not None:
        assert min_lat <= found.lat <= max_lat and min_lon <= found.lon <= max_lon
        assert found.precision in PRECISIONS and found.uncertainty_m > 0.0
