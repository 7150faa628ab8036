"""The camera log of the worker's partitions, kept in a Faust table (edge).

Each ``cells.ingest`` partition's columnar camera state (streams/pipeline/columnar/partition_log.py)
is written as records under keys ``<partition>:<generation>:<sequence>`` of one table,
from inside the cells agent's processing of that partition's records: Faust sends
them to the table's changelog partition of the record being processed and flushes
them before it commits that record's offset (streams/worker/producer_flush.py), so a record
folded into the state is either in the log or read again. A snapshot starts a new
generation, ends with a marker key (``<partition>:<generation>:end``, its record
count) and then deletes the older generation's keys; a worker taking the partition
over reads the newest generation whose marker is there, in sequence order.

A snapshot is taken when the partition has none, every ``snapshot_every_ms`` of wall
time (the trend rings travel in snapshots only), and when the deltas since the last
one outweigh it (so a restore never reads much more than the state).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Wall time between two snapshots of a partition's camera state at most, ms.
SNAPSHOT_EVERY_MS = 60_000
#: Delta bytes written since the last snapshot beyond which the next is a snapshot.
MIN_DELTA_BYTES = 4 * 1024 * 1024


@dataclass(slots=True)
class _Partition:
    generation: int = -1
    newest: int = -1  # the newest generation found in the table, complete or not
    sequence: int = 0
    keys: list[bytes] = field(default_factory=list)
    snapshot_bytes: int = 0
    delta_bytes: int = 0
    snapshot_at_ms: float = 0.0


def key_of(partition: int, generation: int, sequence: int) -> bytes:
    """A record's table key: sorts by generation, then sequence, within a partition."""
    return f"{partition}:{generation:010d}:{sequence:010d}".encode()


def end_key(partition: int, generation: int) -> bytes:
    """The key of a snapshot's marker (its record count), written after its records."""
    return f"{partition}:{generation:010d}:end".encode()


class CameraLog:
    """The camera log records of the partitions this worker holds (see the module
    docstring); ``table`` maps bytes keys to record bytes."""

    def __init__(self, table: Any, snapshot_every_ms: int = SNAPSHOT_EVERY_MS) -> None:
        self.table, self.snapshot_every_ms = table, snapshot_every_ms
        self.partitions: dict[int, _Partition] = {}

    def records(self, partition: int) -> list[bytes]:
        """The partition's records from its newest snapshot on, in order (empty: none);
        what is found becomes the partition's log to write on."""
        prefix = f"{partition}:".encode()
        found = {bytes(k) for k in self.table if bytes(k).startswith(prefix)}
        held = _Partition()
        self.partitions[partition] = held
        complete = sorted(  # snapshots whose every record was written (their marker is)
            (int(k.split(b":")[1]), int(self.table[k])) for k in found if k.endswith(b":end")
        )
        if not complete:
            return []
        generation, count = complete[-1]
        # what a snapshot cut short left behind is deleted with the next snapshot, whose
        # generation comes after every one found
        leftover = [k for k in found if int(k.split(b":")[1]) > generation]
        held.newest = max(int(k.split(b":")[1]) for k in found)
        keys: list[bytes] = []
        while (key := key_of(partition, generation, len(keys))) in found:
            keys.append(key)  # the snapshot's records, then its deltas up to any gap
        if len(keys) < count:  # cannot be (the marker goes last): start afresh, loudly
            log.error(
                "camera log of partition %d: snapshot %d has %d of its %d records; "
                "starting with no camera state",
                partition, generation, len(keys), count,
            )  # fmt: skip
            return []
        held.generation, held.sequence = generation, len(keys)
        held.keys = [*keys, end_key(partition, generation), *leftover]
        return [self.table[k] for k in keys]

    def snapshot_due(self, partition: int, wall_ms: float) -> bool:
        """Whether the partition's next records should be a snapshot."""
        held = self.partitions.setdefault(partition, _Partition())
        return (
            held.generation < 0
            or wall_ms - held.snapshot_at_ms >= self.snapshot_every_ms
            or held.delta_bytes > max(MIN_DELTA_BYTES, held.snapshot_bytes)
        )

    def write(self, partition: int, records: list[bytes], *, full: bool, wall_ms: float) -> None:
        """Write the partition's records (``full``: a snapshot, replacing what was)."""
        held = self.partitions.setdefault(partition, _Partition())
        if full:
            old = held.keys
            held.generation = held.newest = max(held.generation, held.newest) + 1
            held.sequence, held.keys = 0, []
            held.snapshot_bytes, held.delta_bytes = sum(map(len, records)), 0
            held.snapshot_at_ms = wall_ms
        else:
            old = []
            held.delta_bytes += sum(map(len, records))
        for record in records:
            key = key_of(partition, held.generation, held.sequence)
            self.table[key] = record
            held.keys.append(key)
            held.sequence += 1
        if full:  # the marker last: a snapshot cut short by a crash is never read
            marker = end_key(partition, held.generation)
            self.table[marker] = str(len(records)).encode()
            held.keys.append(marker)
        for key in old:  # after the snapshot: a crash in between leaves both, never none
            if key in self.table:
                del self.table[key]

    def forget(self, partition: int) -> None:
        """The partition went to another worker: what this one knew of it is stale."""
        self.partitions.pop(partition, None)
