"""Backtest report and comparison: counts, China-time hours, time-to-detect, matching."""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from backtest_kit import END, MIN, T0, at, label, report, sig
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.tools.backtest.compare import compare, comparison_to_dict
from citybrain.tools.backtest.report import BacktestReport, RuleInfo, report_to_dict, summarize
from citybrain.tools.backtest.signal import Fired, fired_id

CST = timezone(timedelta(hours=8))


# ------------------------------------------------------------------ per rule, desk, hour


def test_per_rule_counts_severities_and_open_time() -> None:
    closed_after = 5 * MIN
    fired = [
        sig(opened=T0, closed=T0 + closed_after, severity="warning", incident="inc-1"),
        sig(subject="cell-b", opened=T0 + 90 * MIN, severity="critical"),  # open at the end
        sig("hotline.cluster", opened=T0 + MIN, closed=T0 + 2 * MIN, severity="info"),
    ]
    rules = {r.rule: r for r in report(fired).rules}
    density = rules["crowd.density"]
    assert (density.alerts, density.info, density.warning, density.critical) == (2, 0, 1, 1)
    assert density.open_ms == closed_after + (END - (T0 + 90 * MIN))
    assert (density.still_open, density.in_incidents, density.desks) == (1, 1, ("110",))
    assert rules["hotline.cluster"].open_ms == MIN
    assert list(rules) == sorted(rules)


def test_rules_that_never_fired_are_listed_with_zero() -> None:
    rep = report([sig()], rules=[RuleInfo("crowd.density", "v1"), RuleInfo("noise.night", "v9")])
    quiet = next(r for r in rep.rules if r.rule == "noise.night")
    assert (quiet.alerts, quiet.rule_version, quiet.open_ms) == (0, "v9", 0)


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        pytest.param([("110",), ("110", "12345")], {"110": 2, "12345": 1}, id="two-desks"),
        pytest.param([("fire",), ("fire",), ()], {"fire": 2}, id="no-desk-counts-nowhere"),
        pytest.param([("traffic", "traffic")], {"traffic": 1}, id="desk-listed-twice-once"),
    ],
)
def test_per_desk_counts_routed_signals(
    signals: list[tuple[str, ...]], expected: dict[str, int]
) -> None:
    fired = [sig(subject=f"s{i}", desks=desks) for i, desks in enumerate(signals)]
    # a shadow signal would have gone to the same desks but was never routed
    fired += [
        sig("crowd.anomaly", subject=f"x{i}", desks=d, shadow=True) for i, d in enumerate(signals)
    ]
    rep = report(fired)
    assert {d.desk: d.alerts for d in rep.desks} == expected
    assert all(rule == "crowd.density" for d in rep.desks for rule, _ in d.by_rule)


@pytest.mark.parametrize(
    ("opened_local", "bucket_local"),
    [
        ("2026-05-01 14:00:00.000", "2026-05-01 14:00"),
        ("2026-05-01 14:59:59.999", "2026-05-01 14:00"),
        ("2026-05-01 15:00:00.000", "2026-05-01 15:00"),
        # 00:30 China time is 16:30 the day before in UTC: the bucket carries the China date
        ("2026-05-02 00:30:00.000", "2026-05-02 00:00"),
    ],
)
def test_hour_buckets_are_china_time(opened_local: str, bucket_local: str) -> None:
    def ms(text: str, fmt: str) -> int:
        return int(datetime.strptime(text, fmt).replace(tzinfo=CST).timestamp() * 1000)

    opened = ms(opened_local, "%Y-%m-%d %H:%M:%S.%f")
    rep = summarize([sig(opened=opened)], [], rules_version="r", start_ms=T0, end_ms=END, events=0)
    busy = [h for h in rep.hours if h.alerts]
    assert [(h.local, h.start_ms, h.by_rule) for h in busy] == [
        (bucket_local, ms(bucket_local, "%Y-%m-%d %H:%M"), (("crowd.density", 1),))
    ]
    starts = [h.start_ms for h in rep.hours]
    assert starts == list(range(starts[0], starts[-1] + 1, 3_600_000)), "no hour skipped"


def test_a_recording_ending_on_the_hour_has_no_extra_bucket() -> None:
    assert [h.local for h in report([]).hours] == ["2026-05-01 14:00", "2026-05-01 15:00"]


# ------------------------------------------------------------------ time-to-detect

# Each signal: (rule, seconds after the label's start, metres east of its centre, shadow).
# "first"/"routed": index of the signal that should count, None for missed.
DETECT_CASES = [
    ("inside, 30 s after start", [("crowd.density", 30, 0, False)], {}, 0, 0),
    ("400 m away, radius 500", [("crowd.density", 30, 400, False)], {}, 0, 0),
    ("600 m away, radius 500", [("crowd.density", 30, 600, False)], {}, None, None),
    ("45 s early, within slack", [("crowd.density", -45, 0, False)], {}, 0, 0),
    ("90 s early, beyond slack", [("crowd.density", -90, 0, False)], {}, None, None),
    ("at the label's end", [("crowd.density", 600, 0, False)], {}, 0, 0),
    ("after the label's end", [("crowd.density", 601, 0, False)], {}, None, None),
    (
        "rule not among the label's rules",
        [("crowd.density", 30, 0, False)],
        {"rules": ("hotline.cluster",)},
        None,
        None,
    ),
    (
        "one of the label's rules",
        [("crowd.density", 20, 0, False), ("hotline.cluster", 50, 0, False)],
        {"rules": ("hotline.cluster",)},
        1,
        1,
    ),
    ("earliest of several", [("a", 90, 0, False), ("b", 15, 0, False)], {}, 1, 1),
    ("only a shadow rule", [("crowd.anomaly", 10, 0, True)], {}, 0, None),
    (
        "shadow first, routed later",
        [("crowd.anomaly", 10, 0, True), ("crowd.density", 40, 0, False)],
        {},
        0,
        1,
    ),
    (
        "same moment: routed preferred",
        [("crowd.anomaly", 10, 0, True), ("crowd.density", 10, 0, False)],
        {},
        1,
        1,
    ),
]


@pytest.mark.parametrize(
    ("signals", "label_kw", "first", "routed"),
    [pytest.param(*case[1:], id=case[0]) for case in DETECT_CASES],
)
def test_time_to_detect(
    signals: list[tuple[str, int, float, bool]],
    label_kw: dict[str, Any],
    first: int | None,
    routed: int | None,
) -> None:
    lab = label(radius_m=500.0, **label_kw)  # 10 minutes long
    fired = [
        sig(rule, subject=str(i), opened=lab.start_ms + s * 1000, shadow=shadow, where=at(east))
        for i, (rule, s, east, shadow) in enumerate(signals)
    ]
    (d,) = report(fired, (lab,), slack_ms=60_000).detections
    assert d.ttd_s == (None if first is None else float(signals[first][1]))
    assert d.routed_ttd_s == (None if routed is None else float(signals[routed][1]))
    assert d.shadow == (first is not None and signals[first][3])


def test_detection_counts_every_matching_signal() -> None:
    lab = label()
    inside = [sig(subject=str(i), opened=lab.start_ms + i * MIN) for i in range(3)]
    far = sig(subject="far", opened=lab.start_ms, where=at(north_m=2 * lab.radius_m))
    (d,) = report([*inside, far], (lab,)).detections
    assert (d.signals, d.signal) == (len(inside), inside[0])


def test_detection_aggregates() -> None:
    ttds = [10, 30, 50]
    labels = tuple(
        label(T0 + k * 20 * MIN, T0 + k * 20 * MIN + 5 * MIN, id=f"L{k}") for k in range(4)
    )
    fired = [
        sig(subject=str(k), opened=labels[k].start_ms + ttd * 1000)
        for k, ttd in enumerate(ttds)  # the last label is missed
    ]
    rep = report(fired, labels)
    assert (rep.detected, len(rep.detections)) == (len(ttds), len(labels))
    assert rep.median_ttd_s == statistics.median(ttds)
    assert rep.detections[-1].signal is None


def test_shadow_detection_counts_but_not_as_routed() -> None:
    rep = report([sig("crowd.anomaly", opened=T0 + 11 * MIN, shadow=True)], (label(),))
    assert (rep.detected, rep.detected_routed) == (1, 0)
    assert rep.median_ttd_s == 60.0
    assert rep.median_routed_ttd_s is None


# ------------------------------------------------------------------ comparison


@pytest.mark.parametrize(
    ("current", "candidate", "added", "removed", "matched"),
    [
        pytest.param([("r", "a", 0)], [("r", "a", 0)], 0, 0, 1, id="same"),
        pytest.param([("r", "a", 0)], [("r", "a", 59)], 0, 0, 1, id="59-s-later"),
        pytest.param([("r", "a", 0)], [("r", "a", 60)], 0, 0, 1, id="at-tolerance"),
        pytest.param([("r", "a", 0)], [("r", "a", 61)], 1, 1, 0, id="beyond-tolerance"),
        pytest.param([("r", "a", 0)], [("r", "b", 0)], 1, 1, 0, id="other-subject"),
        pytest.param([("r", "a", 0)], [("q", "a", 0)], 1, 1, 0, id="other-rule"),
        pytest.param([], [("r", "a", 0)], 1, 0, 0, id="new-alert"),
        pytest.param([("r", "a", 0), ("r", "a", 600)], [("r", "a", 30)], 0, 1, 1, id="one-gone"),
        pytest.param(
            [("r", "a", 0), ("r", "a", 100)],
            [("r", "a", 50), ("r", "a", 130)],
            0,
            0,
            2,
            id="pairs-in-order",
        ),
    ],
)
def test_compare_matches_signals_within_tolerance(
    current: list[tuple[str, str, int]],
    candidate: list[tuple[str, str, int]],
    added: int,
    removed: int,
    matched: int,
) -> None:
    def run(spec: list[tuple[str, str, int]], version: str) -> BacktestReport:
        fired = [sig(r, s, T0 + sec * 1000, version=version) for r, s, sec in spec]
        return report(fired, version=version)

    c = compare(run(current, "v1"), run(candidate, "v2"), tolerance_ms=60_000)
    assert (len(c.added), len(c.removed), c.matched) == (added, removed, matched)


def test_compare_per_rule_desk_and_label() -> None:
    lab = label()
    current = report(
        [
            sig(opened=lab.start_ms + 120_000, desks=("110",)),  # detects at 120 s
            sig("noise.night", desks=("chengguan",)),
        ],
        (lab,),
        version="cur",
    )
    candidate = report(
        [
            sig(opened=lab.start_ms + 30_000, desks=("110",), version="v2"),  # now at 30 s
            sig(subject="b", desks=("110", "12345"), version="v2"),
        ],
        (lab,),
        version="cand",
    )
    c = compare(current, candidate)
    rules = {r.rule: r for r in c.rules}
    assert (rules["crowd.density"].current, rules["crowd.density"].candidate) == (1, 2)
    assert rules["crowd.density"].delta == 1 and rules["crowd.density"].changed
    assert (rules["noise.night"].delta, rules["noise.night"].candidate_version) == (-1, None)
    assert {d.desk: d.delta for d in c.desks} == {"110": 1, "12345": 1, "chengguan": -1}
    (ld,) = c.labels
    assert (ld.current_ttd_s, ld.candidate_ttd_s, ld.change_s) == (120.0, 30.0, -90.0)
    assert ld.status == "faster"
    # 120 s vs 30 s is beyond the 60 s tolerance: the moved alert is one added, one removed
    assert (len(c.added), len(c.removed), c.matched) == (2, 2, 0)


@pytest.mark.parametrize(
    ("current_s", "candidate_s", "status"),
    [
        (None, None, "missed"),
        (None, 5, "gained"),
        (5, None, "lost"),
        (5, 5, "same"),
        (5, 9, "slower"),
    ],
)
def test_label_status(current_s: int | None, candidate_s: int | None, status: str) -> None:
    lab = label()

    def run(s: int | None) -> BacktestReport:
        return report([] if s is None else [sig(opened=lab.start_ms + s * 1000)], (lab,))

    assert compare(run(current_s), run(candidate_s)).labels[0].status == status


def test_compare_refuses_different_recordings() -> None:
    other = summarize([], [], rules_version="x", start_ms=T0, end_ms=END + 1, events=1000)
    with pytest.raises(ValueError, match="different recordings"):
        compare(report([]), other)


# ------------------------------------------------------------------ validation, JSON


@pytest.mark.parametrize(
    ("fired", "message"),
    [
        pytest.param([sig(), sig()], "unique", id="duplicate-id"),
        pytest.param([sig(), sig(subject="b", version="v2")], "version", id="two-versions"),
        pytest.param([sig(), sig(subject="b", shadow=True)], "shadow", id="shadow-and-routed"),
    ],
)
def test_inconsistent_signals_are_refused(fired: list[Fired], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        report(fired)


def test_a_signal_is_validated() -> None:
    with pytest.raises(ValueError, match="severity"):
        sig(severity="major")
    with pytest.raises(ValueError, match="closed_at"):
        sig(opened=T0, closed=T0 - 1)


def test_fired_id_is_deterministic() -> None:
    assert fired_id("r", "s", 1) == fired_id("r", "s", 1)
    assert len({fired_id("r", "s", 1), fired_id("r", "s", 2), fired_id("r", "t", 1)}) == 3


def test_report_json() -> None:
    fired = [sig(opened=T0 + 11 * MIN, closed=T0 + 15 * MIN), sig("crowd.anomaly", shadow=True)]
    rep = report(fired, (label(), label(id="L2", start=END - MIN, end=END)))
    data = json.loads(rep.to_json())
    assert data == report_to_dict(rep)
    assert list(data) == [
        "schema", "rules_version", "recording", "totals", "rules", "desks", "hours",
        "detection", "labels", "signals",
    ]  # fmt: skip
    assert data["totals"] == {"alerts": 2, "routed": 1, "shadow": 1, "incidents": 0}
    assert data["detection"]["detected"] == 1 and data["detection"]["median_ttd_s"] == 60.0
    assert data["labels"][1]["ttd_s"] is None
    assert data["recording"]["start_local"] == "2026-05-01 14:00:00"
    assert "signals" not in report_to_dict(rep, signals=False)


def test_comparison_json() -> None:
    current = report([sig(subject=str(i), opened=T0 + i * 5 * MIN) for i in range(5)])
    c = compare(current, report([]))
    data = json.loads(c.to_json())
    assert data["totals"]["removed"] == 5 and len(data["removed"]) == 5
    limited = comparison_to_dict(c, limit=2)
    assert limited["totals"]["removed"] == 5 and len(limited["removed"]) == 2


# ------------------------------------------------------------------ properties

RULES = ["crowd.density", "hotline.cluster", "crowd.anomaly", "fire.smoke"]
SHADOW_RULES = {"crowd.anomaly"}

signal_specs = st.lists(
    st.tuples(
        st.sampled_from(RULES),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 7_200).map(lambda s: T0 + s * 1000),
        st.sampled_from(["info", "warning", "critical"]),
        st.lists(st.sampled_from(["110", "12345", "fire", "grid"]), max_size=3).map(tuple),
    ),
    max_size=40,
    unique_by=lambda t: (t[0], t[1], t[2]),
)


def _fired(specs: list[tuple[str, str, int, str, tuple[str, ...]]]) -> list[Fired]:
    return [
        sig(r, s, o, severity=sev, desks=d, shadow=r in SHADOW_RULES) for r, s, o, sev, d in specs
    ]


@settings(max_examples=150, deadline=None)
@given(signal_specs)
def test_counts_add_up(specs: list[tuple[str, str, int, str, tuple[str, ...]]]) -> None:
    fired = _fired(specs)
    rep = report(fired)
    assert sum(r.alerts for r in rep.rules) == len(fired) == rep.alerts
    assert sum(r.info + r.warning + r.critical for r in rep.rules) == len(fired)
    assert sum(h.alerts for h in rep.hours) == len(fired)
    expected_desks = sum(len(set(f.desks)) for f in fired if not f.shadow)
    assert sum(d.alerts for d in rep.desks) == expected_desks


@settings(max_examples=150, deadline=None)
@given(signal_specs, signal_specs, st.integers(0, 600_000))
def test_comparison_accounts_for_every_signal(
    a: list[tuple[str, str, int, str, tuple[str, ...]]],
    b: list[tuple[str, str, int, str, tuple[str, ...]]],
    tolerance_ms: int,
) -> None:
    current, candidate = report(_fired(a)), report(_fired(b))
    same = compare(current, current, tolerance_ms)
    assert (same.added, same.removed, same.matched) == ((), (), current.alerts)
    c = compare(current, candidate, tolerance_ms)
    assert c.matched + len(c.added) == candidate.alerts
    assert c.matched + len(c.removed) == current.alerts
    back = compare(candidate, current, tolerance_ms)
    assert {f.id for f in back.added} == {f.id for f in c.removed}
    assert sum(r.delta for r in c.rules) == candidate.alerts - current.alerts
