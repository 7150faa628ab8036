"""``citybrain rules backtest``: load rule sets and a recording, replay, report (edge).

The replay is :func:`citybrain.tools.backtest.runner.run_backtest` (the worker's own code);
the numbers are :mod:`citybrain.tools.backtest.report`'s; tables and the plot come from
:mod:`citybrain.tools.backtest.render`. Progress goes to stderr, the report to stdout.
Exit codes: 0 done, 1 a rule set has problems, 2 unusable recording, labels or
settings.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from alerts.incidents.labels import Label, LabelError
from alerts.rules.file import RuleFileError, RuleSet, load_rule_files
from citybrain.config.settings import Settings, load_settings
from citybrain.tools.backtest.compare import compare, comparison_to_dict
from citybrain.tools.backtest.render import plot_report, render_report
from citybrain.tools.backtest.report import BacktestReport, RuleInfo, report_to_dict, summarize
from citybrain.tools.backtest.runner import BacktestRun, rule_fingerprint, run_backtest
from feeds.recording.files import labels_in, read_recording, recording_info
from feeds.recording.format import RecordingError
from streams.pipeline.config import zone_index
from streams.worker.collector import settle_heap
from streams.worker.rulesource import rules_path

CURRENT = "current"
#: Records between two progress-bar updates (updating per record would cost more than it shows).
PROGRESS_EVERY = 500


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(typer.style(message, fg=typer.colors.RED), err=True)
    return typer.Exit(code)


def _rule_set(paths: Sequence[str], settings: Settings, what: str) -> RuleSet:
    resolved = [rules_path(settings) if p == CURRENT else Path(p) for p in paths]
    try:
        return load_rule_files(resolved)
    except RuleFileError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise _fail(f"{what}: {len(exc.problems)} problem(s); nothing replayed", 1) from None


def _labels_file(path: Path) -> list[Label]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: cannot read labels: {exc}", 2) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(Label.from_dict(orjson.loads(line)))
        except (orjson.JSONDecodeError, LabelError) as exc:
            raise _fail(f"{path}:{number}: {exc}", 2) from None
    return out


def _replay(
    events: Path, rules: RuleSet, settings: Settings, zones: Any, total: int, title: str
) -> BacktestRun:
    console = Console(stderr=True)
    columns = (
        TextColumn(f"[bold]{title}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(title, total=total)
        seen = [0]

        def tick(_record: object) -> None:
            seen[0] += 1
            if seen[0] % PROGRESS_EVERY == 0:
                progress.update(task, completed=seen[0])

        settle_heap()  # as the worker does (streams/worker/collector.py)
        run = run_backtest(read_recording(events), rules, settings, zones=zones, progress=tick)
        progress.update(task, completed=seen[0])
    return run


def _report(run: BacktestRun, labels: list[Label], slack_s: float) -> BacktestReport:
    rules = run.rules
    return summarize(
        run.fired,
        labels,
        rules_version=rules.version,
        start_ms=run.start_ms,
        end_ms=run.end_ms,
        events=run.events,
        slack_ms=round(slack_s * 1000),
        rules=[RuleInfo(r.id, rule_fingerprint(r), r.shadow) for r in rules.rules if r.enabled],
    )


def _run_facts(run: BacktestRun) -> dict[str, Any]:
    return {
        "rules_version": run.rules.version,
        "records": run.records,
        "events": run.events,
        "rejected": run.rejected,
        "unlocated": run.unlocated,
        "wall_s": round(run.wall_s, 3),
        "speedup": round(run.speedup, 1),
    }


def run_backtest_command(
    rules: Sequence[str],
    events: Path,
    against: Sequence[str],
    label_files: Sequence[Path],
    *,
    json_out: Path | None,
    plot: Path | None,
    slack_s: float,
) -> None:
    try:
        settings = load_settings()
    except ValidationError as exc:
        raise _fail(f"bad settings:\n{exc}", 2) from None
    candidate = _rule_set(rules, settings, "RULES")
    current = _rule_set(against, settings, "--against") if against else None
    if not events.is_file():
        raise _fail(f"{events}: no such recording", 2)
    try:
        info = recording_info(events)
        labels = labels_in(read_recording(events))
    except RecordingError as exc:
        raise _fail(str(exc), 2) from None
    for path in label_files:
        labels += _labels_file(path)
    zones = zone_index(settings)
    runs = {"candidate": _replay(events, candidate, settings, zones, info.records, "candidate")}
    if current is not None:
        runs["current"] = _replay(events, current, settings, zones, info.records, "current")
    report = _report(runs["candidate"], labels, slack_s)
    base = _report(runs["current"], labels, slack_s) if "current" in runs else None
    comparison = compare(base, report) if base is not None else None

    to_stdout = json_out is not None and str(json_out) == "-"
    console = Console(stderr=to_stdout)  # keep stdout clean JSON when asked for it
    render_report(report, comparison, console)
    for name, run in runs.items():
        span_min = (run.end_ms - run.start_ms) / 60_000
        console.print(
            f"{name}: {run.events} events in {run.records} records ({span_min:.1f} min of "
            f"recording) replayed in {run.wall_s:.1f} s, {run.speedup:.0f}x real time; "
            f"{run.rejected} rejected, {run.unlocated} unlocated"
        )
    if json_out is not None:
        doc: dict[str, Any] = {
            "report": report_to_dict(report),
            "run": _run_facts(runs["candidate"]),
        }
        if base is not None and comparison is not None:
            doc["against"] = report_to_dict(base)
            doc["against_run"] = _run_facts(runs["current"])
            doc["comparison"] = comparison_to_dict(comparison)
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
        if to_stdout:
            sys.stdout.buffer.write(data)
        else:
            json_out.write_bytes(data)
            console.print(f"JSON report: {json_out}")
    if plot is not None:
        plot_report(report, plot, against=base)
        console.print(f"plot: {plot}")
