"""The city simulator: every input event of a time interval, as plain dicts.

Pure and deterministic. Each device reports on a fixed schedule of epoch time,
``ts = phase + k * period`` with a per-device phase drawn from the seed; each
reading's randomness is a hash of ``(seed, device, k)``; hotline tickets come
from fixed one-second slots; grid workers (:mod:`feeds.sim.gridworkers`) likewise. Hence::

    sim.events_between(a, c) == merge(sim.events_between(a, b), sim.events_between(b, c))

for any ``a <= b <= c``, and the same call always returns the same events.
"""

from __future__ import annotations

import math
from typing import Any, Final

from alerts.incidents.labels import Label
from citybrain.config.settings import SimSettings
from feeds.sim.city import City
from feeds.sim.gridworkers import GridWorkers
from feeds.sim.randomness import rng_for
from feeds.sim.readings import CrowdState, alarm_probability, camera_event, sensor_event
from feeds.sim.scenario import Incident, build_incident, incident_labels
from feeds.sim.tickets import SLOT_MS, background_tickets, scripted_ticket

KINDS: Final = ("camera", "sensor", "hotline", "worker")
"""Kinds of :meth:`Simulator.events_between`, each sent to ``events.<kind>``; ``worker``:
grid worker reports (:mod:`feeds.sim.gridworkers`)."""

Event = dict[str, Any]


def _period_ms(seconds: float) -> int:
    return max(1, round(seconds * 1000.0))


def _ticks(phase_ms: int, period_ms: int, t0_ms: int, t1_ms: int) -> range:
    """Tick indices k with ``t0 <= phase + k * period < t1``."""
    first = -((phase_ms - t0_ms) // period_ms)  # ceil((t0 - phase) / period)
    last = -((phase_ms - t1_ms) // period_ms)  # first k at or after t1
    return range(first, last)


def _sort(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e["ts"], e["id"]))


class Simulator:
    """Events of the simulated ``city`` from ``start_ms`` (epoch ms) on.

    The scripted incident starts at ``start_ms + settings.incident_at_s * 1000``.
    Cameras report every ``settings.camera_period_s``, sensors every
    ``settings.sensor_period_s``; background hotline tickets arrive at
    ``settings.hotline_per_min``; ``settings.grid_workers`` grid workers report every
    ``settings.worker_period_s`` while on duty, those near the bridge or the car park
    staying on duty through the incident. Events before ``start_ms`` can be asked
    for too (the background then simply runs earlier).
    """

    __slots__ = (
        "_alarm_p",
        "_cam_phase",
        "_camera_period_ms",
        "_crowd",
        "_sen_phase",
        "_sensor_period_ms",
        "city",
        "grid_workers",
        "incident",
        "incident_start_ms",
        "seed",
        "settings",
        "start_ms",
    )

    def __init__(self, city: City, settings: SimSettings, start_ms: int) -> None:
        self.city = city
        self.settings = settings
        self.seed = settings.seed
        self.start_ms = int(start_ms)
        self.incident_start_ms = self.start_ms + round(settings.incident_at_s * 1000.0)
        self.incident: Incident = build_incident(self.seed, city.bridge, city.car_park)
        self._crowd = CrowdState(self.incident_start_ms, self.incident.crowd)
        self._camera_period_ms = _period_ms(settings.camera_period_s)
        self._sensor_period_ms = _period_ms(settings.sensor_period_s)
        self._cam_phase = {
            c.id: rng_for("phase", self.seed, c.id).randrange(self._camera_period_ms)
            for c in city.cameras
        }
        self._sen_phase = {
            s.id: rng_for("phase", self.seed, s.id).randrange(self._sensor_period_ms)
            for s in city.sensors
        }
        self._alarm_p = alarm_probability(
            len(city.sensors), settings.sensor_period_s, settings.alarms_per_hour
        )
        last_s = max([self.incident.crowd.end_s, *(t.offset_s for t in self.incident.tickets)])
        self.grid_workers = GridWorkers(
            self.seed,
            city.district,
            settings.grid_workers,
            settings.worker_period_s,
            (self.incident_start_ms, self.incident_start_ms + round(last_s * 1000.0)),
            [(p.lat, p.lon) for p in (city.bridge, city.car_park)],
        )

    def events_between(self, t0_ms: int, t1_ms: int) -> dict[str, list[Event]]:
        """Events with ``t0_ms <= ts < t1_ms`` by kind (``camera``, ``sensor``,
        ``hotline``, ``worker``), each list sorted by ``(ts, id)``. Empty lists if
        ``t1 <= t0``."""
        return {
            "camera": self.camera_events(t0_ms, t1_ms),
            "sensor": self.sensor_events(t0_ms, t1_ms),
            "hotline": self.hotline_events(t0_ms, t1_ms),
            "worker": self.worker_events(t0_ms, t1_ms),
        }

    def worker_events(self, t0_ms: int, t1_ms: int) -> list[Event]:
        """Grid worker reports with ``t0_ms <= ts < t1_ms`` (:mod:`feeds.sim.gridworkers`)."""
        return self.grid_workers.events_between(t0_ms, t1_ms)

    def camera_events(self, t0_ms: int, t1_ms: int) -> list[Event]:
        """Camera readings with ``t0_ms <= ts < t1_ms``."""
        out: list[Event] = []
        period = self._camera_period_ms
        for cam in self.city.cameras:
            phase = self._cam_phase[cam.id]
            for k in _ticks(phase, period, t0_ms, t1_ms):
                out.append(camera_event(self.seed, cam, k, phase + k * period, self._crowd))
        return _sort(out)

    def sensor_events(self, t0_ms: int, t1_ms: int) -> list[Event]:
        """Sensor readings with ``t0_ms <= ts < t1_ms``."""
        out: list[Event] = []
        period = self._sensor_period_ms
        for sen in self.city.sensors:
            phase = self._sen_phase[sen.id]
            for k in _ticks(phase, period, t0_ms, t1_ms):
                ts = phase + k * period
                out.append(sensor_event(self.seed, sen, k, ts, self._crowd, self._alarm_p))
        return _sort(out)

    def hotline_events(self, t0_ms: int, t1_ms: int) -> list[Event]:
        """Background and scripted hotline tickets with ``t0_ms <= ts < t1_ms``."""
        out: list[Event] = []
        if t1_ms <= t0_ms:
            return out
        rate = self.settings.hotline_per_min
        if rate > 0:
            for slot in range(t0_ms // SLOT_MS, math.ceil(t1_ms / SLOT_MS)):
                for ticket in background_tickets(self.seed, self.city, rate, slot):
                    if t0_ms <= ticket.ts < t1_ms:
                        out.append(ticket.to_event())
        for scripted in self.incident.tickets:
            ticket = scripted_ticket(scripted, self.incident_start_ms)
            if t0_ms <= ticket.ts < t1_ms:
                out.append(ticket.to_event())
        return _sort(out)

    def labels_between(self, t0_ms: int, t1_ms: int) -> list[Label]:
        """The incident's labels (:func:`feeds.sim.scenario.incident_labels`) if it starts
        in ``[t0_ms, t1_ms)``: they are announced when the incident starts."""
        if t0_ms <= self.incident_start_ms < t1_ms:
            return list(incident_labels(self.incident, self.incident_start_ms))
        return []
