"""Small parsers for values written in rule files; each raises ValueError with a plain message.

Durations: ``500ms``, ``10s``, ``5m`` (or ``5min``), ``1h``, combined ``1m30s``;
``0`` alone; at most :data:`~alerts.rules.bounds.MAX_DURATION_MS` (7 days).
Times: ``HH:MM`` in 24-hour China time, ``24:00`` only as an end.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from alerts.rules.bounds import MAX_DURATION_MS
from alerts.rules.file_model import DAY_ALIASES
from alerts.rules.spec import DAYS, Op

_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|min|m|h)")
_UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000}
_TIME: Final = re.compile(r"(\d{1,2}):(\d{2})")
_NUMBER: Final = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*")
_CONDITION: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<|=)\s*(.*?)\s*")
_DAY_SETS: Final = {
    "daily": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekend": frozenset({5, 6}),
}
assert set(_DAY_SETS) == set(DAY_ALIASES)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def parse_duration(value: str | int) -> int:
    """A duration in whole milliseconds, from 0 to :data:`MAX_DURATION_MS`."""
    if isinstance(value, int):
        if value == 0:
            return 0
        raise ValueError(
            f"duration {value} needs a unit: {value}s, {value}m, {value}ms or {value}h"
        )
    text = value.strip()
    parts = list(_DURATION_PART.finditer(text))
    if not parts or "".join(p.group(0) for p in parts) != text:
        raise ValueError(f"bad duration {value!r}: write 500ms, 10s, 5m, 1h or 1m30s")
    # float: 10^400 s is inf, which round() cannot take; it is refused here like 8 days.
    ms = sum(float(p.group(1)) * _UNIT_MS[p.group(2)] for p in parts)
    if ms > MAX_DURATION_MS:
        days = MAX_DURATION_MS // 86_400_000
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(
            f"duration {shown!r} is longer than {days} days ({days * 24}h), the most a rule "
            "may wait"
        )
    return round(ms)


def parse_time(text: str, *, end: bool) -> int:
    """``HH:MM`` as minutes after midnight; ``24:00`` (= 1440) is allowed only as an end."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f'bad time {text!r}: write HH:MM, 24-hour, e.g. "09:00"')
    hours, minutes = int(match.group(1)), int(match.group(2))
    if end and (hours, minutes) == (24, 0):
        return 1440
    if hours > 23 or minutes > 59:
        limit = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise ValueError(f"time {text!r} is out of range {limit}")
    return hours * 60 + minutes


def parse_day(name: str) -> frozenset[int]:
    """Weekday indexes (0 = Monday) for ``mon`` … ``sun``, ``daily``, ``weekdays``, ``weekend``."""
    key = name.strip().lower()
    if key in DAYS:
        return frozenset({DAYS.index(key)})
    if key in _DAY_SETS:
        return _DAY_SETS[key]
    choices = (*DAYS, *_DAY_SETS)
    raise ValueError(
        f"unknown day {name!r}{did_you_mean(key, choices)} (days: {', '.join(choices)})"
    )


def split_number(text: str) -> tuple[float, str] | None:
    """``"2.15 persons/m2"`` -> ``(2.15, "persons/m2")``; ``(x, "")`` without a unit;
    None when the text does not start with a number."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    return float(match.group(1)), match.group(2)


def parse_condition(text: str) -> tuple[str, Op, str]:
    """``"density < 2.15"`` -> ``("density", "<", "2.15")``."""
    match = _CONDITION.fullmatch(text)
    if match is None or not match.group(3):
        raise ValueError(f"condition {text!r} is not 'metric op value', e.g. 'los_walkway >= E'")
    metric, op, value = match.groups()
    if op == "=":
        raise ValueError(f"condition {text!r}: write '==' to compare for equality")
    return metric, op, value  # type: ignore[return-value]  # the regex only matches an Op


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{name:spec}`` of a template, ``raw`` as written."""

    name: str
    spec: str
    raw: str


def placeholders(template: str) -> list[Placeholder]:
    """The placeholders of a ``str.format`` template; ValueError for bad braces, positional,
    attribute, index or conversion fields (templates name plain fields only)."""
    out = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"bad template: {exc}; write {{{{ and }}}} for literal braces") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        raw = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        raw += "}"
        if not name:
            raise ValueError("empty placeholder {}: name a field, e.g. {density}")
        if not name.isidentifier():
            raise ValueError(f"placeholder {raw} must be a plain name, e.g. {{density}}")
        if conversion:
            raise ValueError(f"placeholder {raw}: conversions (!{conversion}) are not supported")
        if spec and "{" in spec:
            raise ValueError(f"placeholder {raw}: nested placeholders are not supported")
        out.append(Placeholder(name, spec or "", raw))
    return out
