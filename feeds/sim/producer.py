"""Kafka edge of the simulator: batch events into JSON-array records and send them.

:func:`encode_batches` is pure (events in, record values out).
:class:`KafkaEventProducer` wraps ``aiokafka.AIOKafkaProducer``; it is the only
place in ``feeds/`` that talks to a broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson
from aiokafka import AIOKafkaProducer

from alerts.incidents.labels import Label
from citybrain.config.settings import Settings
from citybrain.config.topics import EVENTS_LABELS, INPUT_TOPICS

KIND_TOPICS: Final[dict[str, str]] = INPUT_TOPICS
"""Event kind to logical topic name (``Settings.kafka.topic`` adds the prefix)."""
LABELS_TOPIC: Final = EVENTS_LABELS
"""Logical topic of labelled incidents (ground truth for backtests; no worker reads it)."""

LINGER_MS: Final = 5
MAX_BATCH_BYTES: Final = 1024 * 1024
MAX_REQUEST_BYTES: Final = 8 * 1024 * 1024


def encode_batches(events: Sequence[Mapping[str, Any]], batch_max: int) -> list[bytes]:
    """Chunk ``events`` into JSON arrays of at most ``batch_max`` events (UTF-8 bytes).

    Order is kept; an empty input gives no record. ``batch_max`` must be >= 1.
    """
    if batch_max < 1:
        raise ValueError(f"batch_max must be >= 1, got {batch_max}")
    return [orjson.dumps(list(events[i : i + batch_max])) for i in range(0, len(events), batch_max)]


def batch_producer(settings: Settings, role: str) -> AIOKafkaProducer:
    """A producer for batched input records (simulator, replay): short linger, records up
    to :data:`MAX_REQUEST_BYTES`. Create it inside the running event loop; start it."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        client_id=f"citybrain-{role}-{settings.worker_id}",
        linger_ms=LINGER_MS,
        enable_idempotence=False,
        max_batch_size=MAX_BATCH_BYTES,
        max_request_size=MAX_REQUEST_BYTES,
    )


@dataclass(frozen=True, slots=True)
class Sent:
    """What one :meth:`Publisher.send_events` call put on the wire."""

    events: int
    records: int
    bytes: int


class Publisher(Protocol):
    """Where the runner sends events; Kafka in production, a fake in tests."""

    async def send_events(self, kind: str, events: Sequence[Mapping[str, Any]]) -> Sent:
        """Send ``events`` of ``kind`` (``camera``/``sensor``/``hotline``); wait for acks."""
        ...

    async def flush(self) -> None:
        """Wait until everything sent so far is acknowledged."""
        ...


class LabelPublisher(Protocol):
    """Where the runner announces labelled incidents."""

    async def send_labels(self, labels: Sequence[Label]) -> Sent:
        """Send one record per label; wait for acks."""
        ...


class KafkaEventProducer:
    """Sends event batches to ``settings.kafka.topic("events.<kind>")``, key None.

    Use as ``async with KafkaEventProducer(settings) as producer: ...``; leaving
    the block flushes and stops the client.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._batch_max = settings.sim.batch_max
        self._topics = {kind: settings.kafka.topic(name) for kind, name in KIND_TOPICS.items()}
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> KafkaEventProducer:
        # Created here, inside the running event loop the client binds to.
        producer = batch_producer(self._settings, "sim")
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        producer = self._running()
        self._producer = None
        try:
            await producer.flush()
        finally:
            await producer.stop()

    def _running(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaEventProducer used outside 'async with'")
        return self._producer

    def topic_for(self, kind: str) -> str:
        """Full topic name for ``kind``; KeyError for an unknown kind."""
        return self._topics[kind]

    async def send_events(self, kind: str, events: Sequence[Mapping[str, Any]]) -> Sent:
        """Send ``events`` as JSON-array records of at most ``sim.batch_max`` events each.

        Waits for every record's delivery; a delivery failure raises.
        """
        topic = self.topic_for(kind)
        records = encode_batches(events, self._batch_max)
        producer = self._running()
        futures = [await producer.send(topic, value=value, key=None) for value in records]
        for future in futures:
            await future
        return Sent(events=len(events), records=len(records), bytes=sum(map(len, records)))

    async def send_labels(self, labels: Sequence[Label]) -> Sent:
        """Send each label as one record on ``events.labels``: value
        ``Label.to_dict()`` as JSON, key the label id. Waits for delivery."""
        topic = self._settings.kafka.topic(LABELS_TOPIC)
        producer = self._running()
        values = [(label.id.encode(), orjson.dumps(label.to_dict())) for label in labels]
        futures = [await producer.send(topic, value=v, key=key) for key, v in values]
        for future in futures:
            await future
        return Sent(events=len(labels), records=len(values), bytes=sum(len(v) for _, v in values))

    async def flush(self) -> None:
        """Wait for all pending records."""
        await self._running().flush()
