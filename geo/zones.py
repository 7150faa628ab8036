"""Zone layers: walkable area, crowd kind and walkway width per H3 cell.

A :class:`Zone` is a named polygon (bridge deck, square, street segment, car
park, administrative grid cell 网格 …) in WGS-84 ``(lon, lat)`` degrees. Crowd
density is persons per m² of *walkable* area, so
:func:`geo.zone_index.build_zone_index` precomputes, per H3 cell, the area in m²
of the union of walkable zones inside it; stream code then only reads dicts.

Layers are read from GeoJSON, GeoPackage or Shapefile whose coordinates are
WGS-84, GCJ-02 or BD-09 (:mod:`geo.crs`); everything is WGS-84 after loading.

Areas are geodesic on the WGS-84 ellipsoid (``pyproj.Geod``): exact for any
polygon anywhere, with no per-city projection to pick, and the same measure as
``District.area_km2``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, cast, get_args

import geopandas
import numpy as np
import numpy.typing as npt
import shapely
from pyogrio.errors import DataSourceError
from shapely.geometry import MultiPolygon, Polygon

from geo.crs import CRS_NAMES, out_of_china_array, to_wgs84_array
from geo.district import District
from geo.measure import EARTH_RADIUS_M, polygon_parts

ZoneKind = Literal[
    "bridge", "square", "scenic", "car_park", "street", "park", "station", "mall", "grid"
]
CrowdKind = Literal["moving", "static"]
ZONE_KINDS: Final[frozenset[str]] = frozenset(get_args(ZoneKind))
CROWD_KINDS: Final[frozenset[str]] = frozenset(get_args(CrowdKind))

# G. K. Still: crowds move across bridges, along streets, through stations and park
# paths (for mixed-use parks "moving" is also the stricter, safer density scale);
# they stand, watch or queue in squares, scenic spots, car parks and malls. Grid
# zones are administrative and never walkable, so their value is never used.
_MOVING_KINDS: Final = frozenset({"bridge", "street", "station", "park"})
DEFAULT_CROWD: Final[Mapping[str, CrowdKind]] = MappingProxyType(
    {kind: "moving" if kind in _MOVING_KINDS else "static" for kind in sorted(ZONE_KINDS)}
)
"""Crowd kind of each zone kind unless a feature's ``crowd`` property overrides it."""

_PROPERTIES: Final = ("id", "name", "kind", "crowd", "walkable", "width_m")
ZONES_FILE: Final = "chancheng_zones.gcj02.geojson"
_METRES_PER_DEGREE: Final = math.radians(1.0) * EARTH_RADIUS_M


class ZoneLayerError(ValueError):
    """A zone layer failed validation; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"zone layer {source}: {len(self.problems)} problem(s)\n{lines}")


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone. ``geometry`` is a valid Polygon/MultiPolygon in WGS-84 ``(lon, lat)``.

    ``walkable`` zones count toward a cell's walkable area; ``width_m`` is the
    effective walkway width in metres (flow rates in persons/m/min), or None.
    ``name`` is the (Chinese) name; ``name_en`` its English name, or None when the
    layer gives none (a given one is non-blank text). ``name_en`` comes last, with
    a default, so positional construction up to ``geometry`` is unchanged.
    """

    id: str
    name: str
    kind: ZoneKind
    crowd: CrowdKind
    walkable: bool
    width_m: float | None
    geometry: Polygon | MultiPolygon
    name_en: str | None = None

    def __post_init__(self) -> None:
        problems = _value_problems(self.kind, self.crowd, self.walkable, self.width_m)
        problems += _geometry_problems(self.geometry)
        if not self.id or not self.name:
            problems.append("id and name must be non-empty")
        problems += _name_en_problems(self.name_en)
        if problems:
            raise ValueError(f"zone {self.id!r}: " + "; ".join(problems))


def _name_en_problems(name_en: object) -> list[str]:
    """Empty when ``name_en`` is None or non-blank text; else what is wrong with it."""
    if name_en is None:
        return []
    if not isinstance(name_en, str):
        return [f"name_en must be text, got {name_en!r}"]
    if not name_en.strip():
        return ["name_en is empty (leave it out when there is no English name)"]
    return []


def _value_problems(kind: str, crowd: str, walkable: object, width_m: object) -> list[str]:
    problems = []
    if kind not in ZONE_KINDS:
        problems.append(f"unknown kind {kind!r} (expected one of {sorted(ZONE_KINDS)})")
    if crowd not in CROWD_KINDS:
        problems.append(f"unknown crowd {crowd!r} (expected 'moving' or 'static')")
    if not isinstance(walkable, bool):
        problems.append(f"walkable must be true or false, got {walkable!r}")
    elif walkable and kind == "grid":
        problems.append("grid zones are administrative and cannot be walkable")
    if width_m is not None and not _positive_number(width_m):
        problems.append(f"width_m must be a finite number of metres > 0, got {width_m!r}")
    return problems


def _positive_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, float | int):
        return False
    return math.isfinite(value) and value > 0


def _geometry_problems(geometry: object) -> list[str]:
    if not isinstance(geometry, shapely.Geometry) or geometry.is_empty:
        return ["missing or empty geometry"]
    if not isinstance(geometry, Polygon | MultiPolygon):
        return [f"geometry is a {geometry.geom_type}, expected Polygon or MultiPolygon"]
    if not geometry.is_valid:
        return [f"invalid polygon: {shapely.is_valid_reason(geometry)}"]
    xy = shapely.get_coordinates(geometry)
    if bool(out_of_china_array(xy[:, 1], xy[:, 0]).any()):
        # Usually swapped lon/lat or a projected CRS: refuse rather than guess.
        return ["coordinates outside the mainland China bounds (lon/lat swapped?)"]
    return []


# ---------------------------------------------------------------------------
# Loading


def _plain(value: object) -> object:
    """A property value as a Python scalar; None when absent (None, NaN or blank text)."""
    if isinstance(value, np.generic):
        value = value.item()  # geopandas hands out numpy scalars
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None  # GDAL's null for numeric fields
    return value


def _texts(props: Mapping[str, object]) -> tuple[dict[str, str | None], list[str]]:
    texts: dict[str, str | None] = {}
    problems = []
    for key in ("id", "name", "kind", "crowd", "crs"):
        value = _plain(props.get(key))
        texts[key] = value.strip() if isinstance(value, str) else None
        if value is None and key in ("id", "name", "kind"):
            problems.append(f"missing {key}")
        elif value is not None and not isinstance(value, str):
            problems.append(f"{key} must be text, got {value!r}")
    return texts, problems


def _english_name(value: object) -> object:
    """``name_en`` as given, stripped if text; None when absent (None or NaN).

    Unlike :func:`_plain`, blank text is kept, so that an empty ``name_en`` is
    refused rather than taken for an absent one. (Shapefiles store no empty
    text: GDAL reads it as null, so there it is absent.)
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.strip() if isinstance(value, str) else value


def _walkable(value: object, kind: str | None) -> object:
    if value is None:
        return kind != "grid"
    if isinstance(value, int | float) and not isinstance(value, bool) and value in (0, 1):
        # Shapefiles have no boolean type, and GDAL widens a column with nulls to float.
        return bool(value)
    return value


def _convert(geometry: Polygon | MultiPolygon, crs: str) -> Polygon | MultiPolygon:
    """The same shape, 2-D, with every vertex converted from ``crs`` to WGS-84."""

    def to_wgs(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lat, lon = to_wgs84_array(xy[:, 1], xy[:, 0], crs)
        return np.column_stack([lon, lat])

    flat = shapely.force_2d(geometry)
    converted = flat if crs == "wgs84" else shapely.transform(flat, to_wgs)
    if not isinstance(converted, Polygon | MultiPolygon):
        raise TypeError(f"conversion changed the geometry type to {converted.geom_type}")
    return converted


def _parse_feature(
    props: Mapping[str, object], geometry: object, crs: str | None, fallback_crs: str
) -> Zone | str:
    """The feature as a Zone, or a ``"; "``-joined list of everything wrong with it."""
    texts, problems = _texts(props)
    name_en = _english_name(props.get("name_en"))
    problems += _name_en_problems(name_en)
    kind = texts["kind"]
    crowd = texts["crowd"] or DEFAULT_CROWD.get(kind or "", "moving")
    walkable = _walkable(_plain(props.get("walkable")), kind)
    width = _plain(props.get("width_m"))
    if kind is not None:
        problems += _value_problems(kind, crowd, walkable, width)
    source_crs = crs or texts["crs"] or fallback_crs
    if source_crs not in CRS_NAMES:
        problems.append(f"unknown crs {source_crs!r} (expected one of {sorted(CRS_NAMES)})")
    problems += _geometry_problems(geometry)
    if problems:
        return "; ".join(problems)
    assert isinstance(geometry, Polygon | MultiPolygon)  # checked just above
    try:
        return Zone(
            id=str(texts["id"]),
            name=str(texts["name"]),
            kind=cast(ZoneKind, kind),  # checked by _value_problems
            crowd=cast(CrowdKind, crowd),
            walkable=bool(walkable),
            width_m=None if width is None else float(cast(float, width)),
            geometry=_convert(geometry, source_crs),
            name_en=cast(str | None, name_en),  # checked by _name_en_problems
        )
    except ValueError as err:  # e.g. a polygon that became invalid after conversion
        return str(err)


def _read_frame(path: Path) -> geopandas.GeoDataFrame:
    try:
        frame = geopandas.read_file(path, engine="pyogrio")
    except DataSourceError as err:
        raise ZoneLayerError(str(path), [f"cannot read the file: {err}"]) from err
    if frame.crs is not None and frame.crs.is_projected:
        frame = frame.to_crs("EPSG:4326")  # a declared projected CRS: back to lon/lat
    return frame


def load_zones(path: str | PathLike[str], *, crs: str | None = None) -> tuple[Zone, ...]:
    """Read and validate a zone layer (GeoJSON, GeoPackage or Shapefile), in file order.

    Per feature, properties ``id``, ``name``, ``kind`` are required; ``name_en``
    (English name; non-blank text, else None), ``crowd`` (default per kind,
    :data:`DEFAULT_CROWD`), ``walkable`` (default: every kind but ``grid``),
    ``width_m`` (metres > 0) and ``crs`` are optional. The source
    CRS is the ``crs`` argument, else the feature's ``crs`` property, else
    ``.gcj02.``/``.bd09.`` in the file name, else WGS-84; geometries are converted
    to WGS-84. Any problem raises one :class:`ZoneLayerError` listing every
    problem with the feature's 0-based index and id; nothing is skipped.
    """
    if crs is not None and crs not in CRS_NAMES:
        raise ValueError(f"unknown crs {crs!r}; expected one of {sorted(CRS_NAMES)}")
    source = Path(path)
    fallback = _crs_from_name(source.name) or "wgs84"
    frame = _read_frame(source)
    records = frame.drop(columns=frame.geometry.name).to_dict("records")
    zones: list[Zone] = []
    problems: list[str] = []
    first_index: dict[str, int] = {}
    for index, (props, geometry) in enumerate(zip(records, frame.geometry, strict=True)):
        result = _parse_feature(props, geometry, crs, fallback)
        found = [result] if isinstance(result, str) else []
        zid = _plain(props.get("id"))
        if isinstance(zid, str) and first_index.setdefault(zid.strip(), index) != index:
            found.append(f"duplicate id, also feature {first_index[zid.strip()]}")
        if found:
            problems.append(f"feature {index} (id {zid!r}): " + "; ".join(found))
        elif isinstance(result, Zone):
            zones.append(result)
    if problems:
        raise ZoneLayerError(str(source), problems)
    return tuple(zones)


def _crs_from_name(name: str) -> str | None:
    lowered = name.lower()
    return next((c for c in ("gcj02", "bd09") if f".{c}." in lowered), None)


@lru_cache(maxsize=1)
def default_zones() -> tuple[Zone, ...]:
    """The packaged Chancheng zone layer (GCJ-02 on disk), in WGS-84. Cached."""
    ref = resources.files("geo").joinpath("data", ZONES_FILE)
    with resources.as_file(ref) as path:
        return load_zones(path)


# ---------------------------------------------------------------------------
# Index


def grid_zones(district: District, size_m: float = 500.0) -> tuple[Zone, ...]:
    """Administrative grid cells (网格) over ``district``: ``grid`` zones, not walkable.

    Squares of about ``size_m`` metres (exact along the district's central
    latitude) on a lon/lat grid anchored at the district's north-west bbox
    corner, clipped to the outline; numbered ``grid-0001``, ``grid-0002`` … row
    by row from the north, west to east. Deterministic; neighbours share their
    edges exactly, so the zones tile the district without gaps or overlaps.
    """
    if not (math.isfinite(size_m) and size_m > 0):
        raise ValueError(f"size_m must be a finite number of metres > 0, got {size_m!r}")
    min_lon, min_lat, max_lon, max_lat = district.bbox
    dlat = size_m / _METRES_PER_DEGREE
    dlon = dlat / math.cos(math.radians(district.centroid[0]))
    rows = math.ceil((max_lat - min_lat) / dlat)
    cols = math.ceil((max_lon - min_lon) / dlon)
    # Edges from the same expression on both sides, so neighbours share them bit for bit.
    row, col = np.divmod(np.arange(rows * cols), cols)
    west, north = min_lon + col * dlon, max_lat - row * dlat
    squares = shapely.box(west, max_lat - (row + 1) * dlat, min_lon + (col + 1) * dlon, north)
    pieces = [polygon_parts(g) for g in shapely.intersection(squares, district.geometry)]
    shapes = [p[0] if len(p) == 1 else MultiPolygon(p) for p in pieces if p]
    return tuple(
        Zone(f"grid-{n:04d}", f"网格 {n:04d}", "grid", DEFAULT_CROWD["grid"], False, None, g)
        for n, g in enumerate(shapes, start=1)
    )


def zones_geojson(zones: Iterable[Zone]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS-84) of ``zones``, plain dicts and lists.

    Properties: ``id``, ``name``, ``kind``, ``crowd``, ``walkable``, ``width_m``
    (metres or null), and ``name_en`` only for zones that have one.
    :func:`load_zones` reads it back unchanged.
    """
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": _properties(z),
                "geometry": json.loads(shapely.to_geojson(z.geometry)),
            }
            for z in zones
        ],
    }


def _properties(zone: Zone) -> dict[str, Any]:
    props = {key: getattr(zone, key) for key in _PROPERTIES}
    if zone.name_en is not None:
        props["name_en"] = zone.name_en
    return props
