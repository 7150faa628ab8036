"""One step of the cell pipeline (pure): fold a batch, measure, run the rules, fuse incidents.

:func:`process_batch` is what the ``cells`` agent calls for every record of the
``cells.ingest`` topic and for every tick, and what a backtest calls over a
recording. It reads and writes four stores (cell states, rule tracks,
incidents, baselines) and returns what to publish: changed cell views, removed
cells, and incident alerts.

Per batch: events are folded into their cells; every touched cell is measured
(:func:`alerts.crowd.cell_metrics.cell_metrics`); the rule set (``config.rules``, from
rule files, :mod:`alerts.rules.engine`) is evaluated on every subject the batch
touched — cells, sensor types in them, hotline clusters around new tickets,
zones of touched cells; each rule steps its hysteresis track per dedupe key;
every signal that opens, escalates, grows or closes is fused into an incident
(:mod:`alerts.incidents.incident`), and the incident is what desks receive. A sweep
re-evaluates every track of the partition, so alerts close, escalate and
cool down without new input, and tracks of rules no longer in the set close.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from string import Formatter
from typing import TYPE_CHECKING, Any

import h3

from alerts.crowd.camera_fusion import stale_cameras
from alerts.crowd.cell_metrics import (
    CellContext,
    CellMetrics,
    cell_metrics,
    clusterable,
    sample_baselines,
)
from alerts.crowd.zone_metrics import ZoneCell, zone_metrics
from alerts.incidents.detect import Track, Transition, cooling, step
from alerts.incidents.incident import Incident, Signal, attach, find_incident
from alerts.incidents.lifecycle import Action
from alerts.rules.engine import (
    CALM,
    CompiledRule,
    CompiledRules,
    Subject,
    SubjectKind,
    Value,
    compile_rules,
    parse_subject_key,
)
from geo.cells import cell_area_m2, cell_center
from streams.pipeline.camera_cells import CameraCells
from streams.pipeline.cellfold import CellState, TicketObs, add, add_all, expire, initial
from streams.pipeline.cellview import view
from streams.pipeline.events import Event, Ticket
from streams.pipeline.evidence import (
    cluster_evidence,
    crowd_evidence,
    sensor_evidence,
    zone_evidence,
)
from streams.pipeline.halo import Forwarded, Mark, Near, halo_key
from streams.pipeline.lifecycle_step import apply_actions, escalations, publish, sweep_incidents
from streams.pipeline.step_data import (
    Output,
    PipelineConfig,
    Stores,
)

if TYPE_CHECKING:
    from geo.zone_index import ZoneIndex


@lru_cache(maxsize=65_536)
def _cell_area(cell: str) -> float:
    return cell_area_m2(cell)


@lru_cache(maxsize=65_536)
def _center(cell: str) -> tuple[float, float]:
    return cell_center(cell)


def _track_key(rule: str, dedupe: str) -> str:
    return f"{rule}|{dedupe}"


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


@dataclass(slots=True)
class Observed:
    """A subject with its metric values now, and how to describe it in evidence."""

    subject: Subject
    values: Callable[[str], Value]
    evidence: Callable[[], dict[str, Any]]
    desks_first: tuple[str, ...] = ()  # desks the subject itself calls for (ticket channels)


def _memo(compute: Callable[[str], Value]) -> Callable[[str], Value]:
    cache: dict[str, Value] = {}

    def lookup(name: str) -> Value:
        if name not in cache:
            cache[name] = compute(name)
        return cache[name]

    return lookup


class _Step:
    """The work of one batch; holds the stores and collects the output."""

    def __init__(
        self,
        stores: Stores,
        partition: int,
        now_ms: int,
        config: PipelineConfig,
        cameras: CameraCells | None = None,
    ):
        self.st, self.partition, self.now, self.config = stores, partition, now_ms, config
        self.cameras = cameras
        self.rules: CompiledRules = compile_rules(config.rules)
        self.out = Output()
        self.fresh: dict[str, CellState | None] = {}
        self.metrics: dict[str, CellMetrics] = {}
        self._zones_at: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._clusters: dict[tuple[str, str], list[tuple[TicketObs, str]]] = {}
        self.done: set[tuple[str, str]] = set()  # (rule, subject key) evaluated this batch

    # -- cells -------------------------------------------------------------------------------
    def state(self, cell: str) -> CellState | None:
        """The cell's state expired to ``now`` (cached for the batch)."""
        if cell not in self.fresh:
            raw = self.st.cells.get(cell)
            self.fresh[cell] = expire(raw, self.now, self.config.windows) if raw else None
        return self.fresh[cell]

    def measure(self, cell: str) -> None:
        """Compute the cell's metrics, keep its trend sample, save it and its view."""
        state = self.state(cell)
        assert state is not None  # touched cells were just folded into or read from the store
        if self.held(cell):  # the camera round measures it, its sensors and tickets too
            self.fresh[cell] = self._keep(cell, state)
            assert self.cameras is not None
            self.cameras.due(cell, self.fresh[cell])
            return
        if state.is_empty():
            self.st.cells.delete(cell)
            self.fresh[cell] = None
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
        self.fresh[cell], self.metrics[cell] = state, m
        self.out.cells[cell] = view(state, m)
        sampled = sample_baselines(baselines, m, self.now, self.config.metrics.baseline)
        if sampled is not None:
            self.st.baselines.put(cell, sampled, self.partition)

    def held(self, cell: str) -> bool:
        """Whether the camera rounds measure ``cell``."""
        return self.cameras is not None and self.cameras.holds(cell)

    def _keep(self, cell: str, state: CellState) -> CellState | None:
        """Save (or, when nothing is left, drop) the per-object part of a camera cell."""
        if state.is_empty():
            self.st.cells.delete(cell)
            return None
        self.st.cells.put(cell, state, state.partition)
        return state

    def cell_metrics(self, cell: str) -> CellMetrics | None:
        if cell not in self.metrics:
            if self.held(cell):
                assert self.cameras is not None
                held = self.cameras.metrics(cell)  # measured at this step's time
                if held is not None:
                    self.metrics[cell] = held
                return held
            if self.state(cell) is not None:
                self.measure(cell)
        return self.metrics.get(cell)

    # -- subjects ----------------------------------------------------------------------------
    def zones_of(self, cell: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(zone ids, zone kinds) of a cell."""
        if cell not in self._zones_at:
            found = self.config.zones.zones_at(cell) if self.config.zones else ()
            kinds = tuple(dict.fromkeys(z.kind for z in found))
            self._zones_at[cell] = (tuple(z.id for z in found), kinds)
        return self._zones_at[cell]

    def subject(
        self,
        kind: SubjectKind,
        cell: str,
        *,
        sensor_type: str | None = None,
        category: str | None = None,
        zone: str | None = None,
    ) -> Subject:
        lat, lon = _center(cell)
        zones: tuple[str, ...]
        kinds: tuple[str, ...]
        if zone is not None and self.config.zones is not None:
            zones, kinds = (zone,), (self.config.zones.zones[zone].kind,)
        else:
            zones, kinds = self.zones_of(cell)
        return Subject(kind, cell, lat, lon, zones, kinds, sensor_type, category)

    def observe_cell(self, cell: str) -> Observed | None:
        m = self.cell_metrics(cell)
        if m is None:
            return None
        return Observed(self.subject("cell", cell), m.value, lambda: crowd_evidence(m))

    def observe_sensor(self, cell: str, sensor_type: str) -> Observed | None:
        m = self.cell_metrics(cell)
        f = m.sensor(sensor_type) if m else None
        if m is None or f is None:
            return None
        values: dict[str, Value] = {"sensor_value": f.value, "sensor_alarm": f.alarm}
        values["sensor_z"] = f.z
        state = self.state(cell)
        readings = state.sensors if state else ()
        return Observed(
            self.subject("sensor", cell, sensor_type=sensor_type),
            values.get,
            lambda: sensor_evidence(sensor_type, readings, m),
        )

    def owns(self, cell: str) -> bool:
        """Whether ``cell`` is placed on this partition."""
        placement = self.config.placement
        return placement is None or placement.partition(cell) == self.partition

    def tickets_state(self, cell: str) -> CellState | None:
        """The cell's tickets as this partition knows them: its own cell state, or the
        halo copy of a cell placed on another partition; expired to ``now``."""
        if self.owns(cell):
            return self.state(cell)
        raw = self.st.halo.get(halo_key(self.partition, cell))
        return expire(raw, self.now, self.config.windows) if raw else None

    def cluster_tickets(self, anchor: str, category: str) -> list[tuple[TicketObs, str]]:
        """Clusterable tickets of ``category`` within ``cluster_k`` steps of ``anchor``
        (those of cells on other partitions from the halo)."""
        key = (anchor, category)
        if key not in self._clusters:
            found: list[tuple[TicketObs, str]] = []
            for cell in h3.grid_disk(anchor, self.config.cluster_k):
                state = self.tickets_state(cell)
                if state:
                    found.extend(
                        (t, cell)
                        for t in state.tickets
                        if t.category == category and clusterable(t, self.config.metrics)
                    )
            self._clusters[key] = sorted(found, key=lambda tc: (tc[0].ts, tc[0].id))
        return self._clusters[key]

    def observe_cluster(self, category: str, anchor: str) -> Observed:
        def compute(name: str) -> Value:
            if name == "hotline_count":
                return float(len(self.cluster_tickets(anchor, category)))
            if name == "hotline_z":
                m = self.cell_metrics(anchor)
                return m.hotline_z if m else None
            return None

        def evidence() -> dict[str, Any]:
            self.cell_metrics(anchor)  # so the signal carries the anchor's risk
            return cluster_evidence(
                category,
                self.cluster_tickets(anchor, category),
                radius_k=self.config.cluster_k,
                window_s=self.config.windows.hotline_ms // 1000,
            )

        channels = sorted({t.channel for t, _ in self.cluster_tickets(anchor, category)})
        return Observed(
            self.subject("hotline", anchor, category=category),
            _memo(compute),
            evidence,
            desks_first=tuple(channels),
        )

    def observe_zone(self, zone: str) -> Observed | None:
        index, areas = self.config.zones, self.config.zone_areas
        if index is None or areas is None or zone not in index.zones:
            return None
        live: dict[str, ZoneCell] = {}
        for cell in index.cells_of_zone[zone]:
            m = self.cell_metrics(cell)
            if m is not None:
                alarms = [f for f in m.sensors if f.alarm]
                live[cell] = ZoneCell(
                    density=m.density,
                    trend=m.trend,
                    alarms=len(alarms),
                    tickets=m.tickets_total,
                )
        figures = zone_metrics(index, areas, live, self.config.metrics.los)
        z = next((f for f in figures if f.zone == zone), None)
        if z is None:
            return None
        lead = max(live, key=lambda c: (live[c].density or 0.0, c))
        values: dict[str, Value] = {
            "zone_density": z.density,
            "zone_people": z.people,
            "zone_risk": z.risk.score,
        }
        info = index.zones[zone]
        return Observed(
            self.subject("zone", lead, zone=zone),
            values.get,
            lambda: zone_evidence(z, info.name, info.kind),
        )

    def resolve(self, key: str) -> Observed | None:
        """The subject named by a :attr:`Subject.key`, observed now; None when it is gone."""
        kind, parts = parse_subject_key(key)
        if kind == "cell":
            return self.observe_cell(parts[0])
        if kind == "sensor":
            return self.observe_sensor(parts[0], parts[1])
        if kind == "hotline":
            return self.observe_cluster(parts[0], parts[1])
        return self.observe_zone(parts[0])

    # -- rules -------------------------------------------------------------------------------
    def evaluate(self, rule: CompiledRule, obs: Observed, *, grew: bool = False) -> None:
        """Feed the subject's metric to the rule's track for its dedupe key."""
        if (rule.id, obs.subject.key) in self.done and not grew:
            return
        self.done.add((rule.id, obs.subject.key))
        signed = rule.signed(obs.values, self.now)
        key = _track_key(rule.id, rule.dedupe_key(obs.subject))
        track = self.st.tracks.get(key)
        if track is None:
            if signed < rule.enter:
                return  # nothing to remember for quiet subjects
            track = Track(rule=rule.id, subject=rule.dedupe_key(obs.subject))
        before = len(track.members)
        track = track.with_member(obs.subject.key, signed, rule.exit)
        joined = len(track.members) > before  # one more subject under this alert: tell desks
        self.advance(rule, key, track, {obs.subject.key: obs}, grew=grew or joined)

    def advance(
        self,
        rule: CompiledRule,
        key: str,
        track: Track,
        known: dict[str, Observed],
        *,
        grew: bool = False,
    ) -> None:
        """Step the track; on a transition (or a growing cluster) update the incident."""
        new, transition = step(track, track.metric, self.now, rule)
        if new.members:
            lead = max(new.members, key=lambda m: (m[1], m[0]))[0]
            new = replace(new, lead=lead) if lead != new.lead else new
        growing = grew and new.phase == "open" and track.phase == "open"
        if transition is not None or growing:
            obs = known.get(new.lead) if new.lead else None
            if obs is None and new.lead:
                obs = self.resolve(new.lead)
            new = self.emit(new, self.signal(rule, new, transition, obs))
        if new.phase == "idle" and not cooling(new, self.now, rule):
            self.st.tracks.delete(key)
        else:
            self.st.tracks.put(key, new, self.partition)
        if rule.kind == "hotline" and _is_open(track) != _is_open(new):
            self.mark(key, track, new)

    def mark(self, key: str, *tracks: Track) -> None:
        """Tell the partitions near a cluster's anchors that it opened or closed."""
        placement = self.config.placement
        if placement is None:
            return
        anchors = {t.cell for t in tracks if t.cell}
        for track in tracks:
            anchors.update(m.split(":")[2] for m, _ in track.members if m.startswith("hotline:"))
        mark = Mark(key, _is_open(tracks[-1]), self.now)
        for near in sorted({k for a in anchors for k in placement.halo_keys(a)}):
            self.out.tell(near).marks.append(mark)

    def signal(
        self, rule: CompiledRule, track: Track, transition: Transition | None, obs: Observed | None
    ) -> Signal:
        assert track.alert_id is not None and track.opened_at is not None
        spec = rule.spec
        subject = obs.subject if obs else None
        values = obs.values if obs else (lambda _name: None)
        if subject is not None:
            zh, en = rule.message(subject, values)
            assert obs is not None
            own = rule.desks(subject)
            desks = tuple(dict.fromkeys([*obs.desks_first, *own]))
            cell = subject.cell
        else:  # the subject is gone (the cell emptied): keep what the incident knew
            zh = en = spec.description or spec.id
            desks = spec.desks
            cell = track.cell or ""
        m = self.metrics.get(cell)
        value = values(spec.metric)
        evidence = {
            **(obs.evidence() if obs else {}),
            "metric": spec.metric,
            "value": value,
            "unit": rule.unit(subject) if subject else None,
            "peak": rule.raw(track.peak),
            "enter_threshold": spec.enter,
            "exit_threshold": spec.exit,
            "direction": spec.direction,
            "dwell_s": spec.enter_dwell_ms / 1000,
            "dedupe": track.subject,
            "subjects": len(track.members),
            "message": {"zh": zh, "en": en},
            "risk": {"score": m.risk.score, "factors": m.risk.factors} if m else None,
        }
        return Signal(
            id=track.alert_id,
            rule=spec.id,
            cell=cell,
            severity=track.severity or "warning",
            state="closed" if transition == "closed" else "open",
            opened_at=track.opened_at,
            updated_at=self.now,
            desks=desks,
            title=zh if zh == en else f"{zh} · {en}",
            evidence=evidence,
            shadow=spec.shadow,
            rule_version=rule.version,
        )

    def emit(self, track: Track, signal: Signal) -> Track:
        """Fuse ``signal`` into its incident, publish the incident, remember the link."""
        return replace(track, incident=self.fuse(track.incident, signal), cell=signal.cell)

    def ghost(self, incident: str) -> Incident | None:
        """Another partition's incident near this one's cells, as last told."""
        return self.st.ghosts.get(halo_key(self.partition, incident))

    def fuse(self, current: str | None, signal: Signal) -> str:
        """Attach ``signal`` to incident ``current``, or to the one it should join, or to a
        new one; returns the incident's id. An incident of another partition gets the
        signal forwarded (streams/pipeline/halo.py): that partition is its only writer."""
        ghost = self.ghost(current) if current else None
        incident = self.st.incidents.get(current) if ghost is None and current else None
        if ghost is None and incident is None:
            store, ghosts = self.st.incidents, self.st.ghosts
            here = (store.get(k) for k in store.keys_in_partition(self.partition))
            near = [g for k in ghosts.keys_in_partition(self.partition) if (g := ghosts.get(k))]
            candidates = [*(i for i in here if i is not None), *near]
            incident = find_incident(candidates, signal, self.now, self.config.fusion)
            if incident is not None and any(incident is g for g in near):
                ghost, incident = incident, None
        if ghost is not None:
            placement = self.config.placement
            assert placement is not None  # ghosts come only from placed partitions
            self.out.tell(placement.key(ghost.cell)).signals.append(Forwarded(ghost.id, signal))
            return ghost.id
        return self.attach(incident, signal).id

    def attach(self, incident: Incident | None, signal: Signal) -> Incident:
        """Attach ``signal`` to this partition's ``incident`` (a new one when None), save
        and publish it."""
        incident, entry = attach(incident, signal, self.now)
        self.st.incidents.put(incident.id, incident, self.partition)
        publish(self.out, incident, [entry] if entry else [])
        return incident

    def retire(self, key: str, track: Track) -> None:
        """Close the alert of a track whose rule left the rule set (or was disabled)."""
        self.st.tracks.delete(key)
        if _is_open(track):  # a mark for a cluster's neighbours (others ignore it)
            self.mark(key, track, replace(track, phase="idle"))
        if not _is_open(track) or not track.incident:
            return
        incident = self.ghost(track.incident) or self.st.incidents.get(track.incident)
        signals = incident.signals if incident else ()
        old = next((s for s in signals if s.id == track.alert_id), None)
        if incident is None or old is None:
            return
        reason = f"rule {track.rule} is not in rule set {self.rules.version}"
        closed = replace(
            old,
            state="closed",
            updated_at=self.now,
            evidence={**old.evidence, "closed_reason": reason},
        )
        self.fuse(track.incident, closed)

    def resweep(self, key: str) -> None:
        """Re-evaluate every subject of a stored track (tick without new input)."""
        track = self.st.tracks.get(key)
        if track is None:
            return
        rule = self.rules.by_id.get(track.rule)
        if rule is None:
            self.retire(key, track)
            return
        members = [s for s, _ in track.members]
        if not members:  # nothing hot: let exit dwell and cooldown run out
            self.advance(rule, key, track, {})
        for subject_key in members:
            if (rule.id, subject_key) in self.done:
                continue
            self.done.add((rule.id, subject_key))
            current = self.st.tracks.get(key)
            if current is None:
                return  # closed and forgotten by an earlier member's step
            obs = self.resolve(subject_key)
            hot = obs is not None and rule.in_scope(obs.subject)
            signed = rule.signed(obs.values, self.now) if obs is not None and hot else CALM
            current = current.with_member(subject_key, signed, rule.exit)
            self.advance(rule, key, current, {subject_key: obs} if obs else {})


def _is_open(track: Track) -> bool:
    return track.phase in ("open", "clearing")


def _stale(state: CellState, s: _Step) -> tuple[str, ...]:
    return stale_cameras(state.cameras, s.now, s.config.metrics.camera_stale_ms)


def process_batch(
    events: list[Event],
    *,
    stores: Stores,
    partition: int,
    now_ms: int,
    config: PipelineConfig | None = None,
    sweep: bool = False,
    actions: list[Action] | None = None,
    near: Near | None = None,
    cameras: CameraCells | None = None,
    camera_round: bool = False,
) -> Output:
    """Fold ``events`` into the cell states, measure the touched cells, run the rules.

    ``now_ms`` is the event-time clock (watermark) of the partition. With
    ``sweep=True`` every cell, rule track and incident of ``partition`` is also
    re-checked, so cameras go stale, alerts close, escalate and expire, and old
    state is forgotten without new input. ``actions`` (people's acknowledge /
    assign / resolve requests) are applied first, then ``near``: what other partitions
    tell this one about their side of the boundary (streams/pipeline/halo.py). ``Output.near``
    is what this batch tells them.

    ``cameras``: the partition's cells that hold camera readings are measured in rounds
    by the columnar path, not here (:class:`CameraCells`); ``camera_round=True`` runs a
    round in this step, after the per-object cells are measured and before any rule
    runs, so rules see both sides at ``now_ms``.
    """
    config = config or PipelineConfig()
    s = _Step(stores, partition, now_ms, config, cameras)
    if actions:
        s.out.unknown_actions = apply_actions(
            actions, stores=stores, partition=partition, out=s.out
        )
    halo = _take(s, near) if near else []
    by_cell: dict[str, list[Event]] = {}
    for ev in events:
        if ev.cell is not None:
            by_cell.setdefault(ev.cell, []).append(ev)
    touched: dict[str, None] = {}
    for cell, arrived in by_cell.items():
        state = s.state(cell) or initial(cell, partition)
        s.fresh[cell] = add_all(state, arrived)  # measured and saved below
        touched[cell] = None
    new_tickets = [ev for ev in events if isinstance(ev, Ticket) and ev.cell is not None]
    if sweep:
        for cell in list(stores.cells.keys_in_partition(partition)):
            fresh = s.state(cell)
            if fresh is None:
                continue
            if fresh != stores.cells.get(cell) or _stale(fresh, s) != fresh.stale:
                touched[cell] = None  # something expired, or gone stale
    for cell in touched:
        s.measure(cell)
    evaluated = {cell: None for cell in touched if not s.held(cell)}
    zone_cells: list[str] = []
    if cameras is not None and camera_round:
        zone_cells = _camera_round(s, cameras, touched, evaluated)
    _evaluate_cells(s, evaluated, zone_cells)
    for ticket in new_tickets:
        if clusterable(ticket, config.metrics):
            _cluster(s, ticket)
    for ticket in halo:
        if clusterable(ticket, config.metrics):
            _cluster(s, ticket, start=False)
    if sweep:
        for key in list(stores.tracks.keys_in_partition(partition)):
            s.resweep(key)
        for key in list(stores.halo.keys_in_partition(partition)):
            held = stores.halo.get(key)
            left = expire(held, now_ms, config.windows) if held else None
            if left is None or not left.tickets:
                stores.halo.delete(key)
            elif left != held:
                stores.halo.put(key, left, partition)
        sweep_incidents(
            stores=stores,
            partition=partition,
            now_ms=now_ms,
            config=config,
            policies=escalations(s.rules),
            out=s.out,
        )
    _tell_neighbours(s)
    return s.out


def _take(s: _Step, near: Near) -> list[Ticket]:
    """Store what another partition told: its open clusters and incidents near here,
    its tickets near here (returned, to be clustered), and attach the signals it
    forwarded to this partition's incidents."""
    st, p = s.st, s.partition
    for mark in near.marks:
        if mark.open:
            st.marks.put(halo_key(p, mark.track), mark, p)
        else:
            st.marks.delete(halo_key(p, mark.track))
    for incident in near.incidents:
        st.ghosts.put(halo_key(p, incident.id), incident, p)
    for gone in near.gone:
        st.ghosts.delete(halo_key(p, gone))
    for forwarded in near.signals:
        # None when forgotten here meanwhile: the signal then opens an incident anew
        s.attach(st.incidents.get(forwarded.incident), forwarded.signal)
    tickets = []
    for ticket in near.tickets:
        if ticket.cell is None or s.owns(ticket.cell):
            continue  # not a halo ticket for this partition
        key = halo_key(p, ticket.cell)
        held = st.halo.get(key)
        held = expire(held, s.now, s.config.windows) if held else initial(ticket.cell, p)
        st.halo.put(key, add(held, ticket), p)
        tickets.append(ticket)
    return tickets


def _tell_neighbours(s: _Step) -> None:
    """Send each incident that changed or was forgotten to the partitions within the
    fusion radius of its anchor."""
    placement = s.config.placement
    if placement is None:
        return
    radius = s.config.fusion.radius_k
    for incident_id in s.out.alerts:
        incident = s.st.incidents.get(incident_id)
        if incident is not None:
            for key in placement.halo_keys(incident.cell, radius):
                s.out.tell(key).incidents.append(incident)
    for incident in s.out.forgotten:
        for key in placement.halo_keys(incident.cell, radius):
            s.out.tell(key).gone.append(incident.id)


def _camera_round(
    s: _Step, cameras: CameraCells, touched: Iterable[str], evaluated: dict[str, None]
) -> list[str]:
    """Run the camera cells' round in this step: its views and removals join the output,
    the cells it hands the rules join ``evaluated``, cells it handed back are measured
    here; returns the cells it measured (their zones' rules are evaluated)."""
    done = cameras.round(s.now, _tracked(s))
    s.out.cells.update(done.views)
    s.out.removed.extend(done.removed)
    s.metrics.update(done.metrics)
    back = []
    for cell, series in done.handed_back.items():
        state = s.state(cell)
        if state is not None:
            s.fresh[cell] = replace(state, density=series)
            s.measure(cell)
            back.append(cell)
    # the rules see cells in the order the step touched them, as the per-object path does
    news = {**dict.fromkeys(done.metrics), **dict.fromkeys(back)}
    order = {cell: None for cell in touched if cell in evaluated or cell in news}
    order.update(news)
    evaluated.clear()
    evaluated.update(order)
    return done.measured


def _tracked(s: _Step) -> Callable[[list[str]], list[bool]]:
    """Which of some cells a track of a cell rule is kept for (the rules must see those,
    whatever their figures: only the track knows what comes next)."""
    keys: dict[str, set[str]] = {}  # cell rule → dedupe keys of its tracks
    for key in s.st.tracks.keys_in_partition(s.partition):
        track = s.st.tracks.get(key)
        rule = s.rules.by_id.get(track.rule) if track is not None else None
        if track is not None and rule is not None and rule.kind == "cell":
            keys.setdefault(rule.id, set()).add(track.subject)

    def marked(cells: list[str]) -> list[bool]:
        out = [False] * len(cells)
        for rule_id, held in keys.items():
            rule = s.rules.by_id[rule_id]
            template = rule.spec.dedupe
            by_cell = {f for _, f, _, _ in Formatter().parse(template) if f} <= {"rule", "cell"}
            for i, cell in enumerate(cells):
                if out[i]:
                    continue
                if by_cell:  # the common key: a string format, not a subject per cell
                    found = template.format_map({"rule": rule_id, "cell": cell})
                else:
                    found = rule.dedupe_key(s.subject("cell", cell))
                out[i] = found in held
        return out

    return marked


def _evaluate_cells(s: _Step, touched: dict[str, None], zone_cells: Iterable[str] = ()) -> None:
    """Cell, sensor and zone rules on every measured cell of the batch (and zone rules on
    the zones of ``zone_cells``)."""
    cell_rules, sensor_rules = s.rules.of("cell"), s.rules.of("sensor")
    zone_rules = s.rules.of("zone")
    zones: dict[str, None] = {}
    if zone_rules:
        for cell in zone_cells:
            zones.update(dict.fromkeys(s.zones_of(cell)[0]))
    for cell in touched:
        m = s.metrics.get(cell)
        if m is None:
            continue
        if cell_rules:
            obs = s.observe_cell(cell)
            for rule in cell_rules:
                if obs is not None and rule.in_scope(obs.subject):
                    s.evaluate(rule, obs)
        if sensor_rules:
            for f in m.sensors:
                sensor_obs = s.observe_sensor(cell, f.type)
                for rule in sensor_rules:
                    if sensor_obs is not None and rule.in_scope(sensor_obs.subject):
                        s.evaluate(rule, sensor_obs)
        if zone_rules:
            zones.update(dict.fromkeys(s.zones_of(cell)[0]))
    for zone in zones:
        zone_obs = s.observe_zone(zone)
        for rule in zone_rules:
            if zone_obs is not None and rule.in_scope(zone_obs.subject):
                s.evaluate(rule, zone_obs)


def _cluster(s: _Step, ticket: Ticket, *, start: bool = True) -> None:
    """Join the ticket to the first open cluster nearby (anchors in H3 order), or, with
    ``start``, start one at the ticket's cell. The first open cluster may be another
    partition's (known from its mark): its owner counts the ticket from its halo copy and
    from the copy this partition sends it, so nothing else happens here. ``start=False``
    for halo tickets: their own partition starts their clusters."""
    assert ticket.cell is not None
    for rule in s.rules.of("hotline"):
        here = s.subject("hotline", ticket.cell, category=ticket.category)
        if not rule.in_scope(here):
            continue
        for anchor in sorted(h3.grid_disk(ticket.cell, s.config.cluster_k)):
            near = s.subject("hotline", anchor, category=ticket.category)
            key = _track_key(rule.id, rule.dedupe_key(near))
            if not s.owns(anchor):
                if s.st.marks.get(halo_key(s.partition, key)) and rule.in_scope(near):
                    # Another partition's open cluster takes it. Its owner counts the
                    # ticket from the ingest's halo copy; this partition tells it of the
                    # ticket as well, so the count does not rest on that one copy (a
                    # ticket counts once, however many copies arrive).
                    placement = s.config.placement
                    if start and placement is not None:
                        s.out.tell(placement.key(anchor)).tickets.append(ticket)
                    break
                continue
            track = s.st.tracks.get(key)
            if track and _is_open(track) and rule.in_scope(near):
                s.evaluate(rule, s.observe_cluster(ticket.category, anchor), grew=True)
                break
        else:
            if start:
                s.evaluate(rule, s.observe_cluster(ticket.category, ticket.cell))
