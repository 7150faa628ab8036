"""How long a consumer's fetch may wait for data: Faust's 1.5 s is too long here.

Faust creates its worker consumer with ``fetch_max_wait_ms=1500`` and offers no
setting for it. A broker may hold a fetch that long when no data is waiting; Apache
Kafka answers as soon as data arrives, but the embedded Tansu broker does so only
for a fetch of a single partition. Measured here (aiokafka against Tansu, a record
produced every 0.37 s, one idle fetch pending): one topic of one partition — 3 ms
median delivery at 1500 ms or 100 ms; two topics, four partitions — 1233 ms median
at 1500 ms, 37 ms at 100 ms. A Faust worker fetches all its partitions at once, so
every hop through an idle topic cost up to 1.5 s (an acknowledgement took 1.4 s
from the web server to the worker's answer, over two hops).

:func:`limit_fetch_wait` makes the worker consumers of this process use
``kafka.fetch_max_wait_ms`` instead (50 ms by default: a quiet consumer asks
twenty times a second, a trivial load). Every hop pays about half that on average
while data flows (Tansu answers at the wait's end even when data arrived sooner): at
20,000 events/s over three hops, 100 ms gave event-to-map p50 253 ms and p99 539 ms,
50 ms 222 and 408, 20 ms 211 and 468 but with a third more broker and worker CPU
(one 60 s run each, rounds and broadcasts every 100 ms; docs/benchmarks.md). The web
server's own consumers take the same setting directly.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

# Faust offers no setting for this: its consumer factory is wrapped (a private API,
# pinned with faust-streaming in pyproject.toml and covered by the worker tests).
_ORIGINAL = AIOKafkaConsumerThread._create_worker_consumer  # noqa: SLF001


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Make Faust's worker consumers (created after this call) wait at most ``max_wait_ms``
    for fetch data. Idempotent; the last call wins."""

    def create(self: AIOKafkaConsumerThread, transport: Any) -> Any:
        consumer = _ORIGINAL(self, transport)
        consumer._fetch_max_wait_ms = max_wait_ms  # noqa: SLF001 (read by the fetcher at start())
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]  # noqa: SLF001
