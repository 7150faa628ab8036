"""Alert on transitions, not levels: a hysteresis state machine per (rule, subject).

``step(track, metric, now_ms, rule)`` is pure: it returns the next track and the
transition it caused (``opened``, ``escalated``, ``closed``) or ``None``. Times are
event-time epoch ms, so replays give the same alerts as live runs.

Phases: ``idle`` → (metric ≥ enter) → ``pending`` → (held for enter dwell) → ``open``
→ (metric < exit) → ``clearing`` → (held for exit dwell) → ``idle`` (closed).
A metric back ≥ exit while clearing returns to ``open`` without a new alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal

from alerts.rules import Rule

Phase = Literal["idle", "pending", "open", "clearing"]
Transition = Literal["opened", "escalated", "closed"]


@dataclass(frozen=True, slots=True)
class Track:
    rule: str
    subject: str  # what the rule watches: a cell, cell|sensor type, category|anchor cell
    phase: Phase = "idle"
    since: int = 0  # ms, when the current phase began
    alert_id: str | None = None
    opened_at: int | None = None
    severity: str | None = None
    peak: float = 0.0  # highest metric while open
    incident: str | None = None  # id of the incident this track's signal belongs to


def alert_id(rule: str, subject: str, opened_at: int) -> str:
    """Deterministic id, so a replay or a second worker names the same alert the same way."""
    digest = hashlib.blake2b(f"{rule}|{subject}|{opened_at}".encode(), digest_size=6)
    return "a-" + digest.hexdigest()


def step(track: Track, metric: float, now_ms: int, rule: Rule) -> tuple[Track, Transition | None]:
    """Advance ``track`` with a new ``metric`` observed at ``now_ms``."""
    above_enter = metric >= rule.enter
    below_exit = metric < rule.exit
    if track.phase in ("idle", "pending"):
        if not above_enter:
            return (
                (replace(track, phase="idle", since=now_ms), None)
                if track.phase != "idle"
                else (track, None)
            )
        since = track.since if track.phase == "pending" else now_ms
        if now_ms - since >= rule.enter_dwell_ms:
            opened_at = now_ms
            return (
                replace(
                    track,
                    phase="open",
                    since=now_ms,
                    opened_at=opened_at,
                    alert_id=alert_id(rule.id, track.subject, opened_at),
                    severity=rule.severity(metric),
                    peak=metric,
                ),
                "opened",
            )
        return replace(track, phase="pending", since=since), None
    # open or clearing
    peak = max(track.peak, metric)
    if below_exit:
        since = track.since if track.phase == "clearing" else now_ms
        if now_ms - since >= rule.exit_dwell_ms:
            return replace(track, phase="idle", since=now_ms, peak=peak), "closed"
        return replace(track, phase="clearing", since=since, peak=peak), None
    severity = rule.severity(metric)
    escalated = severity == "critical" and track.severity != "critical"
    new = replace(
        track,
        phase="open",
        since=now_ms if track.phase == "clearing" else track.since,
        peak=peak,
        severity="critical" if escalated else track.severity,
    )
    return new, "escalated" if escalated else None
