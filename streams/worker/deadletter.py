"""Sending a record's bad events to ``events.deadletter``: counted, logged, never fatal.

Dead letters of hotline records are redacted first
(:func:`streams.pipeline.privacy.redact_dead_letter`):
neither the topic nor the log gets a citizen's phone or ID number."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson

from streams.pipeline.decode import Rejection, dead_letter
from streams.pipeline.privacy import redact_dead_letter
from streams.worker import metrics

log = logging.getLogger(__name__)


async def send_rejections(
    rejections: Iterable[Rejection], *, kind: str, topic: str, message: Any, sink: Any, now_ms: int
) -> None:
    """Dead-letter each rejection of one input record (``message``: its Faust message, for
    the partition and offset) to ``sink``, counting it by kind and error and logging it."""
    for rejection in rejections:
        metrics.DEADLETTERED.labels(kind, rejection.error).inc()
        letter = dead_letter(
            rejection,
            topic=topic,
            partition=message.partition,
            offset=message.offset,
            at_ms=now_ms,
        )
        if kind == "hotline":
            letter = redact_dead_letter(letter)
        log.warning(  # the reason only, never the original
            "dead-lettered %s %s[%s]@%s: %s",
            rejection.error,
            topic,
            rejection.index,
            message.offset,
            letter["reason"][:200],
        )
        await sink.send(value=orjson.dumps(letter))
