"""Named places of the simulated Chancheng (禅城区), Foshan.

Coordinates are WGS-84 degrees, read off public maps to within a few hundred
metres: good enough to give the heatmap a recognisable structure, not for
navigation. Every place lies well inside the converted district outline (a unit
test checks it). ``weight`` is how strongly a place attracts cameras and
hotline tickets; ``radius_m`` is the scale of the density fall-off around it.

Tongji Bridge (通济桥) is the restored 32 m x 9.9 m footbridge at the north end of
Pulan Road (普澜路) where it meets Tongji Road (同济路), south-east of the
Ancestral Temple; the scripted incident happens there. The car park is a
simulated one about 300 m south-east of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ZoneKind = Literal["street", "square", "bridge", "park", "station", "car_park", "mall"]
"""What a camera looks at; decides its typical ground area and crowd level."""

ZONE_KINDS: Final[tuple[ZoneKind, ...]] = (
    "street",
    "square",
    "bridge",
    "park",
    "station",
    "car_park",
    "mall",
)


@dataclass(frozen=True, slots=True)
class Place:
    """A named place: ``lat``/``lon`` WGS-84 degrees, ``radius_m`` metres."""

    key: str
    name: str
    kind: ZoneKind
    lat: float
    lon: float
    weight: float
    radius_m: float
    street: str
    """Chinese street address fragment used in hotline texts, e.g. ``祖庙街道祖庙路``."""


TONGJI_BRIDGE: Final = Place(
    key="tongji_bridge",
    name="通济桥",
    kind="bridge",
    lat=23.0258,
    lon=113.1166,
    weight=3.0,
    radius_m=300.0,
    street="祖庙街道同济路",
)

TONGJI_CAR_PARK: Final = Place(
    key="tongji_car_park",
    name="通济桥停车场",
    kind="car_park",
    lat=23.0236,
    lon=113.1184,
    weight=0.0,
    radius_m=60.0,
    street="祖庙街道普澜二路",
)

OTHER_PLACES: Final[tuple[Place, ...]] = (
    Place("zumiao", "祖庙", "square", 23.0375, 113.1107, 4.0, 350.0, "祖庙街道祖庙路"),
    Place("lingnan_tiandi", "岭南天地", "mall", 23.0358, 113.1140, 4.0, 300.0, "祖庙街道福贤路"),
    Place("pujun_market", "普君墟", "mall", 23.0300, 113.1190, 2.5, 250.0, "祖庙街道普君北路"),
    Place(
        "foshan_station", "佛山火车站", "station", 23.0495, 113.1090, 3.0, 350.0, "祖庙街道文昌路"
    ),
    Place("kuiqi_station", "魁奇路站", "station", 22.9985, 113.1065, 2.0, 300.0, "祖庙街道魁奇路"),
    Place("oriental_plaza", "东方广场", "mall", 23.0195, 113.1105, 2.5, 300.0, "祖庙街道季华五路"),
    Place("jihua_park", "季华园", "park", 23.0105, 113.1045, 1.5, 400.0, "祖庙街道季华四路"),
    Place(
        "asian_arts_park", "亚洲艺术公园", "park", 23.0180, 113.1230, 1.5, 450.0, "祖庙街道岭南大道"
    ),
    Place("nanfeng_kiln", "南风古灶", "square", 23.0135, 113.0840, 2.0, 300.0, "石湾镇街道高庙路"),
    Place("shiwan_park", "石湾公园", "park", 23.0075, 113.0850, 1.5, 350.0, "石湾镇街道和平路"),
    Place("zhangcha", "张槎", "street", 23.0420, 113.0650, 1.5, 700.0, "张槎街道张槎路"),
    Place("nanzhuang", "南庄", "square", 22.9960, 113.0160, 1.5, 700.0, "南庄镇禅港路"),
)

ALL_PLACES: Final[tuple[Place, ...]] = (TONGJI_BRIDGE, TONGJI_CAR_PARK, *OTHER_PLACES)
