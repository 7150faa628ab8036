"""Roll fine H3 cells up to coarser resolutions for zoomed-out views (pure).

Consistency with the fine cells, by construction:

* ``people`` and ``walkable_m2`` are sums over the children, so people counts
  are conserved at every resolution;
* ``density`` is ``Σ people / Σ walkable_m2`` over the children that have a
  crowd estimate (the walkable-area-weighted mean of their densities), so a
  coarse cell never reports a density that no mix of its children gives;
* ``risk`` is the highest child risk, so a hot spot stays visible when zoomed out;
* ticket and alarm counts are sums.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import h3


@dataclass(frozen=True, slots=True)
class CellFigures:
    """What a roll-up needs of one fine cell."""

    cell: str
    people: float | None  # persons on the cell's walkable area; None without a live camera
    walkable_m2: float | None  # m² the people estimate refers to
    risk: float  # [0, 1]
    tickets: int = 0
    alarms: int = 0


@dataclass(frozen=True, slots=True)
class Rollup:
    cell: str  # the coarse cell
    resolution: int
    people: float  # persons, Σ over measured children
    walkable_m2: float  # m², Σ over measured children
    density: float | None  # persons/m²; None when no child has a crowd estimate
    risk: float  # max over children
    tickets: int
    alarms: int
    children: int  # fine cells with data under this cell


def rollup(cells: Iterable[CellFigures], resolution: int) -> dict[str, Rollup]:
    """Aggregate ``cells`` (all of one finer resolution) to ``resolution``."""
    acc: dict[str, list[CellFigures]] = {}
    for c in cells:
        res = h3.get_resolution(c.cell)
        if resolution > res:
            raise ValueError(f"cannot roll cell {c.cell} (res {res}) up to finer res {resolution}")
        acc.setdefault(h3.cell_to_parent(c.cell, resolution), []).append(c)
    out = {}
    for parent, children in acc.items():
        measured = [c for c in children if c.people is not None and c.walkable_m2]
        people = sum(c.people or 0.0 for c in measured)
        area = sum(c.walkable_m2 or 0.0 for c in measured)
        out[parent] = Rollup(
            cell=parent,
            resolution=resolution,
            people=people,
            walkable_m2=area,
            density=people / area if area > 0 else None,
            risk=max(c.risk for c in children),
            tickets=sum(c.tickets for c in children),
            alarms=sum(c.alarms for c in children),
            children=len(children),
        )
    return out
