"""Backtest: run a rule set over a recording with the worker's own code, faster than real time.

The recording's input records are taken in file order, each at its Kafka timestamp
(its arrival time), and go through the worker's own driver
(:class:`streams.pipeline.driver.Driver`): each fetch of records through the input
consumer's stage (decoding with the same limits, the devices' ceilings, geocoding,
camera readings in columns, grouping by ``cells.ingest`` key), then each
``cells.ingest`` record that sends — the same bytes the worker sends — to the
partition Kafka's default partitioner gives its key, stepped as the cells agent steps
it (event clock, lateness, camera rounds every ``pipeline.measure_every_ms`` of
arrival time) on in-memory stores. A small in-memory loop stands in for the broker
(:mod:`citybrain.tools.backtest.loop`): records are delivered in send order, so what
a step sends (``near`` records: halo tickets, cluster marks, incidents) reaches its
partition after what was sent before it. Records arriving within ``FETCH_MS`` of each
other (and before the next tick) are one fetch, as the worker's consumer takes them;
every partition gets a tick once per second of recording time, as the worker's tick
timer sends them. Only the speed differs: no broker, no changelog, no waiting
(tests/agent/test_backtest_equals_worker.py holds the two to the same alerts and
cell views).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from alerts.incidents.alert import Alert
from alerts.incidents.detect import SEVERITY_RANK, worse
from alerts.rules.file import RuleSet, RuleSpec, rules_version
from citybrain.config.settings import Settings
from citybrain.tools.backtest.loop import TICK_MS, Fetch, MemoryBroker, schedule
from citybrain.tools.backtest.signal import Fired
from feeds.recording.format import RecordedRecord
from geo.cells import cell_center
from geo.geocode import load_gazetteer
from geo.zone_index import ZoneIndex
from streams.pipeline.cell_partitions import CellPartitions
from streams.pipeline.clock import EventClock
from streams.pipeline.config import decode_limits, lateness, pipeline_config
from streams.pipeline.device_rate import Ceiling
from streams.pipeline.driver import Driver
from streams.pipeline.ingest import Ingest
from streams.pipeline.step_data import Stores

__all__ = ["TICK_MS", "BacktestRun", "rule_fingerprint", "run_backtest"]


@dataclass(frozen=True, slots=True)
class BacktestRun:
    """What one rule set did over one recording.

    ``fired``: every signal at its final version; ``start_ms``/``end_ms``: arrival
    times (epoch ms) of the first and last input record; ``events``: valid events
    replayed; ``rejected``: events or records the worker would dead-letter;
    ``unlocated``: tickets no address placed; ``wall_s``: seconds the run took;
    ``alerts``: the newest version of every alert published (shadow ones too), in the
    order each was first published; ``views``: the last ``cells.state`` view of every
    cell still held at the end (cell id → view).
    """

    rules: RuleSet
    fired: tuple[Fired, ...]
    records: int
    events: int
    rejected: int
    unlocated: int
    start_ms: int
    end_ms: int
    wall_s: float
    alerts: tuple[Alert, ...] = ()
    views: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """Recording time per second of run time (how much faster than real time)."""
        return (self.end_ms - self.start_ms) / 1000 / self.wall_s if self.wall_s > 0 else 0.0


def rule_fingerprint(spec: RuleSpec) -> str:
    """A hash of one rule's meaning (the rule-set version of a set of just this rule)."""
    return rules_version([spec])


class _Signals:
    """The newest version of every signal seen in the alerts of a run."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[dict[str, Any], str]] = {}  # id -> (signal, incident id)
        self.severity: dict[str, str] = {}

    def collect(self, alert: Alert) -> None:
        for sig in alert.evidence["signals"]:
            sig_id = sig["id"]
            self.latest[sig_id] = (sig, alert.id)
            self.severity[sig_id] = worse(self.severity.get(sig_id), sig["severity"]) or ""

    def fired(self, rules: RuleSet) -> tuple[Fired, ...]:
        """The signals as :class:`Fired`; ``rule_version`` is the hash of the rule alone
        (:func:`rule_fingerprint`), so that comparing two sets shows which rules differ."""
        prints = {spec.id: rule_fingerprint(spec) for spec in rules.rules}
        out = []
        for sig_id, (sig, incident) in self.latest.items():
            lat, lon = cell_center(sig["cell"])
            severity = self.severity[sig_id]
            out.append(
                Fired(
                    id=sig_id,
                    rule=sig["rule"],
                    rule_version=prints.get(sig["rule"], sig["rule_version"]),
                    subject=sig.get("dedupe") or sig["cell"],
                    cell=sig["cell"],
                    lat=lat,
                    lon=lon,
                    severity=severity if severity in SEVERITY_RANK else "warning",
                    desks=tuple(sig["desks"]),
                    shadow=bool(sig["shadow"]),
                    opened_at=sig["opened_at"],
                    closed_at=sig["updated_at"] if sig["state"] == "closed" else None,
                    incident=incident,
                )
            )
        return tuple(sorted(out, key=lambda f: (f.opened_at, f.id)))


def run_backtest(
    records: Iterable[RecordedRecord],
    rules: RuleSet,
    settings: Settings,
    *,
    zones: ZoneIndex | None = None,
    progress: Callable[[RecordedRecord], None] | None = None,
) -> BacktestRun:
    """Replay the input records of ``records`` through the pipeline under ``rules``.

    ``settings`` gives everything else the worker would use (resolutions, windows,
    LOS bands, decoding limits, ``kafka.partitions``); ``zones`` the zone index
    (build it once with :func:`streams.pipeline.config.zone_index` when running several
    rule sets). Records of other topics (labels, outputs) are skipped.
    """
    started = time.perf_counter()
    p = settings.pipeline
    config = replace(pipeline_config(settings, zones), rules=rules)
    placed = config.placement
    assert placed is not None  # pipeline_config always places cells
    ingest = Ingest(
        decode_limits(settings),
        Ceiling(per_s=p.device_max_per_s, burst=p.device_burst),
        load_gazetteer(),
        placed,
    )
    cells = CellPartitions(
        Stores.in_memory(),
        None,
        EventClock(),
        lateness(settings),
        round_every_ms=p.measure_every_ms,
    )
    signals = _Signals()
    broker = MemoryBroker(
        Driver(ingest, cells, config), settings.kafka.partitions, rules, signals.collect
    )
    n_records = 0
    first_ms: int | None = None
    last_ms = 0
    for item in schedule(records, progress):
        if isinstance(item, Fetch):
            n_records += len(item.records)
            first_ms = item.first_ms if first_ms is None else first_ms
            last_ms = max(last_ms, item.wall_ms)
        broker.run(item)
    return BacktestRun(
        rules=rules,
        fired=signals.fired(rules),
        records=n_records,
        events=broker.events,
        rejected=broker.rejected,
        unlocated=broker.unlocated,
        start_ms=first_ms or 0,
        end_ms=last_ms,
        wall_s=time.perf_counter() - started,
        alerts=tuple(broker.alerts.values()),
        views=broker.views,
    )
