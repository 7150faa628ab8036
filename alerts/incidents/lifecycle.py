"""The people's side of an alert: open → acknowledged → resolved, expiry, escalation, audit.

Pure: no I/O, no clock. Every function takes the time it acts at and returns the
new :class:`Lifecycle` with the :class:`AuditEntry` it caused, so the same
inputs always give the same trail (replays, backtests, a second worker).

States (docs/protocol.md "Alert lifecycle")::

    open ──ack──────────► acknowledged ──resolve──► resolved
     │  └─assign─────────►      │                      │
     │                          └─ clear for stale_after ─► expired
     └─ clear for expire_after (nobody acknowledged) ──► expired
    resolved/expired ── a new signal within the cool-down ──► open (reopened)

  An alert *held for review* — at or above ``review_from`` severity (critical by
  default), or escalated — never expires: once its condition clears it waits,
  "cleared, awaiting review", until a person resolves it; while nobody has
  acknowledged it, it is ``reminded`` (the desks' alarm sounds again) every
  ``remind_every``.

* The *condition* (``active``: some signal of the incident open) is the
  machine's business; the *state* is the people's. They are independent: a
  person may resolve an alert whose crowd is still there, and an acknowledged
  alert stays in its desk's queue after the crowd has gone, until someone
  resolves it — a queue never loses an alert by itself.
* Escalation: an alert nobody has acknowledged within a rule's ``escalate.after``
  (counted from the start of the current episode — its opening or re-opening)
  gets the rule's severity and extra desks, once per rule and episode.
* ``version`` counts the audit entries of accepted transitions: entry ``n`` of
  alert ``a`` has id ``a/n``, so consumers can store entries idempotently and
  clients keep the alert with the highest version.

Times are epoch ms: machine transitions at the partition's event clock, actions
at the wall time the web server stamped on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, get_args

from alerts.incidents.detect import SEVERITY_RANK, worse

LifecycleState = Literal["open", "acknowledged", "resolved", "expired"]
LIFECYCLE_STATES: tuple[LifecycleState, ...] = get_args(LifecycleState)
CLOSED: frozenset[str] = frozenset({"resolved", "expired"})

ActionKind = Literal["ack", "assign", "resolve"]
ACTION_KINDS: tuple[ActionKind, ...] = get_args(ActionKind)

AuditAction = Literal[
    "opened",  # the first signal: the alert exists
    "acknowledged",
    "assigned",
    "resolved",
    "expired",
    "escalated",
    "reopened",  # a new signal joined a resolved or expired alert within the cool-down
    "reminded",  # held for review, still unacknowledged: the alarm sounds again
    "cleared",  # the condition is gone (every signal closed)
    "returned",  # the condition is back on an alert nobody closed
    "refused",  # an action the state did not allow (recorded, nothing changes)
]

SYSTEM = "system"  # who machine transitions are by


#: How many action ids a lifecycle remembers: redeliveries come within seconds.
TAKEN_KEEP = 64


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """Time limits of the lifecycle, ms, and which alerts only a person may close.

    ``review_from``: the lowest severity held for review (never expires by itself;
    escalated alerts always are), None for none; ``remind_every_ms``: how often an
    unacknowledged alert held for review is reminded (0: never).
    """

    expire_after_ms: int = 120_000  # nobody acknowledged, condition clear this long: expired
    stale_after_ms: int = 86_400_000  # acknowledged, clear this long, never resolved: expired
    review_from: str | None = "critical"
    remind_every_ms: int = 300_000


class EscalationPolicy(Protocol):
    """What escalation needs of a rule's ``escalate`` block (alerts.rules.spec.Escalation)."""

    @property
    def after_ms(self) -> int: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def add_desks(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Where the people are with one alert (stored with its incident)."""

    state: LifecycleState = "open"
    version: int = 1  # audit entries accepted so far (1: "opened")
    episode_at: int = 0  # ms, when the alert opened or last re-opened (escalation counts from it)
    acked_by: str | None = None
    acked_at: int | None = None
    assignee: str | None = None
    assigned_by: str | None = None
    assigned_at: int | None = None
    resolved_by: str | None = None
    resolved_at: int | None = None
    resolution: str | None = None  # the resolver's note
    closed_at: int | None = None  # ms, when it was resolved or expired
    escalated_at: int | None = None
    escalated_rules: tuple[str, ...] = ()  # rules whose escalation has fired this episode
    escalation_severity: str | None = None
    escalation_desks: tuple[str, ...] = ()
    reopened: int = 0
    held: bool = False  # held for review (:func:`held_for_review`), as of the last tick
    reminded: int = 0  # reminders this episode
    reminded_at: int | None = None  # ms, the latest
    # ids of the latest people's actions taken, accepted or refused (at most TAKEN_KEEP):
    # Kafka may deliver an action again after a worker restarts, and it must not count twice
    taken: tuple[str, ...] = ()

    @property
    def closed(self) -> bool:
        return self.state in CLOSED

    def took(self, action_id: str) -> bool:
        """Whether the action with this id was already taken (accepted or refused)."""
        return action_id in self.taken

    def taking(self, action_id: str) -> Lifecycle:
        """The lifecycle remembering that the action with this id was taken."""
        return replace(self, taken=(*self.taken, action_id)[-TAKEN_KEEP:])

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Lifecycle:
        known = {k: v for k, v in d.items() if k in cls.__slots__}
        for name in ("escalated_rules", "escalation_desks", "taken"):
            known[name] = tuple(known.get(name, ()))
        return cls(**known)


@dataclass(frozen=True, slots=True)
class Action:
    """A person's request about one alert (from the web server, over ``alerts.actions``)."""

    id: str  # unique per request (the web server's uuid)
    alert: str
    kind: ActionKind
    by: str  # the caller's name
    role: str
    at: int  # ms, wall time the web server accepted it
    note: str | None = None
    assignee: str | None = None  # for kind "assign"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of an alert's audit trail (published on ``alerts.audit``)."""

    id: str  # "<alert>/<version>" for transitions, "<alert>/refused/<action id>" otherwise
    alert: str
    at: int
    by: str
    role: str | None
    action: AuditAction
    from_state: LifecycleState
    to_state: LifecycleState
    severity: str
    desks: tuple[str, ...]
    note: str | None = None
    accepted: bool = True
    reason: str | None = None
    action_id: str | None = None
    rules: tuple[str, ...] = ()  # for "escalated": the rules that escalated

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alert": self.alert,
            "at": self.at,
            "by": self.by,
            "role": self.role,
            "action": self.action,
            "from": self.from_state,
            "to": self.to_state,
            "severity": self.severity,
            "desks": list(self.desks),
            "note": self.note,
            "accepted": self.accepted,
            "reason": self.reason,
            "action_id": self.action_id,
            "rules": list(self.rules),
        }


@dataclass(frozen=True, slots=True)
class Facts:
    """What the lifecycle needs of the incident at the moment it acts."""

    alert: str
    active: bool  # some signal open
    cleared_at: int | None  # ms, when the condition last cleared (None while active)
    severity: str  # the incident's own severity (before escalation)
    desks: tuple[str, ...]  # the incident's own desks (before escalation)
    open_rules: tuple[str, ...] = ()  # rules of the open, routed (non-shadow) signals


def severity_of(lc: Lifecycle, facts: Facts) -> str:
    """The alert's severity: the incident's, raised by escalation."""
    return worse(facts.severity, lc.escalation_severity) or facts.severity


def held_for_review(lc: Lifecycle, facts: Facts, config: LifecycleConfig) -> bool:
    """Whether only a person may close the alert: escalated, or its severity at or above
    ``config.review_from``."""
    if lc.escalated_at is not None:
        return True
    if config.review_from is None:
        return False
    rank = SEVERITY_RANK.get(severity_of(lc, facts), 0)
    return rank >= SEVERITY_RANK.get(config.review_from, 0)


def desks_of(lc: Lifecycle, facts: Facts) -> tuple[str, ...]:
    """The alert's desks: the incident's, then those escalation added, without repeats."""
    return tuple(dict.fromkeys((*facts.desks, *lc.escalation_desks)))


def _entry(
    old: Lifecycle,
    new: Lifecycle,
    facts: Facts,
    at: int,
    action: AuditAction,
    *,
    by: str = SYSTEM,
    role: str | None = None,
    note: str | None = None,
    action_id: str | None = None,
    rules: Iterable[str] = (),
) -> AuditEntry:
    return AuditEntry(
        id=f"{facts.alert}/{new.version}",
        alert=facts.alert,
        at=at,
        by=by,
        role=role,
        action=action,
        from_state=old.state,
        to_state=new.state,
        severity=severity_of(new, facts),
        desks=desks_of(new, facts),
        note=note,
        action_id=action_id,
        rules=tuple(rules),
    )


def opened(facts: Facts, at: int) -> tuple[Lifecycle, AuditEntry]:
    """A new alert: open, version 1."""
    lc = Lifecycle(episode_at=at)
    return lc, _entry(lc, lc, facts, at, "opened")


def refusal(lc: Lifecycle, kind: ActionKind) -> str | None:
    """Why ``kind`` is not allowed in ``lc``'s state, or None when it is."""
    if lc.closed:
        return f"alert is {lc.state}; nothing to {kind}"
    if kind == "ack" and lc.state == "acknowledged":
        return f"already acknowledged by {lc.acked_by}"
    return None


def apply_action(lc: Lifecycle, action: Action, facts: Facts) -> tuple[Lifecycle, AuditEntry]:
    """Apply a person's ``action``; a refused one leaves ``lc`` as it is (entry not accepted).

    ``assign`` on an open alert also acknowledges it (someone now owns it), so it
    no longer escalates; ``resolve`` works from open or acknowledged.
    """
    reason = refusal(lc, action.kind)
    if reason is not None:
        return lc, AuditEntry(
            id=f"{facts.alert}/refused/{action.id}",
            alert=facts.alert,
            at=action.at,
            by=action.by,
            role=action.role,
            action="refused",
            from_state=lc.state,
            to_state=lc.state,
            severity=severity_of(lc, facts),
            desks=desks_of(lc, facts),
            note=action.note,
            accepted=False,
            reason=reason,
            action_id=action.id,
        )
    version = lc.version + 1
    ack = {"acked_by": action.by, "acked_at": action.at} if lc.state == "open" else {}
    audit: AuditAction
    if action.kind == "ack":
        new = replace(lc, state="acknowledged", version=version, **ack)  # type: ignore[arg-type]
        audit = "acknowledged"
    elif action.kind == "assign":
        new = replace(
            lc,
            state="acknowledged",
            version=version,
            assignee=action.assignee,
            assigned_by=action.by,
            assigned_at=action.at,
            **ack,  # type: ignore[arg-type]
        )
        audit = "assigned"
    else:
        new = replace(
            lc,
            state="resolved",
            version=version,
            resolved_by=action.by,
            resolved_at=action.at,
            resolution=action.note,
            closed_at=action.at,
        )
        audit = "resolved"
    entry = _entry(
        lc, new, facts, action.at, audit, by=action.by, role=action.role, note=action.note
    )
    return new, replace(entry, action_id=action.id)


def on_signal(
    lc: Lifecycle, facts: Facts, *, was_active: bool, new_signal: bool, at: int
) -> tuple[Lifecycle, AuditEntry | None]:
    """The incident changed: a signal joined, opened again, or closed.

    A new signal on a closed alert re-opens it (fresh episode: acknowledgement,
    assignment, resolution and escalation start over); otherwise only the
    condition's comings and goings are recorded.
    """
    if lc.closed:
        if not (new_signal and facts.active):
            return lc, None
        new = Lifecycle(
            version=lc.version + 1,
            episode_at=at,
            reopened=lc.reopened + 1,
        )
        return new, _entry(lc, new, facts, at, "reopened")
    if was_active == facts.active:
        return lc, None
    new = replace(lc, version=lc.version + 1)
    return new, _entry(lc, new, facts, at, "returned" if facts.active else "cleared")


def tick(
    lc: Lifecycle,
    facts: Facts,
    at: int,
    config: LifecycleConfig,
    escalations: Mapping[str, EscalationPolicy],
) -> tuple[Lifecycle, list[AuditEntry]]:
    """Time passes: escalate what nobody acknowledged, remind of what is held for review
    and still unacknowledged, expire what stayed clear and is not held for review.

    ``escalations`` maps rule id → its escalate block (rules without one are absent).
    """
    entries: list[AuditEntry] = []
    if lc.state == "open" and facts.active:
        due = [
            (rule, escalations[rule])
            for rule in facts.open_rules
            if rule in escalations
            and rule not in lc.escalated_rules
            and at - lc.episode_at >= escalations[rule].after_ms
        ]
        if due:
            severity = lc.escalation_severity
            for _, policy in due:
                severity = worse(severity, policy.severity)
            new = replace(
                lc,
                version=lc.version + 1,
                escalated_at=at,
                escalated_rules=(*lc.escalated_rules, *(rule for rule, _ in due)),
                escalation_severity=severity,
                escalation_desks=tuple(
                    dict.fromkeys((*lc.escalation_desks, *(d for _, p in due for d in p.add_desks)))
                ),
            )
            entries.append(_entry(lc, new, facts, at, "escalated", rules=(r for r, _ in due)))
            lc = new
    held = held_for_review(lc, facts, config)
    if held != lc.held:  # what the screens show ("awaiting review"), not an audit entry
        lc = replace(lc, held=held)
    if lc.state == "open" and held and config.remind_every_ms > 0:
        last = lc.reminded_at if lc.reminded_at is not None else lc.episode_at
        if at - last >= config.remind_every_ms:
            new = replace(lc, version=lc.version + 1, reminded=lc.reminded + 1, reminded_at=at)
            minutes = (at - lc.episode_at) // 60_000
            note = f"unacknowledged for {minutes} min"
            entries.append(_entry(lc, new, facts, at, "reminded", note=note))
            lc = new
    if not facts.active and facts.cleared_at is not None and not lc.closed and not held:
        limit = config.expire_after_ms if lc.state == "open" else config.stale_after_ms
        if at - facts.cleared_at >= limit:
            new = replace(lc, state="expired", version=lc.version + 1, closed_at=at)
            minutes = (at - facts.cleared_at) // 60_000
            who = "nobody acknowledged" if lc.state == "open" else "acknowledged, never resolved"
            note = f"condition clear for {minutes} min, {who}"
            entries.append(_entry(lc, new, facts, at, "expired", note=note))
            lc = new
    return lc, entries
