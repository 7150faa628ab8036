"""Thin helpers over H3 4.x, the one cell type inside the system.

Cells are H3 string ids (e.g. ``"8941...fff"``). Coordinates are WGS-84 degrees,
latitude first, except where a shapely geometry is involved (shapely and GeoJSON
are ``(lon, lat)``). Invalid input raises :class:`ValueError` (coordinates,
resolutions) or one of h3's own ``H3BaseException`` subclasses (cell ids).
"""

from __future__ import annotations

import math
import re
from typing import Final

import h3
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

MIN_RESOLUTION: Final = 0
MAX_RESOLUTION: Final = 15
_HEX_ID: Final = re.compile(r"[0-9a-fA-F]{1,16}")  # an H3 index is a 64-bit number in hex


def _check_res(res: int) -> None:
    if not (MIN_RESOLUTION <= res <= MAX_RESOLUTION):
        raise ValueError(f"H3 resolution {res} outside {MIN_RESOLUTION}..{MAX_RESOLUTION}")


def _check_latlon(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"non-finite coordinate ({lat}, {lon})")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"coordinate ({lat}, {lon}) outside [-90, 90] x [-180, 180] degrees")


def cell_of(lat: float, lon: float, res: int) -> str:
    """H3 cell at resolution ``res`` containing WGS-84 ``(lat, lon)`` degrees."""
    _check_res(res)
    _check_latlon(lat, lon)
    return str(h3.latlng_to_cell(lat, lon, res))


def is_cell(text: object, res: int | None = None) -> bool:
    """Whether ``text`` is an H3 cell id (at resolution ``res``, if given). Never raises:
    h3 itself raises OverflowError for a hex number beyond 64 bits or a sign."""
    if not isinstance(text, str) or _HEX_ID.fullmatch(text) is None:
        return False
    return bool(h3.is_valid_cell(text)) and (res is None or h3.get_resolution(text) == res)


def cell_center(cell: str) -> tuple[float, float]:
    """Centre of ``cell`` as WGS-84 ``(lat, lon)`` degrees."""
    lat, lon = h3.cell_to_latlng(cell)
    return float(lat), float(lon)


def cell_resolution(cell: str) -> int:
    """Resolution of ``cell`` (0..15)."""
    return int(h3.get_resolution(cell))


def parent(cell: str, res: int) -> str:
    """Ancestor of ``cell`` at resolution ``res`` (``res`` <= the cell's own resolution)."""
    _check_res(res)
    own = cell_resolution(cell)
    if res > own:
        raise ValueError(f"parent resolution {res} finer than the cell's resolution {own}")
    return str(h3.cell_to_parent(cell, res))


def cell_area_m2(cell: str) -> float:
    """Spherical surface area of ``cell`` in m²."""
    return float(h3.cell_area(cell, unit="m^2"))


def cell_polygon(cell: str) -> Polygon:
    """Boundary of ``cell`` as a shapely Polygon in ``(lon, lat)`` WGS-84 degrees."""
    boundary = h3.cell_to_boundary(cell)
    return Polygon([(lon, lat) for lat, lon in boundary])


def cells_covering(polygon: BaseGeometry, res: int) -> list[str]:
    """Cells at ``res`` whose centre lies inside ``polygon``, sorted by id.

    ``polygon`` is a shapely Polygon or MultiPolygon in WGS-84 ``(lon, lat)``
    degrees. Other geometry types raise :class:`ValueError`. A polygon smaller
    than one cell may yield no cell at all (centre containment, not overlap).
    """
    _check_res(res)
    if not isinstance(polygon, Polygon | MultiPolygon):
        raise ValueError(f"expected a Polygon or MultiPolygon, got {polygon.geom_type}")
    if polygon.is_empty:
        return []
    return sorted(h3.geo_to_cells(polygon, res))
