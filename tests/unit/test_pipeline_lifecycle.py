"""The lifecycle through the pipeline: actions applied in the incident's partition, sweeps
escalate and expire, every transition leaves an audit entry."""

from __future__ import annotations

from pipeline_kit import T0, Run, camera

from alerts.incidents.lifecycle import Action
from streams.pipeline.lifecycle_step import republish
from streams.pipeline.step_data import Output

CROWD = [200, 900, 1000, 1200, 1300, 1300]  # persons on 400 m²: LOS F from the second reading


def surge(run: Run) -> str:
    """A crowd on the bridge until t=25 s; returns the alert id."""
    for i, people in enumerate(CROWD):
        run.feed([camera(i * 5, people)], i * 5)
    (alert_id,) = {a.id for a in run.alerts()}
    return alert_id


def action(alert: str, kind: str, at_s: float, **kw: object) -> Action:
    return Action(
        id=f"{kind}-{at_s}",
        alert=alert,
        kind=kind,  # type: ignore[arg-type]
        by="王调度",
        role="dispatcher",
        at=int(T0 + at_s * 1000),
        **kw,  # type: ignore[arg-type]
    )


def keep_crowd(run: Run, t0: int, t1: int, ack_at: int | None = None, alert: str = "") -> None:
    for t in range(t0, t1, 5):
        acts = [action(alert, "ack", t)] if ack_at == t else None
        run.feed([camera(t, 1300)], t, sweep=True, actions=acts)


def test_unacknowledged_crowd_alert_escalates_after_the_rules_time() -> None:
    run = Run()
    alert_id = surge(run)
    opened_at = run.alerts()[0].opened_at
    keep_crowd(run, 30, 250)
    escalated = [e for e in run.audit() if e.action == "escalated"]
    assert len(escalated) == 1 and escalated[0].rules == ("crowd.density",)
    assert escalated[0].at == opened_at + 180_000  # default rule: escalate after 3 min
    last = run.alerts()[-1]
    assert last.id == alert_id and last.severity == "critical" and last.lifecycle.escalated_at
    assert last.desks == ("110", "chengguan", "traffic")
    assert [e.action for e in run.audit()] == ["opened", "escalated"]


def test_an_acknowledged_alert_does_not_escalate_and_the_action_is_audited() -> None:
    run = Run()
    alert_id = surge(run)
    keep_crowd(run, 30, 250, ack_at=60, alert=alert_id)
    assert [e.action for e in run.audit()] == ["opened", "acknowledged"]
    ack = run.audit()[-1]
    assert ack.by == "王调度" and ack.at == T0 + 60_000 and ack.id == f"{alert_id}/2"
    last = run.alerts()[-1]
    assert last.state == "acknowledged" and last.severity == "warning"
    assert last.to_dict()["acked_by"] == "王调度" and last.to_dict()["version"] == 2


def test_clear_condition_then_expiry_then_forgotten_after_keep_time() -> None:
    run = Run()
    alert_id = surge(run)
    for t in range(30, 90, 5):  # thin out: the signal closes after 30 s below the exit
        run.feed([camera(t, 100)], t, sweep=True)
    assert [e.action for e in run.audit()] == ["opened", "cleared"]
    cleared_at = run.alerts()[-1].cleared_at
    assert cleared_at is not None and run.alerts()[-1].state == "open"
    t_expire = (cleared_at - T0) / 1000 + 120
    run.feed([], t_expire - 1, sweep=True)
    assert run.alerts()[-1].state == "open"
    run.feed([], t_expire, sweep=True)
    last = run.alerts()[-1]
    assert last.state == "expired" and last.closed_at == int(T0 + t_expire * 1000)
    assert run.audit()[-1].action == "expired"
    assert run.stores.incidents.get(alert_id) is not None
    run.feed([], t_expire + 3601, sweep=True)  # keep_closed_ms (1 h) later: forgotten
    assert run.stores.incidents.get(alert_id) is None


def test_resolve_then_the_crowd_returns_within_the_cooldown_reopens_the_same_alert() -> None:
    run = Run()
    alert_id = surge(run)
    for t in range(30, 90, 5):
        run.feed([camera(t, 100)], t, sweep=True)
    run.feed([], 90, actions=[action(alert_id, "resolve", 90, note="已疏导")])
    assert run.alerts()[-1].state == "resolved"
    for i, people in enumerate(CROWD):  # a new crowd, five minutes later
        run.feed([camera(400 + i * 5, people)], 400 + i * 5)
    last = run.alerts()[-1]
    assert last.id == alert_id and last.state == "open" and last.lifecycle.reopened == 1
    assert [e.action for e in run.audit()][-2:] == ["resolved", "reopened"]


def test_actions_for_alerts_this_partition_does_not_hold_are_handed_back() -> None:
    run = Run()
    surge(run)
    out = run.feed([], 30, actions=[action("a-unknown", "ack", 30)])
    assert [a.alert for a in out.unknown_actions] == ["a-unknown"] and out.audit == []


def test_a_refused_action_is_audited_and_changes_nothing() -> None:
    run = Run()
    alert_id = surge(run)
    run.feed([], 30, actions=[action(alert_id, "ack", 30)])
    out = run.feed([], 31, actions=[action(alert_id, "ack", 31)])
    (entry,) = out.audit
    assert not entry.accepted and entry.reason == "already acknowledged by 王调度"
    assert out.alerts == {}


def test_an_action_delivered_again_is_taken_once() -> None:
    # Kafka delivers a record again when a worker dies before committing its offset: the
    # same action (same id) must not be refused as a second acknowledgement.
    run = Run()
    alert_id = surge(run)
    ack = action(alert_id, "ack", 30)
    first = run.feed([], 30, actions=[ack])
    again = run.feed([], 32, actions=[ack])
    assert [e.action for e in first.audit] == ["acknowledged"]
    assert again.audit == [] and again.alerts == {} and again.unknown_actions == []
    refused = action(alert_id, "ack", 40)  # another request: refused, and only once
    assert [e.accepted for e in run.feed([], 40, actions=[refused]).audit] == [False]
    assert run.feed([], 41, actions=[refused]).audit == []


def test_republish_queues_every_held_alert_once_without_audit_entries() -> None:
    run = Run()
    alert_id = surge(run)
    out = Output()
    assert republish(out, stores=run.stores, partition=0) == 1
    assert list(out.alerts) == [alert_id] and out.audit == []
    assert out.alerts[alert_id] == run.alerts()[-1]  # the alert as last published
    assert republish(out, stores=run.stores, partition=0) == 0
    assert republish(Output(), stores=run.stores, partition=1) == 0  # not that partition's
