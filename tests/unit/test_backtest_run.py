"""Backtest over a recorded scenario: the simulator's Tongji Bridge incident written to a
recording, replayed through the worker's pipeline by ``citybrain rules backtest``.

Expectations come from the scenario itself: the crowd crosses 2.15 persons/m² at a
time the crowd curve gives, and crowd.density opens after its 10 s enter dwell;
hotline.cluster opens at the fifth car-park call. A candidate that raises the
crowd threshold to 4.5 must detect the surge later, and the comparison must say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.rules.file import DEFAULT_RULES, load_rule_files
from citybrain.cli.main import app
from citybrain.config.settings import Settings
from citybrain.tools.backtest.report import summarize
from citybrain.tools.backtest.runner import run_backtest
from feeds.recording.files import labels_in, read_recording
from feeds.recording.simulated import simulate_to_recording
from feeds.sim.city import build_city
from feeds.sim.scenario import crossing_time
from feeds.sim.simulator import Simulator
from geo.district import load_district

START_MS = 1_795_000_000_000
INCIDENT_AT_S = 60.0
SETTINGS = Settings().with_overrides(sim={"incident_at_s": INCIDENT_AT_S})
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "tongji.jsonl.gz"
    simulate_to_recording(SETTINGS, path, start_ms=START_MS, duration_s=420)
    return path


def scenario() -> Simulator:
    s = SETTINGS.sim
    return Simulator(build_city(s.seed, load_district(), s.cameras, s.sensors), s, START_MS)


def test_backtest_detects_the_recorded_incident_when_the_scenario_says(recording: Path) -> None:
    rules = load_rule_files([DEFAULT_RULES])
    run = run_backtest(read_recording(recording), rules, SETTINGS)
    labels = labels_in(read_recording(recording))
    assert [label.rules for label in labels] == [("crowd.density",), ("hotline.cluster",)]
    report = summarize(
        run.fired,
        labels,
        rules_version=rules.version,
        start_ms=run.start_ms,
        end_ms=run.end_ms,
        events=run.events,
    )
    crowd, calls = report.detections
    incident = scenario().incident
    # The density crosses 2.15 when the curve does; the rule waits 10 s. Cameras report
    # every 5 s with counting noise (a reading may cross up to a period early or late),
    # and records are stamped at the end of their 0.5 s slice.
    crossing = crossing_time(incident.crowd, 2.15, rising=True)
    assert crowd.signal is not None and crowd.signal.rule == "crowd.density"
    assert crowd.ttd_s is not None
    assert crossing + 10 - 5 <= crowd.ttd_s <= crossing + 10 + 10 + 1
    # hotline.cluster opens as a call arrives, by the fifth call at the latest (enter: 5
    # tickets; background traffic complaints nearby may make it sooner).
    offsets = sorted(t.offset_s for t in incident.tickets)
    assert calls.signal is not None and calls.signal.rule == "hotline.cluster"
    assert calls.ttd_s is not None and 0 <= calls.ttd_s <= offsets[4] - offsets[0] + 0.5
    opened_s = (calls.signal.opened_at - START_MS) / 1000 - INCIDENT_AT_S
    assert min(abs(opened_s - t) for t in offsets) <= 0.5
    # One incident: the cluster joined the crowd signal's incident.
    assert calls.signal.incident == crowd.signal.incident
    assert {"110", "12345", "traffic"} <= set(calls.signal.desks)
    assert run.rejected == 0 and run.events > 20_000
    assert run.speedup > 1  # faster than real time, on any machine


def test_backtest_command_compares_against_the_current_rules(
    recording: Path, tmp_path: Path
) -> None:
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    text = (DEFAULT_RULES / "default.yaml").read_text(encoding="utf-8")
    old = "enter: 2.15 persons/m2          # LOS E/F limit"
    raised = text.replace(old, "enter: 4.5 persons/m2")
    assert raised != text
    (candidate / "default.yaml").write_text(raised, encoding="utf-8")
    out_json, out_png = tmp_path / "bt.json", tmp_path / "bt.png"
    result = CliRunner().invoke(
        app,
        [
            "rules", "backtest", str(candidate), "--events", str(recording),
            "--against", "current", "--json", str(out_json), "--plot", str(out_png),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Labelled incidents" in result.output and "x real time" in result.output
    doc = json.loads(out_json.read_text())
    crowd = next(d for d in doc["comparison"]["labels"] if d["id"].startswith("sim-crowd"))
    assert crowd["candidate_ttd_s"] > crowd["current_ttd_s"]  # 4.5/m² is reached later
    assert doc["report"]["rules_version"] != doc["against"]["rules_version"]
    assert [r["rule"] for r in doc["comparison"]["rules"] if r["changed"]] == ["crowd.density"]
    assert doc["run"]["events"] == doc["against_run"]["events"] > 20_000
    assert out_png.read_bytes().startswith(PNG)


def test_backtest_command_refuses_broken_rules_and_missing_recordings(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules:\n  - id: x\n    metric: densty\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["rules", "backtest", str(broken), "--events", str(tmp_path / "none.jsonl")]
    )
    assert result.exit_code == 1
    assert "broken.yaml:3:13: unknown metric 'densty'" in result.output
    result = CliRunner().invoke(
        app,
        ["rules", "backtest", str(DEFAULT_RULES), "--events", str(tmp_path / "none.jsonl")],
    )
    assert result.exit_code == 2 and "no such recording" in result.output
