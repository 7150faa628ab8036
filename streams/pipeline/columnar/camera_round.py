"""One measurement round over the camera cells of a partition (pure).

Every cell whose cameras changed since the last round is measured at once: fusion
(:mod:`streams.pipeline.columnar.crowd`), the rate of rise
(:mod:`streams.pipeline.columnar.trend_ring`),
LOS and Still levels, flow per metre and the risk score
(:mod:`streams.pipeline.columnar.levels`), the z-scores against the hour-of-week baselines
(:mod:`streams.pipeline.columnar.baseline_table`). Contract: for a cell holding only camera
readings (and the sensors and tickets it may hold besides), the view of a round's row
(:func:`streams.pipeline.columnar.camera_views.camera_views`) is the view
:func:`streams.pipeline.cellview.view` makes of
:func:`alerts.crowd.cell_metrics.cell_metrics` at the same
event time, after the same rounds (floats equal to rounding;
tests/unit/test_columnar_round.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import h3
import numpy as np
import numpy.typing as npt

from alerts.crowd.baseline import Baseline, observe, score
from alerts.crowd.cell_metrics import (
    CellContext,
    MetricsConfig,
    SensorFigures,
    clusterable,
    sensor_figures,
)
from alerts.rules.vocabulary import SENSOR_CRITICAL
from streams.pipeline.cellfold import SensorObs, TicketObs
from streams.pipeline.columnar.baseline_table import BaselineTable
from streams.pipeline.columnar.camera_columns import Cells, Floats
from streams.pipeline.columnar.camera_state import CameraTable
from streams.pipeline.columnar.crowd import CrowdColumns, fuse_cells
from streams.pipeline.columnar.levels import (
    Codes,
    RiskColumns,
    los_codes,
    risk_columns,
    still_codes,
)
from streams.pipeline.columnar.trend_ring import TrendRings


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
    center: list[tuple[float, float]]  # the cell's centre, WGS-84 degrees, 6 decimals


class ContextTable:
    """:class:`CellContexts` of any cells, each cell's facts looked up once with
    ``context_of`` (the zone layers: :func:`streams.pipeline.step.context_of`)."""

    def __init__(self, context_of: Callable[[str], CellContext]) -> None:
        self.context_of = context_of
        self.known: dict[int, tuple[Any, ...]] = {}

    def contexts(self, cells: Cells) -> CellContexts:
        rows = []
        for cell in cells.tolist():
            row = self.known.get(cell)
            if row is None:
                name = h3.int_to_str(cell)
                c = self.context_of(name)
                lat, lon = h3.cell_to_latlng(name)
                row = (
                    c.cell_area_m2,
                    math.nan if c.walkable_m2 is None else c.walkable_m2,
                    c.crowd_kind == "static",
                    math.nan if c.width_m is None else c.width_m,
                    c.zones,
                    (round(lat, 6), round(lon, 6)),
                )
                self.known[cell] = row
            rows.append(row)
        return CellContexts(
            cell_area_m2=np.array([r[0] for r in rows], np.float64),
            walkable_m2=np.array([r[1] for r in rows], np.float64),
            static=np.array([r[2] for r in rows], np.bool_),
            width_m=np.array([r[3] for r in rows], np.float64),
            zones=[r[4] for r in rows],
            center=[r[5] for r in rows],
        )


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
    density_z: Floats  # against the cell's hour-of-week baseline; NaN: none yet
    hotline_z: Floats
    risk: RiskColumns
    extra: ExtraFigures


class PartitionState:
    """What a partition keeps for its camera cells between rounds: the readings, the
    trend rings, the ``density`` and ``hotline`` hour-of-week baselines, and for the
    few camera cells that also hold sensors, one baseline per cell and sensor type."""

    def __init__(self, metrics: MetricsConfig) -> None:
        self.metrics = metrics
        self.cameras = CameraTable()
        self.rings = TrendRings(metrics.rise)
        self.density = BaselineTable(metrics.baseline)
        self.hotline = BaselineTable(metrics.baseline)
        self.sensor_baselines: dict[tuple[int, str], Baseline] = {}


@dataclass(frozen=True, slots=True)
class CellExtras:
    """What a camera cell holds besides its cameras (the per-object state's fresh
    sensor readings and hotline tickets, masked): rare, so kept as objects."""

    sensors: tuple[SensorObs, ...] = ()
    tickets: tuple[TicketObs, ...] = ()
    updated_at: int = 0  # newest event time of these (epoch ms)


def updated_at_of(
    state: PartitionState, cells: Cells, extras: Mapping[int, CellExtras] | None = None
) -> list[int]:
    """Each cell's newest event time folded in, cameras and extras alike (epoch ms)."""
    held, extra = state.cameras.updated_at, extras or {}
    return [max(held[c], extra[c].updated_at) if c in extra else held[c] for c in cells.tolist()]


@dataclass(frozen=True, slots=True)
class ExtraFigures:
    """Per measured cell, what its extras add (empty for camera-only cells): sensor
    figures with their z-scores; tickets per category, all fresh ones (as the view
    counts them) and the located ones (as the rules count them); the fresh sensors in
    alarm."""

    sensors: list[tuple[SensorFigures, ...]]
    tickets: list[dict[str, int]]
    tickets_total: list[int]
    located: list[dict[str, int]]
    alarms: list[int]


def measure_cameras(
    state: PartitionState,
    cells: Cells,
    contexts: CellContexts,
    *,
    now_ms: int,
    extras: Mapping[int, CellExtras] | None = None,
) -> RoundFigures:
    """Measure ``cells`` (sorted, unique, each holding camera readings) at ``now_ms``;
    ``contexts`` row ``i`` describes ``cells[i]``; ``extras`` gives the sensors and
    tickets of the cells that hold some. As the per-object path does on each
    measurement, this instant's density goes into the trend rings, and (after scoring
    against them) the density, located ticket count and sensor values into the
    baselines."""
    m = state.metrics
    rows = state.cameras.rows_in(cells)
    if not np.array_equal(np.unique(rows.cell), cells):
        raise ValueError("measure_cameras: every cell must hold camera readings")
    crowd = fuse_cells(
        rows,
        now_ms=now_ms,
        stale_ms=m.camera_stale_ms,
        walkable_m2=contexts.walkable_m2,
        cell_area_m2=contexts.cell_area_m2,
    )
    alive = crowd.live > 0
    state.rings.add(cells[alive], now_ms, crowd.density[alive])
    trend = np.where(alive, state.rings.slopes(cells), np.nan)
    flow = np.where(~np.isnan(contexts.width_m), crowd.flow / contexts.width_m, np.nan)
    k = len(cells)
    located = np.zeros(k, np.int64)
    sensor_alarms, critical = np.zeros(k, np.int64), np.zeros(k, np.int64)
    sensor_z = np.full(k, np.nan)
    more = ExtraFigures([()] * k, [{}] * k, [0] * k, [{}] * k, [0] * k)
    if extras:
        for i, cell in enumerate(cells.tolist()):
            extra = extras.get(cell)
            if extra is not None:
                located[i], sensor_alarms[i], critical[i], sensor_z[i] = _extra_figures(
                    state, cell, extra, i, more, now_ms
                )
    hotline_value = located.astype(np.float64)
    density_z = state.density.score_and_learn(cells, now_ms, crowd.density)
    hotline_z = state.hotline.score_and_learn(cells, now_ms, hotline_value)
    with np.errstate(invalid="ignore"):
        anomaly_z = np.fmax(np.fmax(density_z, hotline_z), sensor_z)  # the largest known
    return RoundFigures(
        crowd=crowd,
        contexts=contexts,
        los_walkway=los_codes(m.los.walkway, crowd.density),
        los_queuing=los_codes(m.los.queuing, crowd.density),
        los_flow=los_codes(m.los.flow, flow),
        still=still_codes(m.los.still, crowd.density, contexts.static),
        trend=trend,
        flow_per_m=flow,
        density_z=density_z,
        hotline_z=hotline_z,
        risk=risk_columns(crowd.density, trend, anomaly_z, sensor_alarms, critical, located),
        extra=more,
    )


def _extra_figures(
    state: PartitionState, cell: int, extra: CellExtras, i: int, more: ExtraFigures, now: int
) -> tuple[int, int, int, float]:
    """A mixed cell's sensor and ticket figures, as :func:`alerts.crowd.cell_metrics.cell_metrics`
    computes them (object by object: such cells are few); fills row ``i`` of ``more``
    and folds the sensor values into their baselines. Returns (located tickets, sensors
    in alarm, of them critical, the largest sensor z or NaN)."""
    c = state.metrics.baseline
    located = [t for t in extra.tickets if clusterable(t, state.metrics)]
    figures = []
    for f in sensor_figures(extra.sensors):
        held = state.sensor_baselines.get((cell, f.type))
        figures.append(replace(f, z=score(held, now, f.value, c) if held else None))
        state.sensor_baselines[(cell, f.type)] = observe(held or c.empty(), now, f.value, c)
    per_category: dict[str, int] = {}
    for t in extra.tickets:
        per_category[t.category] = per_category.get(t.category, 0) + 1
    located_per_category: dict[str, int] = {}
    for t in located:
        located_per_category[t.category] = located_per_category.get(t.category, 0) + 1
    more.sensors[i], more.tickets[i] = tuple(figures), per_category
    more.located[i] = located_per_category
    more.tickets_total[i] = len(extra.tickets)
    more.alarms[i] = sum(1 for s in extra.sensors if s.alarm)
    alarms = [f for f in figures if f.alarm]
    zs = [f.z for f in figures if f.z is not None]
    return (
        len(located),
        len(alarms),
        sum(1 for f in alarms if f.type in SENSOR_CRITICAL),
        max(zs) if zs else math.nan,
    )
