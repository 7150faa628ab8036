"""Static map layers: point layers (buildings, enterprises, cameras …) and outlines (pure).

A :class:`PointLayer` is columnar: numpy arrays of ids, WGS-84 ``lat``/``lon``
degrees and one array per property (``numbers``: float64, NaN when missing;
``texts``: object arrays of ``str`` or None). An :class:`OutlineLayer` holds
polygons and lines for the basemap (district, 网格 grids, zones, 街道 streets).
:class:`Layers` is the set the web server answers queries from. Reading layer
files and layer-directory manifests is :mod:`geo.layer_files`; anything wrong
raises :class:`LayerError` naming the source and every problem.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon

from geo.crs import out_of_china_array

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]
Geometry = Literal["point", "outline"]
"""What a layer holds: points (queried and counted) or outlines (drawn only)."""
OutlineShape: TypeAlias = Polygon | MultiPolygon | LineString | MultiLineString

CORE_KINDS: Final = ("building", "enterprise", "camera")
LAYER_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""Layer ids and kinds: they appear in URLs (``/api/layers/{id}.geojson``)."""
_MAX_PROBLEMS: Final = 20


class LayerError(ValueError):
    """A layer could not be loaded; the message has one ``source: problem`` line each."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        shown = [f"{source}: {p}" for p in self.problems[:_MAX_PROBLEMS]]
        if len(self.problems) > _MAX_PROBLEMS:
            shown.append(f"{source}: … and {len(self.problems) - _MAX_PROBLEMS} more problem(s)")
        super().__init__("\n".join(shown))


def _frozen(values: npt.ArrayLike, dtype: Any) -> Any:
    out = np.array(values, dtype=dtype)  # a copy the caller cannot change
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class PointLayer:
    """One point layer. ``lat``/``lon`` WGS-84 degrees; ``ids`` unique non-empty text.

    ``numbers``/``texts``: property name → array of the layer's length.
    ``shapes``: the features' own WGS-84 geometries when they were not points
    (for the basemap), else None. Arrays are copied and read-only.
    """

    id: str
    kind: str
    title: str
    source: str
    ids: ObjectArray
    lat: FloatArray
    lon: FloatArray
    numbers: Mapping[str, FloatArray] = field(default_factory=dict)
    texts: Mapping[str, ObjectArray] = field(default_factory=dict)
    shapes: ObjectArray | None = None

    def __post_init__(self) -> None:
        check_names(self.id, self.kind)
        n = len(self.ids)
        set_ = object.__setattr__
        set_(self, "ids", _frozen([str(i) for i in self.ids], object))
        set_(self, "lat", _frozen(self.lat, np.float64))
        set_(self, "lon", _frozen(self.lon, np.float64))
        numbers = {k: _frozen(v, np.float64) for k, v in self.numbers.items()}
        texts = {k: _frozen(v, object) for k, v in self.texts.items()}
        set_(self, "numbers", MappingProxyType(numbers))
        set_(self, "texts", MappingProxyType(texts))
        if self.shapes is not None:
            set_(self, "shapes", _frozen(self.shapes, object))
        columns = [self.lat, self.lon, *numbers.values(), *texts.values()]
        if self.shapes is not None:
            columns.append(self.shapes)
        if any(c.shape != (n,) for c in columns):
            raise ValueError(f"layer {self.id}: every column must hold {n} values")
        if set(numbers) & set(texts) or "id" in numbers or "id" in texts:
            raise ValueError(f"layer {self.id}: a property name is used twice (or is 'id')")
        problems = _point_problems(self.lat, self.lon) + _id_problems(self.ids)
        if problems:
            raise LayerError(self.source, problems)

    @property
    def count(self) -> int:
        return len(self.ids)

    def number(self, name: str, i: int) -> float | None:
        """Property ``name`` of point ``i`` as a float; None when absent or NaN."""
        column = self.numbers.get(name)
        value = float(column[i]) if column is not None else math.nan
        return None if math.isnan(value) else value

    def text(self, name: str, i: int) -> str | None:
        """Text property ``name`` of point ``i``; None when absent."""
        column = self.texts.get(name)
        return None if column is None else column[i]

    def total(self, name: str, indices: npt.NDArray[np.int64]) -> float:
        """Sum of number ``name`` over ``indices`` (missing values count as 0)."""
        column = self.numbers.get(name)
        return 0.0 if column is None else float(np.nansum(column[indices]))

    def properties(self, i: int) -> dict[str, Any]:
        """All properties of point ``i``, ``id`` first; NaN becomes None, 3.0 becomes 3."""
        props: dict[str, Any] = {"id": self.ids[i]}
        props.update({k: _tidy(self.number(k, i)) for k in self.numbers})
        props.update({k: v[i] for k, v in self.texts.items()})
        return props

    def geojson(self) -> dict[str, Any]:
        """A GeoJSON FeatureCollection (WGS-84): the shapes, or points to 1e-7 degrees."""
        features = []
        for i in range(self.count):
            if self.shapes is not None:
                geometry = json.loads(shapely.to_geojson(self.shapes[i]))
            else:
                point = [round(float(self.lon[i]), 7), round(float(self.lat[i]), 7)]
                geometry = {"type": "Point", "coordinates": point}
            features.append(
                {"type": "Feature", "properties": self.properties(i), "geometry": geometry}
            )
        return {"type": "FeatureCollection", "features": features}


@dataclass(frozen=True, slots=True, eq=False)
class OutlineLayer:
    """Outlines for the basemap: ``shapes`` (WGS-84, valid polygons or lines) and their
    ``properties``; drawn as thin lines, never counted by queries."""

    id: str
    kind: str
    title: str
    source: str
    shapes: tuple[OutlineShape, ...]
    properties: tuple[Mapping[str, Any], ...]

    def __post_init__(self) -> None:
        check_names(self.id, self.kind)
        if len(self.shapes) != len(self.properties):
            raise ValueError(f"layer {self.id}: {len(self.shapes)} shapes, properties differ")

    @property
    def count(self) -> int:
        return len(self.shapes)

    def geojson(self) -> dict[str, Any]:
        """A GeoJSON FeatureCollection (WGS-84), plain dicts and lists."""
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": dict(p),
                    "geometry": json.loads(shapely.to_geojson(g)),
                }
                for g, p in zip(self.shapes, self.properties, strict=True)
            ],
        }


Layer = PointLayer | OutlineLayer


@dataclass(frozen=True, slots=True)
class Layers:
    """Every loaded layer; ids are unique across both kinds."""

    points: tuple[PointLayer, ...] = ()
    outlines: tuple[OutlineLayer, ...] = ()

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for x in self.all():
            if x.id in seen:
                raise LayerError(x.source, [f"layer id {x.id!r} also used by {seen[x.id]}"])
            seen[x.id] = x.source

    def all(self) -> tuple[Layer, ...]:
        return (*self.points, *self.outlines)

    def of_kind(self, kind: str) -> tuple[PointLayer, ...]:
        return tuple(layer for layer in self.points if layer.kind == kind)

    def get(self, layer_id: str) -> Layer | None:
        return next((x for x in self.all() if x.id == layer_id), None)

    def summary(self) -> list[dict[str, Any]]:
        """``[{"id","kind","title","count","source","geometry"}]``, points first."""
        return [
            {"id": x.id, "kind": x.kind, "title": x.title, "count": x.count, "source": x.source}
            | {"geometry": "point" if isinstance(x, PointLayer) else "outline"}
            for x in self.all()
        ]


def _tidy(value: float | None) -> float | int | None:
    """Whole numbers as int (counts read better in JSON), others unchanged."""
    return int(value) if value is not None and value.is_integer() else value


def check_names(layer_id: str, kind: str) -> None:
    """Raise ValueError unless ``layer_id`` and ``kind`` match :data:`LAYER_ID`."""
    for what, value in (("id", layer_id), ("kind", kind)):
        if not LAYER_ID.match(value):
            raise ValueError(f"layer {what} {value!r} must match {LAYER_ID.pattern}")


def _point_problems(lat: FloatArray, lon: FloatArray) -> list[str]:
    ok = np.isfinite(lat) & np.isfinite(lon)
    bad = [
        f"feature {i}: coordinates ({lat[i]}, {lon[i]}) are not finite" for i in np.flatnonzero(~ok)
    ]
    far = np.flatnonzero(ok & out_of_china_array(np.where(ok, lat, 0.0), np.where(ok, lon, 0.0)))
    where = "lies outside mainland China (lon/lat swapped? projected?)"
    bad += [f"feature {i}: ({lat[i]:.6f}, {lon[i]:.6f}) {where}" for i in far]
    return bad


def _id_problems(ids: ObjectArray) -> list[str]:
    problems = [f"feature {i}: empty id" for i, v in enumerate(ids) if not str(v).strip()]
    unique, first, counts = np.unique(ids.astype(str), return_index=True, return_counts=True)
    problems += [
        f"feature {f}: id {str(u)!r} used {c} times"
        for u, f, c in zip(unique, first, counts, strict=True)
        if c > 1
    ]
    return problems
