"""``citybrain bench profile`` as docs/benchmarks.md runs it (smaller): both paths' stages
on the same readings, in one run, each stage with a positive cost."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from citybrain.cli import app


def test_bench_profile_shows_both_paths_side_by_side() -> None:
    result = CliRunner().invoke(
        app, ["bench", "profile", "--events", "1000", "--per-record", "500", "--fetch", "1"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "per-object path" in out and "columnar camera path" in out
    object_part, columnar_part = out.split("columnar camera path", 1)
    for stage in ("decode", "route", "pipeline", "store"):
        assert re.search(rf"│ {stage}\s+│ \d+\.\d\d", object_part), stage
    for stage in ("decode", "fold", "rounds every 250 ms"):
        assert re.search(rf"│ {stage}[^│]*│ \d+\.\d\d", columnar_part), stage
    costs = [float(x) for x in re.findall(r"│ (\d+\.\d\d)\s+│", out)]
    assert costs and all(c > 0 for c in costs)
