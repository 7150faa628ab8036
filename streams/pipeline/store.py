"""The state stores the pipeline reads and writes, as a small protocol.

The worker backs them with Faust tables (changelog-backed); unit tests use
:class:`DictStore`. Each value remembers the Kafka partition whose changelog
owns it, so a sweep of one partition touches only that partition's keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Store(Protocol[T]):
    def get(self, key: str) -> T | None: ...
    def put(self, key: str, value: T, partition: int) -> None: ...
    def delete(self, key: str) -> None: ...
    def keys_in_partition(self, partition: int) -> Iterator[str]: ...


class DictStore(Generic[T]):
    """An in-memory store (tests, backtests)."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[int, T]] = {}

    def get(self, key: str) -> T | None:
        item = self.data.get(key)
        return item[1] if item else None

    def put(self, key: str, value: T, partition: int) -> None:
        self.data[key] = (partition, value)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def keys_in_partition(self, partition: int) -> Iterator[str]:
        return iter([k for k, (p, _) in self.data.items() if p == partition])
