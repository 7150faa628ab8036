"""Contender: Bytewax, one worker in this process — a dataflow reading the topic with
``KafkaSource``, parsing each record into its events (``flat_map``), keying each event
by ``window_key(event)`` (``key_on``) and keeping ``[count, people]`` per key in
Bytewax's own keyed state (``stateful_map``; in memory, no recovery store).

``KafkaSource(tail=False)`` ends the flow at the end of every partition: the topic holds
exactly the expected events, so the flow ends once the meter is done. The figures go to
the meter every :data:`TALLY_EVERY` events (``Meter.count`` reads two clocks, a cost the
reference pays once per fetched batch, not per event). A watchdog interrupts the run
once the time is up (Bytewax reports the interrupt as an error of the step it hit).

Broker-specific settings (Tansu), passed to librdkafka with ``add_config``:
``fetch.queue.backoff.ms=10`` (else the fetcher idles 1 s between batches) and
``session.timeout.ms=6000``. ``KafkaSource`` assigns partitions itself and joins no
consumer group, so ``group.id`` (set to the run's group) is not used to join; the admin
client that lists the partitions gets the same settings and warns that the consumer
properties do not apply to it (harmless).
"""

from __future__ import annotations

import _thread  # noqa: PLC2701 (interrupt_main: the watchdog stops a run that overruns)
import threading
from typing import Any

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSource, KafkaSourceMessage
from bytewax.dataflow import Dataflow
from bytewax.errors import BytewaxRuntimeError
from bytewax.testing import run_main
from common import Args, Meter, args, parse, window_key

TALLY_EVERY = 1_000


def run(a: Args) -> Meter:
    meter = Meter("bytewax stateful_map", a.events)
    # interrupts run_main (KeyboardInterrupt) if the events stall or come too slowly
    watchdog = threading.Timer(a.max_seconds, _thread.interrupt_main)
    watchdog.daemon = True
    # events, new keys, people not yet passed to the meter
    pending = [0, 0, 0]

    def flush() -> None:
        meter.count(*pending)
        pending[:] = [0, 0, 0]

    def events(msg: KafkaSourceMessage[bytes | None, bytes | None]) -> list[dict[str, Any]]:
        if watchdog.ident is None:
            watchdog.start()
        meter.first_record()
        return parse(msg.value) if msg.value is not None else []

    def add(entry: list[int] | None, event: dict[str, Any]) -> tuple[list[int], None]:
        if entry is None:
            entry = [0, 0]
            pending[1] += 1
        entry[0] += 1
        entry[1] += event["people"]
        pending[0] += 1
        pending[2] += event["people"]
        if pending[0] >= TALLY_EVERY or meter.events + pending[0] >= meter.expected:
            flush()
        return entry, None

    source = KafkaSource(
        [a.bootstrap],
        [a.topic],
        tail=False,
        add_config={
            "group.id": a.group,
            "session.timeout.ms": "6000",
            "fetch.queue.backoff.ms": "10",
        },
    )
    flow = Dataflow("citybrain_bench")
    records = op.input("kafka", flow, source)
    parsed = op.flat_map("parse", records, events)
    keyed = op.key_on("window_key", parsed, window_key)
    counted = op.stateful_map("count", keyed, add)
    op.inspect("end", counted, lambda _step, _item: None)
    try:
        run_main(flow)
    except (KeyboardInterrupt, BytewaxRuntimeError):
        # the watchdog's interrupt, raw or wrapped by the step it hit: the run is incomplete
        if not meter.timed_out(a.max_seconds):
            raise
    finally:
        watchdog.cancel()
    if pending[0]:  # stopped short of the expected events
        flush()
    return meter


if __name__ == "__main__":
    a = args(__doc__ or "")
    run(a).write(a.result)
