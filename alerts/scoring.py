"""The per-cell risk score: one monotone formula in [0, 1].

    risk = 1 − (1 − d)·(1 − s)·(1 − h)

* ``d`` — crowd component, a piecewise-linear, non-decreasing function of the
  walkable density (persons/m²) through the Fruin walkway and Still anchors in
  :data:`DENSITY_ANCHORS`: 0 for an empty cell, 0.6 at the LOS E/F boundary
  (2.15/m²), 0.85 at Still's critical 4/m², 1 at 5/m² and above.
* ``s`` — sensor component: :data:`SENSOR_ALARM_WEIGHT` when at least one fresh
  sensor in the cell is in alarm, else 0.
* ``h`` — hotline component ``HOTLINE_MAX·(1 − exp(−n / HOTLINE_SCALE))`` for
  ``n`` fresh tickets in the cell.

Each component is in [0, 1] and non-decreasing in its input, so the risk is too
("noisy-OR": independent reasons to worry, none can lower another).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

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
SENSOR_ALARM_WEIGHT = 0.7
HOTLINE_MAX = 0.8
HOTLINE_SCALE = 5.0


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What the score looks at, for one cell at one instant."""

    density: float | None  # persons/m² of walkable area; None when no fresh camera reading
    sensor_alarms: int  # fresh sensors in alarm
    tickets: int  # fresh hotline tickets


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


def hotline_component(tickets: int) -> float:
    """Hotline component in [0, HOTLINE_MAX] for a ticket count."""
    return HOTLINE_MAX * (1.0 - math.exp(-max(tickets, 0) / HOTLINE_SCALE))


def risk_score(inputs: RiskInputs) -> float:
    """Risk in [0, 1], rounded to 3 decimals; see the module docstring."""
    d = density_component(inputs.density)
    s = SENSOR_ALARM_WEIGHT if inputs.sensor_alarms > 0 else 0.0
    h = hotline_component(inputs.tickets)
    return round(1.0 - (1.0 - d) * (1.0 - s) * (1.0 - h), 3)
