"""The built-in rules: thresholds with hysteresis, dwell, severity and desks.

Thresholds are in the unit of the rule's metric (persons/m² for crowd density,
the sensor's own unit for sensor values, tickets for hotline clusters). A rule
opens when its metric stays ≥ ``enter`` for ``enter_dwell_ms`` and closes when it
stays < ``exit`` for ``exit_dwell_ms``; ``exit`` < ``enter`` gives hysteresis, so
a value hovering at the threshold does not flap.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.los import FRUIN_WALKWAY, STILL_CRITICAL_MOVING

Severity = str  # "info" | "warning" | "critical"
SEVERITIES = ("info", "warning", "critical")

#: Desks alerts can be routed to.
DESKS = ("110", "12345", "chengguan", "fire", "traffic", "grid")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    enter: float
    exit: float
    enter_dwell_ms: int
    exit_dwell_ms: int
    critical_at: float  # metric ≥ this makes the alert critical, else warning
    desks: tuple[str, ...]
    metric: str = "density"  # name in alerts/metric_catalog.py
    shadow: bool = False  # evaluated and recorded, never routed to desks

    def __post_init__(self) -> None:
        if self.exit > self.enter:
            raise ValueError(f"{self.id}: exit threshold {self.exit} above enter {self.enter}")
        if self.enter_dwell_ms < 0 or self.exit_dwell_ms < 0:
            raise ValueError(f"{self.id}: dwell times must be ≥ 0")
        unknown = set(self.desks) - set(DESKS)
        if unknown:
            raise ValueError(f"{self.id}: unknown desks {sorted(unknown)}")

    def severity(self, metric: float) -> Severity:
        return "critical" if metric >= self.critical_at else "warning"


#: Crowd density (persons/m²): opens at the walkway LOS E/F limit (≥ 2.15), critical at
#: Still's 4/m², closes once back at LOS D (≤ 1.08) for 30 s.
CROWD_DENSITY = Rule(
    id="crowd.density",
    enter=FRUIN_WALKWAY.limits[4],
    exit=FRUIN_WALKWAY.limits[3],
    enter_dwell_ms=10_000,
    exit_dwell_ms=30_000,
    critical_at=STILL_CRITICAL_MOVING,
    desks=("110", "chengguan"),
)

#: Rate of rise (persons/m² per minute) while the density is still below the crowd rule's
#: enter threshold: a fast rise is itself a warning (Still). Never critical on its own.
CROWD_RISE = Rule(
    id="crowd.rise",
    enter=0.5,
    exit=0.25,
    enter_dwell_ms=20_000,
    exit_dwell_ms=60_000,
    critical_at=float("inf"),
    desks=("110", "chengguan"),
    metric="trend",
)

#: Sensor alarm: metric is 1 while the sensor is in alarm, 0 otherwise.
SENSOR_ALARM = Rule(
    id="sensor.alarm",
    enter=1.0,
    exit=1.0,
    enter_dwell_ms=0,
    exit_dwell_ms=60_000,
    critical_at=2.0,  # set per sensor type through SENSOR_CRITICAL
    desks=("chengguan",),
    metric="sensor_alarm",
)

#: Hotline cluster: metric is the number of tickets of one category within the
#: cluster radius and the hotline window.
HOTLINE_CLUSTER = Rule(
    id="hotline.cluster",
    enter=5.0,
    exit=2.0,
    enter_dwell_ms=0,
    exit_dwell_ms=0,
    critical_at=10.0,
    desks=("12345",),
    metric="hotline_count",
)

#: Cluster radius in H3 grid steps at the fine resolution (k-ring; ~0.35 km per step at res 9).
HOTLINE_CLUSTER_K = 2

#: Sensor types whose alarms are critical and the desks they add.
SENSOR_CRITICAL = frozenset({"smoke", "gas", "ebike_charging"})
SENSOR_DESKS: dict[str, tuple[str, ...]] = {
    "smoke": ("fire", "110"),
    "gas": ("fire", "110"),
    "ebike_charging": ("fire",),
    "water_level": ("chengguan", "110"),
    "temperature": ("fire",),
    "noise": ("chengguan",),
}

#: Value at or above which a sensor is in alarm when the device sends no flag
#: (unit in brackets). Types not listed alarm only through the device flag.
SENSOR_LIMITS: dict[str, float] = {
    "smoke": 10.0,  # [%obs/m] optical smoke obscuration
    "gas": 20.0,  # [%LEL] lower explosive limit
    "water_level": 0.3,  # [m] standing water depth
    "temperature": 60.0,  # [°C]
    "ebike_charging": 70.0,  # [°C] charger temperature
    "noise": 85.0,  # [dB(A)]
}

#: Extra desks by hotline category.
CATEGORY_DESKS: dict[str, tuple[str, ...]] = {
    "traffic": ("110", "traffic"),
    "crowd": ("110",),
    "fire": ("fire", "110"),
    "parking": ("chengguan",),
    "noise": ("chengguan",),
}


def sensor_in_alarm(sensor_type: str, value: float, device_alarm: bool | None) -> bool:
    """The device's own flag wins when sent; otherwise the value against SENSOR_LIMITS."""
    if device_alarm is not None:
        return device_alarm
    limit = SENSOR_LIMITS.get(sensor_type)
    return limit is not None and value >= limit
