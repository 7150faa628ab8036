"""Read a one-partition topic as a log: everything from the start, then follow it.

Every reader gets every record (no consumer group), which is what a change
log such as the ``rules`` topic needs: each worker and each web server keeps
its own view of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from citybrain.config.settings import Settings

OnRecord = Callable[[bytes | None, int, bool], None]  # value, offset, live (False: catching up)


async def follow_log(
    settings: Settings,
    topic: str,
    on_record: OnRecord,
    *,
    caught_up: Callable[[], Awaitable[None]] | None = None,
    every: Callable[[], Awaitable[object]] | None = None,
    poll_s: float = 1.0,
) -> None:
    """Call ``on_record`` for every record of partition 0 of ``topic`` (the full name), in
    order, for ever; ``caught_up`` once the records present at start are read, ``every``
    at least every ``poll_s`` seconds after that. Cancel to stop; the consumer is closed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        enable_auto_commit=False,
        group_id=None,
    )
    tp = TopicPartition(topic, 0)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            for record in batch.get(tp, []):
                on_record(record.value, record.offset, record.offset >= end)
        if caught_up is not None:
            await caught_up()
        while True:
            batch = await consumer.getmany(tp, timeout_ms=int(poll_s * 1000))
            for record in batch.get(tp, []):
                on_record(record.value, record.offset, True)
            if every is not None:
                await every()
    finally:
        await consumer.stop()
