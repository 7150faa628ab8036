"""Layer files: reading GeoJSON/GeoPackage into :mod:`geo.layers`, and layer-directory manifests.

Layer files are GeoJSON or GeoPackage (anything GDAL reads), one layer each.
Source CRS, in order: a *projected* CRS the file declares is always honoured
(reprojected to WGS-84 with pyproj); otherwise the ``crs`` option
(``wgs84``/``gcj02``/``bd09``, :mod:`geo.crs`), else ``.gcj02.``/``.bd09.`` in
the file name, else WGS-84 — GCJ-02 and BD-09 have no EPSG code, so files in
them usually claim EPSG:4326.

A point layer (:func:`load_point_layer`) reduces polygons and lines to a point
on their surface (``shapely.point_on_surface``) and keeps their shape for the
basemap; polygons get ``footprint_m2`` (geodesic m²) unless the file has that
property. An outline layer (:func:`load_outline_layer`) keeps polygons and lines
as they are, for the basemap only. A layer directory (``citybrain sim layers``)
lists its WGS-84 files in ``manifest.json`` (:class:`ManifestEntry`).
Anything wrong raises :class:`geo.layers.LayerError` naming the file and every
problem.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import geopandas
import numpy as np
import numpy.typing as npt
import pandas
import pyogrio
import shapely
from pyogrio.errors import DataSourceError
from pyproj.exceptions import CRSError
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon

from geo.crs import CRS_NAMES, to_wgs84_array
from geo.layers import (
    FloatArray,
    Geometry,
    Layer,
    LayerError,
    ObjectArray,
    OutlineLayer,
    PointLayer,
    check_names,
)
from geo.measure import geodesic_area_m2

MANIFEST: Final = "manifest.json"
_OUTLINE_TYPES: Final = (Polygon, MultiPolygon, LineString, MultiLineString)


class LayerFileLike(Protocol):
    """What :func:`load_layer_file` needs to know about a configured file."""

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
    @property
    def geometry(self) -> Geometry: ...


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
    """Read outlines for the basemap: (Multi)Polygons and (Multi)LineStrings only, as
    they are (no point, no footprint); CRS as in the module doc."""
    table, shapes = _read(path, crs)
    problems = _shape_problems(shapes)
    problems += [
        f"feature {i}: a {g.geom_type}, expected Polygon, MultiPolygon, LineString or "
        "MultiLineString (an outline layer only draws boundaries and lines)"
        for i, g in enumerate(shapes)
        if g is not None and not isinstance(g, _OUTLINE_TYPES)
    ]
    if problems:
        raise LayerError(str(path), problems)
    records = [
        {k: None if _missing(v) else _plain(v) for k, v in r.items()}
        for r in table.to_dict("records")
    ]
    try:
        return OutlineLayer(layer_id, kind, title, source, tuple(shapes), tuple(records))
    except ValueError as err:
        raise LayerError(str(path), [str(err)]) from None


def _plain(value: object) -> object:
    """A JSON-ready property value: numpy scalars unwrapped, dates and the like as text."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, int | float | str | bool) else str(value)


def load_layer_file(spec: Path | LayerFileLike) -> Layer:
    """A configured user layer file: a bare path (a point layer with defaults), or a
    spec. ``geometry`` ``"outline"`` reads an :class:`OutlineLayer` for the basemap
    (kind ``outline`` unless given; id, title and source as for points), anything
    else a :class:`PointLayer` (:func:`load_point_layer`)."""
    if isinstance(spec, Path):
        return load_point_layer(spec)
    if spec.geometry == "outline":
        return load_outline_layer(
            spec.path,
            layer_id=spec.id or default_id(spec.path),
            kind=spec.kind or "outline",
            title=spec.title or spec.path.name,
            source=spec.path.name,
            crs=spec.crs,
        )
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
            check_names(entry.id, entry.kind)
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
