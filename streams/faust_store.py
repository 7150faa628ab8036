"""A :class:`streams.store.Store` over a Faust table holding orjson bytes.

Each table value is ``{"p": partition, "v": value}``; an in-memory index of
key → partition makes a partition's sweep cheap and is rebuilt from the table
after recovery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import orjson

T = TypeVar("T")


class FaustStore(Generic[T]):
    def __init__(self, table: Any, load: Callable[[Any], T], dump: Callable[[T], Any]) -> None:
        self.table = table
        self._load, self._dump = load, dump
        self._index: dict[str, int] = {}
        self._indexed = False

    def get(self, key: str) -> T | None:
        raw = self.table.get(key)
        if raw is None:
            return None
        return self._load(orjson.loads(raw)["v"])

    def put(self, key: str, value: T, partition: int) -> None:
        self.table[key] = orjson.dumps({"p": partition, "v": self._dump(value)})
        self._index[key] = partition

    def delete(self, key: str) -> None:
        if key in self.table:
            del self.table[key]
        self._index.pop(key, None)

    def keys_in_partition(self, partition: int) -> Iterator[str]:
        if not self._indexed:  # first sweep after start-up: learn what recovery restored
            for key, raw in self.table.items():
                self._index[key] = orjson.loads(raw)["p"]
            self._indexed = True
        return iter([k for k, p in self._index.items() if p == partition])
