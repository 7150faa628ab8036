"""A producer flush that waits for every message (edge): Faust's, made complete.

Faust writes table changes to their changelog through a buffer in front of the Kafka
client (``send_soon``), and flushes the producer before it commits the offsets of the
records that made those changes — at least once, as long as the flush waits for the
buffer. faust-streaming's ``ProducerBuffer.flush`` does not always: it gives up after
0.1 s without a message handed over (``flush_atmost``), and it counts only the messages
still queued, not the one being handed over. On a loaded machine (the client's
accumulator full, a slow broker) the offsets of folded records were then committed
before their changelog writes were sent, and a worker killed right after came back
without them: a ticket counted by the dead worker was neither in the recovered table
nor read again.

:class:`DrainingBuffer` counts the messages put and those handed to the client; its
``flush`` returns once every message put before it was called has been handed over
(the Kafka client's own flush, which Faust's producer calls next, then waits for the
broker's acknowledgements). The worker's app (:class:`DurableApp`) gives its producer
one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.producer import ProducerBuffer
from faust.types.transports import ProducerT
from faust.types.tuples import FutureMessage

#: How long a flush sleeps between looks at a stopped buffer, s.
POLL_S = 0.1


class DrainingBuffer(ProducerBuffer):
    """Faust's producer buffer with a flush that waits for every message put before it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.put_count = 0  # messages put in the buffer
        self.handed_count = 0  # of them, handed to the Kafka client

    def put(self, fut: FutureMessage) -> None:
        self.put_count += 1
        super().put(fut)

    async def _send_pending(self, fut: FutureMessage) -> None:
        try:
            await super()._send_pending(fut)
        finally:  # a failed hand-over is not waited for forever: the future holds the error
            self.handed_count += 1

    async def flush(self) -> None:
        """Return once every message put before this call has been handed to the Kafka
        client (when the buffer is stopping, by handing the rest over itself: Faust's
        would drop them). A failed hand-over raises."""
        app: Any = self.app
        if app is not None and app.conf.producer_threaded:
            await super().flush()  # the threaded producer drains its own queue
            return
        target = self.put_count
        while self.handed_count < target:
            if self.should_stop and self.handed_count + self.pending.qsize() == self.put_count:
                # stopping: the buffer's task hands nothing more over, and holds none now
                await self._send_pending(self.pending.get_nowait())
                continue
            self.message_sent.clear()
            try:
                await asyncio.wait_for(self.message_sent.wait(), timeout=POLL_S)
            except TimeoutError:
                continue  # still waiting on the client: look again


class DurableApp(faust.App):
    """A Faust app whose producer flushes completely (see the module docstring)."""

    def _new_producer(self) -> ProducerT:
        producer: Any = super()._new_producer()
        buffer = DrainingBuffer(loop=producer.loop, beacon=producer.beacon)
        buffer.app = self
        producer.buffer = buffer
        return producer  # type: ignore[no-any-return]
