"""Contender: a plain confluent-kafka (librdkafka) ``consume`` loop with a dict for state —
no framework, no changelog: the same work as ``aiokafka_getmany.py`` on librdkafka.

Broker-specific settings (Tansu): ``fetch.queue.backoff.ms=10`` (librdkafka's default of
1000 ms idles the fetcher between batches) and ``session.timeout.ms=6000`` (with the
default, the consumer-group join takes ~25 s).
"""

from __future__ import annotations

from common import Args, Meter, args, fold
from confluent_kafka import Consumer, KafkaException


def run(a: Args) -> Meter:
    meter = Meter("confluent-kafka consume", a.events)
    state: dict[tuple[str, int], list[int]] = {}
    consumer = Consumer(
        {
            "bootstrap.servers": a.bootstrap,
            "group.id": a.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "fetch.queue.backoff.ms": 10,
        }
    )
    consumer.subscribe([a.topic])
    try:
        while not meter.done and not meter.timed_out(a.max_seconds):
            records = consumer.consume(num_messages=10_000, timeout=0.2)
            if not records:
                continue
            meter.first_record()
            for record in records:
                if record.error() is not None:
                    # partition EOF is off by default, so anything here is a real error
                    raise KafkaException(record.error())
            fold([r.value() for r in records], state, meter)
    finally:
        consumer.close()
    return meter


if __name__ == "__main__":
    a = args(__doc__ or "")
    run(a).write(a.result)
