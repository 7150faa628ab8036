"""Backtest comparison: a candidate rule set against the current one, on one recording (pure).

Both reports come from :func:`citybrain.tools.backtest.report.summarize` over the same
recording. A signal of one run matches a signal of the other when rule and subject
are the same and their opening times (epoch ms) differ by at most the tolerance;
what does not match is listed as added (only the candidate raises it) or removed
(only the current rules raise it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from citybrain.tools.backtest.signal import Fired

if TYPE_CHECKING:
    # types only (the report does not import this module)
    from citybrain.tools.backtest.report import BacktestReport, Detection

DEFAULT_TOLERANCE_MS: Final = 60_000
COMPARISON_SCHEMA: Final = "citybrain.backtest.comparison/1"

LabelChange = Literal["faster", "slower", "same", "gained", "lost", "missed"]


@dataclass(frozen=True, slots=True)
class RuleDelta:
    """Alerts of one rule in both runs; a version is None where the rule is absent."""

    rule: str
    current: int
    candidate: int
    current_version: str | None
    candidate_version: str | None

    @property
    def delta(self) -> int:
        return self.candidate - self.current

    @property
    def changed(self) -> bool:
        """Whether the rule itself differs (added, removed or edited)."""
        return self.current_version != self.candidate_version


@dataclass(frozen=True, slots=True)
class DeskDelta:
    """Alerts routed to one desk in both runs (shadow signals excluded)."""

    desk: str
    current: int
    candidate: int

    @property
    def delta(self) -> int:
        return self.candidate - self.current


@dataclass(frozen=True, slots=True)
class LabelDelta:
    """Time-to-detect (s) of one labelled incident in both runs; None where missed.

    ``*_shadow`` tell whether that run's earliest detection was by a shadow rule.
    """

    label: str
    name: str
    current_ttd_s: float | None
    candidate_ttd_s: float | None
    current_shadow: bool
    candidate_shadow: bool

    @property
    def change_s(self) -> float | None:
        """Candidate minus current time-to-detect (s); negative is faster."""
        if self.current_ttd_s is None or self.candidate_ttd_s is None:
            return None
        return self.candidate_ttd_s - self.current_ttd_s

    @property
    def status(self) -> LabelChange:
        if self.current_ttd_s is None:
            return "missed" if self.candidate_ttd_s is None else "gained"
        if self.candidate_ttd_s is None:
            return "lost"
        change = self.candidate_ttd_s - self.current_ttd_s
        return "faster" if change < 0 else "slower" if change > 0 else "same"


@dataclass(frozen=True, slots=True)
class Comparison:
    """Candidate rule set against the current one. ``added``: signals only the candidate
    raises; ``removed``: only the current rules raise; ``matched``: pairs found in both."""

    current_version: str
    candidate_version: str
    tolerance_ms: int
    current_alerts: int
    candidate_alerts: int
    current_detected: int
    candidate_detected: int
    labels_total: int
    rules: tuple[RuleDelta, ...]  # by rule id
    desks: tuple[DeskDelta, ...]  # by desk id
    labels: tuple[LabelDelta, ...]  # in the current report's label order
    added: tuple[Fired, ...]  # by opened_at
    removed: tuple[Fired, ...]  # by opened_at
    matched: int

    def to_dict(self) -> dict[str, Any]:
        return comparison_to_dict(self)

    def to_json(self) -> str:
        """:func:`comparison_to_dict` as indented UTF-8 JSON text."""
        data = comparison_to_dict(self)
        return json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def compare(
    current: BacktestReport,
    candidate: BacktestReport,
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
) -> Comparison:
    """Compare two rule sets' reports over the same recording.

    Signals match on rule and subject with opening times at most ``tolerance_ms`` apart.
    Raises ValueError when the reports are of different recordings (span or events).
    """
    if tolerance_ms < 0:
        raise ValueError("tolerance_ms must be >= 0")
    span = (current.start_ms, current.end_ms, current.events)
    other = (candidate.start_ms, candidate.end_ms, candidate.events)
    if span != other:
        raise ValueError(
            f"reports are of different recordings: (start_ms, end_ms, events) {span} vs {other}"
        )
    added, removed, matched = _match(current.fired, candidate.fired, tolerance_ms)
    return Comparison(
        current_version=current.rules_version,
        candidate_version=candidate.rules_version,
        tolerance_ms=tolerance_ms,
        current_alerts=current.alerts,
        candidate_alerts=candidate.alerts,
        current_detected=current.detected,
        candidate_detected=candidate.detected,
        labels_total=len({d.label.id for d in (*current.detections, *candidate.detections)}),
        rules=_rule_deltas(current, candidate),
        desks=_desk_deltas(current, candidate),
        labels=_label_deltas(current, candidate),
        added=added,
        removed=removed,
        matched=matched,
    )


def _match(
    current: Sequence[Fired], candidate: Sequence[Fired], tolerance_ms: int
) -> tuple[tuple[Fired, ...], tuple[Fired, ...], int]:
    groups: defaultdict[tuple[str, str], tuple[list[Fired], list[Fired]]] = defaultdict(
        lambda: ([], [])
    )
    for f in current:
        groups[f.rule, f.subject][0].append(f)
    for f in candidate:
        groups[f.rule, f.subject][1].append(f)
    added: list[Fired] = []
    removed: list[Fired] = []
    matched = 0
    for cur, cand in groups.values():
        cur.sort(key=lambda f: f.opened_at)
        cand.sort(key=lambda f: f.opened_at)
        # Two pointers over both time lines: pairing the earliest unmatched signals
        # whenever they are close enough gives the largest number of matches.
        i = j = 0
        while i < len(cur) and j < len(cand):
            gap = cand[j].opened_at - cur[i].opened_at
            if abs(gap) <= tolerance_ms:
                matched += 1
                i += 1
                j += 1
            elif gap > 0:
                removed.append(cur[i])
                i += 1
            else:
                added.append(cand[j])
                j += 1
        removed.extend(cur[i:])
        added.extend(cand[j:])

    def order(f: Fired) -> tuple[int, str, str]:
        return (f.opened_at, f.rule, f.subject)

    return tuple(sorted(added, key=order)), tuple(sorted(removed, key=order)), matched


def _rule_deltas(current: BacktestReport, candidate: BacktestReport) -> tuple[RuleDelta, ...]:
    cur = {r.rule: r for r in current.rules}
    cand = {r.rule: r for r in candidate.rules}
    out = []
    for rule in sorted(cur.keys() | cand.keys()):
        a, b = cur.get(rule), cand.get(rule)
        out.append(
            RuleDelta(
                rule=rule,
                current=a.alerts if a else 0,
                candidate=b.alerts if b else 0,
                current_version=a.rule_version if a else None,
                candidate_version=b.rule_version if b else None,
            )
        )
    return tuple(out)


def _desk_deltas(current: BacktestReport, candidate: BacktestReport) -> tuple[DeskDelta, ...]:
    cur = {d.desk: d.alerts for d in current.desks}
    cand = {d.desk: d.alerts for d in candidate.desks}
    return tuple(
        DeskDelta(desk=desk, current=cur.get(desk, 0), candidate=cand.get(desk, 0))
        for desk in sorted(cur.keys() | cand.keys())
    )


def _label_deltas(current: BacktestReport, candidate: BacktestReport) -> tuple[LabelDelta, ...]:
    cur = {d.label.id: d for d in current.detections}
    cand = {d.label.id: d for d in candidate.detections}
    ids = list(cur) + [i for i in cand if i not in cur]

    def ttd(d: Detection | None) -> float | None:
        return None if d is None else d.ttd_s

    out = []
    for label_id in ids:
        a, b = cur.get(label_id), cand.get(label_id)
        named = a or b
        out.append(
            LabelDelta(
                label=label_id,
                name=named.label.name if named else label_id,
                current_ttd_s=ttd(a),
                candidate_ttd_s=ttd(b),
                current_shadow=a is not None and a.shadow,
                candidate_shadow=b is not None and b.shadow,
            )
        )
    return tuple(out)


def comparison_to_dict(comparison: Comparison, *, limit: int | None = None) -> dict[str, Any]:
    """The comparison as plain JSON types, keys in a fixed order (times epoch ms,
    time-to-detect in seconds). ``limit`` caps the added/removed lists; their full
    lengths stay in ``totals``.

    Schema ``citybrain.backtest.comparison/1``::

        schema: "citybrain.backtest.comparison/1"
        current_version: str
        candidate_version: str
        tolerance_ms: int
        totals: {current, candidate, delta, added, removed, matched,
                 labels, current_detected, candidate_detected}
        rules: [{rule, current, candidate, delta, current_version,
                 candidate_version, changed}]                     # by rule id
        desks: [{desk, current, candidate, delta}]                # routed only
        labels: [{id, name, current_ttd_s, candidate_ttd_s, change_s, status,
                  current_shadow, candidate_shadow}]   # status: faster|slower|same|
                                                       #   gained|lost|missed
        added: [Fired.to_dict()]       # only the candidate raises them, by opened_at
        removed: [Fired.to_dict()]     # only the current rules raise them
    """
    c = comparison
    return {
        "schema": COMPARISON_SCHEMA,
        "current_version": c.current_version,
        "candidate_version": c.candidate_version,
        "tolerance_ms": c.tolerance_ms,
        "totals": {
            "current": c.current_alerts,
            "candidate": c.candidate_alerts,
            "delta": c.candidate_alerts - c.current_alerts,
            "added": len(c.added),
            "removed": len(c.removed),
            "matched": c.matched,
            "labels": c.labels_total,
            "current_detected": c.current_detected,
            "candidate_detected": c.candidate_detected,
        },
        "rules": [
            {
                "rule": r.rule,
                "current": r.current,
                "candidate": r.candidate,
                "delta": r.delta,
                "current_version": r.current_version,
                "candidate_version": r.candidate_version,
                "changed": r.changed,
            }
            for r in c.rules
        ],
        "desks": [
            {"desk": d.desk, "current": d.current, "candidate": d.candidate, "delta": d.delta}
            for d in c.desks
        ],
        "labels": [
            {
                "id": lab.label,
                "name": lab.name,
                "current_ttd_s": lab.current_ttd_s,
                "candidate_ttd_s": lab.candidate_ttd_s,
                "change_s": lab.change_s,
                "status": lab.status,
                "current_shadow": lab.current_shadow,
                "candidate_shadow": lab.candidate_shadow,
            }
            for lab in c.labels
        ],
        "added": [f.to_dict() for f in c.added[:limit]],
        "removed": [f.to_dict() for f in c.removed[:limit]],
    }
