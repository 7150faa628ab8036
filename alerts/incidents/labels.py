"""Labelled incidents: the ground truth a backtest measures time-to-detect against.

A label says "something that should raise an alert happened here, then": a
simulator scenario writes one when it starts an incident, and engineers write
them by hand for real recordings (JSON Lines, one object per line, format in
docs/rules.md "Backtest"). Pure: parsing and geometry only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from geo.measure import distance_m


class LabelError(ValueError):
    """A label object that is not usable; the message names the field."""


@dataclass(frozen=True, slots=True)
class Label:
    """One labelled incident.

    ``start_ms``/``end_ms`` are epoch ms (event time) of when it began and ended;
    ``lat``/``lon`` WGS-84 degrees of its centre and ``radius_m`` how far from it
    (metres) an alert still counts as detecting it. ``rules``, when given, are the
    rule ids expected to detect it (any of them); empty means any rule.
    """

    id: str
    name: str
    start_ms: int
    end_ms: int
    lat: float
    lon: float
    radius_m: float = 500.0
    rules: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "label",
            "id": self.id,
            "name": self.name,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "lat": self.lat,
            "lon": self.lon,
            "radius_m": self.radius_m,
            "rules": list(self.rules),
        }

    @classmethod
    def from_dict(cls, d: Any) -> Label:
        """Validate a decoded JSON object; raises :class:`LabelError` naming the field."""
        if not isinstance(d, dict):
            raise LabelError(f"a label is a JSON object, got {type(d).__name__}")
        for key in ("id", "start_ms", "end_ms", "lat", "lon"):
            if key not in d:
                raise LabelError(f"label lacks {key!r}")
        if not isinstance(d["id"], str) or not d["id"]:
            raise LabelError("label 'id' must be a non-empty string")
        start, end = _int(d, "start_ms"), _int(d, "end_ms")
        if end < start:
            raise LabelError(f"label {d['id']}: end_ms {end} is before start_ms {start}")
        lat, lon = _num(d, "lat"), _num(d, "lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise LabelError(f"label {d['id']}: lat/lon ({lat}, {lon}) out of range")
        radius = _num(d, "radius_m") if "radius_m" in d else 500.0
        if radius <= 0:
            raise LabelError(f"label {d['id']}: radius_m must be > 0")
        rules = d.get("rules") or []
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise LabelError(f"label {d['id']}: 'rules' must be a list of rule ids")
        name = d.get("name", d["id"])
        return cls(
            id=d["id"],
            name=str(name),
            start_ms=start,
            end_ms=end,
            lat=lat,
            lon=lon,
            radius_m=radius,
            rules=tuple(rules),
        )

    def covers(self, lat: float, lon: float) -> bool:
        """Whether WGS-84 ``lat``/``lon`` lies within ``radius_m`` of the label's centre."""
        return distance_m(self.lat, self.lon, lat, lon) <= self.radius_m


def _int(d: dict[str, Any], key: str) -> int:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise LabelError(f"label {d.get('id')}: {key!r} must be epoch milliseconds (integer)")
    return v


def _num(d: dict[str, Any], key: str) -> float:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise LabelError(f"label {d.get('id')}: {key!r} must be a finite number")
    return float(v)
