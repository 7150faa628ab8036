"""Administrative district outlines, converted to WGS-84.

The outlines ship in ``geo/data/foshan_admin.gcj02.geojson`` in **GCJ-02**
(provenance in ``geo/data/PROVENANCE.md``). :func:`load_district` converts every
vertex with :func:`geo.crs.gcj02_to_wgs84_array`, so everything downstream
(H3 cells, camera positions) works in WGS-84 only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

from geo.crs import gcj02_to_wgs84_array
from geo.measure import geodesic_area_m2

DEFAULT_ADCODE: Final = "440604"
"""Chancheng district (禅城区), Foshan."""

ADMIN_FILE: Final = "foshan_admin.gcj02.geojson"


@dataclass(frozen=True, slots=True)
class District:
    """One administrative area in WGS-84.

    ``geometry`` is a MultiPolygon in ``(lon, lat)`` WGS-84 degrees; ``bbox`` is
    ``(min_lon, min_lat, max_lon, max_lat)`` degrees; ``centroid`` is the planar
    centroid as ``(lat, lon)`` degrees; ``area_km2`` is the geodesic area on the
    WGS-84 ellipsoid in km².
    """

    adcode: str
    name: str
    city: str
    geometry: MultiPolygon
    bbox: tuple[float, float, float, float]
    centroid: tuple[float, float]
    area_km2: float

    def contains(self, lat: float, lon: float) -> bool:
        """True when WGS-84 ``(lat, lon)`` degrees lies inside or on the outline."""
        return bool(self.geometry.covers(shapely.Point(lon, lat)))


def _gcj_to_wgs_coords(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``shapely.transform`` callback: an (N, 2) array of GCJ-02 (lon, lat) to WGS-84."""
    lat, lon = gcj02_to_wgs84_array(coords[:, 1], coords[:, 0])
    return np.column_stack([lon, lat])


def gcj02_geometry_to_wgs84(geometry: MultiPolygon) -> MultiPolygon:
    """Convert every vertex of a GCJ-02 ``(lon, lat)`` MultiPolygon to WGS-84."""
    converted = shapely.transform(geometry, _gcj_to_wgs_coords)
    if not isinstance(converted, MultiPolygon):
        raise TypeError(f"conversion changed the geometry type to {converted.geom_type}")
    return converted


def geodesic_area_km2(geometry: Polygon | MultiPolygon) -> float:
    """Geodesic area in km² of a WGS-84 ``(lon, lat)`` (multi)polygon."""
    return geodesic_area_m2(geometry) / 1e6


@lru_cache(maxsize=1)
def _admin_features() -> tuple[dict[str, Any], ...]:
    text = resources.files("geo").joinpath("data", ADMIN_FILE).read_text(encoding="utf-8")
    collection = json.loads(text)
    return tuple(collection["features"])


def _gcj_outline(adcode: str) -> tuple[dict[str, Any], MultiPolygon]:
    for feature in _admin_features():
        props = feature["properties"]
        if props["adcode"] == adcode:
            geom = shape(feature["geometry"])
            if isinstance(geom, Polygon):
                geom = MultiPolygon([geom])
            if not isinstance(geom, MultiPolygon):
                raise ValueError(f"adcode {adcode}: unexpected geometry {geom.geom_type}")
            return props, geom
    known = sorted(f["properties"]["adcode"] for f in _admin_features())
    raise ValueError(f"unknown adcode {adcode!r}; known: {known}")


def load_district_gcj02(adcode: str = DEFAULT_ADCODE) -> MultiPolygon:
    """The outline as shipped, in GCJ-02 ``(lon, lat)`` degrees (for comparison only)."""
    return _gcj_outline(adcode)[1]


def load_district(adcode: str = DEFAULT_ADCODE) -> District:
    """Load the district (or, for ``"440600"``, the whole city) ``adcode`` in WGS-84.

    Cached: the same adcode returns the same object. Raises :class:`ValueError`
    for an adcode not in the shipped file.
    """
    return _load_district(adcode)


@lru_cache(maxsize=16)
def _load_district(adcode: str) -> District:
    props, gcj = _gcj_outline(adcode)
    wgs = gcj02_geometry_to_wgs84(gcj)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in wgs.bounds)
    centre = wgs.centroid
    name = props.get("district") or props["city"]
    return District(
        adcode=adcode,
        name=str(name),
        city=str(props["city"]),
        geometry=wgs,
        bbox=(min_lon, min_lat, max_lon, max_lat),
        centroid=(float(centre.y), float(centre.x)),
        area_km2=geodesic_area_km2(wgs),
    )


def _listify(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    return value


def district_geojson(district: District) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS-84) with one Feature for ``district``.

    Properties: ``adcode``, ``name``, ``city``. Plain dicts and lists, JSON-ready.
    """
    geometry = mapping(district.geometry)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "adcode": district.adcode,
                    "name": district.name,
                    "city": district.city,
                },
                "geometry": {
                    "type": geometry["type"],
                    "coordinates": _listify(geometry["coordinates"]),
                },
            }
        ],
    }
