"""citybrain.tools.load.run.build_report and the outputs: results.json, the table, the plot."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import orjson
import pytest

from citybrain.tools.load.metrics import parse_metrics
from citybrain.tools.load.plot import plot_load
from citybrain.tools.load.report import (
    ClientCount,
    LoadPlan,
    LoadReport,
    ProcSample,
    StalledCount,
    report_to_dict,
)
from citybrain.tools.load.run import RunData, build_report
from citybrain.tools.load.table import render_markdown
from feeds.sim.loadgen import Timetable

PLAN = LoadPlan(
    rate=1000.0, clients=3, duration_s=4.0, batch=100, cameras=500, ramp_s=1.0, target="embedded"
)


def run_data(**changes: object) -> RunData:
    base: dict[str, object] = {
        "started_at": 1_765_000_000.0,
        "ingest_s": 4.0,
        "stopped_early": False,
        "timetable": Timetable.for_rate(1000.0, 100, 4.0),
        "offered_records": 40,
        "sent_records": 38,
        "acked_records": 37,
        "failed_records": 1,
        "skipped_records": 2,
        "send_errors": {"KafkaTimeoutError": 1},
        "acks": tuple((i / 10 + 0.05, 100) for i in range(37)),
        "clients": (
            ClientCount(1, 5, 4, 40_000, 0, {}),
            ClientCount(2, 4, 3, 30_000, 0, {1013: 1}),
            ClientCount(1, 5, 4, 40_000, 0, {}),
        ),
        "stalled": (),
        "peak_connected": 3,
        "lags": tuple((0.5 + i, 10.0 + i) for i in range(11)),
        "markers_sent": 4,
        "marker_lags": ((0.1, 900.0), (1.1, 950.0), (2.1, 1000.0)),
        "samples": {
            "worker": (ProcSample(0.0, 100, 2**27), ProcSample(2.0, 300, 2**28)),
            "loadgen": (ProcSample(0.0, 10, 2**26),),
        },
        "pids": {"worker": 11, "loadgen": 12},
        "ticks_per_s": 100,
        "missed_samples": {"redis": 1},
        "worker_before": None,
        "worker_after": parse_metrics('citybrain_events_in_total{kind="camera"} 3500.0\n'),
        "web_before": None,
        "web_after": parse_metrics(
            'citybrain_ws_dropped_total{reason="queue_full"} 1.0\ncitybrain_ws_clients 3.0\n'
        ),
        "worker_counts": ((0.0, 0.0), (2.0, 1800.0), (4.0, 3500.0)),
        "not_ready": ("http://127.0.0.1:1/readyz: 503 {}",),
    }
    return RunData(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture
def report() -> LoadReport:
    return build_report(
        PLAN, run_data(), command="citybrain load --rate 1000", machine={"cores": 2}
    )


def test_build_report(report: LoadReport) -> None:
    assert report.ingest.offered == 4000 and report.ingest.acked == 3700
    assert report.ingest.shortfall == 300  # 2 skipped, 1 failed records
    assert report.offered_per_s == (1000, 1000, 1000, 1000)
    assert report.achieved_per_s == (1000, 1000, 1000, 700)
    assert report.worker_rate_series == ((1.0, 900.0), (3.0, 850.0))
    assert report.clients.dropped_slow == 1 and report.clients.reconnects == 1
    assert report.delivery_lag_ms is not None and report.delivery_lag_ms.max == 20.0
    assert (report.e2e.sent, report.e2e.resolved) == (4, 3)
    cpu = {r.name: r.cpu_mean_pct for r in report.resources}
    assert cpu == {"worker": pytest.approx(100.0), "loadgen": None}
    assert report.server.worker_backlog == 200.0
    assert report.server.web_dropped == {"queue_full": 1.0}
    assert any("redis" in note for note in report.notes)
    assert any("not ready" in note for note in report.notes)


def test_stopped_early_rates_use_the_time_run() -> None:
    r = build_report(
        PLAN,
        run_data(stopped_early=True, ingest_s=2.0, offered_records=20, sent_records=20,
                 acked_records=20, failed_records=0, skipped_records=0, send_errors={}),
        command="c", machine={},
    )  # fmt: skip
    assert r.ingest.offered_rate == 1000.0
    assert r.stopped_early and any("stopped early" in n for n in r.notes)


def test_results_json_and_table(report: LoadReport, tmp_path: Path) -> None:
    data = json.loads(orjson.dumps(report_to_dict(report)))
    assert data["plan"]["rate"] == 1000.0
    assert data["ingest"]["shortfall"] == 300
    assert data["clients"]["closes"] == {"1013": 1}
    assert data["command"] == "citybrain load --rate 1000"
    table = render_markdown(report)
    assert table.startswith("## citybrain load: 1,000 events/s, 3 clients, 4 s")
    assert "| acknowledged by the broker | 3,700 events (925 events/s) |" in table
    assert "1013: 1" in table
    assert "| worker | 11 | 100 | 100 | 128 | 256 | 256 | +128 |" in table
    assert data["plan"]["stalled"] == 0 and data["stalled"]["asked"] == 0
    assert (
        "| stalled clients (never read): asked · connected · ended by the server | 0 · 0 · 0 |"
        in table
    )
    assert "stalled clients, each" not in table


def test_stalled_clients_in_the_report_json_and_table() -> None:
    plan = LoadPlan(**{**asdict(PLAN), "stalled": 3})
    stalled = (
        StalledCount(None, 1.2, "reset"),
        StalledCount(None, 1.2, None),
        StalledCount("HTTP 401", None, None),
    )
    report = build_report(
        plan, run_data(stalled=stalled), command="citybrain load --stalled 3", machine={}
    )
    f = report.stalled
    assert (f.asked, f.connected, f.ended_by_server) == (3, 2, 1)
    assert report.clients.clients == 3  # the reading clients only
    data = json.loads(orjson.dumps(report_to_dict(report)))
    assert data["plan"]["stalled"] == 3
    assert data["stalled"]["each"] == [
        {"connect_error": None, "connected_at_s": 1.2, "ended": "reset"},
        {"connect_error": None, "connected_at_s": 1.2, "ended": None},
        {"connect_error": "HTTP 401", "connected_at_s": None, "ended": None},
    ]
    table = render_markdown(report)
    assert table.startswith("## citybrain load: 1,000 events/s, 3 clients, 3 stalled, 4 s")
    assert (
        "| stalled clients (never read): asked · connected · ended by the server | 3 · 2 · 1 |"
        in table
    )
    assert (
        "| stalled clients, each | #0 ended by the server (reset) · #1 still open at the end · "
        "#2 not connected (HTTP 401) |"
    ) in table
    assert "| web: citybrain_ws_dropped_total | queue_full: 1 |" in table  # the server's own count


def test_plot_is_a_png(report: LoadReport, tmp_path: Path) -> None:
    path = tmp_path / "load.png"
    figure = plot_load(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figure.axes) == 4
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert labels == ["acknowledged by the broker", "offered", "counted in by the worker"]
