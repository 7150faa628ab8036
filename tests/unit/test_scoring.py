"""The risk score: monotone in every input, in [0, 1], explained by its factors."""

import math

from hypothesis import given
from hypothesis import strategies as st

from alerts.crowd.risk import (
    SENSOR_ALARM_WEIGHT,
    SENSOR_CRITICAL_WEIGHT,
    RiskInputs,
    density_component,
    hotline_component,
    rise_component,
    risk,
    risk_score,
)

densities = st.floats(min_value=0, max_value=20, allow_nan=False)
maybe_density = st.one_of(st.none(), densities)
counts = st.integers(min_value=0, max_value=500)
trends = st.one_of(st.none(), st.floats(min_value=-10, max_value=10))
zs = st.one_of(st.none(), st.floats(min_value=-10, max_value=50))
inputs = st.builds(
    RiskInputs,
    density=maybe_density,
    sensor_alarms=counts,
    tickets=counts,
    trend=trends,
    anomaly_z=zs,
    critical_alarms=counts,
)


@given(inputs, densities, densities)
def test_risk_never_decreases_when_density_rises(base: RiskInputs, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    low = RiskInputs(lo, base.sensor_alarms, base.tickets, base.trend, base.anomaly_z)
    high = RiskInputs(hi, base.sensor_alarms, base.tickets, base.trend, base.anomaly_z)
    assert risk_score(low) <= risk_score(high)


@given(inputs, counts)
def test_risk_never_decreases_with_more_tickets(base: RiskInputs, extra: int) -> None:
    more = RiskInputs(base.density, base.sensor_alarms, base.tickets + extra, base.trend)
    less = RiskInputs(base.density, base.sensor_alarms, base.tickets, base.trend)
    assert risk_score(less) <= risk_score(more)


@given(inputs, st.floats(min_value=-10, max_value=10), st.floats(min_value=-10, max_value=10))
def test_risk_never_decreases_when_the_rise_steepens(base: RiskInputs, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    f = lambda t: RiskInputs(base.density, base.sensor_alarms, base.tickets, t, base.anomaly_z)  # noqa: E731
    assert risk_score(f(lo)) <= risk_score(f(hi))


@given(inputs, st.floats(min_value=-10, max_value=50), st.floats(min_value=-10, max_value=50))
def test_risk_never_decreases_with_a_bigger_anomaly(base: RiskInputs, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    f = lambda z: RiskInputs(base.density, base.sensor_alarms, base.tickets, base.trend, z)  # noqa: E731
    assert risk_score(f(lo)) <= risk_score(f(hi))


@given(inputs)
def test_risk_is_in_unit_interval_and_explained_by_its_factors(i: RiskInputs) -> None:
    r = risk(i)
    assert 0.0 <= r.score <= 1.0
    assert set(r.factors) == {"density", "rise", "anomaly", "sensor", "hotline"}
    assert all(0.0 <= f <= 1.0 for f in r.factors.values())
    recombined = 1 - math.prod(1 - f for f in r.factors.values())
    assert abs(recombined - r.score) < 0.01  # factors are rounded to 3 decimals


def test_density_anchors() -> None:
    assert density_component(None) == 0.0
    assert density_component(0.0) == 0.0
    assert math.isclose(density_component(2.15), 0.6)
    assert math.isclose(density_component(4.0), 0.85)
    assert density_component(5.0) == 1.0
    assert density_component(50.0) == 1.0
    # halfway between the LOS E/F limit and Still's critical density
    assert math.isclose(density_component((2.15 + 4.0) / 2), (0.6 + 0.85) / 2)


def test_sensor_alarms_rises_and_hotline_saturation() -> None:
    assert risk_score(RiskInputs(None, sensor_alarms=1)) == SENSOR_ALARM_WEIGHT
    assert risk_score(RiskInputs(None, 1, critical_alarms=1)) == SENSOR_CRITICAL_WEIGHT
    assert rise_component(-3.0) == 0.0 and rise_component(None) == 0.0
    assert 0.3 < rise_component(1.0) < 0.5
    assert hotline_component(0) == 0.0
    assert hotline_component(1000) < 0.8 + 1e-9
