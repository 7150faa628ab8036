"""Placement: which partition holds a cell, and which partitions see its tickets."""

from __future__ import annotations

import h3
from aiokafka.partitioner import murmur2 as kafkas
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cells import cell_of, parent
from streams.pipeline.murmur2 import murmur2
from streams.pipeline.placement import Placement, partition_of, zone_homes

CENTRE = cell_of(23.02, 113.10, 9)
NEARBY = sorted(h3.grid_disk(CENTRE, 60))


def test_partition_of_is_kafkas_default_partitioner() -> None:
    # murmur2 vectors of the Java client's own tests (signed there): positive part mod n,
    # so records land where the Java client and the worker's keyed sends put them
    vectors = {"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536}
    for key, java_hash in vectors.items():
        assert partition_of(key, 7) == (java_hash & 0x7FFFFFFF) % 7


def test_cells_are_keyed_by_their_coarse_parent_outside_zones() -> None:
    placement = Placement(partitions=4, partition_resolution=6, halo_k=2)
    assert placement.key(CENTRE) == parent(CENTRE, 6)
    assert placement.partition(CENTRE) == partition_of(parent(CENTRE, 6), 4)


def test_zones_sharing_cells_take_one_key_wherever_their_cells_are() -> None:
    a, b = next((x, y) for x in NEARBY for y in h3.grid_ring(x, 1) if parent(x, 6) != parent(y, 6))
    far = h3.grid_disk(CENTRE, 1)
    homes = zone_homes({"bridge": [a], "square": [a, b], "mall": list(far)}, 6)
    assert homes[a] == homes[b] == parent(min(a, b), 6)  # one group across the boundary
    assert {homes[c] for c in far} == {parent(min(far), 6)}
    placement = Placement(partitions=4, partition_resolution=6, halo_k=2, homes=homes)
    assert placement.key(a) == placement.key(b)


@settings(max_examples=200, deadline=None)
@given(cell=st.sampled_from(NEARBY), partitions=st.integers(1, 16), k=st.integers(1, 3))
def test_every_partition_within_the_halo_gets_exactly_one_copy(
    cell: str, partitions: int, k: int
) -> None:
    placement = Placement(partitions=partitions, partition_resolution=6, halo_k=k)
    keys = placement.halo_keys(cell)
    reached = [partition_of(key, partitions) for key in keys]
    own = placement.partition(cell)
    needed = {placement.partition(c) for c in h3.grid_disk(cell, k)} - {own}
    assert sorted(reached) == sorted(needed)  # each other partition once, never its own


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_the_key_hash_is_kafkas_own(key: bytes) -> None:
    assert murmur2(key) == kafkas(key) & 0xFFFFFFFF
