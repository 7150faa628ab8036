"""A small run of the benchmark harness, end to end: ``citybrain bench throughput`` starts its
own broker, pre-loads the input, runs the contenders of the project's environment (the
aiokafka ceiling, a textbook Faust agent, the project's own worker) and writes the
results, the table and the plot. Figures are not checked (no timing assertions): that
every contender finished the same work, and that the outputs say so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e]
EVENTS = 3_000


def test_bench_throughput_runs_every_contender_on_the_same_input(tmp_path: Path) -> None:
    out, plot = tmp_path / "out", tmp_path / "throughput.png"
    argv = [
        *(sys.executable, "-m", "citybrain", "bench", "throughput"),
        *("--events", str(EVENTS), "--runs", "1", "--per-record", "500", "--partitions", "2"),
        *("--contenders", "aiokafka,faust,citybrain", "--max-seconds", "60"),
        *("--out", str(out), "--plot", str(plot)),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())["throughput"]
    runs = {r["id"]: r for r in results["runs"]}
    assert set(runs) == {"aiokafka", "faust", "citybrain"}
    for r in runs.values():
        assert "error" not in r, r
        assert (r["events"], r["complete"]) == (EVENTS, True)
        assert r["seconds"] > 0 and r["cpu_s"] > 0 and r["rss_peak_mb"] > 0
    # the same (cell, window) entries and people in the engines that count them
    assert (runs["faust"]["keys"], runs["faust"]["people"]) == (
        runs["aiokafka"]["keys"],
        runs["aiokafka"]["people"],
    )
    rows = {r["id"]: r for r in results["throughput"]}
    assert all(r["consistent"] and r["runs"] == 1 and r["errors"] == 0 for r in rows.values())
    assert rows["aiokafka"]["events_per_s_x"] is None  # the ceiling
    assert rows["citybrain"]["events_per_s_x"] is not None
    assert results["meta"]["machine"]["cores"] >= 1
    table = (out / "throughput.md").read_text()
    assert all(name in table for name in ("aiokafka getmany", "Faust textbook", "citybrain"))
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
