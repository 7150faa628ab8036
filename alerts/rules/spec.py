"""What a rule file means once validated: frozen rule specs, and the problems found on the way.

Every value here is already checked and canonical: thresholds are in the
metric's canonical unit (:mod:`alerts.rules.catalog`), durations in ms, local
times in minutes after midnight, China time (UTC+8, no daylight saving).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["rising", "falling"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]
#: A number in the metric's canonical unit, a level name (level metrics), or True (bool metrics).
Threshold = float | str | bool

SEVERITIES = ("info", "warning", "critical")  # lowest first
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
#: China Standard Time, the command centre's clock for schedules, in ms.
CHINA_UTC_OFFSET_MS = 8 * 3_600_000


@dataclass(frozen=True, slots=True, order=True)
class RuleProblem:
    """One problem in a rule file, at a 1-based line and column (0, 0: the whole file)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class RuleFileError(Exception):
    """Rule files with problems; ``problems`` holds every one of them, in file order."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in rule files:\n{shown}{more}")


@dataclass(frozen=True, slots=True)
class Condition:
    """``metric op value``: an extra condition of a rule; levels compare by their order."""

    metric: str
    op: Op
    value: Threshold


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a rule applies; empty fields do not restrict.

    ``polygon`` holds GeoJSON Polygon rings of WGS-84 ``(lon, lat)`` degrees,
    outer boundary first, then holes; each ring closed (first == last).
    """

    zones: tuple[str, ...] = ()
    zone_kinds: tuple[str, ...] = ()
    sensor_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    polygon: tuple[tuple[tuple[float, float], ...], ...] = ()


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Days and a local time range; a range ending at or before its start runs past midnight.

    ``days`` are weekday indexes (0 = Monday) on which the window *starts*;
    ``start_min`` is in [0, 1440), ``end_min`` in (0, 1440], minutes after midnight.
    """

    days: frozenset[int]
    start_min: int
    end_min: int

    def contains(self, weekday: int, minute: int) -> bool:
        """Whether local ``weekday`` (0 = Monday) and ``minute`` after midnight fall inside."""
        if self.start_min < self.end_min:
            return weekday in self.days and self.start_min <= minute < self.end_min
        # Overnight: the evening part belongs to its own day, the morning part to the day before.
        return (weekday in self.days and minute >= self.start_min) or (
            (weekday - 1) % 7 in self.days and minute < self.end_min
        )


def schedule_active(windows: tuple[TimeWindow, ...], epoch_ms: int) -> bool:
    """Whether ``epoch_ms`` (UTC) falls in any window, in China time; no windows: always."""
    if not windows:
        return True
    local_min = (epoch_ms + CHINA_UTC_OFFSET_MS) // 60_000
    # 1970-01-01 was a Thursday (weekday 3).
    weekday, minute = (local_min // 1440 + 3) % 7, local_min % 1440
    return any(w.contains(weekday, minute) for w in windows)


@dataclass(frozen=True, slots=True)
class SeverityPolicy:
    """A fixed severity, or thresholds: the highest severity whose threshold the metric
    reaches (by the rule's direction), else the lowest listed severity."""

    fixed: str | None = "warning"
    thresholds: tuple[tuple[str, Threshold], ...] = ()  # (severity, threshold), lowest first


@dataclass(frozen=True, slots=True)
class Escalation:
    """When an open alert is not acknowledged within ``after_ms``: raise its severity and/or
    route it to more desks."""

    after_ms: int
    severity: str | None = None
    add_desks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """Alert text templates; ``{name}`` placeholders name metrics or subject fields."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One validated rule.

    The rule opens when the metric reaches ``enter`` (≥ rising, ≤ falling) for
    ``enter_dwell_ms`` while every ``where`` condition holds and the schedule is
    active, and closes when it is past ``exit`` (< rising, > falling) — or a
    condition or the schedule no longer holds — for ``exit_dwell_ms``. A closed
    alert with the same ``dedupe`` key does not reopen within ``cooldown_ms``.
    """

    id: str
    metric: str
    enter: Threshold
    exit: Threshold
    desks: tuple[str, ...]
    message: Message
    dedupe: str
    direction: Direction = "rising"
    where: tuple[Condition, ...] = ()
    scope: Scope = field(default_factory=Scope)
    schedule: tuple[TimeWindow, ...] = ()
    enter_dwell_ms: int = 0
    exit_dwell_ms: int = 0
    cooldown_ms: int = 0
    severity: SeverityPolicy = field(default_factory=SeverityPolicy)
    escalate: Escalation | None = None
    extra_desks: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (category or sensor type, desks)
    shadow: bool = False  # evaluated and recorded, never routed to desks
    enabled: bool = True
    description: str = ""
    source: str = field(default="", compare=False)  # "file:line" where the rule is defined


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Rules loaded together. ``version`` is a hash of their meaning: the same for the same
    rules whatever the files, order, comments or layout, different when any rule changes."""

    version: str
    rules: tuple[RuleSpec, ...]
    sources: tuple[str, ...]

    def get(self, rule_id: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.id == rule_id), None)
