"""End to end: health, readiness and metrics of the worker and the web server."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest

from alerts.incidents.lifecycle import LIFECYCLE_STATES
from alerts.rules.spec import SEVERITIES
from citybrain.stack import EmbeddedStack
from tests.e2e.kit import crowd, http, metrics, wait_for

pytestmark = [pytest.mark.e2e]


def test_worker_and_web_report_liveness_readiness_and_metrics(stack: EmbeddedStack) -> None:
    s = stack.live
    worker = f"http://127.0.0.1:{s.worker_http_port}/"
    web = f"http://127.0.0.1:{s.web.port}/"

    def answers(url: str) -> tuple[int, dict] | None:
        try:
            return http("GET", url)
        except urllib.error.URLError:  # not listening yet: the worker is still starting
            return None

    assert wait_for(lambda: answers(worker + "healthz"), 60, "worker /healthz") == (
        200,
        {"status": "ok"},
    )
    ready = wait_for(lambda: http("GET", worker + "readyz")[0] == 200, 30, "worker ready")
    assert ready
    status, body = http("GET", worker + "readyz")
    assert body == {
        "status": "ready",
        "checks": {
            "broker": True,
            "assigned": True,
            "not_rebalancing": True,
            "tables_recovered": True,
            "input_consumer": True,
        },
    }
    with urllib.request.urlopen(worker + "metrics", timeout=10) as r:
        text = r.read().decode()
    assert r.headers["Content-Type"].startswith("text/plain")
    for name in ("citybrain_records_in_total", "citybrain_batch_seconds_bucket"):
        assert name in text, name
    status, body = http("GET", web + "readyz")
    assert status == 200 and body["checks"] == {
        "broker": True,
        "redis": True,
        "kafka_assigned": True,
        "feed_running": True,
    }


def samples(url: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called ``name`` on a /metrics page, by their sorted labels."""
    return {labels: value for (sample, labels), value in metrics(url).items() if sample == name}


def lag_by_partition(url: str) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["topic"], dict(labels)["partition"]): value
        for labels, value in samples(url, "citybrain_consumer_lag").items()
    }


def test_consumer_lag_alert_counts_and_broadcast_lag(stack: EmbeddedStack) -> None:
    s = stack.live
    worker = f"http://127.0.0.1:{s.worker_http_port}/metrics"
    web = f"http://127.0.0.1:{s.web.port}/metrics"
    parts = [str(p) for p in range(s.kafka.partitions)]
    agent_topics = ["events.camera", "events.sensor", "events.hotline", "events.worker"]
    agent_topics += ["alerts.actions", "cells.ingest"]
    feed_topics = ["cells.state", "alerts", "alerts.shadow", "alerts.audit", "workers.state"]

    def broadcasts() -> tuple[float, float]:
        found = samples(web, "citybrain_broadcast_lag_seconds_count")
        total = samples(web, "citybrain_broadcast_lag_seconds_sum")
        key = (("type", "cells"),)
        return found.get(key, 0.0), total.get(key, 0.0)

    count_before, sum_before = broadcasts()
    # a quiet camera (5 people on 400 m²: no alert) for 3 s, through Kafka
    asyncio.run(crowd(s, 22.99, 113.07, seconds=3, people=5, tag="health"))

    # every partition of the worker's agents' topics, refreshed every 5 s; the camera's
    # records are processed and committed, so its lag comes back to 0
    def worker_caught_up() -> dict[tuple[str, str], float] | None:
        lag = lag_by_partition(worker)
        wanted = {(s.kafka.topic(t), p) for t in agent_topics for p in parts}
        camera = s.kafka.topic("events.camera")
        if wanted <= set(lag) and all(lag[(camera, p)] == 0 for p in parts):
            return lag
        return None

    lag = wait_for(worker_caught_up, 60, "worker consumer lag for every input partition")
    assert all(v >= 0 and v == int(v) for v in lag.values()), lag
    assert not any(t.endswith("-changelog") for t, _ in lag)  # table changelogs: not group lag

    def web_lag() -> dict[tuple[str, str], float] | None:
        lag = lag_by_partition(web)
        wanted = {(s.kafka.topic(t), p) for t in feed_topics for p in parts}
        return lag if wanted <= set(lag) else None

    lag = wait_for(web_lag, 30, "web consumer lag for every feed partition")
    assert all(v >= 0 for v in lag.values()), lag

    # the camera's cell went out to websocket clients: each cells.state record measured once
    grew = wait_for(lambda: broadcasts()[0] > count_before, 30, "broadcast lag observations")
    assert grew
    count, total = broadcasts()
    mean = (total - sum_before) / (count - count_before)
    assert 0 <= mean < 30, mean  # ~1 s: the worker's batch, then the 1 s coalescing

    # live alerts by severity and state: every pair shown, adding up to the live view
    def alert_gauge() -> dict[tuple[str, str], float] | None:
        gauge = {
            (dict(k)["severity"], dict(k)["state"]): v
            for k, v in samples(web, "citybrain_live_alerts").items()
        }
        status, body = http("GET", f"http://127.0.0.1:{s.web.port}/api/alerts")
        assert status == 200
        return gauge if sum(gauge.values()) == len(body["alerts"]) and gauge else None

    gauge = wait_for(alert_gauge, 30, "live alert gauge matching GET /api/alerts")
    assert {(sev, st) for sev in SEVERITIES for st in LIFECYCLE_STATES} <= set(gauge)
