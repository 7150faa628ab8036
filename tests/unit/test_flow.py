"""Walkway flow rate (persons/m/min) and Fruin's flow level of service, table-driven."""

import math

import pytest

from alerts.crowd.flow import FRUIN_WALKWAY_FLOW, HCM2000_WALKWAY_FLOW, flow_los, flow_rate_per_m
from alerts.crowd.los import FRUIN_WALKWAY

# Fruin 1971 in persons/ft/min (PFM), and the persons/m/min figures used here.
FRUIN_PFM = (7, 10, 15, 20, 25)
FRUIN_PER_M = (23.0, 33.0, 49.0, 66.0, 82.0)


def test_fruin_flow_limits_are_the_pfm_table_in_metres() -> None:
    assert FRUIN_WALKWAY_FLOW.limits == FRUIN_PER_M
    assert FRUIN_WALKWAY_FLOW.inclusive and FRUIN_WALKWAY_FLOW.unit == "persons/m/min"
    for pfm, per_m in zip(FRUIN_PFM, FRUIN_PER_M, strict=True):
        assert round(pfm / 0.3048) == per_m


@pytest.mark.parametrize(
    ("rate", "los"),
    [
        (0.0, "A"), (23.0, "A"), (23.01, "B"), (33.0, "B"), (33.01, "C"), (49.0, "C"),
        (49.01, "D"), (66.0, "D"), (66.01, "E"), (82.0, "E"), (82.01, "F"), (200.0, "F"),
    ],
)  # fmt: skip
def test_fruin_flow_bands_are_inclusive(rate: float, los: str) -> None:
    assert FRUIN_WALKWAY_FLOW.classify(rate) == los


@pytest.mark.parametrize(
    ("rate", "los"),
    [(16.0, "A"), (16.5, "B"), (23.0, "B"), (33.0, "C"), (49.0, "D"), (75.0, "E"), (76.0, "F")],
)
def test_hcm2000_alternative(rate: float, los: str) -> None:
    assert HCM2000_WALKWAY_FLOW.classify(rate) == los


@pytest.mark.parametrize(
    ("flow_in", "flow_out", "width_m", "rate"),
    [
        (30.0, 10.0, 2.0, 20.0),
        (30.0, None, 3.0, 10.0),
        (None, 12.0, 4.0, 3.0),
        (0.0, 0.0, 5.0, 0.0),
        (None, None, 2.0, None),
        (30.0, 10.0, None, None),
        (None, None, None, None),
    ],
)
def test_flow_rate_per_m(
    flow_in: float | None, flow_out: float | None, width_m: float | None, rate: float | None
) -> None:
    assert flow_rate_per_m(flow_in, flow_out, width_m) == rate


@pytest.mark.parametrize(
    ("flow_in", "flow_out", "width_m", "message"),
    [
        (-1.0, 0.0, 2.0, "flow_in"),
        (0.0, -0.5, 2.0, "flow_out"),
        (math.nan, 0.0, 2.0, "flow_in"),
        (math.inf, 0.0, 2.0, "flow_in"),
        (1.0, 1.0, 0.0, "width_m"),
        (1.0, 1.0, -2.0, "width_m"),
        (1.0, 1.0, math.nan, "width_m"),
        (-1.0, None, None, "flow_in"),  # bad input is reported even without a width
    ],
)
def test_flow_rate_rejects_bad_input(
    flow_in: float | None, flow_out: float | None, width_m: float | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        flow_rate_per_m(flow_in, flow_out, width_m)


def test_flow_los() -> None:
    assert flow_los(60.0, 40.0, 2.0) == "D"  # 50 persons/m/min
    assert flow_los(60.0, 40.0, None) is None
    assert flow_los(60.0, 40.0, 2.0, HCM2000_WALKWAY_FLOW) == "E"
    with pytest.raises(ValueError, match="persons/m²"):
        flow_los(1.0, 1.0, 1.0, FRUIN_WALKWAY)
