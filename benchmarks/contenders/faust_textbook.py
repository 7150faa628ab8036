"""Contender: a textbook Faust agent — ``async for`` over the stream, every event's count
and people total in a changelog-backed Table (faust-streaming, as the project pins it).

Faust's cost is per Kafka record (its consumer path awaits each message), so this shows
what Faust does on its own with one event per record and with 500.
"""

from __future__ import annotations

import logging
import os

import faust
from common import Args, Meter, args, parse, window_key


def build(a: Args, meter: Meter) -> faust.App:
    app = faust.App(
        f"bench-{a.group}",
        broker=f"kafka://{a.bootstrap}",
        store="memory://",
        datadir=str(a.state_dir),
        topic_partitions=a.partitions,
        consumer_auto_offset_reset="earliest",
        # the embedded broker's group join waits for the rebalance timeout: keep it short
        broker_rebalance_timeout=3,
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    topic = app.topic(a.topic, key_type=bytes, value_type=bytes)
    table = app.Table("agg", default=None, partitions=a.partitions)

    @app.agent(topic)
    async def aggregate(stream: faust.StreamT[bytes]) -> None:
        try:
            await count(stream)
        except Exception:  # a crashed agent leaves Faust running: end the process instead
            logging.exception("the agent crashed")
            logging.shutdown()
            os._exit(1)

    async def count(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            meter.first_record()
            keys = people = 0
            events = parse(value)
            for event in events:
                key = window_key(event)
                entry = table.get(key)
                if entry is None:
                    table[key] = (1, event["people"])
                    keys += 1
                else:
                    table[key] = (entry[0] + 1, entry[1] + event["people"])
                people += event["people"]
            meter.count(len(events), keys, people)
            if meter.done or meter.timed_out(a.max_seconds):
                meter.write(a.result)
                # Faust has no clean "stop after N" from inside an agent; the result is
                # written, nothing else is owed to anyone: leave at once.
                logging.shutdown()
                os._exit(0)

    return app


if __name__ == "__main__":
    a = args(__doc__ or "")
    meter = Meter("Faust textbook agent", a.events)
    app = build(a, meter)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.execute_from_commandline()
