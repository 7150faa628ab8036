"""Cell metrics: everything the rules and the map know about one cell at one instant (pure).

:func:`cell_metrics` turns a cell's fresh observations (see
``streams.pipeline.cellfold.CellState``) plus its static context (walkable area and
zone kind from the zone layers) and its baselines into :class:`CellMetrics`.
The names of :meth:`CellMetrics.value` are the rule vocabulary of
``alerts/rules/catalog.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from alerts.crowd.baseline import Baseline, BaselineConfig, observe, score
from alerts.crowd.camera_fusion import CameraView, CrowdEstimate, fuse
from alerts.crowd.flow import flow_rate_per_m
from alerts.crowd.los import DEFAULT_LOS, LosConfig
from alerts.crowd.risk import Risk, RiskInputs, risk
from alerts.crowd.trend import RiseConfig, Series, add, slope_per_min
from alerts.rules.vocabulary import SENSOR_CRITICAL

CrowdKind = Literal["moving", "static"]
MetricValue = float | str | bool | None


class SensorView(Protocol):
    @property
    def sensor(self) -> str: ...
    @property
    def ts(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def alarm(self) -> bool: ...
    @property
    def unit(self) -> str | None: ...


class TicketView(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def uncertainty_m(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class CellContext:
    """Static facts about a cell from the zone layers."""

    cell_area_m2: float  # the H3 cell's whole area, m²
    walkable_m2: float | None = None  # layer ∩ cell, m²; None without a layer
    crowd_kind: CrowdKind = "moving"  # Still: moving (bridges, streets) or static (squares)
    width_m: float | None = None  # walkway width for flow rates, m
    zones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    los: LosConfig = DEFAULT_LOS
    rise: RiseConfig = field(default_factory=RiseConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    camera_stale_ms: int = 60_000  # a camera silent for longer is stale
    cluster_max_uncertainty_m: float = 500.0  # coarser geocodes are not clustered


@dataclass(frozen=True, slots=True)
class SensorFigures:
    """The freshest reading per sensor type in the cell."""

    type: str
    value: float  # in the type's unit
    unit: str | None
    alarm: bool  # any fresh sensor of the type in alarm
    ts: int
    sensors: tuple[str, ...]
    z: float | None = None  # against the hour-of-week baseline


@dataclass(frozen=True, slots=True)
class CellBaselines:
    """Hour-of-week baselines of one cell, keyed ``density``, ``hotline``, ``sensor:<type>``."""

    series: dict[str, Baseline] = field(default_factory=dict)

    def get(self, key: str) -> Baseline | None:
        return self.series.get(key)

    def to_dict(self) -> dict[str, Any]:
        return {"series": {k: b.to_dict() for k, b in self.series.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CellBaselines:
        return cls(series={k: Baseline.from_dict(b) for k, b in d["series"].items()})


@dataclass(frozen=True, slots=True)
class CellMetrics:
    cell: str
    crowd: CrowdEstimate | None
    los_walkway: str | None
    los_queuing: str | None
    still: str | None
    trend: float | None  # persons/m² per minute
    flow: float | None  # persons per metre of width per minute
    los_flow: str | None
    density_z: float | None
    hotline_z: float | None
    sensors: tuple[SensorFigures, ...]
    tickets: dict[str, int]  # located tickets per category
    tickets_total: int
    risk: Risk
    context: CellContext
    trend_series: Series  # the density samples including this instant

    @property
    def density(self) -> float | None:
        return self.crowd.density if self.crowd else None

    def value(self, name: str) -> MetricValue:
        """A cell metric by its catalogue name (None when not measurable now)."""
        crowd = self.crowd
        simple: dict[str, MetricValue] = {
            "density": crowd.density if crowd else None,
            "density_max": crowd.density_max if crowd else None,
            "people": crowd.people if crowd else None,
            "walkable_m2": crowd.walkable_m2 if crowd else self.context.walkable_m2,
            "los_walkway": self.los_walkway,
            "los_queuing": self.los_queuing,
            "still": self.still,
            "trend": self.trend,
            "flow": self.flow,
            "los_flow": self.los_flow,
            "density_z": self.density_z,
            "risk": self.risk.score,
            "stale_cameras": float(len(crowd.stale)) if crowd else None,
        }
        if name not in simple:
            raise KeyError(f"unknown cell metric {name!r}")
        return simple[name]

    def sensor(self, sensor_type: str) -> SensorFigures | None:
        return next((s for s in self.sensors if s.type == sensor_type), None)


def sensor_figures(sensors: Iterable[SensorView]) -> tuple[SensorFigures, ...]:
    """One :class:`SensorFigures` per type: the newest value, alarm if any is in alarm."""
    by_type: dict[str, list[SensorView]] = {}
    for s in sensors:
        by_type.setdefault(s.type, []).append(s)
    out = []
    for t in sorted(by_type):
        group = sorted(by_type[t], key=lambda s: (s.ts, s.sensor))
        newest = group[-1]
        out.append(
            SensorFigures(
                type=t,
                value=newest.value,
                unit=newest.unit,
                alarm=any(s.alarm for s in group),
                ts=newest.ts,
                sensors=tuple(sorted({s.sensor for s in group})),
            )
        )
    return tuple(out)


def clusterable(ticket: TicketView, config: MetricsConfig) -> bool:
    """Only tickets located finely enough take part in clusters and the cell's counts."""
    return ticket.uncertainty_m is None or ticket.uncertainty_m <= config.cluster_max_uncertainty_m


def _z(
    baselines: CellBaselines | None, key: str, now: int, value: float | None, c: BaselineConfig
) -> float | None:
    b = baselines.get(key) if baselines else None
    return score(b, now, value, c) if b is not None and value is not None else None


def cell_metrics(
    cell: str,
    *,
    cameras: Sequence[CameraView],
    sensors: Sequence[SensorView],
    tickets: Sequence[TicketView],
    trend: Series,
    context: CellContext,
    baselines: CellBaselines | None,
    now_ms: int,
    config: MetricsConfig,
) -> CellMetrics:
    """All metrics of one cell at event time ``now_ms``; see the module docstring."""
    crowd = fuse(
        cameras,
        now_ms=now_ms,
        stale_ms=config.camera_stale_ms,
        walkable_m2=context.walkable_m2,
        cell_area_m2=context.cell_area_m2,
    )
    los = config.los
    density = crowd.density if crowd else None
    rise = config.rise
    if crowd is not None:
        trend = add(
            trend, now_ms, crowd.density, window_ms=rise.window_ms, bucket_ms=rise.bucket_ms
        )
    slope = slope_per_min(trend, min_span_ms=rise.min_span_ms) if crowd else None
    flow = (
        flow_rate_per_m(crowd.flow, 0.0, context.width_m)
        if crowd and crowd.flow is not None
        else None
    )
    figures = sensor_figures(sensors)
    located = [t for t in tickets if clusterable(t, config)]
    per_category: dict[str, int] = {}
    for t in located:
        per_category[t.category] = per_category.get(t.category, 0) + 1
    c = config.baseline
    density_z = _z(baselines, "density", now_ms, density, c)
    hotline_z = _z(baselines, "hotline", now_ms, float(len(located)), c)
    figures = tuple(
        replace(f, z=_z(baselines, f"sensor:{f.type}", now_ms, f.value, c)) for f in figures
    )
    zs = [z for z in (density_z, hotline_z, *(f.z for f in figures)) if z is not None]
    alarms = [f for f in figures if f.alarm]
    cell_risk = risk(
        RiskInputs(
            density=density,
            sensor_alarms=len(alarms),
            critical_alarms=sum(1 for f in alarms if f.type in SENSOR_CRITICAL),
            tickets=len(located),
            trend=slope,
            anomaly_z=max(zs) if zs else None,
        )
    )
    return CellMetrics(
        cell=cell,
        crowd=crowd,
        los_walkway=los.walkway.classify(density) if density is not None else None,
        los_queuing=los.queuing.classify(density) if density is not None else None,
        still=los.still.classify(density, context.crowd_kind) if density is not None else None,
        trend=round(slope, 4) if slope is not None else None,
        flow=flow,
        los_flow=los.flow.classify(flow) if flow is not None else None,
        density_z=density_z,
        hotline_z=hotline_z,
        sensors=figures,
        tickets=per_category,
        tickets_total=len(located),
        risk=cell_risk,
        context=context,
        trend_series=trend,
    )


def sample_baselines(
    baselines: CellBaselines | None, metrics: CellMetrics, now_ms: int, config: BaselineConfig
) -> CellBaselines | None:
    """Fold this instant into the baselines where a sample is due, else None (unchanged).

    Each series takes at most one sample per ``config.interval_ms``
    (:func:`alerts.crowd.baseline.observe`), so busy cells do not learn faster than
    quiet ones.
    """
    series = dict(baselines.series) if baselines else {}
    changed = False

    def fold(key: str, value: float | None) -> None:
        nonlocal changed
        if value is not None:
            old = series.get(key) or config.empty()
            series[key] = observe(old, now_ms, value, config)
            changed = changed or series[key] is not old

    fold("density", metrics.density)
    fold("hotline", float(metrics.tickets_total))
    for f in metrics.sensors:
        fold(f"sensor:{f.type}", f.value)
    return CellBaselines(series=series) if changed else None
