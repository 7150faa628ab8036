"""The ``cells.state`` views of a measurement round's cells (edge code: figures to JSON-
ready dicts, numbers rounded for the wire as streams/pipeline/cellview.py rounds them).

Built column by column: each figure is rounded for all cells at once and turned into a
list, then one dict per cell is assembled from the lists. Rounding gives what Python's
``round`` gives (:func:`_rounded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h3
import numpy as np

from streams.pipeline.columnar.camera_columns import Floats
from streams.pipeline.columnar.camera_round import RoundFigures
from streams.pipeline.columnar.levels import RISK_FACTORS, STILL_LEVELS, letters


def round_like_python(values: Floats, digits: int) -> list[float | None]:
    """``values`` rounded as Python's ``round`` rounds them (NaN as None): numpy's
    rounding, and Python's for the few values within a hair of a halfway point, where
    ``rint(x·10ᵈ)`` and the correctly rounded result may differ."""
    with np.errstate(invalid="ignore"):
        out: list[float | None] = np.round(values, digits).tolist()
        scaled = values * 10.0**digits
        near = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for i in np.flatnonzero(near).tolist():
        out[i] = round(float(values[i]), digits)
    if np.isnan(values).any():
        out = [None if v != v else v for v in out]  # NaN is the only value unequal to itself
    return out


def camera_views(
    figures: RoundFigures, updated_at: Sequence[int], only: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """One view per measured cell, in the round's order (``only``: of those rows alone);
    ``updated_at[i]`` is cell i's newest event time folded in (epoch ms)."""
    c, ctx, r, extra = figures.crowd, figures.contexts, figures.risk, figures.extra
    n = len(c.cell)
    walkable = ctx.walkable_m2
    area = round_like_python(np.where(c.live > 0, c.walkable_m2, walkable), 1)
    from_layer = np.where(c.live > 0, c.walkable_from_layer, ~np.isnan(walkable)).tolist()
    people, seen = round_like_python(c.people, 1), round_like_python(c.people_seen, 1)
    covered = round_like_python(c.covered_m2, 1)
    density, density_max = round_like_python(c.density, 3), round_like_python(c.density_max, 3)
    trend, flow = round_like_python(figures.trend, 4), round_like_python(figures.flow_per_m, 1)
    density_z = round_like_python(figures.density_z, 2)
    hotline_z = round_like_python(figures.hotline_z, 2)
    walkway, queuing = letters(figures.los_walkway), letters(figures.los_queuing)
    flow_los, still = letters(figures.los_flow), letters(figures.still, STILL_LEVELS)
    score = round_like_python(r.score, 3)
    factors = {name: round_like_python(getattr(r, name), 3) for name in RISK_FACTORS}
    cameras = c.live.tolist()
    stale: list[list[str]] = (
        [[] for _ in range(n)] if bool(c.live_rows.all()) else _stale_lists(figures)
    )
    cells = [h3.int_to_str(x) for x in c.cell.tolist()]
    resolution = [h3.get_resolution(x) for x in cells]
    kinds = ["static" if s else "moving" for s in ctx.static.tolist()]
    return [
        {
            "cell": cells[i],
            "lat": ctx.center[i][0],
            "lon": ctx.center[i][1],
            "resolution": resolution[i],
            "people": people[i],
            "people_seen": seen[i],
            "area_m2": area[i],
            "walkable_from_layer": from_layer[i],
            "covered_m2": covered[i],
            "density": density[i],
            "density_max": density_max[i],
            "los": walkway[i],
            "los_queuing": queuing[i],
            "still": still[i],
            "crowd_kind": kinds[i],
            "trend": trend[i],
            "flow": flow[i],
            "los_flow": flow_los[i],
            "density_z": density_z[i],
            "hotline_z": hotline_z[i],
            "cameras": cameras[i],
            "stale_cameras": stale[i],
            "sensors": {
                f.type: {"value": f.value, "unit": f.unit, "ts": f.ts, "alarm": f.alarm}
                for f in extra.sensors[i]
            },
            "alarms": extra.alarms[i],
            "tickets": dict(extra.tickets[i]),
            "tickets_total": extra.tickets_total[i],
            "zones": list(ctx.zones[i]),
            "risk": score[i],
            "factors": {name: values[i] for name, values in factors.items()},
            "updated_at": updated_at[i],
        }
        for i in (range(n) if only is None else only)
    ]


def signatures(figures: RoundFigures) -> list[bytes]:
    """Per measured cell, the bytes of every figure its view is rounded from (unrounded;
    cell facts aside): equal bytes, equal view but for ``updated_at``. Cells whose view
    also holds lists (stale cameras, sensors, tickets) need their view compared."""
    c, r = figures.crowd, figures.risk
    numbers = np.column_stack(
        [
            c.people, c.people_seen, c.walkable_m2, c.covered_m2, c.density, c.density_max,
            figures.trend, figures.flow_per_m, figures.density_z, figures.hotline_z, r.score,
            *(getattr(r, name) for name in RISK_FACTORS),
            c.live.astype(np.float64),
            figures.los_walkway.astype(np.float64), figures.los_queuing.astype(np.float64),
            figures.los_flow.astype(np.float64), figures.still.astype(np.float64),
        ]
    )  # fmt: skip
    rows = np.ascontiguousarray(numbers).view(np.dtype((np.void, numbers.shape[1] * 8)))
    return [bytes(row) for row in rows.ravel().tolist()]


def _stale_lists(figures: RoundFigures) -> list[list[str]]:
    """Each cell's stale cameras, in id order (every camera of a cell with none live)."""
    c = figures.crowd
    out: list[list[str]] = [[] for _ in range(len(c.cell))]
    bounds = [*c.starts.tolist(), len(c.rows.ts)]
    live = c.live_rows.tolist()
    for i in np.flatnonzero(c.live < np.diff(np.array(bounds))).tolist():
        start, end = bounds[i], bounds[i + 1]
        pairs = zip(c.rows.camera[start:end], live[start:end], strict=True)
        out[i] = sorted(camera for camera, ok in pairs if not ok)
    return out
