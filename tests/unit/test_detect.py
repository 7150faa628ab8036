"""Hysteresis, dwell, cooldown and escalation of the alert state machine, driven by rules
compiled from rule-file text (the way the worker runs them)."""

import textwrap

from alerts.incidents.detect import Track, alert_id, step
from alerts.rules.engine import CompiledRule, Subject, compile_rules
from alerts.rules.file import load_rule_texts

CROWD = """
- id: crowd.density
  metric: density
  enter: 2.15 persons/m2
  exit: 1.08 persons/m2
  dwell: {enter: 10s, exit: 30s}
  severity: {warning: 2.15, critical: 4.0}
  desks: [110]
  message: {zh: "密度 {density:.2f}"}
"""


def compiled(body: str) -> CompiledRule:
    text = "rules:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    return compile_rules(load_rule_texts({"t.yaml": text})).rules[0]


RULE = compiled(CROWD)


def run(values: list[tuple[int, float]], rule: CompiledRule = RULE) -> list[tuple[int, str]]:
    track, seen = Track(rule=rule.id, subject="c"), []
    for t, v in values:
        track, transition = step(track, v, t, rule)
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


def test_cooldown_holds_a_new_alert_back() -> None:
    rule = compiled(CROWD.replace("  desks:", "  cooldown: 2m\n  desks:"))
    hot = [(0, 3.0), (10_000, 3.0)]
    cold = [(20_000, 0.5), (50_000, 0.5)]  # closes at 50 s
    again = [(60_000, 3.0), (80_000, 3.0), (170_000, 3.0), (180_000, 3.0)]
    # Hot again 10 s after closing: held back until the 2 min cooldown ends (at 170 s),
    # then the enter dwell of 10 s runs from there.
    assert run(hot + cold + again, rule) == [
        (10_000, "opened"),
        (50_000, "closed"),
        (180_000, "opened"),
    ]
    # Without a cooldown the same input opens again after the enter dwell alone.
    assert run(hot + cold + again) == [(10_000, "opened"), (50_000, "closed"), (80_000, "opened")]


def test_time_alone_does_not_escalate_a_track() -> None:
    """Escalation for want of an acknowledgement belongs to the alert's lifecycle
    (tests/unit/test_lifecycle.py), which knows who acknowledged; the track only
    escalates when the metric's severity rises."""
    rule = compiled(
        CROWD.replace("  desks:", "  escalate: {after: 5m, add_desks: [grid]}\n  desks:")
    )
    track = Track(rule=rule.id, subject="c")
    seen = []
    for t in range(0, 700_000, 10_000):
        track, transition = step(track, 3.0, t, rule)
        if transition:
            seen.append((t, transition))
    assert seen == [(10_000, "opened")]
    assert track.severity == "warning"
    assert rule.desks(_subject()) == ("110",)


def test_falling_rule_opens_at_or_below_enter() -> None:
    rule = compiled(
        """
        - id: camera.dark
          metric: walkable_m2
          direction: falling
          enter: 10 m2
          exit: 50 m2
          severity: info
          desks: [grid]
          message: {zh: "可步行面积 {walkable_m2:.0f} m²"}
        """
    )
    signed = [rule.sign * v for v in (100.0, 10.0, 30.0, 60.0)]
    values = list(zip((0, 1_000, 2_000, 3_000), signed, strict=True))
    assert run(values, rule) == [(1_000, "opened"), (3_000, "closed")]


def test_ids_are_deterministic_and_distinct() -> None:
    assert alert_id("r", "s", 1) == alert_id("r", "s", 1)
    assert alert_id("r", "s", 1) != alert_id("r", "s", 2)


def _subject() -> Subject:
    return Subject("cell", "89411c0a2a3ffff", 23.0, 113.1)
