"""One step of the cell pipeline (pure): fold a batch, measure, detect, fuse into incidents.

:func:`process_batch` is what the ``cells`` agent calls for every record of the
``cells.ingest`` topic and for every tick; backtests can call it too. It reads
and writes four stores (cell states, rule tracks, incidents, baselines) and
returns what to publish: changed cell views, removed cells, and incident alerts.

Per batch: events are folded into their cells; every touched cell is measured
(:func:`alerts.metrics.cell_metrics`: fused density on walkable area, LOS,
trend, flow, anomalies, risk); the rules step their hysteresis tracks; every
signal that opens, changes or closes is fused into an incident
(:mod:`alerts.incident`), and the incident is what desks receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import h3

from alerts.alert import Alert
from alerts.detect import Track, Transition, step
from alerts.fusion import stale_cameras
from alerts.incident import FusionConfig, Incident, Signal, attach, expired, find_incident, to_alert
from alerts.metrics import (
    CellBaselines,
    CellContext,
    CellMetrics,
    MetricsConfig,
    cell_metrics,
    clusterable,
    sample_baselines,
)
from alerts.rules import (
    CATEGORY_DESKS,
    CROWD_DENSITY,
    CROWD_RISE,
    HOTLINE_CLUSTER,
    HOTLINE_CLUSTER_K,
    SENSOR_ALARM,
    SENSOR_CRITICAL,
    SENSOR_DESKS,
    SENSOR_LIMITS,
    Rule,
)
from geo.cells import cell_area_m2
from streams.cellfold import CellState, TicketObs, Windows, add, expire, initial
from streams.cellview import view
from streams.events import Event, Ticket
from streams.store import Store

if TYPE_CHECKING:
    from geo.zone_index import ZoneIndex

MAX_EVIDENCE_TICKETS = 30


@dataclass(slots=True)
class Output:
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)  # cell id -> view
    removed: list[str] = field(default_factory=list)
    alerts: dict[str, Alert] = field(default_factory=dict)  # incident id -> newest version


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    windows: Windows = field(default_factory=Windows)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    zones: ZoneIndex | None = None
    crowd: Rule = CROWD_DENSITY
    rise: Rule = CROWD_RISE
    sensor: Rule = SENSOR_ALARM
    hotline: Rule = HOTLINE_CLUSTER
    cluster_k: int = HOTLINE_CLUSTER_K


@dataclass(frozen=True, slots=True)
class Stores:
    """The pipeline's state, each store backed by a changelog table in the worker."""

    cells: Store[CellState]
    tracks: Store[Track]
    incidents: Store[Incident]
    baselines: Store[CellBaselines]


@lru_cache(maxsize=65_536)
def _cell_area(cell: str) -> float:
    return cell_area_m2(cell)


def _track_key(rule: str, subject: str) -> str:
    return f"{rule}|{subject}"


def context_of(cell: str, zones: ZoneIndex | None) -> CellContext:
    """Static facts of a cell from the zone layers (O(1) lookups)."""
    if zones is None:
        return CellContext(cell_area_m2=_cell_area(cell))
    return CellContext(
        cell_area_m2=_cell_area(cell),
        walkable_m2=zones.walkable(cell),
        crowd_kind=zones.crowd_kind(cell) or "moving",
        width_m=zones.width_m(cell),
        zones=tuple(z.id for z in zones.zones_at(cell)),
    )


class _Step:
    """The work of one batch; holds the stores and collects the output."""

    def __init__(self, stores: Stores, partition: int, now_ms: int, config: PipelineConfig):
        self.st, self.partition, self.now, self.config = stores, partition, now_ms, config
        self.out = Output()
        self._fresh: dict[str, CellState | None] = {}
        self.metrics: dict[str, CellMetrics] = {}
        self.crowd_checked: set[str] = set()  # cells whose crowd rules ran this batch

    # -- cells -------------------------------------------------------------------------------
    def state(self, cell: str) -> CellState | None:
        """The cell's state expired to ``now`` (cached for the batch)."""
        if cell not in self._fresh:
            raw = self.st.cells.get(cell)
            self._fresh[cell] = expire(raw, self.now, self.config.windows) if raw else None
        return self._fresh[cell]

    def measure(self, cell: str) -> None:
        """Compute the cell's metrics, keep its trend sample, save it and its view."""
        state = self.state(cell)
        assert state is not None  # touched cells were just folded into or read from the store
        if state.is_empty():
            self.st.cells.delete(cell)
            self._fresh[cell] = None
            self.out.cells.pop(cell, None)
            self.out.removed.append(cell)
            return
        baselines = self.st.baselines.get(cell)
        m = cell_metrics(
            cell,
            cameras=state.cameras,
            sensors=state.sensors,
            tickets=state.tickets,
            trend=state.density,
            context=context_of(cell, self.config.zones),
            baselines=baselines,
            now_ms=self.now,
            config=self.config.metrics,
        )
        state = replace(state, density=m.trend_series, stale=_stale(state, self))
        self.st.cells.put(cell, state, state.partition)
        self._fresh[cell], self.metrics[cell] = state, m
        self.out.cells[cell] = view(state, m)
        sampled = sample_baselines(baselines, m, self.now, self.config.metrics.baseline)
        if sampled is not None:
            self.st.baselines.put(cell, sampled, self.partition)

    # -- rules -------------------------------------------------------------------------------
    def advance(
        self, rule: Rule, subject: str, metric: float, build: Any, *, grew: bool = False
    ) -> None:
        """Step the rule's track; on a transition (or a growing cluster) update the incident."""
        key = _track_key(rule.id, subject)
        track = self.st.tracks.get(key) or Track(rule=rule.id, subject=subject)
        new, transition = step(track, metric, self.now, rule)
        if new.phase == "idle" and track.phase == "idle":
            return  # nothing to remember for quiet subjects
        if transition is not None or (grew and new.phase == "open" and track.phase == "open"):
            new = self.emit(new, build.signal(new, transition))
        if new.phase == "idle":
            self.st.tracks.delete(key)
        else:
            self.st.tracks.put(key, new, self.partition)

    def emit(self, track: Track, signal: Signal) -> Track:
        """Fuse ``signal`` into its incident, publish the incident, remember the link."""
        store = self.st.incidents
        incident = store.get(track.incident) if track.incident else None
        if incident is None:
            nearby = (store.get(k) for k in store.keys_in_partition(self.partition))
            incident = find_incident(
                (i for i in nearby if i is not None), signal, self.now, self.config.fusion
            )
        incident = attach(incident, signal, self.now)
        store.put(incident.id, incident, self.partition)
        self.out.alerts[incident.id] = to_alert(incident)
        return replace(track, incident=incident.id)

    def cluster_tickets(self, anchor: str, category: str) -> list[tuple[TicketObs, str]]:
        found = []
        for cell in h3.grid_disk(anchor, self.config.cluster_k):
            state = self.state(cell)
            if state:
                found.extend(
                    (t, cell)
                    for t in state.tickets
                    if t.category == category and clusterable(t, self.config.metrics)
                )
        return sorted(found, key=lambda tc: (tc[0].ts, tc[0].id))

    def cell_metrics(self, cell: str) -> CellMetrics | None:
        if cell not in self.metrics and self.state(cell) is not None:
            self.measure(cell)
        return self.metrics.get(cell)


def _stale(state: CellState, s: _Step) -> tuple[str, ...]:
    return stale_cameras(state.cameras, s.now, s.config.metrics.camera_stale_ms)


def _signal(
    s: _Step,
    rule: Rule,
    track: Track,
    transition: Transition | None,
    cell: str,
    desks: tuple[str, ...],
    title: str,
    evidence: dict[str, Any],
    severity: str | None = None,
) -> Signal:
    assert track.alert_id is not None and track.opened_at is not None
    m = s.metrics.get(cell)
    risk = {"score": m.risk.score, "factors": m.risk.factors} if m else None
    return Signal(
        id=track.alert_id,
        rule=rule.id,
        cell=cell,
        severity=severity or track.severity or "warning",
        state="closed" if transition == "closed" else "open",
        opened_at=track.opened_at,
        updated_at=s.now,
        desks=desks,
        title=title,
        evidence={**evidence, "risk": risk},
        shadow=rule.shadow,
    )


def crowd_evidence(m: CellMetrics | None) -> dict[str, Any]:
    """The crowd figures of a cell, in numbers, for the dispatcher."""
    c = m.crowd if m else None
    if m is None or c is None:
        return {"density": None, "cameras": [], "stale_cameras": []}
    return {
        "density": round(c.density, 3),
        "density_max": round(c.density_max, 3),
        "los": m.los_walkway,
        "los_queuing": m.los_queuing,
        "still": m.still,
        "crowd_kind": m.context.crowd_kind,
        "people": round(c.people),
        "walkable_m2": round(c.walkable_m2, 1),
        "walkable_from_layer": c.walkable_from_layer,
        "covered_m2": round(c.covered_m2, 1),
        "cameras": list(c.live),
        "stale_cameras": list(c.stale),
        "cameras_exceeding_layer": list(c.exceeds_layer),
        "trend_per_min": m.trend,
        "flow_per_m_min": round(m.flow, 1) if m.flow is not None else None,
        "los_flow": m.los_flow,
        "density_z": round(m.density_z, 2) if m.density_z is not None else None,
        "zones": list(m.context.zones),
    }


class _CrowdSignal:
    def __init__(self, s: _Step, rule: Rule, cell: str) -> None:
        self.s, self.rule, self.cell = s, rule, cell

    def signal(self, track: Track, transition: Transition | None) -> Signal:
        rule, m = self.rule, self.s.metrics.get(self.cell)
        evidence = crowd_evidence(m) | {
            "metric": rule.metric,
            "peak": round(track.peak, 3),
            "enter_threshold": rule.enter,
            "exit_threshold": rule.exit,
            "critical_threshold": rule.critical_at if rule.critical_at != float("inf") else None,
            "dwell_s": rule.enter_dwell_ms / 1000,
        }
        d, los = evidence["density"], evidence.get("los")
        if rule.metric == "trend":
            rate = m.trend if m and m.trend is not None else track.peak
            title = (
                f"人群密度快速上升 {rate:+.2f} 人/m²/分钟 · "
                f"Crowd density rising fast, {rate:+.2f} persons/m² per minute"
            )
        elif d is None:
            title = "人群密度 (摄像头无数据) · Crowd density (no live camera)"
        else:
            title = (
                f"人群密度 {d:.2f} 人/m² (LOS {los}) · Crowd density {d:.2f} persons/m², LOS {los}"
            )
        return _signal(self.s, rule, track, transition, self.cell, rule.desks, title, evidence)


class _SensorSignal:
    def __init__(self, s: _Step, cell: str, sensor_type: str) -> None:
        self.s, self.cell, self.type = s, cell, sensor_type

    def signal(self, track: Track, transition: Transition | None) -> Signal:
        rule = self.s.config.sensor
        state = self.s.state(self.cell)
        readings = [x for x in state.sensors if x.type == self.type] if state else []
        m = self.s.metrics.get(self.cell)
        figures = m.sensor(self.type) if m else None
        evidence = {
            "type": self.type,
            "sensors": [
                {"sensor": x.sensor, "value": x.value, "unit": x.unit, "alarm": x.alarm, "ts": x.ts}
                for x in readings
            ],
            "limit": SENSOR_LIMITS.get(self.type),
            "z": round(figures.z, 2) if figures and figures.z is not None else None,
        }
        severity = "critical" if self.type in SENSOR_CRITICAL else "warning"
        desks = tuple(dict.fromkeys(SENSOR_DESKS.get(self.type, rule.desks)))
        title = f"传感器告警 {self.type} · Sensor alarm: {self.type}"
        return _signal(
            self.s, rule, track, transition, self.cell, desks, title, evidence, severity=severity
        )


class _ClusterSignal:
    def __init__(self, s: _Step, anchor: str, category: str) -> None:
        self.s, self.anchor, self.category = s, anchor, category
        self.tickets = s.cluster_tickets(anchor, category)

    def signal(self, track: Track, transition: Transition | None) -> Signal:
        rule = self.s.config.hotline
        tickets = self.tickets
        self.s.cell_metrics(self.anchor)
        channels = sorted({t.channel for t, _ in tickets})
        desks = tuple(
            dict.fromkeys([*channels, *rule.desks, *CATEGORY_DESKS.get(self.category, ())])
        )
        evidence = {
            "category": self.category,
            "count": len(tickets),
            "channels": {c: sum(1 for t, _ in tickets if t.channel == c) for c in channels},
            "geocoded": sum(1 for t, _ in tickets if t.precision != "exact"),
            "first_ts": tickets[0][0].ts if tickets else None,
            "last_ts": tickets[-1][0].ts if tickets else None,
            "radius_k": self.s.config.cluster_k,
            "window_s": self.s.config.windows.hotline_ms // 1000,
            "enter_threshold": rule.enter,
            "exit_threshold": rule.exit,
            "tickets": [
                {
                    "id": t.id,
                    "ts": t.ts,
                    "channel": t.channel,
                    "category": t.category,
                    "text": t.text[:200],
                    "caller": t.caller,
                    "cell": cell,
                    "precision": t.precision,
                }
                for t, cell in tickets[-MAX_EVIDENCE_TICKETS:]
            ],
        }
        title = (
            f"热线聚集 {len(tickets)} 件 {self.category} · "
            f"Hotline cluster: {len(tickets)} {self.category} tickets"
        )
        return _signal(self.s, rule, track, transition, self.anchor, desks, title, evidence)


def process_batch(
    events: list[Event],
    *,
    stores: Stores,
    partition: int,
    now_ms: int,
    config: PipelineConfig | None = None,
    sweep: bool = False,
) -> Output:
    """Fold ``events`` into the cell states, measure the touched cells, run the rules.

    ``now_ms`` is the event-time clock (watermark) of the partition. With
    ``sweep=True`` every cell, rule track and incident of ``partition`` is also
    re-checked, so cameras go stale, alerts close and old state is forgotten
    without new input.
    """
    config = config or PipelineConfig()
    s = _Step(stores, partition, now_ms, config)
    touched: dict[str, None] = {}
    new_tickets: list[Ticket] = []
    for ev in events:
        if ev.cell is None:
            continue
        state = s.state(ev.cell) or initial(ev.cell, partition)
        s._fresh[ev.cell] = add(state, ev)  # measured and saved below
        touched[ev.cell] = None
        if isinstance(ev, Ticket):
            new_tickets.append(ev)
    if sweep:
        for cell in list(stores.cells.keys_in_partition(partition)):
            state = s.state(cell)
            if state is None:
                continue
            if state != stores.cells.get(cell) or _stale(state, s) != state.stale:
                touched[cell] = None  # something in it expired or a camera went stale
    for cell in touched:
        s.measure(cell)

    for cell in touched:
        m = s.metrics.get(cell)
        if m is None:
            continue
        _crowd_rules(s, cell, m)
        for f in m.sensors:
            metric = 1.0 if f.alarm else 0.0
            s.advance(config.sensor, f"{cell}|{f.type}", metric, _SensorSignal(s, cell, f.type))
    for ticket in new_tickets:
        if clusterable(ticket, config.metrics):
            _cluster(s, ticket)
    if sweep:
        for key in list(stores.tracks.keys_in_partition(partition)):
            _resweep(s, key)
        for key in list(stores.incidents.keys_in_partition(partition)):
            incident = stores.incidents.get(key)
            if incident is not None and expired(incident, now_ms, config.fusion):
                stores.incidents.delete(key)
    return s.out


def _crowd_rules(s: _Step, cell: str, m: CellMetrics) -> None:
    if cell in s.crowd_checked:
        return
    s.crowd_checked.add(cell)
    crowd, rise = s.config.crowd, s.config.rise
    density = m.density or 0.0
    if m.crowd or s.st.tracks.get(_track_key(crowd.id, cell)):
        s.advance(crowd, cell, density, _CrowdSignal(s, crowd, cell))
    # A fast rise counts only below the density rule's threshold (above it, that rule speaks).
    rate = m.trend if m.trend is not None and density < crowd.enter else 0.0
    if rate > 0 or s.st.tracks.get(_track_key(rise.id, cell)):
        s.advance(rise, cell, rate, _CrowdSignal(s, rise, cell))


def _cluster(s: _Step, ticket: Ticket) -> None:
    """Join the ticket to an open cluster nearby, or open one if enough tickets gather."""
    assert ticket.cell is not None
    rule, k = s.config.hotline, s.config.cluster_k
    for anchor in sorted(h3.grid_disk(ticket.cell, k)):
        subject = f"{ticket.category}|{anchor}"
        track = s.st.tracks.get(_track_key(rule.id, subject))
        if track and track.phase in ("open", "clearing"):
            build = _ClusterSignal(s, anchor, ticket.category)
            s.advance(rule, subject, len(build.tickets), build, grew=True)
            return
    build = _ClusterSignal(s, ticket.cell, ticket.category)
    s.advance(rule, f"{ticket.category}|{ticket.cell}", len(build.tickets), build)


def _resweep(s: _Step, key: str) -> None:
    rule_id, subject = key.split("|", 1)
    config = s.config
    if rule_id in (config.crowd.id, config.rise.id):
        m = s.cell_metrics(subject)
        if m is None:  # the cell emptied: the metric is 0
            rule = config.crowd if rule_id == config.crowd.id else config.rise
            s.advance(rule, subject, 0.0, _CrowdSignal(s, rule, subject))
        else:
            _crowd_rules(s, subject, m)
    elif rule_id == config.sensor.id:
        cell, sensor_type = subject.split("|", 1)
        m = s.cell_metrics(cell)
        f = m.sensor(sensor_type) if m else None
        metric = 1.0 if f and f.alarm else 0.0
        s.advance(config.sensor, subject, metric, _SensorSignal(s, cell, sensor_type))
    elif rule_id == config.hotline.id:
        category, anchor = subject.split("|", 1)
        build = _ClusterSignal(s, anchor, category)
        s.advance(config.hotline, subject, len(build.tickets), build)
