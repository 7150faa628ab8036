"""The alert object sent to desks, the map and the ``alerts`` topic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AlertState = Literal["open", "closed"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert at one moment of its life; see docs/protocol.md for each field."""

    id: str
    rule: str
    severity: str
    state: AlertState
    cell: str
    lat: float  # WGS-84 degrees
    lon: float
    desks: tuple[str, ...]
    title: str
    opened_at: int  # epoch ms (event time)
    updated_at: int
    closed_at: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    rule_version: str | None = None  # version of the rule set whose rule opened it

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "rule_version": self.rule_version,
            "severity": self.severity,
            "state": self.state,
            "cell": self.cell,
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "desks": list(self.desks),
            "title": self.title,
            "opened_at": self.opened_at,
            "updated_at": self.updated_at,
            "closed_at": self.closed_at,
            "evidence": self.evidence,
        }
