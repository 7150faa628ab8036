"""``citybrain rules``: check rule files before they go live; print the format's schema.

``check`` prints one line per problem, ``file:line:column: message`` (the form
editors and CI annotations understand), then a one-line summary, all on stdout.
Exit code 0 when the rule set is clean, 1 when it has problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

rules_app = typer.Typer(
    help="Rule files: check them, print their schema, backtest them on a recording.",
    no_args_is_help=True,
)


@rules_app.command("check")
def check(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="rule files, or directories (every *.yaml in them)", metavar="FILE_OR_DIR..."
        ),
    ],
) -> None:
    """Check rule files and report every problem with its line and column."""
    # Imported here: the other citybrain commands need not pay for the rule-file parser.
    from alerts.rules.file import RuleFileError, load_rule_files

    try:
        rules = load_rule_files(paths)
    except RuleFileError as exc:
        for problem in exc.problems:
            typer.echo(str(problem))
        files = len({p.file for p in exc.problems})
        summary = f"{len(exc.problems)} problem(s) in {files} file(s)"
        typer.echo(typer.style(summary, fg=typer.colors.RED, bold=True))
        raise typer.Exit(1) from None
    active = sum(1 for r in rules.rules if r.enabled and not r.shadow)
    summary = (
        f"ok: {len(rules.rules)} rule(s) ({active} routed to desks) "
        f"in {len(rules.sources)} file(s), version {rules.version}"
    )
    typer.echo(typer.style(summary, fg=typer.colors.GREEN, bold=True))


@rules_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of rule files (published as docs/rules.schema.json)."""
    from alerts.rules.file import rule_schema_json

    typer.echo(rule_schema_json(), nl=False)


@rules_app.command("metrics")
def metrics() -> None:
    """Print the metric catalogue: the names, units and levels rules may use."""
    from alerts.rules.catalog import metric_table_markdown

    typer.echo(metric_table_markdown(), nl=False)


@rules_app.command("backtest")
def backtest(
    rules: Annotated[
        list[str],
        typer.Argument(help="the candidate rule files or directories", metavar="RULES..."),
    ],
    events: Annotated[
        Path, typer.Option("--events", "-e", help="recording (citybrain record) to replay")
    ],
    against: Annotated[
        list[str] | None,
        typer.Option(
            help="rule set to compare with: files/directories, or 'current' for the rule set "
            "the workers run (rules.path, else the packaged set); repeatable"
        ),
    ] = None,
    labels: Annotated[
        list[Path] | None,
        typer.Option(help="JSON Lines of labelled incidents, added to those in the recording"),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the report as JSON here ('-': stdout)")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="write a PNG here: alerts over time per rule")
    ] = None,
    slack_s: Annotated[
        float, typer.Option("--slack", help="how long before a label's start an alert counts, s")
    ] = 60.0,
) -> None:
    """Replay a recording through the worker's own pipeline under RULES, faster than real
    time; report the alerts per rule, desk and hour, time-to-detect for labelled incidents,
    and the difference against another rule set."""
    from citybrain.cli.backtest import run_backtest_command

    run_backtest_command(
        rules, events, against or [], labels or [], json_out=json_out, plot=plot, slack_s=slack_s
    )
