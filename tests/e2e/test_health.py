"""End to end: health, readiness and metrics of the worker and the web server."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from citybrain.stack import EmbeddedStack
from tests.e2e.kit import http, wait_for

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
