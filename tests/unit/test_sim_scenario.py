"""feeds.sim.scenario: the Tongji Bridge incident script and the daily rhythm."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from feeds.sim.places import TONGJI_BRIDGE, TONGJI_CAR_PARK
from feeds.sim.scenario import CrowdCurve, Incident, build_incident, daily_profile, timeline

_GEOD = Geod(ellps="WGS84")
CST = timezone(timedelta(hours=8))


def metres(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    return float(_GEOD.inv(a_lon, a_lat, b_lon, b_lat)[2])


@pytest.fixture(scope="module")
def incident() -> Incident:
    return build_incident(42, TONGJI_BRIDGE, TONGJI_CAR_PARK)


def test_crowd_curve_shape() -> None:
    curve = CrowdCurve()
    assert 0.3 <= curve.density_at(-100.0) <= 0.5
    assert 0.3 <= curve.density_at(0.0) <= 0.5
    assert curve.density_at(90.0) > 4.5
    over = [t for t in range(0, 600) if curve.density_at(float(t)) > 4.5]
    assert 100 <= len(over) <= 180  # holds about two minutes near the peak
    assert over[0] <= 100  # reached within ~90 s
    assert curve.density_at(curve.end_s + 1.0) < 1.0
    assert curve.density_at(400.0) < 1.0


@given(a=st.floats(min_value=0.0, max_value=90.0), b=st.floats(min_value=0.0, max_value=90.0))
def test_crowd_rises_monotonically(a: float, b: float) -> None:
    curve = CrowdCurve()
    lo, hi = sorted((a, b))
    assert curve.density_at(lo) <= curve.density_at(hi)


@given(t=st.floats(min_value=-1e4, max_value=1e4))
def test_crowd_bounded(t: float) -> None:
    curve = CrowdCurve()
    assert curve.base <= curve.density_at(t) <= curve.peak


def test_incident_is_reproducible(incident: Incident) -> None:
    assert build_incident(42, TONGJI_BRIDGE, TONGJI_CAR_PARK) == incident
    assert build_incident(43, TONGJI_BRIDGE, TONGJI_CAR_PARK) != incident


@pytest.mark.parametrize("seed", [0, 1, 42, 2024, 99_999])
def test_tickets(seed: int) -> None:
    inc = build_incident(seed, TONGJI_BRIDGE, TONGJI_CAR_PARK)
    hotline = [t for t in inc.tickets if t.channel == "12345"]
    police = [t for t in inc.tickets if t.channel == "110"]
    assert 12 <= len(hotline) <= 15
    assert len(police) == 2
    offsets = [t.offset_s for t in inc.tickets]
    assert offsets == sorted(offsets)
    assert 55.0 <= offsets[0] <= 70.0  # about a minute into the surge
    assert hotline[-1].offset_s - hotline[0].offset_s <= 180.0
    for t in inc.tickets:
        assert t.category == "traffic"
        assert metres(t.lat, t.lon, TONGJI_CAR_PARK.lat, TONGJI_CAR_PARK.lon) <= 100.0
        assert "停车场" in t.text
        assert re.fullmatch(r"1[3-9]\d{9}", t.caller)
    assert len({t.caller for t in inc.tickets}) == len(inc.tickets)
    assert len({t.text for t in inc.tickets}) == len(inc.tickets)
    elderly = [t for t in inc.tickets if "药" in t.text and ("老人" in t.text or "父亲" in t.text)]
    assert len(elderly) == 1
    assert elderly[0].channel == "12345"
    assert {t.crs for t in hotline} == {"wgs84", "gcj02"}


def test_timeline_order(incident: Incident) -> None:
    tl = timeline(incident)
    assert tl["surge_start"] == 0.0
    assert 0 < tl["density_over_2_15"] < tl["density_over_4"] < tl["peak"] <= 95
    assert tl["first_ticket"] < tl["tenth_ticket"] < tl["last_ticket"]
    assert tl["first_ticket"] - 60.0 < 5.0
    assert tl["peak"] + 120.0 < tl["density_below_1"] < 400.0


def _at(hour: int, minute: int = 0) -> int:
    return int(datetime(2025, 2, 12, hour, minute, tzinfo=CST).timestamp() * 1000)


def test_daily_profile() -> None:
    night = daily_profile(_at(3))
    evening = daily_profile(_at(19, 30))
    morning = daily_profile(_at(8, 30))
    assert night < 0.2
    assert evening > 0.9
    assert night < morning < evening
    for hour in range(24):
        assert 0.1 <= daily_profile(_at(hour)) <= 1.0
