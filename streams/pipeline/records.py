"""An input record decoded: the one entry point the worker and the backtest call (pure).

Hotline records go through the pydantic models (:mod:`streams.pipeline.decode`, the
reference for every result); camera and sensor records through msgspec
(:mod:`streams.pipeline.decode_fast`), faster and equal to the reference
(tests/unit/test_decode_fast.py).
"""

from __future__ import annotations

from streams.pipeline.decode import Decoded, Limits, decode_record_pydantic
from streams.pipeline.decode_fast import decode_record_fast
from streams.pipeline.events import Kind


def decode_record(kind: Kind, raw: bytes | None, now_ms: int, limits: Limits) -> Decoded:
    """Decode one Kafka record value (an event or a JSON array of events) of ``kind``."""
    if kind != "hotline":
        return decode_record_fast(kind, raw, now_ms, limits)
    return decode_record_pydantic(kind, raw, now_ms, limits)
