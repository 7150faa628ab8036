"""Crowd levels and risk of many cells at once (pure): alerts/crowd/los.py and alerts/crowd/risk.py,
vectorised.

Contract: element by element, :func:`los_codes` is :meth:`alerts.crowd.los.LosBands.classify`,
:func:`still_codes` is :meth:`alerts.crowd.los.StillBands.classify` and :func:`risk_columns`
is :func:`alerts.crowd.risk.risk` (components before rounding equal to rounding; the
rounded score and factors within 0.001). Levels come as small integer codes (index into
:data:`LOS_LETTERS` / :data:`STILL_LEVELS`, -1 where there is no value), turned into
letters only at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from alerts.crowd.baseline import anomaly_component
from alerts.crowd.los import LOS_LETTERS, LosBands, StillBands
from alerts.crowd.risk import (
    ANOMALY_WEIGHT,
    DENSITY_ANCHORS,
    HOTLINE_MAX,
    HOTLINE_SCALE,
    RISE_MAX,
    RISE_SCALE,
    SENSOR_ALARM_WEIGHT,
    SENSOR_CRITICAL_WEIGHT,
)
from streams.pipeline.columnar.camera_columns import Floats, Int64s

Codes = npt.NDArray[np.int8]
STILL_LEVELS: tuple[str, ...] = ("free", "busy", "critical", "dangerous")
#: The components of the risk score, in the order alerts/crowd/risk.py multiplies them.
RISK_FACTORS: tuple[str, ...] = ("density", "rise", "anomaly", "sensor", "hotline")
_X = np.array([x for x, _ in DENSITY_ANCHORS])
_Y = np.array([y for _, y in DENSITY_ANCHORS])


def los_codes(bands: LosBands, values: Floats) -> Codes:
    """LOS of each value as an index into :data:`LOS_LETTERS`; -1 for NaN (no value).
    Values must be ≥ 0 where present (as the scalar ``classify`` requires)."""
    side: Literal["left", "right"] = "left" if bands.inclusive else "right"
    codes: Codes = np.searchsorted(np.array(bands.limits), values, side=side).astype(np.int8)
    codes[np.isnan(values)] = -1
    return codes


def still_codes(bands: StillBands, density: Floats, static: npt.NDArray[np.bool_]) -> Codes:
    """Still's level of each density (index into :data:`STILL_LEVELS`), ``static``
    marking standing crowds; -1 for NaN."""
    critical = np.where(static, bands.critical_static, bands.critical_moving)
    codes: Codes = np.where(
        density < bands.free_flow,
        0,
        np.where(density < critical, 1, np.where(density <= bands.dangerous, 2, 3)),
    ).astype(np.int8)
    codes[np.isnan(density)] = -1
    return codes


def letters(codes: Codes, names: tuple[str, ...] = LOS_LETTERS) -> list[str | None]:
    """Codes back to their names (None for -1), for the wire."""
    return [names[c] if c >= 0 else None for c in codes.tolist()]


@dataclass(frozen=True, slots=True)
class RiskColumns:
    """Per cell: the score in [0, 1] and its components (unrounded; round at the edge,
    3 decimals, as :class:`alerts.crowd.risk.Risk` holds them)."""

    score: Floats
    density: Floats
    rise: Floats
    anomaly: Floats
    sensor: Floats
    hotline: Floats


def risk_columns(
    density: Floats,
    trend: Floats,
    anomaly_z: Floats,
    sensor_alarms: Int64s,
    critical_alarms: Int64s,
    tickets: Int64s,
) -> RiskColumns:
    """:func:`alerts.crowd.risk.risk` of each cell; NaN stands for None (no live camera,
    no trend yet, no baseline)."""
    d = np.nan_to_num(density, nan=0.0)
    density_f = np.where(d > 0, np.interp(d, _X, _Y), 0.0)
    t = np.nan_to_num(trend, nan=0.0)
    rise_f = np.where(t > 0, RISE_MAX * (1.0 - np.exp(-np.maximum(t, 0.0) / RISE_SCALE)), 0.0)
    present = ~np.isnan(anomaly_z)
    anomaly_f = np.zeros(len(anomaly_z))
    if present.any():  # few cells have a baseline worth a z: the scalar function, exactly
        anomaly_f[present] = [
            ANOMALY_WEIGHT * anomaly_component(z) for z in anomaly_z[present].tolist()
        ]
    sensor_f = np.where(
        critical_alarms > 0,
        SENSOR_CRITICAL_WEIGHT,
        np.where(sensor_alarms > 0, SENSOR_ALARM_WEIGHT, 0.0),
    )
    hotline_f = HOTLINE_MAX * (1.0 - np.exp(-np.maximum(tickets, 0) / HOTLINE_SCALE))
    keep = (1.0 - density_f) * (1.0 - rise_f) * (1.0 - anomaly_f)
    keep = keep * (1.0 - sensor_f) * (1.0 - hotline_f)
    return RiskColumns(1.0 - keep, density_f, rise_f, anomaly_f, sensor_f, hotline_f)
