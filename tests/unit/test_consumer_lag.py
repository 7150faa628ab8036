"""Consumer lag from partition offsets (streams/io/lag.py) and its gauge."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from streams.io.lag import LagGauge, PartitionOffsets, lags, partition_lag, refresh_forever


@pytest.mark.parametrize(
    ("offsets", "lag"),
    [
        (PartitionOffsets("events.camera", 0, highwater=120, next_offset=100), 20),
        (PartitionOffsets("events.camera", 0, highwater=100, next_offset=100), 0),
        # a position read a moment after the high watermark may be ahead of it
        (PartitionOffsets("events.camera", 0, highwater=100, next_offset=103), 0),
        # nothing committed yet: everything from the start of the log is to do
        (PartitionOffsets("events.camera", 0, highwater=100, next_offset=None), 100),
        (PartitionOffsets("events.camera", 0, 100, next_offset=None, log_start=40), 60),
        # no fetch answered yet: unknown, not zero
        (PartitionOffsets("events.camera", 0, highwater=None, next_offset=5), None),
    ],
)
def test_partition_lag(offsets: PartitionOffsets, lag: int | None) -> None:
    assert partition_lag(offsets) == lag


def test_lags_leave_out_unknown_partitions() -> None:
    readings = [
        PartitionOffsets("events.camera", 0, 10, 4),
        PartitionOffsets("events.camera", 1, None, 4),
        PartitionOffsets("alerts.actions", 0, 7, 7),
    ]
    assert lags(readings) == {("events.camera", 0): 6, ("alerts.actions", 0): 0}


def test_gauge_drops_partitions_no_longer_held() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("lag", "test", ["topic", "partition"], registry=registry)
    publisher = LagGauge(gauge)
    publisher.publish({("events.camera", 0): 6, ("events.camera", 1): 2})
    assert registry.get_sample_value("lag", {"topic": "events.camera", "partition": "1"}) == 2
    publisher.publish({("events.camera", 0): 1})  # partition 1 went to another worker
    assert registry.get_sample_value("lag", {"topic": "events.camera", "partition": "0"}) == 1
    assert registry.get_sample_value("lag", {"topic": "events.camera", "partition": "1"}) is None


@pytest.mark.asyncio
async def test_a_failed_reading_is_counted_and_retried() -> None:
    calls = 0
    done = asyncio.Event()

    async def read() -> list[PartitionOffsets]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("broker away")
        done.set()
        return [PartitionOffsets("t-lag-test", 0, 9, 4)]

    before = REGISTRY.get_sample_value("citybrain_consumer_lag_errors_total") or 0.0
    task = asyncio.create_task(refresh_forever(read, interval_s=0.01))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert REGISTRY.get_sample_value("citybrain_consumer_lag_errors_total") == before + 1

    value = REGISTRY.get_sample_value(
        "citybrain_consumer_lag", {"topic": "t-lag-test", "partition": "0"}
    )
    assert value == 5
