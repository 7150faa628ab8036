"""Fusion into incidents: signals from different sources in one place and time → one alert.

A *signal* is what one rule says about one subject (a crowd density alarm on a
cell, a complaint cluster, a sensor alarm). Dispatchers do not want three
alerts for one event on Tongji Bridge; they want one *incident* listing the
crowd reading, the complaint cluster and the sensor alarm as evidence.

Fusion rule (pure, deterministic; docs/risk-model.md "Incidents"):

* A signal that opens joins the nearest incident whose anchor cell (where its
  first signal was) lies within ``radius_k`` H3 grid steps of it and that is
  not closed, or closed less than ``reopen_ms`` ago (a re-opening within the
  cool-down reuses the incident). Distance is to the anchor, not to any member,
  so a chain of signals cannot stretch one incident across a district. Ties go
  to the oldest incident. Otherwise the signal starts a new incident whose id
  is its own (deterministic) alert id.
* Its severity is the highest of its signals; its desks are the union of
  their desks, in order (escalation may add to both: :mod:`alerts.incidents.lifecycle`).
* An incident remembers the latest version of every signal that ever joined, and
  every hotline ticket any of them ever listed (up to :data:`MAX_KEPT_TICKETS`, the
  newest kept past that): a rule's window decides *detection*; it never erases the
  *evidence* a desk has seen.
* It stays where its first signal was (its *anchor*): a later signal joins it, it does
  not move it, so its place, nearest cameras and trend stay on what opened it.
* Its *condition* is active while any of its signals is open; its *state* is
  the people's (:mod:`alerts.incidents.lifecycle`): a resolved or expired incident is
  reused — re-opened — by a signal within ``reopen_ms`` of its closing, and an
  open or acknowledged one, active or not, is still in a queue and is joined
  like any open incident.
* Signals of shadow rules fuse only with each other: a shadow incident is for
  engineers' eyes, and a live incident never shows shadow evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import h3

from alerts.incidents.alert import Alert
from alerts.incidents.detect import SEVERITY_RANK
from alerts.incidents.lifecycle import (
    AuditEntry,
    Facts,
    Lifecycle,
    desks_of,
    on_signal,
    opened,
    severity_of,
)
from geo.cells import cell_center

SignalState = Literal["open", "closed"]

#: Tickets an incident keeps at most (the newest past that; ``tickets_total`` counts all).
MAX_KEPT_TICKETS = 200


@dataclass(frozen=True, slots=True)
class Signal:
    """One rule's finding about one subject, at its latest update."""

    id: str  # the rule track's deterministic alert id
    rule: str
    cell: str  # H3 cell the finding is about (a cluster's anchor cell)
    severity: str
    state: SignalState
    opened_at: int  # epoch ms, event time
    updated_at: int
    desks: tuple[str, ...]
    title: str
    evidence: dict[str, Any]
    shadow: bool = False  # evaluated and recorded, never routed to desks
    rule_version: str = ""  # version of the rule set that fired it

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signal:
        return cls(**{**d, "desks": tuple(d["desks"])})


@dataclass(frozen=True, slots=True)
class FusionConfig:
    radius_k: int = 2  # H3 grid steps at the fine resolution (res 9: ~0.3 km a step)
    reopen_ms: int = 600_000  # a closed incident is reused within this cool-down
    keep_closed_ms: int = 3_600_000  # resolved/expired incidents are forgotten after this


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    cell: str  # where the first signal was
    opened_at: int
    updated_at: int
    signals: tuple[Signal, ...]
    cleared_at: int | None = None  # ms, when the condition last cleared (None while active)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    # every ticket its signals ever listed (evidence form: id, ts, channel, category,
    # masked text, caller, cell, precision), by time; and how many there were in all
    tickets: tuple[dict[str, Any], ...] = ()
    tickets_total: int = 0

    @property
    def active(self) -> bool:
        """The condition holds: some signal is open."""
        return any(s.state == "open" for s in self.signals)

    @property
    def severity(self) -> str:
        """The worst severity of its (routed) signals, before escalation."""
        live = [s for s in self.signals if not s.shadow] or list(self.signals)
        return max((s.severity for s in live), key=lambda v: SEVERITY_RANK.get(v, 0))

    @property
    def desks(self) -> tuple[str, ...]:
        """The union of its routed signals' desks, before escalation."""
        return tuple(dict.fromkeys(d for s in self.signals if not s.shadow for d in s.desks))

    @property
    def shadow(self) -> bool:
        """All signals shadow: engineers see it, no desk is told."""
        return all(s.shadow for s in self.signals)

    def facts(self) -> Facts:
        """What :mod:`alerts.incidents.lifecycle` needs to know about the incident now."""
        return Facts(
            alert=self.id,
            active=self.active,
            cleared_at=self.cleared_at,
            severity=self.severity,
            desks=self.desks,
            open_rules=tuple(
                dict.fromkeys(s.rule for s in self.signals if s.state == "open" and not s.shadow)
            ),
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Incident:
        known = {k: v for k, v in d.items() if k in cls.__slots__}
        if "closed_at" in d and "cleared_at" not in d:  # stored before the lifecycle existed
            known["cleared_at"] = d["closed_at"]
        known["signals"] = tuple(Signal.from_dict(s) for s in d["signals"])
        known["lifecycle"] = Lifecycle.from_dict(d.get("lifecycle") or {})
        known["tickets"] = tuple(d.get("tickets") or ())
        return cls(**known)


def find_incident(
    incidents: Iterable[Incident], signal: Signal, now_ms: int, config: FusionConfig
) -> Incident | None:
    """The incident ``signal`` should join, or None for a new one (see module docstring)."""
    best: tuple[int, int, str] | None = None
    found: Incident | None = None
    for inc in incidents:
        if any(s.id == signal.id for s in inc.signals):
            return inc  # the signal already belongs here
        lc = inc.lifecycle
        if lc.closed and (lc.closed_at or 0) + config.reopen_ms < now_ms:
            continue  # closed too long ago: a new incident
        if inc.shadow != signal.shadow:
            continue  # shadow signals never change what desks see, nor the reverse
        d = _distance(inc.cell, signal.cell)  # from the anchor: incidents must not sprawl
        if d is None or d > config.radius_k:
            continue
        key = (d, inc.opened_at, inc.id)
        if best is None or key < best:
            best, found = key, inc
    return found


def _distance(a: str, b: str) -> int | None:
    try:
        return int(h3.grid_distance(a, b))
    except h3.H3FailedError:
        return None


def attach(
    incident: Incident | None, signal: Signal, now_ms: int
) -> tuple[Incident, AuditEntry | None]:
    """``incident`` with ``signal`` added or updated (a new incident when None), and the
    lifecycle's audit entry for it, if any (opened, reopened, cleared, returned)."""
    if incident is None:
        new = Incident(
            id=signal.id,
            cell=signal.cell,
            opened_at=signal.opened_at,
            updated_at=now_ms,
            signals=(signal,),
            cleared_at=now_ms if signal.state == "closed" else None,
        )
        new = keep_tickets(new, signal)
        lc, entry = opened(new.facts(), now_ms)
        return replace(new, lifecycle=lc), entry
    joined = not any(s.id == signal.id for s in incident.signals)
    if joined:
        signals = (*incident.signals, signal)
    else:  # a newer version: update in place
        signals = tuple(signal if s.id == signal.id else s for s in incident.signals)
    new = keep_tickets(replace(incident, signals=signals, updated_at=now_ms), signal)
    new = replace(new, cleared_at=None if new.active else (incident.cleared_at or now_ms))
    lc, maybe = on_signal(
        new.lifecycle,
        new.facts(),
        was_active=incident.active,
        new_signal=joined and signal.state == "open",
        at=now_ms,
    )
    return replace(new, lifecycle=lc), maybe


def keep_tickets(incident: Incident, signal: Signal) -> Incident:
    """``incident`` also keeping the tickets ``signal`` lists that it has not seen yet
    (by id), in time order, at most :data:`MAX_KEPT_TICKETS` (the newest)."""
    listed = signal.evidence.get("tickets")
    if not isinstance(listed, list) or not listed:
        return incident
    seen = {t.get("id") for t in incident.tickets}
    new = [t for t in listed if isinstance(t, dict) and t.get("id") not in seen]
    if not new:
        return incident
    unique = list({t.get("id"): t for t in new}.values())
    kept = sorted((*incident.tickets, *unique), key=lambda t: (t.get("ts") or 0, str(t.get("id"))))
    return replace(
        incident,
        tickets=tuple(kept[-MAX_KEPT_TICKETS:]),
        tickets_total=incident.tickets_total + len(unique),
    )


def forgettable(incident: Incident, now_ms: int, config: FusionConfig) -> bool:
    """Resolved or expired, quiet, and closed long enough ago to forget (bounded state)."""
    lc = incident.lifecycle
    return (
        lc.closed
        and not incident.active
        and lc.closed_at is not None
        and now_ms - lc.closed_at > config.keep_closed_ms
    )


def _lead(incident: Incident) -> Signal:
    """The signal that places the incident on the map: the worst open one (else the first)."""
    open_ = [s for s in incident.signals if s.state == "open"] or [incident.signals[0]]

    def rank(s: Signal) -> tuple[int, float]:
        score = (s.evidence.get("risk") or {}).get("score", 0.0)
        return SEVERITY_RANK.get(s.severity, 0), float(score)

    return max(open_, key=rank)  # max keeps the first of equals: the earliest signal


def to_alert(incident: Incident) -> Alert:
    """The alert desks and the map see for an incident, placed at its anchor (where its
    first signal was; ``evidence.lead`` names the worst open signal).

    ``rule`` is the rule of the first signal (what opened the incident);
    ``evidence.rules`` lists every rule that contributed.
    """
    first = incident.signals[0]
    lead = _lead(incident)
    lat, lon = cell_center(incident.cell)
    rules = list(dict.fromkeys(s.rule for s in incident.signals))
    worst = max((s.evidence.get("risk") or {}).get("score", 0.0) for s in incident.signals)
    title = " + ".join(dict.fromkeys(s.title for s in incident.signals if s.state == "open")) or (
        incident.signals[-1].title
    )
    facts, lc = incident.facts(), incident.lifecycle
    return Alert(
        id=incident.id,
        rule=first.rule,
        rule_version=first.rule_version,
        severity=severity_of(lc, facts),
        state=lc.state,
        cell=incident.cell,
        lat=lat,
        lon=lon,
        desks=desks_of(lc, facts),
        title=title,
        opened_at=incident.opened_at,
        updated_at=incident.updated_at,
        closed_at=lc.closed_at,
        active=incident.active,
        cleared_at=incident.cleared_at,
        lifecycle=lc,
        evidence={
            "anchor": incident.cell,
            "lead": lead.id,
            "rules": rules,
            "risk": worst,
            "shadow": incident.shadow,
            "tickets": list(incident.tickets),
            "tickets_total": incident.tickets_total,
            "signals": [
                {
                    "id": s.id,
                    "rule": s.rule,
                    "state": s.state,
                    "severity": s.severity,
                    "cell": s.cell,
                    "opened_at": s.opened_at,
                    "updated_at": s.updated_at,
                    "desks": list(s.desks),
                    "title": s.title,
                    "shadow": s.shadow,
                    "rule_version": s.rule_version,
                    **s.evidence,
                }
                for s in incident.signals
            ],
        },
    )
