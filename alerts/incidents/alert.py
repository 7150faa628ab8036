"""The alert object sent to desks, the map and the ``alerts`` topic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alerts.incidents.lifecycle import Lifecycle, LifecycleState


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert at one moment of its life; see docs/protocol.md for each field."""

    id: str
    rule: str
    severity: str
    state: LifecycleState  # the people's state (alerts.incidents.lifecycle)
    cell: str
    lat: float  # WGS-84 degrees
    lon: float
    desks: tuple[str, ...]
    title: str
    opened_at: int  # epoch ms (event time)
    updated_at: int
    closed_at: int | None = None  # when it was resolved or expired
    evidence: dict[str, Any] = field(default_factory=dict)
    rule_version: str | None = None  # version of the rule set whose rule opened it
    active: bool = True  # the condition holds (some signal open)
    cleared_at: int | None = None  # when the condition last cleared
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    def to_dict(self) -> dict[str, Any]:
        lc = self.lifecycle
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
            "active": self.active,
            "cleared_at": self.cleared_at,
            "version": lc.version,
            "acked_by": lc.acked_by,
            "acked_at": lc.acked_at,
            "assignee": lc.assignee,
            "assigned_by": lc.assigned_by,
            "assigned_at": lc.assigned_at,
            "resolved_by": lc.resolved_by,
            "resolved_at": lc.resolved_at,
            "resolution": lc.resolution,
            "escalated": lc.escalated_at is not None,
            "escalated_at": lc.escalated_at,
            "reopened": lc.reopened,
            # cleared, not closed, and only a person may close it
            "awaiting_review": not self.active and not lc.closed and lc.held,
            "reminded": lc.reminded,
            "reminded_at": lc.reminded_at,
            "evidence": self.evidence,
        }
