"""Fruin and Still bands as published (DESIGN.md / docs/risk-model.md), table-driven."""

import pytest

from alerts.los import FRUIN_QUEUING, FRUIN_WALKWAY, LosBands


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


def test_bands_must_increase() -> None:
    with pytest.raises(ValueError, match="increase"):
        LosBands("bad", (0.3, 0.2, 0.7, 1.0, 2.0), inclusive=True)


def test_negative_density_is_refused() -> None:
    with pytest.raises(ValueError):
        FRUIN_WALKWAY.classify(-0.1)
