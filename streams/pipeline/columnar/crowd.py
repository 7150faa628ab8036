"""Camera fusion of many cells at once (pure): :func:`alerts.crowd.camera_fusion.fuse`, vectorised.

Contract: for each cell of the rows given, the figures of
:func:`alerts.crowd.camera_fusion.fuse` over the same cameras, to rounding (sums and the coverage
product are taken in the rows' order, not the cameras' id order), and the same camera
lists. One call measures every cell of a round:
a handful of numpy passes over the rows instead of Python per cell. The method and
its assumptions are alerts/crowd/camera_fusion.py's (docs/risk-model.md, "Camera fusion").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alerts.crowd.camera_fusion import CrowdEstimate
from streams.pipeline.columnar.camera_columns import Cells, Floats, Int64s
from streams.pipeline.columnar.camera_state import CameraRows


@dataclass(frozen=True, slots=True)
class CrowdColumns:
    """Fused figures per cell; row ``i`` is ``cell[i]``; cells without a live camera have
    ``live == 0`` and NaN figures. Units as :class:`alerts.crowd.camera_fusion.CrowdEstimate`
    (persons/m², persons, m², persons/min; NaN flow: no camera sends flows)."""

    cell: Cells
    live: Int64s
    density: Floats
    density_max: Floats
    people: Floats
    people_seen: Floats
    covered_m2: Floats
    walkable_m2: Floats
    walkable_from_layer: npt.NDArray[np.bool_]
    flow: Floats
    rows: CameraRows
    starts: Int64s  # the cell's first row in ``rows``
    live_rows: npt.NDArray[np.bool_]
    walkable_layer: Floats  # the layer's walkable area, NaN without one

    def rows_per_cell(self) -> Int64s:
        """How many readings (live and stale) each cell holds."""
        return np.diff(np.append(self.starts, len(self.rows.ts))).astype(np.int64)

    def estimate(self, i: int) -> CrowdEstimate | None:
        """Cell ``i``'s figures as the reference's object (for evidence: the rare path)."""
        if self.live[i] == 0:
            return None
        start = int(self.starts[i])
        end = int(self.starts[i + 1]) if i + 1 < len(self.starts) else len(self.rows.ts)
        # in camera-id order, as the reference lists them
        rows = sorted(
            zip(
                self.rows.camera[start:end],
                self.live_rows[start:end].tolist(),
                self.rows.area_m2[start:end].tolist(),
                strict=True,
            )
        )
        live = tuple(c for c, ok, _ in rows if ok)
        stale = tuple(c for c, ok, _ in rows if not ok)
        w = float(self.walkable_layer[i])
        exceeds = () if np.isnan(w) else tuple(c for c, ok, a in rows if ok and a > w)
        flow = float(self.flow[i])
        return CrowdEstimate(
            density=float(self.density[i]),
            density_max=float(self.density_max[i]),
            people=float(self.people[i]),
            people_seen=float(self.people_seen[i]),
            covered_m2=float(self.covered_m2[i]),
            walkable_m2=float(self.walkable_m2[i]),
            walkable_from_layer=bool(self.walkable_from_layer[i]),
            exceeds_layer=exceeds,
            live=live,
            stale=stale,
            flow=None if np.isnan(flow) else flow,
        )


def fuse_cells(
    rows: CameraRows,
    *,
    now_ms: int,
    stale_ms: int,
    walkable_m2: Floats,
    cell_area_m2: Floats,
) -> CrowdColumns:
    """Fuse the cameras of every cell in ``rows`` (grouped by cell, as
    :meth:`streams.pipeline.columnar.camera_state.CameraTable.rows_in` gives them).

    ``walkable_m2[i]`` / ``cell_area_m2[i]``: the layer's walkable area (NaN without a
    layer, or ≤ 0: no usable layer) and the whole area of the ``i``-th distinct cell of
    ``rows`` in order, m².
    """
    n = len(rows.ts)
    first = np.ones(n, np.bool_)
    if n:
        first[1:] = rows.cell[1:] != rows.cell[:-1]
    starts = np.flatnonzero(first)
    cells = rows.cell[starts]
    k = len(cells)
    group = np.cumsum(first) - 1
    layer = np.where(walkable_m2 > 0, walkable_m2, np.nan)
    has_layer = ~np.isnan(layer)
    live = (now_ms - rows.ts) <= stale_ms
    live_n = np.bincount(group[live], minlength=k).astype(np.int64) if n else np.zeros(0, np.int64)

    people = np.bincount(group[live], weights=rows.people[live].astype(np.float64), minlength=k)
    area = np.bincount(group[live], weights=rows.area_m2[live], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = people / area
    cam_density = np.where(live, rows.people / rows.area_m2, -np.inf)
    density_max = _group_max(cam_density, starts, k)
    biggest = _group_max(np.where(live, rows.area_m2, -np.inf), starts, k)
    reference = np.where(has_layer, np.fmax(layer, biggest), cell_area_m2)
    a = np.minimum(rows.area_m2, reference[group]) if n else rows.area_m2
    factor = np.where(live, 1.0 - a / reference[group], 1.0) if n else a
    product = np.multiply.reduceat(factor, starts) if n else np.zeros(0)
    covered = reference * (1.0 - product)
    covered = np.maximum(covered, _group_max(np.where(live, a, -np.inf), starts, k))
    seen = density * covered
    walkable = np.where(has_layer, np.fmax(layer, covered), covered)
    sends_flow = live & (~np.isnan(rows.flow_in) | ~np.isnan(rows.flow_out))
    flows = np.where(
        sends_flow, np.nan_to_num(rows.flow_in) + np.nan_to_num(rows.flow_out), -np.inf
    )
    flow = _group_max(flows, starts, k)
    flow[np.isneginf(flow)] = np.nan
    dead = live_n == 0
    for column in (density, density_max, seen, covered, walkable):
        column[dead] = np.nan
    return CrowdColumns(
        cell=cells,
        live=live_n,
        density=density,
        density_max=density_max,
        people=density * walkable,
        people_seen=seen,
        covered_m2=covered,
        walkable_m2=walkable,
        walkable_from_layer=has_layer,
        flow=flow,
        rows=rows,
        starts=starts.astype(np.int64),
        live_rows=live,
        walkable_layer=layer,
    )


def _group_max(values: Floats, starts: npt.NDArray[np.intp], k: int) -> Floats:
    if k == 0:
        return np.zeros(0)
    return np.maximum.reduceat(values, starts)
