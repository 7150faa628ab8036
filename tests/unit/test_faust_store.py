"""The table store keeps decoded values beside the table's bytes, and never serves one the
table no longer holds (recovery from the changelog writes new bytes)."""

from __future__ import annotations

from typing import Any

from streams.worker.faust_store import FaustStore, encode


class CountingLoad:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, dumped: Any) -> dict[str, int]:
        self.calls += 1
        return dict(dumped)


def make() -> tuple[FaustStore[dict[str, int]], dict[bytes, bytes], CountingLoad]:
    table: dict[bytes, bytes] = {}  # what a Faust table offers the store: a mapping of bytes
    load = CountingLoad()
    return FaustStore[dict[str, int]](table, load, dict), table, load


def test_a_written_value_is_read_back_without_parsing() -> None:
    store, _table, load = make()
    store.put("a", {"n": 1}, 3)
    assert store.get("a") == {"n": 1} and store.get("a") == {"n": 1}
    assert load.calls == 0
    assert list(store.keys_in_partition(3)) == ["a"]


def test_bytes_written_by_recovery_are_parsed_afresh() -> None:
    store, table, load = make()
    store.put("a", {"n": 1}, 0)
    table[b"a"] = encode({"n": 2}, 0)  # the changelog restored another value
    assert store.get("a") == {"n": 2}
    assert load.calls == 1
    assert store.get("a") == {"n": 2}
    assert load.calls == 1  # and kept from then on


def test_equal_but_new_bytes_are_parsed_again() -> None:
    store, table, load = make()
    store.put("a", {"n": 1}, 0)
    table[b"a"] = bytes(bytearray(table[b"a"]))  # equal content, another object
    assert store.get("a") == {"n": 1}
    assert load.calls == 1


def test_deleted_and_vanished_keys_read_as_none() -> None:
    store, table, _ = make()
    store.put("a", {"n": 1}, 0)
    store.put("b", {"n": 2}, 0)
    store.delete("a")
    del table[b"b"]  # the partition was taken away
    assert store.get("a") is None and store.get("b") is None
    table[b"b"] = encode({"n": 5}, 0)
    assert store.get("b") == {"n": 5}
