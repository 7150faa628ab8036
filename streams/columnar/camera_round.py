"""One measurement round over the camera cells of a partition (pure).

Every cell whose cameras changed since the last round is measured at once: fusion
(:mod:`streams.columnar.crowd`), the rate of rise (:mod:`streams.columnar.trend_ring`),
LOS and Still levels, flow per metre and the risk score
(:mod:`streams.columnar.levels`). Contract: for a cell holding only camera readings
and no hour-of-week baseline yet, :func:`camera_view` of a round is the view
:func:`streams.cellview.view` makes of :func:`alerts.metrics.cell_metrics` at the same
event time, after the same rounds (floats equal to rounding; tests/unit/
test_columnar_round.py). Cells with sensors, tickets or baselines keep the per-object
path for now; the anomaly factor here is 0 until the baselines are columnar too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import numpy.typing as npt

from alerts.los import LosConfig
from streams.columnar.camera_columns import Cells, Floats
from streams.columnar.camera_state import CameraTable
from streams.columnar.crowd import CrowdColumns, fuse_cells
from streams.columnar.levels import (
    STILL_LEVELS,
    Codes,
    RiskColumns,
    letters,
    los_codes,
    risk_columns,
    still_codes,
)
from streams.columnar.trend_ring import TrendRings


@dataclass(frozen=True, slots=True)
class CellContexts:
    """Static facts of some cells from the zone layers, one row per cell, in the order of
    the cells asked for: whole area and walkable area (NaN: no layer), m²; ``static``:
    a standing crowd (Still); walkway width for flow rates, m (NaN: unknown)."""

    cell_area_m2: Floats
    walkable_m2: Floats
    static: npt.NDArray[np.bool_]
    width_m: Floats
    zones: list[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class RoundFigures:
    """The figures of every cell measured in a round; row ``i`` is ``crowd.cell[i]``.
    Units: persons/m² (density), persons/m²/min (trend), persons/m/min (flow)."""

    crowd: CrowdColumns
    contexts: CellContexts
    los_walkway: Codes
    los_queuing: Codes
    los_flow: Codes
    still: Codes
    trend: Floats
    flow_per_m: Floats
    risk: RiskColumns


def measure_cameras(
    table: CameraTable,
    rings: TrendRings,
    cells: Cells,
    contexts: CellContexts,
    *,
    now_ms: int,
    stale_ms: int,
    los: LosConfig,
) -> RoundFigures:
    """Measure ``cells`` (sorted, unique, each holding camera readings) at ``now_ms``;
    ``contexts`` row ``i`` describes ``cells[i]``. Folds this instant's density into
    the trend rings (as the per-object path does on each measurement)."""
    rows = table.rows_in(cells)
    if not np.array_equal(np.unique(rows.cell), cells):
        raise ValueError("measure_cameras: every cell must hold camera readings")
    crowd = fuse_cells(
        rows,
        now_ms=now_ms,
        stale_ms=stale_ms,
        walkable_m2=contexts.walkable_m2,
        cell_area_m2=contexts.cell_area_m2,
    )
    alive = crowd.live > 0
    rings.add(cells[alive], now_ms, crowd.density[alive])
    trend = np.where(alive, rings.slopes(cells), np.nan)
    flow = np.where(~np.isnan(contexts.width_m), crowd.flow / contexts.width_m, np.nan)
    zero = np.zeros(len(cells), np.int64)
    return RoundFigures(
        crowd=crowd,
        contexts=contexts,
        los_walkway=los_codes(los.walkway, crowd.density),
        los_queuing=los_codes(los.queuing, crowd.density),
        los_flow=los_codes(los.flow, flow),
        still=still_codes(los.still, crowd.density, contexts.static),
        trend=trend,
        flow_per_m=flow,
        risk=risk_columns(crowd.density, trend, np.full(len(cells), np.nan), zero, zero, zero),
    )


def _r(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def camera_view(figures: RoundFigures, i: int, updated_at: int) -> dict[str, Any]:
    """Row ``i`` as the ``cells.state`` view of docs/protocol.md (streams/cellview.py)."""
    c, ctx, r = figures.crowd, figures.contexts, figures.risk
    cell = h3.int_to_str(int(c.cell[i]))
    lat, lon = h3.cell_to_latlng(cell)
    live = c.live[i] > 0
    estimate = c.estimate(i) if live else None
    walkable = float(ctx.walkable_m2[i])  # as the layer says (NaN: no layer)
    start = int(c.starts[i])
    end = int(c.starts[i + 1]) if i + 1 < len(c.starts) else len(c.rows.ts)
    codes = (figures.los_walkway, figures.los_queuing, figures.los_flow)
    walkway, queuing, flow_los = (letters(codes_[i : i + 1])[0] for codes_ in codes)
    factors = {
        "density": float(r.density[i]),
        "rise": float(r.rise[i]),
        "anomaly": float(r.anomaly[i]),
        "sensor": float(r.sensor[i]),
        "hotline": float(r.hotline[i]),
    }
    return {
        "cell": cell,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "resolution": h3.get_resolution(cell),
        "people": round(float(c.people[i]), 1) if live else None,
        "people_seen": round(float(c.people_seen[i]), 1) if live else None,
        "area_m2": round(float(c.walkable_m2[i]), 1) if live else _r(walkable, 1),
        "walkable_from_layer": bool(c.walkable_from_layer[i]) if live else not math.isnan(walkable),
        "covered_m2": round(float(c.covered_m2[i]), 1) if live else None,
        "density": round(float(c.density[i]), 3) if live else None,
        "density_max": round(float(c.density_max[i]), 3) if live else None,
        "los": walkway,
        "los_queuing": queuing,
        "still": letters(figures.still[i : i + 1], STILL_LEVELS)[0],
        "crowd_kind": "static" if ctx.static[i] else "moving",
        "trend": _r(float(figures.trend[i]), 4),
        "flow": _r(float(figures.flow_per_m[i]), 1),
        "los_flow": flow_los,
        "density_z": None,
        "hotline_z": None,
        "cameras": len(estimate.live) if estimate else 0,
        "stale_cameras": list(estimate.stale) if estimate else sorted(c.rows.camera[start:end]),
        "sensors": {},
        "alarms": 0,
        "tickets": {},
        "tickets_total": 0,
        "zones": list(ctx.zones[i]),
        "risk": round(float(r.score[i]), 3),
        "factors": {k: round(v, 3) for k, v in factors.items()},
        "updated_at": updated_at,
    }
