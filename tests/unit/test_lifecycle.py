"""The alert lifecycle (pure): states, people's actions, escalation, expiry, audit trail."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.incidents.lifecycle import (
    Action,
    Facts,
    Lifecycle,
    LifecycleConfig,
    apply_action,
    on_signal,
    opened,
    refusal,
    tick,
)
from alerts.rules.spec import Escalation

T0 = 1_790_000_000_000
CONFIG = LifecycleConfig(expire_after_ms=120_000, stale_after_ms=3_600_000)
ESCALATE = {
    "crowd.density": Escalation(after_ms=180_000, severity="critical", add_desks=("traffic",))
}
LIVE = Facts(
    alert="a-1",
    active=True,
    cleared_at=None,
    severity="warning",
    desks=("110", "chengguan"),
    open_rules=("crowd.density",),
)
CLEAR = replace(LIVE, active=False, cleared_at=T0 + 60_000, open_rules=())
CRITICAL = replace(LIVE, severity="critical")
CRITICAL_CLEAR = replace(CLEAR, severity="critical")
NO_REMINDERS = replace(CONFIG, remind_every_ms=0)


def act(kind: str, at_s: float, by: str = "王调度", **kw: object) -> Action:
    return Action(
        id=f"act-{kind}-{at_s}",
        alert="a-1",
        kind=kind,
        by=by,
        role="dispatcher",  # type: ignore[arg-type]
        at=int(T0 + at_s * 1000),
        **kw,  # type: ignore[arg-type]
    )


def test_a_new_alert_is_open_with_an_opened_entry() -> None:
    lc, entry = opened(LIVE, T0)
    assert lc.state == "open" and lc.version == 1 and lc.episode_at == T0
    assert (entry.id, entry.action, entry.by, entry.to_state) == (
        "a-1/1",
        "opened",
        "system",
        "open",
    )
    assert entry.desks == ("110", "chengguan") and entry.severity == "warning"


def test_acknowledge_then_resolve_records_who_and_when() -> None:
    lc, _ = opened(LIVE, T0)
    lc, ack = apply_action(lc, act("ack", 30), LIVE)
    assert lc.state == "acknowledged" and lc.acked_by == "王调度" and lc.acked_at == T0 + 30_000
    assert (ack.id, ack.action, ack.from_state, ack.to_state) == (
        "a-1/2",
        "acknowledged",
        "open",
        "acknowledged",
    )
    assert ack.role == "dispatcher" and ack.action_id == "act-ack-30"
    lc, done = apply_action(lc, act("resolve", 600, by="李联络", note="人群已疏散"), LIVE)
    assert lc.state == "resolved" and lc.closed and lc.resolved_by == "李联络"
    assert lc.resolution == "人群已疏散" and lc.closed_at == T0 + 600_000
    assert (done.id, done.action, done.note) == ("a-1/3", "resolved", "人群已疏散")


def test_assign_acknowledges_an_open_alert_and_keeps_the_first_acknowledger() -> None:
    lc, _ = opened(LIVE, T0)
    lc, entry = apply_action(lc, act("assign", 10, assignee="网格员 张三"), LIVE)
    assert lc.state == "acknowledged" and lc.assignee == "网格员 张三" and lc.acked_by == "王调度"
    assert entry.action == "assigned" and entry.from_state == "open"
    lc, _ = apply_action(lc, act("assign", 20, by="李联络", assignee="12345 desk"), LIVE)
    assert lc.assignee == "12345 desk" and lc.assigned_by == "李联络" and lc.acked_by == "王调度"


@pytest.mark.parametrize(
    ("state", "kind", "reason"),
    [
        ("acknowledged", "ack", "already acknowledged by 王调度"),
        ("resolved", "ack", "alert is resolved; nothing to ack"),
        ("expired", "resolve", "alert is expired; nothing to resolve"),
        ("resolved", "assign", "alert is resolved; nothing to assign"),
    ],
)
def test_actions_the_state_does_not_allow_are_refused_and_recorded(
    state: str, kind: str, reason: str
) -> None:
    lc = Lifecycle(state=state, version=4, acked_by="王调度")  # type: ignore[arg-type]
    assert refusal(lc, kind) == reason  # type: ignore[arg-type]
    after, entry = apply_action(lc, act(kind, 5, assignee="x"), LIVE)
    assert after is lc
    assert not entry.accepted and entry.reason == reason and entry.action == "refused"
    assert entry.id == f"a-1/refused/act-{kind}-5" and entry.by == "王调度"


def test_nobody_acknowledges_escalation_raises_severity_and_adds_desks_once() -> None:
    lc, _ = opened(LIVE, T0)
    lc, entries = tick(lc, LIVE, T0 + 179_999, CONFIG, ESCALATE)
    assert entries == [] and lc.escalated_at is None
    lc, (entry,) = tick(lc, LIVE, T0 + 180_000, CONFIG, ESCALATE)
    assert entry.action == "escalated" and entry.rules == ("crowd.density",)
    assert entry.severity == "critical" and entry.desks == ("110", "chengguan", "traffic")
    assert lc.escalated_at == T0 + 180_000 and lc.version == 2
    again, more = tick(lc, LIVE, T0 + 400_000, NO_REMINDERS, ESCALATE)
    assert more == [] and again is lc  # once per rule and episode


def test_an_acknowledged_alert_does_not_escalate() -> None:
    lc, _ = opened(LIVE, T0)
    lc, _ = apply_action(lc, act("ack", 60), LIVE)
    lc, entries = tick(lc, LIVE, T0 + 600_000, CONFIG, ESCALATE)
    assert entries == [] and lc.escalation_desks == ()


def test_only_rules_of_open_routed_signals_escalate() -> None:
    lc, _ = opened(LIVE, T0)
    quiet = replace(LIVE, open_rules=("crowd.rise",))  # no escalate block
    assert tick(lc, quiet, T0 + 600_000, CONFIG, ESCALATE)[1] == []


def test_condition_clear_and_nobody_acknowledged_expires() -> None:
    lc, _ = opened(LIVE, T0)
    lc, cleared = on_signal(lc, CLEAR, was_active=True, new_signal=False, at=T0 + 60_000)
    assert cleared is not None and cleared.action == "cleared" and lc.state == "open"
    lc, entries = tick(lc, CLEAR, T0 + 60_000 + 119_999, CONFIG, ESCALATE)
    assert entries == []
    lc, (entry,) = tick(lc, CLEAR, T0 + 180_000, CONFIG, ESCALATE)
    assert entry.action == "expired" and lc.state == "expired" and lc.closed_at == T0 + 180_000
    assert entry.note == "condition clear for 2 min, nobody acknowledged"


def test_a_critical_alert_never_expires_it_waits_for_a_person() -> None:
    lc, _ = opened(CRITICAL, T0)
    lc, _ = on_signal(lc, CRITICAL_CLEAR, was_active=True, new_signal=False, at=T0 + 60_000)
    lc, entries = tick(lc, CRITICAL_CLEAR, T0 + 30 * 86_400_000, NO_REMINDERS, ESCALATE)
    assert entries == [] and lc.state == "open" and not lc.closed  # cleared, awaiting review
    assert lc.held and lc.version == 2  # shown as awaiting review; not an audit entry
    lc, done = apply_action(lc, act("resolve", 90_000, note="现场已疏散"), CRITICAL_CLEAR)
    assert done.accepted and lc.state == "resolved" and lc.resolved_by == "王调度"


def test_an_escalated_alert_never_expires_whatever_its_own_severity() -> None:
    lc, _ = opened(LIVE, T0)  # a warning
    lc, (esc,) = tick(lc, LIVE, T0 + 180_000, NO_REMINDERS, ESCALATE)
    assert esc.action == "escalated"
    lc, _ = on_signal(lc, CLEAR, was_active=True, new_signal=False, at=T0 + 200_000)
    lc, entries = tick(lc, CLEAR, T0 + 200_000 + 86_400_000, NO_REMINDERS, ESCALATE)
    assert entries == [] and lc.state == "open"
    acked, _ = apply_action(lc, act("ack", 86_500), CLEAR)  # acknowledged: not stale either
    acked, entries = tick(acked, CLEAR, T0 + 10 * 86_400_000, NO_REMINDERS, ESCALATE)
    assert entries == [] and acked.state == "acknowledged"


@pytest.mark.parametrize(
    ("review_from", "severity", "expires"),
    [
        ("critical", "warning", True),
        ("critical", "critical", False),
        ("warning", "warning", False),
        ("warning", "info", True),
        (None, "critical", True),
    ],
)
def test_which_severities_may_expire_is_the_operators_choice(
    review_from: str | None, severity: str, expires: bool
) -> None:
    config = replace(NO_REMINDERS, review_from=review_from)
    live, clear = replace(LIVE, severity=severity), replace(CLEAR, severity=severity)
    lc, _ = opened(live, T0)
    lc, _ = on_signal(lc, clear, was_active=True, new_signal=False, at=T0 + 60_000)
    lc, _ = tick(lc, clear, T0 + 60_000 + CONFIG.expire_after_ms, config, {})
    assert (lc.state == "expired") is expires
    assert lc.held is not expires


def test_an_unacknowledged_critical_is_reminded_on_schedule_until_acknowledged() -> None:
    config = replace(CONFIG, remind_every_ms=300_000)
    lc, _ = opened(CRITICAL, T0)
    lc, entries = tick(lc, CRITICAL, T0 + 299_999, config, {})
    assert entries == []
    lc, (first,) = tick(lc, CRITICAL, T0 + 300_000, config, {})
    assert first.action == "reminded" and first.note == "unacknowledged for 5 min"
    assert lc.reminded == 1 and lc.reminded_at == T0 + 300_000 and lc.state == "open"
    assert tick(lc, CRITICAL, T0 + 599_999, config, {})[1] == []
    lc, _ = on_signal(lc, CRITICAL_CLEAR, was_active=True, new_signal=False, at=T0 + 500_000)
    lc, (second,) = tick(lc, CRITICAL_CLEAR, T0 + 600_000, config, {})  # cleared: still
    assert second.action == "reminded" and lc.reminded == 2
    lc, _ = apply_action(lc, act("ack", 650), CRITICAL_CLEAR)
    assert tick(lc, CRITICAL_CLEAR, T0 + 3_600_000, config, {})[1] == []
    warning, _ = opened(LIVE, T0)  # not held for review: no reminders
    assert tick(warning, LIVE, T0 + 3_600_000, config, {})[1] == []


def test_an_acknowledged_alert_stays_in_its_queue_until_resolved_or_stale() -> None:
    lc, _ = opened(LIVE, T0)
    lc, _ = apply_action(lc, act("ack", 30), LIVE)
    lc, entries = tick(lc, CLEAR, T0 + 60_000 + 3_599_999, CONFIG, ESCALATE)
    assert entries == [] and lc.state == "acknowledged"
    lc, (entry,) = tick(lc, CLEAR, T0 + 60_000 + 3_600_000, CONFIG, ESCALATE)
    assert lc.state == "expired" and "never resolved" in (entry.note or "")


def test_the_condition_coming_back_is_recorded_and_keeps_the_state() -> None:
    lc, _ = opened(LIVE, T0)
    lc, _ = apply_action(lc, act("ack", 30), LIVE)
    lc, _ = on_signal(lc, CLEAR, was_active=True, new_signal=False, at=T0 + 60_000)
    lc, back = on_signal(lc, LIVE, was_active=False, new_signal=True, at=T0 + 90_000)
    assert back is not None and back.action == "returned" and lc.state == "acknowledged"


def test_a_new_signal_reopens_a_closed_alert_as_a_fresh_episode() -> None:
    lc, _ = opened(LIVE, T0)
    lc, _ = tick(lc, LIVE, T0 + 180_000, CONFIG, ESCALATE)
    lc, _ = apply_action(lc, act("resolve", 300, note="处理完毕"), LIVE)
    same, none = on_signal(lc, LIVE, was_active=True, new_signal=False, at=T0 + 310_000)
    assert none is None and same is lc  # an old signal's update does not reopen it
    lc, entry = on_signal(lc, LIVE, was_active=False, new_signal=True, at=T0 + 400_000)
    assert entry is not None and entry.action == "reopened" and entry.from_state == "resolved"
    assert lc.state == "open" and lc.reopened == 1 and lc.episode_at == T0 + 400_000
    assert lc.resolved_by is None and lc.escalated_rules == () and lc.acked_by is None
    assert entry.severity == "warning"  # the escalation of the last episode is gone
    lc, (esc,) = tick(lc, LIVE, T0 + 580_000, CONFIG, ESCALATE)  # and may fire again
    assert esc.action == "escalated"


def test_lifecycle_round_trips_through_its_stored_form() -> None:
    lc = Lifecycle(state="acknowledged", version=3, escalated_rules=("a",), escalation_desks=("x",))
    stored = lc.to_dict()
    stored["escalated_rules"] = list(stored["escalated_rules"])  # as JSON gives it back
    assert Lifecycle.from_dict({**stored, "unknown": 1}) == lc


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["ack", "assign", "resolve", "tick", "clear", "return", "new"]),
        st.integers(min_value=1, max_value=400_000),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(EVENTS)
def test_any_history_gives_a_consistent_trail(events: list[tuple[str, int]]) -> None:
    """Versions rise by one per accepted entry, entry ids never repeat, closed alerts
    carry closed_at, open ones do not, and refused actions change nothing."""
    lc, first = opened(LIVE, T0)
    facts, at, trail = LIVE, T0, [first]
    for i, (what, dt) in enumerate(events):
        at += dt
        before = lc
        if what in ("ack", "assign", "resolve"):
            lc, entry = apply_action(lc, act(what, (at - T0) / 1000 + i, assignee="x"), facts)
            if not entry.accepted:
                assert lc is before
            trail.append(entry)
            continue
        if what == "tick":
            lc, entries = tick(lc, facts, at, CONFIG, ESCALATE)
            trail.extend(entries)
            continue
        was = facts.active
        if what == "clear":
            facts = replace(CLEAR, cleared_at=at if was else facts.cleared_at)
        else:
            facts = LIVE
        lc, maybe = on_signal(lc, facts, was_active=was, new_signal=what == "new", at=at)
        trail.extend([maybe] if maybe else [])
    accepted = [e for e in trail if e.accepted]
    assert [int(e.id.split("/")[1]) for e in accepted] == list(range(1, lc.version + 1))
    assert len({e.id for e in trail}) == len(trail)
    assert (lc.closed_at is not None) == lc.closed
    assert all(e.from_state == e.to_state for e in trail if not e.accepted)
