import math

from hypothesis import given
from hypothesis import strategies as st

from alerts.scoring import RiskInputs, density_component, hotline_component, risk_score

densities = st.floats(min_value=0, max_value=20, allow_nan=False)
counts = st.integers(min_value=0, max_value=500)


@given(densities, densities, counts, counts)
def test_risk_never_decreases_when_density_rises(a: float, b: float, alarms: int, n: int) -> None:
    lo, hi = sorted((a, b))
    assert risk_score(RiskInputs(lo, alarms, n)) <= risk_score(RiskInputs(hi, alarms, n))


@given(densities, counts, counts, counts)
def test_risk_never_decreases_with_more_tickets(d: float, alarms: int, n: int, extra: int) -> None:
    assert risk_score(RiskInputs(d, alarms, n)) <= risk_score(RiskInputs(d, alarms, n + extra))


@given(st.one_of(st.none(), densities), counts, counts)
def test_risk_is_in_unit_interval(d: float | None, alarms: int, n: int) -> None:
    assert 0.0 <= risk_score(RiskInputs(d, alarms, n)) <= 1.0


def test_density_anchors() -> None:
    assert density_component(None) == 0.0
    assert density_component(0.0) == 0.0
    assert math.isclose(density_component(2.15), 0.6)
    assert math.isclose(density_component(4.0), 0.85)
    assert density_component(5.0) == 1.0
    assert density_component(50.0) == 1.0
    # halfway between the LOS E/F limit and Still's critical density
    assert math.isclose(density_component((2.15 + 4.0) / 2), (0.6 + 0.85) / 2)


def test_sensor_alarm_alone_and_hotline_saturation() -> None:
    assert risk_score(RiskInputs(None, 1, 0)) == 0.7
    assert hotline_component(0) == 0.0
    assert hotline_component(1000) < 0.8 + 1e-9
