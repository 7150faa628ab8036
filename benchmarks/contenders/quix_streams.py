"""Contender: Quix Streams, stateful — a StreamingDataFrame over the topic, the count and
people total per (cell, window) kept in Quix's own state store (RocksDB, backed by a
changelog topic that Quix creates).

The pipeline, the textbook way: the value is read as bytes and ``common.parse`` turns it
into its events; ``apply(..., expand=True)`` makes each event a row of its own; a
``stateful=True`` apply then keeps ``[count, people]`` under the state key
``window_key(event)``. Quix scopes state by the record key (the coarse H3 parent cell of
the camera), and a (cell, window) always falls under the same record key, so the entries
created are the same as in the other contenders.

The figures go to the meter every :data:`TALLY_EVERY` events (``Meter.count`` reads two
clocks, a cost the reference pays once per fetched batch, not per event). The app stops
itself (``app.stop()``) once every expected event is processed or the time is up (a
watchdog covers a stall). The final checkpoint (state flush to RocksDB, changelog
produce, offset commit) and the close come after the last event: ``shutdown_s`` reports
them apart.

Broker-specific settings (Tansu): librdkafka needs ``session.timeout.ms=6000`` (else the
group join takes ~25 s) and ``fetch.queue.backoff.ms=10`` (else the fetcher idles 1 s
between batches); both go in ``consumer_extra_config``. Quix derives the changelog
topic's config from the input topic's ``retention.ms``/``retention.bytes`` as the broker
describes them, and Tansu describes them only when they were set at creation (else
``KeyError: 'retention.ms'``): the preloader sets both. Quix creates the changelog
topics itself with no further setting.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from common import Args, Meter, args, parse, window_key
from quixstreams import Application
from quixstreams.state import State

TALLY_EVERY = 1_000


def run(a: Args) -> Meter:
    meter = Meter("quix streams stateful", a.events)
    app = Application(
        broker_address=a.bootstrap,
        consumer_group=a.group,
        auto_offset_reset="earliest",
        state_dir=a.state_dir,
        consumer_extra_config={"session.timeout.ms": 6000, "fetch.queue.backoff.ms": 10},
        loglevel="WARNING",
    )
    # stops the app if the events stall, when `count` below is no longer called
    watchdog = threading.Timer(a.max_seconds, app.stop)
    watchdog.daemon = True
    # events, new keys, people not yet passed to the meter; when they last were
    pending = [0, 0, 0]
    counted = [0.0]

    def flush() -> None:
        meter.count(*pending)
        pending[:] = [0, 0, 0]
        counted[0] = time.perf_counter()

    def events(value: bytes) -> list[dict[str, Any]]:
        if watchdog.ident is None:
            watchdog.start()
        meter.first_record()
        return parse(value)

    def count(event: dict[str, Any], state: State) -> None:
        key = window_key(event)
        entry = state.get(key)
        if entry is None:
            state.set(key, [1, event["people"]])
            pending[1] += 1
        else:
            state.set(key, [entry[0] + 1, entry[1] + event["people"]])
        pending[0] += 1
        pending[2] += event["people"]
        if pending[0] >= TALLY_EVERY or meter.events + pending[0] >= meter.expected:
            flush()
            if meter.done or meter.timed_out(a.max_seconds):
                app.stop()

    topic = app.topic(a.topic, key_deserializer="bytes", value_deserializer="bytes")
    sdf = app.dataframe(topic)
    sdf = sdf.apply(events, expand=True)
    sdf = sdf.apply(count, stateful=True)
    app.run()
    meter.extra["shutdown_s"] = time.perf_counter() - counted[0]
    watchdog.cancel()
    if pending[0]:  # stopped by the watchdog, short of the expected events
        flush()
    return meter


if __name__ == "__main__":
    a = args(__doc__ or "")
    run(a).write(a.result)
