"""The simulator's labels: ground truth for the Tongji Bridge incident, announced as it starts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from alerts.incidents.labels import Label
from citybrain.config.settings import Settings
from feeds.recording.files import LABELS_TOPIC, RecordedRecord, labels_in
from feeds.sim.city import build_city
from feeds.sim.producer import Sent
from feeds.sim.runner import run_with_publisher
from feeds.sim.scenario import LABEL_RADIUS_M, incident_labels
from feeds.sim.simulator import Simulator
from feeds.sim.tickets import scripted_ticket
from geo.district import load_district

START_MS = 1_739_359_800_000  # 2025-02-12 19:30 China Standard Time


def simulator(incident_at_s: float = 30.0) -> Simulator:
    settings = Settings().with_overrides(
        sim={"cameras": 20, "sensors": 5, "incident_at_s": incident_at_s}
    )
    city = build_city(settings.sim.seed, load_district(), 20, 5)
    return Simulator(city, settings.sim, START_MS)


def test_labels_cover_the_surge_and_the_calls() -> None:
    sim = simulator()
    start = sim.incident_start_ms
    crowd, calls = incident_labels(sim.incident, start)
    bridge, car_park = sim.city.bridge, sim.city.car_park

    assert (crowd.start_ms, crowd.end_ms) == (start, start + 330_000)  # ramp + hold + decay
    assert sim.incident.crowd.density_at((crowd.end_ms - start) / 1000) == sim.incident.crowd.base
    assert (crowd.lat, crowd.lon, crowd.rules) == (bridge.lat, bridge.lon, ("crowd.density",))

    tickets = [scripted_ticket(t, start) for t in sim.incident.tickets]
    assert (calls.start_ms, calls.end_ms) == (tickets[0].ts, tickets[-1].ts)
    assert (calls.lat, calls.lon, calls.rules) == (car_park.lat, car_park.lon, ("hotline.cluster",))
    assert all(calls.covers(t.lat, t.lon) or t.crs != "wgs84" for t in tickets)
    assert crowd.radius_m == calls.radius_m == LABEL_RADIUS_M
    assert crowd.id != calls.id and str(start) in crowd.id
    # What goes on the wire reads back as the same labels.
    assert [Label.from_dict(orjson.loads(orjson.dumps(x.to_dict()))) for x in (crowd, calls)] == [
        crowd,
        calls,
    ]


def test_labels_are_announced_once_in_the_interval_holding_the_start() -> None:
    sim = simulator()
    start = sim.incident_start_ms
    assert sim.labels_between(START_MS, start) == []
    assert sim.labels_between(start + 1, start + 600_000) == []
    split = [sim.labels_between(a, a + 500) for a in range(START_MS, START_MS + 60_000, 500)]
    assert [len(x) for x in split if x] == [2]
    assert sim.labels_between(start, start + 1) == list(incident_labels(sim.incident, start))


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, Any]]] = []

    async def send_events(self, kind: str, events: Sequence[Mapping[str, Any]]) -> Sent:
        self.events.extend((kind, e) for e in events)
        return Sent(len(events), 1, 0)

    async def flush(self) -> None:
        pass


class FakeLabels:
    def __init__(self) -> None:
        self.sent: list[Label] = []

    async def send_labels(self, labels: Sequence[Label]) -> Sent:
        self.sent.extend(labels)
        return Sent(len(labels), len(labels), 0)


def test_runner_announces_labels_only_with_a_label_publisher() -> None:
    settings = Settings().with_overrides(
        sim={"cameras": 10, "sensors": 2, "speed": 600.0, "incident_at_s": 20.0}
    )
    labels = FakeLabels()
    with_labels = FakePublisher()
    stats = asyncio.run(
        run_with_publisher(
            settings,
            with_labels,
            duration_s=60.0,
            start_ms=START_MS,
            tick_s=0.01,
            labels=labels,
        )
    )
    assert stats.labels == 2
    assert [x.start_ms for x in labels.sent] == [START_MS + 20_000, labels.sent[1].start_ms]
    without = FakePublisher()
    plain = asyncio.run(
        run_with_publisher(settings, without, duration_s=60.0, start_ms=START_MS, tick_s=0.01)
    )
    assert plain.labels == 0
    # The events are the same either way (their split into ticks follows the wall clock).
    assert sorted(without.events, key=repr) == sorted(with_labels.events, key=repr)

    wire = [
        RecordedRecord(LABELS_TOPIC, 0, i, START_MS, x.id.encode(), orjson.dumps(x.to_dict()))
        for i, x in enumerate(labels.sent)
    ]
    assert labels_in(wire) == labels.sent
