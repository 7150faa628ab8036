"""Small-distance measurements on WGS-84 degrees.

Spherical approximations (mean Earth radius 6,371,008.8 m), accurate to about
0.5 % — right for city-scale jitter, "within 150 m" checks and nearest-camera
lists; use ``pyproj.Geod`` where survey accuracy matters.
"""

from __future__ import annotations

import math
from typing import Final

import shapely
from pyproj import Geod
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

EARTH_RADIUS_M: Final = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS-84 points in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def offset_m(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point ``east_m`` metres east and ``north_m`` metres north of ``(lat, lon)`` degrees.

    Local flat-Earth step, fine for offsets up to a few kilometres away from the
    poles. Returns ``(lat, lon)`` degrees.
    """
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


_GEOD: Final = Geod(ellps="WGS84")


def polygon_parts(geometry: shapely.Geometry) -> list[Polygon]:
    """The area-bearing parts of a geometry (overlays can leave lines and points)."""
    parts = shapely.get_parts(shapely.get_parts(geometry))  # two levels: collections of multis
    return [p for p in parts if isinstance(p, Polygon) and p.area > 0]


def geodesic_area_m2(geometry: shapely.Geometry) -> float:
    """Area in m² on the WGS-84 ellipsoid of the polygonal parts of a (lon, lat) geometry."""
    # Geod subtracts holes only when they wind opposite to the shell: orient first.
    areas = (_GEOD.geometry_area_perimeter(orient(p))[0] for p in polygon_parts(geometry))
    return sum(abs(float(a)) for a in areas)
