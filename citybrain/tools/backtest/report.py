"""Backtest report: what a rule set would have raised over a recorded stream (pure).

The backtest runner replays a recording through the same evaluation code as the
worker and hands over every signal that fired (:class:`Fired`). This module
summarises them per rule, per desk and per hour (:func:`summarize`), measures
time-to-detect against labelled incidents (:mod:`alerts.incidents.labels`), and turns the
result into plain JSON. Comparing two rule sets (:func:`compare`) lives in
:mod:`citybrain.tools.backtest.compare`.

Times are epoch milliseconds of event time. Hour buckets and printed times are
China Standard Time (UTC+8, no daylight saving), the clock the command centre
works by.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from alerts.incidents.labels import Label
from citybrain.tools.backtest.signal import Fired

__all__ = [
    "CHINA_TZ",
    "DEFAULT_SLACK_MS",
    "HOUR_MS",
    "BacktestReport",
    "DeskSummary",
    "Detection",
    "HourBucket",
    "RuleInfo",
    "RuleSummary",
    "china_hour_start",
    "china_time",
    "report_to_dict",
    "summarize",
]

HOUR_MS: Final = 3_600_000
CHINA_TZ: Final = timezone(timedelta(hours=8), "CST")
_CHINA_OFFSET_MS: Final = 8 * HOUR_MS
DEFAULT_SLACK_MS: Final = 60_000
REPORT_SCHEMA: Final = "citybrain.backtest.report/1"


def china_hour_start(ts_ms: int) -> int:
    """Epoch ms at which the China-time hour containing epoch ms ``ts_ms`` began."""
    return (ts_ms + _CHINA_OFFSET_MS) // HOUR_MS * HOUR_MS - _CHINA_OFFSET_MS


def china_time(ts_ms: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Epoch ms ``ts_ms`` as China Standard Time text (``strftime`` format ``fmt``)."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(CHINA_TZ).strftime(fmt)


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A rule of the evaluated set, so that rules that never fired are listed with 0."""

    id: str
    version: str
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class RuleSummary:
    """One rule over the recording: alerts opened, by highest severity, and how long
    they were open in total (``open_ms``; ``still_open`` were open at the end)."""

    rule: str
    rule_version: str
    shadow: bool
    alerts: int
    info: int
    warning: int
    critical: int
    open_ms: int
    still_open: int
    in_incidents: int  # signals fused into an incident
    desks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeskSummary:
    """Alerts routed to one desk (shadow signals excluded), and from which rules."""

    desk: str
    alerts: int
    by_rule: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class HourBucket:
    """Alerts opened in one China-time hour beginning at epoch ms ``start_ms``."""

    start_ms: int
    alerts: int
    by_rule: tuple[tuple[str, int], ...]

    @property
    def local(self) -> str:
        return china_time(self.start_ms, "%Y-%m-%d %H:00")


@dataclass(frozen=True, slots=True)
class Detection:
    """How a labelled incident was detected.

    ``signal`` is the earliest matching signal (shadow or not), ``routed`` the earliest
    non-shadow one; a signal matches when it opened within [start − slack, end] of the
    label, inside its radius, by one of its rules (any rule when it lists none).
    ``signals`` counts all matching signals.
    """

    label: Label
    signal: Fired | None
    routed: Fired | None
    signals: int

    @property
    def ttd_s(self) -> float | None:
        """Time-to-detect in seconds from the label's start; negative within the slack."""
        return _ttd_s(self.label, self.signal)

    @property
    def routed_ttd_s(self) -> float | None:
        """Time-to-detect (s) by a rule routed to desks; None if only shadow rules caught it."""
        return _ttd_s(self.label, self.routed)

    @property
    def shadow(self) -> bool:
        """Whether the earliest detection was by a shadow rule."""
        return self.signal is not None and self.signal.shadow


def _ttd_s(label: Label, signal: Fired | None) -> float | None:
    return None if signal is None else (signal.opened_at - label.start_ms) / 1000


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """What one rule set (version ``rules_version``) raised over a recording of
    ``events`` events spanning epoch ms [``start_ms``, ``end_ms``]."""

    rules_version: str
    start_ms: int
    end_ms: int
    events: int
    slack_ms: int
    fired: tuple[Fired, ...]  # by opened_at, rule, subject
    rules: tuple[RuleSummary, ...]  # by rule id
    desks: tuple[DeskSummary, ...]  # by desk id
    hours: tuple[HourBucket, ...]  # every hour of the recording, empty ones too
    detections: tuple[Detection, ...]  # in the labels' order

    @property
    def alerts(self) -> int:
        return len(self.fired)

    @property
    def routed(self) -> int:
        """Signals routed to desks (not shadow)."""
        return sum(1 for f in self.fired if not f.shadow)

    @property
    def incidents(self) -> int:
        """Distinct incidents the signals were fused into."""
        return len({f.incident for f in self.fired if f.incident is not None})

    @property
    def detected(self) -> int:
        return sum(1 for d in self.detections if d.signal is not None)

    @property
    def detected_routed(self) -> int:
        return sum(1 for d in self.detections if d.routed is not None)

    @property
    def median_ttd_s(self) -> float | None:
        return _median(d.ttd_s for d in self.detections)

    @property
    def median_routed_ttd_s(self) -> float | None:
        return _median(d.routed_ttd_s for d in self.detections)

    def to_dict(self) -> dict[str, Any]:
        return report_to_dict(self)

    def to_json(self) -> str:
        """:func:`report_to_dict` as indented UTF-8 JSON text."""
        return _dumps(report_to_dict(self))


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(
    fired: Iterable[Fired],
    labels: Iterable[Label],
    *,
    rules_version: str,
    start_ms: int,
    end_ms: int,
    events: int,
    slack_ms: int = DEFAULT_SLACK_MS,
    rules: Iterable[RuleInfo] = (),
) -> BacktestReport:
    """Summarise the signals one rule set fired over a recording.

    ``start_ms``/``end_ms``: epoch ms span of the recording (event time); signals still
    open count as open until ``end_ms``. ``events``: events replayed. ``slack_ms``: how
    long before a label's start a signal still counts as detecting it. ``rules``: the
    evaluated rules, so that silent ones appear with 0 alerts. Raises ValueError on
    inconsistent input (duplicate signal ids, one rule with two versions or with shadow
    and routed signals, an end before the start).
    """
    if end_ms < start_ms:
        raise ValueError(f"end_ms {end_ms} is before start_ms {start_ms}")
    if events < 0 or slack_ms < 0:
        raise ValueError("events and slack_ms must be >= 0")
    signals = tuple(sorted(fired, key=lambda f: (f.opened_at, f.rule, f.subject, f.id)))
    dupes = [i for i, n in Counter(f.id for f in signals).items() if n > 1]
    if dupes:
        raise ValueError(f"signal ids must be unique; repeated: {', '.join(sorted(dupes)[:5])}")
    return BacktestReport(
        rules_version=rules_version,
        start_ms=start_ms,
        end_ms=end_ms,
        events=events,
        slack_ms=slack_ms,
        fired=signals,
        rules=_rules(signals, rules, end_ms),
        desks=_desks(signals),
        hours=_hours(signals, start_ms, end_ms),
        detections=tuple(_detect(label, signals, slack_ms) for label in labels),
    )


def _rules(
    signals: Sequence[Fired], known: Iterable[RuleInfo], end_ms: int
) -> tuple[RuleSummary, ...]:
    info: dict[str, RuleInfo] = {r.id: r for r in known}
    by_rule: defaultdict[str, list[Fired]] = defaultdict(list)
    for f in signals:
        by_rule[f.rule].append(f)
    out = []
    for rule in sorted(info.keys() | by_rule.keys()):
        group = by_rule.get(rule, [])
        versions = {f.rule_version for f in group}
        shadows = {f.shadow for f in group}
        if rule in info:
            versions.add(info[rule].version)
            shadows.add(info[rule].shadow)
        # One run evaluates one version of each rule: two means the runner mixed runs up.
        if len(versions) != 1 or len(shadows) != 1:
            raise ValueError(
                f"rule {rule}: signals disagree on version {sorted(versions)} "
                f"or shadow {sorted(shadows)}"
            )
        severities = Counter(f.severity for f in group)
        out.append(
            RuleSummary(
                rule=rule,
                rule_version=versions.pop(),
                shadow=shadows.pop(),
                alerts=len(group),
                info=severities["info"],
                warning=severities["warning"],
                critical=severities["critical"],
                open_ms=sum(f.open_ms(end_ms) for f in group),
                still_open=sum(1 for f in group if f.closed_at is None),
                in_incidents=sum(1 for f in group if f.incident is not None),
                desks=tuple(sorted({d for f in group for d in f.desks})),
            )
        )
    return tuple(out)


def _desks(signals: Sequence[Fired]) -> tuple[DeskSummary, ...]:
    by_desk: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for f in signals:
        if f.shadow:
            continue  # never routed: no desk saw it
        for desk in set(f.desks):
            by_desk[desk][f.rule] += 1
    return tuple(
        DeskSummary(desk=desk, alerts=counts.total(), by_rule=tuple(sorted(counts.items())))
        for desk, counts in sorted(by_desk.items())
    )


def _hours(signals: Sequence[Fired], start_ms: int, end_ms: int) -> tuple[HourBucket, ...]:
    by_hour: defaultdict[int, Counter[str]] = defaultdict(Counter)
    for f in signals:
        by_hour[china_hour_start(f.opened_at)][f.rule] += 1
    first = china_hour_start(min([start_ms, *by_hour]))
    # a recording ending on the hour (16:00:00.000) has no 16:00 bucket unless a signal opens then
    last = max([china_hour_start(max(start_ms, end_ms - 1)), *by_hour])
    return tuple(
        HourBucket(
            start_ms=h,
            alerts=by_hour[h].total(),
            by_rule=tuple(sorted(by_hour[h].items())),
        )
        for h in range(first, last + 1, HOUR_MS)
    )


def _detect(label: Label, signals: Sequence[Fired], slack_ms: int) -> Detection:
    matches = [
        f
        for f in signals
        if label.start_ms - slack_ms <= f.opened_at <= label.end_ms
        and (not label.rules or f.rule in label.rules)
        and label.covers(f.lat, f.lon)
    ]
    # signals are in time order; on a tie a routed signal beats a shadow one
    matches.sort(key=lambda f: (f.opened_at, f.shadow))
    routed = next((f for f in matches if not f.shadow), None)
    return Detection(
        label=label,
        signal=matches[0] if matches else None,
        routed=routed,
        signals=len(matches),
    )


def report_to_dict(report: BacktestReport, *, signals: bool = True) -> dict[str, Any]:
    """The report as plain JSON types, keys in a fixed order. Times are epoch ms
    (event time), durations ms or s as named, ``local`` fields China time text.

    Schema ``citybrain.backtest.report/1``::

        schema: "citybrain.backtest.report/1"
        rules_version: str
        recording: {start_ms, end_ms, start_local, end_local, events, duration_ms}
        totals: {alerts, routed, shadow, incidents}
        rules: [{rule, rule_version, shadow, alerts,
                 severity: {info, warning, critical}, open_ms, still_open,
                 in_incidents, desks: [str]}]                     # by rule id
        desks: [{desk, alerts, by_rule: {rule: n}}]               # routed only
        hours: [{start_ms, local, alerts, by_rule: {rule: n}}]    # China-time hours
        detection: {labels, detected, detected_routed, slack_ms,
                    median_ttd_s, median_routed_ttd_s}             # medians null if none
        labels: [{id, name, start_ms, end_ms, detected, signal, rule, opened_at,
                  ttd_s, shadow, routed_signal, routed_rule, routed_ttd_s, signals}]
        signals: [Fired.to_dict()]     # by opened_at; left out with signals=False
    """
    out: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "rules_version": report.rules_version,
        "recording": {
            "start_ms": report.start_ms,
            "end_ms": report.end_ms,
            "start_local": china_time(report.start_ms),
            "end_local": china_time(report.end_ms),
            "events": report.events,
            "duration_ms": report.end_ms - report.start_ms,
        },
        "totals": {
            "alerts": report.alerts,
            "routed": report.routed,
            "shadow": report.alerts - report.routed,
            "incidents": report.incidents,
        },
        "rules": [
            {
                "rule": r.rule,
                "rule_version": r.rule_version,
                "shadow": r.shadow,
                "alerts": r.alerts,
                "severity": {"info": r.info, "warning": r.warning, "critical": r.critical},
                "open_ms": r.open_ms,
                "still_open": r.still_open,
                "in_incidents": r.in_incidents,
                "desks": list(r.desks),
            }
            for r in report.rules
        ],
        "desks": [
            {"desk": d.desk, "alerts": d.alerts, "by_rule": dict(d.by_rule)} for d in report.desks
        ],
        "hours": [
            {
                "start_ms": h.start_ms,
                "local": h.local,
                "alerts": h.alerts,
                "by_rule": dict(h.by_rule),
            }
            for h in report.hours
        ],
        "detection": {
            "labels": len(report.detections),
            "detected": report.detected,
            "detected_routed": report.detected_routed,
            "slack_ms": report.slack_ms,
            "median_ttd_s": report.median_ttd_s,
            "median_routed_ttd_s": report.median_routed_ttd_s,
        },
        "labels": [_detection_dict(d) for d in report.detections],
    }
    if signals:
        out["signals"] = [f.to_dict() for f in report.fired]
    return out


def _detection_dict(d: Detection) -> dict[str, Any]:
    first, routed = d.signal, d.routed
    return {
        "id": d.label.id,
        "name": d.label.name,
        "start_ms": d.label.start_ms,
        "end_ms": d.label.end_ms,
        "detected": first is not None,
        "signal": first.id if first else None,
        "rule": first.rule if first else None,
        "opened_at": first.opened_at if first else None,
        "ttd_s": d.ttd_s,
        "shadow": d.shadow,
        "routed_signal": routed.id if routed else None,
        "routed_rule": routed.rule if routed else None,
        "routed_ttd_s": d.routed_ttd_s,
        "signals": d.signals,
    }


def _dumps(data: dict[str, Any]) -> str:
    # allow_nan=False: the output must be strict JSON for any consumer
    return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
