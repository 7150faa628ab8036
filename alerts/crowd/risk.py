"""The risk score: one monotone formula in [0, 1], per cell and per zone.

    risk = 1 − (1 − d)·(1 − r)·(1 − a)·(1 − s)·(1 − h)

* ``d`` — crowd: piecewise-linear, non-decreasing in the walkable density
  (persons/m²) through the Fruin walkway and Still anchors in
  :data:`DENSITY_ANCHORS`: 0 when empty, 0.6 at the LOS E/F limit (2.15/m²),
  0.85 at Still's critical 4/m², 1 at 5/m² and above.
* ``r`` — rate of rise: ``RISE_MAX·(1 − exp(−max(trend, 0)/RISE_SCALE))`` for a
  density trend in persons/m² per minute (Still: watch the rate of rise).
* ``a`` — anomaly: ``ANOMALY_WEIGHT·anomaly_component(z)`` for the largest
  z-score against the hour-of-week baselines (0 until a baseline exists).
* ``s`` — sensors: :data:`SENSOR_CRITICAL_WEIGHT` with a fresh alarm of a
  life-safety type (smoke, gas, e-bike charging), :data:`SENSOR_ALARM_WEIGHT`
  with any other alarm, else 0.
* ``h`` — hotline: ``HOTLINE_MAX·(1 − exp(−n/HOTLINE_SCALE))`` for ``n`` fresh
  located tickets.

Each component is in [0, 1] and non-decreasing in its input, so the risk is too
("noisy-OR": independent reasons to worry; none can lower another). Every score
comes with its components (:class:`Risk.factors`) so an alert can show *why*.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from alerts.crowd.baseline import anomaly_component

#: (density persons/m², crowd component) anchors, linear in between, flat after the last.
DENSITY_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.31, 0.05),
    (0.72, 0.15),
    (1.08, 0.3),
    (2.15, 0.6),
    (4.0, 0.85),
    (5.0, 1.0),
)
RISE_MAX = 0.5
RISE_SCALE = 1.0  # persons/m² per minute
ANOMALY_WEIGHT = 0.6
SENSOR_ALARM_WEIGHT = 0.4
SENSOR_CRITICAL_WEIGHT = 0.7
HOTLINE_MAX = 0.8
HOTLINE_SCALE = 5.0


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What the score looks at, for one cell or zone at one instant."""

    density: float | None  # persons/m² of walkable area; None without a live camera
    sensor_alarms: int = 0  # fresh sensors in alarm (any type)
    tickets: int = 0  # fresh located hotline tickets
    trend: float | None = None  # persons/m² per minute; None until enough samples
    anomaly_z: float | None = None  # largest z-score vs baseline; None without baseline
    critical_alarms: int = 0  # of ``sensor_alarms``, those of life-safety types


@dataclass(frozen=True, slots=True)
class Risk:
    score: float  # [0, 1], 3 decimals
    factors: dict[str, float]  # component name -> value in [0, 1], 3 decimals


def density_component(density: float | None) -> float:
    """Crowd component in [0, 1] for a density in persons/m² (None counts as 0)."""
    if density is None or density <= 0:
        return 0.0
    xs = [x for x, _ in DENSITY_ANCHORS]
    i = bisect_right(xs, density)
    if i >= len(DENSITY_ANCHORS):
        return DENSITY_ANCHORS[-1][1]
    (x0, y0), (x1, y1) = DENSITY_ANCHORS[i - 1], DENSITY_ANCHORS[i]
    return y0 + (y1 - y0) * (density - x0) / (x1 - x0)


def rise_component(trend: float | None) -> float:
    """Rate-of-rise component in [0, RISE_MAX) for persons/m² per minute (falls count 0)."""
    if trend is None or trend <= 0:
        return 0.0
    return RISE_MAX * (1.0 - math.exp(-trend / RISE_SCALE))


def hotline_component(tickets: int) -> float:
    """Hotline component in [0, HOTLINE_MAX) for a ticket count."""
    return HOTLINE_MAX * (1.0 - math.exp(-max(tickets, 0) / HOTLINE_SCALE))


def sensor_component(alarms: int, critical_alarms: int) -> float:
    if critical_alarms > 0:
        return SENSOR_CRITICAL_WEIGHT
    return SENSOR_ALARM_WEIGHT if alarms > 0 else 0.0


def risk(inputs: RiskInputs) -> Risk:
    """The score and its components; see the module docstring."""
    factors = {
        "density": density_component(inputs.density),
        "rise": rise_component(inputs.trend),
        "anomaly": (
            ANOMALY_WEIGHT * anomaly_component(inputs.anomaly_z)
            if inputs.anomaly_z is not None
            else 0.0
        ),
        "sensor": sensor_component(inputs.sensor_alarms, inputs.critical_alarms),
        "hotline": hotline_component(inputs.tickets),
    }
    keep = math.prod(1.0 - f for f in factors.values())
    return Risk(round(1.0 - keep, 3), {k: round(v, 3) for k, v in factors.items()})


def risk_score(inputs: RiskInputs) -> float:
    """Risk in [0, 1], rounded to 3 decimals."""
    return risk(inputs).score
