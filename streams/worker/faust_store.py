"""A :class:`streams.pipeline.store.Store` over a Faust table holding orjson bytes.

Each table value is ``{"p": partition, "v": value}``; an in-memory index of
key → partition makes a partition's sweep cheap and is rebuilt from the table
after recovery.

Decoded values are kept beside the table's bytes, so a value read again is not parsed
again (parsing a cell's state on every batch cost a fifth of the worker's time,
docs/benchmarks.md). The decoded value is used only while the table still holds the
very bytes object it came from or was written as: recovery from the changelog, or any
other writer, puts new objects there and the value is parsed afresh.

Keys are stored as UTF-8 bytes: the tables are declared with ``key_type=bytes``,
so that is what recovery from the changelog gives back. (Writing ``str`` keys
worked until a restart, then nothing written before it could be found.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import orjson

T = TypeVar("T")


def encode(dumped: Any, partition: int) -> bytes:
    """The table value of a dumped value held by ``partition``."""
    return orjson.dumps({"p": partition, "v": dumped})


class FaustStore(Generic[T]):
    def __init__(self, table: Any, load: Callable[[Any], T], dump: Callable[[T], Any]) -> None:
        self.table = table
        self._load, self._dump = load, dump
        self._index: dict[str, int] = {}
        self._indexed = False
        self._decoded: dict[str, tuple[bytes, T]] = {}  # key -> (table bytes, their value)

    def get(self, key: str) -> T | None:
        raw = self.table.get(key.encode())
        if raw is None:
            self._decoded.pop(key, None)
            return None
        held = self._decoded.get(key)
        if held is not None and held[0] is raw:  # identity: the same bytes, not equal ones
            return held[1]
        value = self._load(orjson.loads(raw)["v"])
        self._decoded[key] = (raw, value)
        return value

    def put(self, key: str, value: T, partition: int) -> None:
        raw = encode(self._dump(value), partition)
        self.table[key.encode()] = raw
        self._decoded[key] = (raw, value)
        self._index[key] = partition

    def delete(self, key: str) -> None:
        raw_key = key.encode()
        if raw_key in self.table:
            del self.table[raw_key]
        self._index.pop(key, None)
        self._decoded.pop(key, None)

    def keys_in_partition(self, partition: int) -> Iterator[str]:
        if not self._indexed:  # first sweep after start-up: learn what recovery restored
            for key, raw in self.table.items():
                text = key.decode() if isinstance(key, bytes) else str(key)
                self._index[text] = orjson.loads(raw)["p"]
            self._indexed = True
        return iter([k for k, p in self._index.items() if p == partition])
