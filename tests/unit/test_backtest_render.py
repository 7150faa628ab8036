"""Backtest output: rich tables carry the report's numbers; the PNG has one row per rule."""

from __future__ import annotations

from pathlib import Path

from backtest_kit import END, MIN, T0, label, report, sig
from rich.console import Console

from citybrain.tools.backtest.compare import Comparison, compare
from citybrain.tools.backtest.render import plot_report, render_report
from citybrain.tools.backtest.report import BacktestReport

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _runs() -> tuple[BacktestReport, BacktestReport]:
    lab = label()  # 14:10-14:20 China time
    current = report(
        [
            sig(opened=lab.start_ms + 95_000, closed=lab.start_ms + 10 * MIN),
            sig("noise.night", "x", T0 + 30 * MIN, desks=("chengguan",)),
        ],
        (lab, label(id="L2", start=T0 + 90 * MIN, end=T0 + 95 * MIN)),
        version="cur0",
    )
    candidate = report(
        [
            sig(opened=lab.start_ms + 30_000, closed=lab.start_ms + 8 * MIN, version="v2"),
            sig("crowd.anomaly", "y", T0 + 91 * MIN, shadow=True, severity="critical"),
            *(sig("hotline.cluster", f"h{i}", T0 + i * MIN, desks=("12345",)) for i in range(7)),
        ],
        (lab, label(id="L2", start=T0 + 90 * MIN, end=T0 + 95 * MIN)),
        version="cand1",
    )
    return current, candidate


def _text(rep: BacktestReport, comparison: Comparison | None = None, limit: int = 20) -> str:
    console = Console(record=True, width=200, color_system=None)
    render_report(rep, comparison, console, limit=limit)
    return console.export_text()


def test_report_tables_show_the_numbers() -> None:
    _, candidate = _runs()
    text = _text(candidate)
    assert "Backtest of rules cand1" in text
    assert "1,000 events" in text and "Alerts 9 (8 routed to desks, 1 shadow)" in text
    lines = text.splitlines()
    hotline = next(line for line in lines if line.startswith("│ hotline.cluster"))
    assert "│      7 │" in hotline  # seven alerts, all warnings
    assert any("crowd.anomaly (shadow)" in line and "│        1 │" in line for line in lines)
    assert any(line.startswith("│ 12345 ") and "│      7 │" in line for line in lines)
    assert "2026-05-01 14:00" in text and "1 hour(s) without alerts" not in text
    l1 = next(line for line in lines if line.startswith("│ L1 "))
    assert "30 s" in l1 and "crowd.density" in l1
    l2 = next(line for line in lines if line.startswith("│ L2 "))
    assert "crowd.anomaly (shadow)" in l2 and "1 min 00 s" in l2 and "missed" in l2
    assert "detected 2/2 (by routed rules 1/2)" in text


def test_comparison_tables_and_limited_lists() -> None:
    current, candidate = _runs()
    c = compare(current, candidate)
    text = _text(candidate, c, limit=3)
    assert "Against the current rules cur0" in text
    assert (
        f"Alerts {current.alerts} -> {candidate.alerts} (+{candidate.alerts - current.alerts})"
        in text
    )
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("│ crowd.density") and "edited" in line)
    assert "│       1 │         1 │      0 │" in row
    l1 = next(line for line in lines if line.startswith("│ L1 ") and "faster" in line)
    assert "1 min 35 s" in l1 and "30 s" in l1 and "-1 min 05 s" in l1
    # 7 hotline + 1 anomaly + 1 moved density alert are new; only 3 are listed
    assert f"Only the candidate raises ({len(c.added)})" in text
    assert f"… {len(c.added) - 3} more" in text
    assert f"Only the current rules raise ({len(c.removed)})" in text


def test_plot_writes_a_png_with_one_row_per_rule(tmp_path: Path) -> None:
    _, candidate = _runs()
    path = tmp_path / "alerts.png"
    plot = plot_report(candidate, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    (panel,) = plot.panels
    assert [row.rule for row in panel.rows] == [r.rule for r in candidate.rules]
    assert [len(row.spans) for row in panel.rows] == [r.alerts for r in candidate.rules]
    hotline = next(row for row in panel.rows if row.rule == "hotline.cluster")
    assert sorted(s for s, _ in hotline.spans) == [T0 + i * MIN for i in range(7)]
    assert all(end == END for _, end in hotline.spans), "still open: drawn to the end"
    (ax,) = plot.figure.axes
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == [r.rule + (" (shadow)" if r.shadow else "") for r in candidate.rules]


def test_plot_against_current_has_two_aligned_panels(tmp_path: Path) -> None:
    current, candidate = _runs()
    path = tmp_path / "compare.png"
    plot = plot_report(candidate, path, against=current)
    assert path.read_bytes()[:8] == PNG_MAGIC
    top, bottom = plot.panels
    assert "cur0" in top.title and "cand1" in bottom.title
    rules = sorted({r.rule for r in (*current.rules, *candidate.rules)})
    assert [r.rule for r in top.rows] == [r.rule for r in bottom.rows] == rules
    c = compare(current, candidate)
    assert sum(r.marked for r in top.rows) == len(c.removed)
    assert sum(r.marked for r in bottom.rows) == len(c.added)
    assert len(plot.figure.axes) == 2


def test_plot_of_an_empty_recording(tmp_path: Path) -> None:
    empty = report([], (label(),))
    plot = plot_report(empty, tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes()[:8] == PNG_MAGIC
    assert plot.panels[0].rows == ()
