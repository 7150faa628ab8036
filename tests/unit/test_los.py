"""Fruin and Still bands as published (DESIGN.md / docs/risk-model.md), table-driven."""

import math
from typing import Any

import pytest

from alerts.crowd.los import (
    DEFAULT_LOS,
    FRUIN_QUEUING,
    FRUIN_WALKWAY,
    FRUIN_WALKWAY_FLOW,
    LOS_LETTERS,
    STILL,
    STILL_CRITICAL_MOVING,
    STILL_CRITICAL_STATIC,
    STILL_DANGEROUS,
    STILL_FREE_FLOW,
    Crowd,
    LosBands,
    LosConfig,
    StillBands,
)

# The numbers exactly as DESIGN.md writes them, persons/m².
DESIGN_WALKWAY = (0.31, 0.43, 0.72, 1.08, 2.15)  # A ≤ 0.31 … E ≤ 2.15, F > 2.15
DESIGN_QUEUING = (0.83, 1.1, 1.7, 3.3, 5.0)  # A < 0.83 … E < 5, F ≥ 5


def _below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def _above(x: float) -> float:
    return math.nextafter(x, math.inf)


def _inclusive_cases(limits: tuple[float, ...]) -> list[tuple[float, str]]:
    """At a limit: still the lower letter; the next float up: the higher one."""
    cases = [(0.0, "A")]
    for i, limit in enumerate(limits):
        lower, upper = LOS_LETTERS[i], LOS_LETTERS[i + 1]
        cases += [(_below(limit), lower), (limit, lower), (_above(limit), upper)]
    return [*cases, (limits[-1] * 3, "F")]


def _exclusive_cases(limits: tuple[float, ...]) -> list[tuple[float, str]]:
    """Just under a limit: the lower letter; at the limit: already the higher one."""
    cases = [(0.0, "A")]
    for i, limit in enumerate(limits):
        lower, upper = LOS_LETTERS[i], LOS_LETTERS[i + 1]
        cases += [(_below(limit), lower), (limit, upper), (_above(limit), upper)]
    return [*cases, (limits[-1] * 3, "F")]


@pytest.mark.parametrize(
    ("density", "los"),
    [
        (0.0, "A"), (0.31, "A"), (0.32, "B"), (0.43, "B"), (0.44, "C"), (0.72, "C"),
        (0.73, "D"), (1.08, "D"), (1.09, "E"), (2.15, "E"), (2.16, "F"), (6.0, "F"),
    ],
)  # fmt: skip
def test_fruin_walkway_bands_are_inclusive_upper_limits(density: float, los: str) -> None:
    assert FRUIN_WALKWAY.classify(density) == los


@pytest.mark.parametrize(
    ("density", "los"),
    [
        (0.0, "A"), (0.82, "A"), (0.83, "B"), (1.09, "B"), (1.1, "C"), (1.69, "C"),
        (1.7, "D"), (3.29, "D"), (3.3, "E"), (4.99, "E"), (5.0, "F"), (9.0, "F"),
    ],
)  # fmt: skip
def test_fruin_queuing_bands_are_exclusive_upper_limits(density: float, los: str) -> None:
    assert FRUIN_QUEUING.classify(density) == los


@pytest.mark.parametrize(("density", "los"), _inclusive_cases(DESIGN_WALKWAY))
def test_walkway_at_and_around_every_design_boundary(density: float, los: str) -> None:
    assert FRUIN_WALKWAY.classify(density) == los


@pytest.mark.parametrize(("density", "los"), _exclusive_cases(DESIGN_QUEUING))
def test_queuing_at_and_around_every_design_boundary(density: float, los: str) -> None:
    assert FRUIN_QUEUING.classify(density) == los


def test_default_config_is_the_design_numbers() -> None:
    assert DEFAULT_LOS.walkway.limits == DESIGN_WALKWAY and DEFAULT_LOS.walkway.inclusive
    assert DEFAULT_LOS.queuing.limits == DESIGN_QUEUING and not DEFAULT_LOS.queuing.inclusive
    assert DEFAULT_LOS.flow == FRUIN_WALKWAY_FLOW
    assert (STILL_FREE_FLOW, STILL_CRITICAL_MOVING, STILL_DANGEROUS) == (1.0, 4.0, 5.0)
    assert DEFAULT_LOS.still == STILL == StillBands(1.0, 4.0, STILL_CRITICAL_STATIC, 5.0)
    assert STILL_CRITICAL_MOVING < STILL_CRITICAL_STATIC <= STILL_DANGEROUS


def test_bands_must_increase() -> None:
    with pytest.raises(ValueError, match="increase"):
        LosBands("bad", (0.3, 0.2, 0.7, 1.0, 2.0), inclusive=True)


def test_negative_density_is_refused() -> None:
    with pytest.raises(ValueError):
        FRUIN_WALKWAY.classify(-0.1)


def test_nan_density_is_refused() -> None:
    with pytest.raises(ValueError):
        FRUIN_WALKWAY.classify(math.nan)
    with pytest.raises(ValueError):
        STILL.classify(math.nan, "moving")


# Still: free < 1 ≤ busy < critical ≤ critical ≤ 5 < dangerous.
@pytest.mark.parametrize(
    ("density", "crowd", "level"),
    [
        (0.0, "moving", "free"), (_below(1.0), "moving", "free"), (1.0, "moving", "busy"),
        (_below(4.0), "moving", "busy"), (4.0, "moving", "critical"),
        (4.5, "moving", "critical"), (5.0, "moving", "critical"),
        (_above(5.0), "moving", "dangerous"), (9.0, "moving", "dangerous"),
        (0.0, "static", "free"), (_below(1.0), "static", "free"), (1.0, "static", "busy"),
        (4.0, "static", "busy"), (_below(4.7), "static", "busy"),
        (4.7, "static", "critical"), (5.0, "static", "critical"),
        (_above(5.0), "static", "dangerous"),
    ],
)  # fmt: skip
def test_still_levels_at_and_around_boundaries(density: float, crowd: Crowd, level: str) -> None:
    assert STILL.classify(density, crowd) == level


def test_still_refuses_unknown_crowd_and_bad_order() -> None:
    with pytest.raises(ValueError, match="crowd"):
        STILL.classify(2.0, "running")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="critical_moving"):
        StillBands(free_flow=1.0, critical_moving=4.8, critical_static=4.7)
    with pytest.raises(ValueError, match="positive"):
        StillBands(free_flow=0.0)


def test_mapping_round_trip_and_partial_override() -> None:
    assert LosConfig.from_mapping(DEFAULT_LOS.to_mapping()) == DEFAULT_LOS
    assert LosConfig.from_mapping({}) == DEFAULT_LOS
    cfg = LosConfig.from_mapping(
        {"flow": {"limits": [16, 23, 33, 49, 75]}, "still": {"critical_static": 5}}
    )
    assert cfg.flow.limits == (16.0, 23.0, 33.0, 49.0, 75.0)
    assert cfg.flow.name == "flow-configured" and cfg.flow.unit == FRUIN_WALKWAY_FLOW.unit
    assert cfg.still.critical_static == 5.0 and cfg.still.critical_moving == 4.0
    assert cfg.walkway == FRUIN_WALKWAY
    assert LosConfig.from_mapping(cfg.to_mapping()) == cfg


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"walkwya": {}}, r"unknown key\(s\) walkwya"),
        ({"walkway": {"limit": [1, 2, 3, 4, 5]}}, r"walkway\.limit;"),
        ({"walkway": {"limits": [1, 2, 3, 4]}}, r"walkway\.limits: expected exactly 5"),
        ({"walkway": {"limits": [1, 2, 3, 4, 5, 6]}}, r"walkway\.limits: expected exactly 5"),
        ({"queuing": {"limits": [1, 2, 2, 4, 5]}}, r"queuing\.limits: must increase strictly"),
        ({"queuing": {"limits": [0, 2, 3, 4, 5]}}, r"queuing\.limits\[0\]: must be a finite pos"),
        ({"queuing": {"limits": [-1, 2, 3, 4, 5]}}, r"queuing\.limits\[0\]"),
        ({"flow": {"limits": [1, 2, "3", 4, 5]}}, r"flow\.limits\[2\]: expected a number"),
        ({"flow": {"limits": [1, 2, True, 4, 5]}}, r"flow\.limits\[2\]: expected a number"),
        ({"flow": {"limits": [1, 2, 3, 4, math.inf]}}, r"flow\.limits\[4\]"),
        ({"flow": {"limits": "1,2,3,4,5"}}, r"flow\.limits: expected a list"),
        ({"walkway": {"inclusive": "yes"}}, r"walkway\.inclusive: expected true or false"),
        ({"walkway": {"name": ""}}, r"walkway\.name"),
        ({"walkway": [0.3]}, r"walkway: expected a table"),
        ({"still": {"critical": 4}}, r"unknown key\(s\) still\.critical"),
        ({"still": {"dangerous": "5"}}, r"still\.dangerous: expected a number"),
        ({"still": {"critical_moving": 6}}, r"still: .*critical_moving"),
    ],
)
def test_from_mapping_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LosConfig.from_mapping(data)


def test_configured_bands_classify_with_their_own_limits() -> None:
    cfg = LosConfig.from_mapping(
        {"walkway": {"name": "local", "limits": [0.2, 0.4, 0.6, 0.8, 1.0], "inclusive": False}}
    )
    assert cfg.walkway.name == "local"
    assert [cfg.walkway.classify(x) for x in (0.19, 0.2, 1.0)] == ["A", "B", "F"]
