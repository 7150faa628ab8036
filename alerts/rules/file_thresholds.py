"""Thresholds and condition values: numbers with optional units, levels, true/false.

A number may carry its unit, in any accepted spelling (``"2.15 人/m²"``); it
must then be the metric's unit. Values come out canonical: floats in the
metric's canonical unit, level names as the catalogue spells them.
"""

from __future__ import annotations

import math

from alerts.rules.catalog import SENSOR_UNITS, Metric, canonical_unit
from alerts.rules.file_values import did_you_mean, split_number
from alerts.rules.spec import Scope, Threshold


class BadValue(ValueError):
    """A value that does not fit its metric; ``needle`` is the part of the text at fault."""

    def __init__(self, message: str, needle: str = "") -> None:
        super().__init__(message)
        self.message, self.needle = message, needle


def fmt(value: Threshold, unit: str | None) -> str:
    """A threshold for messages: ``2.15 persons/m2``, ``E``, ``true``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value!r} {unit}" if unit and unit != "1" else repr(value)
    return value


def rank(metric: Metric, value: Threshold) -> float:
    """A comparable number: a level's position in the metric's order, else the value."""
    return float(metric.rank(value)) if isinstance(value, str) else float(value)


def sensor_unit(scope: Scope) -> str | None:
    """The one unit shared by the scope's sensor types, or None (none, or several)."""
    units = {SENSOR_UNITS[t] for t in scope.sensor_types if t in SENSOR_UNITS}
    return units.pop() if len(units) == 1 else None


def parse_threshold(raw: object, metric: Metric, unit: str | None, what: str) -> Threshold:
    """``raw`` as a value of ``metric`` whose canonical unit is ``unit`` (None: unknown, any
    known unit passes); raises :class:`BadValue` naming ``what`` ("enter threshold")."""
    if metric.kind == "bool":
        if isinstance(raw, bool):
            return raw
        raise BadValue(f"{metric.name} is true or false; {what} cannot be {raw!r}")
    if metric.kind == "level":
        text = raw.strip().casefold() if isinstance(raw, str) else None
        level = next((x for x in metric.levels if x.casefold() == text), None)
        if level is None:
            hint = did_you_mean(raw, metric.levels) if isinstance(raw, str) else ""
            levels = ", ".join(metric.levels)
            raise BadValue(f"{metric.name} is a level ({levels}); {what} {raw!r} is not one{hint}")
        return level
    split = split_number(raw) if isinstance(raw, str) else None
    if isinstance(raw, float | int) and not isinstance(raw, bool):
        split = (float(raw), "")
    if split is None:
        in_unit = f" in {unit}" if unit else ""
        raise BadValue(f"{metric.name} is a number{in_unit}; {what} {raw!r} is not a number")
    number, written = split
    if written:
        canon = canonical_unit(written)
        if canon is None:
            expected = f"; {metric.name} is in {unit}" if unit else ""
            raise BadValue(f"unknown unit '{written}' in {what}{expected}", written)
        if unit is not None and canon != unit:
            raise BadValue(f"unit '{written}' does not match {metric.name}'s unit {unit}", written)
    if not math.isfinite(number):
        raise BadValue(f"{what} must be a finite number, got {raw!r}")
    low, high = metric.minimum, metric.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"{low:g} … {high:g}" if high is not None else f"≥ {low:g}"
        raise BadValue(f"{what} {fmt(number, unit)} is outside {metric.name}'s range {bounds}")
    return number
