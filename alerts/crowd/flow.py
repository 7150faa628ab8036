"""Walkway flow rate and its Fruin level of service.

Flow is persons per metre of clear walkway width per minute (persons/m/min),
counted across a camera's counting line in both directions.

Level of service (J. J. Fruin, *Pedestrian Planning and Design*, 1971, walkway
levels of service; "Average Flow Volume" in persons per foot of width per minute,
PFM, converted at 3.28 ft/m): A ≤ 7 PFM (≤ 23), B ≤ 10 (≤ 33), C ≤ 15 (≤ 49),
D ≤ 20 (≤ 66), E ≤ 25 (≤ 82) persons/m/min; F above, where flow is unstable
(stop-and-go) and may *fall* as density keeps rising — past the critical
density a higher density carries fewer people, so flow LOS must be read
together with density LOS, never alone. The bands are data
(:data:`alerts.crowd.los.FRUIN_WALKWAY_FLOW`, configurable through
:class:`alerts.crowd.los.LosConfig`); :data:`alerts.crowd.los.HCM2000_WALKWAY_FLOW` holds the
stricter Highway Capacity Manual (TRB, 2000) walkway table
(A ≤ 16, B ≤ 23, C ≤ 33, D ≤ 49, E ≤ 75 persons/m/min).
"""

from __future__ import annotations

import math

from alerts.crowd.los import FLOW_UNIT, FRUIN_WALKWAY_FLOW, HCM2000_WALKWAY_FLOW, LosBands

__all__ = [
    "FLOW_UNIT",
    "FRUIN_WALKWAY_FLOW",
    "HCM2000_WALKWAY_FLOW",
    "flow_los",
    "flow_rate_per_m",
]


def _check_flow(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number ≥ 0 persons/min, got {value!r}")


def flow_rate_per_m(
    flow_in: float | None, flow_out: float | None, width_m: float | None
) -> float | None:
    """Two-way flow in persons/m/min across a counting line ``width_m`` metres wide.

    ``flow_in`` and ``flow_out`` are persons/min crossing the line in each
    direction; a missing direction counts as 0 as long as the other is known.
    Returns None when the width is unknown or both flows are missing. Raises
    ``ValueError`` for negative or non-finite flows and for a width that is not
    a finite number > 0.
    """
    _check_flow("flow_in", flow_in)
    _check_flow("flow_out", flow_out)
    if width_m is not None and not (math.isfinite(width_m) and width_m > 0):
        raise ValueError(f"width_m must be a finite number > 0 m, got {width_m!r}")
    if width_m is None or (flow_in is None and flow_out is None):
        return None
    return ((flow_in or 0.0) + (flow_out or 0.0)) / width_m


def flow_los(
    flow_in: float | None,
    flow_out: float | None,
    width_m: float | None,
    bands: LosBands = FRUIN_WALKWAY_FLOW,
) -> str | None:
    """Flow LOS letter A–F, or None when :func:`flow_rate_per_m` gives no rate."""
    if bands.unit != FLOW_UNIT:
        raise ValueError(f"{bands.name}: bands are in {bands.unit}, not {FLOW_UNIT}")
    rate = flow_rate_per_m(flow_in, flow_out, width_m)
    return None if rate is None else bands.classify(rate)
