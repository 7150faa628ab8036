"""Kafka's key hash (pure): the 32-bit MurmurHash2 its default partitioner uses.

The worker sends keyed records and Kafka's default partitioner puts each on partition
``(murmur2(key) & 0x7FFFFFFF) % partitions``; :mod:`streams.pipeline.placement` must
give the same answer without a Kafka client. MurmurHash2 by Austin Appleby, with the
seed and the little-endian word order of Kafka's ``Utils.murmur2``; checked against
the Kafka client's own in tests/unit/test_placement.py.
"""

from __future__ import annotations

from typing import Final

SEED: Final = 0x9747B28C
M: Final = 0x5BD1E995
MASK: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The unsigned 32-bit hash of ``data``."""
    n = len(data)
    h = (SEED ^ n) & MASK
    whole = n - n % 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * M) & MASK
        k = ((k ^ (k >> 24)) * M) & MASK
        h = ((h * M) & MASK) ^ k
    tail = data[whole:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * M) & MASK
    h = ((h ^ (h >> 13)) * M) & MASK
    return h ^ (h >> 15)
