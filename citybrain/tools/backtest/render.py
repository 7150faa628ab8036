"""Terminal tables and a picture for ``citybrain rules backtest`` (edge).

:func:`render_report` prints a backtest report — and, given one, its comparison
against the current rules — as rich tables; :func:`plot_report` (from
:mod:`citybrain.tools.backtest.plot`) draws every alert over time, one row per rule, into
a PNG with the labelled incidents shaded. The numbers come from
:mod:`citybrain.tools.backtest.report`; these modules only lay them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

from citybrain.tools.backtest.compare import Comparison, RuleDelta
from citybrain.tools.backtest.plot import BacktestPlot, PlotPanel, PlotRow, plot_report
from citybrain.tools.backtest.report import BacktestReport, Detection, china_time
from citybrain.tools.backtest.signal import Fired

__all__ = ["BacktestPlot", "PlotPanel", "PlotRow", "plot_report", "render_report"]

DEFAULT_LIMIT: Final = 20
"""Rows shown of a long list (added/removed alerts) before "… N more"."""

_SEVERITY_STYLE: Final = {"info": "blue", "warning": "yellow", "critical": "bold red"}
_DAY_MS: Final = 86_400_000


def render_report(
    report: BacktestReport,
    comparison: Comparison | None = None,
    console: Console | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
) -> None:
    """Print ``report`` as tables; with ``comparison`` (whose candidate is ``report``),
    also the side-by-side counts, time-to-detect changes and at most ``limit`` added and
    removed alerts each."""
    if comparison is not None and comparison.candidate_version != report.rules_version:
        raise ValueError(
            f"comparison is of candidate {comparison.candidate_version}, "
            f"not of this report's rules {report.rules_version}"
        )
    out = console if console is not None else Console()
    when = _clock(report)
    out.print(Text(f"Backtest of rules {report.rules_version}", style="bold"))
    out.print(_summary(report))
    out.print(_rule_table(report))
    out.print(_desk_table(report))
    out.print(_hour_table(report))
    if report.detections:
        out.print(_label_table(report, when))
    if comparison is None:
        return
    out.print()
    out.print(_comparison_summary(comparison))
    out.print(_rule_delta_table(comparison))
    if comparison.desks:
        out.print(_desk_delta_table(comparison))
    if comparison.labels:
        out.print(_label_delta_table(comparison))
    out.print(_signal_table("Only the candidate raises", comparison.added, when, limit))
    out.print(_signal_table("Only the current rules raise", comparison.removed, when, limit))


def _summary(report: BacktestReport) -> Text:
    shadow = report.alerts - report.routed
    lines = [
        f"Recording {china_time(report.start_ms)} to {china_time(report.end_ms)} China time "
        f"({_duration(report.end_ms - report.start_ms)}), {report.events:,} events",
        f"Alerts {report.alerts:,} ({report.routed:,} routed to desks, {shadow:,} shadow), "
        f"{report.incidents:,} incidents",
    ]
    if report.detections:
        median = report.median_ttd_s
        lines.append(
            f"Labelled incidents detected {report.detected}/{len(report.detections)} "
            f"(by routed rules {report.detected_routed}/{len(report.detections)}), "
            f"median time-to-detect {_seconds(median) if median is not None else 'n/a'}"
        )
    return Text("\n".join(lines))


def _rule_table(report: BacktestReport) -> Table:
    table = Table(title="Alerts per rule", title_justify="left")
    table.add_column("Rule")
    table.add_column("Version")
    for name in ("Alerts", "Info", "Warning", "Critical", "Open time", "Still open"):
        table.add_column(name, justify="right")
    table.add_column("Desks")
    for r in report.rules:
        table.add_row(
            _rule_name(r.rule, r.shadow),
            r.rule_version,
            f"{r.alerts:,}",
            f"{r.info:,}",
            f"{r.warning:,}",
            f"{r.critical:,}",
            _duration(r.open_ms),
            f"{r.still_open:,}",
            ", ".join(r.desks),
        )
    if not report.rules:
        table.add_row("no rules fired", *[""] * 8)
    return table


def _desk_table(report: BacktestReport) -> Table:
    table = Table(title="Alerts per desk (shadow rules excluded)", title_justify="left")
    table.add_column("Desk")
    table.add_column("Alerts", justify="right")
    table.add_column("From rules")
    for d in report.desks:
        table.add_row(d.desk, f"{d.alerts:,}", _by_rule(d.by_rule))
    if not report.desks:
        table.add_row("none", "0", "")
    return table


def _hour_table(report: BacktestReport) -> Table:
    busy = [h for h in report.hours if h.alerts]
    quiet = len(report.hours) - len(busy)
    caption = f"{quiet} hour(s) without alerts not shown" if quiet else None
    table = Table(title="Alerts per hour (China time)", title_justify="left", caption=caption)
    table.add_column("Hour")
    table.add_column("Alerts", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("By rule")
    peak = max((h.alerts for h in busy), default=0)
    for h in busy:
        bar = "#" * max(1, round(20 * h.alerts / peak))
        table.add_row(h.local, f"{h.alerts:,}", bar, _by_rule(h.by_rule))
    return table


def _label_table(report: BacktestReport, when: str) -> Table:
    table = Table(
        title=f"Labelled incidents (a signal counts from {report.slack_ms // 1000} s before)",
        title_justify="left",
    )
    table.add_column("Label")
    table.add_column("Name")
    table.add_column("Start")
    table.add_column("First detected by")
    table.add_column("Time to detect", justify="right")
    table.add_column("By a routed rule", justify="right")
    table.add_column("Signals", justify="right")
    for d in report.detections:
        table.add_row(
            d.label.id,
            d.label.name,
            china_time(d.label.start_ms, when),
            _detected_by(d),
            _ttd(d.ttd_s),
            _ttd(d.routed_ttd_s),
            f"{d.signals:,}",
        )
    return table


def _detected_by(d: Detection) -> Text:
    if d.signal is None:
        return Text("missed", style="bold red")
    return _rule_name(d.signal.rule, d.signal.shadow)


def _comparison_summary(c: Comparison) -> Text:
    delta = c.candidate_alerts - c.current_alerts
    return Text(
        f"Against the current rules {c.current_version} "
        f"(signals match within {c.tolerance_ms // 1000} s)\n"
        f"Alerts {c.current_alerts:,} -> {c.candidate_alerts:,} ({delta:+,}): "
        f"{len(c.added):,} only in candidate, {len(c.removed):,} only in current, "
        f"{c.matched:,} in both\n"
        f"Labelled incidents detected {c.current_detected}/{c.labels_total} -> "
        f"{c.candidate_detected}/{c.labels_total}",
        style="bold",
    )


def _rule_delta_table(c: Comparison) -> Table:
    table = Table(title="Alerts per rule: current vs candidate", title_justify="left")
    table.add_column("Rule")
    for name in ("Current", "Candidate", "Change"):
        table.add_column(name, justify="right")
    table.add_column("Rule itself")
    for r in c.rules:
        table.add_row(
            r.rule, f"{r.current:,}", f"{r.candidate:,}", _delta(r.delta), _rule_change(r)
        )
    return table


def _rule_change(r: RuleDelta) -> str:
    if r.current_version is None:
        return "new"
    if r.candidate_version is None:
        return "removed"
    return "edited" if r.changed else ""


def _desk_delta_table(c: Comparison) -> Table:
    table = Table(title="Alerts per desk: current vs candidate", title_justify="left")
    table.add_column("Desk")
    for name in ("Current", "Candidate", "Change"):
        table.add_column(name, justify="right")
    for d in c.desks:
        table.add_row(d.desk, f"{d.current:,}", f"{d.candidate:,}", _delta(d.delta))
    return table


def _label_delta_table(c: Comparison) -> Table:
    table = Table(title="Time to detect: current vs candidate", title_justify="left")
    table.add_column("Label")
    table.add_column("Name")
    for name in ("Current", "Candidate", "Change"):
        table.add_column(name, justify="right")
    table.add_column("")
    styles = {"faster": "green", "gained": "green", "slower": "yellow", "lost": "bold red"}
    for lab in c.labels:
        change = lab.change_s
        table.add_row(
            lab.label,
            lab.name,
            _ttd(lab.current_ttd_s, shadow=lab.current_shadow),
            _ttd(lab.candidate_ttd_s, shadow=lab.candidate_shadow),
            "" if change is None else _seconds(change, signed=True),
            Text(lab.status, style=styles.get(lab.status, "")),
        )
    return table


def _signal_table(title: str, signals: Sequence[Fired], when: str, limit: int) -> Table:
    table = Table(title=f"{title} ({len(signals):,})", title_justify="left")
    for name in ("Opened", "Rule", "Subject", "Severity", "Desks"):
        table.add_column(name)
    for f in signals[:limit]:
        table.add_row(
            china_time(f.opened_at, when),
            _rule_name(f.rule, f.shadow),
            f.subject,
            Text(f.severity, style=_SEVERITY_STYLE[f.severity]),
            ", ".join(f.desks),
        )
    if len(signals) > limit:
        table.add_row(Text(f"… {len(signals) - limit:,} more", style="dim"), "", "", "", "")
    if not signals:
        table.add_row("none", "", "", "", "")
    return table


def _clock(report: BacktestReport) -> str:
    """Time format for the recording: with the date when it spans more than one day."""
    one_day = report.end_ms - report.start_ms < _DAY_MS
    return "%H:%M:%S" if one_day else "%m-%d %H:%M:%S"


def _rule_name(rule: str, shadow: bool) -> Text:
    return Text(f"{rule} (shadow)", style="dim") if shadow else Text(rule)


def _by_rule(counts: Iterable[tuple[str, int]]) -> str:
    ordered = sorted(counts, key=lambda rc: (-rc[1], rc[0]))
    return ", ".join(f"{rule} {n:,}" for rule, n in ordered)


def _delta(n: int) -> Text:
    return Text(f"{n:+,}" if n else "0", style="" if n == 0 else "bold")


def _ttd(seconds: float | None, *, shadow: bool = False) -> Text:
    if seconds is None:
        return Text("missed", style="red")
    text = _seconds(seconds)
    return Text(f"{text} (shadow)", style="dim") if shadow else Text(text)


def _seconds(s: float, *, signed: bool = False) -> str:
    """``s`` seconds as ``42 s`` or ``3 min 05 s`` (``+``/``-`` when ``signed``)."""
    sign = "-" if s < 0 else "+" if signed and s > 0 else ""
    whole = round(abs(s))
    if whole < 60:
        return f"{sign}{whole} s"
    return f"{sign}{whole // 60} min {whole % 60:02d} s"


def _duration(ms: int) -> str:
    """A length of time in ms as ``2 h 05 min``, ``12 min 30 s`` or ``45 s``."""
    s = ms // 1000
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"
