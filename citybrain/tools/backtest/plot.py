"""The picture of ``citybrain rules backtest``: alerts over time per rule (edge).

:func:`plot_report` writes a PNG with matplotlib's Agg renderer (no display): every
alert as a bar from opening to closing on its rule's row, coloured by the highest
severity it reached, labelled incidents shaded, time in China Standard Time. With
the current rules' report, two panels share the time axis and the rows. Text on the
picture is ASCII: the default font may lack CJK glyphs. Re-exported by
:mod:`citybrain.tools.backtest.render`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from citybrain.tools.backtest.compare import compare
from citybrain.tools.backtest.report import CHINA_TZ, BacktestReport, RuleSummary
from citybrain.tools.backtest.signal import Fired

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SEVERITY_COLOURS: Final = {"info": "#4C78A8", "warning": "#F58518", "critical": "#D62728"}
MAX_LANES: Final = 6
"""Most sub-rows one rule's overlapping alerts are spread over in the picture."""
_DAY_MS: Final = 86_400_000


@dataclass(frozen=True, slots=True)
class PlotRow:
    """One rule's row in a panel: each alert as (opened_at, closed_at or end) epoch ms.
    ``marked`` counts the alerts flagged as only in this run (with a comparison)."""

    rule: str
    shadow: bool
    spans: tuple[tuple[int, int], ...]
    marked: int = 0


@dataclass(frozen=True, slots=True)
class PlotPanel:
    """One panel of the picture: one rule set's run."""

    title: str
    rows: tuple[PlotRow, ...]


@dataclass(frozen=True, slots=True)
class BacktestPlot:
    """What :func:`plot_report` drew: the figure and, per panel, the data of each row."""

    figure: Figure
    panels: tuple[PlotPanel, ...]


def plot_report(
    report: BacktestReport, path: Path, against: BacktestReport | None = None
) -> BacktestPlot:
    """Write a PNG to ``path``: every alert as a bar from opening to closing, one row per
    rule, coloured by highest severity, labelled incidents shaded, time in China time.

    With ``against`` (the current rules' report), two panels share the time axis and the
    rule rows: current above, candidate (``report``) below; alerts only in one run are
    flagged with a black triangle.
    """
    # Imported here: matplotlib takes a while to import and only the plot needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rules = sorted({r.rule for r in (*_rules_of(against), *report.rules)})
    shadow = {r.rule: r.shadow for r in (*_rules_of(against), *report.rules)}
    runs: list[tuple[str, BacktestReport, frozenset[str]]]
    if against is None:
        runs = [(f"rules {report.rules_version}", report, frozenset())]
    else:
        diff = compare(against, report)
        runs = [
            (f"current rules {against.rules_version}", against, _ids(diff.removed)),
            (f"candidate rules {report.rules_version}", report, _ids(diff.added)),
        ]
    height = 1.4 + len(runs) * (0.9 + 0.32 * max(1, len(rules)))
    figure = Figure(figsize=(12.0, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)  # explicit Agg canvas: no display is ever used
    figure.suptitle("Alerts over time per rule (bar: open, colour: highest severity)")
    axes = figure.subplots(len(runs), 1, sharex=True, squeeze=False)[:, 0]
    panels = []
    for ax, (title, run, only_here) in zip(axes, runs, strict=True):
        rows = _draw_panel(ax, run, rules, shadow, only_here)
        ax.set_title(title, loc="left", fontsize=10)
        _shade_labels(ax, run, names=ax is axes[0])
        panels.append(PlotPanel(title=title, rows=rows))
    _time_axis(axes[-1], report.start_ms, report.end_ms)
    figure.legend(
        handles=_legend(comparing=against is not None), loc="outside lower center", ncols=5
    )
    figure.savefig(path, format="png")
    return BacktestPlot(figure=figure, panels=tuple(panels))


def _rules_of(report: BacktestReport | None) -> tuple[RuleSummary, ...]:
    return () if report is None else report.rules


def _ids(signals: Iterable[Fired]) -> frozenset[str]:
    return frozenset(f.id for f in signals)


def _draw_panel(
    ax: Axes,
    run: BacktestReport,
    rules: Sequence[str],
    shadow: dict[str, bool],
    only_here: frozenset[str],
) -> tuple[PlotRow, ...]:
    """Draw one run's alerts, rule ``rules[i]`` on row ``i`` from the top."""
    # A bar at least 1/400 of the recording wide, so an alert that closed at once shows.
    min_width_ms = max(run.end_ms - run.start_ms, 60_000) / 400
    rows = []
    for y, rule in enumerate(rules):
        mine = [f for f in run.fired if f.rule == rule]
        ends = [max(_end(f, run), f.opened_at + min_width_ms) for f in mine]
        lanes = _lanes([(f.opened_at, end) for f, end in zip(mine, ends, strict=True)])
        height = 0.72 / (max(lanes, default=0) + 1)
        bars: defaultdict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
        for f, end, lane in zip(mine, ends, lanes, strict=True):
            bars[f.severity, lane].append((_num(f.opened_at), (end - f.opened_at) / _DAY_MS))
        for (severity, lane), xranges in bars.items():
            ax.broken_barh(
                xranges,
                (y - 0.36 + lane * height, height * 0.85),
                facecolors=SEVERITY_COLOURS[severity],
                alpha=0.4 if shadow[rule] else 0.9,
                linewidth=0,
            )
        flagged = [_num(f.opened_at) for f in mine if f.id in only_here]
        if flagged:
            ax.plot(flagged, [y - 0.42] * len(flagged), "kv", markersize=5, linestyle="none")
        rows.append(
            PlotRow(
                rule=rule,
                shadow=shadow[rule],
                spans=tuple((f.opened_at, _end(f, run)) for f in mine),
                marked=len(flagged),
            )
        )
    ax.set_yticks(
        range(len(rules)), [_ascii(r) + (" (shadow)" if shadow[r] else "") for r in rules]
    )
    ax.set_ylim(max(len(rules), 1) - 0.4, -0.6)  # first rule on top
    ax.grid(axis="x", color="0.85", linewidth=0.6)
    if not rules:
        ax.text(0.5, 0.5, "no alerts", transform=ax.transAxes, ha="center", va="center")
    return tuple(rows)


def _lanes(spans: Sequence[tuple[int, float]]) -> list[int]:
    """Sub-row (lane) of each (start, end) span, in time order, so that overlapping
    alerts of one rule (different subjects) sit side by side instead of on top of each
    other; beyond :data:`MAX_LANES` they share the lane that frees up first."""
    lane_ends: list[float] = []
    out = []
    for start, end in spans:
        free = next((i for i, e in enumerate(lane_ends) if e <= start), None)
        if free is None and len(lane_ends) < MAX_LANES:
            free = len(lane_ends)
            lane_ends.append(end)
        elif free is None:
            free = min(range(len(lane_ends)), key=lane_ends.__getitem__)
        lane_ends[free] = max(lane_ends[free], end)
        out.append(free)
    return out


def _end(f: Fired, run: BacktestReport) -> int:
    return f.closed_at if f.closed_at is not None else run.end_ms


def _shade_labels(ax: Axes, run: BacktestReport, *, names: bool) -> None:
    """Shade each labelled incident's time span; name it in the top panel only."""
    for d in run.detections:
        label = d.label
        ax.axvspan(_num(label.start_ms), _num(label.end_ms), color="0.55", alpha=0.18, zorder=0)
        if names:
            ax.text(
                _num(label.start_ms),
                0.98,
                _ascii(label.name, fallback=label.id),
                transform=ax.get_xaxis_transform(),
                fontsize=8,
                va="top",
                ha="left",
                color="0.2",
                bbox={"facecolor": "white", "alpha": 0.75, "linewidth": 0, "pad": 1.5},
                clip_on=True,
            )


def _time_axis(ax: Axes, start_ms: int, end_ms: int) -> None:
    from matplotlib import dates as mdates

    # identical limits are a warning in matplotlib: give an empty recording a minute
    end_ms = max(end_ms, start_ms + 60_000)
    # matplotlib.dates is not annotated: hence the ignores
    locator = mdates.AutoDateLocator(tz=CHINA_TZ)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=CHINA_TZ)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(_num(start_ms), _num(end_ms))
    ax.set_xlabel("China Standard Time (UTC+8)")


def _legend(*, comparing: bool) -> list[Artist]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Artist] = [Patch(color=c, label=s) for s, c in SEVERITY_COLOURS.items()]
    handles.append(Patch(color="0.55", alpha=0.18, label="labelled incident"))
    if comparing:
        handles.append(
            Line2D([], [], color="k", marker="v", linestyle="none", label="only in this run")
        )
    return handles


def _num(ts_ms: float) -> float:
    """Epoch ms as a matplotlib date number (days)."""
    from matplotlib import dates as mdates

    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]


def _ascii(text: str, fallback: str = "") -> str:
    """``text`` if it is ASCII, else ``fallback`` if that is (the default font may lack
    CJK glyphs, and a missing glyph is a warning), else ``text`` with ``?`` for the rest."""
    for candidate in (text, fallback):
        if candidate and candidate.isascii():
            return candidate
    return text.encode("ascii", "replace").decode("ascii")
