"""The input consumer's lean records: ``(offset, value)`` for a lean consumer, aiokafka's own
``ConsumerRecord`` for every other one, over the same fetched bytes (a real record batch
built by aiokafka's own builder, control and transactional handling left to aiokafka)."""

from __future__ import annotations

from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord, TopicPartition

from streams.worker.lean_records import LeanPartitionRecords, install, lean_values

TP = TopicPartition("events.camera", 3)


def batch_bytes(base: int, values: list[bytes | None]) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i, value in enumerate(values):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=b"k", value=value, headers=[])
    built = bytearray(builder.build())
    built[0:8] = base.to_bytes(8, "big")  # the batch's base offset, as a broker writes it
    return bytes(built)


def records(cls: type, data: bytes, fetch_offset: int, deserializer: object) -> list[object]:
    return list(cls(TP, MemoryRecords(data), [], fetch_offset, None, deserializer, True, 0))


VALUES: list[bytes | None] = [b'{"a":1}', None, b"", b"\xff\x00 not json"]


def test_a_lean_consumer_gets_offsets_and_values_as_aiokafka_reads_them() -> None:
    data = batch_bytes(40, VALUES) + batch_bytes(44, [b"x", b"y"])
    stock = records(fetcher.PartitionRecords, data, 41, None)
    lean = records(LeanPartitionRecords, data, 41, lean_values)
    assert all(isinstance(r, ConsumerRecord) for r in stock)
    assert lean == [(r.offset, r.value) for r in stock]  # type: ignore[attr-defined]
    assert [offset for offset, _ in lean] == [41, 42, 43, 44, 45]  # skips below the fetch


def test_other_consumers_keep_consumer_records() -> None:
    data = batch_bytes(0, VALUES)
    assert records(LeanPartitionRecords, data, 0, None) == records(
        fetcher.PartitionRecords, data, 0, None
    )


def test_install_swaps_the_class_aiokafka_builds() -> None:
    before = fetcher.PartitionRecords
    try:
        install()
        install()
        assert fetcher.PartitionRecords is LeanPartitionRecords
    finally:
        fetcher.PartitionRecords = before
