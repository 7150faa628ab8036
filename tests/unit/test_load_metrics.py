"""citybrain.tools.load.metrics: totals from the worker's and the web server's /metrics."""

from __future__ import annotations

import pytest

from citybrain.tools.load.metrics import by_label, delta, parse_metrics, server_figures, total

WORKER_BEFORE = """\
# HELP citybrain_events_in_total Valid events ingested
# TYPE citybrain_events_in_total counter
citybrain_events_in_total{kind="camera"} 1000.0
citybrain_events_in_total{kind="sensor"} 50.0
# HELP citybrain_batch_seconds Time to process one cells.ingest record
# TYPE citybrain_batch_seconds histogram
citybrain_batch_seconds_bucket{le="0.01"} 10.0
citybrain_batch_seconds_bucket{le="+Inf"} 10.0
citybrain_batch_seconds_count 10.0
citybrain_batch_seconds_sum 0.05
"""

WORKER_AFTER = """\
# TYPE citybrain_events_in_total counter
citybrain_events_in_total{kind="camera"} 9000.0
citybrain_events_in_total{kind="sensor"} 50.0
# TYPE citybrain_records_in_total counter
citybrain_records_in_total{kind="camera"} 40.0
# TYPE citybrain_deadlettered_total counter
citybrain_deadlettered_total{error="late",kind="camera"} 7.0
citybrain_deadlettered_total{error="validation",kind="camera"} 0.0
# TYPE citybrain_cell_updates_total counter
citybrain_cell_updates_total 1234.0
# TYPE citybrain_batch_seconds histogram
citybrain_batch_seconds_bucket{le="+Inf"} 110.0
citybrain_batch_seconds_count 110.0
citybrain_batch_seconds_sum 1.05
"""

WEB_AFTER = """\
# TYPE citybrain_ws_clients gauge
citybrain_ws_clients 480.0
# TYPE citybrain_ws_dropped_total counter
citybrain_ws_dropped_total{reason="queue_full"} 15.0
citybrain_ws_dropped_total{reason="send_timeout"} 5.0
# TYPE citybrain_ws_messages_total counter
citybrain_ws_messages_total{type="cells"} 60.0
citybrain_ws_messages_total{type="alert"} 2.0
"""


def test_parse_and_pick() -> None:
    after = parse_metrics(WORKER_AFTER)
    assert by_label(after, "citybrain_events_in_total", "kind") == {
        "camera": 9000.0,
        "sensor": 50.0,
    }
    assert total(after, "citybrain_batch_seconds_count") == 110.0
    assert total(after, "citybrain_nothing_total") is None
    with pytest.raises(ValueError):
        parse_metrics("citybrain_x{kind=camera 1\n")


def test_delta_counts_the_run_and_restarts_from_zero() -> None:
    before = parse_metrics(WORKER_BEFORE)
    after = parse_metrics(WORKER_AFTER)
    d = delta(before, after)
    assert d["citybrain_events_in_total", (("kind", "camera"),)] == 8000.0
    assert d["citybrain_cell_updates_total", ()] == 1234.0  # not there before: from 0
    restarted = delta(after, before)  # counters went down: the process restarted
    assert restarted["citybrain_events_in_total", (("kind", "camera"),)] == 1000.0


def test_server_figures_from_scrapes() -> None:
    f = server_figures(
        worker_before=parse_metrics(WORKER_BEFORE),
        worker_after=parse_metrics(WORKER_AFTER),
        web_before=None,
        web_after=parse_metrics(WEB_AFTER),
        acked_events=10_000,
    )
    assert f.worker_events_in == {"camera": 8000.0, "sensor": 0.0}
    assert f.worker_records_in == {"camera": 40.0}
    assert f.worker_deadlettered == {"late": 7.0}
    assert f.worker_cell_updates == 1234.0
    assert f.worker_batch_mean_ms == pytest.approx(10.0)  # 1.0 s over 100 records
    assert f.worker_backlog == 2000.0
    assert f.web_clients_end == 480.0
    assert f.web_dropped == {"queue_full": 15.0, "send_timeout": 5.0}
    assert f.web_messages == {"alert": 2.0, "cells": 60.0}
    nothing = server_figures(
        worker_before=None, worker_after=None, web_before=None, web_after=None, acked_events=1
    )
    assert nothing.worker_events_in is None and nothing.worker_backlog is None
    assert nothing.web_dropped is None
