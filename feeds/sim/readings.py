"""Device readings: one camera count or sensor value, a pure function of its inputs.

A reading depends only on ``(seed, device, tick, ts)`` and the crowd state at
``ts``; its randomness comes from :func:`feeds.sim.randomness.rng_for`. Output dicts
follow the input contract in ``docs/protocol.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from feeds.sim.city import Camera, Sensor
from feeds.sim.randomness import rng_for
from feeds.sim.scenario import CrowdCurve, daily_profile

BRIDGE_WIDTH_M: Final = 9.9
FREE_WALK_SPEED_M_S: Final = 1.34
JAM_DENSITY: Final = 5.4
SPILLOVER_SHARE: Final = 0.45
SPILLOVER_SCALE_M: Final = 150.0
SPILLOVER_MAX_M: Final = 600.0
ALARM_EPISODE_TICKS: Final = 2


@dataclass(frozen=True, slots=True)
class CrowdState:
    """The crowd drivers: the incident curve anchored at ``incident_start_ms`` (epoch ms)."""

    incident_start_ms: int
    curve: CrowdCurve

    def bridge_density(self, ts_ms: int) -> float:
        """Scripted bridge density (persons/m²) at ``ts_ms``."""
        return self.curve.density_at((ts_ms - self.incident_start_ms) / 1000.0)

    def surge(self, ts_ms: int) -> float:
        """Bridge density above its normal level (persons/m²)."""
        return self.bridge_density(ts_ms) - self.curve.base

    def bridge_rate(self, ts_ms: int) -> float:
        """d(density)/dt on the bridge, persons/m² per second."""
        return self.curve.rate_at((ts_ms - self.incident_start_ms) / 1000.0)


def walking_speed(density: float) -> float:
    """Mean walking speed (m/s) at ``density`` persons/m² (linear speed-density law)."""
    return max(0.15, FREE_WALK_SPEED_M_S * (1.0 - density / JAM_DENSITY))


def camera_density(cam: Camera, ts_ms: int, crowd: CrowdState, noise: float) -> float:
    """True density (persons/m²) seen by ``cam`` at ``ts_ms``, times ``noise`` (~1)."""
    if cam.zone == "bridge":
        # The approach camera, a few metres off the deck, sees slightly fewer.
        factor = max(0.8, 1.0 - cam.bridge_distance_m / 200.0)
        return crowd.bridge_density(ts_ms) * factor * noise
    density = cam.base_density * daily_profile(ts_ms) * noise
    if cam.bridge_distance_m < SPILLOVER_MAX_M:
        spill = SPILLOVER_SHARE * math.exp(-cam.bridge_distance_m / SPILLOVER_SCALE_M)
        density += crowd.surge(ts_ms) * spill
    return density


def camera_event(
    seed: int, cam: Camera, tick: int, ts_ms: int, crowd: CrowdState
) -> dict[str, Any]:
    """One camera reading as an input event (``people`` int >= 0, ``area_m2`` m²)."""
    rng = rng_for("camera", seed, cam.id, tick)
    sigma = 0.05 if cam.zone == "bridge" else 0.15
    noise = math.exp(rng.gauss(0.0, sigma))
    density = camera_density(cam, ts_ms, crowd, noise)
    event: dict[str, Any] = {
        "id": f"{cam.id}-{ts_ms}",
        "camera": cam.id,
        "ts": ts_ms,
        "lat": cam.reported_lat,
        "lon": cam.reported_lon,
        "people": max(0, round(density * cam.area_m2)),
        "area_m2": cam.area_m2,
    }
    if cam.crs != "wgs84":
        event["crs"] = cam.crs
    if cam.zone == "bridge":
        through = density * walking_speed(density) * BRIDGE_WIDTH_M * 60.0
        net = crowd.bridge_rate(ts_ms) * cam.area_m2 * 60.0
        event["flow_in"] = round(max(0.0, through + max(net, 0.0)), 1)
        event["flow_out"] = round(max(0.0, through + max(-net, 0.0)), 1)
    return event


def alarm_probability(sensors: int, period_s: float, episodes_per_hour: float = 15.0) -> float:
    """Per-sensor, per-tick chance an alarm episode starts, so that the whole city
    sees about ``episodes_per_hour`` episodes (one every four minutes by default)."""
    if sensors <= 0:
        return 0.0
    ticks_per_hour = sensors * 3600.0 / period_s
    return min(1.0, episodes_per_hour / ticks_per_hour)


def _alarm_starts(seed: int, sensor_id: str, tick: int, p: float) -> bool:
    return rng_for("alarm", seed, sensor_id, tick).random() < p


def sensor_in_alarm(seed: int, sensor: Sensor, tick: int, p: float) -> bool:
    """An episode started at this tick or one of the previous ones still running."""
    return any(_alarm_starts(seed, sensor.id, tick - k, p) for k in range(ALARM_EPISODE_TICKS))


def sensor_event(
    seed: int, sensor: Sensor, tick: int, ts_ms: int, crowd: CrowdState, alarm_p: float
) -> dict[str, Any]:
    """One sensor reading as an input event; ``value`` in ``sensor.unit``."""
    rng = rng_for("sensor", seed, sensor.id, tick)
    alarm = sensor_in_alarm(seed, sensor, tick, alarm_p)
    span = sensor.normal_max - sensor.normal_min
    if alarm:
        value = rng.uniform(sensor.alarm_min, sensor.alarm_max)
    elif sensor.type == "noise" and sensor.bridge_distance_m < 50.0:
        # The bridge's noise meter follows the crowd, but never to alarm level.
        value = 55.0 + 4.0 * crowd.bridge_density(ts_ms) + rng.gauss(0.0, 1.5)
        value = min(value, sensor.alarm_min - 1.0)
    else:
        phase = rng_for("phase", seed, sensor.id).random()
        cycle = math.sin(2.0 * math.pi * (ts_ms / 21_600_000.0 + phase))
        level = min(1.0, max(0.0, 0.5 + 0.3 * cycle + rng.gauss(0.0, 0.08)))
        value = sensor.normal_min + span * level
    event: dict[str, Any] = {
        "id": f"{sensor.id}-{ts_ms}",
        "sensor": sensor.id,
        "ts": ts_ms,
        "lat": sensor.reported_lat,
        "lon": sensor.reported_lon,
        "type": sensor.type,
        "value": round(value, 3),
        "unit": sensor.unit,
        "alarm": alarm,
    }
    if sensor.crs != "wgs84":
        event["crs"] = sensor.crs
    return event
