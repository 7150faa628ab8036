"""Side readings during a rebalance: lag and health reads never crash their process.

A worker joining takes partitions from the running one at any moment, also while the
running one is in the middle of reading the offsets of those partitions for its lag
gauge. aiokafka asserts on a partition that is no longer assigned; that must be a
normal case (the partition is left out), and any failure of such a side loop is
counted and retried, never raised out of the task (streams/io/background.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import IllegalStateError
from aiokafka.structs import TopicPartition
from prometheus_client import REGISTRY

from citybrain.config.settings import Settings
from citybrain.stack import child_environment, env_file_text, settings_env
from streams.io.background import keep_running
from streams.io.lag import PartitionOffsets, refresh_forever
from streams.worker.bulk_ingest import BulkIngest, ConsumerSettings
from web.telemetry import feed_offsets

A, B = TopicPartition("events.camera", 0), TopicPartition("events.camera", 1)


class RebalancingConsumer:
    """As aiokafka's consumer in what the readers use: ``highwater`` and ``position``
    refuse a partition that is not assigned (aiokafka: ``AssertionError('Partition is
    not assigned')`` and ``IllegalStateError``). The first await it is asked for
    revokes ``revoke`` — a second worker joined meanwhile."""

    def __init__(self, revoke: TopicPartition) -> None:
        self.assigned = {A, B}
        self.revoke = revoke

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def _rebalance(self) -> None:
        await asyncio.sleep(0)
        self.assigned.discard(self.revoke)

    async def committed(self, tp: TopicPartition) -> int:
        await self._rebalance()
        return 10 + tp.partition

    async def position(self, tp: TopicPartition) -> int:
        await self._rebalance()
        if tp not in self.assigned:
            raise IllegalStateError(f"No current assignment for partition {tp}")
        return 20 + tp.partition

    def highwater(self, tp: TopicPartition) -> int:
        assert tp in self.assigned, "Partition is not assigned"
        return 100 + tp.partition


async def no_op() -> None:
    return None


def bulk_with(consumer: Any) -> BulkIngest:
    settings = ConsumerSettings(["127.0.0.1:9"], "g", 10_000, 1_000, 3_000, 100)

    async def handle(_records: list[Any]) -> None:
        return None

    bulk = BulkIngest({"events.camera": "camera"}, settings, handle, no_op)
    bulk.consumer = consumer
    return bulk


@pytest.mark.asyncio
async def test_input_offsets_leave_out_a_partition_revoked_while_reading() -> None:
    consumer = RebalancingConsumer(revoke=B)
    readings = await bulk_with(consumer).offsets()
    assert readings == [PartitionOffsets("events.camera", 0, 100, 10)]


@pytest.mark.asyncio
async def test_input_offsets_use_known_commits_without_asking() -> None:
    consumer = RebalancingConsumer(revoke=B)
    bulk = bulk_with(consumer)
    bulk.committed = {A: 50, B: 60}
    readings = await bulk.offsets()  # no await on the broker: nothing revoked meanwhile
    assert readings == [
        PartitionOffsets("events.camera", 0, 100, 50),
        PartitionOffsets("events.camera", 1, 101, 60),
    ]


@pytest.mark.asyncio
async def test_feed_offsets_leave_out_a_partition_revoked_while_reading() -> None:
    consumer = RebalancingConsumer(revoke=B)
    readings = await feed_offsets(consumer)  # type: ignore[arg-type]
    assert readings == [PartitionOffsets("events.camera", 0, 100, 20)]


@pytest.mark.asyncio
async def test_lag_refresh_survives_any_failure_of_a_reading() -> None:
    before = REGISTRY.get_sample_value("citybrain_consumer_lag_errors_total") or 0.0
    calls = 0
    published = asyncio.Event()

    async def read() -> list[PartitionOffsets]:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise AssertionError("Partition is not assigned")  # as aiokafka says it
        published.set()
        return [PartitionOffsets("events.camera", 0, 5, 3)]

    task = asyncio.create_task(refresh_forever(read, interval_s=0.01))
    await asyncio.wait_for(published.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = REGISTRY.get_sample_value("citybrain_consumer_lag_errors_total") or 0.0
    assert after - before == 2
    labels = {"topic": "events.camera", "partition": "0"}
    assert REGISTRY.get_sample_value("citybrain_consumer_lag", labels) == 2


@pytest.mark.asyncio
async def test_keep_running_counts_restarts_and_stops_when_cancelled() -> None:
    before = REGISTRY.get_sample_value(
        "citybrain_background_failures_total", {"task": "probe under test"}
    )
    runs = 0
    third = asyncio.Event()

    async def loop() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third.set()
            await asyncio.sleep(3600)  # runs until cancelled
        raise KeyError("boom")

    task = asyncio.create_task(keep_running("probe under test", loop, retry_s=0.01))
    await asyncio.wait_for(third.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = REGISTRY.get_sample_value(
        "citybrain_background_failures_total", {"task": "probe under test"}
    )
    assert (after or 0.0) - (before or 0.0) == 2


def test_a_child_gets_the_settings_meant_for_it_not_the_parents_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``CITYBRAIN_WEB__PORT=8085`` exported for ``citybrain up`` must not put web-2 on
    8085 too: a nested variable would win over the section ``up`` hands the child."""
    parent = {
        "CITYBRAIN_WEB__PORT": "8085",
        "CITYBRAIN_KAFKA__PARTITIONS": "12",
        "PATH": "/usr/bin",
    }
    meant = Settings().with_overrides(web={"port": 9123}, kafka={"partitions": 12})
    env = child_environment(parent, settings_env(meant))
    assert env["PATH"] == "/usr/bin"
    for name in [n for n in list(os.environ) if n.startswith("CITYBRAIN_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child.web.port == 9123
    assert child.kafka.partitions == 12
    # a process without settings of its own (broker, redis) inherits everything
    assert child_environment(parent, None) == parent


def test_the_run_settings_file_reads_back_in_a_shell(tmp_path: Path) -> None:
    meant = Settings().with_overrides(web={"port": 9124})
    path = tmp_path / "stack.env"
    path.write_text(env_file_text(settings_env(meant)) + "\n")
    out = subprocess.run(
        ["sh", "-c", f'set -a; . "{path}"; set +a; printf %s "$CITYBRAIN_WEB"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    assert '"port": 9124' in out or '"port":9124' in out


@pytest.mark.asyncio
async def test_the_input_consumer_waits_while_the_tables_recover(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the worker's Faust side rebalances or recovers its tables, the input consumer
    fetches nothing (its sends would hold the recovery up), and never longer than its
    bound at a time."""
    recovering = True
    bulk = bulk_with(None)
    bulk.held = lambda: recovering

    async def recovery_ends() -> None:
        nonlocal recovering
        await asyncio.sleep(0.2)
        recovering = False

    ender = asyncio.create_task(recovery_ends())
    started = asyncio.get_running_loop().time()
    await bulk.wait_while_held()
    waited = asyncio.get_running_loop().time() - started
    await ender
    assert 0.15 <= waited < 1.0

    monkeypatch.setattr("streams.worker.bulk_ingest.HOLD_MAX_S", 0.2)
    recovering = True  # a recovery that never ends: the consumer goes on after the bound
    started = asyncio.get_running_loop().time()
    await bulk.wait_while_held()
    assert asyncio.get_running_loop().time() - started < 1.0
