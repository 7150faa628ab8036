"""One step of the cell pipeline (pure): fold a batch, sweep, detect alerts.

:func:`process_batch` is what the ``cells`` agent calls for every record of the
``cells.ingest`` topic and for every tick; backtests can call it too. It reads
and writes the two stores (cell states and alert tracks) and returns what to
publish: changed cell views, removed cells and alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import h3

from alerts.alert import Alert
from alerts.detect import Track, Transition, step
from alerts.los import FRUIN_WALKWAY
from alerts.rules import (
    CATEGORY_DESKS,
    CROWD_DENSITY,
    HOTLINE_CLUSTER,
    HOTLINE_CLUSTER_K,
    SENSOR_ALARM,
    SENSOR_CRITICAL,
    SENSOR_DESKS,
    SENSOR_LIMITS,
    Rule,
)
from geo.cells import cell_center
from streams.cellfold import CellState, Windows, add, crowd, expire, initial, view
from streams.events import Event, Ticket
from streams.store import Store

MAX_EVIDENCE_TICKETS = 30


@dataclass(slots=True)
class Output:
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)  # cell id -> view
    removed: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    windows: Windows = field(default_factory=Windows)
    crowd: Rule = CROWD_DENSITY
    sensor: Rule = SENSOR_ALARM
    hotline: Rule = HOTLINE_CLUSTER
    cluster_k: int = HOTLINE_CLUSTER_K


def _track_key(rule: str, subject: str) -> str:
    return f"{rule}|{subject}"


class _Step:
    """The work of one batch; holds the stores and collects the output."""

    def __init__(
        self,
        cells: Store[CellState],
        tracks: Store[Track],
        partition: int,
        now_ms: int,
        config: PipelineConfig,
    ) -> None:
        self.cells, self.tracks, self.partition = cells, tracks, partition
        self.now, self.config = now_ms, config
        self.out = Output()
        self._fresh: dict[str, CellState | None] = {}
        self.joined = False  # whether the ticket being clustered joined an open cluster

    # -- cell states -------------------------------------------------------------------------
    def state(self, cell: str) -> CellState | None:
        """The cell's state expired to ``now`` (cached for the batch)."""
        if cell not in self._fresh:
            raw = self.cells.get(cell)
            self._fresh[cell] = expire(raw, self.now, self.config.windows) if raw else None
        return self._fresh[cell]

    def save(self, state: CellState) -> None:
        if state.is_empty():
            self.cells.delete(state.cell)
            self._fresh[state.cell] = None
            self.out.cells.pop(state.cell, None)
            self.out.removed.append(state.cell)
        else:
            self.cells.put(state.cell, state, state.partition)
            self._fresh[state.cell] = state
            self.out.cells[state.cell] = view(state)

    # -- alert tracks ------------------------------------------------------------------------
    def advance(self, rule: Rule, subject: str, metric: float, build: Any) -> None:
        key = _track_key(rule.id, subject)
        track = self.tracks.get(key) or Track(rule=rule.id, subject=subject)
        new, transition = step(track, metric, self.now, rule)
        if new.phase == "idle" and track.phase == "idle":
            return  # nothing to remember for quiet subjects
        if new.phase == "idle":
            self.tracks.delete(key)
        else:
            self.tracks.put(key, new, self.partition)
        if transition is not None or build.updated(track, new):
            self.out.alerts.append(build.alert(new, transition))

    # -- metrics -----------------------------------------------------------------------------
    def density(self, cell: str) -> float:
        state = self.state(cell)
        figures = crowd(state) if state else None
        return figures.density if figures else 0.0

    def sensor_alarm(self, cell: str, sensor_type: str) -> float:
        state = self.state(cell)
        return (
            1.0 if state and any(s.alarm and s.type == sensor_type for s in state.sensors) else 0.0
        )

    def cluster_tickets(self, anchor: str, category: str) -> list[Any]:
        found = []
        for cell in h3.grid_disk(anchor, self.config.cluster_k):
            state = self.state(cell)
            if state:
                found.extend((t, cell) for t in state.tickets if t.category == category)
        return sorted(found, key=lambda tc: tc[0].ts)


class _CrowdAlert:
    def __init__(self, s: _Step, cell: str) -> None:
        self.s, self.cell = s, cell

    def updated(self, old: Track, new: Track) -> bool:
        return False

    def alert(self, track: Track, transition: Transition | None) -> Alert:
        rule = self.s.config.crowd
        state = self.s.state(self.cell)
        figures = crowd(state) if state else None
        density = figures.density if figures else 0.0
        los = FRUIN_WALKWAY.classify(density)
        lat, lon = cell_center(self.cell)
        evidence = {
            "density": round(density, 3),
            "los": los,
            "people": figures.people if figures else 0,
            "area_m2": round(figures.area_m2, 1) if figures else None,
            "cameras": sorted(c.camera for c in state.cameras) if state else [],
            "peak_density": round(track.peak, 3),
            "enter_threshold": rule.enter,
            "exit_threshold": rule.exit,
            "critical_threshold": rule.critical_at,
            "dwell_s": rule.enter_dwell_ms / 1000,
        }
        title = (
            f"人群密度 {density:.2f} 人/m² (LOS {los}) · "
            f"Crowd density {density:.2f} persons/m², LOS {los}"
        )
        return _alert(
            rule, track, transition, self.cell, lat, lon, rule.desks, title, evidence, self.s.now
        )


class _SensorAlert:
    def __init__(self, s: _Step, cell: str, sensor_type: str) -> None:
        self.s, self.cell, self.type = s, cell, sensor_type

    def updated(self, old: Track, new: Track) -> bool:
        return False

    def alert(self, track: Track, transition: Transition | None) -> Alert:
        rule = self.s.config.sensor
        state = self.s.state(self.cell)
        readings = [s for s in state.sensors if s.type == self.type] if state else []
        lat, lon = cell_center(self.cell)
        evidence = {
            "type": self.type,
            "sensors": [
                {"sensor": s.sensor, "value": s.value, "unit": s.unit, "alarm": s.alarm, "ts": s.ts}
                for s in readings
            ],
            "limit": SENSOR_LIMITS.get(self.type),
        }
        severity = "critical" if self.type in SENSOR_CRITICAL else "warning"
        desks = tuple(dict.fromkeys(SENSOR_DESKS.get(self.type, rule.desks)))
        title = f"传感器告警 {self.type} · Sensor alarm: {self.type}"
        return _alert(
            rule,
            track,
            transition,
            self.cell,
            lat,
            lon,
            desks,
            title,
            evidence,
            self.s.now,
            severity=severity,
        )


class _ClusterAlert:
    def __init__(self, s: _Step, anchor: str, category: str) -> None:
        self.s, self.anchor, self.category = s, anchor, category
        self.tickets = s.cluster_tickets(anchor, category)

    def updated(self, old: Track, new: Track) -> bool:
        # Every ticket that joins an open cluster updates the one alert (never a new one).
        return new.phase == "open" and old.phase == "open" and self.s.joined

    def alert(self, track: Track, transition: Transition | None) -> Alert:
        rule = self.s.config.hotline
        lat, lon = cell_center(self.anchor)
        channels = sorted({t.channel for t, _ in self.tickets})
        desks = tuple(
            dict.fromkeys([*channels, *rule.desks, *CATEGORY_DESKS.get(self.category, ())])
        )
        evidence = {
            "category": self.category,
            "count": len(self.tickets),
            "channels": {c: sum(1 for t, _ in self.tickets if t.channel == c) for c in channels},
            "first_ts": self.tickets[0][0].ts if self.tickets else None,
            "last_ts": self.tickets[-1][0].ts if self.tickets else None,
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
                }
                for t, cell in self.tickets[-MAX_EVIDENCE_TICKETS:]
            ],
        }
        title = (
            f"热线聚集 {len(self.tickets)} 件 {self.category} · "
            f"Hotline cluster: {len(self.tickets)} {self.category} tickets"
        )
        return _alert(
            rule, track, transition, self.anchor, lat, lon, desks, title, evidence, self.s.now
        )


def _alert(
    rule: Rule,
    track: Track,
    transition: Transition | None,
    cell: str,
    lat: float,
    lon: float,
    desks: tuple[str, ...],
    title: str,
    evidence: dict[str, Any],
    now: int,
    severity: str | None = None,
) -> Alert:
    """The alert for ``track``; ``severity`` overrides the track's (sensor types set their own)."""
    closed = transition == "closed"
    assert track.alert_id is not None and track.opened_at is not None
    return Alert(
        id=track.alert_id,
        rule=rule.id,
        severity=severity or track.severity or "warning",
        state="closed" if closed else "open",
        cell=cell,
        lat=lat,
        lon=lon,
        desks=desks,
        title=title,
        opened_at=track.opened_at,
        updated_at=now,
        closed_at=now if closed else None,
        evidence=evidence,
    )


def process_batch(
    events: list[Event],
    *,
    cells: Store[CellState],
    tracks: Store[Track],
    partition: int,
    now_ms: int,
    config: PipelineConfig | None = None,
    sweep: bool = False,
) -> Output:
    """Fold ``events`` into the cell states, then re-evaluate every rule they touch.

    ``now_ms`` is the event-time clock (watermark) of the partition. With
    ``sweep=True`` every cell and alert track of ``partition`` is also expired
    and re-evaluated, so alerts close and stale cells vanish without new input.
    """
    config = config or PipelineConfig()
    s = _Step(cells, tracks, partition, now_ms, config)
    touched: dict[str, None] = {}
    new_tickets: list[Ticket] = []
    for ev in events:
        if ev.cell is None:
            continue
        state = s.state(ev.cell) or initial(ev.cell, partition)
        s._fresh[ev.cell] = add(state, ev)  # expired and saved below
        touched[ev.cell] = None
        if isinstance(ev, Ticket):
            new_tickets.append(ev)
    if sweep:
        for cell in list(cells.keys_in_partition(partition)):
            if s.state(cell) != cells.get(cell):  # something in it went stale
                touched[cell] = None
    for cell in touched:
        state = s.state(cell)
        assert state is not None  # touched cells were just folded into or read from the store
        s.save(state)

    # Rules over the touched cells.
    for cell in touched:
        state = s.state(cell)
        if state is None:
            continue
        if state.cameras or s.tracks.get(_track_key(config.crowd.id, cell)):
            s.advance(config.crowd, cell, s.density(cell), _CrowdAlert(s, cell))
        for sensor_type in sorted({x.type for x in state.sensors}):
            s.advance(
                config.sensor,
                f"{cell}|{sensor_type}",
                s.sensor_alarm(cell, sensor_type),
                _SensorAlert(s, cell, sensor_type),
            )
    for ticket in new_tickets:
        _cluster(s, ticket)
    if sweep:
        for key in list(tracks.keys_in_partition(partition)):
            _resweep(s, key)
    return s.out


def _cluster(s: _Step, ticket: Ticket) -> None:
    """Join the ticket to an open cluster nearby, or open one if enough tickets gather."""
    assert ticket.cell is not None
    rule, k = s.config.hotline, s.config.cluster_k
    s.joined = True
    for anchor in sorted(h3.grid_disk(ticket.cell, k)):
        key = _track_key(rule.id, f"{ticket.category}|{anchor}")
        track = s.tracks.get(key)
        if track and track.phase in ("open", "clearing"):
            build = _ClusterAlert(s, anchor, ticket.category)
            s.advance(rule, f"{ticket.category}|{anchor}", len(build.tickets), build)
            return
    s.joined = False
    build = _ClusterAlert(s, ticket.cell, ticket.category)
    s.advance(rule, f"{ticket.category}|{ticket.cell}", len(build.tickets), build)


def _resweep(s: _Step, key: str) -> None:
    rule_id, subject = key.split("|", 1)
    s.joined = False
    if rule_id == s.config.crowd.id:
        s.advance(s.config.crowd, subject, s.density(subject), _CrowdAlert(s, subject))
    elif rule_id == s.config.sensor.id:
        cell, sensor_type = subject.split("|", 1)
        s.advance(
            s.config.sensor,
            subject,
            s.sensor_alarm(cell, sensor_type),
            _SensorAlert(s, cell, sensor_type),
        )
    elif rule_id == s.config.hotline.id:
        category, anchor = subject.split("|", 1)
        build = _ClusterAlert(s, anchor, category)
        s.advance(s.config.hotline, subject, len(build.tickets), build)
