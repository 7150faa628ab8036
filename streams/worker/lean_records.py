"""Fetched input records as ``(offset, value)`` pairs, not aiokafka ``ConsumerRecord`` s.

aiokafka builds a ``ConsumerRecord`` (eleven fields, a tuple of headers) for every record
it hands out; the input consumer reads only offsets and values, and with one event per
record that object was a tenth of the worker's samples (docs/benchmarks.md). aiokafka
has no option to skip it, so :func:`install` gives its fetcher a ``PartitionRecords``
whose records are ``(offset, value)`` tuples for a consumer whose value deserializer is
:func:`lean_values`, and unchanged ``ConsumerRecord`` s for every other consumer of the
process (Faust's among them). Batch handling — CRC checks, control batches, aborted
transactions, positions — is aiokafka's own, untouched.

Tied to aiokafka's fetcher building its ``PartitionRecords`` by module-global name
(checked by :func:`install`, and by tests/unit/test_lean_records.py on the pinned
version).
"""

from __future__ import annotations

import inspect
from typing import Any

from aiokafka.consumer import fetcher

LeanRecord = tuple[int, bytes | None]  # (offset, value)


def lean_values(value: bytes | None) -> bytes | None:
    """The marker deserializer: a consumer built with ``value_deserializer=lean_values``
    gets :data:`LeanRecord` s from ``getmany``. Values pass unchanged."""
    return value


class LeanPartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]
    """aiokafka's ``PartitionRecords``, with lean records for lean consumers."""

    def _consumer_record(self, tp: Any, record: Any) -> Any:
        if self._value_deserializer is lean_values:
            return (record.offset, record.value)
        return super()._consumer_record(tp, record)


def install() -> None:
    """Make aiokafka's fetcher build :class:`LeanPartitionRecords` (idempotent).

    Raises ``RuntimeError`` if this aiokafka no longer builds them by that name: the
    consumer would then hand out ``ConsumerRecord`` s that the input consumer cannot read.
    """
    if "PartitionRecords(" not in inspect.getsource(fetcher.Fetcher):
        raise RuntimeError("aiokafka's fetcher no longer builds PartitionRecords by name")
    fetcher.PartitionRecords = LeanPartitionRecords
