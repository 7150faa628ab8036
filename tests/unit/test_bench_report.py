"""The throughput benchmark's summary: medians over runs, ratios to the ceiling of the same
input, and what marks a run as cut off, failed or inconsistent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citybrain.tools.bench.report import markdown, save_section, summarize

INPUT = "500 events/record, 4 partitions"


def run(cid: str, seconds: float, cpu_s: float, rss: float, **kw: Any) -> dict[str, Any]:
    return {
        "input": INPUT,
        "run": 0,
        "id": cid,
        "contender": cid,
        "events": 1_000_000,
        "keys": 10,
        "people": 99,
        "complete": True,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "rss_peak_mb": rss,
        **kw,
    }


def test_medians_and_ratios_to_the_ceiling_of_the_same_input() -> None:
    raw = [
        run("ceiling", 2.0, 1.0, 100),
        run("ceiling", 4.0, 3.0, 300),
        run("ceiling", 1.0, 2.0, 200),
        run("slow", 10.0, 8.0, 400),
        run("slow", 20.0, 9.0, 500),
    ]
    top, slow = summarize(raw, "ceiling")
    assert (top.events_per_s, top.cpu_s_per_m, top.rss_mb, top.runs) == (500_000, 2.0, 200, 3)
    assert top.events_per_s_x is None  # the ceiling is not compared with itself
    assert slow.events_per_s == 75_000  # median of 100k and 50k events/s
    assert slow.events_per_s_x == 75_000 / 500_000
    assert slow.cpu_s_per_m_x == 8.5 / 2.0
    assert slow.rss_mb_x == 450 / 200
    assert slow.consistent


def test_cut_off_runs_count_failed_ones_do_not_and_different_work_is_flagged() -> None:
    raw = [
        run("ceiling", 1.0, 1.0, 100),
        run("cut", 10.0, 5.0, 100, events=200_000, complete=False),
        {"input": INPUT, "run": 0, "id": "broken", "error": "exit 1, no result: boom"},
        run("other", 1.0, 1.0, 100, keys=11),
    ]
    rows = {r.id: r for r in summarize(raw, "ceiling")}
    cut = rows["cut"]
    assert (cut.runs, cut.partial, cut.events_per_s) == (1, 1, 20_000)
    assert cut.consistent  # a run cut short is not compared
    broken = rows["broken"]
    assert (broken.runs, broken.errors, broken.events_per_s) == (0, 1, None)
    assert broken.error is not None and "boom" in broken.error
    assert not rows["other"].consistent  # created another number of (cell, window) entries
    table = markdown(list(rows.values()))
    assert "1 cut at the time limit" in table
    assert "1 failed" in table
    assert "results differ from the ceiling's" in table


def test_save_section_keeps_the_other_sections(tmp_path: Path) -> None:
    results = tmp_path / "bench" / "results.json"
    save_section(results, "throughput", {"rows": [1]})
    save_section(results, "latency_20k", {"p99": 2.5})
    save_section(results, "throughput", {"rows": [2]})
    assert json.loads(results.read_text()) == {
        "throughput": {"rows": [2]},
        "latency_20k": {"p99": 2.5},
    }
