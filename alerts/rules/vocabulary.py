"""Fixed vocabulary the rules build on: desks, and when a sensor counts as in alarm.

The rules themselves are data: rule files (docs/rules.md), validated by
:mod:`alerts.rules.file` and evaluated by :mod:`alerts.rules.engine`; the set shipped
with the project is ``alerts/rulesets/default.yaml``.
"""

from __future__ import annotations

#: Desks alerts can be routed to.
DESKS = ("110", "12345", "chengguan", "fire", "traffic", "grid")

#: What each desk is called on screen: (Chinese, English).
DESK_NAMES: dict[str, tuple[str, str]] = {
    "110": ("110 指挥中心", "110 police"),
    "12345": ("12345 热线", "12345 hotline"),
    "chengguan": ("城管", "City management"),
    "fire": ("消防 119", "Fire and rescue"),
    "traffic": ("交警", "Traffic police"),
    "grid": ("网格站", "Grid stations"),
}

#: Sensor types whose alarms are life-safety critical (they weigh more in the risk score).
SENSOR_CRITICAL = frozenset({"smoke", "gas", "ebike_charging"})

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


def sensor_in_alarm(sensor_type: str, value: float, device_alarm: bool | None) -> bool:
    """The device's own flag wins when sent; otherwise the value against SENSOR_LIMITS."""
    if device_alarm is not None:
        return device_alarm
    limit = SENSOR_LIMITS.get(sensor_type)
    return limit is not None and value >= limit
