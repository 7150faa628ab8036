"""Rule evaluation (pure): what a validated rule says about one subject at one instant.

The worker, backtests and tests all run rules through this module, so a rule
behaves the same everywhere. :func:`compile_rules` turns a
:class:`~alerts.rules.spec.RuleSet` into :class:`CompiledRule` objects that
:func:`alerts.incidents.detect.step` can drive:

* thresholds become numbers: levels by their rank, booleans as 1/0;
* a falling rule negates its metric and thresholds, so the state machine only
  knows "at or above enter opens, below exit closes" (*signed* metrics);
* a subject out of the rule's scope is not evaluated at all; a subject whose
  ``where`` conditions fail, whose metric is unknown (no live camera) or whose
  schedule is inactive reads as *calm* (−inf): no alert opens, an open one
  closes after the exit dwell.

A *subject* is what a rule watches: a cell, a sensor type in a cell, a hotline
cluster (category and anchor cell), or a zone. Its :attr:`Subject.key` is the
stable text a track remembers it by.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from shapely import Point, Polygon, prepare

from alerts.incidents.detect import SEVERITY_RANK
from alerts.rules.catalog import METRICS, Metric, metric_unit
from alerts.rules.spec import Condition, RuleSet, RuleSpec, Threshold, schedule_active

SubjectKind = Literal["cell", "sensor", "hotline", "zone"]
#: A metric value as the pipeline computes it (None: not measurable now).
Value = float | str | bool | None
#: Looks a metric of the subject up by its catalogue name.
Values = Callable[[str], Value]

CALM: Final = float("-inf")


@dataclass(frozen=True, slots=True)
class Subject:
    """One thing a rule watches.

    ``cell`` is the H3 cell (a cluster's anchor; for a zone, the cell that
    places its alert); ``zones``/``zone_kinds`` are those of the cell (for a
    zone subject: the zone itself); ``lat``/``lon`` WGS-84 degrees of the cell
    centre (for polygon scopes).
    """

    kind: SubjectKind
    cell: str
    lat: float
    lon: float
    zones: tuple[str, ...] = ()
    zone_kinds: tuple[str, ...] = ()
    sensor_type: str | None = None
    category: str | None = None

    @property
    def zone(self) -> str:
        """The subject's zone for keys and messages: its first zone, or ``-``."""
        return self.zones[0] if self.zones else "-"

    @property
    def key(self) -> str:
        """Stable text naming the subject: ``cell:<h3>``, ``sensor:<h3>:<type>``,
        ``hotline:<category>:<h3>``, ``zone:<zone id>``."""
        if self.kind == "sensor":
            return f"sensor:{self.cell}:{self.sensor_type}"
        if self.kind == "hotline":
            return f"hotline:{self.category}:{self.cell}"
        if self.kind == "zone":
            return f"zone:{self.zone}"
        return f"cell:{self.cell}"

    def fields(self, rule: str) -> dict[str, str]:
        """The fields dedupe keys and messages may name (``{rule}``, ``{cell}``, …)."""
        out = {"rule": rule, "cell": self.cell, "zone": self.zone}
        if self.sensor_type is not None:
            out["sensor_type"] = self.sensor_type
        if self.category is not None:
            out["category"] = self.category
        return out


def parse_subject_key(key: str) -> tuple[SubjectKind, tuple[str, ...]]:
    """``(kind, parts)`` of a :attr:`Subject.key`; ValueError for anything else."""
    kind, _, rest = key.partition(":")
    parts = tuple(rest.split(":"))
    expected = {"cell": 1, "sensor": 2, "hotline": 2, "zone": 1}.get(kind)
    if expected is None or len(parts) != expected or not all(parts):
        raise ValueError(f"not a subject key: {key!r}")
    return kind, parts  # type: ignore[return-value]


def numeric(metric: Metric, value: Threshold) -> float:
    """A threshold or value as a comparable number: level rank, bool 1/0, else itself."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        return float(metric.rank(value))
    return float(value)


def _holds(metric: Metric, value: Value, cond: Condition) -> bool:
    if value is None:
        return False  # unknown is not evidence of anything
    a, b = numeric(metric, value), numeric(metric, cond.value)
    match cond.op:
        case ">":
            return a > b
        case ">=":
            return a >= b
        case "<":
            return a < b
        case "<=":
            return a <= b
        case "==":
            return a == b
        case _:
            return a != b


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    """A :class:`RuleSpec` ready to evaluate; satisfies
    :class:`alerts.incidents.detect.Hysteresis`."""

    spec: RuleSpec
    version: str  # the rule set's version
    metric: Metric
    kind: SubjectKind
    enter: float  # signed
    exit: float  # signed
    sign: float  # +1 rising, −1 falling
    _polygon: Polygon | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def enter_dwell_ms(self) -> int:
        return self.spec.enter_dwell_ms

    @property
    def exit_dwell_ms(self) -> int:
        return self.spec.exit_dwell_ms

    @property
    def cooldown_ms(self) -> int:
        return self.spec.cooldown_ms

    @property
    def shadow(self) -> bool:
        return self.spec.shadow

    def severity(self, metric: float) -> str:
        """Severity for a signed metric: the fixed one, or the highest threshold reached
        (the lowest listed one as the floor)."""
        policy = self.spec.severity
        if policy.fixed is not None:
            return policy.fixed
        reached = [
            name
            for name, threshold in policy.thresholds
            if metric >= self.sign * numeric(self.metric, threshold)
        ]
        floor = policy.thresholds[0][0] if policy.thresholds else "warning"
        return max([floor, *reached], key=lambda s: SEVERITY_RANK.get(s, 0))

    def in_scope(self, subject: Subject) -> bool:
        """Whether the rule applies to ``subject`` at all (zones, kinds, types, polygon)."""
        scope = self.spec.scope
        if scope.zones and not set(scope.zones) & set(subject.zones):
            return False
        if scope.zone_kinds and not set(scope.zone_kinds) & set(subject.zone_kinds):
            return False
        if scope.sensor_types and subject.sensor_type not in scope.sensor_types:
            return False
        if scope.categories and subject.category not in scope.categories:
            return False
        return self._polygon is None or self._polygon.covers(Point(subject.lon, subject.lat))

    def active(self, values: Values, now_ms: int) -> bool:
        """Schedule active and every ``where`` condition holds."""
        if not schedule_active(self.spec.schedule, now_ms):
            return False
        return all(_holds(METRICS[c.metric], values(c.metric), c) for c in self.spec.where)

    def signed(self, values: Values, now_ms: int) -> float:
        """The subject's signed metric for :func:`alerts.incidents.detect.step` (CALM when
        inactive)."""
        if not self.active(values, now_ms):
            return CALM
        value = values(self.spec.metric)
        if value is None:
            return CALM
        number = numeric(self.metric, value)
        return self.sign * number if math.isfinite(number) else CALM

    def raw(self, signed: float) -> Value:
        """A signed metric back in the metric's own terms (for evidence and messages)."""
        if not math.isfinite(signed):
            return None
        number = self.sign * signed
        if self.metric.kind == "bool":
            return number >= 1.0
        if self.metric.kind == "level":
            index = min(max(round(number), 0), len(self.metric.levels) - 1)
            return self.metric.levels[index]
        return number

    def dedupe_key(self, subject: Subject) -> str:
        return self.spec.dedupe.format_map(subject.fields(self.id))

    def unit(self, subject: Subject) -> str | None:
        """The unit of the rule's metric for ``subject`` (a sensor value's is its type's)."""
        return metric_unit(self.metric, subject.sensor_type)

    def desks(self, subject: Subject) -> tuple[str, ...]:
        """The rule's desks, then the extra desks of the subject's category or sensor type;
        in order, without repeats. (Escalation adds its desks later: alerts.incidents.lifecycle.)"""
        extra = dict(self.spec.extra_desks)
        key = subject.category or subject.sensor_type or ""
        return tuple(dict.fromkeys([*self.spec.desks, *extra.get(key, ())]))

    def message(self, subject: Subject, values: Values) -> tuple[str, str]:
        """``(zh, en)`` rendered for the subject; unknown values print as ``—``."""
        fields = subject.fields(self.id)
        return (
            render(self.spec.message.zh, fields, values),
            render(self.spec.message.en, fields, values),
        )


class _Formatter(string.Formatter):
    def __init__(self, fields: Mapping[str, str], values: Values) -> None:
        self.fields, self.values = fields, values

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str) and key in self.fields:
            return self.fields[key]
        return self.values(str(key))

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "—"
        try:
            return format(value, format_spec)
        except (TypeError, ValueError):  # a level where a number was expected: show it plainly
            return str(value)


MAX_MESSAGE_CHARS: Final = 500
"""A rendered message is cut to this many characters (the checker bounds the formats;
a long subject field could still make a message long)."""


def render(template: str, fields: Mapping[str, str], values: Values) -> str:
    """``template`` with ``{field}`` and ``{metric:fmt}`` filled in (templates are checked
    when the rule file is loaded; a value missing now prints as ``—``), at most
    :data:`MAX_MESSAGE_CHARS` characters."""
    text = _Formatter(fields, values).format(template)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """A rule set ready to evaluate: enabled rules by subject kind, in file order."""

    version: str
    rules: tuple[CompiledRule, ...]
    by_id: Mapping[str, CompiledRule]

    def of(self, kind: SubjectKind) -> tuple[CompiledRule, ...]:
        return tuple(r for r in self.rules if r.kind == kind)


_CACHE: dict[str, CompiledRules] = {}


def compile_rules(rules: RuleSet) -> CompiledRules:
    """Compile every enabled rule of ``rules`` (cached by rule-set version)."""
    cached = _CACHE.get(rules.version)
    if cached is not None:
        return cached
    compiled = tuple(_compile(spec, rules.version) for spec in rules.rules if spec.enabled)
    out = CompiledRules(rules.version, compiled, {r.id: r for r in compiled})
    if len(_CACHE) > 16:  # a few versions live at once (current, candidate in a backtest)
        _CACHE.clear()
    _CACHE[rules.version] = out
    return out


def _compile(spec: RuleSpec, version: str) -> CompiledRule:
    metric = METRICS[spec.metric]
    sign = -1.0 if spec.direction == "falling" else 1.0
    polygon = None
    if spec.scope.polygon:
        outer, *holes = spec.scope.polygon
        polygon = Polygon(outer, holes)
        prepare(polygon)
    return CompiledRule(
        spec=spec,
        version=version,
        metric=metric,
        kind=metric.subject,
        enter=sign * numeric(metric, spec.enter),
        exit=sign * numeric(metric, spec.exit),
        sign=sign,
        _polygon=polygon,
    )
