"""Crowd level of service (LOS) bands, as data.

Densities are persons per m² of walkable area. Sources (see docs/risk-model.md):

* Fruin, J. J. (1971) *Pedestrian Planning and Design*: walkway LOS
  A ≤ 0.31, B ≤ 0.43, C ≤ 0.72, D ≤ 1.08, E ≤ 2.15, F > 2.15 persons/m²;
  queuing (standing) LOS A < 0.83, B < 1.1, C < 1.7, D < 3.3, E < 5, F ≥ 5.
* G. Keith Still, *Introduction to Crowd Science* (2014): below 1/m² free flow,
  about 4/m² critical for a moving crowd, above 5/m² dangerous.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

LOS_LETTERS = ("A", "B", "C", "D", "E", "F")


@dataclass(frozen=True, slots=True)
class LosBands:
    """Upper limits of LOS A–E in persons/m²; anything above the last is F.

    ``inclusive`` says whether a density equal to a limit still belongs to the
    lower level (Fruin's walkway table uses ≤, his queuing table uses <).
    """

    name: str
    limits: tuple[float, float, float, float, float]
    inclusive: bool

    def __post_init__(self) -> None:
        if any(b <= a for a, b in zip(self.limits, self.limits[1:], strict=False)):
            raise ValueError(f"{self.name}: LOS limits must increase strictly: {self.limits}")
        if self.limits[0] <= 0:
            raise ValueError(f"{self.name}: LOS limits must be positive")

    def classify(self, density: float) -> str:
        """LOS letter A–F for a density in persons/m² (negative densities are invalid)."""
        if density < 0:
            raise ValueError(f"density must be ≥ 0, got {density}")
        find = bisect_left if self.inclusive else bisect_right
        return LOS_LETTERS[find(self.limits, density)]


FRUIN_WALKWAY = LosBands("fruin-walkway", (0.31, 0.43, 0.72, 1.08, 2.15), inclusive=True)
FRUIN_QUEUING = LosBands("fruin-queuing", (0.83, 1.1, 1.7, 3.3, 5.0), inclusive=False)

#: Still: free flow below this density, persons/m².
STILL_FREE_FLOW = 1.0
#: Still: critical density for a moving crowd, persons/m².
STILL_CRITICAL_MOVING = 4.0
#: Still: dangerous density, persons/m².
STILL_DANGEROUS = 5.0
