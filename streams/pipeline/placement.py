"""Where each fine cell's state lives, and which partitions must see its hotline tickets
(pure).

A fine H3 cell is *placed* by its Kafka key on ``cells.ingest``: the coarse parent
cell at ``partition_resolution``, except that every cell of a zone (and of zones that
share cells with it) takes one key, the parent of the group's smallest cell, so zone
figures, zone rules and zone dedupe keys never straddle two partitions. The partition
is the one Kafka's default partitioner (murmur2) gives the key, as for every keyed
record the worker sends.

Hotline clusters look ``cluster_k`` grid steps around their anchor, which may cross
into a cell placed on another partition. So a ticket is also sent, as a *halo* copy, to
every other key placed within ``cluster_k`` steps of its cell; the partitions there
count it in their own clusters but never start a cluster for it, and never show it in
their cells (docs/deploy.md, "How the work is shared").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import h3

from geo.cells import parent
from streams.pipeline.murmur2 import murmur2


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (as the worker's records get)."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def zone_homes(
    cells_of_zone: Mapping[str, Iterable[str]], partition_resolution: int
) -> dict[str, str]:
    """Fine cell → key for every cell of a zone: zones that share a cell are one group,
    and a group's key is the coarse parent of its smallest cell (deterministic)."""
    owner: dict[str, str] = {}  # union-find over zone ids

    def find(z: str) -> str:
        while owner.setdefault(z, z) != z:
            owner[z] = owner[owner[z]]
            z = owner[z]
        return z

    zone_of_cell: dict[str, str] = {}
    for zone, cells in sorted(cells_of_zone.items()):
        find(zone)
        for cell in cells:
            other = zone_of_cell.setdefault(cell, zone)
            a, b = find(other), find(zone)
            if a != b:
                owner[max(a, b)] = min(a, b)
    smallest: dict[str, str] = {}
    for cell, zone in zone_of_cell.items():
        root = find(zone)
        if root not in smallest or cell < smallest[root]:
            smallest[root] = cell
    return {
        cell: parent(smallest[find(zone)], partition_resolution)
        for cell, zone in zone_of_cell.items()
    }


@dataclass(frozen=True, slots=True)
class Placement:
    """The placement rule of one deployment: ``partitions`` of ``cells.ingest``, keys at
    ``partition_resolution``, zone groups kept together (``homes``: fine cell → key, from
    :func:`zone_homes`), and the halo width ``halo_k`` (the hotline cluster radius)."""

    partitions: int
    partition_resolution: int
    halo_k: int
    homes: Mapping[str, str] = field(default_factory=dict)

    def key(self, cell: str) -> str:
        """The ``cells.ingest`` key of a fine cell."""
        return self.homes.get(cell) or _parent(cell, self.partition_resolution)

    def partition(self, cell: str) -> int:
        """The partition that holds the fine cell's state."""
        return partition_of(self.key(cell), self.partitions)

    def halo_keys(self, cell: str, k: int | None = None) -> tuple[str, ...]:
        """One key for each other partition holding a cell within ``k`` (by default
        ``halo_k``) steps of ``cell`` (the smallest such key), sorted. The cell's own
        partition is left out: it sees the cell anyway."""
        own_partition = self.partition(cell)
        by_partition: dict[int, str] = {}
        for near in h3.grid_disk(cell, self.halo_k if k is None else k):
            key = self.key(near)
            p = partition_of(key, self.partitions)
            if p != own_partition and (p not in by_partition or key < by_partition[p]):
                by_partition[p] = key
        return tuple(sorted(by_partition.values()))


@lru_cache(maxsize=262_144)
def _parent(cell: str, res: int) -> str:
    return parent(cell, res)
