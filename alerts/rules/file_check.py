"""Second pass over a rule: what its values mean, checked against the metric catalogue.

Works on the values that passed :mod:`alerts.rules.file_shape` (so one bad key
does not hide problems elsewhere) and builds the :class:`RuleSpec` when
nothing is wrong. Checks that need the metric are skipped when the metric
itself is unknown, so that one typo gives one problem, not twenty.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from alerts.rules.catalog import (
    HOTLINE_CATEGORIES,
    METRICS,
    SENSOR_TYPES,
    SENSOR_UNITS,
    ZONE_KINDS,
    Metric,
)
from alerts.rules.file_model import EscalateModel, ScopeModel, SeverityThresholdsModel, WindowModel
from alerts.rules.file_polygon import polygon_problems
from alerts.rules.file_shape import shape_rule
from alerts.rules.file_templates import check_dedupe, check_message
from alerts.rules.file_thresholds import BadValue, fmt, parse_threshold, rank, sensor_unit
from alerts.rules.file_values import (
    did_you_mean,
    parse_condition,
    parse_day,
    parse_duration,
    parse_time,
)
from alerts.rules.file_yaml import YDocument, YMap, YNode, resolve
from alerts.rules.spec import (
    SEVERITIES,
    Condition,
    Escalation,
    RuleProblem,
    RuleSpec,
    Scope,
    SeverityPolicy,
    Threshold,
    TimeWindow,
)
from alerts.rules.vocabulary import DESKS

RULE_ID: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
Loc = tuple[str | int, ...]


def check_rule(doc: YDocument, node: YNode) -> tuple[RuleSpec | None, list[RuleProblem]]:
    """Every problem of one rule, and its spec when there are none."""
    values, problems = shape_rule(doc, node)
    if not isinstance(node, YMap):
        return None, problems
    spec = _Checker(doc, node, values, problems).run()
    return (spec if not problems else None), problems


class _Checker:
    def __init__(
        self, doc: YDocument, node: YMap, values: dict[str, Any], problems: list[RuleProblem]
    ) -> None:
        self.doc, self.node, self.values, self.problems = doc, node, values, problems
        rule_id = values.get("id")
        self.label = f"rule '{rule_id}'" if rule_id else "rule"

    def fine(self, key: str) -> bool:
        """Whether ``key`` is absent or well-formed (a malformed one is already reported)."""
        return key in self.values or self.node.get(key) is None

    def report(self, loc: Loc, message: str, needle: str | None = None) -> None:
        node, _ = resolve(self.node, loc)
        mark = self.doc.find(node, needle) if needle else node.start
        self.problems.append(self.doc.problem(mark, message))

    def report_key(self, loc: Loc, message: str) -> None:
        node, entry = resolve(self.node, loc)
        self.problems.append(self.doc.problem(entry.key_start if entry else node.start, message))

    def parsed(self, loc: Loc, parse: Callable[[], int]) -> int | None:
        try:
            return parse()
        except ValueError as exc:
            self.report(loc, str(exc))
            return None

    def duration(self, loc: Loc, raw: str | int) -> int:
        """Milliseconds; 0 after a problem (reported)."""
        return self.parsed(loc, lambda: parse_duration(raw)) or 0

    def run(self) -> RuleSpec | None:
        v = self.values
        rule_id: str | None = v.get("id")
        if rule_id is not None and not RULE_ID.fullmatch(rule_id):
            text = f"rule id {rule_id!r} must be dotted lowercase words, e.g. crowd.density"
            self.report(("id",), text)
        metric = self.metric(v.get("metric"))
        direction = v.get("direction", "rising")
        scope = self.scope(v.get("scope", ScopeModel()), metric)
        unit = self.unit(metric, scope)
        enter, exit_ = self.thresholds(metric, unit, direction)
        where = tuple(self.conditions(v.get("where", []), metric, scope))
        windows = self.schedule(v.get("schedule", []))
        dwell = v.get("dwell")
        enter_dwell = self.duration(("dwell", "enter"), dwell.enter if dwell else 0)
        exit_dwell = self.duration(("dwell", "exit"), dwell.exit if dwell else 0)
        cooldown = self.duration(("cooldown",), v.get("cooldown", 0))
        severity = self.severity(v.get("severity", "warning"), metric, unit, direction)
        escalate = self.escalate(v.get("escalate"), severity)
        shadow = v.get("shadow", False)
        desks = self.desks(("desks",), v.get("desks", []), need=not shadow and self.fine("desks"))
        extra = self.extra_desks(v.get("extra_desks", {}), metric)
        subject = metric.subject if metric else None
        dedupe, dedupe_problems = check_dedupe(v.get("dedupe"), subject)
        message, message_problems = check_message(v.get("message"), subject)
        for loc, text, needle in (*dedupe_problems, *message_problems):
            self.report(loc, text, needle)
        if self.problems or None in (rule_id, metric, enter, exit_, dedupe, message):
            return None
        assert rule_id and metric and enter is not None and exit_ is not None
        assert dedupe and message
        return RuleSpec(
            id=rule_id,
            metric=metric.name,
            enter=enter,
            exit=exit_,
            desks=desks,
            message=message,
            dedupe=dedupe,
            direction=direction,
            where=where,
            scope=scope,
            schedule=windows,
            enter_dwell_ms=enter_dwell,
            exit_dwell_ms=exit_dwell,
            cooldown_ms=cooldown,
            severity=severity,
            escalate=escalate,
            extra_desks=extra,
            shadow=shadow,
            enabled=v.get("enabled", True),
            description=v.get("description", "").strip(),
            source=f"{self.doc.file}:{self.node.start.line}",
        )

    # -- metric, units, thresholds ------------------------------------------------------------

    def metric(self, name: str | None) -> Metric | None:
        if name is None:
            return None
        if name not in METRICS:
            self.report(("metric",), f"unknown metric '{name}'{did_you_mean(name, METRICS)}")
            return None
        return METRICS[name]

    def unit(self, metric: Metric | None, scope: Scope) -> str | None:
        """The canonical unit thresholds are in; None when it cannot be known."""
        if metric is None or metric.unit is not None:
            return metric.unit if metric else None
        if not self.fine("scope"):
            return None  # the scope is malformed and already reported
        if not scope.sensor_types:
            message = f"{metric.name} is in the sensor type's unit: name the type in scope"
            self.report(("scope",), f"{self.label}: {message}.sensor_types")
            return None
        unit = sensor_unit(scope)
        if unit is None:
            types = ", ".join(scope.sensor_types)
            units = ", ".join(sorted({SENSOR_UNITS.get(t, "?") for t in scope.sensor_types}))
            message = f"sensor types {types} have different units ({units}): one rule per unit"
            self.report(("scope", "sensor_types"), message)
        return unit

    def value(
        self, loc: Loc, raw: object, metric: Metric, unit: str | None, what: str, at: str = ""
    ) -> Threshold | None:
        """``raw`` as a value of ``metric``; None after a problem, reported at ``at`` (the text
        to point at, when the value sits inside a longer text) or at ``loc``."""
        try:
            return parse_threshold(raw, metric, unit, what)
        except BadValue as exc:
            self.report(loc, exc.message, exc.needle or at)
            return None

    def thresholds(
        self, metric: Metric | None, unit: str | None, direction: str
    ) -> tuple[Threshold | None, Threshold | None]:
        if metric is None:
            return None, None
        raw_enter, raw_exit = self.values.get("enter"), self.values.get("exit")
        if metric.kind == "bool":
            if direction != "rising":
                self.report(("direction",), f"{metric.name} is true or false: rising rules only")
            if raw_exit is not None:
                message = f"{metric.name} is true or false: no exit threshold, it closes on false"
                self.report(("exit",), message)
            if raw_enter not in (None, True):
                self.report(("enter",), f"{metric.name} is true or false: enter can only be true")
            return True, True
        enter = self.need("enter", metric, unit)
        exit_ = self.need("exit", metric, unit)
        if enter is None or exit_ is None:
            return enter, exit_
        rising = direction == "rising"
        past = rank(metric, exit_) > rank(metric, enter)
        if exit_ != enter and past == rising:
            where, note = ("above", "") if rising else ("below", " (falling rule)")
            message = (
                f"exit threshold {fmt(exit_, unit)} is {where} "
                f"enter threshold {fmt(enter, unit)}{note}"
            )
            self.report(("exit",), message)
        return enter, exit_

    def need(self, key: str, metric: Metric, unit: str | None) -> Threshold | None:
        raw = self.values.get(key)
        if raw is None:
            if self.fine(key):
                hint = "" if key == "enter" else " (not past enter: the gap is the hysteresis)"
                self.report((key,), f"{self.label} needs an {key} threshold{hint}")
            return None
        return self.value((key,), raw, metric, unit, f"{key} threshold")

    def conditions(self, texts: list[str], metric: Metric | None, scope: Scope) -> list[Condition]:
        out = []
        for i, text in enumerate(texts):
            at: Loc = ("where", i)
            try:
                name, op, raw = parse_condition(text)
            except ValueError as exc:
                self.report(at, str(exc))
                continue
            other = METRICS.get(name)
            if other is None:
                self.report(at, f"unknown metric '{name}'{did_you_mean(name, METRICS)}", name)
                continue
            if metric is not None and other.subject != metric.subject:
                message = (
                    f"condition on {other.subject} metric '{name}' in a rule on "
                    f"{metric.subject} metric '{metric.name}'"
                )
                self.report(at, message, name)
                continue
            if other.kind == "bool" and op not in ("==", "!="):
                self.report(at, f"{name} is true or false: compare with == or !=", op)
                continue
            parsed: object = {"true": True, "false": False}.get(raw.lower(), raw)
            unit = other.unit if other.unit is not None else sensor_unit(scope)
            written = parsed if other.kind == "bool" else raw
            value = self.value(at, written, other, unit, "value", raw)
            if value is not None:
                out.append(Condition(name, op, value))
        return out

    # -- scope and schedule -------------------------------------------------------------------

    def scope(self, model: ScopeModel, metric: Metric | None) -> Scope:
        subject = metric.subject if metric else None
        only = {"sensor_types": "sensor", "categories": "hotline"}
        known = {"sensor_types": SENSOR_TYPES, "categories": HOTLINE_CATEGORIES}
        known["zone_kinds"] = ZONE_KINDS
        for key, names in known.items():
            listed: list[str] = getattr(model, key)
            if metric and listed and key in only and subject != only[key]:
                message = (
                    f"scope.{key} is for {only[key]} metrics; {metric.name} is a {subject} metric"
                )
                self.report_key(("scope", key), message)
            what = {"sensor_types": "sensor type", "categories": "category"}.get(key, "zone kind")
            for i, name in enumerate(listed):
                if name not in names:
                    hint = did_you_mean(name, names) or f"; known: {', '.join(names)}"
                    message = f"unknown {what} '{name}'{hint}"
                    self.report(("scope", key, i), message)
        for i, zone in enumerate(model.zones):
            if not zone.strip():
                self.report(("scope", "zones", i), "empty zone id")
        for loc, message in polygon_problems(model.polygon):
            self.report(("scope", "polygon", *loc), message)
        return Scope(
            zones=tuple(model.zones),
            zone_kinds=tuple(model.zone_kinds),
            sensor_types=tuple(model.sensor_types),
            categories=tuple(model.categories),
            polygon=tuple(tuple((lon, lat) for lon, lat in ring) for ring in model.polygon),
        )

    def schedule(self, raw: WindowModel | list[WindowModel]) -> tuple[TimeWindow, ...]:
        windows = [raw] if isinstance(raw, WindowModel) else raw
        out = []
        for i, window in enumerate(windows):
            at: Loc = ("schedule",) if isinstance(raw, WindowModel) else ("schedule", i)
            days: set[int] = set()
            for j, day in enumerate(window.days):
                try:
                    days |= parse_day(day)
                except ValueError as exc:
                    self.report((*at, "days", j), str(exc))
            if not window.days:
                self.report((*at, "days"), "no days: leave days out for every day")
            start, end = window.start, window.end
            start_min = self.parsed((*at, "from"), partial(parse_time, start, end=False))
            end_min = self.parsed((*at, "to"), partial(parse_time, end, end=True))
            if start_min is None or end_min is None:
                continue
            if start_min == end_min % 1440:
                message = f"from and to are both {start}: leave both out for the whole day"
                self.report((*at, "to"), message)
                continue
            out.append(TimeWindow(frozenset(days), start_min, end_min))
        return tuple(out)

    # -- severity, desks, escalation ----------------------------------------------------------

    def severity(
        self,
        raw: str | SeverityThresholdsModel,
        metric: Metric | None,
        unit: str | None,
        direction: str,
    ) -> SeverityPolicy:
        if isinstance(raw, str):
            return SeverityPolicy(fixed=raw)
        given = [(s, getattr(raw, s)) for s in SEVERITIES if getattr(raw, s) is not None]
        if not given:
            self.report(("severity",), "severity thresholds need info, warning or critical")
            return SeverityPolicy()
        if metric is None:
            return SeverityPolicy()
        if metric.kind == "bool":
            self.report(("severity",), f"{metric.name} is true or false: use a fixed severity")
            return SeverityPolicy()
        parsed = []
        for name, value in given:
            checked = self.value(("severity", name), value, metric, unit, f"{name} threshold")
            if checked is not None:
                parsed.append((name, checked))
        for (low, a), (high, b) in itertools.pairwise(parsed):
            ra, rb = rank(metric, a), rank(metric, b)
            if (rb < ra) if direction == "rising" else (rb > ra):
                where = "below" if direction == "rising" else "above"
                message = (
                    f"{high} threshold {fmt(b, unit)} is {where} {low} threshold {fmt(a, unit)}"
                )
                self.report(("severity", high), message)
        return SeverityPolicy(fixed=None, thresholds=tuple(parsed))

    def desks(self, loc: Loc, names: list[str], *, need: bool) -> tuple[str, ...]:
        for i, desk in enumerate(names):
            if desk not in DESKS:
                hint = did_you_mean(desk, DESKS) or f"; desks: {', '.join(DESKS)}"
                self.report((*loc, i), f"unknown desk '{desk}'{hint}")
            elif desk in names[:i]:
                self.report((*loc, i), f"desk '{desk}' is listed twice")
        if need and not names:
            self.report(loc, f"{self.label} routes to no desk: add desks, or set shadow: true")
        return tuple(dict.fromkeys(names))

    def escalate(self, model: EscalateModel | None, policy: SeverityPolicy) -> Escalation | None:
        if model is None:
            return None
        after = self.parsed(("escalate", "after"), lambda: parse_duration(model.after))
        if after == 0:
            self.report(("escalate", "after"), "escalate after must be longer than 0")
        if model.severity is None and not model.add_desks:
            self.report(("escalate",), "escalate needs a severity, add_desks, or both")
        floor = policy.fixed or (policy.thresholds[0][0] if policy.thresholds else "warning")
        if model.severity and SEVERITIES.index(model.severity) <= SEVERITIES.index(floor):
            message = f"escalate severity '{model.severity}' is not above the rule's '{floor}'"
            self.report(("escalate", "severity"), message)
        desks = self.desks(("escalate", "add_desks"), model.add_desks, need=False)
        return Escalation(after_ms=after or 0, severity=model.severity, add_desks=desks)

    def extra_desks(
        self, raw: dict[str, list[str]], metric: Metric | None
    ) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if not raw or metric is None:
            return ()
        keys = {"hotline": HOTLINE_CATEGORIES, "sensor": SENSOR_TYPES}.get(metric.subject)
        if keys is None:
            message = (
                "extra_desks is by ticket category or sensor type; "
                f"{metric.name} is a {metric.subject} metric"
            )
            self.report_key(("extra_desks",), message)
            return ()
        kind = "category" if metric.subject == "hotline" else "sensor type"
        out = []
        for key, names in raw.items():
            if key not in keys:
                hint = did_you_mean(key, keys) or f"; known: {', '.join(keys)}"
                message = f"unknown {kind} '{key}'{hint}"
                self.report_key(("extra_desks", key), message)
            out.append((key, self.desks(("extra_desks", key), names, need=False)))
        return tuple(out)
