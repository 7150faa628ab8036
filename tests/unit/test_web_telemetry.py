"""Measured web-server metrics (web/telemetry.py): live alerts by severity and state from a
real Redis, and broadcast lag from the records a coalesced cells message carries."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from web.live import CellDelta
from web.snapshot import Snapshot
from web.telemetry import broadcast_lags_s, count_alerts, follow_alert_counts, observe_broadcast


def alert(id: str, severity: object, state: object) -> dict:
    return {"id": id, "rule": "r", "severity": severity, "state": state, "cell": "c"}


def test_count_alerts_has_every_pair_and_bounds_the_rest() -> None:
    counts = count_alerts(
        [
            alert("a", "critical", "open"),
            alert("b", "critical", "open"),
            alert("c", "info", "resolved"),
            alert("d", "severe", "open"),  # no rule makes it: counted, not a new label
            alert("e", "warning", None),
        ]
    )
    assert counts[("critical", "open")] == 2
    assert counts[("info", "resolved")] == 1
    assert counts[("warning", "expired")] == 0
    assert counts[("other", "open")] == 1 and counts[("warning", "other")] == 1
    assert len(counts) == 3 * 4 + 2
    assert sum(counts.values()) == 5


def test_broadcast_lags() -> None:
    assert broadcast_lags_s([1000, 1500, None, -1, 2600], 2500) == [1.5, 1.0, 0.0]


def test_cell_delta_hands_over_the_records_it_carries() -> None:
    delta = CellDelta()
    delta.apply({"cells": [{"cell": "a"}], "removed": []}, 1000)
    delta.apply({"cells": [{"cell": "a"}, {"cell": "b"}], "removed": []}, 1400)
    delta.apply({"cells": [], "removed": []}, 1500)  # nothing to send: not measured
    delta.apply({"cells": [], "removed": ["c"]})  # a record without a timestamp
    message, records = delta.take_with_records(2000)
    assert [v["cell"] for v in message["cells"]] == ["a", "b"] and message["removed"] == ["c"]
    assert records == [1000, 1400]
    assert not delta and delta.take_with_records(3000)[1] == []


def test_observe_broadcast_fills_the_histogram() -> None:
    def count() -> float:
        return (
            REGISTRY.get_sample_value("citybrain_broadcast_lag_seconds_count", {"type": "cells"})
            or 0.0
        )

    def over_5s() -> float:
        labels = {"type": "cells", "le": "5.0"}
        return REGISTRY.get_sample_value("citybrain_broadcast_lag_seconds_bucket", labels) or 0.0

    before, fast_before = count(), over_5s()
    observe_broadcast("cells", [10_000, 19_000, None], 20_000)  # 10 s and 1 s
    assert count() == before + 2
    assert over_5s() == fast_before + 1


@pytest.mark.asyncio
async def test_live_alert_gauge_follows_redis(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    snap = Snapshot(redis, f"telemetry-{time.monotonic_ns()}:")

    def gauge(severity: str, state: str) -> float | None:
        labels = {"severity": severity, "state": state}
        return REGISTRY.get_sample_value("citybrain_live_alerts", labels)

    async def until(severity: str, state: str, value: float) -> None:
        async with asyncio.timeout(10):  # the recount runs every 20 ms
            while True:
                if gauge(severity, state) == value:
                    return
                await asyncio.sleep(0.01)

    task = asyncio.create_task(follow_alert_counts(snap, interval_s=0.02))
    try:
        await snap.put_alert(alert("a", "critical", "open"))
        await snap.put_alert(alert("b", "critical", "open"))
        await snap.put_alert(alert("c", "warning", "odd-state"))
        await until("critical", "open", 2)
        await until("warning", "other", 1)
        assert gauge("info", "expired") == 0
        await snap.put_alert(alert("b", "critical", "acknowledged"))
        await redis.hdel(snap.alerts_key, "c")
        await until("critical", "open", 1)
        await until("critical", "acknowledged", 1)
        await until("warning", "other", 0)  # gone again: back to 0, not left at 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await snap.clear()
        await redis.aclose()
