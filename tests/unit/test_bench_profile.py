"""``citybrain bench profile`` as docs/benchmarks.md runs it (smaller): both paths' stages
on the same readings, in one run, each stage with a positive cost."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from citybrain.cli.main import app


def test_bench_profile_shows_both_paths_side_by_side(tmp_path: Path) -> None:
    plot = tmp_path / "profile.png"
    result = CliRunner().invoke(
        app,
        [
            "bench", "profile", "--events", "1000", "--per-record", "500", "--fetch", "1",
            "--section", "profile_small", "--out", str(tmp_path), "--plot", str(plot),
        ],
    )  # fmt: skip
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
    kept = json.loads((tmp_path / "results.json").read_text())["profile_small"]
    assert set(kept["per-object"]) == {"decode", "route", "to cells.ingest",
                                       "from cells.ingest", "pipeline", "store"}  # fmt: skip
    assert kept["columnar"]["decode"] > 0 and kept["columnar"]["fold"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
