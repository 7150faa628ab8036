"""Place names for H3 cells: where something is, the way dispatchers say it (pure, WGS-84).

A :class:`Place` names a cell by what the operator's layers and the gazetteer know:

* ``zones`` — the zones of the zone layers that share area with the cell (e.g.
  通济桥桥面), the one covering most of it first;
* ``street`` — the 街道/镇 whose outline holds the cell's centre, from an outline layer
  of kind ``street`` the operator supplies (docs/layers.md). None without one: the
  gazetteer knows 街道/镇 only as points, and no boundary is drawn or named as if it
  were known;
* ``district`` — the 区 whose official outline holds the centre
  (``geo/data/foshan_admin.gcj02.geojson``);
* ``nearest`` — the nearest named landmark or road of the gazetteer within
  :data:`NEAREST_WITHIN_M`, with its distance in metres from the cell's centre to the
  place's reference point (a road's point is on the road, not the nearest part of it).

:meth:`Place.label` says it in one line, Chinese and English (``通济桥桥面 · 禅城区``;
``距通济桥约 120 米 · 禅城区`` / ``120 m from Tongji Bridge · Chancheng District``).
:meth:`PlaceNamer.search` finds zones, streets, landmarks and districts by any part of
their Chinese or English name, for the map's search box.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.cells import cell_center, cell_of, cell_polygon
from geo.measure import EARTH_RADIUS_M
from geo.zone_index import ZoneIndex

NEAREST_WITHIN_M: Final = 3000.0
"""A landmark farther than this from a cell does not name it (it would mislead)."""

LANDMARK_LEVELS: Final = ("poi", "road")
"""Gazetteer levels that can be a cell's nearest named place (points on the ground;
街道/镇 and 区 points are area centres, not places one stands near)."""

LABEL_ZONES: Final = 2
"""Zones named in a label at most: a cell (~0.1 km²) often meets a square, the bridge
beside it and the streets through both."""

AreaKind = Literal["zone", "street", "district"]
MatchKind = Literal["zone", "street", "district", "landmark"]


@dataclass(frozen=True, slots=True)
class Name:
    """A name in Chinese (``zh``) and English (``en``; the Chinese name when no English
    one is known)."""

    zh: str
    en: str

    def to_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True, slots=True)
class NamedArea:
    """A zone, 街道/镇 or district a cell lies in; ``id`` is the layer's id for it."""

    kind: AreaKind
    id: str
    name: Name

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.name.to_dict()}


@dataclass(frozen=True, slots=True)
class Landmark:
    """A named point: ``lat``/``lon`` WGS-84 degrees, ``level`` as in the gazetteer."""

    name: Name
    level: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Nearby:
    """The nearest landmark and its distance in metres (rounded, see :func:`rounded_m`)."""

    landmark: Landmark
    distance_m: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.landmark.name.to_dict(), "distance_m": self.distance_m}


@dataclass(frozen=True, slots=True)
class Outline:
    """A named boundary: a 街道/镇 or a district. ``geometry`` WGS-84 ``(lon, lat)``."""

    kind: Literal["street", "district"]
    id: str
    name: Name
    geometry: Polygon | MultiPolygon


@dataclass(frozen=True, slots=True)
class Place:
    """What names one cell (module docstring); every part may be missing."""

    cell: str
    zones: tuple[NamedArea, ...]
    street: NamedArea | None
    district: NamedArea | None
    nearest: Nearby | None

    def label(self) -> Name:
        """One line: the finest name, then the 街道/镇 (or the district) it lies in;
        empty strings when nothing is known."""
        context = self.street or self.district
        if self.zones:
            head = _joined(self.zones[:LABEL_ZONES])
        elif self.nearest is not None:
            d = _distance_words(self.nearest.distance_m)
            near = self.nearest.landmark.name
            head = Name(f"距{near.zh}约 {d[0]}", f"{d[1]} from {near.en}")
        elif context is not None:
            return context.name
        else:
            return Name("", "")
        if context is None or context.name.zh == head.zh:
            return head
        return Name(f"{head.zh} · {context.name.zh}", f"{head.en} · {context.name.en}")

    def to_dict(self) -> dict[str, Any]:
        """The wire form (docs/protocol.md, ``place``)."""
        label = self.label()
        return {
            "zh": label.zh,
            "en": label.en,
            "zones": [z.to_dict() for z in self.zones],
            "street": self.street.to_dict() if self.street else None,
            "district": self.district.to_dict() if self.district else None,
            "nearest": self.nearest.to_dict() if self.nearest else None,
        }


@dataclass(frozen=True, slots=True)
class Match:
    """A search hit: what it is, its name, and where to look (``lat``/``lon`` WGS-84,
    ``bbox`` (min lon, min lat, max lon, max lat) for areas, None for points)."""

    kind: MatchKind
    id: str
    name: Name
    lat: float
    lon: float
    bbox: tuple[float, float, float, float] | None

    def to_dict(self) -> dict[str, Any]:
        box = [round(v, 6) for v in self.bbox] if self.bbox else None
        return {
            "kind": self.kind,
            "id": self.id,
            **self.name.to_dict(),
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "bbox": box,
        }


def _joined(zones: Sequence[NamedArea]) -> Name:
    return Name("、".join(z.name.zh for z in zones), ", ".join(z.name.en for z in zones))


def rounded_m(distance_m: float) -> float:
    """Metres as people say them: to 10 m below 1 km, to 100 m above."""
    step = 10.0 if distance_m < 1000.0 else 100.0
    return float(round(distance_m / step) * step)


def _distance_words(distance_m: float) -> tuple[str, str]:
    if distance_m < 1000.0:
        return f"{distance_m:.0f} 米", f"{distance_m:.0f} m"
    return f"{distance_m / 1000.0:.1f} 公里", f"{distance_m / 1000.0:.1f} km"


def fold(text: str) -> str:
    """Search form of a name or query: NFKC, lower case, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


class PlaceNamer:
    """Names cells at ``resolution`` from zones, outlines and landmarks (module
    docstring). Places are computed once per cell and kept (a city has a bounded
    number of cells that ever hold anything)."""

    def __init__(
        self,
        resolution: int,
        *,
        zones: ZoneIndex | None = None,
        outlines: Iterable[Outline] = (),
        landmarks: Iterable[Landmark] = (),
    ) -> None:
        self.resolution = resolution
        self._zones = zones
        self._outlines = tuple(outlines)
        for o in self._outlines:
            shapely.prepare(o.geometry)
        every = tuple(landmarks)
        self._landmarks = tuple(m for m in every if m.level in LANDMARK_LEVELS)
        self._lat = np.radians([m.lat for m in self._landmarks])
        self._lon = np.radians([m.lon for m in self._landmarks])
        self._cache: dict[str, Place] = {}
        self._searchable = self._candidates(every)

    def at_cell(self, cell: str) -> Place:
        """The place of ``cell`` (an H3 cell at this namer's resolution)."""
        place = self._cache.get(cell)
        if place is None:
            place = self._cache[cell] = self._name(cell)
        return place

    def at(self, lat: float, lon: float) -> Place:
        """The place of the cell holding WGS-84 ``(lat, lon)`` degrees."""
        return self.at_cell(cell_of(lat, lon, self.resolution))

    def _name(self, cell: str) -> Place:
        lat, lon = cell_center(cell)
        point = shapely.Point(lon, lat)
        street = district = None
        for o in self._outlines:
            if o.geometry.covers(point):
                if o.kind == "street" and street is None:
                    street = NamedArea("street", o.id, o.name)
                elif o.kind == "district" and district is None:
                    district = NamedArea("district", o.id, o.name)
        return Place(cell, self._zones_of(cell), street, district, self._near(lat, lon))

    def _zones_of(self, cell: str) -> tuple[NamedArea, ...]:
        if self._zones is None:
            return ()
        met = self._zones.zones_at(cell)
        if len(met) > 1:
            # a named place (bridge, square, station…) before the street through it, then
            # the zone that covers most of the cell
            polygon = cell_polygon(cell)
            share = {z.id: shapely.intersection(z.geometry, polygon).area for z in met}
            met = tuple(sorted(met, key=lambda z: (z.kind == "street", -share[z.id], z.id)))
            if met[0].kind != "street":  # the streets only name a cell with nothing else
                met = tuple(z for z in met if z.kind != "street")
        return tuple(NamedArea("zone", z.id, Name(z.name, z.name_en or z.name)) for z in met)

    def _near(self, lat: float, lon: float) -> Nearby | None:
        if not self._landmarks:
            return None
        p, q = math.radians(lat), math.radians(lon)
        h = (
            np.sin((self._lat - p) / 2.0) ** 2
            + math.cos(p) * np.cos(self._lat) * np.sin((self._lon - q) / 2.0) ** 2
        )
        metres = 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        best = int(np.argmin(metres))
        if metres[best] > NEAREST_WITHIN_M:
            return None
        return Nearby(self._landmarks[best], rounded_m(float(metres[best])))

    def search(self, query: str, limit: int = 20) -> list[Match]:
        """Zones, streets, landmarks and districts whose Chinese or English name holds
        ``query`` (case, width and spaces ignored): names that start with it first,
        then by kind in that order, then by name. An empty query finds nothing."""
        needle = fold(query)
        if not needle or limit <= 0:
            return []
        found: list[tuple[int, int, str, Match]] = []
        for rank, match in enumerate(self._searchable):
            folded = (fold(match.name.zh), fold(match.name.en))
            if any(needle in f for f in folded):
                starts = 0 if any(f.startswith(needle) for f in folded) else 1
                found.append((starts, rank, match.name.zh, match))
        found.sort(key=lambda t: (t[0], t[1]))
        return [m for *_, m in found[:limit]]

    def _candidates(self, landmarks: Sequence[Landmark]) -> tuple[Match, ...]:
        """Everything search can find, in kind order: zones, streets, landmarks (every
        gazetteer point but the city), districts."""
        out: list[Match] = []
        if self._zones is not None:
            for z in sorted(self._zones.zones.values(), key=lambda z: z.id):
                out.append(_area_match("zone", z.id, Name(z.name, z.name_en or z.name), z.geometry))
        streets = [o for o in self._outlines if o.kind == "street"]
        out += [_area_match("street", o.id, o.name, o.geometry) for o in streets]
        out += [
            Match("landmark", m.name.zh, m.name, m.lat, m.lon, None)
            for m in landmarks
            if m.level not in ("district", "city")
        ]
        districts = [o for o in self._outlines if o.kind == "district"]
        out += [_area_match("district", o.id, o.name, o.geometry) for o in districts]
        return tuple(out)


def _area_match(kind: MatchKind, id_: str, name: Name, geometry: Polygon | MultiPolygon) -> Match:
    centre = geometry.representative_point()
    box = geometry.bounds
    return Match(kind, id_, name, centre.y, centre.x, (box[0], box[1], box[2], box[3]))
