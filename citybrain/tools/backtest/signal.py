"""A fired signal: what the backtest runner hands over for each alert a rule raised (pure).

One :class:`Fired` per signal at its final version; :func:`fired_id` names it the
same way in every run. Summarised by :mod:`citybrain.tools.backtest.report`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

SEVERITIES: Final = ("info", "warning", "critical")


def fired_id(rule: str, subject: str, opened_at: int) -> str:
    """Deterministic signal id: the same rule, subject and opening time (epoch ms) give
    the same id in every run, so two runs' signals can be named alike."""
    text = f"{rule}\x1f{subject}\x1f{opened_at}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Fired:
    """One signal — one rule's alert about one subject — at its final version.

    ``subject`` is the rule's dedupe key value (e.g. ``crowd.density:89411c0a2a3ffff``);
    ``cell`` its H3 cell and ``lat``/``lon`` WGS-84 degrees. ``severity`` is the highest
    it reached. ``desks`` are where it goes (for a shadow signal: where it would have
    gone; shadow rules are evaluated and recorded, never routed). ``opened_at`` and
    ``closed_at`` are epoch ms of event time, ``closed_at`` None when the recording
    ended with it open. ``incident`` is the id of the incident it was fused into.
    """

    id: str
    rule: str
    rule_version: str
    subject: str
    cell: str
    lat: float
    lon: float
    severity: str
    desks: tuple[str, ...]
    shadow: bool
    opened_at: int
    closed_at: int | None = None
    incident: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"signal {self.id}: severity {self.severity!r} not in {SEVERITIES}")
        if self.closed_at is not None and self.closed_at < self.opened_at:
            raise ValueError(f"signal {self.id}: closed_at {self.closed_at} before opened_at")

    def open_ms(self, end_ms: int) -> int:
        """How long (ms) it was open; one still open counts until ``end_ms``."""
        closed = self.closed_at if self.closed_at is not None else end_ms
        return max(0, closed - self.opened_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "rule_version": self.rule_version,
            "subject": self.subject,
            "cell": self.cell,
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "severity": self.severity,
            "desks": list(self.desks),
            "shadow": self.shadow,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "incident": self.incident,
        }
