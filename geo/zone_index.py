"""The zone index: zone layers precomputed per H3 cell for O(1) lookups in the stream.

:func:`build_zone_index` computes, per H3 cell, the walkable area in m² (the
union of walkable zones ∩ cell, geodesic, so overlapping zones count once),
which zones meet the cell, the crowd kind and the walkway width; and per zone
its cells (every cell sharing area with it, so a 32 m bridge gets its cell).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeVar

import h3
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.cells import cell_area_m2, cell_polygon, cell_resolution, cells_covering
from geo.measure import EARTH_RADIUS_M, geodesic_area_m2
from geo.zones import CrowdKind, Zone

_V = TypeVar("_V")
_METRES_PER_DEGREE: Final = math.radians(1.0) * EARTH_RADIUS_M


def cells_intersecting(geometry: Polygon | MultiPolygon, res: int) -> tuple[str, ...]:
    """Sorted H3 cells at ``res`` whose interior shares area with ``geometry`` (WGS-84).

    Unlike :func:`geo.cells.cells_covering` (centre containment) this includes
    every boundary cell, so a zone smaller than a cell still gets its cell(s).
    Cells that only touch the zone along an edge or at a vertex are excluded.
    """
    # A cell sharing area with the zone has its centre within one circumradius
    # (= edge length) of it; twice the average edge covers the largest cells.
    margin_m = 2.0 * float(h3.average_hexagon_edge_length(res, unit="m"))
    lat = max(abs(geometry.bounds[1]), abs(geometry.bounds[3]))
    # Degrees of longitude are the shorter ones: this buffer is >= margin_m everywhere.
    margin_deg = margin_m / (_METRES_PER_DEGREE * math.cos(math.radians(lat)))
    candidates = cells_covering(geometry.buffer(margin_deg), res)
    polygons = [cell_polygon(c) for c in candidates]
    shares_area = shapely.relate_pattern(polygons, geometry, "T********")
    return tuple(c for c, hit in zip(candidates, shares_area, strict=True) if hit)


@dataclass(frozen=True, slots=True)
class ZoneIndex:
    """Zones precomputed per H3 cell at ``resolution``; every lookup is a dict read.

    ``walkable_m2`` holds, for each cell a walkable zone shares area with, the m²
    of (union of walkable zones) ∩ cell: overlapping zones count once, and the
    value never exceeds the cell's own area. ``crowd_of_cell``: ``"moving"`` as
    soon as one walkable zone in the cell holds a moving crowd, else ``"static"``
    (the moving, walkway scale is the stricter one, and a through-flow beside a
    standing crowd is what turns dangerous). ``width_of_cell``: the narrowest
    ``width_m`` of the cell's walkable zones (the bottleneck sets the flow).
    Lookups take cells at ``resolution``; another resolution raises ValueError.
    """

    resolution: int
    zones: Mapping[str, Zone]
    walkable_m2: Mapping[str, float]
    zones_of_cell: Mapping[str, tuple[str, ...]]
    cells_of_zone: Mapping[str, tuple[str, ...]]
    crowd_of_cell: Mapping[str, CrowdKind]
    width_of_cell: Mapping[str, float]

    def walkable(self, cell: str) -> float | None:
        """Walkable m² in ``cell``; None when no walkable zone covers any of it."""
        return self._get(self.walkable_m2, cell)

    def zones_at(self, cell: str) -> tuple[Zone, ...]:
        """Zones sharing area with ``cell`` (walkable or not), sorted by id."""
        return tuple(self.zones[i] for i in self._get(self.zones_of_cell, cell) or ())

    def crowd_kind(self, cell: str) -> CrowdKind | None:
        """Crowd kind of the walkable zones in ``cell`` (precedence above); None without."""
        return self._get(self.crowd_of_cell, cell)

    def width_m(self, cell: str) -> float | None:
        """Narrowest walkway width in metres among the cell's walkable zones, or None."""
        return self._get(self.width_of_cell, cell)

    def _get(self, table: Mapping[str, _V], cell: str) -> _V | None:
        value = table.get(cell)
        # Checked on a miss only: a cell at another resolution would otherwise read
        # silently as "no layer here".
        if value is None and cell_resolution(cell) != self.resolution:
            raise ValueError(f"cell {cell} is not at the index resolution {self.resolution}")
        return value


def _invert(cells_of_zone: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    zones_of_cell: dict[str, list[str]] = {}
    for zone_id in sorted(cells_of_zone):
        for cell in cells_of_zone[zone_id]:
            zones_of_cell.setdefault(cell, []).append(zone_id)
    return {cell: tuple(ids) for cell, ids in sorted(zones_of_cell.items())}


def _walkable_areas(walkable: list[Zone], cells: Iterable[str]) -> dict[str, float]:
    if not walkable:
        return {}
    union = shapely.union_all([z.geometry for z in walkable])  # overlaps count once
    areas = {}
    for cell in cells:
        piece = shapely.intersection(union, cell_polygon(cell))
        # Ellipsoid vs H3's sphere differ by well under 1 %: keep W <= the cell's area.
        areas[cell] = min(geodesic_area_m2(piece), cell_area_m2(cell))
    return areas


def build_zone_index(zones: Iterable[Zone], resolution: int = 9) -> ZoneIndex:
    """Index ``zones`` by H3 cell at ``resolution``; duplicate zone ids raise ValueError."""
    by_id: dict[str, Zone] = {}
    for zone in zones:
        if zone.id in by_id:
            raise ValueError(f"duplicate zone id {zone.id!r}")
        by_id[zone.id] = zone
    cells_of_zone = {i: cells_intersecting(z.geometry, resolution) for i, z in by_id.items()}
    zones_of_cell = _invert(cells_of_zone)
    crowd: dict[str, CrowdKind] = {}
    width: dict[str, float] = {}
    for cell, ids in zones_of_cell.items():
        walking = [by_id[i] for i in ids if by_id[i].walkable]
        if walking:
            crowd[cell] = "moving" if any(z.crowd == "moving" for z in walking) else "static"
        widths = [z.width_m for z in walking if z.width_m is not None]
        if widths:
            width[cell] = min(widths)
    walkable = [z for z in by_id.values() if z.walkable]
    return ZoneIndex(
        resolution=resolution,
        zones=MappingProxyType(by_id),
        walkable_m2=MappingProxyType(_walkable_areas(walkable, crowd)),
        zones_of_cell=MappingProxyType(zones_of_cell),
        cells_of_zone=MappingProxyType(cells_of_zone),
        crowd_of_cell=MappingProxyType(crowd),
        width_of_cell=MappingProxyType(width),
    )


# ---------------------------------------------------------------------------
# Grid (网格) zones and GeoJSON
