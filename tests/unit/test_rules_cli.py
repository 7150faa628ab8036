"""``citybrain rules``: exit codes and ``file:line:col:`` output an editor or CI can read."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from alerts.rules.file import DEFAULT_RULES, rule_schema_json
from citybrain.cli.main import app

runner = CliRunner()
PROBLEM = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")

BAD = """\
rules:
  - id: crowd.test
    metric: density
    enter: 2.15
    exit: 3.0
    desks: [110, polic]
    message: {zh: "{densty}"}
"""


def test_clean_files_exit_0() -> None:
    result = runner.invoke(app, ["rules", "check", str(DEFAULT_RULES)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"ok: \d+ rule\(s\) \(\d+ routed to desks\) in 1 file\(s\), version [0-9a-f]{16}\n",
        result.output,
    )


def test_bad_file_exits_1_with_every_problem_at_its_position(tmp_path: Path) -> None:
    bad = tmp_path / "crowd.yaml"
    bad.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["rules", "check", str(bad), str(DEFAULT_RULES)])
    assert result.exit_code == 1
    *lines, summary = result.output.splitlines()
    found = [PROBLEM.match(line) for line in lines]
    assert all(found), lines
    assert [(m["file"], m["line"], m["col"]) for m in found if m] == [
        (str(bad), "5", "11"),
        (str(bad), "6", "18"),
        (str(bad), "7", "20"),
    ]
    assert "exit threshold 3.0 persons/m2 is above enter threshold 2.15 persons/m2" in lines[0]
    assert summary == "3 problem(s) in 1 file(s)"


def test_directory_with_a_missing_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "check", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{tmp_path / 'nope'}: no such file or directory"


def test_no_arguments_is_a_usage_error() -> None:
    assert runner.invoke(app, ["rules", "check"]).exit_code == 2


def test_schema_command_prints_the_published_schema() -> None:
    result = runner.invoke(app, ["rules", "schema"])
    assert result.exit_code == 0
    assert result.output == rule_schema_json()
