"""Contender: a plain aiokafka ``getmany`` loop with a dict for state — no framework, no
changelog: the ceiling for one Python process on this broker."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from common import Args, Meter, args, fold


async def run(a: Args) -> Meter:
    meter = Meter("aiokafka getmany", a.events)
    state: dict[tuple[str, int], list[int]] = {}
    consumer = AIOKafkaConsumer(
        a.topic,
        bootstrap_servers=a.bootstrap,
        group_id=a.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        while not meter.done and not meter.timed_out(a.max_seconds):
            batches = await consumer.getmany(timeout_ms=200, max_records=50_000)
            for records in batches.values():
                meter.first_record()
                fold([r.value for r in records], state, meter)
    finally:
        await consumer.stop()
    return meter


if __name__ == "__main__":
    a = args(__doc__ or "")
    asyncio.run(run(a)).write(a.result)
