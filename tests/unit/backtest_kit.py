"""Shared pieces for backtest tests: signals and labels around the Tongji Bridge."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from alerts.incidents.labels import Label
from citybrain.tools.backtest.report import BacktestReport, summarize
from citybrain.tools.backtest.signal import Fired, fired_id
from geo.measure import offset_m

CST = timezone(timedelta(hours=8))  # China Standard Time
T0 = int(datetime(2026, 5, 1, 14, 0, tzinfo=CST).timestamp() * 1000)  # 14:00 China time
MIN = 60_000
END = T0 + 120 * MIN  # a two-hour recording
CENTRE = (23.0305, 113.1220)  # Tongji Bridge, Foshan (WGS-84)


def at(east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    return offset_m(*CENTRE, east_m, north_m)


def sig(
    rule: str = "crowd.density",
    subject: str = "cell-a",
    opened: int = T0,
    *,
    closed: int | None = None,
    severity: str = "warning",
    desks: tuple[str, ...] = ("110",),
    shadow: bool = False,
    where: tuple[float, float] = CENTRE,
    incident: str | None = None,
    version: str = "v1",
) -> Fired:
    return Fired(
        id=fired_id(rule, f"{rule}:{subject}", opened),
        rule=rule,
        rule_version=version,
        subject=f"{rule}:{subject}",
        cell="89411c0a2a3ffff",
        lat=where[0],
        lon=where[1],
        severity=severity,
        desks=desks,
        shadow=shadow,
        opened_at=opened,
        closed_at=closed,
        incident=incident,
    )


def label(
    start: int = T0 + 10 * MIN,
    end: int = T0 + 20 * MIN,
    *,
    radius_m: float = 500.0,
    rules: tuple[str, ...] = (),
    id: str = "L1",
) -> Label:
    return Label(id, f"name of {id}", start, end, *CENTRE, radius_m=radius_m, rules=rules)


def report(
    fired: list[Fired], labels: tuple[Label, ...] = (), version: str = "rs1", **kw: Any
) -> BacktestReport:
    return summarize(
        fired, labels, rules_version=version, start_ms=T0, end_ms=END, events=1000, **kw
    )
