"""Crowd level of service (LOS) bands and Still's crowd-safety bands, as data.

Densities are persons per m² of walkable area; flows are persons per metre of
walkway width per minute. Sources (see docs/risk-model.md):

* Fruin, J. J. (1971) *Pedestrian Planning and Design*: walkway LOS
  A ≤ 0.31, B ≤ 0.43, C ≤ 0.72, D ≤ 1.08, E ≤ 2.15, F > 2.15 persons/m²;
  queuing (standing) LOS A < 0.83, B < 1.1, C < 1.7, D < 3.3, E < 5, F ≥ 5.
  Walkway *flow* LOS in the same book: A ≤ 7, B ≤ 10, C ≤ 15, D ≤ 20, E ≤ 25
  persons per foot per minute (PFM), F above (unstable, stop-and-go); × 3.28 ft/m
  gives A ≤ 23, B ≤ 33, C ≤ 49, D ≤ 66, E ≤ 82 persons/m/min. The Highway
  Capacity Manual (TRB, 2000) later tightened walkway flow LOS to
  A ≤ 16, B ≤ 23, C ≤ 33, D ≤ 49, E ≤ 75 persons/m/min.
* G. Keith Still, *Introduction to Crowd Science* (2014): below 1/m² free flow,
  about 4/m² critical for a moving crowd, above 5/m² dangerous. He separates
  static (standing) from dynamic (moving) spaces: a standing crowd can be
  packed more densely; his static reference visuals (gkstill.com, "Static crowd
  density visuals") mark 5/m² "maximum" and 5.5/m² "high risk".

The static critical density defaults to 4.7/m²: the UK limit for standing
terraces in good condition set after Hillsborough (Taylor Report, 1990:
47, not 54, persons per 10 m²; carried into the Green Guide). It lies between
Still's moving figure and his static maximum, so a standing crowd is flagged
before it reaches his maximum — a conservative project choice.

All numbers are data: :class:`LosConfig` reads them from a settings/TOML table.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal, cast

LOS_LETTERS = ("A", "B", "C", "D", "E", "F")
DENSITY_UNIT = "persons/m²"
FLOW_UNIT = "persons/m/min"

Crowd = Literal["moving", "static"]
StillLevel = Literal["free", "busy", "critical", "dangerous"]
CROWDS: tuple[Crowd, ...] = ("moving", "static")


@dataclass(frozen=True, slots=True)
class LosBands:
    """Upper limits of LOS A–E in ``unit``; anything above the last is F.

    ``inclusive`` says whether a value equal to a limit still belongs to the
    lower level (Fruin's walkway tables use ≤, his queuing table uses <).
    """

    name: str
    limits: tuple[float, float, float, float, float]
    inclusive: bool
    unit: str = DENSITY_UNIT

    def __post_init__(self) -> None:
        if len(self.limits) != len(LOS_LETTERS) - 1:
            raise ValueError(f"{self.name}: exactly 5 LOS limits (A–E), got {len(self.limits)}")
        if not all(math.isfinite(x) for x in self.limits):
            raise ValueError(f"{self.name}: LOS limits must be finite: {self.limits}")
        if any(b <= a for a, b in pairwise(self.limits)):
            raise ValueError(f"{self.name}: LOS limits must increase strictly: {self.limits}")
        if self.limits[0] <= 0:
            raise ValueError(f"{self.name}: LOS limits must be positive")

    def classify(self, value: float) -> str:
        """LOS letter A–F for a value in ``unit`` (negative or NaN values are invalid)."""
        if not value >= 0:
            raise ValueError(f"{self.name}: value must be ≥ 0, got {value}")
        find = bisect_left if self.inclusive else bisect_right
        return LOS_LETTERS[find(self.limits, value)]


FRUIN_WALKWAY = LosBands("fruin-walkway", (0.31, 0.43, 0.72, 1.08, 2.15), inclusive=True)
FRUIN_QUEUING = LosBands("fruin-queuing", (0.83, 1.1, 1.7, 3.3, 5.0), inclusive=False)
#: Fruin walkway flow LOS, persons/m/min (7/10/15/20/25 PFM converted).
FRUIN_WALKWAY_FLOW = LosBands(
    "fruin-walkway-flow", (23.0, 33.0, 49.0, 66.0, 82.0), inclusive=True, unit=FLOW_UNIT
)
#: HCM 2000 walkway flow LOS, persons/m/min; stricter alternative to Fruin.
HCM2000_WALKWAY_FLOW = LosBands(
    "hcm2000-walkway-flow", (16.0, 23.0, 33.0, 49.0, 75.0), inclusive=True, unit=FLOW_UNIT
)

#: Still: free flow below this density, persons/m².
STILL_FREE_FLOW = 1.0
#: Still: critical density for a moving crowd, persons/m².
STILL_CRITICAL_MOVING = 4.0
#: Critical density for a static (standing) crowd, persons/m² (see module docstring).
STILL_CRITICAL_STATIC = 4.7
#: Still: dangerous density, persons/m².
STILL_DANGEROUS = 5.0


@dataclass(frozen=True, slots=True)
class StillBands:
    """Still's crowd-safety levels; all limits in persons/m².

    Boundaries: ``free`` below ``free_flow``; ``busy`` from ``free_flow`` up to
    (not including) the critical density of the crowd type; ``critical`` from
    there up to and including ``dangerous``; ``dangerous`` above ``dangerous``.
    """

    free_flow: float = STILL_FREE_FLOW
    critical_moving: float = STILL_CRITICAL_MOVING
    critical_static: float = STILL_CRITICAL_STATIC
    dangerous: float = STILL_DANGEROUS

    def __post_init__(self) -> None:
        values = (self.free_flow, self.critical_moving, self.critical_static, self.dangerous)
        if not all(math.isfinite(v) for v in values) or self.free_flow <= 0:
            raise ValueError(f"Still bands must be finite and positive: {values}")
        if not self.free_flow < self.critical_moving <= self.critical_static <= self.dangerous:
            raise ValueError(
                "Still bands need free_flow < critical_moving ≤ critical_static ≤ dangerous,"
                f" got {values}"
            )

    def critical(self, crowd: Crowd) -> float:
        """Critical density in persons/m² for a ``moving`` or ``static`` crowd."""
        if crowd == "moving":
            return self.critical_moving
        if crowd == "static":
            return self.critical_static
        raise ValueError(f"crowd must be one of {CROWDS}, got {crowd!r}")

    def classify(self, density: float, crowd: Crowd) -> StillLevel:
        """Level for a density in persons/m² (negative or NaN densities are invalid)."""
        critical = self.critical(crowd)
        if not density >= 0:
            raise ValueError(f"density must be ≥ 0, got {density}")
        if density < self.free_flow:
            return "free"
        if density < critical:
            return "busy"
        return "critical" if density <= self.dangerous else "dangerous"


STILL = StillBands()

_BAND_SECTIONS = ("walkway", "queuing", "flow")
_BAND_KEYS = ("name", "limits", "inclusive")
_STILL_KEYS = ("free_flow", "critical_moving", "critical_static", "dangerous")
_SECTIONS = (*_BAND_SECTIONS, "still")


@dataclass(frozen=True, slots=True)
class LosConfig:
    """All crowd bands: density LOS (walkway, queuing), flow LOS, and Still's levels."""

    walkway: LosBands = FRUIN_WALKWAY
    queuing: LosBands = FRUIN_QUEUING
    flow: LosBands = FRUIN_WALKWAY_FLOW
    still: StillBands = STILL

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: LosConfig | None = None) -> LosConfig:
        """Build from a settings/TOML table such as ``{"walkway": {"limits": [...]}}``.

        Sections ``walkway``, ``queuing``, ``flow`` take ``limits`` (exactly five
        strictly increasing positive numbers), ``inclusive`` (bool) and ``name``;
        ``still`` takes ``free_flow``, ``critical_moving``, ``critical_static``,
        ``dangerous``. Missing sections and keys keep the value of ``base``
        (default :data:`DEFAULT_LOS`). Unknown keys and bad values raise
        ``ValueError`` naming the key, e.g. ``walkway.limits``.
        """
        base = base if base is not None else DEFAULT_LOS
        _check_keys(data, _SECTIONS, "")
        bands = {s: _bands(data.get(s), getattr(base, s), s) for s in _BAND_SECTIONS}
        return cls(**bands, still=_still(data.get("still"), base.still))

    def to_mapping(self) -> dict[str, Any]:
        """The inverse of :meth:`from_mapping`: plain, JSON/TOML-able data."""
        out: dict[str, Any] = {}
        for section in _BAND_SECTIONS:
            band: LosBands = getattr(self, section)
            out[section] = {
                "name": band.name,
                "limits": list(band.limits),
                "inclusive": band.inclusive,
            }
        out["still"] = {key: getattr(self.still, key) for key in _STILL_KEYS}
        return out


DEFAULT_LOS = LosConfig()


def _check_keys(data: object, allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where or 'LOS config'}: expected a table, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        names = ", ".join(f"{where}.{k}" if where else k for k in unknown)
        raise ValueError(f"unknown key(s) {names}; allowed: {', '.join(allowed)}")


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: must be a finite positive number, got {value!r}")
    return float(value)


def _bands(data: object, base: LosBands, where: str) -> LosBands:
    if data is None:
        return base
    _check_keys(data, _BAND_KEYS, where)
    table = cast(Mapping[str, Any], data)
    limits = base.limits
    if "limits" in table:
        raw = table["limits"]
        if not isinstance(raw, list | tuple):
            raise ValueError(f"{where}.limits: expected a list of 5 numbers, got {raw!r}")
        if len(raw) != len(LOS_LETTERS) - 1:
            raise ValueError(f"{where}.limits: expected exactly 5 limits (A–E), got {len(raw)}")
        numbers = [_number(x, f"{where}.limits[{i}]") for i, x in enumerate(raw)]
        if any(b <= a for a, b in pairwise(numbers)):
            raise ValueError(f"{where}.limits: must increase strictly, got {numbers}")
        limits = (numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])
    inclusive = table.get("inclusive", base.inclusive)
    if not isinstance(inclusive, bool):
        raise ValueError(f"{where}.inclusive: expected true or false, got {inclusive!r}")
    changed = (limits, inclusive) != (base.limits, base.inclusive)
    name = table.get("name", f"{where}-configured" if changed else base.name)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name: expected a non-empty string, got {name!r}")
    return LosBands(name, limits, inclusive, unit=base.unit)


def _still(data: object, base: StillBands) -> StillBands:
    if data is None:
        return base
    _check_keys(data, _STILL_KEYS, "still")
    table = cast(Mapping[str, Any], data)
    values = {
        key: _number(table[key], f"still.{key}") if key in table else getattr(base, key)
        for key in _STILL_KEYS
    }
    try:
        return StillBands(**values)
    except ValueError as exc:
        raise ValueError(f"still: {exc}") from exc
