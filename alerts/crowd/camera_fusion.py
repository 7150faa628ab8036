"""Camera fusion: one crowd estimate per cell from several overlapping cameras (pure).

Each camera reports ``people`` seen on ``area_m2`` of ground. Cameras in one
cell may look at the same ground from different angles, and we do not know
their view polygons, so people counts must never simply be added up.

Method (documented in docs/risk-model.md, "Camera fusion"):

1. **Stale cameras are excluded, not dropped silently.** A camera whose latest
   reading is older than ``stale_ms`` at the partition's event time takes no
   part in the estimate; it is listed in :attr:`CrowdEstimate.stale`.
2. **Camera areas are taken as stated.** ``area_m2`` is by contract the
   walkable ground the count covers. Zone layers are often incomplete (a mapped
   street crossing a cell whose square is not mapped), so the layer never
   shrinks a camera's area; a camera that claims more ground than the cell's
   mapped walkable area is listed in :attr:`CrowdEstimate.exceeds_layer` for
   the engineer to fix the layer or the camera's configuration.
3. **Density = ratio estimator** ``D = Σ peopleᵢ / Σ areaᵢ`` (persons/m²), the
   area-weighted mean of the camera densities. Where two views overlap, the
   overlap is counted in numerator *and* denominator, so overlap does not bias
   ``D`` as long as the overlap is about as dense as the rest of the views.
4. **Coverage without double counting.** The union of the views is estimated
   with the Boolean coverage model (views placed independently in the
   reference area ``R``): ``U = R·(1 − Πᵢ(1 − aᵢ/R))`` with ``aᵢ = min(areaᵢ, R)``,
   where ``R`` is the cell's walkable area ``W`` from the layers (at least the
   largest view) and the cell's whole area without a layer. Two cameras that
   each see all of a 317 m² plaza give ``U = 317 m²``, not 634.
5. **People.** ``people_seen = D·U`` (persons in the covered ground) and
   ``people = D·max(W, U)`` when ``W`` is known (the estimate for the cell's
   whole walkable area, assuming the views are representative of it), else
   ``people = people_seen``. Roll-ups and "draw a circle" sum ``people``.

Assumptions: the cameras' counts are unbiased for their stated ground area;
views are representative of the cell's walkable area; overlap is random, not
systematic. ``density_max`` (the busiest single camera) is reported alongside,
because a crush seen by one camera must not be averaged away in the evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import prod
from typing import Protocol


class CameraView(Protocol):
    """What fusion needs of a camera observation (``streams.pipeline.cellfold.CameraObs``)."""

    @property
    def camera(self) -> str: ...
    @property
    def ts(self) -> int: ...  # epoch ms
    @property
    def people(self) -> int: ...
    @property
    def area_m2(self) -> float: ...
    @property
    def flow_in(self) -> float | None: ...  # persons/min
    @property
    def flow_out(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class CrowdEstimate:
    """Fused crowd figures of one cell (live cameras only)."""

    density: float  # persons/m² of walkable area, ratio estimator
    density_max: float  # persons/m², busiest live camera
    people: float  # persons on the cell's walkable area (estimate)
    people_seen: float  # persons on the ground the live cameras cover
    covered_m2: float  # union of the live views, m² (Boolean model)
    walkable_m2: float  # max(W, covered_m2) with a layer, else covered_m2
    walkable_from_layer: bool
    exceeds_layer: tuple[str, ...]  # cameras claiming more ground than the layer's W
    live: tuple[str, ...]  # camera ids used, sorted
    stale: tuple[str, ...]  # camera ids excluded as stale, sorted
    flow: float | None  # persons/min across the busiest counting line (in + out)


def is_stale(ts_ms: int, now_ms: int, stale_ms: int) -> bool:
    """A reading is stale when older than ``stale_ms`` at event time ``now_ms``."""
    return now_ms - ts_ms > stale_ms


def stale_cameras(cameras: Iterable[CameraView], now_ms: int, stale_ms: int) -> tuple[str, ...]:
    """Ids of the cameras that are stale at ``now_ms``, sorted."""
    return tuple(sorted(c.camera for c in cameras if is_stale(c.ts, now_ms, stale_ms)))


def fuse(
    cameras: Iterable[CameraView],
    *,
    now_ms: int,
    stale_ms: int,
    walkable_m2: float | None,
    cell_area_m2: float,
) -> CrowdEstimate | None:
    """Fuse the cell's cameras; ``None`` when no live camera is left.

    ``walkable_m2`` is the layer's walkable area of the cell (None without a
    layer), ``cell_area_m2`` the cell's whole area (m², reference area for the
    coverage model when there is no layer).
    """
    if walkable_m2 is not None and walkable_m2 <= 0:
        walkable_m2 = None  # a layer that says "nothing walkable" cannot hold a counted crowd
    cams = sorted(cameras, key=lambda c: c.camera)
    live = [c for c in cams if not is_stale(c.ts, now_ms, stale_ms)]
    stale = stale_cameras(cams, now_ms, stale_ms)
    if not live:
        return None
    biggest = max(c.area_m2 for c in live)
    reference = max(walkable_m2, biggest) if walkable_m2 is not None else cell_area_m2
    people = sum(c.people for c in live)
    density = people / sum(c.area_m2 for c in live)
    density_max = max(c.people / c.area_m2 for c in live)
    areas = [min(c.area_m2, reference) for c in live]
    covered = reference * (1.0 - prod(1.0 - a / reference for a in areas))
    covered = max(covered, max(areas))  # guard rounding: the union is at least the biggest view
    seen = density * covered
    walkable = max(walkable_m2, covered) if walkable_m2 is not None else covered
    flows = [
        (c.flow_in or 0.0) + (c.flow_out or 0.0)
        for c in live
        if c.flow_in is not None or c.flow_out is not None
    ]
    return CrowdEstimate(
        density=density,
        density_max=density_max,
        people=density * walkable,
        people_seen=seen,
        covered_m2=covered,
        walkable_m2=walkable,
        walkable_from_layer=walkable_m2 is not None,
        exceeds_layer=tuple(
            c.camera for c in live if walkable_m2 is not None and c.area_m2 > walkable_m2
        ),
        live=tuple(c.camera for c in live),
        stale=stale,
        flow=max(flows) if flows else None,
    )
