"""Static map layers: point layers (buildings, enterprises, cameras …) and outlines (pure).

A :class:`PointLayer` is columnar: numpy arrays of ids, WGS-84 ``lat``/``lon``
degrees and one array per property (``numbers``: float64, NaN when missing;
``texts``: object arrays of ``str`` or None). An :class:`OutlineLayer` holds
polygons for the basemap (district, 网格 grids, zones). :class:`Layers` is the
set the web server answers queries from.

Layer files are GeoJSON or GeoPackage (anything GDAL reads). Source CRS, in
order: a *projected* CRS the file declares is always honoured (reprojected to
WGS-84 with pyproj); otherwise the ``crs`` option (``wgs84``/``gcj02``/``bd09``,
:mod:`geo.crs`), else ``.gcj02.``/``.bd09.`` in the file name, else WGS-84 —
GCJ-02 and BD-09 have no EPSG code, so files in them usually claim EPSG:4326.
Polygons and lines are reduced to a point on their surface
(``shapely.point_on_surface``) and keep their shape for the basemap; polygons
get ``footprint_m2`` (geodesic m²) unless the file has that property.
Anything wrong raises :class:`LayerError` naming the file and every problem.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, Protocol

import geopandas
import numpy as np
import numpy.typing as npt
import pandas
import pyogrio
import shapely
from pyogrio.errors import DataSourceError
from pyproj.exceptions import CRSError
from shapely.geometry import MultiPolygon, Polygon

from geo.crs import CRS_NAMES, out_of_china_array, to_wgs84_array
from geo.measure import geodesic_area_m2

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]
Geometry = Literal["point", "outline"]

CORE_KINDS: Final = ("building", "enterprise", "camera")
LAYER_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""Layer ids and kinds: they appear in URLs (``/api/layers/{id}.geojson``)."""
MANIFEST: Final = "manifest.json"
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
        _check_names(self.id, self.kind)
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
    """Polygons for the basemap: ``shapes`` (WGS-84, valid) and their ``properties``."""

    id: str
    kind: str
    title: str
    source: str
    shapes: tuple[Polygon | MultiPolygon, ...]
    properties: tuple[Mapping[str, Any], ...]

    def __post_init__(self) -> None:
        _check_names(self.id, self.kind)
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


def _check_names(layer_id: str, kind: str) -> None:
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


# ---------------------------------------------------------------------------
# Reading files


class LayerFileLike(Protocol):
    """What :func:`load_point_layer` needs to know about a configured file."""

    @property
    def path(self) -> Path: ...
    @property
    def crs(self) -> str | None: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def id(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...


def crs_from_name(name: str) -> str | None:
    """``gcj02``/``bd09`` when the file name has ``.gcj02.``/``.bd09.``, else None."""
    lowered = name.lower()
    return next((c for c in ("gcj02", "bd09") if f".{c}." in lowered), None)


def default_id(path: Path) -> str:
    """A layer id from a file name: ``Shops.gcj02.gpkg`` → ``shops``."""
    stem = re.sub(r"[^a-z0-9_-]+", "-", path.name.split(".")[0].lower()).strip("-_")
    return stem[:64] or "layer"


def _read(path: Path, crs: str | None) -> tuple[pandas.DataFrame, npt.NDArray[np.object_]]:
    """The attribute table and the WGS-84 (lon, lat) geometries of a layer file."""
    source = str(path)
    if crs is not None and crs not in CRS_NAMES:
        raise LayerError(source, [f"unknown crs {crs!r}; expected one of {sorted(CRS_NAMES)}"])
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
        frame = geopandas.read_file(path, engine="pyogrio") if len(names) == 1 else None
    except (DataSourceError, OSError, ValueError) as err:
        raise LayerError(source, [f"cannot read the file: {err}"]) from err
    if frame is None:  # GDAL would read the first layer and warn
        raise LayerError(source, [f"holds {len(names)} layers {names}; give one layer per file"])
    datum = crs or crs_from_name(path.name) or "wgs84"
    declared = frame.crs
    try:
        if declared is not None and declared.is_projected:
            if datum != "wgs84":
                raise LayerError(
                    source, [f"crs {datum} given, but the file declares {declared.to_string()}"]
                )
            frame = frame.to_crs("EPSG:4326")
        elif declared is not None and declared.to_epsg() not in (4326, 4490, None):
            frame = frame.to_crs("EPSG:4326")  # another geographic CRS (CGCS2000 is ~WGS-84)
    except CRSError as err:
        raise LayerError(source, [f"cannot convert from {declared}: {err}"]) from err
    shapes = shapely.force_2d(np.asarray(frame.geometry.values, dtype=object))
    if datum != "wgs84":

        def to_wgs(xy: FloatArray) -> FloatArray:
            lat, lon = to_wgs84_array(xy[:, 1], xy[:, 0], datum)
            return np.column_stack([lon, lat])

        shapes = shapely.transform(shapes, to_wgs)
    return pandas.DataFrame(frame.drop(columns=frame.geometry.name)), shapes


def _shape_problems(shapes: npt.NDArray[np.object_]) -> list[str]:
    problems = []
    for i, g in enumerate(shapes):
        if g is None or g.is_empty:
            problems.append(f"feature {i}: missing or empty geometry")
        elif g.geom_type == "GeometryCollection":
            problems.append(f"feature {i}: a GeometryCollection is not supported")
        elif not g.is_valid:
            problems.append(f"feature {i}: invalid {g.geom_type}: {shapely.is_valid_reason(g)}")
    return problems


def _columns(
    table: pandas.DataFrame, n: int, layer_id: str
) -> tuple[list[str], dict[str, FloatArray], dict[str, ObjectArray]]:
    """Ids, numeric and text columns of an attribute table."""
    numbers: dict[str, FloatArray] = {}
    texts: dict[str, ObjectArray] = {}
    ids = [f"{layer_id}-{i + 1}" for i in range(n)]
    for name in table.columns:
        col = table[name]
        if name == "id":
            ids = ["" if _missing(v) else _id_text(v) for v in col]
        elif pandas.api.types.is_bool_dtype(col) or pandas.api.types.is_numeric_dtype(col):
            numbers[str(name)] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = [None if _missing(v) else str(v) for v in col]
            texts[str(name)] = np.array(values, dtype=object)
    return ids, numbers, texts


def _missing(value: object) -> bool:
    return value is None or value is pandas.NA or (isinstance(value, float) and math.isnan(value))


def _id_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # GDAL widens integer ids with gaps to float
    return str(value).strip()


def load_point_layer(
    path: Path,
    *,
    layer_id: str | None = None,
    kind: str | None = None,
    title: str | None = None,
    source: str | None = None,
    crs: str | None = None,
) -> PointLayer:
    """Read a point layer from a GeoJSON/GeoPackage file (see the module doc for CRS).

    Defaults: id from the file name (:func:`default_id`), kind ``user``, title
    and source the file name. An ``id`` property becomes the point ids (else
    ``<layer id>-<n>``); other properties become numbers or texts.
    """
    layer_id = layer_id or default_id(path)
    table, shapes = _read(path, crs)
    problems = _shape_problems(shapes)
    if problems:
        raise LayerError(str(path), problems)
    points = shapely.point_on_surface(shapes)
    ids, numbers, texts = _columns(table, len(shapes), layer_id)
    polygonal = np.array([g.geom_type in ("Polygon", "MultiPolygon") for g in shapes], dtype=bool)
    if polygonal.any() and "footprint_m2" not in numbers and "footprint_m2" not in texts:
        numbers["footprint_m2"] = np.array(
            [geodesic_area_m2(g) if p else math.nan for g, p in zip(shapes, polygonal, strict=True)]
        )
    keep_shapes = bool(np.any(shapely.get_type_id(shapes) != 0))  # not all plain points
    try:
        return PointLayer(
            id=layer_id,
            kind=kind or "user",
            title=title or path.name,
            source=source or path.name,
            ids=np.array(ids, dtype=object),
            lat=shapely.get_y(points),
            lon=shapely.get_x(points),
            numbers=numbers,
            texts=texts,
            shapes=shapes if keep_shapes else None,
        )
    except LayerError as err:
        raise LayerError(str(path), err.problems) from None
    except ValueError as err:
        raise LayerError(str(path), [str(err)]) from None


def load_outline_layer(
    path: Path, *, layer_id: str, kind: str, title: str, source: str, crs: str | None = None
) -> OutlineLayer:
    """Read polygons (Polygon/MultiPolygon only) for the basemap; CRS as in the module doc."""
    table, shapes = _read(path, crs)
    problems = _shape_problems(shapes)
    problems += [
        f"feature {i}: a {g.geom_type}, expected Polygon or MultiPolygon"
        for i, g in enumerate(shapes)
        if g is not None and not isinstance(g, Polygon | MultiPolygon)
    ]
    if problems:
        raise LayerError(str(path), problems)
    records = [
        {k: None if _missing(v) else _plain(v) for k, v in r.items()}
        for r in table.to_dict("records")
    ]
    return OutlineLayer(layer_id, kind, title, source, tuple(shapes), tuple(records))


def _plain(value: object) -> object:
    """A JSON-ready property value: numpy scalars unwrapped, dates and the like as text."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)


def load_layer_file(spec: Path | LayerFileLike) -> PointLayer:
    """A configured user layer file: a bare path, or a spec with path/crs/kind/id/title."""
    if isinstance(spec, Path):
        return load_point_layer(spec)
    return load_point_layer(
        spec.path, layer_id=spec.id, kind=spec.kind, title=spec.title, crs=spec.crs
    )


# ---------------------------------------------------------------------------
# Manifest of a directory of generated layers


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One layer of a layer directory: its file (a name in the directory) and what it is."""

    id: str
    kind: str
    title: str
    source: str
    count: int
    file: str
    geometry: Geometry

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def write_manifest(directory: Path, entries: Sequence[ManifestEntry], **extra: Any) -> Path:
    """Write ``manifest.json`` (``{"layers": [...], **extra}``) into ``directory``."""
    data = {**extra, "layers": [e.to_dict() for e in entries]}
    path = directory / MANIFEST
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def read_manifest(directory: Path) -> tuple[ManifestEntry, ...]:
    """The validated entries of ``directory/manifest.json``."""
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["layers"]
        if not isinstance(raw, list):
            raise TypeError("'layers' must be a list")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise LayerError(str(path), [f"not a layer manifest: {err!r}"]) from None
    entries, problems = [], []
    for n, item in enumerate(raw):
        try:
            entry = ManifestEntry(**item)
            _check_names(entry.id, entry.kind)
            if entry.geometry not in ("point", "outline") or Path(entry.file).name != entry.file:
                raise ValueError(f"bad geometry {entry.geometry!r} or file {entry.file!r}")
            if not isinstance(entry.count, int) or entry.count < 0:
                raise ValueError(f"bad count {entry.count!r}")
            entries.append(entry)
        except (TypeError, ValueError) as err:
            problems.append(f"layer {n}: {err}")
    if problems:
        raise LayerError(str(path), problems)
    return tuple(entries)


def load_layer_dir(directory: Path) -> tuple[list[PointLayer], list[OutlineLayer]]:
    """Every layer listed in ``directory/manifest.json`` (files in WGS-84)."""
    points: list[PointLayer] = []
    outlines: list[OutlineLayer] = []
    for e in read_manifest(directory):
        names = {"layer_id": e.id, "kind": e.kind, "title": e.title, "source": e.source}
        layer: Layer
        if e.geometry == "point":
            layer = load_point_layer(directory / e.file, crs="wgs84", **names)
            points.append(layer)
        else:
            layer = load_outline_layer(directory / e.file, crs="wgs84", **names)
            outlines.append(layer)
        if layer.count != e.count:
            raise LayerError(
                str(directory / e.file), [f"{layer.count} features, manifest says {e.count}"]
            )
    return points, outlines
