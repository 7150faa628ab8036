"""Hysteresis, dwell and escalation of the alert state machine."""

import pytest

from alerts.detect import Track, alert_id, step
from alerts.rules import Rule

RULE = Rule(id="crowd.density", enter=2.15, exit=1.08, enter_dwell_ms=10_000,
            exit_dwell_ms=30_000, critical_at=4.0, desks=("110",))  # fmt: skip


def run(values: list[tuple[int, float]]) -> list[tuple[int, str]]:
    track, seen = Track(rule=RULE.id, subject="c"), []
    for t, v in values:
        track, transition = step(track, v, t, RULE)
        if transition:
            seen.append((t, transition))
    return seen


def test_opens_only_after_dwell() -> None:
    assert run([(0, 3.0), (5_000, 3.0)]) == []
    assert run([(0, 3.0), (5_000, 3.0), (10_000, 3.0)]) == [(10_000, "opened")]


def test_dip_below_enter_restarts_dwell() -> None:
    assert run([(0, 3.0), (5_000, 2.0), (10_000, 3.0), (15_000, 3.0)]) == []


def test_hovering_between_thresholds_does_not_flap() -> None:
    values = [(t * 1000, 3.0) for t in range(0, 11)]
    values += [(11_000 + t * 1000, 2.0 if t % 2 else 2.2) for t in range(60)]
    assert run(values) == [(10_000, "opened")]


def test_closes_after_exit_dwell_below_exit() -> None:
    values = [(0, 3.0), (10_000, 3.0), (20_000, 1.0), (40_000, 1.0), (50_000, 1.0)]
    assert run(values) == [(10_000, "opened"), (50_000, "closed")]


def test_back_above_exit_while_clearing_keeps_the_same_alert() -> None:
    track = Track(rule=RULE.id, subject="c")
    for t, v in [(0, 3.0), (10_000, 3.0)]:
        track, _ = step(track, v, t, RULE)
    first = track.alert_id
    for t, v in [(20_000, 1.0), (30_000, 1.5), (45_000, 1.0), (60_000, 1.0)]:
        track, transition = step(track, v, t, RULE)
        assert transition is None
    assert track.alert_id == first and track.phase == "clearing"


def test_escalates_once_when_critical() -> None:
    values = [(0, 3.0), (10_000, 3.0), (12_000, 4.5), (14_000, 4.8), (16_000, 3.0)]
    assert run(values) == [(10_000, "opened"), (12_000, "escalated")]


def test_ids_are_deterministic_and_distinct() -> None:
    assert alert_id("r", "s", 1) == alert_id("r", "s", 1)
    assert alert_id("r", "s", 1) != alert_id("r", "s", 2)


def test_exit_above_enter_is_refused() -> None:
    with pytest.raises(ValueError, match="exit threshold"):
        Rule(id="x", enter=1, exit=2, enter_dwell_ms=0, exit_dwell_ms=0, critical_at=3, desks=())
