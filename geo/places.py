"""Build the :class:`~geo.placename.PlaceNamer` from what ships and what the operator adds.

* districts: the official outlines of ``geo/data/foshan_admin.gcj02.geojson`` for every
  district the gazetteer lists, named as the gazetteer names them (Chinese and English);
* streets (街道/镇): the polygons of the operator's outline layers of kind ``street``
  (docs/layers.md) that carry a ``name`` property (``name_en`` optional); a feature
  without a name, or a line, names nothing;
* landmarks: the gazetteer's entries;
* zones: the zone index the worker uses.
"""

from __future__ import annotations

from collections.abc import Iterable

from shapely.geometry import MultiPolygon, Polygon

from geo.district import load_district
from geo.geocode import Gazetteer, load_gazetteer
from geo.layers import OutlineLayer
from geo.placename import Landmark, Name, Outline, PlaceNamer
from geo.zone_index import ZoneIndex

STREET_KIND = "street"
"""The outline-layer kind whose polygons are 街道/镇 boundaries."""


def street_outlines(layers: Iterable[OutlineLayer]) -> list[Outline]:
    """The named polygons of the outline layers of kind :data:`STREET_KIND`."""
    out = []
    for layer in layers:
        if layer.kind != STREET_KIND:
            continue
        for i, (shape, props) in enumerate(zip(layer.shapes, layer.properties, strict=True)):
            zh = props.get("name")
            if not isinstance(shape, Polygon | MultiPolygon) or not isinstance(zh, str) or not zh:
                continue
            en = props.get("name_en")
            name = Name(zh, en if isinstance(en, str) and en else zh)
            ident = props.get("id")
            out.append(Outline("street", f"{layer.id}:{ident if ident else i}", name, shape))
    return out


def district_outlines(gazetteer: Gazetteer) -> list[Outline]:
    """The shipped district outlines, named by the gazetteer's district rows."""
    out = []
    for entry in gazetteer.entries:
        if entry.level == "district":
            district = load_district(entry.adcode)
            name = Name(entry.name, entry.name_en)
            out.append(Outline("district", entry.adcode, name, district.geometry))
    return out


def place_namer(
    resolution: int,
    zones: ZoneIndex | None,
    layers: Iterable[OutlineLayer] = (),
    gazetteer: Gazetteer | None = None,
) -> PlaceNamer:
    """A namer for cells at ``resolution`` (module docstring); ``gazetteer`` defaults to
    the shipped Foshan one."""
    gazetteer = gazetteer or load_gazetteer()
    landmarks = [
        Landmark(Name(e.name, e.name_en), e.level, e.lat, e.lon) for e in gazetteer.entries
    ]
    outlines = [*street_outlines(layers), *district_outlines(gazetteer)]
    return PlaceNamer(resolution, zones=zones, outlines=outlines, landmarks=landmarks)
