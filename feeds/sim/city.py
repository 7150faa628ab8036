"""A reproducible, Chancheng-like city: cameras and sensors inside the real outline.

:func:`build_city` places devices inside a :class:`geo.district.District`
(WGS-84). Cameras cluster around busy named places with a density fall-off
(half-normal distance from the place, scale ``Place.radius_m``), the rest are
street cameras spread over the district. Two cameras watch Tongji Bridge and
one the car park of the scripted incident.

A few devices report in the coordinate systems real Chinese feeds use: every
camera with ``index % 20 == 7`` reports GCJ-02, every sensor with
``index % 20 == 11`` reports BD-09. ``lat``/``lon`` are always the true WGS-84
position; ``reported_lat``/``reported_lon`` are what goes on the wire, in ``crs``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Final, Literal

from feeds.sim.places import ALL_PLACES, TONGJI_BRIDGE, TONGJI_CAR_PARK, Place, ZoneKind
from geo import cells
from geo.crs import CRS, from_wgs84
from geo.district import District
from geo.measure import distance_m, offset_m

SensorType = Literal["smoke", "water_level", "ebike_charging", "gas", "noise", "temperature"]

STREAM_URL_BASE: Final = "rtsp://video.local/"
BRIDGE_CELL_RESOLUTION: Final = 9
"""Other cameras are kept out of the bridge's H3 cell at this resolution, so the
cell's density is the bridge's own walkable-area density."""


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """Per-type unit and value ranges: normal operation and device alarm."""

    type: SensorType
    unit: str
    normal_min: float
    normal_max: float
    alarm_min: float
    alarm_max: float


SENSOR_SPECS: Final[dict[SensorType, SensorSpec]] = {
    "smoke": SensorSpec("smoke", "%obs/m", 0.0, 0.05, 0.5, 2.5),
    "water_level": SensorSpec("water_level", "m", 0.02, 0.25, 0.45, 0.9),
    "ebike_charging": SensorSpec("ebike_charging", "°C", 24.0, 45.0, 70.0, 95.0),
    "gas": SensorSpec("gas", "%LEL", 0.0, 4.0, 20.0, 60.0),
    "noise": SensorSpec("noise", "dB(A)", 45.0, 72.0, 85.0, 100.0),
    "temperature": SensorSpec("temperature", "°C", 18.0, 34.0, 60.0, 90.0),
}

_SENSOR_WEIGHTS: Final[tuple[tuple[SensorType, float], ...]] = (
    ("smoke", 0.25),
    ("ebike_charging", 0.2),
    ("water_level", 0.15),
    ("gas", 0.15),
    ("noise", 0.15),
    ("temperature", 0.1),
)

# Typical peak-hour crowd level per zone (persons/m²) and ground area range (m²).
_ZONE_DENSITY: Final[dict[ZoneKind, float]] = {
    "street": 0.3,
    "square": 0.6,
    "bridge": 0.4,
    "park": 0.25,
    "station": 0.7,
    "car_park": 0.08,
    "mall": 0.55,
}
_ZONE_AREA: Final[dict[ZoneKind, tuple[float, float]]] = {
    "street": (150.0, 600.0),
    "square": (600.0, 1500.0),
    "bridge": (300.0, 600.0),
    "park": (800.0, 1500.0),
    "station": (500.0, 1500.0),
    "car_park": (800.0, 1500.0),
    "mall": (400.0, 1200.0),
}

_PLACE_SHARE: Final = 0.7
"""Share of the non-dedicated cameras that cluster around named places."""


@dataclass(frozen=True, slots=True)
class Camera:
    """A crowd-counting camera.

    ``lat``/``lon`` true WGS-84 degrees; ``reported_lat``/``reported_lon`` the same
    point in ``crs``; ``area_m2`` the walkable ground area the count covers (m²);
    ``base_density`` its typical peak-hour density (persons/m²).
    """

    id: str
    lat: float
    lon: float
    area_m2: float
    zone: ZoneKind
    stream_url: str
    crs: CRS
    reported_lat: float
    reported_lon: float
    place: str | None
    base_density: float
    bridge_distance_m: float


@dataclass(frozen=True, slots=True)
class Sensor:
    """An IoT sensor; coordinates as for :class:`Camera`; values in ``unit``."""

    id: str
    lat: float
    lon: float
    type: SensorType
    unit: str
    normal_min: float
    normal_max: float
    alarm_min: float
    alarm_max: float
    crs: CRS
    reported_lat: float
    reported_lon: float
    bridge_distance_m: float


@dataclass(frozen=True, slots=True)
class City:
    """The simulated city: named places and devices, all inside ``district_adcode``."""

    seed: int
    district_adcode: str
    district: District = field(repr=False, compare=False)
    places: tuple[Place, ...]
    cameras: tuple[Camera, ...]
    sensors: tuple[Sensor, ...]
    bridge: Place
    car_park: Place
    bridge_camera_ids: tuple[str, ...]
    car_park_camera_ids: tuple[str, ...]

    def camera(self, camera_id: str) -> Camera:
        """The camera ``camera_id``; KeyError if there is none."""
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)


def _reported(lat: float, lon: float, crs: CRS) -> tuple[float, float]:
    r_lat, r_lon = from_wgs84(lat, lon, crs)
    return round(r_lat, 7), round(r_lon, 7)


def _uniform_point(rng: random.Random, district: District) -> tuple[float, float]:
    min_lon, min_lat, max_lon, max_lat = district.bbox
    for _ in range(10_000):
        lat = rng.uniform(min_lat, max_lat)
        lon = rng.uniform(min_lon, max_lon)
        if district.contains(lat, lon):
            return lat, lon
    raise ValueError(f"could not sample a point inside district {district.adcode}")


def _near(
    rng: random.Random, district: District, lat: float, lon: float, scale_m: float
) -> tuple[float, float, float]:
    """A point at half-normal distance (scale ``scale_m``) from ``(lat, lon)``, inside."""
    for _ in range(50):
        r = abs(rng.gauss(0.0, scale_m))
        a = rng.uniform(0.0, 2.0 * math.pi)
        p_lat, p_lon = offset_m(lat, lon, r * math.cos(a), r * math.sin(a))
        if district.contains(p_lat, p_lon):
            return p_lat, p_lon, r
    return lat, lon, 0.0


def _camera(
    index: int,
    lat: float,
    lon: float,
    zone: ZoneKind,
    area_m2: float,
    base_density: float,
    place: str | None,
    crs: CRS,
) -> Camera:
    cam_id = f"cam-{index:04d}"
    r_lat, r_lon = _reported(lat, lon, crs)
    return Camera(
        id=cam_id,
        lat=lat,
        lon=lon,
        area_m2=round(area_m2, 1),
        zone=zone,
        stream_url=f"{STREAM_URL_BASE}{cam_id}",
        crs=crs,
        reported_lat=r_lat,
        reported_lon=r_lon,
        place=place,
        base_density=round(base_density, 4),
        bridge_distance_m=distance_m(lat, lon, TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon),
    )


def _dedicated_cameras(count: int) -> list[Camera]:
    """Bridge deck, bridge north approach, car park (as many as ``count`` allows)."""
    n_lat, n_lon = offset_m(TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon, 0.0, 20.0)
    specs: list[tuple[float, float, ZoneKind, float, float, str]] = [
        (TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon, "bridge", 320.0, 0.4, TONGJI_BRIDGE.key),
        (n_lat, n_lon, "bridge", 450.0, 0.4, TONGJI_BRIDGE.key),
        (TONGJI_CAR_PARK.lat, TONGJI_CAR_PARK.lon, "car_park", 1200.0, 0.08, TONGJI_CAR_PARK.key),
    ]
    return [
        _camera(i + 1, lat, lon, zone, area, dens, place, "wgs84")
        for i, (lat, lon, zone, area, dens, place) in enumerate(specs[:count])
    ]


def build_city(seed: int, district: District, cameras: int, sensors: int) -> City:
    """Build the city for ``seed`` inside ``district`` (WGS-84).

    Deterministic: the same arguments give an equal :class:`City`. ``cameras`` >= 1
    and ``sensors`` >= 0. The scripted incident's bridge and car park must lie in
    the district (they do for Chancheng, adcode 440604), else ValueError.
    """
    if cameras < 1:
        raise ValueError(f"need at least one camera, got {cameras}")
    if sensors < 0:
        raise ValueError(f"negative sensor count {sensors}")
    for fixed in (TONGJI_BRIDGE, TONGJI_CAR_PARK):
        if not district.contains(fixed.lat, fixed.lon):
            raise ValueError(f"{fixed.name} is not inside district {district.adcode}")
    places = tuple(p for p in ALL_PLACES if district.contains(p.lat, p.lon))
    attractors = [p for p in places if p.weight > 0]
    rng = random.Random(f"citybrain-city:{seed}:{district.adcode}")

    bridge_cell = cells.cell_of(TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon, BRIDGE_CELL_RESOLUTION)
    cams = _dedicated_cameras(cameras)
    bridge_ids = tuple(c.id for c in cams if c.zone == "bridge")
    car_park_ids = tuple(c.id for c in cams if c.zone == "car_park")

    weights = [p.weight for p in attractors]
    while len(cams) < cameras:
        index = len(cams) + 1
        place: Place | None = None
        if attractors and rng.random() < _PLACE_SHARE:
            place = rng.choices(attractors, weights=weights)[0]
            lat, lon, r = _near(rng, district, place.lat, place.lon, place.radius_m)
            falloff = math.exp(-0.5 * (r / place.radius_m) ** 2)
            zone: ZoneKind = place.kind if r < 0.5 * place.radius_m else "street"
            if zone == "bridge":
                zone = "street"  # only the two dedicated cameras watch the bridge deck
        else:
            lat, lon = _uniform_point(rng, district)
            falloff = 0.3
            zone = "street"
        if cells.cell_of(lat, lon, BRIDGE_CELL_RESOLUTION) == bridge_cell:
            continue  # keep the bridge cell's walkable area the bridge's own
        area_lo, area_hi = _ZONE_AREA[zone]
        density = _ZONE_DENSITY[zone] * (0.6 + 0.6 * falloff) * rng.uniform(0.8, 1.15)
        crs: CRS = "gcj02" if index % 20 == 7 else "wgs84"
        cams.append(
            _camera(
                index,
                lat,
                lon,
                zone,
                rng.uniform(area_lo, area_hi),
                min(density, 0.95),
                place.key if place else None,
                crs,
            )
        )

    sens = _build_sensors(rng, district, sensors, cams)
    return City(
        seed=seed,
        district_adcode=district.adcode,
        district=district,
        places=places,
        cameras=tuple(cams),
        sensors=tuple(sens),
        bridge=TONGJI_BRIDGE,
        car_park=TONGJI_CAR_PARK,
        bridge_camera_ids=bridge_ids,
        car_park_camera_ids=car_park_ids,
    )


def _sensor(index: int, lat: float, lon: float, spec: SensorSpec, crs: CRS) -> Sensor:
    r_lat, r_lon = _reported(lat, lon, crs)
    return Sensor(
        id=f"sen-{index:04d}",
        lat=lat,
        lon=lon,
        type=spec.type,
        unit=spec.unit,
        normal_min=spec.normal_min,
        normal_max=spec.normal_max,
        alarm_min=spec.alarm_min,
        alarm_max=spec.alarm_max,
        crs=crs,
        reported_lat=r_lat,
        reported_lon=r_lon,
        bridge_distance_m=distance_m(lat, lon, TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon),
    )


def _build_sensors(
    rng: random.Random, district: District, count: int, cams: list[Camera]
) -> list[Sensor]:
    """Sensor 1 is a noise meter at the bridge; the rest near cameras or anywhere."""
    out: list[Sensor] = []
    if count >= 1:
        s_lat, s_lon = offset_m(TONGJI_BRIDGE.lat, TONGJI_BRIDGE.lon, 12.0, -8.0)
        out.append(_sensor(1, s_lat, s_lon, SENSOR_SPECS["noise"], "wgs84"))
    types = [t for t, _ in _SENSOR_WEIGHTS]
    weights = [w for _, w in _SENSOR_WEIGHTS]
    while len(out) < count:
        index = len(out) + 1
        spec = SENSOR_SPECS[rng.choices(types, weights=weights)[0]]
        if rng.random() < 0.6:
            anchor = rng.choice(cams)
            lat, lon, _ = _near(rng, district, anchor.lat, anchor.lon, 100.0)
        else:
            lat, lon = _uniform_point(rng, district)
        crs: CRS = "bd09" if index % 20 == 11 else "wgs84"
        out.append(_sensor(index, lat, lon, spec, crs))
    return out
