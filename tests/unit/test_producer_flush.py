"""The worker's producer flush waits for every message put before it, also when the
Kafka client takes longer than 0.1 s to take one (Faust's own flush gives up then: the
records' offsets would be committed before their changelog writes were sent)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer

from streams.worker.producer_flush import DrainingBuffer

pytestmark = [pytest.mark.asyncio]


class SlowClient:
    """Takes each message after ``delay_s`` (a full accumulator, a slow broker)."""

    def __init__(self, delay_s: float, expected: int = 0) -> None:
        self.delay_s, self.expected = delay_s, expected
        self.taken: list[int] = []
        self.all_taken = asyncio.Event()

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(self.delay_s)
        self.taken.append(fut.n)
        if len(self.taken) >= self.expected:
            self.all_taken.set()


async def flushed(buffer: ProducerBuffer, client: SlowClient, n: int) -> list[int]:
    """What the client has taken when ``buffer.flush()`` returns after ``n`` puts."""
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        for i in range(n):
            buffer.put(SimpleNamespace(n=i, message=SimpleNamespace(channel=client)))  # type: ignore[arg-type]
        await buffer.flush()
        taken = list(client.taken)
        # let the rest through: Faust's buffer raises on a stop with messages left in it
        await asyncio.wait_for(client.all_taken.wait(), 5)
        return taken
    finally:
        await buffer.stop()


async def test_flush_returns_only_once_every_message_is_handed_over() -> None:
    assert await flushed(DrainingBuffer(), SlowClient(0.25, 3), 3) == [0, 1, 2]


async def test_fausts_own_flush_gives_up_on_a_slow_client() -> None:
    """Why the worker has its own: if this starts failing, Faust's flush waits now and
    streams/worker/producer_flush.py can go."""
    assert len(await flushed(ProducerBuffer(), SlowClient(0.25, 3), 3)) < 3


async def test_messages_put_during_a_flush_are_not_waited_for() -> None:
    buffer, client = DrainingBuffer(), SlowClient(0.05)
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        buffer.put(SimpleNamespace(n=0, message=SimpleNamespace(channel=client)))  # type: ignore[arg-type]
        flushing = asyncio.ensure_future(buffer.flush())
        await asyncio.sleep(0)
        for i in range(1, 20):  # a busy agent keeps putting: the flush still ends
            buffer.put(SimpleNamespace(n=i, message=SimpleNamespace(channel=client)))  # type: ignore[arg-type]
        await asyncio.wait_for(flushing, 0.5)
        assert client.taken[0] == 0 and len(client.taken) < 20
    finally:
        await buffer.stop()
