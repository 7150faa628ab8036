"""Synthetic static layers of the simulated Chancheng, inside the real district outline.

Everything here is **simulated** (seeded, deterministic) and only shaped like
the real district, for demos and tests:

* buildings — points with ``footprint_m2``, ``floors``, ``use`` and
  ``residents``; densest around the old town (祖庙, 岭南天地, 通济桥) and the
  simulator's named places; residents add up to exactly ``residents_total``
  (default 1.1 million, about Chancheng's population);
* enterprises — ``佛山XX陶瓷有限公司``-style names, an industry (ceramics near
  石湾/南庄, textiles near 张槎, retail and catering in the centre …) and
  ``employees``, each in one of the non-residential or mixed buildings;
* cameras — the simulator's own cameras (:func:`feeds.sim.city.build_city`, same
  seed and counts give the same ids and WGS-84 positions) with a name and a
  ``stream_url`` from a template;
* grids (网格) — H3 resolution-7 cells (about 5 km²) clipped to the outline,
  ``G-001`` … as :func:`feeds.sim.gridworkers.grid_areas` numbers them for the
  simulated grid workers; real grid-management areas are far smaller and
  follow streets: these only stand in for them;
* the district outline.

:func:`generate_layers` writes them as GeoJSON (WGS-84) plus ``manifest.json``
(:mod:`geo.layer_files`), which the web server loads.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import h3
import numpy as np
import numpy.typing as npt
import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon

from feeds.sim.city import City, build_city
from feeds.sim.gridworkers import grid_areas
from feeds.sim.places import ALL_PLACES
from geo.cells import cell_polygon
from geo.district import District, district_geojson, load_district
from geo.layer_files import ManifestEntry, write_manifest
from geo.layers import Geometry, Layer, OutlineLayer, PointLayer
from geo.measure import EARTH_RADIUS_M, geodesic_area_m2, polygon_parts
from geo.spatial import PointIndex

STREAM_URL_TEMPLATE: Final = "rtsp://video.citybrain.local/live/{camera_id}"
DEFAULT_BUILDINGS: Final = 40_000
DEFAULT_ENTERPRISES: Final = 6_000
RESIDENTS_TOTAL: Final = 1_100_000
OLD_TOWN: Final = (23.0330, 113.1140)
"""Centre of the old town (祖庙 – 岭南天地 – 通济桥), WGS-84 (lat, lon) degrees."""

INDUSTRIES: Final = {  # industry -> (name word, median employees)
    "ceramics": ("陶瓷", 80.0),
    "textiles": ("纺织", 60.0),
    "hardware": ("五金制品", 40.0),
    "logistics": ("物流", 30.0),
    "retail": ("商贸", 8.0),
    "catering": ("餐饮管理", 12.0),
}
_BRAND_CHARS: Final = "".join(
    dict.fromkeys(
        "宏达金丰嘉华顺捷福满盛兴利源鸿运恒泰永安新隆德信汇通万瑞和美长富佳乐东南粤海天祥康宁荣昌明辉创业广益双龙凯旋"
    )
)
_ZONE_ZH: Final = {
    "street": "道路",
    "square": "广场",
    "bridge": "桥面",
    "park": "公园",
    "station": "车站",
    "car_park": "停车场",
    "mall": "商圈",
}
_USES: Final = ("residential", "commercial", "industrial", "public")
_M_PER_DEG: Final = math.radians(1.0) * EARTH_RADIUS_M

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]
Progress = Callable[[str], None]
"""Called with the name of each step as it starts."""


def _rng(*parts: object) -> np.random.Generator:
    """A numpy generator seeded from a stable hash of ``parts`` (order-independent)."""
    text = "\x1f".join(str(p) for p in ("citybrain-layers", *parts)).encode()
    digest = hashlib.blake2b(text, digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def _km_from(lat: FloatArray, lon: FloatArray, at: tuple[float, float]) -> FloatArray:
    """Local flat-Earth distance in km (fine over a district)."""
    dy = (lat - at[0]) * _M_PER_DEG
    dx = (lon - at[1]) * _M_PER_DEG * math.cos(math.radians(at[0]))
    return np.asarray(np.hypot(dx, dy) / 1000.0)


def _sample_inside(
    rng: np.random.Generator, district: District, count: int
) -> tuple[FloatArray, FloatArray]:
    """``count`` points inside the outline: 25 % around the old town, 35 % around the
    named places (equal shares), 40 % anywhere."""
    places = [p for p in ALL_PLACES if p.weight > 0]
    p_lat = np.array([OLD_TOWN[0], *(p.lat for p in places)])
    p_lon = np.array([OLD_TOWN[1], *(p.lon for p in places)])
    p_sigma = np.array([1500.0, *(max(800.0, 4 * p.radius_m) for p in places)])
    p_share = np.array([0.25, *([0.35 / len(places)] * len(places)), 0.40])
    shapely.prepare(district.geometry)
    min_lon, min_lat, max_lon, max_lat = district.bbox
    m_per_deg_lon = _M_PER_DEG * math.cos(math.radians(OLD_TOWN[0]))
    lat_out: list[FloatArray] = []
    lon_out: list[FloatArray] = []
    have = 0
    while have < count:
        n = max(1024, 2 * (count - have))
        centre = rng.choice(p_share.size, size=n, p=p_share / p_share.sum())
        anywhere = centre == p_lat.size
        near = np.minimum(centre, p_lat.size - 1)
        lat = p_lat[near] + rng.normal(0.0, 1.0, n) * p_sigma[near] / _M_PER_DEG
        lon = p_lon[near] + rng.normal(0.0, 1.0, n) * p_sigma[near] / m_per_deg_lon
        lat[anywhere] = rng.uniform(min_lat, max_lat, int(anywhere.sum()))
        lon[anywhere] = rng.uniform(min_lon, max_lon, int(anywhere.sum()))
        inside = shapely.contains_xy(district.geometry, lon, lat)
        lat_out.append(lat[inside])
        lon_out.append(lon[inside])
        have += int(inside.sum())
    return np.concatenate(lat_out)[:count], np.concatenate(lon_out)[:count]


def _apportion(weights: FloatArray, total: int) -> FloatArray:
    """Integers proportional to ``weights`` adding up to exactly ``total`` (largest remainder)."""
    if total == 0 or weights.sum() <= 0:
        return np.zeros(weights.shape)
    share = weights / weights.sum() * total
    out: FloatArray = np.floor(share)
    rest = total - int(out.sum())
    order = np.argsort(-(share - out), kind="stable")
    out[order[:rest]] += 1.0
    return out


def generate_buildings(
    district: District,
    seed: int,
    count: int = DEFAULT_BUILDINGS,
    residents_total: int = RESIDENTS_TOTAL,
) -> PointLayer:
    """Simulated buildings; see the module doc. ``count`` >= 1, ``residents_total`` >= 0."""
    if count < 1 or residents_total < 0:
        raise ValueError(
            f"need count >= 1 and residents_total >= 0, got {count}, {residents_total}"
        )
    rng = _rng(seed, district.adcode, "buildings")
    lat, lon = _sample_inside(rng, district, count)
    old = np.exp(-((_km_from(lat, lon, OLD_TOWN) / 2.0) ** 2))  # 1 in the old town, 0 outside
    # Uses: the old town is residential and commercial; industry lies outside it.
    p_use = np.column_stack([0.72 - 0.1 * old, 0.10 + 0.15 * old, 0.14 * (1 - old), 0.04 + 0 * old])
    p_use /= p_use.sum(axis=1, keepdims=True)
    use = (rng.random(count)[:, None] > np.cumsum(p_use, axis=1)).sum(axis=1)
    median_m2 = np.array([600.0, 900.0, 2500.0, 1200.0])[use] * (1 - 0.65 * old)
    footprint = np.round(median_m2 * rng.lognormal(0.0, 0.45, count), 1)
    low, high = np.array([6, 3, 1, 2])[use], np.array([33, 20, 4, 8])[use]
    high = np.minimum(high, np.round(6 + 27 * (1 - old)).astype(np.int64))  # low-rise old town
    floors = rng.integers(np.minimum(low, high), high + 1)
    housing = np.where(use == 0, 1.0, np.where(use == 1, 0.15, 0.0))  # shops below flats
    residents = _apportion(footprint * floors * housing, residents_total)
    return PointLayer(
        id="buildings",
        kind="building",
        title="建筑 Buildings (simulated)",
        source=f"simulated, seed {seed}",
        ids=np.array([f"bld-{i:06d}" for i in range(1, count + 1)], dtype=object),
        lat=np.round(lat, 7),
        lon=np.round(lon, 7),
        numbers={
            "footprint_m2": footprint,
            "floors": floors.astype(np.float64),
            "residents": residents,
        },
        texts={"use": np.array([_USES[u] for u in use], dtype=object)},
    )


_CLUSTERS: Final = {  # industrial clusters, WGS-84 (lat, lon)
    "shiwan": (23.0110, 113.0845),  # 石湾: the ceramics town
    "nanzhuang": (22.9960, 113.0160),  # 南庄: ceramics
    "zhangcha": (23.0420, 113.0650),  # 张槎: knitting and textiles
}


def _industry_weights(use: ObjectArray, lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Per point, the probability of each industry in :data:`INDUSTRIES` order."""
    near = {k: np.exp(-((_km_from(lat, lon, at) / 2.5) ** 2)) for k, at in _CLUSTERS.items()}
    ceramics = near["shiwan"] + near["nanzhuang"]
    one = np.ones(lat.shape)
    # columns: ceramics, textiles, hardware, logistics, retail, catering
    industrial = [
        1 + 6 * ceramics,
        1 + 6 * near["zhangcha"],
        1.5 * one,
        1.2 * one,
        0 * one,
        0 * one,
    ]
    commercial = [0.3 + near["shiwan"], 0.2 * one, 0.3 * one, 0.8 * one, 3 * one, 2.5 * one]
    other = [0 * one, 0 * one, 0 * one, 0 * one, 2 * one, 1.5 * one]
    w = np.where(
        (use == "industrial")[:, None],
        np.column_stack(industrial),
        np.where(
            (use == "commercial")[:, None], np.column_stack(commercial), np.column_stack(other)
        ),
    )
    return np.asarray(w / w.sum(axis=1, keepdims=True))


def generate_enterprises(
    buildings: PointLayer, seed: int, count: int = DEFAULT_ENTERPRISES
) -> PointLayer:
    """Simulated enterprises, each in a commercial, industrial or residential building."""
    if count < 0:
        raise ValueError(f"need count >= 0, got {count}")
    rng = _rng(seed, "enterprises")
    use = buildings.texts["use"]
    weight = np.select(
        [use == "commercial", use == "industrial", use == "residential"], [5.0, 4.0, 0.2], 0.0
    )
    weight = weight if weight.sum() > 0 else np.ones(buildings.count)
    at = rng.choice(buildings.count, size=count, p=weight / weight.sum())
    p = _industry_weights(use[at], buildings.lat[at], buildings.lon[at])
    pick = (rng.random(count)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    industries = list(INDUSTRIES)
    industry = [industries[min(i, len(industries) - 1)] for i in pick]
    median = np.array([INDUSTRIES[k][1] for k in industry])
    employees = np.maximum(1, np.round(median * rng.lognormal(0.0, 0.8, count)))
    return PointLayer(
        id="enterprises",
        kind="enterprise",
        title="企业 Enterprises (simulated)",
        source=f"simulated, seed {seed}",
        ids=np.array([f"ent-{i:05d}" for i in range(1, count + 1)], dtype=object),
        lat=buildings.lat[at],
        lon=buildings.lon[at],
        numbers={"employees": employees},
        texts={
            "name": np.array(_names(rng, industry), dtype=object),
            "industry": np.array(industry, dtype=object),
            "building": buildings.ids[at],
        },
    )


def _names(rng: np.random.Generator, industry: list[str]) -> list[str]:
    """Unique ``佛山{brand}{word}有限公司`` names: brands drawn without repetition per industry."""
    pairs = [a + b for a in _BRAND_CHARS for b in _BRAND_CHARS if a != b]
    brands = {k: [pairs[i] for i in rng.permutation(len(pairs))] for k in INDUSTRIES}
    used = dict.fromkeys(INDUSTRIES, 0)
    names = []
    for k in industry:
        n, used[k] = used[k], used[k] + 1
        # Past the ~2,400 brands of an industry, numbered ones keep the names unique.
        prefix = "佛山" if n < len(pairs) else f"佛山{n // len(pairs) + 1}号"
        names.append(f"{prefix}{brands[k][n % len(pairs)]}{INDUSTRIES[k][0]}有限公司")
    return names


def camera_registry(city: City, stream_url_template: str = STREAM_URL_TEMPLATE) -> PointLayer:
    """The simulator's cameras as a layer: same ids and WGS-84 positions as ``city``.

    ``stream_url_template`` must contain ``{camera_id}``.
    """
    if "{camera_id}" not in stream_url_template:
        raise ValueError(f"stream URL template needs {{camera_id}}: {stream_url_template!r}")
    names = {p.key: p.name for p in city.places}
    cams = city.cameras

    labels = []
    for c in cams:
        if c.place is not None:
            where = names.get(c.place, c.place)
        else:
            nearest = min(city.places, key=lambda p: (p.lat - c.lat) ** 2 + (p.lon - c.lon) ** 2)
            where = f"{nearest.name}周边"
        labels.append(f"{where}·{_ZONE_ZH.get(c.zone, c.zone)} {c.id}")
    return PointLayer(
        id="cameras",
        kind="camera",
        title="视频监控 Cameras (simulated)",
        source=f"simulator cameras, seed {city.seed}",
        ids=np.array([c.id for c in cams], dtype=object),
        lat=np.array([c.lat for c in cams]),
        lon=np.array([c.lon for c in cams]),
        numbers={"area_m2": np.array([c.area_m2 for c in cams])},
        texts={
            "name": np.array(labels, dtype=object),
            "zone": np.array([c.zone for c in cams], dtype=object),
            "place": np.array([c.place for c in cams], dtype=object),
            "stream_url": np.array(
                [stream_url_template.format(camera_id=c.id) for c in cams], dtype=object
            ),
        },
    )


@dataclass(frozen=True, slots=True)
class GridArea:
    """A synthetic 网格: ``cell`` the H3 cell it was cut from; ``geometry`` WGS-84."""

    id: str
    name: str
    cell: str
    geometry: Polygon | MultiPolygon
    area_m2: float


def grid_outlines(district: District) -> tuple[GridArea, ...]:
    """The grids of :func:`feeds.sim.gridworkers.grid_areas` (same ids and cells as the grid
    workers), each H3 cell clipped to the outline."""
    out = []
    for grid, cell in grid_areas(district):
        parts = polygon_parts(shapely.intersection(cell_polygon(cell), district.geometry))
        shape = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        out.append(GridArea(grid, f"网格 {grid}", cell, shape, round(geodesic_area_m2(shape), 1)))
    return tuple(out)


def grid_layer(grids: tuple[GridArea, ...], buildings: PointLayer | None = None) -> OutlineLayer:
    """The grids as an outline layer; with ``buildings``, their counts and residents."""
    index = PointIndex.build(buildings.lat, buildings.lon) if buildings is not None else None
    props = []
    for g in grids:
        p: dict[str, object] = {
            "id": g.id,
            "name": g.name,
            "h3": g.cell,
            "h3_resolution": h3.get_resolution(g.cell),
            "area_m2": g.area_m2,
            "synthetic": True,
        }
        if buildings is not None and index is not None:
            inside = index.within_polygon(g.geometry)
            p |= {
                "buildings": int(inside.size),
                "residents": int(buildings.total("residents", inside)),
            }
        props.append(p)
    return OutlineLayer(
        "grids",
        "grid",
        "网格 Grid areas (synthetic)",
        "synthetic: H3 cells clipped to the district",
        tuple(g.geometry for g in grids),
        tuple(props),
    )


def district_layer(district: District) -> OutlineLayer:
    props = district_geojson(district)["features"][0]["properties"]
    return OutlineLayer(
        "district",
        "district",
        f"{district.name} outline",
        "geo/data (GCJ-02, converted)",
        (district.geometry,),
        (props,),
    )


@dataclass(frozen=True, slots=True)
class LayerGenConfig:
    """What to generate. ``cameras``/``sensors`` must be the simulator's (``sim`` settings)."""

    seed: int = 42
    buildings: int = DEFAULT_BUILDINGS
    enterprises: int = DEFAULT_ENTERPRISES
    residents_total: int = RESIDENTS_TOTAL
    cameras: int = 300
    sensors: int = 200
    stream_url_template: str = STREAM_URL_TEMPLATE


def build_layers(
    config: LayerGenConfig, district: District | None = None, progress: Progress | None = None
) -> list[Layer]:
    """All generated layers, in memory (pure, deterministic)."""
    step = progress or (lambda _name: None)
    district = district or load_district()
    step("buildings")
    buildings = generate_buildings(district, config.seed, config.buildings, config.residents_total)
    step("enterprises")
    enterprises = generate_enterprises(buildings, config.seed, config.enterprises)
    step("cameras")
    city = build_city(config.seed, district, config.cameras, config.sensors)
    cameras = camera_registry(city, config.stream_url_template)
    step("grids")
    grids = grid_layer(grid_outlines(district), buildings)
    return [buildings, enterprises, cameras, grids, district_layer(district)]


def generate_layers(
    out: Path, config: LayerGenConfig, progress: Progress | None = None
) -> list[ManifestEntry]:
    """Generate every layer into directory ``out`` (created): GeoJSON files and manifest.json."""
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda _name: None)
    entries = []
    for layer in build_layers(config, progress=progress):
        step(f"writing {layer.id}")
        name = f"{layer.id}.geojson"
        (out / name).write_bytes(orjson.dumps(layer.geojson()))
        geometry: Geometry = "point" if isinstance(layer, PointLayer) else "outline"
        entries.append(
            ManifestEntry(
                layer.id, layer.kind, layer.title, layer.source, layer.count, name, geometry
            )
        )
    write_manifest(
        out,
        entries,
        generator="citybrain sim layers",
        district=load_district().adcode,
        synthetic=True,
        seed=config.seed,
        buildings=config.buildings,
        enterprises=config.enterprises,
        residents_total=config.residents_total,
        cameras=config.cameras,
        stream_url_template=config.stream_url_template,
    )
    return entries
