"""Alert on transitions, not levels: a hysteresis state machine per (rule, dedupe key).

``step(track, metric, now_ms, rule)`` is pure: it returns the next track and the
transition it caused (``opened``, ``escalated``, ``closed``) or ``None``. Times are
event-time epoch ms, so replays and backtests give the same alerts as live runs.

Metrics here are *signed*: a falling rule negates its metric and thresholds
(:mod:`alerts.rules.engine`), so this machine only knows "at or above enter opens,
below exit closes".

Phases: ``idle`` → (metric ≥ enter) → ``pending`` → (held for enter dwell) → ``open``
→ (metric < exit) → ``clearing`` → (held for exit dwell) → ``idle`` (closed).
A metric back ≥ exit while clearing returns to ``open`` without a new alert. A
closed track does not open again within the rule's cooldown. An open alert is
escalated when its severity rises with the metric. (Escalation for want of an
acknowledgement is the people's side of the alert: :mod:`alerts.incidents.lifecycle`.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

Phase = Literal["idle", "pending", "open", "clearing"]
Transition = Literal["opened", "escalated", "closed"]

#: Severities, lowest first; the order decides escalation.
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def worse(a: str | None, b: str | None) -> str | None:
    """The higher of two severities (None counts lowest)."""
    if a is None or b is None:
        return a or b
    return a if SEVERITY_RANK.get(a, 0) >= SEVERITY_RANK.get(b, 0) else b


class Hysteresis(Protocol):
    """What :func:`step` needs of a rule; thresholds in the signed metric (rising sense)."""

    @property
    def id(self) -> str: ...
    @property
    def enter(self) -> float: ...
    @property
    def exit(self) -> float: ...
    @property
    def enter_dwell_ms(self) -> int: ...
    @property
    def exit_dwell_ms(self) -> int: ...
    @property
    def cooldown_ms(self) -> int: ...
    def severity(self, metric: float) -> str: ...


@dataclass(frozen=True, slots=True)
class Track:
    """The state of one rule for one dedupe key.

    ``members`` holds the subjects (see :mod:`alerts.rules.engine`) currently at or
    above the exit threshold with their signed metric: several subjects may share
    a dedupe key (one alert per zone, say), and the track follows the worst of
    them. ``cell`` is where the alert is placed (its worst member's cell).
    """

    rule: str
    subject: str  # the dedupe key
    phase: Phase = "idle"
    since: int = 0  # ms, when the current phase began
    alert_id: str | None = None
    opened_at: int | None = None
    severity: str | None = None
    peak: float = 0.0  # highest signed metric while open
    incident: str | None = None  # id of the incident this track's signal belongs to
    cell: str | None = None
    lead: str | None = None  # subject key of the worst member
    members: tuple[tuple[str, float], ...] = ()
    closed_at: int | None = None  # when the last alert closed (for the cooldown)

    @property
    def metric(self) -> float:
        """The signed metric of the worst member (−inf when none is hot)."""
        return max((v for _, v in self.members), default=float("-inf"))

    def with_member(self, subject: str, metric: float, exit_threshold: float) -> Track:
        """The track with ``subject``'s metric updated; calm subjects (< exit) leave."""
        rest = tuple((s, v) for s, v in self.members if s != subject)
        if metric >= exit_threshold:
            rest = tuple(sorted((*rest, (subject, metric))))
        return replace(self, members=rest)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Track:
        known = {k: v for k, v in d.items() if k in cls.__slots__}
        known["members"] = tuple((s, float(v)) for s, v in d.get("members", ()))
        return cls(**known)


def alert_id(rule: str, subject: str, opened_at: int) -> str:
    """Deterministic id, so a replay or a second worker names the same alert the same way."""
    digest = hashlib.blake2b(f"{rule}|{subject}|{opened_at}".encode(), digest_size=6)
    return "a-" + digest.hexdigest()


def cooling(track: Track, now_ms: int, rule: Hysteresis) -> bool:
    """Whether an idle track is still inside its cooldown (and must be kept)."""
    return track.closed_at is not None and now_ms - track.closed_at < rule.cooldown_ms


def step(
    track: Track, metric: float, now_ms: int, rule: Hysteresis
) -> tuple[Track, Transition | None]:
    """Advance ``track`` with a new signed ``metric`` observed at ``now_ms``."""
    above_enter = metric >= rule.enter
    if track.phase in ("idle", "pending"):
        if not above_enter or cooling(track, now_ms, rule):
            if track.phase == "idle":
                return track, None
            return replace(track, phase="idle", since=now_ms), None
        since = track.since if track.phase == "pending" else now_ms
        if now_ms - since < rule.enter_dwell_ms:
            return replace(track, phase="pending", since=since), None
        opened = replace(
            track,
            phase="open",
            since=now_ms,
            opened_at=now_ms,
            alert_id=alert_id(rule.id, track.subject, now_ms),
            severity=rule.severity(metric),
            peak=metric,
            closed_at=None,
            incident=None,
        )
        return opened, "opened"
    # open or clearing
    peak = max(track.peak, metric)
    if metric < rule.exit:
        since = track.since if track.phase == "clearing" else now_ms
        if now_ms - since >= rule.exit_dwell_ms:
            return replace(track, phase="idle", since=now_ms, peak=peak, closed_at=now_ms), "closed"
        return replace(track, phase="clearing", since=since, peak=peak), None
    severity = worse(track.severity, rule.severity(metric))
    new = replace(
        track,
        phase="open",
        since=now_ms if track.phase == "clearing" else track.since,
        peak=peak,
        severity=severity,
    )
    return new, "escalated" if severity != track.severity else None
