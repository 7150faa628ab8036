"""Coordinate reference systems used by Chinese map providers.

Three systems appear in feeds from Chinese cities:

* ``wgs84``: WGS-84 longitude/latitude, what GPS receivers, OSM and H3 use.
* ``gcj02``: the GCJ-02 "Mars" datum of the national surveying bureau (Amap,
  Tencent, Google Maps in mainland China). A non-linear obfuscation of WGS-84
  that moves points by a few hundred metres (about 600 m at Foshan).
* ``bd09``: Baidu's BD-09, a further rotation and shift of GCJ-02.

Every function takes and returns ``(lat, lon)`` in degrees, latitude first.
Outside mainland China (the usual ``out_of_china`` box) GCJ-02 equals WGS-84;
BD-09's own shift is applied everywhere, as Baidu's published formula does.

The forward directions (WGS-84 to GCJ-02, GCJ-02 to BD-09) are the published
closed-form formulas. The inverse directions have no closed form: they are
solved by fixed-point iteration on the forward formula until the forward
image matches the input to 1e-10 degrees (about 0.01 mm), so a round trip
is exact to far better than the 0.5 m the pipeline requires.

The ``*_array`` variants do the same element-wise on numpy arrays of equal
shape and are the ones to use for polygons and batches.
"""

from __future__ import annotations

import math
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

CRS = Literal["wgs84", "gcj02", "bd09"]
"""Names of the supported coordinate systems, as they appear in the ``crs`` field."""

CRS_NAMES: Final[frozenset[str]] = frozenset(get_args(CRS))

FloatArray = npt.NDArray[np.float64]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A: Final = 6378245.0
_EE: Final = 0.00669342162296594323
# Baidu's constant.
_X_PI: Final = math.pi * 3000.0 / 180.0

# The box commonly used to decide whether the GCJ-02 offset applies (degrees).
_CHINA_MIN_LON: Final = 72.004
_CHINA_MAX_LON: Final = 137.8347
_CHINA_MIN_LAT: Final = 0.8293
_CHINA_MAX_LAT: Final = 55.8271

_INVERSE_TOLERANCE_DEG: Final = 1e-10
_INVERSE_MAX_ITERATIONS: Final = 30


def out_of_china(lat: float, lon: float) -> bool:
    """True when ``(lat, lon)`` (degrees) lies outside the box where GCJ-02 applies."""
    return not (_CHINA_MIN_LON <= lon <= _CHINA_MAX_LON and _CHINA_MIN_LAT <= lat <= _CHINA_MAX_LAT)


def _gcj_delta(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84 at WGS-84 ``(lat, lon)``, in degrees ``(dlat, dlon)``."""
    x = lon - 105.0
    y = lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += common
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (
        (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += common
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (
        (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 ``(lat, lon)`` degrees to GCJ-02 ``(lat, lon)`` degrees (closed form)."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_delta(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 ``(lat, lon)`` degrees to WGS-84 ``(lat, lon)`` degrees.

    Iterative inverse of :func:`wgs84_to_gcj02`: the result maps forward onto the
    input within 1e-10 degrees. Identity outside mainland China.
    """
    if out_of_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_INVERSE_MAX_ITERATIONS):
        dlat, dlon = _gcj_delta(w_lat, w_lon)
        err_lat = w_lat + dlat - lat
        err_lon = w_lon + dlon - lon
        w_lat -= err_lat
        w_lon -= err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
    return w_lat, w_lon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 ``(lat, lon)`` degrees to BD-09 ``(lat, lon)`` degrees (Baidu's formula)."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lon: float) -> tuple[float, float]:
    """Baidu's published closed-form approximate inverse (error up to a few metres)."""
    x = lon - 0.0065
    y = lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 ``(lat, lon)`` degrees to GCJ-02 ``(lat, lon)`` degrees.

    Starts from Baidu's approximate inverse and refines it by fixed-point
    iteration on :func:`gcj02_to_bd09` to 1e-10 degrees.
    """
    g_lat, g_lon = _bd09_to_gcj02_approx(lat, lon)
    for _ in range(_INVERSE_MAX_ITERATIONS):
        b_lat, b_lon = gcj02_to_bd09(g_lat, g_lon)
        err_lat = b_lat - lat
        err_lon = b_lon - lon
        g_lat -= err_lat
        g_lon -= err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
    return g_lat, g_lon


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 ``(lat, lon)`` degrees to BD-09 ``(lat, lon)`` degrees."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """BD-09 ``(lat, lon)`` degrees to WGS-84 ``(lat, lon)`` degrees."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def to_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """Convert ``(lat, lon)`` degrees given in ``crs`` to WGS-84 ``(lat, lon)`` degrees.

    ``crs`` is one of ``"wgs84"``, ``"gcj02"``, ``"bd09"`` (exact, lower case);
    anything else raises :class:`ValueError`.
    """
    if crs == "wgs84":
        return lat, lon
    if crs == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    if crs == "bd09":
        return bd09_to_wgs84(lat, lon)
    raise ValueError(f"unknown crs {crs!r}; expected one of {sorted(CRS_NAMES)}")


def from_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    """Convert WGS-84 ``(lat, lon)`` degrees to ``crs``; unknown ``crs`` raises ValueError."""
    if crs == "wgs84":
        return lat, lon
    if crs == "gcj02":
        return wgs84_to_gcj02(lat, lon)
    if crs == "bd09":
        return wgs84_to_bd09(lat, lon)
    raise ValueError(f"unknown crs {crs!r}; expected one of {sorted(CRS_NAMES)}")


# ---------------------------------------------------------------------------
# numpy variants: same formulas, element-wise over arrays of equal shape.


def _as_arrays(lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    if lat_a.shape != lon_a.shape:
        raise ValueError(f"lat and lon shapes differ: {lat_a.shape} != {lon_a.shape}")
    return lat_a, lon_a


def out_of_china_array(lat: FloatArray, lon: FloatArray) -> npt.NDArray[np.bool_]:
    """Element-wise :func:`out_of_china` (degrees)."""
    lat_a, lon_a = _as_arrays(lat, lon)
    inside = (
        (lon_a >= _CHINA_MIN_LON)
        & (lon_a <= _CHINA_MAX_LON)
        & (lat_a >= _CHINA_MIN_LAT)
        & (lat_a <= _CHINA_MAX_LAT)
    )
    return np.logical_not(inside)


def _gcj_delta_array(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * pi)
    return dlat, dlon


def wgs84_to_gcj02_array(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Element-wise :func:`wgs84_to_gcj02`; returns new ``(lat, lon)`` arrays in degrees."""
    lat_a, lon_a = _as_arrays(lat, lon)
    dlat, dlon = _gcj_delta_array(lat_a, lon_a)
    outside = out_of_china_array(lat_a, lon_a)
    return (
        np.where(outside, lat_a, lat_a + dlat),
        np.where(outside, lon_a, lon_a + dlon),
    )


def gcj02_to_wgs84_array(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Element-wise :func:`gcj02_to_wgs84` (iterative, < 1e-10 degrees forward error)."""
    lat_a, lon_a = _as_arrays(lat, lon)
    outside = out_of_china_array(lat_a, lon_a)
    w_lat = lat_a.copy()
    w_lon = lon_a.copy()
    for _ in range(_INVERSE_MAX_ITERATIONS):
        dlat, dlon = _gcj_delta_array(w_lat, w_lon)
        err_lat = w_lat + dlat - lat_a
        err_lon = w_lon + dlon - lon_a
        w_lat = w_lat - err_lat
        w_lon = w_lon - err_lon
        if lat_a.size == 0 or (
            float(np.max(np.abs(err_lat))) < _INVERSE_TOLERANCE_DEG
            and float(np.max(np.abs(err_lon))) < _INVERSE_TOLERANCE_DEG
        ):
            break
    return np.where(outside, lat_a, w_lat), np.where(outside, lon_a, w_lon)


def gcj02_to_bd09_array(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Element-wise :func:`gcj02_to_bd09` (degrees)."""
    lat_a, lon_a = _as_arrays(lat, lon)
    z = np.sqrt(lon_a * lon_a + lat_a * lat_a) + 0.00002 * np.sin(lat_a * _X_PI)
    theta = np.arctan2(lat_a, lon_a) + 0.000003 * np.cos(lon_a * _X_PI)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065


def bd09_to_gcj02_array(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Element-wise :func:`bd09_to_gcj02` (iterative, degrees)."""
    lat_a, lon_a = _as_arrays(lat, lon)
    x = lon_a - 0.0065
    y = lat_a - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    g_lat = z * np.sin(theta)
    g_lon = z * np.cos(theta)
    for _ in range(_INVERSE_MAX_ITERATIONS):
        b_lat, b_lon = gcj02_to_bd09_array(g_lat, g_lon)
        err_lat = b_lat - lat_a
        err_lon = b_lon - lon_a
        g_lat = g_lat - err_lat
        g_lon = g_lon - err_lon
        if lat_a.size == 0 or (
            float(np.max(np.abs(err_lat))) < _INVERSE_TOLERANCE_DEG
            and float(np.max(np.abs(err_lon))) < _INVERSE_TOLERANCE_DEG
        ):
            break
    return g_lat, g_lon


def wgs84_to_bd09_array(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Element-wise :func:`wgs84_to_bd09` (degrees)."""
    return gcj02_to_bd09_array(*wgs84_to_gcj02_array(lat, lon))


def bd09_to_wgs84_array(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Element-wise :func:`bd09_to_wgs84` (degrees)."""
    return gcj02_to_wgs84_array(*bd09_to_gcj02_array(lat, lon))


def to_wgs84_array(lat: FloatArray, lon: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    """Element-wise :func:`to_wgs84` for one ``crs``; unknown ``crs`` raises ValueError."""
    if crs == "wgs84":
        lat_a, lon_a = _as_arrays(lat, lon)
        return lat_a.copy(), lon_a.copy()
    if crs == "gcj02":
        return gcj02_to_wgs84_array(lat, lon)
    if crs == "bd09":
        return bd09_to_wgs84_array(lat, lon)
    raise ValueError(f"unknown crs {crs!r}; expected one of {sorted(CRS_NAMES)}")
